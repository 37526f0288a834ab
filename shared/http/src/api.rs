//! The campaign API.
//!
//! Every `/v1` route needs `Authorization: Bearer KEY` or the console's
//! session cookie (see [`crate::auth`], [`crate::session`]); the three
//! sockets also take a ticket (`?ticket=`, [`crate::ticket`]);
//! the role column says which roles may call it (`viewer` < `operator` <
//! `admin`). Ids of another organisation's records answer 404.
//!
//! | method | path | body | answer | role |
//! |---|---|---|---|---|
//! | GET | `/healthz` | | `ok` | none |
//! | GET | `/openapi.json` | | the OpenAPI 3.0 document of these routes ([`crate::openapi`]) | none |
//! | POST | `/v1/campaigns` | campaign settings (JSON, every field optional) | 201, the campaign | operator |
//! | GET | `/v1/campaigns` | | the organisation's campaigns | viewer |
//! | GET | `/v1/campaigns/{id}` | | the campaign and its progress | viewer |
//! | POST | `/v1/campaigns/{id}/leads` | CSV (`?region=US`), at most 4 MiB (else 413: use `imports`) | the import report | operator |
//! | POST | `/v1/campaigns/{id}/imports` | (`{"region": "US"}`) | 201, the import and its presigned `upload_url` (`PUT` the file there) | operator |
//! | POST | `/v1/campaigns/{id}/imports/{import}/start` | | 202, the import, queued (409 until the file is uploaded) | operator |
//! | GET | `/v1/campaigns/{id}/imports/{import}` | | the import: status, counts, cursor, first 100 rejections | viewer |
//! | GET | `/v1/campaigns/{id}/leads` | (`?after=&limit=`) | a page of leads | viewer |
//! | GET | `/v1/campaigns/{id}/calls` | (`?before=&limit=`) | a page of calls, newest first | viewer |
//! | POST | `/v1/campaigns/{id}/{action}` | (action: `start`, `pause`, `resume`, `cancel`) | the campaign | operator |
//! | PUT | `/v1/campaigns/{id}/concurrency` | `{"max_concurrency": 10}` | the campaign | operator |
//! | PUT | `/v1/campaigns/{id}/ai-agent` | `{"id": "agt_…", "version": 2}` (version optional: the latest) | the campaign, moved to that agent version | operator |
//! | POST | `/v1/campaigns/{id}/consent-waiver` | `{"reason": "existing customers"}` | the campaign, consent no longer required, the waiver (key, reason, time) kept on it | admin |
//! | GET | `/v1/calls/{id}` | | the call | viewer |
//! | POST | `/v1/calls/{id}/disposition` | `{"disposition": "interested"}` | the call | operator |
//! | GET | `/v1/calls/{id}/analysis` | | the call's full analysis (404 until ready) | viewer |
//! | POST | `/v1/calls/{id}/recording/{action}` | (action: `start`, `stop`) | the call (`on_demand` campaigns) | operator |
//! | POST | `/v1/leads/{id}/erase` | | the erasure's tombstone (no personal data) | admin |
//! | GET | `/v1/leads/{id}/erasure` | | the tombstone of an erased lead | viewer |
//! | POST | `/v1/dnc` | `{"numbers": ["+1…"], "campaign_id": null}` | `{"added": n}` | operator |
//! | GET | `/v1/providers` | | calls, setup success, answer-seizure ratio, cost and circuit state per provider | viewer |
//! | GET | `/v1/agents` | | the organisation's human agents | viewer |
//! | PUT | `/v1/agents/{id}` | `{"name": "Ana", "number": "+1…", "skills": ["spanish"], "status": "available"}` | the agent | admin |
//! | POST | `/v1/agents/{id}/status` | `{"status": "available" \| "busy" \| "offline" \| "wrap_up"}` | | admin |
//! | GET | `/v1/ai-agents` | | the organisation's AI agents, each at its latest version | viewer |
//! | POST | `/v1/ai-agents` | `{"preferred_provider": "twilio", "config": {"name": "Maya", "system_prompt": "…", …}}` | 201, version 1 of a new agent | admin |
//! | POST | `/v1/ai-agents/validate` | a draft, as for creating | `{"valid": false, "problems": ["config.system_prompt: must not be empty"]}` (nothing stored) | viewer |
//! | GET | `/v1/ai-agents/{id}` | (`?version=N`) | the agent's latest version, or version N | viewer |
//! | GET | `/v1/ai-agents/{id}/test-call` | (a WebSocket upgrade) | a test call with the agent's latest version: PCM16 8 kHz binary messages both ways, the state machine's states and transcript lines as JSON text (503 where no media bridge runs; 409 while the organisation has one live); audited | operator |
//! | PUT | `/v1/ai-agents/{id}` | a draft (`"base_version": N` refuses it with 409 unless N is the latest) | the agent's next version | admin |
//! | POST | `/v1/keys` | `{"role": "operator", "name": "ci"}` | 201, the key and, once, its `secret` | admin |
//! | GET | `/v1/keys` | | the organisation's keys (never a secret) | admin |
//! | POST | `/v1/keys/{id}/revoke` | | the key, revoked | admin |
//! | POST | `/v1/keys/{id}/rotate` | | the key and, once, its new `secret` | admin |
//! | GET | `/v1/audit` | (`?limit=`) | the organisation's audit trail, newest first | admin |
//! | GET | `/v1/analytics` | (`?from=&to=&bucket=hour\|day&campaign_id=&agent=&provider=`) | calls, outcomes, costs, sentiment, principles and quality per bucket, and totals | viewer |
//! | GET | `/v1/analytics.csv` | (as above) | the same rows as CSV (formula-safe) | viewer |
//! | POST | `/v1/session` | (the API key as `Authorization: Bearer KEY`) | the caller; sets the console's session cookie | viewer |
//! | GET | `/v1/session` | | the caller: key, organisation, role | viewer |
//! | DELETE | `/v1/session` | | 204; clears the session cookie | viewer |
//! | GET | `/v1/campaigns/{id}/events` | | server-sent `snapshot` events: the campaign, its progress and newest calls, on every change | viewer |
//! | GET | `/v1/campaigns/{id}/snapshot` | | one such snapshot (for clients that poll) | viewer |
//! | GET | `/v1/calls/{id}/recording` | | `{"url": …}`: plays the recording for 15 minutes (404 until stored) | operator |
//! | GET | `/v1/calls/{id}/listen` | (a WebSocket upgrade) | the live call's audio, both channels mixed: binary messages of 20 ms of 8 kHz μ-law (relayed to the bridge task holding the call, [`crate::forward`]; 409 when none does); audited | operator |
//! | POST | `/v1/calls/{id}/listen/ticket` | | `{"url": …, "expires_unix": …}`: where to open the listen socket with a one-minute ticket ([`crate::ticket`]) | operator |
//! | GET | `/v1/calls/{id}/live` | (a WebSocket upgrade) | the live call's events as JSON text: transcript lines, state, AMD verdict, fillers, barge-ins (relayed like listen-in; 409 when no task holds the call) | viewer |
//! | POST | `/v1/calls/{id}/live/ticket` | | where to open the live socket with a ticket | viewer |
//! | POST | `/v1/ai-agents/{id}/test-call/ticket` | | where to open a test call with a ticket | operator |
//! | POST | `/v1/calls/{id}/hangup` | | the call, hung up at its provider (409 once ended) | operator |
//! | POST | `/v1/calls/{id}/transfer` | `{"agent_id": "ana", "mode": "cold" \| "warm"}` | the call, sent to that human agent (409 unless they are available) | operator |
//! | GET | `/v1/calls/{id}/transcript` | | the transcript: turns with speakers and times (404 until ready) | operator |
//!
//! Campaigns are shown without secrets: a webhook's `secret` is write-only.
//! A `viewer` sees personal fields (numbers, names, transcripts, summaries)
//! masked. `POST /v1/dnc` without a `campaign_id` adds to the global list,
//! which every organisation's campaigns honour.
//!
//! Errors are JSON `{"error": "...", "status": n}` with a 4xx status that
//! says whose fault it is, or 503 when a backend is down; a path no route
//! has is a JSON 404, a method a route lacks a JSON 405 naming the ones it
//! has.

