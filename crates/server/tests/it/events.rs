//! The event log: every lifecycle route emits exactly the event contract §2 names, in the §3 envelope.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

const L: &[&str] = &[
    "link_id",
    "domain_id",
    "domain_name",
    "short_code",
    "short_url",
];

fn with_l(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<&str> = L.to_vec();
    v.extend_from_slice(extra);
    sorted(&v)
}

/// The newest `link.updated` of a link, after asserting how many there are.
async fn updates(app: &TestApp, id: &str, expect_count: usize) -> Value {
    let evs = app.link_events(id, Some("link.updated")).await;
    assert_eq!(evs.len(), expect_count, "{evs:#?}");
    evs[0]["data"].clone()
}

fn assert_update(data: &Value, action: &str, fields: &[&str], before: Value, after: Value) {
    assert_eq!(
        keys(data),
        with_l(&["event_action", "changed_fields", "before", "after"]),
        "{data}"
    );
    assert_eq!(data["event_action"], action, "{data}");
    assert_eq!(data["changed_fields"], json!(fields), "{data}");
    assert_eq!(data["before"], before, "{data}");
    assert_eq!(data["after"], after, "{data}");
}

#[tokio::test]
async fn every_lifecycle_route_emits_its_event() {
    let app = TestApp::spawn().await;
    let link = app
        .create_link(json!({
            "long_url": "https://Shop.Example.com/p/q?token=abc#frag",
            "custom_slug": "life",
            "tags": ["a"],
            "expires_at": "2026-05-01T00:00:00Z"
        }))
        .await;
    let id = s(&link["id"]);

    // link.created
    let created = app.link_events(&id, None).await;
    assert_eq!(created.len(), 1, "{created:#?}");
    assert_eq!(created[0]["type"], "link.created");
    let d = &created[0]["data"];
    assert_eq!(
        keys(d),
        with_l(&[
            "destination_host",
            "destination_url_capped",
            "redirect_status_code",
            "expires_at",
            "password_protected",
            "tags",
            "source"
        ])
    );
    assert_eq!(d["link_id"], link["id"]);
    assert_eq!(d["domain_id"], link["domain_id"]);
    assert_eq!(d["domain_name"], "127.0.0.1");
    assert_eq!(d["short_code"], "life");
    assert_eq!(d["short_url"], app.url("/life"));
    assert_eq!(d["destination_host"], "shop.example.com");
    assert_eq!(d["destination_url_capped"], "https://shop.example.com/p/q");
    assert_eq!(d["redirect_status_code"], 302);
    assert_eq!(d["expires_at"], "2026-05-01T00:00:00.000Z");
    assert_eq!(d["password_protected"], false);
    assert_eq!(d["tags"], json!(["a"]));
    assert_eq!(d["source"], "api");

    let patch = |body: Value| {
        app.api(Method::PATCH, &format!("/api/v1/links/{id}"))
            .json(&body)
    };

    // destination
    app.json(
        patch(json!({"long_url": "https://b.example.org/new?secret=1"})),
        200,
    )
    .await;
    let d = updates(&app, &id, 1).await;
    assert_update(
        &d,
        "destination_updated",
        &["destination"],
        json!({"destination_host": "shop.example.com", "destination_url_capped": "https://shop.example.com/p/q"}),
        json!({"destination_host": "b.example.org", "destination_url_capped": "https://b.example.org/new"}),
    );

    // slug (the event's L already names the new slug)
    app.json(patch(json!({"slug": "life2"})), 200).await;
    let d = updates(&app, &id, 2).await;
    assert_update(
        &d,
        "slug_updated",
        &["slug"],
        json!({"short_code": "life", "short_url": app.url("/life")}),
        json!({"short_code": "life2", "short_url": app.url("/life2")}),
    );
    assert_eq!(d["short_code"], "life2");

    // expiration set and cleared
    app.json(patch(json!({"expires_at": "2026-06-01T00:00:00Z"})), 200)
        .await;
    let d = updates(&app, &id, 3).await;
    assert_update(
        &d,
        "expiration_updated",
        &["expires_at"],
        json!({"expires_at": "2026-05-01T00:00:00.000Z"}),
        json!({"expires_at": "2026-06-01T00:00:00.000Z"}),
    );
    app.json(patch(json!({"expires_at": null})), 200).await;
    let d = updates(&app, &id, 4).await;
    assert_update(
        &d,
        "expiration_updated",
        &["expires_at"],
        json!({"expires_at": "2026-06-01T00:00:00.000Z"}),
        json!({"expires_at": null}),
    );

    // password set and cleared: only password_protected, never the password
    app.json(patch(json!({"password": "correct horse"})), 200)
        .await;
    let d = updates(&app, &id, 5).await;
    assert_update(
        &d,
        "password_updated",
        &["password"],
        json!({"password_protected": false}),
        json!({"password_protected": true}),
    );
    app.json(patch(json!({"password": null})), 200).await;
    let d = updates(&app, &id, 6).await;
    assert_update(
        &d,
        "password_updated",
        &["password"],
        json!({"password_protected": true}),
        json!({"password_protected": false}),
    );

    // tags
    app.json(patch(json!({"tags": ["a", "b"]})), 200).await;
    let d = updates(&app, &id, 7).await;
    assert_update(
        &d,
        "tags_updated",
        &["tags"],
        json!({"tags": ["a"]}),
        json!({"tags": ["a", "b"]}),
    );

    // utm
    app.json(patch(json!({"utm": {"utm_source": "nl"}})), 200)
        .await;
    let d = updates(&app, &id, 8).await;
    assert_eq!(d["event_action"], "utm_updated", "{d}");
    assert_eq!(d["changed_fields"], json!(["utm"]));
    assert_eq!(d["before"]["utm"]["utm_source"], Value::Null, "{d}");
    assert_eq!(d["after"]["utm"]["utm_source"], "nl", "{d}");

    // redirect type
    app.json(patch(json!({"redirect_status_code": 301})), 200)
        .await;
    let d = updates(&app, &id, 9).await;
    assert_update(
        &d,
        "redirect_type_updated",
        &["redirect_status_code"],
        json!({"redirect_status_code": 302}),
        json!({"redirect_status_code": 301}),
    );

    // no change, no event
    app.json(
        patch(json!({"redirect_status_code": 301, "tags": ["a", "b"]})),
        200,
    )
    .await;
    updates(&app, &id, 9).await;

    // two fields at once
    app.json(patch(json!({"tags": [], "redirect_status_code": 302})), 200)
        .await;
    let d = updates(&app, &id, 10).await;
    assert_eq!(d["event_action"], "multiple_updated", "{d}");
    let mut fields: Vec<String> = d["changed_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    fields.sort();
    assert_eq!(fields, ["redirect_status_code", "tags"]);
    assert_eq!(keys(&d["before"]), ["redirect_status_code", "tags"]);
    assert_eq!(d["after"]["tags"], json!([]));

    // takedown / restore
    app.json(
        app.api(Method::POST, &format!("/api/v1/links/{id}/takedown"))
            .json(&json!({"reason_code": "malware"})),
        200,
    )
    .await;
    let evs = app.link_events(&id, Some("link.takedown_updated")).await;
    assert_eq!(evs.len(), 1);
    let d = &evs[0]["data"];
    assert_eq!(
        keys(d),
        with_l(&["event_action", "before", "after", "reason_code"])
    );
    assert_eq!(d["event_action"], "disabled");
    assert_eq!(d["before"], json!({"status": "active"}));
    assert_eq!(d["after"], json!({"status": "disabled"}));
    assert_eq!(d["reason_code"], "malware");
    // Taking down twice is a no-op.
    app.json(
        app.api(Method::POST, &format!("/api/v1/links/{id}/takedown")),
        200,
    )
    .await;
    app.json(
        app.api(Method::POST, &format!("/api/v1/links/{id}/restore")),
        200,
    )
    .await;
    let evs = app.link_events(&id, Some("link.takedown_updated")).await;
    assert_eq!(evs.len(), 2, "{evs:#?}");
    let d = &evs[0]["data"];
    assert_eq!(d["event_action"], "restored");
    assert_eq!(d["before"], json!({"status": "disabled"}));
    assert_eq!(d["after"], json!({"status": "active"}));

    // delete
    let r = app
        .api(Method::DELETE, &format!("/api/v1/links/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let d = updates(&app, &id, 11).await;
    assert_update(
        &d,
        "deleted",
        &["status"],
        json!({"status": "active"}),
        json!({"status": "deleted"}),
    );

    // Nothing but these 14 events for the link, and none for the password.
    let all = app.link_events(&id, None).await;
    assert_eq!(all.len(), 14, "{all:#?}");
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains("correct horse"));
    assert!(!text.contains("argon2"));
}

#[tokio::test]
async fn compat_routes_emit_the_same_events() {
    let app = TestApp::spawn().await;
    let v = app
        .json(
            app.api(Method::POST, "/api/shorten")
                .json(&json!({"long_url": "https://example.com/a", "custom_slug": "cmp"})),
            201,
        )
        .await;
    let id = s(&v["url_id"]);
    let put = |path: &str, body: Value| app.api(Method::PUT, path).json(&body);
    app.json(
        put(
            "/api/update-slug",
            json!({"url_id": id, "new_slug": "cmp2"}),
        ),
        200,
    )
    .await;
    app.json(
        put(
            "/api/update-destination",
            json!({"url_id": id, "long_url": "https://example.com/b"}),
        ),
        200,
    )
    .await;
    app.json(
        put(
            "/api/update-password",
            json!({"url_id": id, "password": "pw"}),
        ),
        200,
    )
    .await;
    app.json(
        put(
            "/api/update-expiration",
            json!({"url_id": id, "expires_at": "2026-07-01T00:00:00Z"}),
        ),
        200,
    )
    .await;
    app.json(
        app.api(Method::POST, "/api/delete-link")
            .json(&json!({"url_id": id})),
        200,
    )
    .await;
    let evs = app.link_events(&id, None).await;
    let actions: Vec<String> = evs
        .iter()
        .rev()
        .map(|e| match e["data"]["event_action"].as_str() {
            Some(a) => format!("{}:{a}", s(&e["type"])),
            None => s(&e["type"]),
        })
        .collect();
    assert_eq!(
        actions,
        [
            "link.created",
            "link.updated:slug_updated",
            "link.updated:destination_updated",
            "link.updated:password_updated",
            "link.updated:expiration_updated",
            "link.updated:deleted"
        ]
    );
}

#[tokio::test]
async fn the_raw_long_url_never_appears_in_events() {
    let app = TestApp::spawn().await;
    let raw = "https://shop.example.com/p?token=SECRET123&email=a@b.c";
    let link = app
        .create_link(json!({"long_url": raw, "custom_slug": "priv"}))
        .await;
    let id = s(&link["id"]);
    app.json(
        app.api(Method::PATCH, &format!("/api/v1/links/{id}"))
            .json(&json!({"long_url": "https://user:pw@shop.example.com/q?token=SECRET456#x"})),
        200,
    )
    .await;
    assert_eq!(
        app.click("/priv?utm_source=x", IPHONE_SAFARI)
            .await
            .status(),
        302
    );
    assert_eq!(app.click("/priv?nr=qr", ANDROID_CHROME).await.status(), 302);
    wait_until(DEADLINE, || async {
        app.link_events(&id, None).await.len() == 4
    })
    .await;
    let r = app
        .api(Method::GET, "/api/v1/events?limit=500")
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    for needle in ["SECRET123", "SECRET456", raw, "a@b.c", "user:pw", "token="] {
        assert!(!text.contains(needle), "{needle} leaked: {text}");
    }
    for ev in app.link_events(&id, None).await {
        let one = app
            .api(Method::GET, &format!("/api/v1/events/{}", s(&ev["id"])))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!one.contains("SECRET"), "{one}");
    }
    // Click events carry no IP and no user agent.
    assert!(!text.contains("Mozilla"), "{text}");
    assert!(!text.contains("Pixel 8"), "{text}");
}

#[tokio::test]
async fn envelopes_are_served_byte_for_byte() {
    let app = TestApp::spawn().await;
    let link = app
        .create_link(json!({"long_url": "https://example.com/a", "custom_slug": "env"}))
        .await;
    app.clock.advance(chrono::Duration::milliseconds(1234));
    app.json(
        app.api(Method::PATCH, &format!("/api/v1/links/{}", s(&link["id"])))
            .json(&json!({"tags": ["t"]})),
        200,
    )
    .await;
    let list_text = app
        .api(Method::GET, "/api/v1/events")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let list: Value = serde_json::from_str(&list_text).unwrap();
    assert_eq!(keys(&list), ["events", "next_cursor"]);
    let who = app.json(app.api(Method::GET, "/api/v1/whoami"), 200).await;
    let events = list["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["type"], "link.updated", "newest first");
    assert_eq!(events[0]["created_at"], "2026-03-30T12:00:01.234Z");
    assert_eq!(events[1]["created_at"], "2026-03-30T12:00:00.000Z");
    for ev in events {
        assert_eq!(
            keys(ev),
            sorted(&[
                "id",
                "type",
                "api_version",
                "created_at",
                "organization_id",
                "workspace_id",
                "data"
            ])
        );
        assert_eq!(ev["api_version"], "2026-03-30");
        assert_eq!(ev["organization_id"], who["organization_id"]);
        assert_eq!(ev["workspace_id"], who["workspace_id"]);
        let id = s(&ev["id"]);
        assert!(id.parse::<uuid_like::Uuid>().is_ok(), "{id}");
        // The stored body appears verbatim in the list and in the single-event answer.
        let one = app
            .api(Method::GET, &format!("/api/v1/events/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(one.status(), 200);
        assert!(one.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let one = one.text().await.unwrap();
        let body = one
            .strip_prefix("{\"event\":")
            .and_then(|b| b.strip_suffix('}'))
            .unwrap_or_else(|| panic!("not {{\"event\":...}}: {one}"));
        assert!(
            list_text.contains(body),
            "{body} not verbatim in {list_text}"
        );
        let parsed: Value = serde_json::from_str(&one).unwrap();
        assert_eq!(&parsed["event"], ev);
        // Keys in contract order.
        let pos: Vec<usize> = [
            "\"id\"",
            "\"type\"",
            "\"api_version\"",
            "\"created_at\"",
            "\"organization_id\"",
            "\"workspace_id\"",
            "\"data\"",
        ]
        .iter()
        .map(|k| body.find(k).unwrap())
        .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{body}");
    }
    let r = app
        .api(
            Method::GET,
            "/api/v1/events/0190b8a0-0000-7000-8000-000000000000",
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found").await;
    let r = app
        .api(Method::GET, "/api/v1/events/nope")
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found").await;
}

/// A tiny UUID syntax check, so the tests need no uuid dependency.
mod uuid_like {
    pub struct Uuid;
    impl std::str::FromStr for Uuid {
        type Err = ();
        fn from_str(s: &str) -> Result<Self, ()> {
            let groups: Vec<&str> = s.split('-').collect();
            let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
            let hex = s
                .bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if lens == [8, 4, 4, 4, 12] && hex {
                Ok(Uuid)
            } else {
                Err(())
            }
        }
    }
}

#[tokio::test]
async fn event_types_lists_the_catalog() {
    let app = TestApp::spawn().await;
    let v = app
        .json(app.api(Method::GET, "/api/v1/event-types"), 200)
        .await;
    let mut types: Vec<String> = v["event_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| s(&t["type"]))
        .collect();
    types.sort();
    assert_eq!(
        types,
        sorted(&[
            "link.created",
            "link.updated",
            "link.takedown_updated",
            "domain.verification_updated",
            "link.clicked",
            "link.qr_scanned",
            "nim.webhook.test"
        ])
    );
    let test = v["event_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "nim.webhook.test")
        .unwrap();
    assert_eq!(test["subscribable"], false);
}

#[tokio::test]
async fn samples_are_synthetic_until_real_events_exist() {
    let app = TestApp::spawn().await;
    let v = app
        .json(
            app.api(Method::GET, "/api/v1/events/sample?type=link.qr_scanned"),
            200,
        )
        .await;
    let evs = v["events"].as_array().unwrap();
    assert_eq!(evs.len(), 1);
    let synthetic = &evs[0];
    assert_eq!(synthetic["type"], "link.qr_scanned");
    assert_eq!(synthetic["data"]["touch_type"], "qr_scan");
    assert_eq!(
        keys(synthetic),
        sorted(&[
            "id",
            "type",
            "api_version",
            "created_at",
            "organization_id",
            "workspace_id",
            "data"
        ])
    );
    let click_keys = with_l(&[
        "touch_type",
        "clicked_at",
        "country",
        "device_category",
        "browser_family",
        "os_family",
        "referrer_host",
        "social_source",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
    ]);
    assert_eq!(keys(&synthetic["data"]), click_keys);
    // Synthetic samples are not stored.
    assert!(app.events("type=link.qr_scanned").await.is_empty());

    let link = app
        .create_link(json!({"long_url": "https://example.com/a", "custom_slug": "scan"}))
        .await;
    assert_eq!(app.click("/scan?nr=qr", IPHONE_SAFARI).await.status(), 302);
    wait_until(DEADLINE, || async {
        !app.events("type=link.qr_scanned").await.is_empty()
    })
    .await;
    let v = app
        .json(
            app.api(Method::GET, "/api/v1/events/sample?type=link.qr_scanned"),
            200,
        )
        .await;
    let real = &v["events"][0];
    assert_eq!(real["data"]["link_id"], link["id"]);
    assert_ne!(real["id"], synthetic["id"]);
    assert_eq!(keys(&real["data"]), click_keys);
    let stored = app.events("type=link.qr_scanned").await;
    assert_eq!(&stored[0], real);

    // Every type has a sample in its delivered shape.
    for t in [
        "link.created",
        "link.updated",
        "link.takedown_updated",
        "domain.verification_updated",
        "link.clicked",
    ] {
        let v = app
            .json(
                app.api(Method::GET, &format!("/api/v1/events/sample?type={t}")),
                200,
            )
            .await;
        assert_eq!(v["events"][0]["type"], t, "{v}");
    }
    let r = app
        .api(Method::GET, "/api/v1/events/sample?type=bogus")
        .send()
        .await
        .unwrap();
    expect_error(r, 422, "validation_failed").await;
}

#[tokio::test]
async fn event_filters_and_cursor() {
    let app = TestApp::spawn().await;
    let a = app
        .create_link(json!({"long_url": "https://example.com/a", "custom_slug": "fa"}))
        .await;
    app.clock.advance(chrono::Duration::minutes(10));
    let b = app
        .create_link(json!({"long_url": "https://example.com/b", "custom_slug": "fb"}))
        .await;
    for t in ["x", "y", "z"] {
        app.json(
            app.api(Method::PATCH, &format!("/api/v1/links/{}", s(&b["id"])))
                .json(&json!({"tags": [t]})),
            200,
        )
        .await;
    }
    assert_eq!(app.events("").await.len(), 5);
    assert_eq!(app.events("type=link.created").await.len(), 2);
    assert_eq!(app.events("type=link.updated").await.len(), 3);
    let only_a = app.link_events(&s(&a["id"]), None).await;
    assert_eq!(only_a.len(), 1);
    assert_eq!(only_a[0]["data"]["link_id"], a["id"]);
    assert_eq!(app.link_events(&s(&b["id"]), None).await.len(), 4);
    let since = app.events("since=2026-03-30T12:05:00Z").await;
    assert_eq!(since.len(), 4);
    assert!(since.iter().all(|e| e["data"]["link_id"] == b["id"]));

    // Cursor pagination covers everything once, newest first.
    let all = app.events("").await;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..10 {
        let v = app
            .json(
                app.api(
                    Method::GET,
                    &format!("/api/v1/events?limit=2&cursor={cursor}"),
                ),
                200,
            )
            .await;
        seen.extend(v["events"].as_array().unwrap().iter().cloned());
        match v["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, all);

    for bad in [
        "type=nope",
        "link_id=nope",
        "since=yesterday",
        "cursor=nope",
    ] {
        let r = app
            .api(Method::GET, &format!("/api/v1/events?{bad}"))
            .send()
            .await
            .unwrap();
        expect_error(r, 422, "validation_failed").await;
    }
    // A links-only key may not read events.
    let links_only = app.key_with("links:read links:write").await;
    let r = app
        .api_as(&links_only, Method::GET, "/api/v1/events")
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "insufficient_scope").await;
}

#[tokio::test]
async fn domain_verification_emits_its_event() {
    let app = TestApp::spawn().await;
    let v = app
        .json(
            app.api(Method::POST, "/api/v1/domains")
                .json(&json!({"domain_name": "links.example.net"})),
            201,
        )
        .await;
    let d = &v["domain"];
    let did = s(&d["id"]);
    // A failed check first: pending -> failed.
    app.json(
        app.api(Method::POST, &format!("/api/v1/domains/{did}/verify")),
        200,
    )
    .await;
    app.resolver.set(
        &s(&d["verification"]["name"]),
        vec![s(&d["verification"]["value"])],
    );
    app.json(
        app.api(Method::POST, &format!("/api/v1/domains/{did}/verify")),
        200,
    )
    .await;
    // Verifying again changes nothing and emits nothing.
    app.json(
        app.api(Method::POST, &format!("/api/v1/domains/{did}/verify")),
        200,
    )
    .await;
    let evs = app.events("type=domain.verification_updated").await;
    assert_eq!(evs.len(), 2, "{evs:#?}");
    let last = &evs[0]["data"];
    assert_eq!(
        keys(last),
        sorted(&["domain_id", "domain_name", "before", "after"])
    );
    assert_eq!(last["domain_id"], d["id"]);
    assert_eq!(last["domain_name"], "links.example.net");
    assert_eq!(
        last["before"],
        json!({"verification_status": "failed", "ready_for_traffic": false, "domain_status": "pending"})
    );
    assert_eq!(
        last["after"],
        json!({"verification_status": "verified", "ready_for_traffic": true, "domain_status": "active"})
    );
    assert_eq!(
        evs[1]["data"]["before"],
        json!({"verification_status": "pending", "ready_for_traffic": false, "domain_status": "pending"})
    );
    assert_eq!(evs[1]["data"]["after"]["verification_status"], "failed");
}
