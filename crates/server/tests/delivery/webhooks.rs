//! Delivery to real receivers on 127.0.0.1: headers and signatures, the retry schedule, dead-letter,
//! replay, test-send, pause / resume, subscriptions, plans, rotation, the Nimriz routes and stats.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use linkwire_contract::{OrganizationId, Plan, RetrySchedule};
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn a_2xx_receiver_gets_each_event_once_signed_in_both_header_families() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start(Reply::ok()).await;
    let ep = app
        .create_endpoint(&rx.url, &["link.created", "link.updated"])
        .await;
    assert!(ep.secret.starts_with("whsec_"), "{}", ep.secret);

    let before = unix_now();
    let mut events = Vec::new();
    for _ in 0..3 {
        events.push(app.link_event().await);
    }
    for e in &events {
        app.wait_delivery(&ep.id, e, "delivered").await;
    }
    let got = rx.requests();
    assert_eq!(got.len(), 3, "each event exactly once");
    let seen: BTreeSet<String> = got.iter().map(Received::event_id).collect();
    assert_eq!(seen, events.iter().cloned().collect::<BTreeSet<_>>());

    for r in &got {
        let id = r.event_id();
        assert_eq!(r.method, "POST");
        assert_eq!(r.h("content-type"), "application/json");
        assert!(
            r.h("user-agent").starts_with("linkwire-webhooks/"),
            "{}",
            r.h("user-agent")
        );
        assert_eq!(r.h("x-nim-event-type"), "link.created");
        assert_eq!(r.h("x-nim-delivery-attempt"), "1");
        assert_eq!(r.h("x-nim-delivery-reason"), "live");
        assert_eq!(r.h("webhook-id"), id);
        let ts = r.timestamp();
        assert!(ts >= before - 1 && ts <= unix_now() + 1, "{ts}");
        assert_eq!(r.h("webhook-timestamp"), r.h("x-nim-timestamp"));
        assert!(r.h("x-nim-signature").starts_with("v1="));
        assert!(
            !r.h("x-nim-signature").contains(','),
            "one secret, one signature"
        );
        assert!(r.h("webhook-signature").starts_with("v1,"));
        // The body is the stored envelope, byte for byte, and its id is the event id.
        assert_eq!(r.body_str(), app.event_body(&id).await);
        let body: Value = serde_json::from_slice(&r.body).expect("JSON body");
        assert_eq!(body["id"], id.as_str());
        assert_eq!(body["type"], "link.created");
        // The delivery id names the delivery the API shows.
        let ds = app.deliveries_of(&ep.id, &id).await;
        assert_eq!(ds.len(), 1);
        assert_eq!(r.h("x-nim-delivery-id"), ds[0]["id"]);
        assert_eq!(ds[0]["attempts"], 1);
        assert_eq!(ds[0]["reason"], "live");
        r.assert_signed(&ep.secret);
        // A wrong secret does not verify in either family.
        let other = "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
        assert!(r.verify_nim(&[other]).is_err());
        assert!(r.verify_standard(&[other]).is_err());
    }
    let history = app
        .delivery(&s(&app.deliveries(&ep.id).await[0]["id"]))
        .await;
    let attempts = attempts_of(&history);
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status_code"], 200);
    assert_eq!(attempts[0]["outcome"], "delivered");
    assert_eq!(attempts[0]["response_snippet"], "receiver says hi");
}

#[tokio::test]
async fn a_503_receiver_sees_six_attempts_then_the_delivery_is_dead_letter() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start(Reply::status(503)).await;
    let ep = app.create_endpoint(&rx.url, &["link.created"]).await;
    let event = app.link_event().await;
    let d = app.wait_delivery(&ep.id, &event, "dead_letter").await;

    let got = rx.requests();
    assert_eq!(got.len(), 6, "exactly six attempts");
    let numbers: Vec<u32> = got.iter().map(Received::attempt).collect();
    assert_eq!(numbers, vec![1, 2, 3, 4, 5, 6]);
    for r in &got {
        assert_eq!(r.event_id(), event);
        assert_eq!(r.h("x-nim-delivery-id"), d["id"]);
        assert_eq!(r.h("x-nim-delivery-reason"), "live");
        assert_eq!(r.body, got[0].body, "every attempt sends the same bytes");
        r.assert_signed(&ep.secret);
    }
    assert_eq!(attempts_of(&d).len(), 6);
    assert_eq!(d["last_status_code"], 503);
    assert!(d["next_attempt_at"].is_null(), "{d}");
    assert!(d["finished_at"].is_string(), "{d}");
    let attempts = attempts_of(&d);
    assert_eq!(attempts.len(), 6, "{d}");
    for (i, a) in attempts.iter().enumerate() {
        assert_eq!(a["attempt"], i as u64 + 1);
        assert_eq!(a["status_code"], 503);
        if i < 5 {
            assert_eq!(a["outcome"], "retry", "{a}");
            assert!(a["next_attempt_at"].is_string(), "{a}");
        } else {
            assert_eq!(a["outcome"], "dead_letter", "{a}");
            assert!(a["next_attempt_at"].is_null(), "{a}");
        }
    }
}