use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router, middleware};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use voxdial_app::csv_import::MAX_DIRECT_CSV_BYTES;
use voxdial_app::{Caller, Engine};
use voxdial_domain::{
    Access, AgentId, AgentStatus, AiAgent, ApiKey, ApiKeyId, CallId, Campaign, CampaignAction,
    CampaignId, CampaignSettings, Disposition, DncScope, E164, HumanAgent, HumanAgentId, ImportId,
    KeySecret, LeadId, OrgId, Role, Timestamp,
};

use crate::ApiError;
use crate::auth::{RouteRule, guard, mask_personal};
use crate::{events, session};

const fn route(method: &'static str, path: &'static str, access: Access) -> RouteRule {
    RouteRule {
        method,
        path,
        access,
    }
}

/// Every guarded route and what it needs: the guard's rules, the module
/// doc's table, and the authorization test's walk, all in one list.
pub const ROUTES: &[RouteRule] = &[
    route("POST", "/v1/campaigns", Access::Operate),
    route("GET", "/v1/campaigns", Access::Read),
    route("GET", "/v1/campaigns/{id}", Access::Read),
    route("POST", "/v1/campaigns/{id}/leads", Access::Operate),
    route("POST", "/v1/campaigns/{id}/imports", Access::Operate),
    route(
        "POST",
        "/v1/campaigns/{id}/imports/{import}/start",
        Access::Operate,
    ),
    route("GET", "/v1/campaigns/{id}/imports/{import}", Access::Read),
    route("GET", "/v1/campaigns/{id}/leads", Access::Read),
    route("GET", "/v1/campaigns/{id}/calls", Access::Read),
    route("POST", "/v1/campaigns/{id}/{action}", Access::Operate),
    route("PUT", "/v1/campaigns/{id}/concurrency", Access::Operate),
    route("PUT", "/v1/campaigns/{id}/ai-agent", Access::Operate),
    route("POST", "/v1/campaigns/{id}/consent-waiver", Access::Admin),
    route("GET", "/v1/calls/{id}", Access::Read),
    route("POST", "/v1/calls/{id}/disposition", Access::Operate),
    route("GET", "/v1/calls/{id}/analysis", Access::Read),
    route("POST", "/v1/calls/{id}/recording/{action}", Access::Operate),
    route("POST", "/v1/leads/{id}/erase", Access::Admin),
    route("GET", "/v1/leads/{id}/erasure", Access::Read),
    route("POST", "/v1/dnc", Access::Operate),
    route("GET", "/v1/providers", Access::Read),
    route("GET", "/v1/agents", Access::Read),
    route("PUT", "/v1/agents/{id}", Access::Admin),
    route("POST", "/v1/agents/{id}/status", Access::Admin),
    route("GET", "/v1/ai-agents", Access::Read),
    route("POST", "/v1/ai-agents", Access::Admin),
    route("POST", "/v1/ai-agents/validate", Access::Read),
    route("GET", "/v1/ai-agents/{id}", Access::Read),
    route("PUT", "/v1/ai-agents/{id}", Access::Admin),
    route("GET", crate::test_call::PATH, Access::Operate),
    route("POST", "/v1/keys", Access::Admin),
    route("GET", "/v1/keys", Access::Admin),
    route("POST", "/v1/keys/{id}/revoke", Access::Admin),
    route("POST", "/v1/keys/{id}/rotate", Access::Admin),
    route("GET", "/v1/audit", Access::Admin),
    route("GET", "/v1/analytics", Access::Read),
    route("GET", "/v1/analytics.csv", Access::Read),
    route("POST", "/v1/session", Access::Read),
    route("GET", "/v1/session", Access::Read),
    route("DELETE", "/v1/session", Access::Read),
    route("GET", "/v1/campaigns/{id}/events", Access::Read),
    route("GET", "/v1/campaigns/{id}/snapshot", Access::Read),
    route("GET", "/v1/calls/{id}/recording", Access::Operate),
    route("GET", "/v1/calls/{id}/transcript", Access::Operate),
    route("GET", crate::listen::PATH, Access::Operate),
    route("POST", crate::ticket::LISTEN, Access::Operate),
    route("GET", crate::live::PATH, Access::Read),
    route("POST", crate::ticket::LIVE, Access::Read),
    route("POST", crate::ticket::TEST_CALL, Access::Operate),
    route("POST", "/v1/calls/{id}/hangup", Access::Operate),
    route("POST", "/v1/calls/{id}/transfer", Access::Operate),
];

