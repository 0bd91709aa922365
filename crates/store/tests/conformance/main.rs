//! The storage conformance suite: every test runs on SQLite and on PostgreSQL.

mod support;

use linkwire_contract::domain::DomainState;
use linkwire_contract::link::LinkSource;
use linkwire_contract::payload::{EventData, LinkRef, LinkUpdated};
use linkwire_contract::{
    ApiKeyId, DeliveryStatus, DestinationUrl, DomainId, EndpointId, EventRecord, EventType, LinkId,
    LinkStatus, Plan, RedirectStatus, Role, ScopeSet, TouchType, UserId, UtmParams,
};
use linkwire_store::{
    AnalyticsFilter, AttemptDisposition, AttemptRecord, ClickRow, CredentialKind, DeliveryFilter,
    DeliveryHandoff, Endpoint, EndpointKind, EventFilter, Link, Member, MemberRemoval,
    NewCredential, Pruned, Store, StoreError, Tenant,
};
use support::{t, tenant, TestDb};

fn link(tenant: &Tenant, domain: DomainId, code: &str) -> Link {
    Link {
        id: LinkId::new(),
        workspace_id: tenant.workspace.id,
        organization_id: tenant.organization.id,
        domain_id: domain,
        domain_name: "sho.rt".into(),
        domain_is_default: true,
        short_code: code.into(),
        destination: DestinationUrl::parse("https://example.com/p?secret=1").unwrap(),
        redirect_status: RedirectStatus::Found,
        expires_at: None,
        password_hash: None,
        tags: vec!["a".into()],
        utm: UtmParams {
            utm_source: Some("news".into()),
            ..Default::default()
        },
        status: LinkStatus::Active,
        takedown_reason: None,
        source: LinkSource::Api,
        version: 1,
        created_at: t(1),
        updated_at: t(1),
    }
}

fn event_for(l: &Link, at: i64) -> EventRecord {
    let r = LinkRef {
        link_id: l.id,
        domain_id: l.domain_id,
        domain_name: l.domain_name.clone(),
        short_code: l.short_code.clone(),
        short_url: format!("https://sho.rt/{}", l.short_code),
    };
    // Any link event will do for storage purposes; `deleted` is the simplest to build.
    let mut ev = EventRecord::new(
        l.organization_id,
        l.workspace_id,
        t(at),
        &EventData::LinkUpdated(LinkUpdated::deleted(r, LinkStatus::Active)),
    );
    ev.event_type = EventType::LinkCreated;
    ev
}

/// A human click on `l` with nothing but a visitor hash known about it.
fn human_click(l: &Link, at: linkwire_contract::Timestamp, visitor_hash: String) -> ClickRow {
    ClickRow {
        link_id: l.id,
        workspace_id: l.workspace_id,
        clicked_at: at,
        touch_type: TouchType::ShortLinkClick,
        is_bot: false,
        country: None,
        device_category: None,
        browser_family: None,
        os_family: None,
        referrer_host: None,
        social_source: None,
        utm: Default::default(),
        visitor_hash,
    }
}

fn endpoint(tenant: &Tenant, types: &[EventType]) -> Endpoint {
    Endpoint {
        id: EndpointId::new(),
        workspace_id: tenant.workspace.id,
        kind: EndpointKind::Webhook,
        name: "hook".into(),
        url: "https://hooks.example.com/in".into(),
        enabled: true,
        disabled_reason: None,
        secret_ciphertext: "sealed".into(),
        previous_secrets: vec![],
        options: None,
        installation_id: None,
        max_concurrency: 8,
        rate_limit_per_sec: None,
        subscriptions: types.to_vec(),
        last_success_at: None,
        failing_since: None,
        dead_letters_since_success: 0,
        created_at: t(0),
        updated_at: t(0),
    }
}

async fn default_domain(store: &Store) -> DomainId {
    store
        .ensure_default_domain("sho.rt", t(0))
        .await
        .unwrap()
        .id
}

async fn tenancy_and_credentials(db: &TestDb) {
    let s = &db.store;
    let ten = tenant(s, Plan::Growth).await;
    assert_eq!(ten.organization.plan, Plan::Growth);
    assert!(s
        .set_plan(ten.organization.id, Plan::Enterprise)
        .await
        .unwrap());
    assert_eq!(
        s.tenant(ten.workspace.id)
            .await
            .unwrap()
            .unwrap()
            .organization
            .plan,
        Plan::Enterprise
    );
    let scopes = ScopeSet::parse("links:read webhooks:write").unwrap();
    let cred = s
        .create_credential(NewCredential {
            workspace_id: ten.workspace.id,
            kind: CredentialKind::ApiKey,
            name: "k",
            platform: None,
            token_prefix: "lw_abc",
            token_hash: "hash-1",
            scopes: &scopes,
            now: t(1),
        })
        .await
        .unwrap();
    let (found, found_tenant) = s.authenticate("hash-1").await.unwrap().unwrap();
    assert_eq!(found.id, cred.id);
    assert_eq!(found.scopes, scopes);
    assert_eq!(found_tenant.workspace.id, ten.workspace.id);
    assert!(s.authenticate("hash-2").await.unwrap().is_none());
    assert!(s
        .revoke_credential(ten.workspace.id, CredentialKind::ApiKey, cred.id, t(2))
        .await
        .unwrap());
    assert!(s.authenticate("hash-1").await.unwrap().is_none());
    assert!(!s
        .revoke_credential(
            ten.workspace.id,
            CredentialKind::ApiKey,
            ApiKeyId::new(),
            t(2)
        )
        .await
        .unwrap());
}