#[tokio::test]
async fn a_404_receiver_sees_one_attempt_then_dead_letter() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    for status in [404, 400, 410] {
        let rx = TestReceiver::start(Reply::status(status)).await;
        let ep = app.create_endpoint(&rx.url, &["link.created"]).await;
        let event = app.link_event().await;
        let d = app.wait_delivery(&ep.id, &event, "dead_letter").await;
        assert_eq!(rx.count(), 1, "{status} is terminal at once");
        assert_eq!(attempts_of(&d).len(), 1);
        assert_eq!(d["last_status_code"], status);
        let attempts = attempts_of(&d);
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0]["outcome"], "dead_letter");
        // A plain webhook endpoint is not removed by a 410 (only REST-hook subscriptions are).
        app.json(
            app.api(
                Method::GET,
                &format!("/api/v1/webhooks/endpoints/{}", ep.id),
            ),
            200,
        )
        .await;
        // Another endpoint's failure does not disturb this one: delete it for the next round.
        let resp = app
            .api(
                Method::DELETE,
                &format!("/api/v1/webhooks/endpoints/{}", ep.id),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
    }
}

#[tokio::test]
async fn retryable_statuses_are_retried_and_delivered_on_the_next_attempt() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let mut cases = Vec::new();
    for status in [408, 409, 425, 429, 500, 502, 504] {
        let rx = TestReceiver::scripted(vec![Reply::status(status)], Reply::ok()).await;
        let ep = app.create_endpoint(&rx.url, &["link.created"]).await;
        cases.push((status, rx, ep));
    }
    let event = app.link_event().await;
    for (status, rx, ep) in &cases {
        let d = app.wait_delivery(&ep.id, &event, "delivered").await;
        assert_eq!(attempts_of(&d).len(), 2, "{status}: {d}");
        let got = rx.requests();
        assert_eq!(got.len(), 2, "{status}");
        assert_eq!(got[0].attempt(), 1);
        assert_eq!(got[1].attempt(), 2);
        let attempts = attempts_of(&d);
        assert_eq!(attempts[0]["status_code"], *status);
        assert_eq!(attempts[0]["outcome"], "retry");
        assert_eq!(attempts[1]["outcome"], "delivered");
    }
}

#[tokio::test]
async fn a_receiver_that_recovers_midway_gets_the_event() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let rx =
        TestReceiver::scripted(vec![Reply::status(503), Reply::status(503)], Reply::ok()).await;
    let ep = app.create_endpoint(&rx.url, &["link.created"]).await;
    let event = app.link_event().await;
    let d = app.wait_delivery(&ep.id, &event, "delivered").await;
    assert_eq!(attempts_of(&d).len(), 3, "{d}");
    assert!(d["last_error"].is_null(), "{d}");
    let got = rx.requests();
    assert_eq!(got.len(), 3);
    assert_eq!(
        got.iter().map(Received::attempt).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let outcomes: Vec<Value> = attempts_of(&d)
        .iter()
        .map(|a| a["outcome"].clone())
        .collect();
    assert_eq!(
        outcomes,
        vec![json!("retry"), json!("retry"), json!("delivered")]
    );
    for r in &got {
        r.assert_signed(&ep.secret);
    }
}

#[tokio::test]
async fn a_timeout_is_retried() {
    let _g = shared().await;
    let app = TestApp::spawn_with(|s| s.attempt_timeout = Duration::from_millis(400)).await;
    let rx = TestReceiver::scripted(
        vec![Reply::ok().delay(Duration::from_millis(1500))],
        Reply::ok(),
    )
    .await;
    let ep = app.create_endpoint(&rx.url, &["link.created"]).await;
    let event = app.link_event().await;
    let d = app.wait_delivery(&ep.id, &event, "delivered").await;
    assert_eq!(attempts_of(&d).len(), 2, "{d}");
    let attempts = attempts_of(&d);
    assert_eq!(attempts[0]["error"], "timeout", "{d}");
    assert!(attempts[0]["status_code"].is_null(), "{d}");
    assert_eq!(attempts[0]["outcome"], "retry");
    assert_eq!(attempts[1]["status_code"], 200);
    let got = rx.requests();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].attempt(), 2);
    assert_eq!(got[1].body, got[0].body);
}

#[tokio::test]
async fn retry_after_lengthens_the_delay() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let rx = TestReceiver::scripted(
        vec![Reply::status(429).header("retry-after", "1")],
        Reply::ok(),
    )
    .await;
    let ep = app.create_endpoint(&rx.url, &["link.created"]).await;
    let event = app.link_event().await;
    app.wait_delivery(&ep.id, &event, "delivered").await;
    let got = rx.requests();
    assert_eq!(got.len(), 2);
    let gap = got[1].at - got[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "Retry-After: 1 waited only {gap:?} (schedule says 50 ms)"
    );
}