/// The API router: every `/v1` route behind the guard, `/healthz` and
/// the OpenAPI document ([`crate::openapi`]) open, a JSON 404 elsewhere.
pub fn router(engine: Engine) -> Router {
    crate::ticket::routes(Router::new())
        .route("/v1/campaigns", post(create_campaign).get(list_campaigns))
        .route("/v1/campaigns/{id}", get(campaign))
        .route(
            "/v1/campaigns/{id}/leads",
            post(import_leads)
                .get(list_leads)
                .layer(DefaultBodyLimit::max(MAX_DIRECT_CSV_BYTES)),
        )
        .route("/v1/campaigns/{id}/imports", post(create_import))
        .route(
            "/v1/campaigns/{id}/imports/{import}/start",
            post(start_import),
        )
        .route("/v1/campaigns/{id}/imports/{import}", get(lead_import))
        .route("/v1/campaigns/{id}/calls", get(list_calls))
        .route("/v1/campaigns/{id}/{action}", post(campaign_action))
        .route("/v1/campaigns/{id}/concurrency", put(set_concurrency))
        .route("/v1/campaigns/{id}/ai-agent", put(set_campaign_agent))
        .route("/v1/campaigns/{id}/consent-waiver", post(waive_consent))
        .route("/v1/calls/{id}", get(call))
        .route("/v1/calls/{id}/disposition", post(disposition))
        .route("/v1/calls/{id}/analysis", get(analysis))
        .route("/v1/calls/{id}/recording/{action}", post(recording))
        .route("/v1/leads/{id}/erase", post(erase_lead))
        .route("/v1/leads/{id}/erasure", get(erasure))
        .route("/v1/dnc", post(add_dnc))
        .route("/v1/providers", get(providers))
        .route("/v1/agents", get(list_agents))
        .route("/v1/agents/{id}", put(put_agent))
        .route("/v1/agents/{id}/status", post(agent_status))
        .route("/v1/ai-agents", get(list_ai_agents).post(create_ai_agent))
        .route("/v1/ai-agents/validate", post(validate_ai_agent))
        .route("/v1/ai-agents/{id}", get(ai_agent).put(update_ai_agent))
        .route(crate::test_call::PATH, get(crate::test_call::test_call))
        .route("/v1/keys", post(create_key).get(list_keys))
        .route("/v1/keys/{id}/revoke", post(revoke_key))
        .route("/v1/keys/{id}/rotate", post(rotate_key))
        .route("/v1/audit", get(audit))
        .route("/v1/analytics", get(crate::analytics::json))
        .route("/v1/analytics.csv", get(crate::analytics::csv))
        .route(
            "/v1/session",
            post(session::open)
                .get(session::whoami)
                .delete(session::close),
        )
        .route("/v1/campaigns/{id}/events", get(events::campaign_events))
        .route(
            "/v1/campaigns/{id}/snapshot",
            get(events::campaign_snapshot),
        )
        .route("/v1/calls/{id}/recording", get(recording_url))
        .route("/v1/calls/{id}/transcript", get(transcript))
        .route(crate::listen::PATH, get(crate::listen::listen))
        .route(crate::live::PATH, get(crate::live::live))
        .route("/v1/calls/{id}/hangup", post(hang_up))
        .route("/v1/calls/{id}/transfer", post(transfer))
        .route_layer(middleware::from_fn_with_state(engine.clone(), guard))
        .route("/healthz", get(|| async { "ok" }))
        .route(crate::openapi::PATH, get(crate::openapi::serve))
        .fallback(not_found)
        .with_state(engine)
}

