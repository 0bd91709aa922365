//! The Nimriz-compatible routes: exact paths, keys and status codes.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

async fn shorten(app: &TestApp, body: Value) -> Value {
    app.json(app.api(Method::POST, "/api/shorten").json(&body), 201)
        .await
}

#[tokio::test]
async fn shorten_answers_the_documented_keys() {
    let app = TestApp::spawn().await;
    let v = shorten(
        &app,
        json!({"long_url": "https://example.com/x", "custom_slug": "nim", "redirect_status_code": 301}),
    )
    .await;
    assert_eq!(
        keys(&v),
        sorted(&["url_id", "id", "short_url", "short_code", "link"])
    );
    assert_eq!(v["url_id"], v["id"]);
    assert_eq!(v["link"]["id"], v["id"]);
    assert_eq!(v["short_code"], "nim");
    assert_eq!(v["short_url"], app.url("/nim"));
    assert_eq!(v["link"]["redirect_status_code"], 301);
    // The default domain, named explicitly, works too; an empty custom_slug means "generate one".
    let domains = app.json(app.api(Method::GET, "/api/v1/domains"), 200).await;
    let default_id = s(&domains["domains"][0]["id"]);
    let v = shorten(
        &app,
        json!({"domain_id": default_id, "long_url": "https://example.com/y", "custom_slug": "",
               "expires_at": "2026-12-31T23:59:59Z"}),
    )
    .await;
    assert_eq!(s(&v["short_code"]).len(), 7);
    assert_eq!(v["link"]["expires_at"], "2026-12-31T23:59:59.000Z");

    let r = app
        .api(Method::POST, "/api/shorten")
        .json(&json!({"long_url": "https://example.com/z", "custom_slug": "nim"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "slug_taken").await;
    let r = app
        .api(Method::POST, "/api/shorten")
        .json(&json!({"long_url": "nope"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 422, "validation_failed").await;
    let r = app
        .client
        .post(app.url("/api/shorten"))
        .json(&json!({"long_url": "https://example.com"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "unauthorized").await;
}

#[tokio::test]
async fn check_slug_answers_available_or_403_with_a_reason() {
    let app = TestApp::spawn().await;
    shorten(
        &app,
        json!({"long_url": "https://example.com/x", "custom_slug": "used"}),
    )
    .await;
    let check = |slug: &str| {
        app.api(Method::POST, "/api/check-slug")
            .json(&json!({"slug": slug}))
    };
    let v = app.json(check("free-one"), 200).await;
    assert_eq!(v, json!({"available": true}));
    let v = app.json(check("used"), 403).await;
    assert_eq!(keys(&v), ["available", "reason"]);
    assert_eq!(v["available"], false);
    assert_eq!(v["reason"], "taken");
    let v = app.json(check("api"), 403).await;
    assert_eq!(v["available"], false);
    assert_eq!(v["reason"], "reserved");
    let v = app.json(check("no spaces"), 403).await;
    assert_eq!(v["available"], false);
    assert!(v["reason"].is_string());
}

#[tokio::test]
async fn update_routes_answer_exactly_link() {
    let app = TestApp::spawn().await;
    let created = shorten(
        &app,
        json!({"long_url": "https://example.com/x", "custom_slug": "upd"}),
    )
    .await;
    let url_id = s(&created["url_id"]);
    let put = |path: &str, body: Value| app.api(Method::PUT, path).json(&body);

    let v = app
        .json(
            put(
                "/api/update-slug",
                json!({"url_id": url_id, "new_slug": "upd2"}),
            ),
            200,
        )
        .await;
    assert_eq!(keys(&v), ["link"]);
    assert_eq!(v["link"]["short_code"], "upd2");
    let v = app
        .json(
            put(
                "/api/update-destination",
                json!({"url_id": url_id, "long_url": "https://example.org/new"}),
            ),
            200,
        )
        .await;
    assert_eq!(keys(&v), ["link"]);
    assert_eq!(v["link"]["long_url"], "https://example.org/new");
    let v = app
        .json(
            put(
                "/api/update-password",
                json!({"url_id": url_id, "password": "open sesame"}),
            ),
            200,
        )
        .await;
    assert_eq!(keys(&v), ["link"]);
    assert_eq!(v["link"]["password_protected"], true);
    let v = app
        .json(
            put(
                "/api/update-password",
                json!({"url_id": url_id, "password": null}),
            ),
            200,
        )
        .await;
    assert_eq!(v["link"]["password_protected"], false);
    let v = app
        .json(
            put(
                "/api/update-expiration",
                json!({"url_id": url_id, "expires_at": "2026-06-01T00:00:00Z"}),
            ),
            200,
        )
        .await;
    assert_eq!(keys(&v), ["link"]);
    assert_eq!(v["link"]["expires_at"], "2026-06-01T00:00:00.000Z");
    let v = app
        .json(
            put(
                "/api/update-expiration",
                json!({"url_id": url_id, "expires_at": null}),
            ),
            200,
        )
        .await;
    assert_eq!(v["link"]["expires_at"], Value::Null);

    // Errors keep the API's error shape.
    let r = put(
        "/api/update-slug",
        json!({"url_id": "0190b8a0-0000-7000-8000-000000000000", "new_slug": "x"}),
    )
    .send()
    .await
    .unwrap();
    expect_error(r, 404, "not_found").await;
    let r = put(
        "/api/update-slug",
        json!({"url_id": "garbage", "new_slug": "x"}),
    )
    .send()
    .await
    .unwrap();
    expect_error(r, 404, "not_found").await;
    let r = put(
        "/api/update-expiration",
        json!({"url_id": url_id, "expires_at": "soon"}),
    )
    .send()
    .await
    .unwrap();
    expect_error(r, 422, "validation_failed").await;

    let v = app
        .json(
            app.api(Method::POST, "/api/delete-link")
                .json(&json!({"url_id": url_id})),
            200,
        )
        .await;
    assert_eq!(v, json!({"deleted": true}));
    let r = app
        .api(Method::POST, "/api/delete-link")
        .json(&json!({"url_id": url_id}))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found").await;
}

#[tokio::test]
async fn whoami_and_domains_have_the_connector_keys() {
    let app = TestApp::spawn().await;
    for path in ["/api/v1/whoami", "/api/v1/me"] {
        let v = app.json(app.api(Method::GET, path), 200).await;
        for k in [
            "account_id",
            "workspace_id",
            "workspace_name",
            "organization_id",
            "plan",
        ] {
            assert!(
                v.get(k).is_some_and(|x| !x.is_null()),
                "{path} lacks {k}: {v}"
            );
        }
        assert_eq!(v["account_id"], v["workspace_id"]);
        assert_eq!(v["plan"], "enterprise");
    }
    let v = app.json(app.api(Method::GET, "/api/v1/domains"), 200).await;
    assert_eq!(keys(&v), ["domains"]);
    let d = &v["domains"][0];
    for k in [
        "id",
        "domain_name",
        "verification_status",
        "ready_for_traffic",
        "domain_status",
    ] {
        assert!(d.get(k).is_some(), "domain lacks {k}: {d}");
    }
    assert_eq!(d["domain_name"], "127.0.0.1");
    assert_eq!(d["verification_status"], "verified");
    assert_eq!(d["ready_for_traffic"], true);
    assert_eq!(d["domain_status"], "active");

    let r = app
        .client
        .get(app.url("/api/v1/whoami"))
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "unauthorized").await;
    let r = app
        .api(Method::GET, "/api/no-such-route")
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found").await;
}