#[tokio::test]
async fn replay_sends_the_same_event_and_bytes_with_a_fresh_signature() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let rx = TestReceiver::scripted(vec![Reply::status(404); 3], Reply::ok()).await;
    let ep = app.create_endpoint(&rx.url, &["link.created"]).await;
    let mut events = Vec::new();
    let mut dead = Vec::new();
    for _ in 0..3 {
        let e = app.link_event().await;
        dead.push(app.wait_delivery(&ep.id, &e, "dead_letter").await);
        events.push(e);
    }
    let originals = rx.requests();
    assert_eq!(originals.len(), 3);
    let original_of = |event: &str| {
        originals
            .iter()
            .find(|r| r.event_id() == event)
            .expect("original attempt")
            .clone()
    };

    // One delivery.
    let v = app
        .json(
            app.api(
                Method::POST,
                &format!("/api/v1/webhooks/deliveries/{}/replay", s(&dead[0]["id"])),
            ),
            201,
        )
        .await;
    let replay_id = s(&v["delivery"]["id"]);
    assert_ne!(replay_id, s(&dead[0]["id"]));
    assert_eq!(v["delivery"]["reason"], "replay");
    assert_eq!(v["delivery"]["event_id"], events[0].as_str());
    let d = app.wait_delivery_id(&replay_id, "delivered").await;
    assert_eq!(attempts_of(&d).len(), 1);
    let got = rx.wait_for(4).await;
    let r = &got[3];
    let orig = original_of(&events[0]);
    assert_eq!(r.event_id(), events[0]);
    assert_eq!(r.h("webhook-id"), events[0]);
    assert_eq!(r.body, orig.body, "byte-identical body");
    assert_eq!(r.h("x-nim-delivery-reason"), "replay");
    assert_eq!(r.attempt(), 1);
    assert_eq!(r.h("x-nim-delivery-id"), replay_id);
    assert!(r.timestamp() >= orig.timestamp());
    r.assert_signed(&ep.secret);
    // The original stays a dead letter; its history is untouched.
    assert_eq!(
        app.delivery(&s(&dead[0]["id"])).await["status"],
        "dead_letter"
    );

    // Bulk: every dead letter of the endpoint (the one replayed above is still one).
    let v = app
        .json(
            app.api(
                Method::POST,
                &format!("/api/v1/webhooks/endpoints/{}/replay", ep.id),
            ),
            200,
        )
        .await;
    assert_eq!(v["replayed"], 3, "{v}");
    let got = rx.wait_for(7).await;
    let bulk = &got[4..];
    let ids: BTreeSet<String> = bulk.iter().map(Received::event_id).collect();
    assert_eq!(ids, events.iter().cloned().collect::<BTreeSet<_>>());
    for r in bulk {
        let orig = original_of(&r.event_id());
        assert_eq!(r.body, orig.body, "byte-identical body");
        assert_eq!(r.h("x-nim-delivery-reason"), "replay");
        assert_eq!(r.attempt(), 1);
        assert!(r.timestamp() >= orig.timestamp());
        r.assert_signed(&ep.secret);
    }
    wait_until(DEADLINE, || async {
        app.deliveries(&ep.id)
            .await
            .iter()
            .filter(|d| d["reason"] == "replay" && d["status"] == "delivered")
            .count()
            == 4
    })
    .await;
    // Nothing is left to replay but the three original dead letters; a second bulk replay with a
    // status filter that matches nothing replays nothing.
    let v = app
        .json(
            app.api(
                Method::POST,
                &format!("/api/v1/webhooks/endpoints/{}/replay", ep.id),
            )
            .json(&json!({"status": "pending"})),
            200,
        )
        .await;
    assert_eq!(v["replayed"], 0, "{v}");
    assert_eq!(rx.count(), 7);
}

