//! No-code integrations: installation tokens and the REST hooks they manage, against real receivers.

use linkwire_contract::{OrganizationId, Plan, ScopeSet};
use linkwire_store::CredentialKind;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

async fn installation(app: &TestApp, platform: &str) -> (String, String) {
    let v = app
        .json(
            app.api(Method::POST, "/api/v1/integrations/installations")
                .json(&json!({"platform": platform, "name": "Marketing Zaps"})),
            201,
        )
        .await;
    let mut keys: Vec<&str> = v["installation"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert!(
        ["created_at", "id", "name", "platform", "scopes"]
            .iter()
            .all(|k| keys.contains(k)),
        "{keys:?}"
    );
    assert_eq!(
        v["installation"]["scopes"],
        json!(["webhooks:read", "webhooks:write", "events:read"])
    );
    (s(&v["installation"]["id"]), s(&v["token"]))
}

fn as_token(app: &TestApp, token: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.client.request(method, app.url(path)).bearer_auth(token)
}

#[tokio::test]
async fn an_installation_token_manages_only_its_own_hooks() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let (_, token) = installation(&app, "zapier").await;

    // Read the catalog and samples, see who it is; nothing else.
    let me = expect_json(
        as_token(&app, &token, Method::GET, "/api/v1/me")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(me["credential"]["platform"], "zapier");
    expect_json(
        as_token(&app, &token, Method::GET, "/api/v1/event-types")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let sample = expect_json(
        as_token(
            &app,
            &token,
            Method::GET,
            "/api/v1/events/sample?type=link.qr_scanned",
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(sample["events"][0]["type"], "link.qr_scanned");
    let link = as_token(&app, &token, Method::POST, "/api/v1/links")
        .json(&json!({"long_url": "https://example.com/"}));
    expect_error(link.send().await.unwrap(), 403, "insufficient_scope").await;
    let key = as_token(&app, &token, Method::POST, "/api/v1/api-keys")
        .json(&json!({"name": "x", "scopes": ["admin"]}));
    expect_error(key.send().await.unwrap(), 403, "insufficient_scope").await;
    let inst = as_token(
        &app,
        &token,
        Method::POST,
        "/api/v1/integrations/installations",
    )
    .json(&json!({"platform": "n8n"}));
    expect_error(inst.send().await.unwrap(), 403, "insufficient_scope").await;

    // Subscribe, idempotently per target URL.
    let rx = TestReceiver::start(Reply::ok()).await;
    let body = json!({"target_url": rx.url, "event_types": ["link.created"]});
    let hook = expect_json(
        as_token(&app, &token, Method::POST, "/api/v1/hooks")
            .json(&body)
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let mut keys: Vec<&str> = hook
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "enabled",
            "event_types",
            "id",
            "secret",
            "target_url"
        ]
    );
    let secret = s(&hook["secret"]);
    let again = json!({"target_url": rx.url, "event_types": ["link.created", "link.updated"]});
    let same = expect_json(
        as_token(&app, &token, Method::POST, "/api/v1/hooks")
            .json(&again)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(same["id"], hook["id"]);
    assert_eq!(same["secret"], hook["secret"]);
    assert_eq!(same["event_types"], json!(["link.created", "link.updated"]));
    let found = expect_json(
        as_token(
            &app,
            &token,
            Method::GET,
            &format!("/api/v1/hooks?target_url={}", rx.url),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(found["hooks"].as_array().unwrap().len(), 1);

    // It is delivered, signed with the hook's secret, like any endpoint.
    let event = app.link_event().await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].event_id(), event);
    got[0].assert_signed(&secret);

    // The admin's own webhook endpoints are not the installation's business.
    let other = TestReceiver::start(Reply::ok()).await;
    let admin_ep = app.create_endpoint(&other.url, &["link.created"]).await;
    let peek = as_token(
        &app,
        &token,
        Method::GET,
        &format!("/api/v1/webhooks/endpoints/{}", admin_ep.id),
    );
    expect_error(peek.send().await.unwrap(), 404, "not_found").await;

    // Deleting is repeatable.
    let id = s(&hook["id"]);
    for _ in 0..2 {
        let del = as_token(&app, &token, Method::DELETE, &format!("/api/v1/hooks/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(del.status(), 204);
    }
    expect_error(
        as_token(&app, &token, Method::GET, &format!("/api/v1/hooks/{id}"))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn another_workspace_cannot_see_a_hook_and_revoking_stops_its_subscriptions() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let (installation_id, token) = installation(&app, "n8n").await;
    let rx = TestReceiver::start(Reply::ok()).await;
    // The Nimriz-compatible endpoint route works with an installation token too.
    let created = expect_json(
        as_token(&app, &token, Method::POST, "/api/webhooks/endpoints")
            .json(&json!({"endpoint_url": rx.url, "subscriptions": ["link.created"]}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let hook_id = s(&created["endpoint"]["id"]);

    // A key of another workspace gets 404.
    let store = &app.state.store;
    let now = app.state.clock.now();
    let org = store
        .create_organization("Other", Plan::Enterprise, now)
        .await
        .unwrap();
    let ws = store.create_workspace(org.id, "Other", now).await.unwrap();
    let other = linkwire_server::auth::issue(
        store,
        ws.id,
        CredentialKind::ApiKey,
        "k",
        None,
        &ScopeSet::all_api_key_scopes(),
        now,
    )
    .await
    .unwrap();
    let peek = as_token(
        &app,
        &other.token,
        Method::GET,
        &format!("/api/v1/hooks/{hook_id}"),
    );
    expect_error(peek.send().await.unwrap(), 404, "not_found").await;

    let first = app.link_event().await;
    assert_eq!(rx.wait_for(1).await[0].event_id(), first);

    let revoke = app.api(
        Method::DELETE,
        &format!("/api/v1/integrations/installations/{installation_id}"),
    );
    assert_eq!(revoke.send().await.unwrap().status(), 204);
    expect_error(
        as_token(&app, &token, Method::GET, "/api/v1/me")
            .send()
            .await
            .unwrap(),
        401,
        "unauthorized",
    )
    .await;
    let ep = app
        .json(
            app.api(
                Method::GET,
                &format!("/api/v1/webhooks/endpoints/{hook_id}"),
            ),
            200,
        )
        .await;
    assert_eq!(ep["endpoint"]["enabled"], false);
    assert_eq!(ep["endpoint"]["disabled_reason"], "installation revoked");
    // Fan-out happens in the event's transaction: a disabled subscription gets no delivery at all.
    app.link_event().await;
    assert_eq!(app.deliveries(&hook_id).await.len(), 1);
}

#[tokio::test]
async fn a_410_from_a_hook_target_removes_the_subscription() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let (_, token) = installation(&app, "make").await;
    let rx = TestReceiver::start(Reply::status(410)).await;
    let hook: Value = expect_json(
        as_token(&app, &token, Method::POST, "/api/v1/hooks")
            .json(&json!({"target_url": rx.url, "event_types": ["link.created"]}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let id = s(&hook["id"]);
    app.link_event().await;
    rx.wait_for(1).await;
    wait_until(DEADLINE, || async {
        as_token(&app, &token, Method::GET, &format!("/api/v1/hooks/{id}"))
            .send()
            .await
            .unwrap()
            .status()
            == 404
    })
    .await;
    // Gone means gone: later events are not even attempted.
    app.link_event().await;
    assert_eq!(rx.count(), 1);
}

#[tokio::test]
async fn installations_need_the_plus_plan() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let org: OrganizationId = app.organization_id().await.parse().unwrap();
    app.state.store.set_plan(org, Plan::Starter).await.unwrap();
    let req = app
        .api(Method::POST, "/api/v1/integrations/installations")
        .json(&json!({"platform": "zapier"}));
    expect_error(req.send().await.unwrap(), 403, "plan_upgrade_required").await;
    let bad = app
        .api(Method::POST, "/api/v1/integrations/installations")
        .json(&json!({"platform": "ifttt"}));
    app.state.store.set_plan(org, Plan::Plus).await.unwrap();
    expect_error(bad.send().await.unwrap(), 422, "validation_failed").await;
}
