//! The one guard in front of every `/v1` route, locally and in Lambda.
//!
//! For each request it finds the route's rule in [`crate::api::ROUTES`] (a
//! route without one is refused: fail closed), reads `Authorization: Bearer
//! KEY`, else a media ticket (`?ticket=`, [`crate::ticket`]: only on the
//! socket route it was issued for), else the console's session cookie
//! ([`crate::session`]), checks it (401 when missing, malformed, unknown,
//! expired or revoked; 403 for a
//! state change with a cookie but without the console's origin),
//! checks the key's role against the rule (403), and hands the caller
//! to the handler, which scopes every id to the caller's organisation
//! (another organisation's ids answer 404). A request that changes state
//! and succeeds leaves an audit entry.
//!
//! Personal fields (numbers, names, transcripts, summaries) are masked for
//! roles that may not see them ([`mask_personal`]).

use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tracing::error;
use voxdial_app::{AppError, Caller, Engine};
use voxdial_domain::{Access, Role};

use crate::ApiError;
use crate::api::ROUTES;
use crate::session;
use crate::ticket;

/// How the caller of a request proved who it is (a request extension the
/// guard adds beside the [`Caller`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Credential {
    /// An API key (`Authorization: Bearer`).
    Key,
    /// The console's session cookie: sent by the browser on its own, so
    /// a socket opened with it must come from the console's origin.
    Session,
    /// A media ticket (`?ticket=`): never sent on its own.
    Ticket,
}

impl Credential {
    /// Whether a socket opened with this credential from these headers
    /// may be another site's page riding the visitor's cookie (refused).
    pub(crate) fn cross_site(self, headers: &HeaderMap) -> bool {
        self == Credential::Session && !session::csrf_ok(headers)
    }
}

#[derive(serde::Deserialize)]
struct TicketQuery {
    ticket: Option<String>,
}

/// The request's `?ticket=`, if any.
fn ticket_param(uri: &Uri) -> Option<String> {
    Query::<TicketQuery>::try_from_uri(uri)
        .ok()
        .and_then(|Query(q)| q.ticket)
}

/// One route and what it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteRule {
    /// The HTTP method.
    pub method: &'static str,
    /// The route template, as the router has it (`/v1/calls/{id}`).
    pub path: &'static str,
    /// What the caller's role must allow.
    pub access: Access,
}

/// The rule of a route; `None` when the table lacks it.
pub fn rule(method: &Method, path: &str) -> Option<&'static RouteRule> {
    ROUTES
        .iter()
        .find(|r| r.method == method.as_str() && r.path == path)
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::new(401, message).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The id a route names: the path segment under the template's `{id}`.
fn target(template: &str, path: &str) -> Option<String> {
    template
        .split('/')
        .zip(path.split('/'))
        .find(|(t, _)| *t == "{id}")
        .map(|(_, p)| p.to_string())
}

/// The caller of a request: its Bearer key, else its ticket for this
/// route's target, else its session cookie (see [`crate::session`]); a
/// state change with a cookie must pass the CSRF check.
async fn credentials(
    engine: &Engine,
    method: &Method,
    headers: &HeaderMap,
    uri: &Uri,
    route: &str,
) -> Result<(Caller, Credential), Response> {
    if let Some(token) = bearer(headers) {
        let caller = engine.authenticate(token).await.map_err(refusal)?;
        return Ok((caller, Credential::Key));
    }
    if let Some(token) = ticket_param(uri) {
        let Some(purpose) = ticket::purpose_of(route) else {
            return Err(unauthorized(
                "a ticket opens only the socket it was issued for",
            ));
        };
        let target = target(route, uri.path()).unwrap_or_default();
        let caller = engine
            .authenticate_ticket(&token, purpose, &target, session::now_unix())
            .await
            .map_err(refusal)?;
        return Ok((caller, Credential::Ticket));
    }
    let caller = match session::cookie(headers) {
        Some(token) => {
            let caller = engine
                .authenticate_session(token, session::now_unix())
                .await;
            let safe = matches!(*method, Method::GET | Method::HEAD);
            if caller.is_ok() && !safe && !session::csrf_ok(headers) {
                let reason = format!(
                    "a signed-in request that changes state needs this site's Origin or the {} header",
                    session::CSRF_HEADER
                );
                return Err(ApiError::new(403, reason).into_response());
            }
            caller
        }
        None => {
            return Err(unauthorized(
                "send an API key (Authorization: Bearer KEY) or sign in",
            ));
        }
    };
    Ok((caller.map_err(refusal)?, Credential::Session))
}

