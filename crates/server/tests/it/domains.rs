//! Custom domains: registration, DNS TXT verification, links and redirects on them.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn custom_domain_is_verified_by_txt_and_then_serves_links() {
    let app = TestApp::spawn().await;
    let host_get = |path: &'static str| {
        app.client
            .get(app.url(path))
            .header("host", "go.example.com")
            .header(reqwest::header::USER_AGENT, IPHONE_SAFARI)
            .send()
    };
    // Before registration the host is unknown (and remembered as such).
    assert_eq!(host_get("/promo").await.unwrap().status(), 404);
    let v = app
        .json(
            app.api(Method::POST, "/api/v1/domains")
                .json(&json!({"domain_name": "Go.Example.com"})),
            201,
        )
        .await;
    let d = v["domain"].clone();
    let did = s(&d["id"]);
    assert_eq!(d["domain_name"], "go.example.com");
    assert_eq!(d["verification_status"], "pending");
    assert_eq!(d["ready_for_traffic"], false);
    assert_eq!(d["domain_status"], "pending");
    assert_eq!(d["verification"]["type"], "TXT");
    assert_eq!(d["verification"]["name"], "_linkwire-verify.go.example.com");
    let value = s(&d["verification"]["value"]);
    assert!(value.starts_with("linkwire-verify="), "{value}");

    // Not yet verified: links on it are refused.
    let r = app
        .api(Method::POST, "/api/v1/links")
        .json(
            &json!({"long_url": "https://example.com/x", "domain_id": did, "custom_slug": "promo"}),
        )
        .send()
        .await
        .unwrap();
    let e = expect_error(r, 422, "validation_failed").await;
    assert_eq!(e["error"]["details"]["field"], "domain_id");
    let r = app
        .api(Method::POST, "/api/shorten")
        .json(&json!({"long_url": "https://example.com/x", "domain_id": did}))
        .send()
        .await
        .unwrap();
    expect_error(r, 422, "validation_failed").await;

    assert_eq!(host_get("/promo").await.unwrap().status(), 404);
    // Wrong record: failed.
    app.resolver.set(
        "_linkwire-verify.go.example.com",
        vec!["linkwire-verify=wrong".into()],
    );
    let v = app
        .json(
            app.api(Method::POST, &format!("/api/v1/domains/{did}/verify")),
            200,
        )
        .await;
    assert_eq!(v["domain"]["verification_status"], "failed");
    assert_eq!(v["domain"]["ready_for_traffic"], false);

    // Right record (among others): verified and ready.
    app.resolver.set(
        "_linkwire-verify.go.example.com",
        vec!["v=spf1 -all".into(), value.clone()],
    );
    let v = app
        .json(
            app.api(Method::POST, &format!("/api/v1/domains/{did}/verify")),
            200,
        )
        .await;
    assert_eq!(v["domain"]["verification_status"], "verified");
    assert_eq!(v["domain"]["ready_for_traffic"], true);
    assert_eq!(v["domain"]["domain_status"], "active");
    let got = app
        .json(app.api(Method::GET, &format!("/api/v1/domains/{did}")), 200)
        .await;
    assert_eq!(got["domain"]["verification_status"], "verified");
    let list = app.json(app.api(Method::GET, "/api/v1/domains"), 200).await;
    assert_eq!(list["domains"].as_array().unwrap().len(), 2, "{list}");

    let link = app
        .create_link(json!({"long_url": "https://example.com/promo", "domain_id": did, "custom_slug": "promo"}))
        .await;
    assert_eq!(link["domain_name"], "go.example.com");
    assert_eq!(link["short_url"], "https://go.example.com/promo");
    // The same slug is free on the default domain.
    app.create_link(json!({"long_url": "https://example.com/default", "custom_slug": "promo"}))
        .await;

    let r = app
        .client
        .get(app.url("/promo"))
        .header("host", "go.example.com")
        .header(reqwest::header::USER_AGENT, IPHONE_SAFARI)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), "https://example.com/promo");
    let r = app
        .client
        .get(app.url("/promo"))
        .header("host", "GO.EXAMPLE.COM:443")
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "https://example.com/promo");
    let r = app.click("/promo", IPHONE_SAFARI).await;
    assert_eq!(location(&r), "https://example.com/default");

    let found = app
        .json(
            app.api(Method::GET, "/api/v1/links/find")
                .query(&[("short_url", "https://go.example.com/promo")]),
            200,
        )
        .await;
    assert_eq!(found["link"]["id"], link["id"]);

    let id = s(&link["id"]);
    wait_until(DEADLINE, || async {
        app.link_events(&id, Some("link.clicked")).await.len() == 1
    })
    .await;
    let ev = &app.link_events(&id, Some("link.clicked")).await[0];
    assert_eq!(ev["data"]["domain_name"], "go.example.com");
    assert_eq!(ev["data"]["short_url"], "https://go.example.com/promo");

    // The same name cannot be registered twice; bad names are refused.
    let r = app
        .api(Method::POST, "/api/v1/domains")
        .json(&json!({"domain_name": "go.example.com"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "conflict").await;
    for bad in [
        "localhost",
        "exa mple.com",
        "a..b",
        "host.com:8080",
        "127.0.0.1",
    ] {
        let r = app
            .api(Method::POST, "/api/v1/domains")
            .json(&json!({"domain_name": bad}))
            .send()
            .await
            .unwrap();
        assert!(
            matches!(r.status().as_u16(), 409 | 422),
            "{bad}: {}",
            r.status()
        );
    }
}

#[tokio::test]
async fn an_unverified_domain_serves_nothing() {
    let app = TestApp::spawn().await;
    app.json(
        app.api(Method::POST, "/api/v1/domains")
            .json(&json!({"domain_name": "pending.example.com"})),
        201,
    )
    .await;
    app.create_link(json!({"long_url": "https://example.com/x", "custom_slug": "dflt"}))
        .await;
    // The default domain's link is not reachable through a registered but unverified host.
    let r = app
        .client
        .get(app.url("/dflt"))
        .header("host", "pending.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
