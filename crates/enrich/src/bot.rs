//! Bot detection from the user agent: one case-insensitive Aho–Corasick pass over the UA.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// Substrings (matched ASCII-case-insensitively) that mark crawlers, link previewers, headless browsers,
/// HTTP libraries, uptime checkers and email security scanners. Each is specific enough that no real
/// browser UA contains it; the generic tokens (`bot`, `crawl`, `spider`, ...) are listed in [`GENERIC`].
const TOKENS: &[&str] = &[
    // search engines and AI crawlers (most also say "bot")
    "slurp",
    "mediapartners-google",
    "-google",
    "google-",
    "googleother",
    "google favicon",
    "google web preview",
    "feedfetcher",
    "bingpreview",
    "yeti/",
    "sogou",
    "ia_archiver",
    "chatgpt-user",
    "bytespider",
    // link previewers of chat and social apps
    "slackbot",
    "slack-imgproxy",
    "facebookexternalhit",
    "facebookcatalog",
    "facebot",
    "meta-externalagent",
    "meta-externalfetcher",
    "twitterbot",
    "linkedinbot",
    "telegrambot",
    "discordbot",
    "applebot",
    "skypeuripreview",
    "microsoftpreview",
    "iframely",
    "embedly",
    "vkshare",
    "kakaotalk-scrap",
    "cardyb",
    "pinterest/0.",
    "flipboardproxy",
    "tumblr/",
    "mastodon/",
    "http.rb/",
    "w3c_validator",
    "validator.nu",
    // headless and automation
    "headless",
    "phantomjs",
    "slimerjs",
    "puppeteer",
    "playwright",
    "selenium",
    "lighthouse",
    "gtmetrix",
    // HTTP libraries and command-line tools
    "curl/",
    "libcurl",
    "wget",
    "python-",
    "python/",
    "aiohttp",
    "httpx",
    "go-http-client",
    "okhttp",
    "axios",
    "node-fetch",
    "undici",
    "java/",
    "libwww-perl",
    "lwp::",
    "httpclient",
    "jakarta",
    "ruby/",
    "faraday",
    "guzzle",
    "php/",
    "postmanruntime",
    "insomnia",
    "httpie",
    "restsharp",
    "reqwest",
    "dart/",
    "dalvik/",
    "winhttp",
    "powershell",
    "scrapy",
    "mechanize",
    "ktor-client",
    "deno/",
    "wordpress/",
    "zgrab",
    "masscan",
    "nmap",
    "nuclei",
    "censys",
    // uptime and synthetic monitoring
    "uptimerobot",
    "uptime-kuma",
    "uptime kuma",
    "betteruptime",
    "better uptime",
    "pingdom",
    "statuscake",
    "site24x7",
    "freshping",
    "hetrixtools",
    "checkly",
    "newrelicpinger",
    "datadog",
    "nodeping",
    "catchpoint",
    // email security scanners that identify themselves
    "barracuda",
    "mimecast",
    "proofpoint",
    "forcepoint",
];

/// Tokens that mark a bot only at the very start of the UA. WhatsApp's link preview fetcher says
/// "WhatsApp/2.23.20.0 A"; WhatsApp has no in-app browser, so a UA that merely mentions WhatsApp elsewhere is
/// not the previewer. Ruby's Net::HTTP says just "Ruby"; a "ruby" token elsewhere could be a device name.
const PREFIXES: &[&str] = &["whatsapp/", "ruby"];

/// Generic tokens. `bot` has one known false positive, the phone brand Cubot, handled in [`is_bot_user_agent`].
const GENERIC: &[&str] = &[
    "bot", "crawl", "spider", "scraper", "archiver", "preview", "+http",
];

struct Matcher {
    ac: AhoCorasick,
    /// Pattern id of the bare `bot` token.
    bot_id: usize,
}

static MATCHER: LazyLock<Matcher> = LazyLock::new(|| {
    let patterns: Vec<&str> = TOKENS.iter().chain(GENERIC).copied().collect();
    let bot_id = patterns
        .iter()
        .position(|p| *p == "bot")
        .expect("generic list has bot");
    let ac = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .build(&patterns)
        .expect("static patterns build");
    Matcher { ac, bot_id }
});

/// `true` when the user agent belongs to a crawler, link previewer, headless browser, HTTP library, uptime
/// checker or self-identifying email scanner, or is empty (contract §6). Real browsers, including in-app
/// browsers (Instagram, Facebook, LinkedIn, ...), are not bots.
pub fn is_bot_user_agent(ua: &str) -> bool {
    let ua = ua.trim();
    if ua.is_empty() || ua == "-" {
        return true;
    }
    if PREFIXES.iter().any(|p| {
        ua.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    }) {
        return true;
    }
    let m = &*MATCHER;
    let bytes = ua.as_bytes();
    m.ac.find_overlapping_iter(ua).any(|hit| {
        if hit.pattern().as_usize() != m.bot_id {
            return true;
        }
        // "Cubot" phones (e.g. "Android 10; CUBOT_X30") are not bots.
        let s = hit.start();
        !(s >= 2 && bytes[s - 2..s].eq_ignore_ascii_case(b"cu"))
    })
}

/// `true` when a `Sec-Purpose` / `Purpose` header value announces a prefetch (e.g. `prefetch`,
/// `prefetch;prerender`).
pub fn is_prefetch(purpose: &str) -> bool {
    purpose
        .as_bytes()
        .windows(8)
        .any(|w| w.eq_ignore_ascii_case(b"prefetch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_tokens_and_exceptions() {
        assert!(is_bot_user_agent("SomeNewBot/1.0"));
        assert!(is_bot_user_agent("MyCrawler"));
        assert!(is_bot_user_agent("   "));
        assert!(is_bot_user_agent("-"));
        assert!(is_bot_user_agent("whatsapp/2.21.12.21 A"));
        assert!(is_bot_user_agent("Ruby"));
        assert!(is_bot_user_agent(
            "rest-client/2.1.0 (linux x86_64) ruby/3.2.0p0"
        ));
        assert!(!is_bot_user_agent(
            "Mozilla/5.0 (Linux; Android 12; Ruby 5G) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/120.0.0.0 Mobile Safari/537.36"
        ));
        assert!(!is_bot_user_agent(
            "Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/120.0.0.0 Mobile Safari/537.36"
        ));
        assert!(!is_bot_user_agent(
            "Mozilla/5.0 (Linux; Android 14) Chrome/120.0 Mobile Safari/537.36 WhatsApp"
        ));
    }

    #[test]
    fn prefetch_values() {
        assert!(is_prefetch("prefetch"));
        assert!(is_prefetch("prefetch;prerender"));
        assert!(is_prefetch("Prefetch"));
        assert!(!is_prefetch("prerender"));
        assert!(!is_prefetch(""));
    }
}
