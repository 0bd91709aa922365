//! Generic HTTP destinations: templates, custom headers, signing and retries; and one QR scan fanning out
//! to a webhook, an n8n subscription and a destination with the same event id.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

fn destination(url: &str, template: Option<&str>, types: &[&str]) -> Value {
    json!({
        "name": "CRM pipeline",
        "type": "generic_http",
        "enabled": true,
        "credentials": {"url": url, "method": "PUT", "headers": {"X-Api-Key": "crm-secret-123", "X-Team": "growth"}},
        "actions": [{
            "name": "Send to CRM",
            "action_type": "send_webhook",
            "enabled": true,
            "payload_template": template,
            "event_filter": {"include": {"event_types": types}, "exclude": {"bot_traffic": true}},
        }],
    })
}

/// Creates a link and scans its QR code with a browser; returns the link's code.
async fn scan(app: &TestApp, query: &str) -> String {
    let link = app
        .json(
            app.api(Method::POST, "/api/v1/links")
                .json(&json!({"long_url": "https://example.com/p?token=abc"})),
            201,
        )
        .await;
    let code = s(&link["link"]["short_code"]);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client
        .get(app.url(&format!("/{code}?nr=qr{query}")))
        .header("user-agent", IPHONE)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    code
}

#[tokio::test]
async fn a_templated_destination_gets_rendered_json_with_its_headers_signed_and_retried() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let rx =
        TestReceiver::scripted(vec![Reply::status(503), Reply::status(503)], Reply::ok()).await;
    let template = r#"{"event": "{{ id }}", "kind": "{{ type }}", "campaign": "{{ utm_source }}", "where": "{{ country }}", "at": {{ timestamp }}}"#;
    let created = app
        .json(
            app.api(Method::POST, "/api/integrations/destinations")
                .json(&destination(&rx.url, Some(template), &["link.qr_scanned"])),
            201,
        )
        .await;
    let secret = s(&created["signing_secret"]);
    let dest = &created["destination"];
    assert_eq!(dest["type"], "generic_http");
    assert_eq!(
        dest["credentials"]["headers"],
        json!({"X-Api-Key": "********", "X-Team": "********"})
    );
    assert!(!created.to_string().contains("crm-secret-123"));

    // A value with quotes and braces, straight from the visitor's query string.
    scan(&app, "&utm_source=%22quoted%22%20%7Bbraces%7D").await;
    let got = rx.wait_for(3).await;
    let last = &got[2];
    assert_eq!(last.attempt(), 3, "retried like a webhook");
    assert_eq!(last.method, "PUT");
    assert_eq!(last.h("x-api-key"), "crm-secret-123");
    assert_eq!(last.h("x-team"), "growth");
    let body: Value = serde_json::from_str(last.body_str()).expect("valid JSON");
    assert_eq!(body["campaign"], "\"quoted\" {braces}");
    assert_eq!(body["kind"], "link.qr_scanned");
    assert_eq!(s(&body["event"]), last.h("x-nim-event-id"));
    assert!(body["at"].as_i64().unwrap() > 1_700_000_000);
    // The signature covers exactly the bytes sent.
    last.assert_signed(&secret);

    let id = s(&dest["id"]);
    let got_again = app
        .json(
            app.api(Method::GET, &format!("/api/integrations/destinations/{id}")),
            200,
        )
        .await;
    assert_eq!(
        got_again["destination"]["actions"][0]["payload_template"],
        template
    );
    let listed = app
        .json(app.api(Method::GET, "/api/integrations/destinations"), 200)
        .await;
    assert_eq!(listed["destinations"].as_array().unwrap().len(), 1);
    // Destinations are not webhook endpoints in the webhook list.
    let hooks = app
        .json(app.api(Method::GET, "/api/v1/webhooks/endpoints"), 200)
        .await;
    assert!(hooks["endpoints"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn bad_templates_are_refused_at_save_time_and_previews_point_at_the_error() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start(Reply::ok()).await;
    let create = |template: &str| {
        app.api(Method::POST, "/api/integrations/destinations")
            .json(&destination(&rx.url, Some(template), &["link.clicked"]))
            .send()
    };
    let forever =
        create("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}")
            .await
            .unwrap();
    let err = expect_error(forever, 422, "validation_failed").await;
    assert!(s(&err["error"]["message"]).contains("too long"), "{err}");
    let not_json = create("{\n  \"url\": {{ short_url }}\n}").await.unwrap();
    let err = expect_error(not_json, 422, "validation_failed").await;
    assert!(s(&err["error"]["message"]).contains("line 2"), "{err}");
    let reserved = app
        .api(Method::POST, "/api/integrations/destinations")
        .json(&json!({"name": "x", "type": "generic_http", "credentials": {"url": rx.url, "headers": {"X-Nim-Signature": "forged"}},
                      "actions": [{"action_type": "send_webhook", "event_filter": {"include": {"event_types": ["link.clicked"]}}}]}))
        .send()
        .await
        .unwrap();
    expect_error(reserved, 422, "validation_failed").await;

    let preview = app
        .json(
            app.api(Method::POST, "/api/integrations/destinations/preview")
                .json(&json!({"payload_template": "{\"a\": \"{{ short_url }\"}", "event_type": "link.clicked"})),
            200,
        )
        .await;
    assert_eq!(preview["valid"], false);
    assert_eq!(preview["error"]["line"], 1);
    assert!(preview["error"]["column"].as_u64().unwrap() > 1);
    let starters = app
        .json(
            app.api(Method::GET, "/api/integrations/destinations/templates"),
            200,
        )
        .await;
    for t in starters["templates"].as_array().unwrap() {
        let ok = app
            .json(
                app.api(Method::POST, "/api/integrations/destinations/preview")
                    .json(&json!({"payload_template": t["payload_template"], "event_type": "link.qr_scanned"})),
                200,
            )
            .await;
        assert_eq!(ok["valid"], true, "{} {ok}", t["name"]);
    }
}

#[tokio::test]
async fn one_qr_scan_fans_out_to_a_webhook_an_n8n_subscription_and_a_destination_with_one_event_id()
{
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let webhook_rx = TestReceiver::start(Reply::ok()).await;
    let n8n_rx = TestReceiver::start(Reply::ok()).await;
    let dest_rx = TestReceiver::start(Reply::ok()).await;

    app.create_endpoint(&webhook_rx.url, &["link.qr_scanned"])
        .await;
    let install = app
        .json(
            app.api(Method::POST, "/api/v1/integrations/installations")
                .json(&json!({"platform": "n8n"})),
            201,
        )
        .await;
    let token = s(&install["token"]);
    let hook = app
        .client
        .post(app.url("/api/v1/hooks"))
        .bearer_auth(&token)
        .json(&json!({"target_url": n8n_rx.url, "event_types": ["link.qr_scanned"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), 201);
    let template = r#"{"text": "Scan {{ id }} of {{ short_url }}"}"#;
    app.json(
        app.api(Method::POST, "/api/integrations/destinations")
            .json(&destination(
                &dest_rx.url,
                Some(template),
                &["link.qr_scanned"],
            )),
        201,
    )
    .await;

    scan(&app, "").await;
    let (a, b, c) = (
        webhook_rx.wait_for(1).await,
        n8n_rx.wait_for(1).await,
        dest_rx.wait_for(1).await,
    );
    let id = a[0].event_id();
    assert_eq!(b[0].event_id(), id);
    assert_eq!(c[0].h("x-nim-event-id"), id);
    let text: Value = serde_json::from_str(c[0].body_str()).unwrap();
    assert!(s(&text["text"]).contains(&id), "{text}");
    assert_eq!(a[0].h("x-nim-event-type"), "link.qr_scanned");
}