async fn members_and_sessions(db: &TestDb) {
    let s = &db.store;
    let ten = tenant(s, Plan::Enterprise).await;
    let member = Member {
        id: UserId::new(),
        workspace_id: ten.workspace.id,
        email: "ops@example.com".into(),
        name: "Ops".into(),
        role: Role::Viewer,
        password_hash: "$argon2id$stand-in".into(),
        created_at: t(0),
        disabled_at: None,
    };
    s.create_member(&member).await.unwrap();
    assert_eq!(s.count_members().await.unwrap(), 1);
    let twin = Member {
        id: UserId::new(),
        ..member.clone()
    };
    assert!(matches!(
        s.create_member(&twin).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.member_by_email("ops@example.com").await.unwrap(),
        Some(member.clone())
    );
    assert_eq!(s.list_members(ten.workspace.id).await.unwrap().len(), 1);

    s.create_session("hash-a", member.id, "csrf-a", t(1), t(100))
        .await
        .unwrap();
    s.create_session("hash-b", member.id, "csrf-b", t(1), t(10))
        .await
        .unwrap();
    let live = s.session("hash-a", t(50)).await.unwrap().unwrap();
    assert_eq!(live.member, member);
    assert_eq!(live.csrf_token, "csrf-a");
    assert!(
        s.session("hash-b", t(50)).await.unwrap().is_none(),
        "expired"
    );
    assert!(s.session("hash-x", t(50)).await.unwrap().is_none());
    assert_eq!(s.prune_sessions(t(50)).await.unwrap(), 1);
    s.delete_session("hash-a").await.unwrap();
    assert!(
        s.session("hash-a", t(50)).await.unwrap().is_none(),
        "signed out"
    );

    // A new password ends every session; removal does too, and frees the email.
    s.create_session("hash-c", member.id, "csrf-c", t(60), t(200))
        .await
        .unwrap();
    assert!(s
        .set_member_password(member.id, "$argon2id$new")
        .await
        .unwrap());
    assert!(s.session("hash-c", t(61)).await.unwrap().is_none());
    assert_eq!(
        s.member_by_email("ops@example.com")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "$argon2id$new"
    );
    s.create_session("hash-d", member.id, "csrf-d", t(62), t(200))
        .await
        .unwrap();
    let elsewhere = tenant(s, Plan::Plus).await;
    assert!(
        !s.remove_member(elsewhere.workspace.id, member.id)
            .await
            .unwrap(),
        "not from another workspace"
    );
    assert!(s.remove_member(ten.workspace.id, member.id).await.unwrap());
    assert!(s.session("hash-d", t(63)).await.unwrap().is_none());
    assert!(s
        .member_by_email("ops@example.com")
        .await
        .unwrap()
        .is_none());
    assert!(!s.remove_member(ten.workspace.id, member.id).await.unwrap());
    s.create_member(&twin).await.unwrap();

    // A checked removal sees both rows and applies the caller's rule inside its transaction.
    let actor = Member {
        id: UserId::new(),
        email: "lead@example.com".into(),
        role: Role::Owner,
        ..twin.clone()
    };
    s.create_member(&actor).await.unwrap();
    let refuse = |a: &Member, t: &Member| {
        assert_eq!((a.id, t.id), (actor.id, twin.id));
        Err("no")
    };
    assert_eq!(
        s.remove_member_checked(ten.workspace.id, actor.id, twin.id, refuse)
            .await
            .unwrap(),
        MemberRemoval::Refused("no")
    );
    assert_eq!(
        s.remove_member_checked(
            elsewhere.workspace.id,
            actor.id,
            twin.id,
            |_, _| Ok::<(), ()>(())
        )
        .await
        .unwrap(),
        MemberRemoval::Missing
    );
    assert_eq!(
        s.remove_member_checked(ten.workspace.id, actor.id, twin.id, |_, _| Ok::<(), ()>(()))
            .await
            .unwrap(),
        MemberRemoval::Removed(twin.clone())
    );
    assert!(s
        .member_by_email("ops@example.com")
        .await
        .unwrap()
        .is_none());
}

async fn links_events_and_versions(db: &TestDb) {
    let s = &db.store;
    let ten = tenant(s, Plan::Enterprise).await;
    let dom = default_domain(s).await;
    let l = link(&ten, dom, "spring");
    let ev = event_for(&l, 1);
    s.insert_link(&l, &ev).await.unwrap();
    // Same code on the same domain: conflict, and nothing of the failed insert remains.
    let dup = link(&ten, dom, "spring");
    assert!(matches!(
        s.insert_link(&dup, &event_for(&dup, 2)).await,
        Err(StoreError::Conflict("slug"))
    ));
    assert_eq!(
        s.count_events(ten.workspace.id, EventType::LinkCreated)
            .await
            .unwrap(),
        1
    );

    let stored = s.get_link(ten.workspace.id, l.id).await.unwrap().unwrap();
    assert_eq!(
        stored.destination.as_str(),
        "https://example.com/p?secret=1"
    );
    assert_eq!(stored.utm.utm_source.as_deref(), Some("news"));
    assert_eq!(
        s.find_link_by_code(dom, "spring")
            .await
            .unwrap()
            .unwrap()
            .id,
        l.id
    );

    // Optimistic update: the second writer with the old version loses.
    let mut a = stored.clone();
    a.tags = vec!["b".into()];
    s.update_link(&a, None).await.unwrap();
    let mut b = stored.clone();
    b.tags = vec!["c".into()];
    assert!(matches!(
        s.update_link(&b, None).await,
        Err(StoreError::Stale)
    ));

    // Deleting frees the code.
    let mut del = s.get_link(ten.workspace.id, l.id).await.unwrap().unwrap();
    del.status = LinkStatus::Deleted;
    s.update_link(&del, Some(&event_for(&del, 3)))
        .await
        .unwrap();
    assert!(s.get_link(ten.workspace.id, l.id).await.unwrap().is_none());
    assert!(!s.code_taken(dom, "spring").await.unwrap());
    let again = link(&ten, dom, "spring");
    s.insert_link(&again, &event_for(&again, 4)).await.unwrap();

    // Another workspace sees nothing.
    let other = tenant(s, Plan::Enterprise).await;
    assert!(s
        .get_link(other.workspace.id, again.id)
        .await
        .unwrap()
        .is_none());
    assert!(s
        .get_event(other.workspace.id, ev.id)
        .await
        .unwrap()
        .is_none());

    // Event bodies come back byte for byte, newest first, with working filters and cursors.
    let got = s.get_event(ten.workspace.id, ev.id).await.unwrap().unwrap();
    assert_eq!(got.body, ev.body);
    let all = s
        .list_events(
            ten.workspace.id,
            &EventFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    let page2 = s
        .list_events(
            ten.workspace.id,
            &EventFilter {
                limit: 10,
                before: Some(all[0].id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page2.len(), 2);
    let by_link = s
        .list_events(
            ten.workspace.id,
            &EventFilter {
                limit: 10,
                link_id: Some(again.id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_link.len(), 1);
    let since = s
        .list_events(
            ten.workspace.id,
            &EventFilter {
                limit: 10,
                since: Some(t(3)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(since.len(), 2);

    let listed = s.list_links(ten.workspace.id, None, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![again.id]
    );
}

async fn domains_and_state_events(db: &TestDb) {
    let s = &db.store;
    let ten = tenant(s, Plan::Enterprise).await;
    let d1 = s.ensure_default_domain("sho.rt", t(0)).await.unwrap();
    let d2 = s.ensure_default_domain("sho.rt", t(5)).await.unwrap();
    assert_eq!(d1.id, d2.id);
    assert!(d1.is_default && d1.state.ready_for_traffic);
    let custom = linkwire_store::Domain {
        id: DomainId::new(),
        workspace_id: Some(ten.workspace.id),
        domain_name: "go.acme.com".into(),
        is_default: false,
        state: DomainState::PENDING,
        verification_token: Some("tok".into()),
        created_at: t(1),
        updated_at: t(1),
    };
    s.create_domain(&custom).await.unwrap();
    assert!(matches!(
        s.create_domain(&custom).await,
        Err(StoreError::Conflict(_))
    ));
    let listed = s.list_domains(ten.workspace.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed[0].is_default);
    let other = tenant(s, Plan::Enterprise).await;
    assert!(s
        .get_domain(other.workspace.id, custom.id)
        .await
        .unwrap()
        .is_none());
    assert!(s
        .get_domain(other.workspace.id, d1.id)
        .await
        .unwrap()
        .is_some());
    let verified = DomainState::PENDING.after_check(true);
    assert!(s
        .update_domain_state(ten.workspace.id, custom.id, verified, t(2), None)
        .await
        .unwrap());
    assert!(!s
        .update_domain_state(other.workspace.id, custom.id, verified, t(2), None)
        .await
        .unwrap());
    assert_eq!(
        s.find_domain_by_name("go.acme.com")
            .await
            .unwrap()
            .unwrap()
            .state,
        verified
    );
}

async fn click_batches_and_analytics(db: &TestDb) {
    let s = &db.store;
    let ten = tenant(s, Plan::Enterprise).await;
    let dom = default_domain(s).await;
    let l = link(&ten, dom, "c");
    s.insert_link(&l, &event_for(&l, 0)).await.unwrap();
    let click = |bot: bool, country: &str, touch: TouchType, secs: i64, visitor: &str| ClickRow {
        link_id: l.id,
        workspace_id: ten.workspace.id,
        clicked_at: t(secs),
        touch_type: touch,
        is_bot: bot,
        country: Some(country.into()),
        device_category: Some("mobile"),
        browser_family: Some("Mobile Safari".into()),
        os_family: Some("iOS".into()),
        referrer_host: None,
        social_source: Some("linkedin".into()),
        utm: [Some("news".into()), None, None, None, None],
        visitor_hash: visitor.into(),
    };
    // 450 rows: more than one multi-row chunk.
    let mut batch = Vec::new();
    for i in 0..450 {
        let c = click(
            i % 3 == 0,
            if i % 2 == 0 { "GB" } else { "SE" },
            if i % 5 == 0 {
                TouchType::QrScan
            } else {
                TouchType::ShortLinkClick
            },
            i,
            &format!("v{}", i % 7),
        );
        let ev = (!c.is_bot).then(|| event_for(&l, i));
        batch.push((c, ev));
    }
    let fan_out = s.insert_clicks(&batch, None).await.unwrap();
    assert_eq!(fan_out.created, 0, "no endpoint");
    assert_eq!(s.count_clicks(ten.workspace.id).await.unwrap(), (450, 150));
    let humans = s
        .count_events(ten.workspace.id, EventType::LinkCreated)
        .await
        .unwrap();
    assert_eq!(humans, 300 + 1);
    let report = s
        .link_analytics(&AnalyticsFilter {
            workspace_id: ten.workspace.id,
            link_id: l.id,
            since: t(0),
            touch_type: None,
            include_bots: false,
        })
        .await
        .unwrap();
    assert_eq!(report.clicks, 300);
    assert_eq!(report.unique_visitors, 7);
    assert_eq!(
        report.top_countries.iter().map(|c| c.clicks).sum::<i64>(),
        300
    );
    assert_eq!(report.by_day.iter().map(|d| d.clicks).sum::<i64>(), 300);
    let with_bots = s
        .link_analytics(&AnalyticsFilter {
            workspace_id: ten.workspace.id,
            link_id: l.id,
            since: t(0),
            touch_type: Some(TouchType::QrScan),
            include_bots: true,
        })
        .await
        .unwrap();
    assert_eq!(with_bots.clicks, 90);
}

async fn fan_out_claims_and_outcomes(db: &TestDb) {
    let s = &db.store;
    let ten = tenant(s, Plan::Enterprise).await;
    let dom = default_domain(s).await;
    let subscribed = endpoint(&ten, &[EventType::LinkCreated, EventType::LinkClicked]);
    let other_type = endpoint(&ten, &[EventType::LinkQrScanned]);
    let mut disabled = endpoint(&ten, &[EventType::LinkCreated]);
    disabled.enabled = false;
    for e in [&subscribed, &other_type, &disabled] {
        s.create_endpoint(e).await.unwrap();
    }
    let got = s
        .get_endpoint(ten.workspace.id, subscribed.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got.subscriptions,
        vec![EventType::LinkCreated, EventType::LinkClicked]
    );

    let l = link(&ten, dom, "fan");
    let ev = event_for(&l, 10);
    s.insert_link(&l, &ev).await.unwrap();
    // Exactly one delivery: to the enabled endpoint subscribed to the type.
    let claimed = s.claim_due(t(10), t(130), 100, &[]).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].endpoint_id, subscribed.id);
    assert_eq!(claimed[0].attempt, 1);
    assert_eq!(claimed[0].body, ev.body);
    // Claimed work is not claimed again while leased.
    assert!(s
        .claim_due(t(11), t(131), 100, &[])
        .await
        .unwrap()
        .is_empty());

    let rec = |disposition, attempt| AttemptRecord {
        delivery_id: claimed[0].id,
        endpoint_id: subscribed.id,
        attempt,
        started_at: t(12),
        latency_ms: 3,
        status_code: Some(503),
        error_class: None,
        response_snippet: Some("busy".into()),
        disposition,
        finished_at: t(12),
    };
    s.record_attempts(&[rec(AttemptDisposition::Retry(t(72)), 1)])
        .await
        .unwrap();
    assert!(
        s.claim_due(t(71), t(200), 100, &[])
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    assert_eq!(s.next_due().await.unwrap(), Some(t(72)));
    let again = s.claim_due(t(72), t(200), 100, &[]).await.unwrap();
    assert_eq!(again[0].attempt, 2);
    s.record_attempts(&[rec(AttemptDisposition::DeadLetter, 2)])
        .await
        .unwrap();
    let (row, attempts) = s
        .get_delivery(ten.workspace.id, claimed[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, DeliveryStatus::DeadLetter);
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].next_attempt_at, Some(t(72)));
    assert_eq!(attempts[1].response_snippet.as_deref(), Some("busy"));
    let ep = s
        .get_endpoint(ten.workspace.id, subscribed.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ep.dead_letters_since_success, 1);
    assert_eq!(ep.failing_since, Some(t(12)));

    // Replay creates a fresh delivery of the same event; success resets endpoint health.
    let ids = s
        .create_replays(
            ten.workspace.id,
            subscribed.id,
            &[(ev.id, ev.event_type)],
            true,
            t(80),
        )
        .await
        .unwrap();
    let replay = s.claim_due(t(80), t(200), 100, &[]).await.unwrap();
    assert_eq!(replay.len(), 1);
    assert_eq!(replay[0].id, ids[0]);
    assert_eq!(replay[0].attempt, 1);
    assert_eq!(replay[0].body, ev.body);
    s.record_attempts(&[AttemptRecord {
        delivery_id: ids[0],
        disposition: AttemptDisposition::Delivered,
        attempt: 1,
        status_code: Some(200),
        ..rec(AttemptDisposition::Delivered, 1)
    }])
    .await
    .unwrap();
    let ep = s
        .get_endpoint(ten.workspace.id, subscribed.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ep.dead_letters_since_success, 0);
    assert!(ep.failing_since.is_none());
    let stats = s.delivery_stats(ten.workspace.id, t(0)).await.unwrap();
    assert_eq!(
        (
            stats[0].attempts,
            stats[0].delivered,
            stats[0].retries_scheduled,
            stats[0].dead_lettered
        ),
        (3, 1, 1, 1)
    );
    // The dashboard's chart series: the same outcomes, bucketed by hour (all three attempts in one).
    let series = s
        .delivery_series(ten.workspace.id, t(0), 3_600_000)
        .await
        .unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].bucket_start, t(0));
    assert_eq!(
        (
            series[0].attempts,
            series[0].delivered,
            series[0].retries_scheduled,
            series[0].dead_lettered
        ),
        (3, 1, 1, 1)
    );
    assert!(s
        .delivery_series(ten.workspace.id, t(13), 3_600_000)
        .await
        .unwrap()
        .is_empty());
    let dead = s
        .list_deliveries(
            ten.workspace.id,
            subscribed.id,
            &DeliveryFilter {
                status: Some(DeliveryStatus::DeadLetter),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    // Nothing missed since the start: the event was delivered by replay.
    assert!(s
        .missed_events(
            ten.workspace.id,
            subscribed.id,
            &[EventType::LinkCreated],
            t(0),
            10
        )
        .await
        .unwrap()
        .is_empty());
}

async fn pause_resume_and_lease_expiry(db: &TestDb) {
    let s = &db.store;
    let ten = tenant(s, Plan::Enterprise).await;
    let dom = default_domain(s).await;
    let e = endpoint(&ten, &[EventType::LinkCreated]);
    s.create_endpoint(&e).await.unwrap();
    for i in 0..3 {
        let l = link(&ten, dom, &format!("p{i}"));
        s.insert_link(&l, &event_for(&l, 1)).await.unwrap();
    }
    assert!(s
        .set_endpoint_enabled(ten.workspace.id, e.id, false, Some("by test"), t(2))
        .await
        .unwrap());
    assert!(s.claim_due(t(3), t(100), 10, &[]).await.unwrap().is_empty());
    assert_eq!(
        s.count_deliveries(&[DeliveryStatus::Paused]).await.unwrap(),
        3
    );
    assert!(s
        .set_endpoint_enabled(ten.workspace.id, e.id, true, None, t(4))
        .await
        .unwrap());
    let claimed = s.claim_due(t(5), t(20), 10, &[]).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert_eq!(
        s.count_deliveries(&[DeliveryStatus::Pending, DeliveryStatus::Delivering])
            .await
            .unwrap(),
        3,
        "counted across statuses"
    );
    assert_eq!(s.count_deliveries(&[]).await.unwrap(), 0);
    // A claimer that dies: its lease runs out and the work is released to others.
    assert_eq!(s.release_expired_claims(t(19)).await.unwrap(), 0);
    assert_eq!(s.release_expired_claims(t(21)).await.unwrap(), 3);
    assert_eq!(s.claim_due(t(21), t(50), 10, &[]).await.unwrap().len(), 3);
    // Deleting the endpoint dead-letters what it still had.
    assert!(s
        .delete_endpoint(ten.workspace.id, e.id, t(22))
        .await
        .unwrap());
    assert_eq!(
        s.count_deliveries(&[DeliveryStatus::DeadLetter])
            .await
            .unwrap(),
        3
    );
}

/// An engine stand-in that takes deliveries for one endpoint only, and only `room` of them.
struct TakesOne {
    endpoint: EndpointId,
    room: std::sync::atomic::AtomicUsize,
}

impl DeliveryHandoff for TakesOne {
    fn reserve(&self, endpoint: EndpointId) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        endpoint == self.endpoint
            && self
                .room
                .fetch_update(Relaxed, Relaxed, |r| r.checked_sub(1))
                .is_ok()
    }

    fn unreserve(&self, _: EndpointId) {
        self.room.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn lease(&self) -> std::time::Duration {
        std::time::Duration::from_secs(60)
    }
}

/// Click deliveries an engine takes are created claimed under its lease; the rest wait for claims.
async fn click_deliveries_handed_over_are_claimed_and_leased(db: &TestDb) {
    let s = &db.store;
    let ten = tenant(s, Plan::Enterprise).await;
    let dom = default_domain(s).await;
    let taken = endpoint(&ten, &[EventType::LinkCreated]);
    let left = endpoint(&ten, &[EventType::LinkCreated]);
    for e in [&taken, &left] {
        s.create_endpoint(e).await.unwrap();
    }
    let l = link(&ten, dom, "h");
    s.insert_link(&l, &event_for(&l, 0)).await.unwrap();
    // The link's own event: two deliveries for the claim loop.
    assert_eq!(s.claim_due(t(1), t(1000), 10, &[]).await.unwrap().len(), 2);

    let batch: Vec<_> = (0..3)
        .map(|i| {
            (
                human_click(&l, t(10), format!("v{i}")),
                Some(event_for(&l, 10)),
            )
        })
        .collect();
    let engine = TakesOne {
        endpoint: taken.id,
        room: 2.into(),
    };
    let fan_out = s.insert_clicks(&batch, Some(&engine)).await.unwrap();
    assert_eq!(fan_out.created, 6);
    assert!(fan_out.left_for_claims());
    let handed = &fan_out.handed_over;
    assert_eq!(handed.len(), 2, "as much as the engine had room for");
    for (d, (_, ev)) in handed.iter().zip(&batch) {
        let ev = ev.as_ref().unwrap();
        assert_eq!((d.endpoint_id, d.event_id, d.attempt), (taken.id, ev.id, 1));
        assert_eq!(d.body, ev.body);
    }
    assert_eq!(engine.room.load(std::sync::atomic::Ordering::Relaxed), 0);

    // The claim loop sees only the four left over, never a handed-over one.
    let claimed = s.claim_due(t(10), t(100), 10, &[]).await.unwrap();
    assert_eq!(claimed.len(), 4);
    assert!(claimed.iter().all(|c| handed.iter().all(|h| h.id != c.id)));
    // A node that took deliveries and died: the lease (60 s from the click) runs out and they return.
    assert_eq!(s.release_expired_claims(t(69)).await.unwrap(), 0);
    assert_eq!(s.release_expired_claims(t(71)).await.unwrap(), 2);
    let again = s.claim_due(t(71), t(200), 10, &[]).await.unwrap();
    assert_eq!(again.len(), 2);
    assert!(again
        .iter()
        .all(|c| c.endpoint_id == taken.id && c.attempt == 1));
}

/// Claims by endpoint: each endpoint gets at most what was asked for it, oldest first, and two nodes
/// claiming the same endpoints at once never hold the same delivery.
async fn claims_per_endpoint(db: &TestDb) {
    let s = &db.store;
    let ten = tenant(s, Plan::Enterprise).await;
    let dom = default_domain(s).await;
    let [a, b, c] = [(); 3].map(|_| endpoint(&ten, &[EventType::LinkCreated]));
    for e in [&a, &b, &c] {
        s.create_endpoint(e).await.unwrap();
    }
    for i in 0..5 {
        let l = link(&ten, dom, &format!("e{i}"));
        s.insert_link(&l, &event_for(&l, 10 + i)).await.unwrap();
    }
    let sorted = |mut v: Vec<EndpointId>| {
        v.sort();
        v
    };
    let mut all = vec![a.id, b.id, c.id];
    all.sort();
    assert_eq!(
        sorted(s.endpoints_with_due_work(t(20), &[]).await.unwrap()),
        all
    );
    assert_eq!(
        sorted(s.endpoints_with_due_work(t(20), &[a.id]).await.unwrap()),
        sorted(vec![b.id, c.id])
    );
    assert!(
        s.endpoints_with_due_work(t(9), &[])
            .await
            .unwrap()
            .is_empty(),
        "nothing due yet"
    );
    // Only what is due: at t(12) three events per endpoint are.
    let first = s
        .claim_due_for(t(12), t(100), &[(a.id, 2), (b.id, 10)])
        .await
        .unwrap();
    let count = |v: &[linkwire_store::ClaimedDelivery], e: EndpointId| {
        v.iter().filter(|d| d.endpoint_id == e).count()
    };
    assert_eq!((count(&first, a.id), count(&first, b.id)), (2, 3));
    assert!(first.iter().all(|d| d.attempt == 1 && !d.body.is_empty()));
    let later = s.claim_due_for(t(20), t(100), &[(a.id, 10)]).await.unwrap();
    assert_eq!(count(&later, a.id), 3, "the rest of a's, none twice");
    assert!(later.iter().all(|d| first.iter().all(|f| f.id != d.id)));
    assert_eq!(
        sorted(s.endpoints_with_due_work(t(20), &[]).await.unwrap()),
        sorted(vec![b.id, c.id])
    );

    // The oldest-first claim skips busy endpoints (here a and b): only c's come back, oldest first.
    let skipping = s.claim_due(t(20), t(100), 2, &[a.id, b.id]).await.unwrap();
    assert_eq!(skipping.len(), 2);
    assert!(skipping.iter().all(|d| d.endpoint_id == c.id));
    let oldest = |v: &[linkwire_store::ClaimedDelivery]| {
        v.iter()
            .map(|d| d.event_id)
            .collect::<std::collections::BTreeSet<_>>()
    };
    let rest = s.claim_due_for(t(20), t(100), &[(c.id, 10)]).await.unwrap();
    assert_eq!(rest.len(), 3);
    assert!(
        oldest(&skipping)
            .iter()
            .all(|e| oldest(&rest).iter().all(|r| e < r)),
        "the skipping claim took c's two oldest"
    );
    let _ = s
        .release_claims(&rest.iter().map(|d| d.id).collect::<Vec<_>>())
        .await;

    let other = db.another_node().await;
    let wants = [(b.id, 1), (c.id, 1)];
    let mut seen = std::collections::HashSet::new();
    loop {
        let (x, y) = tokio::join!(
            s.claim_due_for(t(20), t(100), &wants),
            other.claim_due_for(t(20), t(100), &wants)
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        if x.is_empty() && y.is_empty() {
            break;
        }
        for d in x.iter().chain(y.iter()) {
            assert!(seen.insert(d.id), "delivery {} claimed twice", d.id);
        }
    }
    assert_eq!(
        seen.len(),
        2 + 3,
        "b's last two and c's three released ones"
    );
    other.close().await;
}

/// Two nodes claiming at once never hold the same delivery.
async fn concurrent_claims_are_disjoint(db: &TestDb) {
    let s = &db.store;
    let ten = tenant(s, Plan::Enterprise).await;
    let dom = default_domain(s).await;
    s.create_endpoint(&endpoint(&ten, &[EventType::LinkCreated]))
        .await
        .unwrap();
    for i in 0..200 {
        let l = link(&ten, dom, &format!("k{i}"));
        s.insert_link(&l, &event_for(&l, 1)).await.unwrap();
    }
    let other = db.another_node().await;
    let mut seen = std::collections::HashSet::new();
    loop {
        let (a, b) = tokio::join!(
            s.claim_due(t(2), t(100), 7, &[]),
            other.claim_due(t(2), t(100), 7, &[])
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        if a.is_empty() && b.is_empty() {
            break;
        }
        for d in a.iter().chain(b.iter()) {
            assert!(seen.insert(d.id), "delivery {} claimed twice", d.id);
        }
    }
    assert_eq!(seen.len(), 200);
    other.close().await;
}

/// Retention: the oldest clicks go first, a step at a time, each with its event, the event's deliveries
/// and their attempts; a click whose event is being delivered waits for a later step.
async fn pruning_clicks_takes_their_events_deliveries_and_attempts(db: &TestDb) {
    let s = &db.store;
    let ten = tenant(s, Plan::Enterprise).await;
    assert!(s
        .workspace_plans()
        .await
        .unwrap()
        .contains(&(ten.workspace.id, Plan::Enterprise)));
    let dom = default_domain(s).await;
    let hook = endpoint(&ten, &[EventType::LinkCreated, EventType::LinkClicked]);
    s.create_endpoint(&hook).await.unwrap();
    let l = link(&ten, dom, "old");
    let created = event_for(&l, 0);
    s.insert_link(&l, &created).await.unwrap();
    let human = |secs: i64| {
        let mut ev = event_for(&l, secs);
        ev.event_type = EventType::LinkClicked;
        (human_click(&l, t(secs), format!("v{secs}")), Some(ev))
    };
    let mut bot = human_click(&l, t(13), "bot".into());
    bot.is_bot = true;
    let batch = vec![human(10), human(11), human(12), (bot, None)];
    let click_events: Vec<_> = batch.iter().filter_map(|(_, e)| e.clone()).collect();
    s.insert_clicks(&batch, None).await.unwrap();

    // Every delivery is claimed; link.created and the first two clicks' are delivered, the third's is
    // still being delivered.
    let claimed = s.claim_due(t(20), t(200), 100, &[]).await.unwrap();
    assert_eq!(claimed.len(), 4);
    let delivered = |event: &EventRecord| {
        let d = claimed.iter().find(|d| d.event_id == event.id).unwrap();
        AttemptRecord {
            delivery_id: d.id,
            endpoint_id: hook.id,
            attempt: 1,
            started_at: t(21),
            latency_ms: 2,
            status_code: Some(200),
            error_class: None,
            response_snippet: None,
            disposition: AttemptDisposition::Delivered,
            finished_at: t(21),
        }
    };
    s.record_attempts(&[
        delivered(&created),
        delivered(&click_events[0]),
        delivered(&click_events[1]),
    ])
    .await
    .unwrap();
    // A newer click, after the cutoff.
    s.insert_clicks(&[human(100)], None).await.unwrap();

    let ws = ten.workspace.id;
    let pruned = |clicks, events, deliveries, attempts| Pruned {
        clicks,
        events,
        deliveries,
        attempts,
    };
    assert_eq!(
        s.prune_clicks(ws, t(50), 2).await.unwrap(),
        (pruned(2, 2, 2, 2), true),
        "the two oldest, with their events, deliveries and attempts; there may be more"
    );
    assert_eq!(
        s.prune_clicks(ws, t(50), 2).await.unwrap(),
        (pruned(1, 0, 0, 0), true),
        "the bot click; the click being delivered waits"
    );
    s.record_attempts(&[delivered(&click_events[2])])
        .await
        .unwrap();
    assert_eq!(
        s.prune_clicks(ws, t(50), 2).await.unwrap(),
        (pruned(1, 1, 1, 1), false)
    );
    assert_eq!(
        s.prune_clicks(ws, t(50), 2).await.unwrap(),
        (Pruned::default(), false)
    );
    assert_eq!(
        s.count_clicks(ws).await.unwrap(),
        (1, 0),
        "the newer click stays"
    );
    assert_eq!(s.count_events(ws, EventType::LinkClicked).await.unwrap(), 1);
    assert!(
        s.get_event(ws, created.id).await.unwrap().is_some(),
        "lifecycle events stay"
    );
    let kept = claimed.iter().find(|d| d.event_id == created.id).unwrap();
    let (_, attempts) = s.get_delivery(ws, kept.id).await.unwrap().unwrap();
    assert_eq!(attempts.len(), 1, "with their deliveries and attempts");
}

/// Opening the same database from two handles at once migrates it once.
async fn concurrent_open_migrates_once(db: &TestDb) {
    let (a, b) = tokio::join!(db.another_node(), db.another_node());
    let ten = tenant(&a, Plan::Plus).await;
    assert!(b.tenant(ten.workspace.id).await.unwrap().is_some());
    a.close().await;
    b.close().await;
}

storage_tests!(
    tenancy_and_credentials,
    members_and_sessions,
    links_events_and_versions,
    domains_and_state_events,
    click_batches_and_analytics,
    fan_out_claims_and_outcomes,
    click_deliveries_handed_over_are_claimed_and_leased,
    pause_resume_and_lease_expiry,
    concurrent_claims_are_disjoint,
    claims_per_endpoint,
    concurrent_open_migrates_once,
    pruning_clicks_takes_their_events_deliveries_and_attempts,
);

/// Under writes that never pause, the WAL still starts over: the background checkpoints leave nothing
/// behind once it is large, so its file stays bounded instead of growing with everything written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_starts_over_under_sustained_writes() {
    let db = TestDb::sqlite().await;
    let s = &db.store;
    let ten = tenant(s, Plan::Enterprise).await;
    let dom = default_domain(s).await;
    let l = link(&ten, dom, "wal");
    s.insert_link(&l, &event_for(&l, 0)).await.unwrap();
    let wal = std::path::PathBuf::from(db.url.trim_start_matches("sqlite://").to_owned() + "-wal");
    let batch = || -> Vec<_> {
        (0..1000)
            .map(|i| {
                (
                    human_click(&l, t(1), format!("{i:064x}")),
                    Some(event_for(&l, 1)),
                )
            })
            .collect()
    };
    let mut written = 0u64;
    let mut largest_wal = 0u64;
    // Well over 200 MB through the WAL, with no pause between transactions.
    while written < 200 << 20 {
        let before = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        s.insert_clicks(&batch(), None).await.unwrap();
        let after = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        written += after.saturating_sub(before).max(1 << 20);
        largest_wal = largest_wal.max(after);
    }
    eprintln!("largest WAL file: {} MB", largest_wal >> 20);
    assert!(
        largest_wal < 100 << 20,
        "the WAL grew to {} MB: it never started over",
        largest_wal >> 20
    );
}