/// A path no route has: a JSON 404 like every other error.
async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(404, format!("no route {}", uri.path()))
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(value)| value).map_err(|rejection| {
        ApiError::new(400, format!("invalid JSON body: {}", rejection.body_text()))
    })
}

/// `value` as JSON, personal fields masked for roles that may not see them.
fn shown<T: Serialize>(caller: &Caller, value: &T) -> Result<Json<Value>, ApiError> {
    let value = serde_json::to_value(value)
        .map_err(|e| ApiError::new(500, format!("cannot encode the answer: {e}")))?;
    Ok(Json(mask_personal(caller.role, value)))
}

fn campaign_id(raw: &str) -> Result<CampaignId, ApiError> {
    CampaignId::parse(raw).map_err(|e| ApiError::new(400, e.to_string()))
}

/// A campaign id of the caller's organisation (404 for another's).
pub(crate) async fn own_campaign(
    engine: &Engine,
    caller: &Caller,
    raw: &str,
) -> Result<Campaign, ApiError> {
    Ok(engine
        .campaign_in(&caller.org_id, &campaign_id(raw)?)
        .await?)
}

async fn create_campaign(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<CampaignSettings>, JsonRejection>,
) -> Result<(StatusCode, Json<Campaign>), ApiError> {
    let settings = json_body(body)?;
    let campaign = engine.create_campaign(&caller.org_id, settings).await?;
    Ok((StatusCode::CREATED, Json(campaign.redacted())))
}

