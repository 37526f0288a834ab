//! Media tickets over HTTP: `POST {socket}/ticket` gives the caller a
//! ticket (`voxdial_app::ticket`) for one media socket and the URL to open
//! it at, with the ticket in its query (`?ticket=`):
//!
//! | socket | ticket route | role |
//! |---|---|---|
//! | `GET /v1/calls/{id}/listen` | `POST /v1/calls/{id}/listen/ticket` | operator |
//! | `GET /v1/calls/{id}/live` | `POST /v1/calls/{id}/live/ticket` | viewer |
//! | `GET /v1/ai-agents/{id}/test-call` | `POST /v1/ai-agents/{id}/test-call/ticket` | operator |
//!
//! Whoever answers the API issues them (the local server, the API
//! function); the sockets' server checks them with the same session key
//! (the local server, or on AWS the media-bridge container at the media
//! domain, which the console's cookie never reaches). The answer's `url`
//! is absolute on the media domain where the engine has one
//! (`EngineConfig::media_socket_base`), else a path on the API's own
//! origin. The id must be the caller's organisation's (another's is 404,
//! as everywhere).

use axum::Json;
use axum::extract::{Path, State};
use axum::{Extension, Router};
use serde::Serialize;
use voxdial_app::ticket::TicketPurpose;
use voxdial_app::{Caller, Engine};
use voxdial_domain::{AgentId, CallId};

use crate::{ApiError, session};

/// Each purpose's socket route (the route a ticket of it opens).
const SOCKETS: [(TicketPurpose, &str); 3] = [
    (TicketPurpose::Listen, crate::listen::PATH),
    (TicketPurpose::Live, crate::live::PATH),
    (TicketPurpose::TestCall, crate::test_call::PATH),
];

/// The ticket route of listen-in.
pub const LISTEN: &str = "/v1/calls/{id}/listen/ticket";
/// The ticket route of a call's live events.
pub const LIVE: &str = "/v1/calls/{id}/live/ticket";
/// The ticket route of a test call.
pub const TEST_CALL: &str = "/v1/ai-agents/{id}/test-call/ticket";

/// The purpose whose tickets open `route` (a route template); `None` for
/// a route no ticket opens.
pub(crate) fn purpose_of(route: &str) -> Option<TicketPurpose> {
    SOCKETS
        .iter()
        .find(|(_, path)| *path == route)
        .map(|(purpose, _)| *purpose)
}

fn socket_of(purpose: TicketPurpose) -> &'static str {
    SOCKETS
        .iter()
        .find(|(p, _)| *p == purpose)
        .map(|(_, path)| *path)
        .expect("every purpose has its socket")
}

/// The answer: where to open the socket, and until when.
#[derive(Serialize)]
struct Issued {
    /// The socket's URL with the ticket in its query.
    url: String,
    /// When the ticket expires (Unix seconds).
    expires_unix: i64,
}

/// The three ticket routes, added to the API's router (behind its guard).
pub(crate) fn routes(router: Router<Engine>) -> Router<Engine> {
    use axum::routing::post;
    router
        .route(
            LISTEN,
            post(|s, c, p| issue(s, c, p, TicketPurpose::Listen)),
        )
        .route(LIVE, post(|s, c, p| issue(s, c, p, TicketPurpose::Live)))
        .route(
            TEST_CALL,
            post(|s, c, p| issue(s, c, p, TicketPurpose::TestCall)),
        )
}

/// `POST {socket}/ticket` (see the module doc).
async fn issue(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    purpose: TicketPurpose,
) -> Result<Json<Issued>, ApiError> {
    // The organisation first: another's id is 404 whatever the request.
    let target = match purpose {
        TicketPurpose::Listen | TicketPurpose::Live => {
            let id = CallId::parse(id).map_err(|e| ApiError::new(400, e.to_string()))?;
            engine.call_in(&caller.org_id, &id).await?;
            id.to_string()
        }
        TicketPurpose::TestCall => {
            let id = AgentId::parse(id).map_err(|e| ApiError::new(400, e.to_string()))?;
            engine.ai_agent_in(&caller.org_id, &id, None).await?;
            id.to_string()
        }
    };
    let ticket = engine
        .issue_ticket(&caller, purpose, &target, session::now_unix())
        .await?;
    let path = socket_of(purpose).replace("{id}", &target);
    let base = engine.config().media_socket_base.as_deref().unwrap_or("");
    Ok(Json(Issued {
        url: format!("{base}{path}?ticket={}", ticket.token),
        expires_unix: ticket.expires_unix,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_socket_is_opened_by_its_own_purpose_only() {
        assert_eq!(
            purpose_of("/v1/calls/{id}/listen"),
            Some(TicketPurpose::Listen)
        );
        assert_eq!(purpose_of("/v1/calls/{id}/live"), Some(TicketPurpose::Live));
        assert_eq!(
            purpose_of("/v1/ai-agents/{id}/test-call"),
            Some(TicketPurpose::TestCall)
        );
        assert_eq!(purpose_of("/v1/calls/{id}/hangup"), None);
        assert_eq!(purpose_of(LISTEN), None);
        for (purpose, _) in SOCKETS {
            assert_eq!(purpose_of(socket_of(purpose)), Some(purpose));
        }
    }
}
