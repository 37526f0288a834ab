//! The console's sign-in: `POST /v1/session` exchanges the API key of the
//! request (`Authorization: Bearer KEY`) for a session cookie, `GET
//! /v1/session` says who is signed in, `DELETE /v1/session` signs out.
//!
//! The cookie ([`COOKIE`]) is `HttpOnly` (no script reads it),
//! `SameSite=Strict` (no other site's page sends it), `Path=/`, and
//! `Secure` unless the request came over plain HTTP to a loopback host
//! (`voxdial serve` on 127.0.0.1, where browsers would drop a `Secure`
//! cookie). Its value is a token signed by the server, not stored
//! (`voxdial_app::session`). The guard ([`crate::auth`]) accepts it like a
//! Bearer key; a request that changes state with it must also prove it comes
//! from the console's own origin ([`csrf_ok`]).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use voxdial_app::session::SESSION_TTL_SECS;
use voxdial_app::{Caller, Engine};
use voxdial_domain::{ApiKeyId, OrgId, Role};

use crate::ApiError;

/// The session cookie's name.
pub const COOKIE: &str = "vxd_session";

/// The header the console sends on every state-changing request; a page of
/// another origin cannot send it without a CORS preflight, which voxdial
/// never grants.
pub const CSRF_HEADER: &str = "x-voxdial-console";

/// Unix seconds of the wall clock (sessions age in real time, also when the
/// engine runs on a simulated clock).
pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The session cookie's value, if the request has one.
pub(crate) fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The request's host without its port.
fn host_name(headers: &HeaderMap) -> Option<&str> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    Some(match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    })
}

/// Whether the request came over plain HTTP to a loopback host.
fn plain_loopback(headers: &HeaderMap) -> bool {
    let forwarded_https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    !forwarded_https && matches!(host_name(headers), Some("127.0.0.1" | "localhost" | "::1"))
}

/// Whether a cookie-authenticated request that changes state comes from
/// the console's own origin: an `Origin` header, when there is one, must
/// name the request's host; without one, the console's [`CSRF_HEADER`]
/// must be there.
pub(crate) fn csrf_ok(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match headers.get(header::ORIGIN).map(HeaderValue::to_str) {
        Some(Ok(origin)) => {
            let origin_host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            origin_host.is_some() && origin_host == host
        }
        Some(Err(_)) => false,
        None => headers.contains_key(CSRF_HEADER),
    }
}

fn set_cookie(headers: &HeaderMap, value: &str, max_age: i64) -> HeaderValue {
    let secure = if plain_loopback(headers) {
        ""
    } else {
        "; Secure"
    };
    let cookie =
        format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&cookie).expect("a token is printable ASCII")
}

/// Who is signed in.
#[derive(Serialize)]
pub(crate) struct Whoami {
    key_id: ApiKeyId,
    org_id: OrgId,
    role: Role,
    /// When the session ends (Unix seconds); `None` for a Bearer key.
    expires_unix: Option<i64>,
}

impl Whoami {
    fn new(caller: Caller, expires_unix: Option<i64>) -> Whoami {
        Whoami {
            key_id: caller.key_id,
            org_id: caller.org_id,
            role: caller.role,
            expires_unix,
        }
    }
}

/// `POST /v1/session`: only an API key opens a session (a session cannot
/// extend itself).
pub(crate) async fn open(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !headers.contains_key(header::AUTHORIZATION) {
        return Err(ApiError::new(
            400,
            "sign in with an API key: Authorization: Bearer KEY",
        ));
    }
    let session = engine.open_session(&caller, now_unix()).await?;
    let cookie = set_cookie(&headers, &session.token, SESSION_TTL_SECS);
    let body = Whoami::new(caller, Some(session.expires_unix));
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// `GET /v1/session`: the caller (key, organisation, role).
pub(crate) async fn whoami(Extension(caller): Extension<Caller>) -> Json<Whoami> {
    Json(Whoami::new(caller, None))
}

/// `DELETE /v1/session`: the browser drops the cookie.
pub(crate) async fn close(headers: HeaderMap) -> Response {
    let cookie = set_cookie(&headers, "", 0);
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; vxd_session=vxs1.x.2.ab; b=3")]);
        assert_eq!(cookie(&h), Some("vxs1.x.2.ab"));
        assert_eq!(cookie(&headers(&[("cookie", "vxd_sessionx=1")])), None);
    }

    #[test]
    fn secure_is_left_out_only_on_plain_http_loopback() {
        for (host, proto, secure) in [
            ("127.0.0.1:8080", None, false),
            ("localhost:8080", None, false),
            ("[::1]:8080", None, false),
            ("127.0.0.1:8080", Some("https"), true),
            ("console.example.com", None, true),
            ("127.0.0.1.example.com", None, true),
        ] {
            let mut h = headers(&[("host", host)]);
            if let Some(proto) = proto {
                h.insert("x-forwarded-proto", HeaderValue::from_static(proto));
            }
            let value = set_cookie(&h, "t", 60);
            let value = value.to_str().unwrap();
            assert_eq!(value.ends_with("; Secure"), secure, "{host} {value}");
            assert!(value.contains("HttpOnly") && value.contains("SameSite=Strict"));
        }
    }

    #[test]
    fn state_changes_need_the_same_origin_or_the_console_header() {
        let host = ("host", "127.0.0.1:8080");
        for (extra, ok) in [
            (vec![("origin", "http://127.0.0.1:8080")], true),
            (vec![("origin", "https://127.0.0.1:8080")], true),
            (vec![("origin", "http://evil.example")], false),
            (vec![("origin", "http://127.0.0.1:8081")], false),
            (vec![("origin", "null")], false),
            (
                vec![("origin", "http://evil.example"), (CSRF_HEADER, "1")],
                false,
            ),
            (vec![(CSRF_HEADER, "1")], true),
            (vec![], false),
        ] {
            let mut pairs = vec![host];
            pairs.extend(extra.iter().copied());
            assert_eq!(csrf_ok(&headers(&pairs)), ok, "{extra:?}");
        }
    }
}
