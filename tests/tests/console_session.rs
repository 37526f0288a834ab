//! The console's sign-in through the router: an API key exchanged for a
//! session cookie, the cookie's attributes, the guard accepting it like a
//! key (roles included), the CSRF rule on state changes, and everything
//! that ends a session (a forged or expired token, a revoked or rotated key,
//! a server without a session key).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use voxdial_app::router::{Providers, StaticRouter};
use voxdial_app::session::{SESSION_TTL_SECS, SessionKey};
use voxdial_app::{Engine, EngineConfig};
use voxdial_domain::{Clock, KeySecret, OrgId, Role, Store};
use voxdial_http::session::{COOKIE, CSRF_HEADER};
use voxdial_local::{LocalQueue, LocalStore, QueueConfig};
use voxdial_testkit::ManualClock;
use voxdial_testkit::fixtures::t0;

fn engine(dir: &std::path::Path, session_key: Option<SessionKey>) -> Engine {
    let store = Arc::new(LocalStore::open(dir.join("s.sqlite")).unwrap());
    engine_on(store.clone(), dir, session_key).with_agents(store)
}

/// An engine on `store` (its keys) with its own queue and session key.
fn engine_on(
    store: Arc<dyn Store>,
    dir: &std::path::Path,
    session_key: Option<SessionKey>,
) -> Engine {
    let clock: Arc<dyn Clock> = ManualClock::shared(t0());
    let queue =
        LocalQueue::open(dir.join("q.sqlite"), QueueConfig::default(), clock.clone()).unwrap();
    Engine::new(
        store,
        Arc::new(queue),
        Providers::new(),
        Arc::new(StaticRouter::new(Vec::new())),
        clock,
        EngineConfig {
            session_key,
            ..EngineConfig::default()
        },
    )
}

fn signed(dir: &std::path::Path) -> Engine {
    engine(dir, SessionKey::new("a test session key"))
}

struct Answer {
    status: StatusCode,
    set_cookie: Option<String>,
    body: String,
}