#[tokio::test]
async fn test_send_reports_its_outcome() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let ok = TestReceiver::start(Reply::ok()).await;
    let ep = app.create_endpoint(&ok.url, &["link.created"]).await;
    let v = app
        .json(
            app.api(
                Method::POST,
                &format!("/api/v1/webhooks/endpoints/{}/test", ep.id),
            ),
            200,
        )
        .await;
    assert_eq!(v["delivered"], true, "{v}");
    assert_eq!(v["status_code"], 200, "{v}");
    assert!(v["error"].is_null(), "{v}");
    assert!(v["latency_ms"].is_u64(), "{v}");
    let got = ok.requests();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.h("x-nim-event-type"), "nim.webhook.test");
    assert_eq!(r.h("x-nim-delivery-reason"), "test");
    assert_eq!(r.attempt(), 1);
    assert_eq!(r.event_id(), s(&v["event_id"]));
    assert_eq!(r.h("x-nim-delivery-id"), s(&v["delivery_id"]));
    r.assert_signed(&ep.secret);
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["type"], "nim.webhook.test");
    assert_eq!(body["data"]["endpoint_id"], ep.id.as_str());
    assert_eq!(r.body_str(), app.event_body(&r.event_id()).await);
    let d = app.delivery(&s(&v["delivery_id"])).await;
    assert_eq!(d["status"], "delivered", "{d}");
    assert_eq!(d["reason"], "test");

    let failing = TestReceiver::start(Reply::status(500)).await;
    let ep = app.create_endpoint(&failing.url, &["link.created"]).await;
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
    assert_eq!(v["status_code"], 500, "{v}");
    assert_eq!(failing.count(), 1);
    // One attempt, no retry: the history says so, and the engine never picks it up again.
    let d = app.delivery(&s(&v["delivery_id"])).await;
    assert_eq!(d["status"], "dead_letter", "{d}");
    assert_eq!(attempts_of(&d).len(), 1, "{d}");
    // Give the engine a full round (a live delivery to the same receiver) before counting again.
    let event = app.link_event().await;
    app.wait_delivery(&ep.id, &event, "dead_letter").await;
    assert_eq!(
        failing
            .requests()
            .iter()
            .filter(|r| r.h("x-nim-delivery-reason") == "test")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_disabled_endpoint_gets_nothing_and_its_retries_resume_when_enabled() {
    let _g = shared().await;
    let app = TestApp::spawn_with(|s| {
        s.retry_schedule = RetrySchedule::parse("0.6,0.6,0.6,0.6,0.6").expect("valid");
    })
    .await;
    let rx = TestReceiver::scripted(vec![Reply::status(503)], Reply::ok()).await;
    let witness = TestReceiver::start(Reply::ok()).await;
    let ep = app.create_endpoint(&rx.url, &["link.created"]).await;
    let w = app.create_endpoint(&witness.url, &["link.created"]).await;
    let started = chrono::Utc::now() - chrono::Duration::seconds(5);

    let first = app.link_event().await;
    rx.wait_for(1).await;
    let v = app.patch_endpoint(&ep.id, json!({"enabled": false})).await;
    assert_eq!(v["endpoint"]["enabled"], false, "{v}");
    // The scheduled retry waits.
    let paused = app.wait_delivery(&ep.id, &first, "paused").await;
    assert_eq!(attempts_of(&paused).len(), 1, "{paused}");

    // A new event: nothing is created for the disabled endpoint (fan-out is in the event's
    // transaction, so this is final), while the witness gets it.
    let second = app.link_event().await;
    assert!(app.deliveries_of(&ep.id, &second).await.is_empty());
    app.wait_delivery(&w.id, &second, "delivered").await;
    // Well past the moment the retry was due, it is still paused and unsent.
    let due = chrono::DateTime::parse_from_rfc3339(&s(&attempts_of(&paused)[0]["next_attempt_at"]))
        .expect("rfc3339");
    wait_until(DEADLINE, || async {
        chrono::Utc::now() > due + chrono::Duration::milliseconds(300)
    })
    .await;
    assert_eq!(app.delivery(&s(&paused["id"])).await["status"], "paused");
    assert_eq!(rx.count(), 1);

    // Re-enabled: the retry resumes and is delivered as attempt 2.
    let v = app.patch_endpoint(&ep.id, json!({"enabled": true})).await;
    assert_eq!(v["endpoint"]["enabled"], true, "{v}");
    let d = app.wait_delivery_id(&s(&paused["id"]), "delivered").await;
    assert_eq!(attempts_of(&d).len(), 2, "{d}");
    let got = rx.requests();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].event_id(), first);
    assert_eq!(got[1].attempt(), 2);
    assert_eq!(got[1].h("x-nim-delivery-reason"), "live");
    got[1].assert_signed(&ep.secret);

    // What it missed while disabled can be recovered from the event log.
    let v = app
        .json(
            app.api(
                Method::POST,
                &format!("/api/v1/webhooks/endpoints/{}/recover", ep.id),
            )
            .json(&json!({"since": started.to_rfc3339()})),
            200,
        )
        .await;
    assert_eq!(v["replayed"], 1, "only the missed event: {v}");
    let got = rx.wait_for(3).await;
    assert_eq!(got[2].event_id(), second);
    assert_eq!(got[2].h("x-nim-delivery-reason"), "replay");
    assert_eq!(got[2].body_str(), app.event_body(&second).await);
}

#[tokio::test]
async fn an_endpoint_that_sleeps_does_not_delay_another() {
    let _g = SERIAL.write().await;
    let app = TestApp::spawn_with(|s| s.attempt_timeout = Duration::from_secs(15)).await;
    let slow = TestReceiver::start(Reply::ok().delay(Duration::from_secs(10))).await;
    let fast = TestReceiver::start(Reply::ok()).await;
    let slow_ep = app.create_endpoint(&slow.url, &["link.created"]).await;
    app.create_endpoint(&fast.url, &["link.created"]).await;

    // One event first: the fast receiver gets it at once while the slow one sleeps.
    let t0 = std::time::Instant::now();
    app.create_link().await;
    fast.wait_for_within(1, Duration::from_secs(2)).await;
    let first = t0.elapsed();
    slow.wait_for_within(1, Duration::from_secs(2)).await;
    assert_eq!(slow.answered(), 0, "the slow receiver is still sleeping");

    // Then more events than the slow endpoint's concurrency limit (8): its backlog holds up nobody.
    let t1 = std::time::Instant::now();
    for _ in 0..15 {
        app.create_link().await;
    }
    fast.wait_for_within(16, Duration::from_secs(4)).await;
    let rest = t1.elapsed();
    assert_eq!(slow.answered(), 0, "the slow receiver is still sleeping");
    let in_flight = slow.count();
    assert!(
        (2..=8).contains(&in_flight),
        "the slow endpoint holds at most its 8 slots: {in_flight}"
    );
    println!("fast receiver: first event after {first:?}, 15 more within {rest:?}; slow endpoint in flight: {in_flight}");
    assert!(first < Duration::from_secs(1), "{first:?}");
    let pending = app.deliveries(&slow_ep.id).await;
    assert_eq!(pending.len(), 16);
}

