//! Bots, previews, HEAD and prefetch are redirected and counted, never emitted; real browsers each emit
//! exactly one correctly enriched `link.clicked`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

const BOT_UAS: &[&str] = &[
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.71 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Slackbot 1.0 (+https://api.slack.com/robots)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "WhatsApp/2.23.20.0 A",
    "TelegramBot (like TwitterBot)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com",
    "Mozilla/5.0 (compatible; Pinterestbot/1.0; +http://www.pinterest.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36",
    "curl/8.5.0",
    "Wget/1.21.4",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "okhttp/4.12.0",
    "axios/1.6.0",
    "PostmanRuntime/7.36.0",
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
    "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "",
];

#[tokio::test]
async fn bots_heads_and_prefetches_redirect_but_never_emit() {
    let app = TestApp::spawn().await;
    let link = app
        .create_link(json!({"long_url": "https://example.com/b", "custom_slug": "bots"}))
        .await;
    let id = s(&link["id"]);
    assert!(BOT_UAS.len() >= 25);
    let mut requests = 0u64;
    for ua in BOT_UAS {
        for path in ["/bots", "/bots?nr=qr"] {
            let r = app.click(path, ua).await;
            assert_eq!(r.status(), 302, "{ua}");
            assert_eq!(location(&r), "https://example.com/b", "{ua}");
            requests += 1;
        }
    }
    // No User-Agent header at all.
    let r = app.client.get(app.url("/bots")).send().await.unwrap();
    assert_eq!(r.status(), 302);
    requests += 1;
    // HEAD and prefetches from a real browser.
    let r = app
        .client
        .request(Method::HEAD, app.url("/bots"))
        .header(reqwest::header::USER_AGENT, IPHONE_SAFARI)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), "https://example.com/b");
    requests += 1;
    for (name, value) in [
        ("sec-purpose", "prefetch"),
        ("sec-purpose", "prefetch;prerender"),
        ("purpose", "prefetch"),
    ] {
        let r = app
            .client
            .get(app.url("/bots"))
            .header(reqwest::header::USER_AGENT, WINDOWS_CHROME)
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302, "{name}: {value}");
        requests += 1;
    }
    // One human click, as a fence and a control.
    assert_eq!(app.click("/bots", IPHONE_SAFARI).await.status(), 302);
    app.clicks_settled(&id, requests + 1).await;

    let clicks = app.link_events(&id, Some("link.clicked")).await;
    assert_eq!(clicks.len(), 1, "only the human emits: {clicks:#?}");
    assert!(app
        .link_events(&id, Some("link.qr_scanned"))
        .await
        .is_empty());
    let all = app.totals(&id, true).await;
    assert_eq!(all["clicks"], requests + 1, "{all}");
    assert_eq!(all["bot_clicks"], requests, "{all}");
    let humans = app.totals(&id, false).await;
    assert_eq!(humans["clicks"], 1, "{humans}");
    assert_eq!(humans["qr_scans"], 0, "{humans}");
}

struct Browser {
    ua: &'static str,
    device: &'static str,
    browser: &'static str,
    os: &'static str,
    social: Option<&'static str>,
}

const BROWSERS: &[Browser] = &[
    Browser {
        ua: IPHONE_SAFARI,
        device: "mobile",
        browser: "Mobile Safari",
        os: "iOS",
        social: None,
    },
    Browser {
        ua: ANDROID_CHROME,
        device: "mobile",
        browser: "Chrome",
        os: "Android",
        social: None,
    },
    Browser {
        ua: "Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
        device: "tablet",
        browser: "Mobile Safari",
        os: "iOS",
        social: None,
    },
    Browser {
        ua: "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Safari/537.36",
        device: "tablet",
        browser: "Chrome",
        os: "Android",
        social: None,
    },
    Browser {
        ua: WINDOWS_CHROME,
        device: "desktop",
        browser: "Chrome",
        os: "Windows",
        social: None,
    },
    Browser {
        ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
        device: "desktop",
        browser: "Edge",
        os: "Windows",
        social: None,
    },
    Browser {
        ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
        device: "desktop",
        browser: "Firefox",
        os: "Windows",
        social: None,
    },
    Browser {
        ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
        device: "desktop",
        browser: "Safari",
        os: "macOS",
        social: None,
    },
    Browser {
        ua: "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        device: "desktop",
        browser: "Firefox",
        os: "Linux",
        social: None,
    },
    Browser {
        ua: "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        device: "mobile",
        browser: "Samsung Internet",
        os: "Android",
        social: None,
    },
    Browser {
        ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 311.0.2.25.111 (iPhone15,2; iOS 17_1_2; en_US; en; scale=3.00; 1179x2556; 546227447)",
        device: "mobile",
        browser: "Instagram",
        os: "iOS",
        social: Some("instagram"),
    },
    Browser {
        ua: "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/444.0.0.29.110;]",
        device: "mobile",
        browser: "Facebook",
        os: "Android",
        social: Some("facebook"),
    },
    Browser {
        ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/443.0.0.36.111;FBBV/545113870;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
        device: "mobile",
        browser: "Facebook",
        os: "iOS",
        social: Some("facebook"),
    },
    Browser {
        ua: "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        device: "desktop",
        browser: "Chrome",
        os: "ChromeOS",
        social: None,
    },
];

