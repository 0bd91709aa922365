//! Nothing crosses workspaces: a key of workspace A sees none of workspace B's resources.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn workspaces_are_isolated() {
    let app = TestApp::spawn().await;
    let b = app.second_tenant().await;
    let a_key = app.key.clone();

    // B's resources.
    let b_link = app
        .create_link_as(
            &b.key,
            json!({"long_url": "https://b.example.com/x", "custom_slug": "bee"}),
        )
        .await;
    let b_id = s(&b_link["id"]);
    let v = app
        .json(
            app.api_as(&b.key, Method::POST, "/api/v1/domains")
                .json(&json!({"domain_name": "b.example.net"})),
            201,
        )
        .await;
    let b_domain = s(&v["domain"]["id"]);
    assert_eq!(app.click("/bee", IPHONE_SAFARI).await.status(), 302);
    wait_until(DEADLINE, || async {
        app.events_as(&b.key, "type=link.clicked").await.len() == 1
    })
    .await;
    let b_events = app.events_as(&b.key, "").await;
    assert_eq!(b_events.len(), 2, "{b_events:#?}");
    for e in &b_events {
        assert_eq!(e["workspace_id"], b.workspace_id.as_str());
        assert_eq!(e["organization_id"], b.organization_id.as_str());
    }

    // A's own resources, so A's lists are not trivially empty.
    let a_link = app
        .create_link(json!({"long_url": "https://a.example.com/x", "custom_slug": "ay"}))
        .await;

    let not_found = |method: Method, path: String, body: Option<Value>| {
        let mut req = app.api_as(&a_key, method.clone(), &path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            assert_eq!(status, 404, "{method} {path}: {text}");
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["error"]["code"], "not_found", "{method} {path}: {text}");
        }
    };
    not_found(Method::GET, format!("/api/v1/links/{b_id}"), None).await;
    not_found(
        Method::PATCH,
        format!("/api/v1/links/{b_id}"),
        Some(json!({"long_url": "https://evil.example.com"})),
    )
    .await;
    not_found(Method::DELETE, format!("/api/v1/links/{b_id}"), None).await;
    not_found(Method::GET, format!("/api/v1/links/{b_id}/qr"), None).await;
    not_found(Method::GET, format!("/api/v1/links/{b_id}/analytics"), None).await;
    not_found(Method::POST, format!("/api/v1/links/{b_id}/takedown"), None).await;
    not_found(Method::POST, format!("/api/v1/links/{b_id}/restore"), None).await;
    not_found(
        Method::GET,
        format!("/api/v1/links/find?short_url={}", app.url("/bee")),
        None,
    )
    .await;
    not_found(
        Method::PUT,
        "/api/update-slug".into(),
        Some(json!({"url_id": b_id, "new_slug": "stolen"})),
    )
    .await;
    not_found(
        Method::PUT,
        "/api/update-destination".into(),
        Some(json!({"url_id": b_id, "long_url": "https://evil.example.com"})),
    )
    .await;
    not_found(
        Method::PUT,
        "/api/update-password".into(),
        Some(json!({"url_id": b_id, "password": "x"})),
    )
    .await;
    not_found(
        Method::PUT,
        "/api/update-expiration".into(),
        Some(json!({"url_id": b_id, "expires_at": null})),
    )
    .await;
    not_found(
        Method::POST,
        "/api/delete-link".into(),
        Some(json!({"url_id": b_id})),
    )
    .await;
    not_found(Method::GET, format!("/api/v1/domains/{b_domain}"), None).await;
    not_found(
        Method::POST,
        format!("/api/v1/domains/{b_domain}/verify"),
        None,
    )
    .await;
    not_found(
        Method::POST,
        "/api/v1/links".into(),
        Some(json!({"long_url": "https://a.example.com", "domain_id": b_domain})),
    )
    .await;
    not_found(
        Method::POST,
        "/api/check-slug".into(),
        Some(json!({"slug": "x", "domain_id": b_domain})),
    )
    .await;
    for e in &b_events {
        not_found(Method::GET, format!("/api/v1/events/{}", s(&e["id"])), None).await;
    }

    // A's lists never contain B's things.
    let links = app.json(app.api(Method::GET, "/api/v1/links"), 200).await;
    let links = links["links"].as_array().unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0]["id"], a_link["id"]);
    let domains = app.json(app.api(Method::GET, "/api/v1/domains"), 200).await;
    assert!(domains["domains"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["id"] != b_domain.as_str() && d["domain_name"] != "b.example.net"));
    let a_events = app.events("").await;
    assert!(!a_events.is_empty());
    let b_ids: Vec<&Value> = b_events.iter().map(|e| &e["id"]).collect();
    for e in &a_events {
        assert!(!b_ids.contains(&&e["id"]), "B's event in A's list: {e}");
        assert_ne!(e["workspace_id"], b.workspace_id.as_str());
    }
    assert!(app.link_events(&b_id, None).await.is_empty());
    let samples = app
        .json(
            app.api(Method::GET, "/api/v1/events/sample?type=link.clicked"),
            200,
        )
        .await;
    assert_ne!(samples["events"][0]["data"]["link_id"], b_link["id"]);

    // B's link is untouched, and B's slug is taken for A on the shared default domain.
    let still = app
        .json(
            app.api_as(&b.key, Method::GET, &format!("/api/v1/links/{b_id}")),
            200,
        )
        .await;
    assert_eq!(still["link"]["long_url"], "https://b.example.com/x");
    assert_eq!(still["link"]["status"], "active");
    let r = app
        .api(Method::POST, "/api/v1/links")
        .json(&json!({"long_url": "https://a.example.com", "custom_slug": "bee"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "slug_taken").await;
    let who = app
        .json(app.api_as(&b.key, Method::GET, "/api/v1/whoami"), 200)
        .await;
    assert_eq!(who["workspace_id"], b.workspace_id.as_str());
}

#[tokio::test]
async fn plans_gate_password_protected_links() {
    let app = TestApp::spawn().await;
    let starter = app
        .tenant_with(
            linkwire_contract::Plan::Plus,
            linkwire_contract::ScopeSet::all_api_key_scopes(),
        )
        .await;
    let r = app
        .api_as(&starter.key, Method::POST, "/api/v1/links")
        .json(&json!({"long_url": "https://example.com", "password": "pw"}))
        .send()
        .await
        .unwrap();
    let v = expect_error(r, 403, "plan_upgrade_required").await;
    assert_eq!(v["error"]["details"]["required_plan"], "professional");
    let link = app
        .create_link_as(&starter.key, json!({"long_url": "https://example.com"}))
        .await;
    let r = app
        .api_as(&starter.key, Method::PUT, "/api/update-password")
        .json(&json!({"url_id": link["id"], "password": "pw"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "plan_upgrade_required").await;
}

#[tokio::test]
async fn analytics_defaults_fit_every_plans_retention() {
    let app = TestApp::spawn().await;
    let starter = app
        .tenant_with(
            linkwire_contract::Plan::Starter,
            linkwire_contract::ScopeSet::all_api_key_scopes(),
        )
        .await;
    let link = app
        .create_link_as(&starter.key, json!({"long_url": "https://example.com"}))
        .await;
    let id = s(&link["id"]);
    // No range given: the default must be one the plan allows (starter keeps 14 days of clicks).
    let v = app
        .json(
            app.api_as(
                &starter.key,
                Method::GET,
                &format!("/api/v1/links/{id}/analytics"),
            ),
            200,
        )
        .await;
    assert_eq!(v["range_days"], 14, "{v}");
    let r = app
        .api_as(
            &starter.key,
            Method::GET,
            &format!("/api/v1/links/{id}/analytics?range_days=15"),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 422, "validation_failed").await;
    // Enterprise keeps the documented default of 30.
    let mine = app
        .create_link(json!({"long_url": "https://example.com"}))
        .await;
    let v = app
        .json(
            app.api(
                Method::GET,
                &format!("/api/v1/links/{}/analytics", s(&mine["id"])),
            ),
            200,
        )
        .await;
    assert_eq!(v["range_days"], 30, "{v}");
}
