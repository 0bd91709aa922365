//! The outbound address guard with private destinations not allowed. No test here ever sends traffic
//! to 10.0.0.1 or 169.254.169.254: literal private addresses are refused before any connection.

use linkwire_contract::{DeliveryId, DeliveryReason, EventId, EventType};
use linkwire_delivery::sender::Outgoing;
use linkwire_delivery::{Sender, SenderConfig};
use linkwire_verify::SigningSecret;
use reqwest::Method;
use serde_json::json;

use crate::support::*;

async fn guarded_app() -> TestApp {
    TestApp::spawn_with(|s| {
        s.allow_private_destinations = false;
        s.allow_http_destinations = true;
    })
    .await
}

/// A name other than `localhost` that the system resolves to loopback only, if there is one.
fn loopback_alias() -> Option<&'static str> {
    use std::net::ToSocketAddrs;
    ["vm", "runsc", "localhost.localdomain"]
        .into_iter()
        .find(|name| {
            (*name, 80)
                .to_socket_addrs()
                .map(|addrs| {
                    let addrs: Vec<_> = addrs.collect();
                    !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
                })
                .unwrap_or(false)
        })
}

#[tokio::test]
async fn urls_that_reach_private_addresses_are_refused() {
    let _g = shared().await;
    let app = guarded_app().await;
    let rx = TestReceiver::start(Reply::ok()).await;
    let port = rx.port();
    let refused = [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        "http://10.0.0.1/".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[::1]/".to_owned(),
        "http://[::ffff:127.0.0.1]/".to_owned(),
        "http://[::ffff:7f00:1]/".to_owned(),
        "http://[::ffff:10.0.0.1]/".to_owned(),
        "http://192.168.1.1/".to_owned(),
        "http://172.16.0.1/".to_owned(),
        "http://100.64.0.1/".to_owned(),
        "http://0.0.0.0/".to_owned(),
        "http://[fe80::1]/".to_owned(),
        "http://[fd00::1]/".to_owned(),
        "http://2130706433/".to_owned(),
        "http://0x7f.1/".to_owned(),
    ];
    for url in &refused {
        for path in ["/api/v1/webhooks/endpoints", "/api/webhooks/endpoints"] {
            let resp = app
                .api(Method::POST, path)
                .json(&json!({"endpoint_url": url, "subscriptions": ["link.created"]}))
                .send()
                .await
                .unwrap();
            let v = expect_error(resp, 422, "validation_failed").await;
            assert!(v.to_string().contains("endpoint_url"), "{url}: {v}");
        }
    }
    // Changing an endpoint's URL to a private one is refused the same way.
    let ep = app
        .create_endpoint("https://hooks.example.com/in", &["link.created"])
        .await;
    for url in &refused {
        let resp = app
            .api(
                Method::PATCH,
                &format!("/api/v1/webhooks/endpoints/{}", ep.id),
            )
            .json(&json!({"endpoint_url": url}))
            .send()
            .await
            .unwrap();
        expect_error(resp, 422, "validation_failed").await;
    }
    let resp = app
        .api(
            Method::DELETE,
            &format!("/api/v1/webhooks/endpoints/{}", ep.id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(rx.count(), 0);
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_blocked_at_connect_time() {
    let _g = shared().await;
    let Some(alias) = loopback_alias() else {
        println!("no loopback alias in /etc/hosts; the Sender test below covers the resolver");
        return;
    };
    let app = guarded_app().await;
    let rx = TestReceiver::start(Reply::ok()).await;
    // Saved (the name is not a literal address and not `localhost`)...
    let ep = app
        .create_endpoint(
            &format!("http://{alias}:{}/hook", rx.port()),
            &["link.created"],
        )
        .await;
    let event = app.link_event().await;
    // ...but the connection is refused after DNS: one attempt, terminal, and the receiver saw nothing.
    let d = app.wait_delivery(&ep.id, &event, "dead_letter").await;
    assert_eq!(attempts_of(&d).len(), 1, "{d}");
    assert_eq!(d["last_error"], "blocked_address", "{d}");
    assert_eq!(rx.count(), 0);
    // Test-send says so too.
    let v = app
        .json(
            app.api(
                Method::POST,
                &format!("/api/v1/webhooks/endpoints/{}/test", ep.id),
            ),
            200,
        )
        .await;
    assert_eq!(v["delivered"], false, "{v}");
    assert_eq!(v["error"], "blocked_address", "{v}");
    assert_eq!(rx.count(), 0);
}

fn outgoing<'a>(url: &'a str, secrets: &'a [SigningSecret]) -> Outgoing<'a> {
    Outgoing {
        url,
        method: reqwest::Method::POST,
        body: "{}",
        event_id: EventId::new(),
        event_type: EventType::LinkCreated,
        delivery_id: DeliveryId::new(),
        attempt: 1,
        reason: DeliveryReason::Live,
        secrets,
        timestamp: unix_now(),
        extra_headers: &[],
    }
}

#[tokio::test]
async fn the_sender_refuses_private_destinations_before_connecting() {
    let _g = shared().await;
    let rx = TestReceiver::start(Reply::ok()).await;
    let secrets = [SigningSecret::from_bytes(&[7; 32])];
    let guarded = Sender::new(SenderConfig {
        allow_private: false,
        allow_http: true,
        ..Default::default()
    })
    .expect("sender");
    let urls = [
        format!("http://localhost:{}/hook", rx.port()),
        format!("http://127.0.0.1:{}/hook", rx.port()),
        format!("http://[::ffff:127.0.0.1]:{}/hook", rx.port()),
        "http://10.0.0.1/".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[::1]/".to_owned(),
    ];
    for url in &urls {
        let r = guarded.send(&outgoing(url, &secrets)).await;
        assert_eq!(r.status, None, "{url}");
        assert_eq!(r.error_class, Some("blocked_address"), "{url}: {r:?}");
        assert_eq!(
            r.outcome(false),
            linkwire_contract::AttemptOutcome::Terminal,
            "{url}"
        );
    }
    if let Some(alias) = loopback_alias() {
        let url = format!("http://{alias}:{}/hook", rx.port());
        let r = guarded.send(&outgoing(&url, &secrets)).await;
        assert_eq!(r.error_class, Some("blocked_address"), "{url}: {r:?}");
    }
    assert_eq!(rx.count(), 0, "nothing reached the receiver");

    // The same request with private destinations allowed does arrive (the guard was the reason).
    let open = Sender::new(SenderConfig {
        allow_private: true,
        allow_http: true,
        ..Default::default()
    })
    .expect("sender");
    let r = open
        .send(&outgoing(
            &format!("http://localhost:{}/hook", rx.port()),
            &secrets,
        ))
        .await;
    assert_eq!(r.status, Some(200), "{r:?}");
    assert_eq!(rx.count(), 1);

    // Plain http is refused unless allowed.
    let https_only = Sender::new(SenderConfig {
        allow_private: true,
        allow_http: false,
        ..Default::default()
    })
    .expect("sender");
    let r = https_only
        .send(&outgoing(
            &format!("http://localhost:{}/hook", rx.port()),
            &secrets,
        ))
        .await;
    assert_eq!(r.error_class, Some("invalid_url"), "{r:?}");
    assert!(https_only.validate_url("http://example.com/").is_err());
    assert!(https_only.validate_url("https://example.com/").is_ok());
    assert_eq!(rx.count(), 1);
}