#[tokio::test]
async fn each_browser_emits_one_enriched_click() {
    let app = TestApp::spawn().await;
    assert!(BROWSERS.len() >= 12);
    let mut ids = Vec::new();
    for (i, b) in BROWSERS.iter().enumerate() {
        let link = app
            .create_link(
                json!({"long_url": "https://example.com/h", "custom_slug": format!("h{i}")}),
            )
            .await;
        let r = app.click(&format!("/h{i}"), b.ua).await;
        assert_eq!(r.status(), 302, "{}", b.ua);
        ids.push(s(&link["id"]));
    }
    wait_until(DEADLINE, || async {
        app.events("type=link.clicked").await.len() == BROWSERS.len()
    })
    .await;
    let mut wrong = Vec::new();
    for (b, id) in BROWSERS.iter().zip(&ids) {
        let evs = app.link_events(id, Some("link.clicked")).await;
        assert_eq!(evs.len(), 1, "{}", b.ua);
        let d = &evs[0]["data"];
        let got = (
            d["device_category"].clone(),
            d["browser_family"].clone(),
            d["os_family"].clone(),
            d["social_source"].clone(),
        );
        let want = (
            Value::from(b.device),
            Value::from(b.browser),
            Value::from(b.os),
            b.social.map_or(Value::Null, Value::from),
        );
        if got != want {
            wrong.push(format!("{}: got {got:?}, want {want:?}", b.ua));
        }
        assert_eq!(d["touch_type"], "short_link_click");
        assert_eq!(d["referrer_host"], Value::Null);
        assert_eq!(d["country"], Value::Null);
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn referrer_and_trusted_proxy_country_enrich_clicks() {
    let app = TestApp::spawn_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let link = app
        .create_link(json!({"long_url": "https://example.com/r", "custom_slug": "ref"}))
        .await;
    let id = s(&link["id"]);
    let r = app
        .client
        .get(app.url("/ref?utm_source=li&utm_campaign=c1"))
        .header(reqwest::header::USER_AGENT, WINDOWS_CHROME)
        .header(
            reqwest::header::REFERER,
            "https://www.LinkedIn.com/feed/?trk=x",
        )
        .header("cf-ipcountry", "de")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    wait_until(DEADLINE, || async {
        app.link_events(&id, Some("link.clicked")).await.len() == 1
    })
    .await;
    let d = app.link_events(&id, Some("link.clicked")).await[0]["data"].clone();
    assert_eq!(d["referrer_host"], "www.linkedin.com", "{d}");
    assert_eq!(d["social_source"], "linkedin", "{d}");
    assert_eq!(d["country"], "DE", "{d}");
    assert_eq!(d["utm_source"], "li");
    assert_eq!(d["utm_campaign"], "c1");
    assert_eq!(d["utm_medium"], Value::Null);
}

#[tokio::test]
async fn untrusted_peers_cannot_claim_a_country() {
    let app = TestApp::spawn().await;
    let link = app
        .create_link(json!({"long_url": "https://example.com/r", "custom_slug": "noc"}))
        .await;
    let id = s(&link["id"]);
    let r = app
        .client
        .get(app.url("/noc"))
        .header(reqwest::header::USER_AGENT, WINDOWS_CHROME)
        .header("cf-ipcountry", "DE")
        .header("x-forwarded-for", "8.8.8.8")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    wait_until(DEADLINE, || async {
        app.link_events(&id, Some("link.clicked")).await.len() == 1
    })
    .await;
    let d = app.link_events(&id, Some("link.clicked")).await[0]["data"].clone();
    assert_eq!(d["country"], Value::Null, "{d}");
}
