//! The redirect path: status codes, Location, headers, and which requests become click events.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn redirects_302_with_utm_and_forwarded_query() {
    let app = TestApp::spawn().await;
    let link = app
        .create_link(json!({
            "long_url": "https://example.com/landing?ref=abc",
            "custom_slug": "go",
            "utm": {"utm_source": "newsletter", "utm_campaign": "spring", "utm_medium": ""}
        }))
        .await;
    let id = s(&link["id"]);

    let r = app.click("/go", IPHONE_SAFARI).await;
    assert_eq!(r.status(), 302);
    assert_eq!(
        location(&r),
        "https://example.com/landing?ref=abc&utm_source=newsletter&utm_campaign=spring"
    );
    assert_eq!(r.headers()["cache-control"], "private, no-store");

    // Visitor query parameters are forwarded after the link's UTM; the link's UTM wins on conflict.
    let r = app
        .click("/go?gclid=123&utm_source=visitor&x=a%20b", WINDOWS_CHROME)
        .await;
    assert_eq!(r.status(), 302);
    let loc = location(&r);
    assert_eq!(
        loc,
        "https://example.com/landing?ref=abc&utm_source=newsletter&utm_campaign=spring&gclid=123&x=a+b"
    );

    wait_until(DEADLINE, || async {
        app.link_events(&id, Some("link.clicked")).await.len() == 2
    })
    .await;
    let evs = app.link_events(&id, Some("link.clicked")).await;
    let d = &evs[1]["data"];
    assert_eq!(d["touch_type"], "short_link_click");
    assert_eq!(d["link_id"], link["id"]);
    assert_eq!(d["short_url"], app.url("/go"));
    assert_eq!(d["clicked_at"], "2026-03-30T12:00:00.000Z");
    assert_eq!(d["utm_source"], "newsletter");
    assert_eq!(d["utm_campaign"], "spring");
    // The visitor's own utm_source is what their click event reports.
    assert_eq!(evs[0]["data"]["utm_source"], "visitor", "{}", evs[0]);

    // Unknown code: 404, no click anywhere.
    let r = app.click("/nothing-here", IPHONE_SAFARI).await;
    assert_eq!(r.status(), 404);
    assert_eq!(app.click("/", IPHONE_SAFARI).await.status(), 200);
    app.clicks_settled(&id, 2).await;
    assert_eq!(app.events("type=link.clicked").await.len(), 2);
}

#[tokio::test]
async fn permanent_redirects_when_asked() {
    let app = TestApp::spawn().await;
    app.create_link(json!({"long_url": "https://example.com/p", "custom_slug": "perm", "redirect_status_code": 301}))
        .await;
    let r = app.click("/perm", IPHONE_SAFARI).await;
    assert_eq!(r.status(), 301);
    assert_eq!(location(&r), "https://example.com/p");
}

#[tokio::test]
async fn qr_marker_is_a_scan_and_is_stripped() {
    let app = TestApp::spawn().await;
    let link = app
        .create_link(
            json!({"long_url": "https://example.com/menu", "custom_slug": "menu",
                            "utm": {"utm_medium": "print"}}),
        )
        .await;
    let id = s(&link["id"]);
    let r = app.click("/menu?nr=qr", ANDROID_CHROME).await;
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), "https://example.com/menu?utm_medium=print");
    let r = app.click("/menu?table=4&nr=qr", ANDROID_CHROME).await;
    assert_eq!(
        location(&r),
        "https://example.com/menu?utm_medium=print&table=4"
    );
    wait_until(DEADLINE, || async {
        app.link_events(&id, Some("link.qr_scanned")).await.len() == 2
    })
    .await;
    let evs = app.link_events(&id, None).await;
    assert_eq!(evs.len(), 3, "created + 2 scans, no link.clicked: {evs:#?}");
    let d = &evs[0]["data"];
    assert_eq!(evs[0]["type"], "link.qr_scanned");
    assert_eq!(d["touch_type"], "qr_scan");
    assert_eq!(d["utm_medium"], "print");
    assert_eq!(d["device_category"], "mobile");
    assert_eq!(d["os_family"], "Android");
}