#[tokio::test]
async fn subscriptions_filter_events_and_plans_gate_them() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let clicks = TestReceiver::start(Reply::ok()).await;
    let created = TestReceiver::start(Reply::ok()).await;
    let c = app.create_endpoint(&clicks.url, &["link.clicked"]).await;
    let w = app.create_endpoint(&created.url, &["link.created"]).await;
    let link = app.create_link().await;
    let event = app.created_event_id(&s(&link["id"])).await;
    app.wait_delivery(&w.id, &event, "delivered").await;
    assert!(
        app.deliveries(&c.id).await.is_empty(),
        "no link.created for a link.clicked endpoint"
    );

    // A human click reaches the click endpoint (and not the link.created one).
    assert_eq!(app.human_click(&s(&link["short_url"])).await, 302);
    let got = clicks.wait_for(1).await;
    assert_eq!(got[0].h("x-nim-event-type"), "link.clicked");
    got[0].assert_signed(&c.secret);
    wait_until(DEADLINE, || async {
        app.deliveries(&c.id)
            .await
            .iter()
            .all(|d| d["status"] == "delivered")
    })
    .await;
    assert_eq!(clicks.count(), 1);
    assert_eq!(created.count(), 1);

    // Unknown and unsubscribable types are refused.
    for bad in [
        json!(["link.exploded"]),
        json!(["nim.webhook.test"]),
        json!([]),
    ] {
        let resp = app
            .api(Method::POST, "/api/v1/webhooks/endpoints")
            .json(&json!({"endpoint_url": created.url, "subscriptions": bad}))
            .send()
            .await
            .unwrap();
        expect_error(resp, 422, "validation_failed").await;
    }

    // Plans: click events need professional; lifecycle events need plus.
    let org: OrganizationId = app.organization_id().await.parse().expect("org id");
    let create = |subs: Value| {
        app.api(Method::POST, "/api/v1/webhooks/endpoints")
            .json(&json!({"endpoint_url": created.url, "subscriptions": subs}))
            .send()
    };
    app.state.store.set_plan(org, Plan::Plus).await.unwrap();
    let v = expect_error(
        create(json!(["link.clicked"])).await.unwrap(),
        403,
        "plan_upgrade_required",
    )
    .await;
    assert!(v["error"]["message"].is_string());
    expect_error(
        create(json!(["link.created", "link.qr_scanned"]))
            .await
            .unwrap(),
        403,
        "plan_upgrade_required",
    )
    .await;
    expect_json(create(json!(["link.created"])).await.unwrap(), 201).await;
    app.state.store.set_plan(org, Plan::Starter).await.unwrap();
    expect_error(
        create(json!(["link.created"])).await.unwrap(),
        403,
        "plan_upgrade_required",
    )
    .await;
    // Changing subscriptions is gated the same way.
    let resp = app
        .api(
            Method::PATCH,
            &format!("/api/v1/webhooks/endpoints/{}", w.id),
        )
        .json(&json!({"subscriptions": ["link.updated"]}))
        .send()
        .await
        .unwrap();
    expect_error(resp, 403, "plan_upgrade_required").await;
}