/// A check's refusal as an answer (401 with `WWW-Authenticate`).
fn refusal(error: AppError) -> Response {
    match error {
        AppError::Unauthorized(reason) => unauthorized(&reason),
        other => ApiError::from(other).into_response(),
    }
}

/// The middleware (see the module doc).
pub(crate) async fn guard(
    State(engine): State<Engine>,
    matched: MatchedPath,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    // HEAD is answered by a GET route, under its rule.
    let ruled = if method == Method::HEAD {
        Method::GET
    } else {
        method.clone()
    };
    let Some(rule) = rule(&ruled, matched.as_str()) else {
        return no_rule(&method, matched.as_str());
    };
    let found = credentials(
        &engine,
        &method,
        request.headers(),
        request.uri(),
        matched.as_str(),
    )
    .await;
    let (caller, credential) = match found {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    if !caller.role.allows(rule.access) {
        let reason = format!(
            "a {} key may not do this (it needs {})",
            caller.role,
            needed(rule.access)
        );
        return ApiError::new(403, reason).into_response();
    }
    let path = request.uri().path().to_string();
    request.extensions_mut().insert(caller.clone());
    request.extensions_mut().insert(credential);
    let response = next.run(request).await;
    if method != Method::GET && response.status().is_success() {
        let status = response.status().as_u16();
        let route = matched.as_str();
        if let Err(e) = engine
            .record_audit(
                &caller,
                method.as_str(),
                route,
                target(route, &path),
                status,
            )
            .await
        {
            error!(error = %e, key_id = %caller.key_id, route, "cannot write an audit entry");
        }
    }
    response
}

/// The answer to a method the route does not have: 405 with the methods
/// it has; a route the table lacks altogether is refused (fail closed).
fn no_rule(method: &Method, route: &str) -> Response {
    let allowed: Vec<&str> = ROUTES
        .iter()
        .filter(|r| r.path == route)
        .map(|r| r.method)
        .collect();
    if allowed.is_empty() {
        error!(%method, route, "a route without an access rule was refused");
        return ApiError::new(500, "this route has no access rule").into_response();
    }
    let allow = allowed.join(", ");
    let mut response =
        ApiError::new(405, format!("{route} does not take {method}: use {allow}")).into_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

fn needed(access: Access) -> &'static str {
    match access {
        Access::Read => "viewer",
        Access::Operate => "operator",
        Access::Admin => "admin",
    }
}

/// Fields that hold personal data, wherever they appear in an answer.
const PERSONAL: &[&str] = &[
    "phone",
    "to",
    "name",
    "number",
    "custom",
    "transcript",
    "excerpt",
    "summary",
    "reason",
    "fields",
];

/// What a masked field shows.
pub const MASKED: &str = "[masked]";

/// `value` as `role` may see it: personal fields replaced by [`MASKED`]
/// (at any depth) unless the role sees personal data.
pub fn mask_personal(role: Role, value: Value) -> Value {
    if role.sees_personal_data() {
        return value;
    }
    mask(value)
}

fn mask(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match (PERSONAL.contains(&k.as_str()), v) {
                        (_, Value::Null) => Value::Null,
                        (true, _) => Value::String(MASKED.into()),
                        (false, v) => mask(v),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(mask).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn targets_come_from_the_id_segment() {
        assert_eq!(
            target(
                "/v1/calls/{id}/recording/{action}",
                "/v1/calls/L1.2/recording/start"
            ),
            Some("L1.2".into())
        );
        assert_eq!(target("/v1/dnc", "/v1/dnc"), None);
    }

    #[test]
    fn a_method_a_route_lacks_is_405_naming_the_ones_it_has() {
        let response = no_rule(&Method::TRACE, "/v1/session");
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()[header::ALLOW], "POST, GET, DELETE");
        let response = no_rule(&Method::GET, "/v1/not-in-the-table");
        assert_eq!(response.status(), 500, "fail closed");
    }

    #[test]
    fn viewers_see_personal_fields_masked_at_any_depth() {
        let lead = json!({"id": "l1", "phone": "+12125550139", "name": "Ana",
            "calls": [{"to": "+12125550139", "conversation": {"transcript": "hi", "excerpt": null}}]});
        let masked = mask_personal(Role::Viewer, lead.clone());
        assert_eq!(
            masked,
            json!({"id": "l1", "phone": MASKED, "name": MASKED,
                "calls": [{"to": MASKED, "conversation": {"transcript": MASKED, "excerpt": null}}]})
        );
        assert_eq!(mask_personal(Role::Operator, lead.clone()), lead);
    }
}
