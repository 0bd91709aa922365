//! Bot detection and UA classification against real user agents.

use linkwire_contract::DeviceCategory::{self, Desktop, Mobile, Tablet};
use linkwire_enrich::{classify_user_agent, is_bot_user_agent, social_source};

const BOTS: &[&str] = &[
    // search engines
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.71 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
    "Mediapartners-Google",
    "Mozilla/5.0 (compatible; Google-InspectionTool/1.0)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    // link previewers
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Slackbot 1.0 (+https://api.slack.com/robots)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (compatible; Facebot/1.0)",
    "Twitterbot/1.0",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "WhatsApp/2.23.20.0 A",
    "WhatsApp/2.23.20.76 i",
    "TelegramBot (like TwitterBot)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "Iframely/1.3.1 (+https://iframely.com/docs/about) Atlas/1.0",
    "Mozilla/5.0 (compatible; Embedly/0.2; +http://support.embed.ly/)",
    "Mozilla/5.0 (compatible; redditbot/1.0; +http://www.reddit.com/feedback)",
    "Mozilla/5.0 (compatible; Pinterestbot/1.0; +http://www.pinterest.com/bot.html)",
    "Pinterest/0.2 (+http://www.pinterest.com/)",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com",
    "http.rb/5.1.1 (Mastodon/4.2.1; +https://mastodon.social/) Bot",
    "http.rb/5.1.1 (Mastodon/4.2.1; +https://mastodon.example/)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/100.0.4896.127 Safari/537.36 Edg/100.0.1185.50 MicrosoftPreview/2.0 +https://aka.ms/MicrosoftPreview",
    "Bluesky Cardyb/1.1",
    // headless browsers
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36",
    "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
    // HTTP libraries and tools
    "curl/8.5.0",
    "Wget/1.21.4",
    "python-requests/2.31.0",
    "Python-urllib/3.11",
    "Python/3.11 aiohttp/3.9.1",
    "python-httpx/0.26.0",
    "Go-http-client/1.1",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "axios/1.6.0",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "undici",
    "Java/17.0.9",
    "libwww-perl/6.72",
    "Apache-HttpClient/4.5.14 (Java/17.0.9)",
    "Ruby",
    "GuzzleHttp/7",
    "PostmanRuntime/7.36.0",
    "Dalvik/2.1.0 (Linux; U; Android 13; SM-S911B Build/TP1A.220624.014)",
    "Dart/3.2 (dart:io)",
    "Scrapy/2.11.0 (+https://scrapy.org)",
    "WordPress/6.4.2; https://example.com",
    // uptime checkers
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
    "Mozilla/5.0 (compatible; pingdom-bot/1.0; +http://www.pingdom.com/)",
    "Site24x7",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/88.0.4324.150 Safari/537.36 StatusCake",
    "Uptime-Kuma/1.23.11",
    "Better Uptime Bot Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
    "Datadog/Synthetics",
    // email security scanners that say so
    "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))",
    "Mimecast Security Scanner",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0 Safari/537.36 proofpoint",
    // generic tokens
    "SomeCompanyCrawler/3.1",
    "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)",
    "Mozilla/5.0 (compatible; spider/1.0)",
    // empty
    "",
    "   ",
];

#[test]
fn crawlers_previewers_tools_and_monitors_are_bots() {
    assert!(BOTS.len() >= 30);
    let missed: Vec<&&str> = BOTS.iter().filter(|ua| !is_bot_user_agent(ua)).collect();
    assert!(missed.is_empty(), "not detected as bots: {missed:#?}");
}

struct Browser {
    ua: &'static str,
    device: DeviceCategory,
    browser: &'static str,
    os: &'static str,
    social: Option<&'static str>,
}

const fn b(
    ua: &'static str,
    device: DeviceCategory,
    browser: &'static str,
    os: &'static str,
    social: Option<&'static str>,
) -> Browser {
    Browser {
        ua,
        device,
        browser,
        os,
        social,
    }
}

const BROWSERS: &[Browser] = &[
    b(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
        Mobile, "Mobile Safari", "iOS", None,
    ),
    b(
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
        Mobile, "Chrome", "Android", None,
    ),
    b(
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
        Mobile, "Chrome", "Android", None,
    ),
    b(
        "Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
        Tablet, "Mobile Safari", "iOS", None,
    ),
    b(
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Safari/537.36",
        Tablet, "Chrome", "Android", None,
    ),
    b(
        "Mozilla/5.0 (Linux; Android 13; SM-T870) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36",
        Tablet, "Samsung Internet", "Android", None,
    ),
    b(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        Desktop, "Chrome", "Windows", None,
    ),
    b(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
        Desktop, "Edge", "Windows", None,
    ),
    b(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
        Desktop, "Firefox", "Windows", None,
    ),
    b(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
        Desktop, "Safari", "macOS", None,
    ),
    b(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        Desktop, "Chrome", "macOS", None,
    ),
    b(
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        Desktop, "Firefox", "Linux", None,
    ),
    b(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        Desktop, "Chrome", "Linux", None,
    ),
    b(
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        Desktop, "Chrome", "ChromeOS", None,
    ),
    b(
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        Mobile, "Samsung Internet", "Android", None,
    ),
    b(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 311.0.2.25.111 (iPhone15,2; iOS 17_1_2; en_US; en; scale=3.00; 1179x2556; 546227447)",
        Mobile, "Instagram", "iOS", Some("instagram"),
    ),
    b(
        "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/444.0.0.29.110;]",
        Mobile, "Facebook", "Android", Some("facebook"),
    ),
    b(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/443.0.0.36.111;FBBV/545113870;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
        Mobile, "Facebook", "iOS", Some("facebook"),
    ),
    b(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
        Mobile, "Chrome", "iOS", None,
    ),
    b(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/121.0 Mobile/15E148 Safari/605.1.15",
        Mobile, "Firefox", "iOS", None,
    ),
    b(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
        Desktop, "Opera", "Windows", None,
    ),
    b(
        "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36 EdgA/120.0.2210.115",
        Mobile, "Edge", "Android", None,
    ),
    b(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [LinkedInApp]/9.29.8060",
        Mobile, "LinkedIn", "iOS", Some("linkedin"),
    ),
    b(
        "Mozilla/5.0 (Linux; Android 13; 2201117TG Build/TKQ1.221114.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.163 Mobile Safari/537.36 trill_320103 JsSdk/1.0 NetType/WIFI Channel/googleplay AppName/musical_ly app_version/32.1.3 ByteLocale/en ByteFullLocale/en Region/US BytedanceWebview/d8a21c6",
        Mobile, "TikTok", "Android", Some("tiktok"),
    ),
    b(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Snapchat/12.60.0.42 (like Safari/8617.1.17.10.9, panda)",
        Mobile, "Snapchat", "iOS", Some("snapchat"),
    ),
    b(
        "Mozilla/5.0 (Linux; Android 13; Pixel 6 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/118.0.5993.111 Mobile Safari/537.36 TwitterAndroid",
        Mobile, "Twitter", "Android", Some("twitter"),
    ),
    b(
        "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/120.4.1 like Chrome/120.0.6099.230 Safari/537.36",
        Tablet, "Silk", "Android", None,
    ),
    b(
        "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36",
        Mobile, "Android WebView", "Android", None,
    ),
    b(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Line/13.21.0",
        Mobile, "iOS WebView", "iOS", None,
    ),
    b(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Trident/7.0; rv:11.0) like Gecko",
        Desktop, "Internet Explorer", "Windows", None,
    ),
];

#[test]
fn real_browsers_are_classified_and_not_bots() {
    assert!(BROWSERS.len() >= 14);
    let mut failures = Vec::new();
    for case in BROWSERS {
        if is_bot_user_agent(case.ua) {
            failures.push(format!("bot: {}", case.ua));
        }
        let f = classify_user_agent(case.ua);
        let got = (
            f.device_category,
            f.browser_family.as_deref(),
            f.os_family.as_deref(),
            f.in_app,
        );
        let want = (
            Some(case.device),
            Some(case.browser),
            Some(case.os),
            case.social,
        );
        if got != want {
            failures.push(format!("{}\n  got  {got:?}\n  want {want:?}", case.ua));
        }
        let social = social_source(None, Some(case.ua));
        if social != case.social {
            failures.push(format!(
                "social {social:?} != {:?}: {}",
                case.social, case.ua
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
