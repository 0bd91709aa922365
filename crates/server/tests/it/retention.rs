//! Click-data retention (contract §1): clicks past their plan's retention are pruned, with the click
//! events they produced; lifecycle events and other workspaces' clicks stay.

use std::time::Duration;

use linkwire_contract::{Plan, ScopeSet, WorkspaceId};
use linkwire_server::retention;
use linkwire_store::Pruned;
use serde_json::json;

use crate::common::*;

const CURL: &str = "curl/8.5.0";

#[tokio::test]
async fn clicks_past_the_plans_retention_are_pruned_with_their_events() {
    let app = TestApp::spawn_with(|s| s.prune_interval = Duration::from_millis(50)).await;
    // Starter keeps clicks 14 days; the bootstrap organization is Enterprise (540 days).
    let starter = app
        .tenant_with(Plan::Starter, ScopeSet::all_api_key_scopes())
        .await;
    let starter_ws: WorkspaceId = starter.workspace_id.parse().expect("uuid");
    app.create_link_as(
        &starter.key,
        json!({"long_url": "https://example.com/spring?ref=mail", "slug": "spring"}),
    )
    .await;
    let kept = app
        .create_link(json!({"long_url": "https://example.com/kept", "slug": "kept"}))
        .await;
    let kept_id = kept["id"].as_str().expect("link id");

    // A click, a QR scan and a bot on the Starter link; one click on the Enterprise one.
    app.click("/spring", IPHONE_SAFARI).await;
    app.click("/spring?nr=qr", ANDROID_CHROME).await;
    app.click("/spring", CURL).await;
    app.click("/kept", WINDOWS_CHROME).await;
    wait_until(DEADLINE, || async {
        app.store.count_clicks(starter_ws).await.expect("count") == (3, 1)
    })
    .await;
    app.clicks_settled(kept_id, 1).await;
    let starter_types = |events: Vec<serde_json::Value>| {
        let mut types: Vec<String> = events
            .iter()
            .map(|e| e["type"].as_str().expect("type").to_owned())
            .collect();
        types.sort();
        types
    };
    assert_eq!(
        starter_types(app.events_as(&starter.key, "").await),
        ["link.clicked", "link.created", "link.qr_scanned"]
    );

    // Thirteen days on, the clicks are inside the 14 days: a pass prunes nothing.
    app.clock.advance(chrono::Duration::days(13));
    assert_eq!(
        retention::prune_once(&app.store, app.clock_now())
            .await
            .expect("prune"),
        Pruned::default()
    );
    assert_eq!(
        app.store.count_clicks(starter_ws).await.expect("count"),
        (3, 1)
    );

    // A day and a millisecond later they are past it: the background pass deletes them and their events.
    app.clock
        .advance(chrono::Duration::days(1) + chrono::Duration::milliseconds(1));
    wait_until(DEADLINE, || async {
        app.store.count_clicks(starter_ws).await.expect("count") == (0, 0)
    })
    .await;
    assert_eq!(
        starter_types(app.events_as(&starter.key, "").await),
        ["link.created"],
        "the lifecycle event stays"
    );
    // The Enterprise workspace keeps its click and its event.
    assert_eq!(app.totals(kept_id, true).await["clicks"], 1);
    assert_eq!(
        app.link_events(kept_id, Some("link.clicked")).await.len(),
        1
    );

    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    for line in [
        "linkwire_clicks_pruned_total 3",
        "linkwire_click_events_pruned_total 2",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
}

#[tokio::test]
async fn pruning_works_through_a_backlog_in_steps() {
    let app = TestApp::spawn().await;
    let starter = app
        .tenant_with(Plan::Starter, ScopeSet::all_api_key_scopes())
        .await;
    let ws: WorkspaceId = starter.workspace_id.parse().expect("uuid");
    app.create_link_as(
        &starter.key,
        json!({"long_url": "https://example.com/many", "slug": "many"}),
    )
    .await;
    // More clicks than one pruning step takes (500), so the pass needs several.
    let clicks = 2_500;
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (client, url) = (app.client.clone(), app.url("/many"));
        senders.spawn(async move {
            for _ in 0..clicks / 50 {
                let r = client
                    .get(&url)
                    .header(reqwest::header::USER_AGENT, IPHONE_SAFARI)
                    .send()
                    .await
                    .expect("click sent");
                assert_eq!(r.status(), 302);
            }
        });
    }
    while let Some(done) = senders.join_next().await {
        done.expect("sender");
    }
    wait_until(DEADLINE, || async {
        app.store.count_clicks(ws).await.expect("count").0 == clicks
    })
    .await;
    app.clock.advance(chrono::Duration::days(15));
    let pruned = retention::prune_once(&app.store, app.clock_now())
        .await
        .expect("prune");
    assert_eq!(
        pruned,
        Pruned {
            clicks: clicks as u64,
            events: clicks as u64,
            deliveries: 0,
            attempts: 0
        }
    );
    assert_eq!(app.store.count_clicks(ws).await.expect("count"), (0, 0));
}