#[tokio::test]
async fn expired_taken_down_and_deleted_links_are_not_clicks() {
    let app = TestApp::spawn().await;
    let soon = "2026-03-30T13:00:00Z";
    let exp = app
        .create_link(
            json!({"long_url": "https://example.com/e", "custom_slug": "exp", "expires_at": soon}),
        )
        .await;
    let down = app
        .create_link(json!({"long_url": "https://example.com/d", "custom_slug": "down"}))
        .await;
    let del = app
        .create_link(json!({"long_url": "https://example.com/x", "custom_slug": "del"}))
        .await;
    let live = app
        .create_link(json!({"long_url": "https://example.com/l", "custom_slug": "live"}))
        .await;
    // Before expiry it works (and the cache now holds it).
    assert_eq!(app.click("/exp", IPHONE_SAFARI).await.status(), 302);
    assert_eq!(app.click("/down", IPHONE_SAFARI).await.status(), 302);
    assert_eq!(app.click("/del", IPHONE_SAFARI).await.status(), 302);
    wait_until(DEADLINE, || async {
        app.events("type=link.clicked").await.len() == 3
    })
    .await;

    app.clock.advance(chrono::Duration::hours(2));
    app.json(
        app.api(
            Method::POST,
            &format!("/api/v1/links/{}/takedown", s(&down["id"])),
        ),
        200,
    )
    .await;
    let r = app
        .api(Method::DELETE, &format!("/api/v1/links/{}", s(&del["id"])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    let r = app.click("/exp", IPHONE_SAFARI).await;
    assert_eq!(r.status(), 410);
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    assert_eq!(app.click("/exp?nr=qr", IPHONE_SAFARI).await.status(), 410);
    assert_eq!(app.click("/down", IPHONE_SAFARI).await.status(), 410);
    assert_eq!(app.click("/del", IPHONE_SAFARI).await.status(), 404);
    // A live click afterwards is the fence: once it is written, anything queued before it is too.
    assert_eq!(app.click("/live", IPHONE_SAFARI).await.status(), 302);
    app.clicks_settled(&s(&live["id"]), 1).await;
    assert_eq!(app.events("type=link.clicked").await.len(), 4);
    assert!(app.events("type=link.qr_scanned").await.is_empty());
    for l in [&exp, &down] {
        let t = app.totals(&s(&l["id"]), true).await;
        assert_eq!(t["clicks"], 1, "{t}");
    }
}

#[tokio::test]
async fn password_protected_links_count_only_after_unlock() {
    let app = TestApp::spawn().await;
    let link = app
        .create_link(json!({"long_url": "https://example.com/secret", "custom_slug": "locked", "password": "s3cret pass"}))
        .await;
    let id = s(&link["id"]);
    assert_eq!(link["password_protected"], true);

    let r = app.click("/locked", IPHONE_SAFARI).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<form") && html.contains("name=\"password\""),
        "{html}"
    );

    let post = |form: &[(&str, &str)]| {
        app.client
            .post(app.url("/locked"))
            .header(reqwest::header::USER_AGENT, IPHONE_SAFARI)
            .form(form)
            .send()
    };
    let r = post(&[("password", "wrong")]).await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("<form"));
    let r = post(&[]).await.unwrap();
    assert_eq!(r.status(), 401);

    let r = post(&[("password", "s3cret pass")]).await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), "https://example.com/secret");
    app.clicks_settled(&id, 1).await;
    let clicks = app.link_events(&id, Some("link.clicked")).await;
    assert_eq!(clicks.len(), 1, "{clicks:#?}");

    // Guessing is throttled: five wrong passwords, then even the right one waits, and nothing counts.
    for _ in 0..5 {
        assert_eq!(post(&[("password", "guess")]).await.unwrap().status(), 401);
    }
    let r = post(&[("password", "s3cret pass")]).await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "30");
    assert!(r.text().await.unwrap().contains("Too many wrong passwords"));
    app.clock.advance(chrono::Duration::seconds(30));
    let r = post(&[("password", "s3cret pass")]).await.unwrap();
    assert_eq!(r.status(), 302);
    app.clicks_settled(&id, 2).await;

    // POST to an unprotected link is not a thing.
    app.create_link(json!({"long_url": "https://example.com/o", "custom_slug": "open"}))
        .await;
    let r = app
        .client
        .post(app.url("/open"))
        .form(&[("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn changes_reach_the_redirect_at_once() {
    let app = TestApp::spawn().await;
    let link = app
        .create_link(json!({"long_url": "https://example.com/one", "custom_slug": "chg"}))
        .await;
    let id = s(&link["id"]);
    assert_eq!(
        location(&app.click("/chg", IPHONE_SAFARI).await),
        "https://example.com/one"
    );
    app.json(
        app.api(Method::PATCH, &format!("/api/v1/links/{id}"))
            .json(&json!({"long_url": "https://example.com/two"})),
        200,
    )
    .await;
    assert_eq!(
        location(&app.click("/chg", IPHONE_SAFARI).await),
        "https://example.com/two"
    );
    app.json(
        app.api(Method::PATCH, &format!("/api/v1/links/{id}"))
            .json(&json!({"slug": "chg2"})),
        200,
    )
    .await;
    assert_eq!(app.click("/chg", IPHONE_SAFARI).await.status(), 404);
    assert_eq!(app.click("/chg2", IPHONE_SAFARI).await.status(), 302);
    // Setting an expiry in the past is refused; a future one that passes makes the link gone.
    app.json(
        app.api(Method::PATCH, &format!("/api/v1/links/{id}"))
            .json(&json!({"expires_at": "2026-03-30T12:30:00Z"})),
        200,
    )
    .await;
    assert_eq!(app.click("/chg2", IPHONE_SAFARI).await.status(), 302);
    app.clock.advance(chrono::Duration::minutes(31));
    assert_eq!(app.click("/chg2", IPHONE_SAFARI).await.status(), 410);
}

#[tokio::test]
async fn a_code_that_was_missing_works_once_created() {
    let app = TestApp::spawn().await;
    // The miss is cached; creating (or renaming to) the code must clear it.
    assert_eq!(app.click("/later", IPHONE_SAFARI).await.status(), 404);
    assert_eq!(app.click("/renamed", IPHONE_SAFARI).await.status(), 404);
    let link = app
        .create_link(json!({"long_url": "https://example.com/later", "custom_slug": "later"}))
        .await;
    assert_eq!(app.click("/later", IPHONE_SAFARI).await.status(), 302);
    app.json(
        app.api(Method::PATCH, &format!("/api/v1/links/{}", s(&link["id"])))
            .json(&json!({"slug": "renamed"})),
        200,
    )
    .await;
    assert_eq!(app.click("/renamed", IPHONE_SAFARI).await.status(), 302);
    assert_eq!(app.click("/later", IPHONE_SAFARI).await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clicks_are_all_recorded_once() {
    let app = TestApp::spawn().await;
    let link = app
        .create_link(json!({"long_url": "https://example.com/busy", "custom_slug": "busy"}))
        .await;
    let id = s(&link["id"]);
    let n = 200u64;
    let mut tasks = Vec::new();
    for i in 0..n {
        let client = app.client.clone();
        let url = if i % 4 == 0 {
            app.url("/busy?nr=qr")
        } else {
            app.url("/busy")
        };
        let ua = if i % 5 == 0 {
            "curl/8.5.0"
        } else {
            IPHONE_SAFARI
        };
        tasks.push(tokio::spawn(async move {
            client
                .get(url)
                .header(reqwest::header::USER_AGENT, ua)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 302);
    }
    app.clicks_settled(&id, n).await;
    let bots = (0..n).filter(|i| i % 5 == 0).count();
    let scans = (0..n).filter(|i| i % 4 == 0 && i % 5 != 0).count();
    let human_clicks = n as usize - bots - scans;
    let t = app.totals(&id, true).await;
    assert_eq!(t["bot_clicks"], bots as u64, "{t}");
    assert_eq!(
        app.link_events(&id, Some("link.qr_scanned")).await.len(),
        scans
    );
    assert_eq!(
        app.link_events(&id, Some("link.clicked")).await.len(),
        human_clicks
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_slug_have_one_winner() {
    let app = TestApp::spawn().await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let req = app
            .api(Method::POST, "/api/v1/links")
            .json(&json!({"long_url": format!("https://example.com/{i}"), "custom_slug": "race"}));
        tasks.push(tokio::spawn(async move {
            req.send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(app.events("type=link.created").await.len(), 1);
}

#[tokio::test]
async fn graceful_shutdown_writes_every_queued_click() {
    let app = TestApp::spawn().await;
    let link = app
        .create_link(json!({"long_url": "https://example.com/bye", "custom_slug": "bye"}))
        .await;
    let n = 300;
    for _ in 0..n {
        assert_eq!(app.click("/bye", IPHONE_SAFARI).await.status(), 302);
    }
    let workspace: linkwire_contract::WorkspaceId =
        s(&app.json(app.api(Method::GET, "/api/v1/whoami"), 200).await["workspace_id"])
            .parse()
            .unwrap();
    let dir = app.stop().await;
    let store = linkwire_store::Store::open_sqlite_dir(dir.path(), &Default::default())
        .await
        .unwrap();
    let report = store
        .link_analytics(&linkwire_store::AnalyticsFilter {
            workspace_id: workspace,
            link_id: s(&link["id"]).parse().unwrap(),
            since: start_time() - chrono::Duration::days(1),
            touch_type: None,
            include_bots: true,
        })
        .await
        .unwrap();
    assert_eq!(report.clicks, n);
    let events = store
        .list_events(
            workspace,
            &linkwire_store::EventFilter {
                event_type: Some(linkwire_contract::EventType::LinkClicked),
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len() as i64, n);
    store.close().await;
}