#[tokio::test]
async fn rotation_with_overlap_signs_with_both_secrets() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start(Reply::ok()).await;
    let ep = app.create_endpoint(&rx.url, &["link.created"]).await;
    let old = ep.secret.clone();

    let v = app
        .json(
            app.api(
                Method::POST,
                &format!("/api/v1/webhooks/endpoints/{}/rotate-secret", ep.id),
            )
            .json(&json!({"overlap_seconds": 3600})),
            200,
        )
        .await;
    let new = s(&v["signing_secret"]);
    assert!(new.starts_with("whsec_") && new != old);
    assert!(
        v["endpoint"]["secret_rotation_overlap_until"].is_string(),
        "{v}"
    );
    app.link_event().await;
    let r = &rx.wait_for(1).await[0];
    let nim: Vec<&str> = r.h("x-nim-signature").split(',').collect();
    assert_eq!(nim.len(), 2, "{nim:?}");
    assert!(nim.iter().all(|p| p.starts_with("v1=")), "{nim:?}");
    let std: Vec<&str> = r.h("webhook-signature").split(' ').collect();
    assert_eq!(std.len(), 2, "{std:?}");
    assert!(std.iter().all(|p| p.starts_with("v1,")), "{std:?}");
    r.assert_signed(&old);
    r.assert_signed(&new);
    // Newest first.
    let new_sig = linkwire_verify::nim_signature(
        &linkwire_verify::SigningSecret::parse(&new).unwrap(),
        r.timestamp(),
        &r.body,
    );
    assert_eq!(nim[0], format!("v1={new_sig}"));

    // Without an overlap only the new secret signs.
    let ep2 = app.create_endpoint(&rx.url, &["link.updated"]).await;
    let v = app
        .json(
            app.api(
                Method::POST,
                &format!("/api/v1/webhooks/endpoints/{}/rotate-secret", ep2.id),
            ),
            200,
        )
        .await;
    let new2 = s(&v["signing_secret"]);
    assert!(
        v["endpoint"]["secret_rotation_overlap_until"].is_null(),
        "{v}"
    );
    let link = app.create_link().await;
    app.json(
        app.api(Method::PATCH, &format!("/api/v1/links/{}", s(&link["id"])))
            .json(&json!({"tags": ["rotated"]})),
        200,
    )
    .await;
    let got = rx.wait_for(3).await;
    let r = got
        .iter()
        .find(|r| r.h("x-nim-event-type") == "link.updated")
        .expect("the link.updated delivery");
    assert!(
        !r.h("x-nim-signature").contains(','),
        "{}",
        r.h("x-nim-signature")
    );
    assert!(
        !r.h("webhook-signature").contains(' '),
        "{}",
        r.h("webhook-signature")
    );
    r.assert_signed(&new2);
    assert!(r.verify_nim(&[&ep2.secret]).is_err());
    assert!(r.verify_standard(&[&ep2.secret]).is_err());
}

