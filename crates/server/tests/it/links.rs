//! Native link routes: happy paths, validation, auth and scopes, pagination, QR codes, analytics.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

const LINK_KEYS: &[&str] = &[
    "id",
    "url_id",
    "workspace_id",
    "domain_id",
    "domain_name",
    "short_code",
    "short_url",
    "long_url",
    "destination_host",
    "redirect_status_code",
    "expires_at",
    "password_protected",
    "tags",
    "utm",
    "status",
    "takedown_reason",
    "source",
    "created_at",
    "updated_at",
];

#[tokio::test]
async fn create_answers_201_with_the_documented_link() {
    let app = TestApp::spawn().await;
    let resp = app
        .api(Method::POST, "/api/v1/links")
        .json(&json!({
            "long_url": "https://example.com/pricing?x=1",
            "custom_slug": "pricing",
            "tags": ["spring", " spring ", "ads"],
            "utm": {"utm_source": "newsletter", "utm_medium": ""}
        }))
        .send()
        .await
        .unwrap();
    let v = expect_json(resp, 201).await;
    assert_eq!(keys(&v), ["link"]);
    let link = &v["link"];
    assert_eq!(keys(link), sorted(LINK_KEYS));
    assert_eq!(link["id"], link["url_id"]);
    assert_eq!(link["short_code"], "pricing");
    assert_eq!(link["short_url"], app.url("/pricing"));
    assert_eq!(link["domain_name"], "127.0.0.1");
    assert_eq!(link["long_url"], "https://example.com/pricing?x=1");
    assert_eq!(link["destination_host"], "example.com");
    assert_eq!(link["redirect_status_code"], 302);
    assert_eq!(link["expires_at"], Value::Null);
    assert_eq!(link["password_protected"], false);
    assert_eq!(link["tags"], json!(["spring", "ads"]));
    assert_eq!(link["utm"]["utm_source"], "newsletter");
    assert_eq!(link["status"], "active");
    assert_eq!(link["source"], "api");
    assert_eq!(link["created_at"], "2026-03-30T12:00:00.000Z");

    // Generated codes when no slug is given.
    let gen = app
        .create_link(json!({"long_url": "https://example.com/a"}))
        .await;
    let code = s(&gen["short_code"]);
    assert_eq!(code.len(), 7, "{code}");
    assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()));
}