async fn list_campaigns(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<Campaign>>, ApiError> {
    Ok(Json(
        engine
            .campaigns(&caller.org_id)
            .await?
            .iter()
            .map(Campaign::redacted)
            .collect(),
    ))
}

async fn campaign(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<voxdial_app::CampaignView>, ApiError> {
    let campaign = own_campaign(&engine, &caller, &id).await?;
    let mut view = engine.campaign_view(&campaign.id).await?;
    view.campaign = view.campaign.redacted();
    Ok(Json(view))
}

#[derive(Deserialize)]
struct ImportQuery {
    region: Option<String>,
}

/// The body of the direct route: a file over its cap is a 413 that names
/// the upload route.
fn direct_csv(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                413,
                format!(
                    "the file is larger than {MAX_DIRECT_CSV_BYTES} bytes: upload it with \
                     POST /v1/campaigns/{{id}}/imports (a presigned upload, imported in the background)"
                ),
            )
        } else {
            ApiError::new(400, format!("cannot read the body: {}", rejection.body_text()))
        }
    })
}

async fn import_leads(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(query): Query<ImportQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<voxdial_app::ImportReport>, ApiError> {
    let campaign = own_campaign(&engine, &caller, &id).await?;
    let body = direct_csv(body)?;
    Ok(Json(
        engine
            .import_csv(&campaign.id, &body, query.region.as_deref())
            .await?,
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NewImportBody {
    region: Option<String>,
}

fn import_id(raw: &str) -> Result<ImportId, ApiError> {
    ImportId::parse(raw).map_err(|e| ApiError::new(400, e.to_string()))
}

async fn create_import(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<voxdial_app::imports::NewImport>), ApiError> {
    // An empty body is no settings.
    let body: NewImportBody = if body.is_empty() {
        NewImportBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(400, format!("invalid JSON body: {e}")))?
    };
    let campaign = own_campaign(&engine, &caller, &id).await?;
    let created = engine.create_import(&campaign, body.region).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn start_import(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path((id, import)): Path<(String, String)>,
) -> Result<(StatusCode, Json<voxdial_domain::LeadImport>), ApiError> {
    let campaign = own_campaign(&engine, &caller, &id).await?;
    let import = engine.start_import(&campaign, &import_id(&import)?).await?;
    Ok((StatusCode::ACCEPTED, Json(import)))
}

async fn lead_import(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path((id, import)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let campaign = own_campaign(&engine, &caller, &id).await?;
    let import = engine.lead_import(&campaign, &import_id(&import)?).await?;
    shown(&caller, &import)
}

#[derive(Deserialize)]
struct PageQuery {
    after: Option<String>,
    before: Option<String>,
    limit: Option<usize>,
}

impl PageQuery {
    fn limit(&self) -> usize {
        self.limit.unwrap_or(100).clamp(1, 1000)
    }
}

async fn list_leads(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let campaign = own_campaign(&engine, &caller, &id).await?;
    let after = page
        .after
        .as_deref()
        .map(LeadId::parse)
        .transpose()
        .map_err(|e| ApiError::new(400, e.to_string()))?;
    let leads = engine
        .leads_page(&campaign.id, after.as_ref(), page.limit())
        .await?;
    shown(&caller, &leads)
}

async fn list_calls(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let campaign = own_campaign(&engine, &caller, &id).await?;
    let before = page
        .before
        .as_deref()
        .map(CallId::parse)
        .transpose()
        .map_err(|e| ApiError::new(400, e.to_string()))?;
    let calls = engine
        .calls_page(&campaign.id, before.as_ref(), page.limit())
        .await?;
    shown(&caller, &calls)
}

async fn campaign_action(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Json<Campaign>, ApiError> {
    let action = match action.as_str() {
        "start" => CampaignAction::Start,
        "pause" => CampaignAction::Pause,
        "resume" => CampaignAction::Resume,
        "cancel" => CampaignAction::Cancel,
        other => {
            return Err(ApiError::new(
                404,
                format!("unknown action {other:?}: use start, pause, resume or cancel"),
            ));
        }
    };
    let campaign = own_campaign(&engine, &caller, &id).await?;
    Ok(Json(engine.act(&campaign.id, action).await?.redacted()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Concurrency {
    max_concurrency: u32,
}

async fn set_concurrency(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<Concurrency>, JsonRejection>,
) -> Result<Json<Campaign>, ApiError> {
    let Concurrency { max_concurrency } = json_body(body)?;
    let campaign = own_campaign(&engine, &caller, &id).await?;
    Ok(Json(
        engine
            .set_max_concurrency(&campaign.id, max_concurrency)
            .await?
            .redacted(),
    ))
}

/// Which agent version a campaign talks with.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignAgent {
    id: String,
    version: Option<u32>,
}

async fn set_campaign_agent(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<CampaignAgent>, JsonRejection>,
) -> Result<Json<Campaign>, ApiError> {
    let campaign = own_campaign(&engine, &caller, &id).await?;
    let CampaignAgent { id, version } = json_body(body)?;
    let moved = engine
        .set_campaign_agent(&caller.org_id, &campaign.id, &ai_agent_id(&id)?, version)
        .await?;
    Ok(Json(moved.redacted()))
}

fn ai_agent_id(raw: &str) -> Result<AgentId, ApiError> {
    AgentId::parse(raw).map_err(|e| ApiError::new(400, e.to_string()))
}

async fn list_ai_agents(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<AiAgent>>, ApiError> {
    Ok(Json(engine.ai_agents(&caller.org_id).await?))
}

async fn create_ai_agent(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<(StatusCode, Json<AiAgent>), ApiError> {
    let agent = engine.create_ai_agent(&caller.org_id, &body).await?;
    Ok((StatusCode::CREATED, Json(agent)))
}

async fn validate_ai_agent(
    State(engine): State<Engine>,
    body: Bytes,
) -> Json<voxdial_app::ai_agents::Validation> {
    Json(engine.validate_ai_agent(&body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionQuery {
    version: Option<u32>,
}

async fn ai_agent(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(query): Query<VersionQuery>,
) -> Result<Json<AiAgent>, ApiError> {
    let id = ai_agent_id(&id)?;
    Ok(Json(
        engine
            .ai_agent_in(&caller.org_id, &id, query.version)
            .await?,
    ))
}

async fn update_ai_agent(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<AiAgent>, ApiError> {
    let id = ai_agent_id(&id)?;
    Ok(Json(
        engine.update_ai_agent(&caller.org_id, &id, &body).await?,
    ))
}

/// The longest reason a consent waiver takes.
const MAX_WAIVER_REASON: usize = 500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverBody {
    reason: String,
}

/// The admin override of the floor's consent rule: the waiver names the
/// admin's key and the reason, on the campaign and in the audit trail.
async fn waive_consent(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<WaiverBody>, JsonRejection>,
) -> Result<Json<Campaign>, ApiError> {
    let WaiverBody { reason } = json_body(body)?;
    if reason.chars().count() > MAX_WAIVER_REASON {
        return Err(ApiError::new(
            400,
            format!("reason: at most {MAX_WAIVER_REASON} characters"),
        ));
    }
    let campaign = own_campaign(&engine, &caller, &id).await?;
    let by = format!("key {}", caller.key_id);
    Ok(Json(
        engine
            .waive_consent(&campaign.id, &by, &reason)
            .await?
            .redacted(),
    ))
}

fn call_id(raw: String) -> Result<CallId, ApiError> {
    CallId::parse(raw).map_err(|e| ApiError::new(400, e.to_string()))
}

/// A call id of the caller's organisation (404 for another's).
async fn own_call(engine: &Engine, caller: &Caller, raw: String) -> Result<CallId, ApiError> {
    Ok(engine.call_in(&caller.org_id, &call_id(raw)?).await?.id)
}

async fn call(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let call = engine.call_in(&caller.org_id, &call_id(id)?).await?;
    shown(&caller, &call)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DispositionBody {
    disposition: Disposition,
}

async fn disposition(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<DispositionBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let DispositionBody { disposition } = json_body(body)?;
    let id = own_call(&engine, &caller, id).await?;
    shown(&caller, &engine.record_disposition(&id, disposition).await?)
}

async fn hang_up(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = call_id(id)?;
    shown(
        &caller,
        &engine.operator_hang_up(&caller.org_id, &id).await?,
    )
}

/// How a call is sent to a human agent.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TransferModeBody {
    Cold,
    Warm,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransferBody {
    agent_id: HumanAgentId,
    mode: TransferModeBody,
}

async fn transfer(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<TransferBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let TransferBody { agent_id, mode } = json_body(body)?;
    let mode = match mode {
        TransferModeBody::Cold => voxdial_app::media::TransferMode::Cold,
        TransferModeBody::Warm => voxdial_app::media::TransferMode::Warm,
    };
    let id = call_id(id)?;
    let call = engine
        .operator_transfer(&caller.org_id, &id, &agent_id, mode)
        .await?;
    shown(&caller, &call)
}

async fn analysis(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = own_call(&engine, &caller, id).await?;
    shown(&caller, &engine.analysis(&id).await?)
}

async fn recording(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let start = match action.as_str() {
        "start" => true,
        "stop" => false,
        other => {
            return Err(ApiError::new(
                404,
                format!("unknown recording action {other:?}: use start or stop"),
            ));
        }
    };
    let id = own_call(&engine, &caller, id).await?;
    let call = if start {
        engine.start_recording(&id).await?
    } else {
        engine.stop_recording(&id).await?
    };
    shown(&caller, &call)
}

#[derive(Serialize)]
struct RecordingUrl {
    url: String,
}

async fn recording_url(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<RecordingUrl>, ApiError> {
    let id = own_call(&engine, &caller, id).await?;
    let url = engine.recording_url(&id).await?;
    Ok(Json(RecordingUrl { url }))
}

async fn transcript(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = own_call(&engine, &caller, id).await?;
    Ok(Json(engine.transcript(&id).await?))
}

fn lead_id(raw: String) -> Result<LeadId, ApiError> {
    LeadId::parse(raw).map_err(|e| ApiError::new(400, e.to_string()))
}

async fn erase_lead(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<voxdial_domain::Tombstone>, ApiError> {
    let id = lead_id(id)?;
    // The scope check; an erased lead's tombstone is answered again below.
    let _lead_or_tombstone = engine.lead_in(&caller.org_id, &id).await?;
    Ok(Json(engine.erase_lead(&id, "api").await?))
}

async fn erasure(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<voxdial_domain::Tombstone>, ApiError> {
    match engine.lead_in(&caller.org_id, &lead_id(id)?).await? {
        Err(tombstone) => Ok(Json(tombstone)),
        Ok(lead) => Ok(Json(engine.tombstone(&lead.id).await?)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DncBody {
    numbers: Vec<String>,
    campaign_id: Option<String>,
}

#[derive(Serialize)]
struct DncAdded {
    added: u64,
}

async fn add_dnc(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<DncBody>, JsonRejection>,
) -> Result<Json<DncAdded>, ApiError> {
    let DncBody {
        numbers,
        campaign_id: scope,
    } = json_body(body)?;
    let numbers = numbers
        .iter()
        .enumerate()
        .map(|(i, n)| {
            E164::parse(n, None).map_err(|e| ApiError::new(400, format!("numbers[{i}]: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let scope = match scope {
        Some(id) => DncScope::Campaign(own_campaign(&engine, &caller, &id).await?.id),
        None => DncScope::Organisation(caller.org_id.clone()),
    };
    Ok(Json(DncAdded {
        added: engine.add_dnc(&scope, &numbers).await?,
    }))
}

async fn providers(State(engine): State<Engine>) -> Json<serde_json::Value> {
    Json(serde_json::to_value(engine.provider_stats().await).unwrap_or(serde_json::Value::Null))
}

async fn list_agents(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    shown(&caller, &engine.human_agents(&caller.org_id).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentBody {
    name: String,
    number: String,
    #[serde(default)]
    skills: Vec<String>,
    #[serde(default = "offline")]
    status: AgentStatus,
}

fn offline() -> AgentStatus {
    AgentStatus::Offline
}

fn agent_id(raw: &str) -> Result<HumanAgentId, ApiError> {
    HumanAgentId::parse(raw).map_err(|e| ApiError::new(400, e.to_string()))
}

async fn put_agent(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<AgentBody>, JsonRejection>,
) -> Result<Json<HumanAgent>, ApiError> {
    let body = json_body(body)?;
    if body.name.trim().is_empty() {
        return Err(ApiError::new(400, "name must not be empty"));
    }
    let agent = HumanAgent {
        id: agent_id(&id)?,
        org_id: caller.org_id,
        name: body.name,
        number: E164::parse(&body.number, None)
            .map_err(|e| ApiError::new(400, format!("number: {e}")))?,
        skills: body.skills,
        status: body.status,
        since: engine.clock().now(),
        call_id: None,
    };
    engine.put_human_agent(&agent).await?;
    Ok(Json(agent))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: AgentStatus,
}

async fn agent_status(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<StatusBody>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let StatusBody { status } = json_body(body)?;
    engine
        .set_human_agent_status(&caller.org_id, &agent_id(&id)?, status)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A key as the API shows it: never its secret or digest.
#[derive(Serialize)]
struct KeyView {
    id: ApiKeyId,
    org_id: OrgId,
    role: Role,
    name: String,
    active: bool,
    created_at: Timestamp,
    rotated_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
}

impl From<ApiKey> for KeyView {
    fn from(key: ApiKey) -> KeyView {
        KeyView {
            active: key.is_active(),
            id: key.id,
            org_id: key.org_id,
            role: key.role,
            name: key.name,
            created_at: key.created_at,
            rotated_at: key.rotated_at,
            revoked_at: key.revoked_at,
        }
    }
}

/// A key with its secret, shown once.
#[derive(Serialize)]
struct NewKey {
    key: KeyView,
    secret: String,
}

impl NewKey {
    fn new((key, secret): (ApiKey, KeySecret)) -> NewKey {
        NewKey {
            key: key.into(),
            secret: secret.expose().to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    role: Role,
    #[serde(default)]
    name: String,
}

fn key_id(raw: String) -> Result<ApiKeyId, ApiError> {
    ApiKeyId::parse(raw).map_err(|e| ApiError::new(400, e.to_string()))
}

async fn create_key(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<KeyBody>, JsonRejection>,
) -> Result<(StatusCode, Json<NewKey>), ApiError> {
    let KeyBody { role, name } = json_body(body)?;
    let created = engine.create_api_key(&caller.org_id, role, &name).await?;
    Ok((StatusCode::CREATED, Json(NewKey::new(created))))
}

async fn list_keys(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<KeyView>>, ApiError> {
    let keys = engine.api_keys(&caller.org_id).await?;
    Ok(Json(keys.into_iter().map(KeyView::from).collect()))
}

async fn revoke_key(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    let key = engine.revoke_api_key(&caller.org_id, &key_id(id)?).await?;
    Ok(Json(key.into()))
}

async fn rotate_key(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<NewKey>, ApiError> {
    let rotated = engine.rotate_api_key(&caller.org_id, &key_id(id)?).await?;
    Ok(Json(NewKey::new(rotated)))
}

#[derive(Deserialize)]
struct AuditQuery {
    limit: Option<usize>,
}

async fn audit(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<voxdial_domain::AuditEntry>>, ApiError> {
    Ok(Json(
        engine
            .audit(&caller.org_id, query.limit.unwrap_or(100))
            .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of the module doc's table: method, path, role.
    fn doc_table() -> Vec<(String, String, String)> {
        include_str!("api.rs")
            .lines()
            .filter_map(|line| line.strip_prefix("//! | "))
            .filter_map(|row| {
                let method = row.split('|').next()?.trim();
                let path = row.split('`').nth(1)?;
                let role = row.trim_end().trim_end_matches('|').rsplit('|').next()?;
                ["GET", "POST", "PUT", "DELETE"].contains(&method).then(|| {
                    (
                        method.to_string(),
                        path.to_string(),
                        role.trim().to_string(),
                    )
                })
            })
            .collect()
    }

    fn role_label(access: Access) -> &'static str {
        match access {
            Access::Read => "viewer",
            Access::Operate => "operator",
            Access::Admin => "admin",
        }
    }

    #[test]
    fn the_doc_table_and_the_rules_name_the_same_routes_and_roles() {
        let mut documented = doc_table();
        documented.retain(|(_, path, _)| path != "/healthz" && path != crate::openapi::PATH);
        let mut rules: Vec<(String, String, String)> = ROUTES
            .iter()
            .map(|r| {
                (
                    r.method.to_string(),
                    r.path.to_string(),
                    role_label(r.access).to_string(),
                )
            })
            .collect();
        documented.sort();
        rules.sort();
        assert_eq!(documented, rules);
    }
}