#[tokio::test]
async fn nimriz_compatible_endpoint_routes() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start(Reply::ok()).await;
    let v = app
        .json(
            app.api(Method::POST, "/api/webhooks/endpoints")
                .json(&json!({
                    "endpoint_url": rx.url,
                    "name": "n8n",
                    "subscriptions": ["link.created", "link.updated"],
                })),
            201,
        )
        .await;
    let e = &v["endpoint"];
    let id = s(&e["id"]);
    assert_eq!(e["endpoint_url"], rx.url.as_str());
    assert_eq!(e["name"], "n8n");
    assert_eq!(e["subscriptions"], json!(["link.created", "link.updated"]));
    assert_eq!(e["enabled"], true);
    assert!(s(&v["signing_secret"]).starts_with("whsec_"));
    // The same resource as the native route, and the secret is never shown again.
    let got = app
        .json(
            app.api(Method::GET, &format!("/api/v1/webhooks/endpoints/{id}")),
            200,
        )
        .await;
    assert_eq!(got["endpoint"]["id"], id.as_str());
    assert!(!got.to_string().contains("whsec_"), "{got}");

    let resp = app
        .api(Method::DELETE, &format!("/api/webhooks/endpoints/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = app
        .api(Method::DELETE, &format!("/api/webhooks/endpoints/{id}"))
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
    let resp = app
        .api(
            Method::DELETE,
            "/api/webhooks/endpoints/00000000-0000-4000-8000-000000000000",
        )
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
    // A deleted endpoint gets nothing.
    app.link_event().await;
    let other = TestReceiver::start(Reply::ok()).await;
    let w = app.create_endpoint(&other.url, &["link.created"]).await;
    let e = app.link_event().await;
    app.wait_delivery(&w.id, &e, "delivered").await;
    assert_eq!(rx.count(), 0);
}

#[tokio::test]
async fn stats_count_successes_retries_and_dead_letters() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let ok = TestReceiver::start(Reply::ok()).await;
    let bad = TestReceiver::start(Reply::status(503)).await;
    let flaky = TestReceiver::scripted(vec![Reply::status(500)], Reply::ok()).await;
    let ok_ep = app.create_endpoint(&ok.url, &["link.created"]).await;
    let bad_ep = app.create_endpoint(&bad.url, &["link.created"]).await;
    let flaky_ep = app.create_endpoint(&flaky.url, &["link.created"]).await;
    let mut events = Vec::new();
    for _ in 0..2 {
        events.push(app.link_event().await);
    }
    for e in &events {
        app.wait_delivery(&ok_ep.id, e, "delivered").await;
        app.wait_delivery(&bad_ep.id, e, "dead_letter").await;
        app.wait_delivery(&flaky_ep.id, e, "delivered").await;
    }
    let v = app
        .json(app.api(Method::GET, "/api/v1/webhooks/stats"), 200)
        .await;
    let per: HashMap<String, Value> = v["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .map(|e| (s(&e["endpoint_id"]), e.clone()))
        .collect();
    let o = &per[&ok_ep.id];
    assert_eq!(o["attempts"], 2, "{v}");
    assert_eq!(o["delivered"], 2, "{v}");
    assert_eq!(o["failed_attempts"], 0, "{v}");
    assert_eq!(o["retry_attempts"], 0, "{v}");
    assert_eq!(o["dead_letter_items"], 0, "{v}");
    assert_eq!(o["success_rate"], 1.0, "{v}");
    let b = &per[&bad_ep.id];
    assert_eq!(b["attempts"], 12, "{v}");
    assert_eq!(b["delivered"], 0, "{v}");
    assert_eq!(b["failed_attempts"], 12, "{v}");
    assert_eq!(b["retry_attempts"], 10, "{v}");
    assert_eq!(b["dead_lettered"], 2, "{v}");
    assert_eq!(b["dead_letter_items"], 2, "{v}");
    assert_eq!(b["success_rate"], 0.0, "{v}");
    let f = &per[&flaky_ep.id];
    assert_eq!(f["attempts"], 3, "{v}");
    assert_eq!(f["delivered"], 2, "{v}");
    assert_eq!(f["retry_attempts"], 1, "{v}");
    assert_eq!(f["dead_lettered"], 0, "{v}");
    let t = &v["totals"];
    assert_eq!(t["attempts"], 17, "{v}");
    assert_eq!(t["delivered"], 4, "{v}");
    assert_eq!(t["retry_attempts"], 11, "{v}");
    assert_eq!(t["dead_lettered"], 2, "{v}");
    assert_eq!(t["dead_letter_items"], 2, "{v}");
    let rate = t["success_rate"].as_f64().expect("rate");
    assert!((rate - 4.0 / 17.0).abs() < 1e-9, "{v}");
    // The per-endpoint figures add up to the totals.
    for key in ["attempts", "delivered", "retry_attempts", "dead_lettered"] {
        let sum: i64 = per.values().map(|e| e[key].as_i64().unwrap()).sum();
        assert_eq!(json!(sum), t[key], "{key}: {v}");
    }
    // The receivers agree with the stats.
    assert_eq!(ok.count(), 2);
    assert_eq!(bad.count(), 12);
    assert_eq!(flaky.count(), 3);
    expect_error(
        app.api(Method::GET, "/api/v1/webhooks/stats?window_hours=0")
            .send()
            .await
            .unwrap(),
        422,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn redirects_are_not_followed_and_large_answers_are_capped() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let target = TestReceiver::start(Reply::ok()).await;
    let redirecting = TestReceiver::start(Reply::status(307).header("location", &target.url)).await;
    let big = TestReceiver::start(Reply::ok().body("x".repeat(1024 * 1024))).await;
    let r = app
        .create_endpoint(&redirecting.url, &["link.created"])
        .await;
    let b = app.create_endpoint(&big.url, &["link.created"]).await;
    let event = app.link_event().await;

    // A redirect is an answer like any other non-2xx, non-retryable status: terminal, not followed.
    let d = app.wait_delivery(&r.id, &event, "dead_letter").await;
    assert_eq!(d["last_status_code"], 307, "{d}");
    assert_eq!(redirecting.count(), 1);
    assert_eq!(target.count(), 0, "the redirect was not followed");

    // A 1 MiB answer is delivered; history keeps the first 2 KiB.
    let d = app.wait_delivery(&b.id, &event, "delivered").await;
    let snippet = s(&attempts_of(&d)[0]["response_snippet"]);
    assert_eq!(snippet.len(), 2048, "{}", snippet.len());
}

#[tokio::test]
async fn changed_subscriptions_and_urls_take_effect_for_the_next_event() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let first = TestReceiver::start(Reply::ok()).await;
    let second = TestReceiver::start(Reply::ok()).await;
    let ep = app.create_endpoint(&first.url, &["link.created"]).await;
    let e1 = app.link_event().await;
    app.wait_delivery(&ep.id, &e1, "delivered").await;

    // Now only link.updated, at another URL.
    let v = app
        .patch_endpoint(
            &ep.id,
            json!({"subscriptions": ["link.updated"], "endpoint_url": second.url}),
        )
        .await;
    assert_eq!(v["endpoint"]["subscriptions"], json!(["link.updated"]));
    let link = app.create_link().await;
    let e2 = app.created_event_id(&s(&link["id"])).await;
    assert!(app.deliveries_of(&ep.id, &e2).await.is_empty());
    app.json(
        app.api(Method::PATCH, &format!("/api/v1/links/{}", s(&link["id"])))
            .json(&json!({"tags": ["moved"]})),
        200,
    )
    .await;
    let got = second.wait_for(1).await;
    assert_eq!(got[0].h("x-nim-event-type"), "link.updated");
    got[0].assert_signed(&ep.secret);
    assert_eq!(first.count(), 1);
}

#[tokio::test]
async fn retry_now_sends_waiting_retries_without_waiting_for_the_schedule() {
    let _g = shared().await;
    // An hour before the second attempt: only retry-now can make it happen within the test.
    let app = TestApp::spawn_with(|s| {
        s.retry_schedule = RetrySchedule::parse("3600,3600,3600,3600,3600").expect("valid");
    })
    .await;
    let rx = TestReceiver::scripted(vec![Reply::status(503)], Reply::ok()).await;
    let ep = app.create_endpoint(&rx.url, &["link.created"]).await;
    let event = app.link_event().await;
    rx.wait_for(1).await;
    let waiting = app.wait_delivery(&ep.id, &event, "pending").await;
    assert_eq!(attempts_of(&waiting).len(), 1, "{waiting}");

    let v = app
        .json(
            app.api(
                Method::POST,
                &format!("/api/v1/webhooks/endpoints/{}/retry-now", ep.id),
            ),
            200,
        )
        .await;
    assert_eq!(v["rescheduled"], 1, "{v}");
    let d = app.wait_delivery(&ep.id, &event, "delivered").await;
    assert_eq!(attempts_of(&d).len(), 2, "{d}");
    assert_eq!(rx.requests()[1].attempt(), 2);
    // Nothing is waiting any more.
    let v = app
        .json(
            app.api(
                Method::POST,
                &format!("/api/v1/webhooks/endpoints/{}/retry-now", ep.id),
            ),
            200,
        )
        .await;
    assert_eq!(v["rescheduled"], 0, "{v}");
}

#[tokio::test]
async fn metrics_count_attempts_by_outcome() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let ok = TestReceiver::start(Reply::ok()).await;
    let gone = TestReceiver::start(Reply::status(404)).await;
    let a = app.create_endpoint(&ok.url, &["link.created"]).await;
    let b = app.create_endpoint(&gone.url, &["link.created"]).await;
    let event = app.link_event().await;
    app.wait_delivery(&a.id, &event, "delivered").await;
    app.wait_delivery(&b.id, &event, "dead_letter").await;
    let has = |text: &str, line: &str| text.lines().any(|l| l == line);
    // Outcomes are observed right after the batch is stored; poll briefly for the scrape to see them.
    wait_until(DEADLINE, || async {
        let text = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        has(
            &text,
            r#"linkwire_delivery_attempts_total{outcome="delivered"} 1"#,
        ) && has(
            &text,
            r#"linkwire_delivery_attempts_total{outcome="dead_letter"} 1"#,
        ) && has(&text, "linkwire_delivery_attempt_duration_seconds_count 2")
            && has(&text, "linkwire_delivery_free_slots 512")
    })
    .await;
}