async fn send(engine: &Engine, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if !headers.iter().any(|(name, _)| *name == "host") {
        request = request.header("host", "127.0.0.1:8080");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = if method == "POST" && path == "/v1/campaigns" {
        r#"{"name": "from the console"}"#
    } else {
        ""
    };
    let app = voxdial_http::api::router(engine.clone());
    let response = app
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    Answer {
        status,
        set_cookie,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn key(engine: &Engine, role: Role) -> KeySecret {
    engine
        .create_api_key(&OrgId::default(), role, "console")
        .await
        .unwrap()
        .1
}

/// Signs in with `secret` and returns the `Cookie` header to send.
async fn sign_in(engine: &Engine, secret: &KeySecret) -> String {
    let bearer = format!("Bearer {}", secret.expose());
    let answer = send(engine, "POST", "/v1/session", &[("authorization", &bearer)]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let set = answer.set_cookie.expect("a session cookie");
    set.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn an_api_key_opens_a_session_whose_cookie_is_http_only_strict_and_secure_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let engine = signed(dir.path());
    let secret = key(&engine, Role::Operator).await;
    let bearer = format!("Bearer {}", secret.expose());

    // GIVEN the console on plain-http loopback
    let answer = send(
        &engine,
        "POST",
        "/v1/session",
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let cookie = answer.set_cookie.unwrap();
    assert!(cookie.starts_with(&format!("{COOKIE}=vxs1.")), "{cookie}");
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        &format!("Max-Age={SESSION_TTL_SECS}"),
    ] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain-http loopback: {cookie}");
    assert!(
        !answer.body.contains("vxs1"),
        "the token stays in the cookie"
    );
    assert!(
        answer.body.contains(r#""role":"operator""#),
        "{}",
        answer.body
    );

    // WHEN the console is reached through another host (a proxy, HTTPS)
    let answer = send(
        &engine,
        "POST",
        "/v1/session",
        &[("authorization", &bearer), ("host", "console.example.com")],
    )
    .await;
    // THEN the cookie is Secure
    assert!(answer.set_cookie.unwrap().ends_with("; Secure"));
}

#[tokio::test]
async fn the_guard_accepts_the_cookie_like_the_key_roles_included() {
    let dir = tempfile::tempdir().unwrap();
    let engine = signed(dir.path());
    let viewer = sign_in(&engine, &key(&engine, Role::Viewer).await).await;
    let operator = sign_in(&engine, &key(&engine, Role::Operator).await).await;

    let read = send(&engine, "GET", "/v1/campaigns", &[("cookie", &viewer)]).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let who = send(&engine, "GET", "/v1/session", &[("cookie", &viewer)]).await;
    assert!(who.body.contains(r#""role":"viewer""#), "{}", who.body);

    let same_origin = [("origin", "http://127.0.0.1:8080")];
    let create = |cookie: String| {
        let engine = engine.clone();
        async move {
            let headers = [("cookie", cookie.as_str()), same_origin[0]];
            send(&engine, "POST", "/v1/campaigns", &headers).await
        }
    };
    assert_eq!(create(viewer).await.status, StatusCode::FORBIDDEN);
    assert_eq!(create(operator).await.status, StatusCode::CREATED);
    assert_eq!(
        send(&engine, "GET", "/v1/campaigns", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_state_change_with_the_cookie_needs_the_same_origin_or_the_console_header() {
    let dir = tempfile::tempdir().unwrap();
    let engine = signed(dir.path());
    let cookie = sign_in(&engine, &key(&engine, Role::Operator).await).await;
    let cookie = ("cookie", cookie.as_str());
    let cases: [(&[(&str, &str)], StatusCode); 5] = [
        (&[], StatusCode::FORBIDDEN),
        (&[("origin", "https://evil.example")], StatusCode::FORBIDDEN),
        (
            &[("origin", "https://evil.example"), (CSRF_HEADER, "1")],
            StatusCode::FORBIDDEN,
        ),
        (&[("origin", "http://127.0.0.1:8080")], StatusCode::CREATED),
        (&[(CSRF_HEADER, "1")], StatusCode::CREATED),
    ];
    for (extra, expected) in cases {
        let mut headers = vec![cookie];
        headers.extend_from_slice(extra);
        let answer = send(&engine, "POST", "/v1/campaigns", &headers).await;
        assert_eq!(answer.status, expected, "{extra:?}: {}", answer.body);
    }
    // Reads need no proof.
    assert_eq!(
        send(&engine, "GET", "/v1/campaigns", &[cookie])
            .await
            .status,
        StatusCode::OK
    );
    let created = engine.campaigns(&OrgId::default()).await.unwrap();
    assert_eq!(created.len(), 2, "only the two allowed requests wrote");
}

#[tokio::test]
async fn a_session_cannot_open_another_and_signing_out_clears_the_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let engine = signed(dir.path());
    let cookie = sign_in(&engine, &key(&engine, Role::Admin).await).await;
    let headers = [("cookie", cookie.as_str()), (CSRF_HEADER, "1")];

    let extend = send(&engine, "POST", "/v1/session", &headers).await;
    assert_eq!(extend.status, StatusCode::BAD_REQUEST, "{}", extend.body);
    assert!(extend.set_cookie.is_none());

    let out = send(&engine, "DELETE", "/v1/session", &headers).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let cleared = out.set_cookie.unwrap();
    assert!(
        cleared.starts_with(&format!("{COOKIE}=;")) && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
}

#[tokio::test]
async fn forged_expired_revoked_and_rotated_sessions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let engine = signed(dir.path());
    let secret = key(&engine, Role::Admin).await;
    let cookie = sign_in(&engine, &secret).await;
    let token = cookie.split_once('=').unwrap().1.to_string();
    let refused = |cookie: String| {
        let engine = engine.clone();
        async move { send(&engine, "GET", "/v1/campaigns", &[("cookie", &cookie)]).await }
    };

    // A flipped MAC digit, another server's key: forged.
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    assert_eq!(
        refused(format!("{COOKIE}={forged}")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let other_dir = tempfile::tempdir().unwrap();
    let other = engine_on(
        engine.store().clone(),
        other_dir.path(),
        SessionKey::new("another server's key"),
    );
    let elsewhere = send(&other, "GET", "/v1/campaigns", &[("cookie", &cookie)]).await;
    assert_eq!(elsewhere.status, StatusCode::UNAUTHORIZED);

    // Expired: checked at the token's expiry.
    let expiry: i64 = token.split('.').nth(2).unwrap().parse().unwrap();
    let caller = engine
        .authenticate_session(&token, expiry - 1)
        .await
        .unwrap();
    assert!(engine.authenticate_session(&token, expiry).await.is_err());

    // Rotated, then revoked: both end the session.
    let org = OrgId::default();
    engine.rotate_api_key(&org, &caller.key_id).await.unwrap();
    assert_eq!(
        refused(cookie.clone()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let fresh_secret = key(&engine, Role::Viewer).await;
    let fresh = sign_in(&engine, &fresh_secret).await;
    assert_eq!(refused(fresh.clone()).await.status, StatusCode::OK);
    engine
        .revoke_api_key(&org, fresh_secret.id())
        .await
        .unwrap();
    assert_eq!(refused(fresh).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_server_without_a_session_key_accepts_only_api_keys() {
    let dir = tempfile::tempdir().unwrap();
    let keyed = signed(dir.path());
    let secret = key(&keyed, Role::Admin).await;
    let cookie = sign_in(&keyed, &secret).await;

    let other_dir = tempfile::tempdir().unwrap();
    let unkeyed = engine_on(keyed.store().clone(), other_dir.path(), None);
    let bearer = format!("Bearer {}", secret.expose());
    let open = send(
        &unkeyed,
        "POST",
        "/v1/session",
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(open.status, StatusCode::CONFLICT, "{}", open.body);
    assert!(open.set_cookie.is_none());
    let read = send(&unkeyed, "GET", "/v1/campaigns", &[("cookie", &cookie)]).await;
    assert_eq!(read.status, StatusCode::UNAUTHORIZED);
    let read = send(
        &unkeyed,
        "GET",
        "/v1/campaigns",
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(read.status, StatusCode::OK);
}