#[tokio::test]
async fn create_rejects_bad_input_with_stable_codes() {
    let app = TestApp::spawn().await;
    let post = |body: Value| app.api(Method::POST, "/api/v1/links").json(&body);

    for bad in [
        "not a url",
        "ftp://example.com/x",
        "javascript:alert(1)",
        "https://",
    ] {
        let r = post(json!({"long_url": bad})).send().await.unwrap();
        let v = expect_error(r, 422, "validation_failed").await;
        assert_eq!(v["error"]["details"]["field"], "long_url", "{bad}: {v}");
    }
    for reserved in ["api", "API", "healthz", "metrics"] {
        let r = post(json!({"long_url": "https://example.com", "custom_slug": reserved}))
            .send()
            .await
            .unwrap();
        expect_error(r, 422, "slug_reserved").await;
    }
    let r = post(json!({"long_url": "https://example.com", "custom_slug": "bad slug!"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 422, "validation_failed").await;
    let r = post(json!({"long_url": "https://example.com", "redirect_status_code": 307}))
        .send()
        .await
        .unwrap();
    expect_error(r, 422, "validation_failed").await;
    let r = post(json!({"long_url": "https://example.com", "expires_at": "2020-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 422, "validation_failed").await;
    let r = post(json!({"long_url": "https://example.com", "expires_at": "tomorrow"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 422, "validation_failed").await;

    app.create_link(json!({"long_url": "https://example.com", "custom_slug": "taken"}))
        .await;
    let r = post(json!({"long_url": "https://example.org", "custom_slug": "taken"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 409, "slug_taken").await;

    // Body problems.
    let r = app
        .api(Method::POST, "/api/v1/links")
        .header("content-type", "application/json")
        .body("{\"long_url\":")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_json").await;
    let r = app
        .api(Method::POST, "/api/v1/links")
        .header("content-type", "text/plain")
        .body("{\"long_url\":\"https://example.com\"}")
        .send()
        .await
        .unwrap();
    expect_error(r, 415, "unsupported_media_type").await;
    let r = app
        .api(Method::POST, "/api/v1/links")
        .body("{\"long_url\":\"https://example.com\"}")
        .send()
        .await
        .unwrap();
    expect_error(r, 415, "unsupported_media_type").await;
    let big = format!(
        "{{\"long_url\":\"https://example.com\",\"tags\":[\"{}\"]}}",
        "a".repeat(300 * 1024)
    );
    let r = app
        .api(Method::POST, "/api/v1/links")
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    expect_error(r, 413, "payload_too_large").await;
    // Unknown fields and wrong types are the client's fault, never a 500.
    let r = post(json!({"long_url": "https://example.com", "bogus": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "{}", r.text().await.unwrap());
    let r = post(json!({"long_url": 42})).send().await.unwrap();
    assert_eq!(r.status(), 400);

    // Auth and scopes.
    let r = app
        .client
        .post(app.url("/api/v1/links"))
        .json(&json!({"long_url": "https://example.com"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "unauthorized").await;
    let r = app
        .api_as("lw_not_a_real_key", Method::POST, "/api/v1/links")
        .json(&json!({"long_url": "https://example.com"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "unauthorized").await;
    let reader = app.key_with("links:read").await;
    let r = app
        .api_as(&reader, Method::POST, "/api/v1/links")
        .json(&json!({"long_url": "https://example.com"}))
        .send()
        .await
        .unwrap();
    let v = expect_error(r, 403, "insufficient_scope").await;
    assert_eq!(v["error"]["details"]["required_scope"], "links:write");
    // The reader can read, and X-Nim-Api-Key works as well as Bearer.
    let r = app
        .client
        .get(app.url("/api/v1/links"))
        .header("X-Nim-Api-Key", &reader)
        .send()
        .await
        .unwrap();
    expect_json(r, 200).await;
    // Nothing above created a second link.
    let list = app.json(app.api(Method::GET, "/api/v1/links"), 200).await;
    assert_eq!(list["links"].as_array().unwrap().len(), 1, "{list}");
}

#[tokio::test]
async fn list_paginates_with_limit_and_cursor_newest_first() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let l = app
            .create_link(json!({"long_url": format!("https://example.com/{i}")}))
            .await;
        ids.push(s(&l["id"]));
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/links?limit=2&cursor={c}"),
            None => "/api/v1/links?limit=2".to_owned(),
        };
        let v = app.json(app.api(Method::GET, &path), 200).await;
        assert_eq!(keys(&v), ["links", "next_cursor"]);
        let page = v["links"].as_array().unwrap();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|l| s(&l["id"])));
        pages += 1;
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);
    let r = app
        .api(Method::GET, "/api/v1/links?cursor=garbage")
        .send()
        .await
        .unwrap();
    expect_error(r, 422, "validation_failed").await;
}

#[tokio::test]
async fn get_find_patch_and_delete() {
    let app = TestApp::spawn().await;
    let link = app
        .create_link(json!({"long_url": "https://example.com/a", "custom_slug": "findme"}))
        .await;
    let id = s(&link["id"]);

    let got = app
        .json(app.api(Method::GET, &format!("/api/v1/links/{id}")), 200)
        .await;
    assert_eq!(got, json!({ "link": link }));

    let by_url = app
        .json(
            app.api(Method::GET, "/api/v1/links/find")
                .query(&[("short_url", app.url("/findme"))]),
            200,
        )
        .await;
    assert_eq!(by_url["link"]["id"], link["id"]);
    let by_code = app
        .json(
            app.api(Method::GET, "/api/v1/links/find").query(&[
                ("domain_id", s(&link["domain_id"])),
                ("short_code", "findme".to_owned()),
            ]),
            200,
        )
        .await;
    assert_eq!(by_code["link"]["id"], link["id"]);
    let r = app
        .api(Method::GET, "/api/v1/links/find")
        .query(&[("short_url", app.url("/nope"))])
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found").await;
    let r = app
        .api(Method::GET, "/api/v1/links/find")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "bad_request").await;

    let patch = |body: Value| {
        app.api(Method::PATCH, &format!("/api/v1/links/{id}"))
            .json(&body)
    };
    let v = app
        .json(patch(json!({"long_url": "https://example.org/b"})), 200)
        .await;
    assert_eq!(v["link"]["long_url"], "https://example.org/b");
    let v = app.json(patch(json!({"slug": "renamed"})), 200).await;
    assert_eq!(v["link"]["short_code"], "renamed");
    assert_eq!(v["link"]["short_url"], app.url("/renamed"));
    let v = app
        .json(patch(json!({"expires_at": "2026-04-30T00:00:00Z"})), 200)
        .await;
    assert_eq!(v["link"]["expires_at"], "2026-04-30T00:00:00.000Z");
    let v = app.json(patch(json!({"expires_at": null})), 200).await;
    assert_eq!(v["link"]["expires_at"], Value::Null);
    let v = app.json(patch(json!({"password": "hunter2"})), 200).await;
    assert_eq!(v["link"]["password_protected"], true);
    assert!(!v.to_string().contains("hunter2"));
    let v = app.json(patch(json!({"password": null})), 200).await;
    assert_eq!(v["link"]["password_protected"], false);
    let v = app.json(patch(json!({"tags": ["x", "y"]})), 200).await;
    assert_eq!(v["link"]["tags"], json!(["x", "y"]));
    let v = app
        .json(patch(json!({"utm": {"utm_campaign": "spring"}})), 200)
        .await;
    assert_eq!(v["link"]["utm"]["utm_campaign"], "spring");
    let v = app
        .json(patch(json!({"redirect_status_code": 301})), 200)
        .await;
    assert_eq!(v["link"]["redirect_status_code"], 301);
    let r = patch(json!({"slug": "api"})).send().await.unwrap();
    expect_error(r, 422, "slug_reserved").await;
    app.create_link(json!({"long_url": "https://example.com", "custom_slug": "other"}))
        .await;
    let r = patch(json!({"slug": "other"})).send().await.unwrap();
    expect_error(r, 409, "slug_taken").await;

    // Find by the new slug, not the old one.
    let r = app
        .api(Method::GET, "/api/v1/links/find")
        .query(&[("short_url", app.url("/findme"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let r = app
        .api(Method::DELETE, &format!("/api/v1/links/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = app
        .api(Method::GET, &format!("/api/v1/links/{id}"))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found").await;
    let r = app
        .api(Method::DELETE, &format!("/api/v1/links/{id}"))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found").await;
    let r = app
        .api(Method::PATCH, &format!("/api/v1/links/{id}"))
        .json(&json!({"tags": []}))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found").await;
    // A deleted link is not listed.
    let list = app.json(app.api(Method::GET, "/api/v1/links"), 200).await;
    assert!(list["links"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["id"] != link["id"]));
    // Malformed ids are 404, not 400/500.
    let r = app
        .api(Method::GET, "/api/v1/links/not-a-uuid")
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found").await;
}

#[tokio::test]
async fn deleted_slug_can_be_reused() {
    let app = TestApp::spawn().await;
    let link = app
        .create_link(json!({"long_url": "https://example.com/a", "custom_slug": "again"}))
        .await;
    let r = app
        .api(Method::DELETE, &format!("/api/v1/links/{}", s(&link["id"])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let again = app
        .create_link(json!({"long_url": "https://example.com/b", "custom_slug": "again"}))
        .await;
    let r = app.click("/again", IPHONE_SAFARI).await;
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), "https://example.com/b");
    assert_ne!(again["id"], link["id"]);
}

#[tokio::test]
async fn takedown_and_restore_need_admin() {
    let app = TestApp::spawn().await;
    let link = app
        .create_link(json!({"long_url": "https://example.com/a", "custom_slug": "mod"}))
        .await;
    let id = s(&link["id"]);
    let writer = app.key_with("links:read links:write").await;
    let r = app
        .api_as(
            &writer,
            Method::POST,
            &format!("/api/v1/links/{id}/takedown"),
        )
        .send()
        .await
        .unwrap();
    let v = expect_error(r, 403, "insufficient_scope").await;
    assert_eq!(v["error"]["details"]["required_scope"], "admin");

    let v = app
        .json(
            app.api(Method::POST, &format!("/api/v1/links/{id}/takedown"))
                .json(&json!({"reason_code": "phishing"})),
            200,
        )
        .await;
    assert_eq!(v["link"]["status"], "disabled");
    assert_eq!(v["link"]["takedown_reason"], "phishing");
    assert_eq!(app.click("/mod", IPHONE_SAFARI).await.status(), 410);

    let r = app
        .api_as(
            &writer,
            Method::POST,
            &format!("/api/v1/links/{id}/restore"),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "insufficient_scope").await;
    let v = app
        .json(
            app.api(Method::POST, &format!("/api/v1/links/{id}/restore")),
            200,
        )
        .await;
    assert_eq!(v["link"]["status"], "active");
    assert_eq!(v["link"]["takedown_reason"], Value::Null);
    assert_eq!(app.click("/mod", IPHONE_SAFARI).await.status(), 302);

    let r = app
        .api(Method::POST, &format!("/api/v1/links/{id}/takedown"))
        .json(&json!({"reason_code": "bad reason!"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 422, "validation_failed").await;
}

#[tokio::test]
async fn qr_codes_in_svg_and_png() {
    let app = TestApp::spawn().await;
    let link = app
        .create_link(json!({"long_url": "https://example.com/a", "custom_slug": "qr"}))
        .await;
    let id = s(&link["id"]);

    let r = app
        .api(Method::GET, &format!("/api/v1/links/{id}/qr"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let svg = r.text().await.unwrap();
    assert!(svg.contains("<svg"), "{}", &svg[..svg.len().min(200)]);

    let r = app
        .api(
            Method::GET,
            &format!("/api/v1/links/{id}/qr?format=png&size=256"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    let png = r.bytes().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 100 && png.len() < 200_000,
        "{} bytes",
        png.len()
    );
    // IHDR width/height: bytes 16..24, big endian; the PNG fits the asked size.
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!(w, h);
    assert!(w > 128 && w <= 256, "side {w}");

    for bad in ["size=10", "size=100000", "format=gif"] {
        let r = app
            .api(Method::GET, &format!("/api/v1/links/{id}/qr?{bad}"))
            .send()
            .await
            .unwrap();
        expect_error(r, 422, "validation_failed").await;
    }
    let r = app
        .api(
            Method::GET,
            "/api/v1/links/0190b8a0-0000-7000-8000-000000000000/qr",
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found").await;
}

#[tokio::test]
async fn analytics_counts_humans_scans_and_bots() {
    let app = TestApp::spawn().await;
    let link = app
        .create_link(json!({"long_url": "https://example.com/a", "custom_slug": "stats"}))
        .await;
    let id = s(&link["id"]);
    assert_eq!(app.click("/stats", IPHONE_SAFARI).await.status(), 302);
    assert_eq!(app.click("/stats", WINDOWS_CHROME).await.status(), 302);
    assert_eq!(
        app.click("/stats?nr=qr", ANDROID_CHROME).await.status(),
        302
    );
    assert_eq!(app.click("/stats", "curl/8.5.0").await.status(), 302);
    app.clicks_settled(&id, 4).await;

    let v = app
        .json(
            app.api(Method::GET, &format!("/api/v1/links/{id}/analytics")),
            200,
        )
        .await;
    for k in [
        "totals",
        "by_day",
        "top_countries",
        "top_devices",
        "top_browsers",
        "top_referrers",
        "top_social_sources",
    ] {
        assert!(v.get(k).is_some(), "missing {k}: {v}");
    }
    let humans = &v["totals"];
    assert_eq!(humans["clicks"], 3, "{v}");
    assert_eq!(humans["qr_scans"], 1, "{v}");
    let all = app.totals(&id, true).await;
    assert_eq!(all["clicks"], 4, "{all}");
    assert_eq!(all["bot_clicks"], 1, "{all}");
    let qr = app
        .json(
            app.api(
                Method::GET,
                &format!("/api/v1/links/{id}/analytics?touch_type=qr_scan"),
            ),
            200,
        )
        .await;
    assert_eq!(qr["totals"]["clicks"], 1, "{qr}");

    for bad in [
        "include_bots=2",
        "range_days=0",
        "range_days=100000",
        "touch_type=x",
    ] {
        let r = app
            .api(Method::GET, &format!("/api/v1/links/{id}/analytics?{bad}"))
            .send()
            .await
            .unwrap();
        expect_error(r, 422, "validation_failed").await;
    }
    let reader = app.key_with("links:read").await;
    let r = app
        .api_as(
            &reader,
            Method::GET,
            &format!("/api/v1/links/{id}/analytics"),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "insufficient_scope").await;
}