#[tokio::test]
async fn deliveries_queued_longer_than_their_lease_allows_are_sent_once_each() {
    let _g = SERIAL.write().await;
    // Budget: a queued delivery may start up to 3.2 s - 1.5 s (- 0.25 s to record it) after its claim;
    // later, the lease could run out mid-attempt and another claim send it again.
    let app = TestApp::spawn_with(|s| {
        s.delivery_lease = Duration::from_millis(3200);
        s.attempt_timeout = Duration::from_millis(1500);
    })
    .await;
    let rx = TestReceiver::start(Reply::ok().delay(Duration::from_millis(1400))).await;
    let ep = app.create_endpoint(&rx.url, &["link.created"]).await;
    app.patch_endpoint(&ep.id, json!({ "max_concurrency": 1 }))
        .await;
    let mut events = BTreeSet::new();
    for _ in 0..8 {
        let link = app.create_link().await;
        events.insert(app.created_event_id(link["id"].as_str().unwrap()).await);
    }

    // One at a time, 1.4 s each: the later ones in each claim wait past the budget, are left to their
    // lease, and go out after it re-queues them.
    // Done when every delivery is recorded as delivered and no request is still being answered.
    wait_until(Duration::from_secs(40), || async {
        let all_delivered = app
            .deliveries(&ep.id)
            .await
            .iter()
            .all(|d| d["status"] == "delivered");
        all_delivered && rx.answered() == rx.count()
    })
    .await;
    let got = rx.requests();
    assert_eq!(got.len(), 8, "each delivery is sent once");
    let sent: BTreeSet<String> = got.iter().map(Received::event_id).collect();
    assert_eq!(sent, events);
    assert!(got.iter().all(|r| r.attempt() == 1));
}

#[tokio::test]
async fn retention_deletes_click_deliveries_with_their_attempts_and_keeps_lifecycle_ones() {
    let _g = shared().await;
    let app = TestApp::spawn().await;
    let rx = TestReceiver::start(Reply::ok()).await;
    let ep = app
        .create_endpoint(&rx.url, &["link.created", "link.clicked"])
        .await;
    let link = app.create_link().await;
    let created = app.created_event_id(&s(&link["id"])).await;
    app.wait_delivery(&ep.id, &created, "delivered").await;
    assert_eq!(app.human_click(&s(&link["short_url"])).await, 302);
    let clicked = rx.wait_for(2).await[1].event_id();
    app.wait_delivery(&ep.id, &clicked, "delivered").await;

    // The bootstrap organization is Enterprise: clicks are kept 540 days.
    let later = chrono::Utc::now() + chrono::Duration::days(541);
    let pruned = linkwire_server::retention::prune_once(&app.state.store, later)
        .await
        .expect("prune");
    assert_eq!(
        pruned,
        linkwire_store::Pruned {
            clicks: 1,
            events: 1,
            deliveries: 1,
            attempts: 1
        }
    );
    let left = app.deliveries(&ep.id).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["event_id"], created.as_str());
    assert_eq!(
        attempts_of(&app.delivery(&s(&left[0]["id"])).await).len(),
        1
    );
    let gone = app
        .api(Method::GET, &format!("/api/v1/events/{clicked}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(gone.status(), 404);
}
