//! Device category, browser family and OS family from a user agent.
//!
//! Token rules first (they know about tablets, in-app browsers and the Chromium-based browsers that also say
//! "Chrome" and "Safari"), then woothee for whatever the rules did not recognise.

use linkwire_contract::DeviceCategory;

/// What a user agent says about the device, browser and OS, in human family names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UaFacts {
    pub device_category: Option<DeviceCategory>,
    /// e.g. "Chrome", "Safari", "Mobile Safari", "Firefox", "Edge", "Samsung Internet", "Instagram".
    pub browser_family: Option<String>,
    /// e.g. "iOS", "Android", "Windows", "macOS", "Linux", "ChromeOS".
    pub os_family: Option<String>,
    /// The social source of the app whose in-app browser this is (e.g. "instagram"), if any.
    pub in_app: Option<&'static str>,
}

/// In-app browsers: (UA token, browser family, social source). Checked in order, case-sensitively, before any
/// other browser rule (an in-app UA also carries the engine's usual tokens).
const IN_APP: &[(&str, &str, Option<&str>)] = &[
    ("Instagram", "Instagram", Some("instagram")),
    ("FBAN/", "Facebook", Some("facebook")),
    ("FBAV/", "Facebook", Some("facebook")),
    ("FB_IAB", "Facebook", Some("facebook")),
    ("FBIOS", "Facebook", Some("facebook")),
    ("LinkedInApp", "LinkedIn", Some("linkedin")),
    ("musical_ly", "TikTok", Some("tiktok")),
    ("BytedanceWebview", "TikTok", Some("tiktok")),
    ("TikTok", "TikTok", Some("tiktok")),
    ("Snapchat", "Snapchat", Some("snapchat")),
    ("Pinterest", "Pinterest", Some("pinterest")),
    // The X/Twitter app on Android appends "TwitterAndroid"; on iOS it uses Safari View Controller and says
    // nothing. A bare "Twitter" token is not used: it appears in bot names.
    ("TwitterAndroid", "Twitter", Some("twitter")),
    ("Twitter for iPhone", "Twitter", Some("twitter")),
    ("Twitter for iPad", "Twitter", Some("twitter")),
];

/// Browsers identified by their own token, checked in order after the in-app list. Order matters: Edge,
/// Opera, Samsung Internet and friends also say "Chrome"; everything WebKit says "Safari".
const BROWSERS: &[(&str, &str)] = &[
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("Edge/", "Edge"),
    ("OPR/", "Opera"),
    ("OPT/", "Opera"),
    ("OPiOS/", "Opera"),
    ("Opera", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("YaBrowser/", "Yandex Browser"),
    ("Vivaldi/", "Vivaldi"),
    ("UCBrowser/", "UC Browser"),
    ("DuckDuckGo/", "DuckDuckGo"),
    ("MiuiBrowser/", "MIUI Browser"),
    ("HuaweiBrowser/", "Huawei Browser"),
    ("Silk/", "Silk"),
    ("GSA/", "Google App"),
    ("CriOS/", "Chrome"),
    ("FxiOS/", "Firefox"),
    ("Firefox/", "Firefox"),
    ("Chromium/", "Chromium"),
    ("MSIE ", "Internet Explorer"),
    ("Trident/", "Internet Explorer"),
];

/// Classifies a user agent. Never panics; unknown parts are `None`.
pub fn classify_user_agent(ua: &str) -> UaFacts {
    let ua = ua.trim();
    if ua.is_empty() {
        return UaFacts::default();
    }
    let (os, mut device) = os_and_device(ua);
    let (mut browser, in_app) = browser(ua, os);
    let mut os = os.map(str::to_owned);

    if os.is_none() || browser.is_none() || device.is_none() {
        if let Some(w) = woothee::parser::Parser::new().parse(ua) {
            if os.is_none() {
                os = woothee_os(w.os).map(str::to_owned);
            }
            if browser.is_none() {
                browser = woothee_browser(w.name).map(str::to_owned);
            }
            if device.is_none() {
                device = match w.category {
                    "pc" => Some(DeviceCategory::Desktop),
                    "smartphone" | "mobilephone" => Some(DeviceCategory::Mobile),
                    _ => None,
                };
            }
        }
    }
    UaFacts {
        device_category: device,
        browser_family: browser,
        os_family: os,
        in_app,
    }
}

/// The in-app browser's social source, if the UA is an in-app browser of a known social app.
pub(crate) fn in_app_source(ua: &str) -> Option<&'static str> {
    IN_APP
        .iter()
        .find(|(tok, _, _)| ua.contains(tok))
        .and_then(|(_, _, src)| *src)
}

fn os_and_device(ua: &str) -> (Option<&'static str>, Option<DeviceCategory>) {
    use DeviceCategory::{Desktop, Mobile, Tablet};
    let has = |t: &str| ua.contains(t);
    if has("iPad") {
        return (Some("iOS"), Some(Tablet));
    }
    if has("iPhone") || has("iPod") {
        return (Some("iOS"), Some(Mobile));
    }
    if has("Windows Phone") {
        return (Some("Windows Phone"), Some(Mobile));
    }
    // Amazon Fire tablets and Kindles ("Silk", "KF..." models, "Kindle").
    let kindle = has("Kindle") || has("Silk/") || has("; KF");
    if has("Android") {
        // Android phones say "Mobile"; tablets do not (Firefox says "Tablet").
        let tablet = kindle || has("Tablet") || !has("Mobile");
        return (Some("Android"), Some(if tablet { Tablet } else { Mobile }));
    }
    if kindle {
        return (Some("Linux"), Some(Tablet));
    }
    if has("CrOS") {
        return (Some("ChromeOS"), Some(Desktop));
    }
    if has("Windows") {
        return (Some("Windows"), Some(Desktop));
    }
    if has("Macintosh") || has("Mac OS X") {
        return (Some("macOS"), Some(Desktop));
    }
    if has("Mobile") || has("Tablet") {
        // Firefox OS, KaiOS, Sailfish... : a mobile device of some kind; the OS comes from woothee if at all.
        return (None, Some(if has("Tablet") { Tablet } else { Mobile }));
    }
    if has("Linux") {
        return (Some("Linux"), Some(Desktop));
    }
    if has("X11") {
        // FreeBSD, OpenBSD, Solaris desktops: woothee may know the OS.
        return (None, Some(Desktop));
    }
    (None, None)
}

