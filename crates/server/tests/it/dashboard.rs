//! The dashboard over plain HTTP: sign-in, cookie attributes, CSRF and role checks. The same flows in a
//! real browser are in `tests/browser`.

use linkwire_contract::Role;
use linkwire_server::service::members::{self, NewMember};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, Response};

use crate::common::*;

const PASSWORD: &str = "a long enough password";

async fn add_member(app: &TestApp, email: &str, role: Role) {
    let me = app.json(app.api(Method::GET, "/api/v1/whoami"), 200).await;
    members::create(
        &app.store,
        NewMember {
            workspace_id: s(&me["workspace_id"]).parse().unwrap(),
            email,
            name: None,
            role,
            password: PASSWORD,
        },
        start_time(),
    )
    .await
    .expect("member created");
}

fn set_cookies(resp: &Response) -> Vec<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// `name=value` of a Set-Cookie header.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// The value of the first hidden `_csrf` field of a page.
fn csrf_field(html: &str) -> String {
    let at = html.find(r#"name="_csrf" value=""#).expect("a CSRF field") + 20;
    html[at..].split('"').next().unwrap().to_owned()
}

/// Opens the login form; returns its double-submit cookie pair and CSRF token.
async fn login_form(app: &TestApp) -> (String, String) {
    let page = app
        .client
        .get(app.url("/dashboard/login"))
        .send()
        .await
        .unwrap();
    let login_cookie = cookie_pair(&set_cookies(&page)[0]);
    (login_cookie, csrf_field(&page.text().await.unwrap()))
}

/// Signs in through the login form; returns the session cookie pair and the Set-Cookie header.
/// Posts the sign-in form (fetched fresh, with its cookie) with `email`, `password` and any extra headers.
async fn try_sign_in(
    app: &TestApp,
    email: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> Response {
    let (login_cookie, token) = login_form(app).await;
    let mut req = app
        .client
        .post(app.url("/dashboard/login"))
        .header(COOKIE, login_cookie);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.form(&[
        ("_csrf", token.as_str()),
        ("email", email),
        ("password", password),
    ])
    .send()
    .await
    .unwrap()
}

async fn sign_in(app: &TestApp, email: &str) -> (String, String) {
    let (login_cookie, token) = login_form(app).await;
    let resp = app
        .client
        .post(app.url("/dashboard/login"))
        .header(COOKIE, &login_cookie)
        .form(&[
            ("_csrf", token.as_str()),
            ("email", email),
            ("password", PASSWORD),
            ("next", "/dashboard/links"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/dashboard/links");
    let session = set_cookies(&resp)
        .into_iter()
        .find(|c| c.starts_with("lw_session="))
        .expect("a session cookie");
    (cookie_pair(&session), session)
}

async fn page(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let resp = app
        .client
        .get(app.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn post(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> Response {
    app.client
        .post(app.url(path))
        .header(COOKIE, cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_in_sets_a_locked_down_session_cookie_and_sign_out_ends_it() {
    let app = TestApp::spawn().await;
    add_member(&app, "Owner@Example.com", Role::Owner).await;

    let anonymous = app
        .client
        .get(app.url("/dashboard/webhooks"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
    assert_eq!(
        anonymous.headers()[LOCATION],
        "/dashboard/login?next=%2Fdashboard%2Fwebhooks"
    );

    let (cookie, header) = sign_in(&app, "owner@EXAMPLE.com").await;
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/dashboard",
        "Max-Age=43200",
    ] {
        assert!(
            header.contains(attribute),
            "{attribute} missing in {header}"
        );
    }
    assert!(
        !header.contains("Secure"),
        "plain-http public URL: no Secure flag ({header})"
    );

    let resp = app
        .client
        .get(app.url("/dashboard"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let html = resp.text().await.unwrap();
    assert!(html.contains("owner@example.com"));

    let token = csrf_field(&html);
    let out = post(&app, &cookie, "/dashboard/logout", &[("_csrf", &token)]).await;
    assert_eq!(out.status(), 303);
    assert!(set_cookies(&out)
        .iter()
        .any(|c| c.starts_with("lw_session=;") && c.contains("Max-Age=0")));
    let (status, _) = page(&app, &cookie, "/dashboard").await;
    assert_eq!(status, 303, "the old cookie no longer signs in");
}

#[tokio::test]
async fn wrong_passwords_unknown_members_and_missing_login_tokens_are_refused() {
    let app = TestApp::spawn().await;
    add_member(&app, "ops@example.com", Role::Admin).await;
    let (login_cookie, token) = login_form(&app).await;
    for (email, password) in [
        ("ops@example.com", "wrong password!"),
        ("nobody@example.com", PASSWORD),
    ] {
        let resp = try_sign_in(&app, email, password, &[]).await;
        assert_eq!(resp.status(), 401);
        assert!(set_cookies(&resp)
            .iter()
            .all(|c| !c.starts_with("lw_session=")));
        assert!(resp.text().await.unwrap().contains("do not match a member"));
    }
    // Without the login form's double-submit cookie, the right password is refused too.
    let resp = app
        .client
        .post(app.url("/dashboard/login"))
        .form(&[
            ("_csrf", token.as_str()),
            ("email", "ops@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // An open redirect after sign-in is not followed.
    let resp = app
        .client
        .post(app.url("/dashboard/login"))
        .header(COOKIE, &login_cookie)
        .form(&[
            ("_csrf", token.as_str()),
            ("email", "ops@example.com"),
            ("password", PASSWORD),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()[LOCATION], "/dashboard");
}

#[tokio::test]
async fn forms_need_the_session_token_and_viewers_change_nothing() {
    let app = TestApp::spawn().await;
    add_member(&app, "editor@example.com", Role::Member).await;
    add_member(&app, "viewer@example.com", Role::Viewer).await;
    let (editor, _) = sign_in(&app, "editor@example.com").await;
    let (_, html) = page(&app, &editor, "/dashboard/links").await;
    let token = csrf_field(&html);

    let form = [("long_url", "https://example.com/from-the-dashboard")];
    assert_eq!(
        post(&app, &editor, "/dashboard/links", &form)
            .await
            .status(),
        403,
        "no token"
    );
    let forged = [
        ("_csrf", "f".repeat(64)),
        ("long_url", "https://example.com/x".into()),
    ];
    let forged: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        post(&app, &editor, "/dashboard/links", &forged)
            .await
            .status(),
        403,
        "wrong token"
    );
    let ok = post(
        &app,
        &editor,
        "/dashboard/links",
        &[("_csrf", &token), form[0]],
    )
    .await;
    assert_eq!(ok.status(), 303);
    let created = ok.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(created.starts_with("/dashboard/links/"));
    // The link page says how long its clicks are kept (the bootstrap organization is Enterprise).
    let (_, link_page) = page(&app, &editor, &created).await;
    assert!(
        link_page.contains("Clicks are kept 540 days on the enterprise plan"),
        "{link_page}"
    );
    let links = app.json(app.api(Method::GET, "/api/v1/links"), 200).await;
    assert_eq!(links["links"].as_array().unwrap().len(), 1);
    let events = app
        .json(
            app.api(Method::GET, "/api/v1/events?type=link.created"),
            200,
        )
        .await;
    assert_eq!(events["events"][0]["data"]["source"], "dashboard");

    // Members are not admins: API keys are out of reach.
    assert_eq!(page(&app, &editor, "/dashboard/api-keys").await.0, 403);

    let (viewer, _) = sign_in(&app, "viewer@example.com").await;
    let (status, html) = page(&app, &viewer, "/dashboard/links").await;
    assert_eq!(status, 200);
    assert!(
        !html.contains(r#"action="/dashboard/links""#),
        "no create form for a viewer"
    );
    let token = csrf_field(&html);
    let resp = post(
        &app,
        &viewer,
        "/dashboard/links",
        &[("_csrf", &token), ("long_url", "https://example.com/v")],
    )
    .await;
    assert_eq!(resp.status(), 403);
    let links = app.json(app.api(Method::GET, "/api/v1/links"), 200).await;
    assert_eq!(
        links["links"].as_array().unwrap().len(),
        1,
        "the viewer created nothing"
    );
}

#[tokio::test]
async fn an_https_public_url_marks_cookies_secure() {
    let app =
        TestApp::spawn_with(|s| s.public_url = "https://go.example.com".parse().unwrap()).await;
    let page = app
        .client
        .get(app.url("/dashboard/login"))
        .send()
        .await
        .unwrap();
    let cookie = &set_cookies(&page)[0];
    assert!(
        cookie.starts_with("lw_login_csrf=") && cookie.contains("; Secure"),
        "{cookie}"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_lockout() {
    for trusted in [true, false] {
        let app = TestApp::spawn_with(|s| {
            if trusted {
                s.trusted_proxies = vec!["127.0.0.1/32".parse().expect("net")];
            }
        })
        .await;
        add_member(&app, "ops@example.com", Role::Admin).await;
        let attempt = |client: &'static str, password: &'static str| {
            let app = &app;
            async move {
                try_sign_in(
                    app,
                    "ops@example.com",
                    password,
                    &[("x-forwarded-for", client)],
                )
                .await
                .status()
            }
        };
        for _ in 0..5 {
            assert_eq!(attempt("203.0.113.9", "wrong password!").await, 401);
        }
        assert_eq!(attempt("203.0.113.9", PASSWORD).await, 429);
        if trusted {
            // A client's own X-Forwarded-For line, with the proxy's appended as a second line: the
            // proxy's entry (the right-most) is the address, whatever the client wrote.
            let spoofed = try_sign_in(
                &app,
                "ops@example.com",
                PASSWORD,
                &[
                    ("x-forwarded-for", "198.51.100.99"),
                    ("x-forwarded-for", "203.0.113.9"),
                ],
            )
            .await;
            assert_eq!(spoofed.status(), 429);
        }
        let elsewhere = attempt("198.51.100.7", PASSWORD).await;
        if trusted {
            // The proxy forwards another client: its own count, so the owner still gets in.
            assert_eq!(elsewhere, 303);
        } else {
            // From a peer that is not a trusted proxy the header is the sender's own claim: a new
            // value does not buy a guesser new attempts.
            assert_eq!(elsewhere, 429);
        }
    }
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_sign_in_for_a_while() {
    let app = TestApp::spawn().await;
    add_member(&app, "ops@example.com", Role::Admin).await;
    let attempt =
        |email: &'static str, password: &'static str| try_sign_in(&app, email, password, &[]);
    for _ in 0..5 {
        assert_eq!(
            attempt("ops@example.com", "wrong password!").await.status(),
            401
        );
    }
    // Locked: even the right password is not checked, and the page says how long to wait.
    let resp = attempt("OPS@example.com", PASSWORD).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "30");
    assert!(set_cookies(&resp)
        .iter()
        .all(|c| !c.starts_with("lw_session=")));
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("Too many failed sign-ins. Try again in 30 seconds."));
    // Another account is not affected.
    assert_eq!(attempt("nobody@example.com", PASSWORD).await.status(), 401);

    app.clock.advance(chrono::Duration::seconds(30));
    assert_eq!(attempt("ops@example.com", PASSWORD).await.status(), 303);
    // The success cleared the count: one more failure is not locked out.
    assert_eq!(
        attempt("ops@example.com", "wrong password!").await.status(),
        401
    );
    assert_eq!(attempt("ops@example.com", PASSWORD).await.status(), 303);
}

#[tokio::test]
async fn an_admin_removes_a_member_who_is_signed_out_at_once() {
    let app = TestApp::spawn().await;
    add_member(&app, "owner@example.com", Role::Owner).await;
    add_member(&app, "ops@example.com", Role::Admin).await;
    add_member(&app, "leaver@example.com", Role::Member).await;
    let ws = app.json(app.api(Method::GET, "/api/v1/whoami"), 200).await;
    let ws = s(&ws["workspace_id"]).parse().unwrap();
    let id_of = |email: &'static str| {
        let store = app.store.clone();
        async move {
            store
                .list_members(ws)
                .await
                .unwrap()
                .into_iter()
                .find(|m| m.email == email)
                .map(|m| m.id.to_string())
                .unwrap_or_else(|| panic!("{email} is a member"))
        }
    };
    let (owner_id, ops_id, leaver_id) = (
        id_of("owner@example.com").await,
        id_of("ops@example.com").await,
        id_of("leaver@example.com").await,
    );
    let (leaver, _) = sign_in(&app, "leaver@example.com").await;
    assert_eq!(page(&app, &leaver, "/dashboard/links").await.0, 200);

    let (ops, _) = sign_in(&app, "ops@example.com").await;
    let (status, html) = page(&app, &ops, "/dashboard/members").await;
    assert_eq!(status, 200);
    let remove = |id: &str| format!(r#"action="/dashboard/members/{id}/remove""#);
    assert!(html.contains(&remove(&leaver_id)), "{html}");
    assert!(
        !html.contains(&remove(&ops_id)),
        "no button to remove yourself"
    );
    assert!(
        !html.contains(&remove(&owner_id)),
        "an admin cannot remove an owner"
    );
    let token = csrf_field(&html);

    // The refusals hold even when the form is sent by hand.
    let removing = |id: &str| format!("/dashboard/members/{id}/remove");
    let form = [("_csrf", token.as_str())];
    assert_eq!(
        post(&app, &ops, &removing(&owner_id), &form).await.status(),
        403
    );
    assert_eq!(
        post(&app, &ops, &removing(&ops_id), &form).await.status(),
        422
    );
    assert_eq!(
        post(&app, &ops, &removing(&leaver_id), &[]).await.status(),
        403,
        "no token"
    );

    let done = post(&app, &ops, &removing(&leaver_id), &form).await;
    assert_eq!(done.status(), 303);
    assert_eq!(
        done.headers()[LOCATION],
        "/dashboard/members?notice=removed"
    );
    // The leaver's session is over and the password no longer signs in.
    let after = app
        .client
        .get(app.url("/dashboard/links"))
        .header(COOKIE, &leaver)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 303);
    let again = try_sign_in(&app, "leaver@example.com", PASSWORD, &[]).await;
    assert_eq!(again.status(), 401);
    assert_eq!(
        post(&app, &ops, &removing(&leaver_id), &form)
            .await
            .status(),
        404
    );
    // A member of another workspace is out of reach.
    let other = app.second_tenant().await;
    members::create(
        &app.store,
        NewMember {
            workspace_id: other.workspace_id.parse().unwrap(),
            email: "stranger@example.com",
            name: None,
            role: Role::Member,
            password: PASSWORD,
        },
        start_time(),
    )
    .await
    .unwrap();
    let stranger = app
        .store
        .member_by_email("stranger@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        post(&app, &ops, &removing(&stranger.id.to_string()), &form)
            .await
            .status(),
        404
    );
    assert!(app
        .store
        .member_by_email("stranger@example.com")
        .await
        .unwrap()
        .is_some());
    // The email is free again.
    add_member(&app, "leaver@example.com", Role::Viewer).await;
}

#[tokio::test]
async fn a_password_reset_signs_the_member_out_everywhere() {
    let app = TestApp::spawn().await;
    add_member(&app, "ops@example.com", Role::Admin).await;
    let (ops, _) = sign_in(&app, "ops@example.com").await;
    assert_eq!(page(&app, &ops, "/dashboard/links").await.0, 200);

    let short = members::set_password(&app.store, "ops@example.com", "short").await;
    assert!(short.is_err(), "too short");
    assert!(
        members::set_password(&app.store, "nobody@example.com", "a new passphrase")
            .await
            .is_err()
    );
    members::set_password(&app.store, " OPS@example.com ", "a new passphrase")
        .await
        .expect("reset");
    let after = app
        .client
        .get(app.url("/dashboard/links"))
        .header(COOKIE, &ops)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 303, "the old session is over");
    let sign_in_with = |password: &'static str| {
        let app = &app;
        async move {
            try_sign_in(app, "ops@example.com", password, &[])
                .await
                .status()
        }
    };
    assert_eq!(sign_in_with(PASSWORD).await, 401);
    assert_eq!(sign_in_with("a new passphrase").await, 303);
}