fn browser(ua: &str, os: Option<&str>) -> (Option<String>, Option<&'static str>) {
    if let Some((_, family, src)) = IN_APP.iter().find(|(tok, _, _)| ua.contains(tok)) {
        return (Some((*family).to_owned()), *src);
    }
    if let Some((_, family)) = BROWSERS.iter().find(|(tok, _)| ua.contains(tok)) {
        return (Some((*family).to_owned()), None);
    }
    let android = os == Some("Android");
    let family = if android && ua.contains("; wv)") {
        Some("Android WebView")
    } else if ua.contains("Chrome/") {
        Some("Chrome")
    } else if android && ua.contains("Version/") && ua.contains("Safari/") {
        Some("Android Browser")
    } else if ua.contains("Safari/") && ua.contains("Version/") {
        Some(if os == Some("iOS") {
            "Mobile Safari"
        } else {
            "Safari"
        })
    } else if os == Some("iOS") && ua.contains("AppleWebKit/") && ua.contains("Mobile/") {
        // An app's WKWebView: no "Safari/" and no app token we know.
        Some("iOS WebView")
    } else {
        None
    };
    (family.map(str::to_owned), None)
}

/// Maps woothee's OS names to our families.
fn woothee_os(os: &str) -> Option<&'static str> {
    Some(match os {
        "Mac OSX" | "Mac OS Classic" => "macOS",
        "iPhone" | "iPad" | "iPod" | "iOS" => "iOS",
        "Android" => "Android",
        "ChromeOS" => "ChromeOS",
        "Linux" => "Linux",
        "BSD" => "BSD",
        "Windows Phone OS" => "Windows Phone",
        "Firefox OS" => "Firefox OS",
        "BlackBerry" | "BlackBerry 10" => "BlackBerry",
        "PlayStation 3" | "PlayStation 4" | "PlayStation Portable" | "PlayStation Vita" => {
            "PlayStation"
        }
        "Xbox 360" | "Xbox One" => "Xbox",
        "Nintendo 3DS" | "Nintendo DSi" | "Nintendo Wii" | "Nintendo Wii U" => "Nintendo",
        os if os.starts_with("Windows") && os != "Windows RSSReader" => "Windows",
        _ => return None,
    })
}

/// Maps woothee's browser names to our families; crawlers and unknowns give `None`.
fn woothee_browser(name: &str) -> Option<&str> {
    match name {
        "" | "UNKNOWN" | "HTTP Library" | "misc crawler" => None,
        "SamsungBrowser" => Some("Samsung Internet"),
        "Webview" => Some("WebView"),
        "Google Search App" => Some("Google App"),
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn woothee_fills_gaps() {
        // No token rule knows this one; woothee recognises the OS family.
        let f = classify_user_agent(
            "Mozilla/5.0 (X11; FreeBSD amd64; rv:120.0) Gecko/20100101 Firefox/120.0",
        );
        assert_eq!(f.browser_family.as_deref(), Some("Firefox"));
        assert_eq!(f.os_family.as_deref(), Some("BSD"));
        assert_eq!(f.device_category, Some(DeviceCategory::Desktop));
    }

    #[test]
    fn unknown_is_none() {
        let f = classify_user_agent("zzz");
        assert_eq!(f, UaFacts::default());
        assert_eq!(classify_user_agent(""), UaFacts::default());
    }

    #[test]
    fn kindle_and_firefox_tablet() {
        let silk = "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) \
                    Silk/120.4.1 like Chrome/120.0.6099.230 Safari/537.36";
        let f = classify_user_agent(silk);
        assert_eq!(f.device_category, Some(DeviceCategory::Tablet));
        assert_eq!(f.os_family.as_deref(), Some("Android"));
        let fx = "Mozilla/5.0 (Android 14; Tablet; rv:121.0) Gecko/121.0 Firefox/121.0";
        let f = classify_user_agent(fx);
        assert_eq!(f.device_category, Some(DeviceCategory::Tablet));
        assert_eq!(f.browser_family.as_deref(), Some("Firefox"));
        let fx_phone = "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0";
        assert_eq!(
            classify_user_agent(fx_phone).device_category,
            Some(DeviceCategory::Mobile)
        );
    }

    #[test]
    fn in_app_source_tokens() {
        assert_eq!(
            in_app_source("Mozilla/5.0 ... [LinkedInApp]"),
            Some("linkedin")
        );
        assert_eq!(
            in_app_source("Mozilla/5.0 ... musical_ly_2023"),
            Some("tiktok")
        );
        assert_eq!(in_app_source("Mozilla/5.0 ... Line/13.0.0"), None);
        assert_eq!(in_app_source("Mozilla/5.0 Safari/605.1.15"), None);
    }
}
