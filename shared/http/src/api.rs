//! The campaign API.
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | GET | `/healthz` | | `ok` |
//! | POST | `/v1/campaigns` | campaign settings (JSON, every field optional) | 201, the campaign |
//! | GET | `/v1/campaigns` | | every campaign |
//! | GET | `/v1/campaigns/{id}` | | the campaign and its progress |
//! | POST | `/v1/campaigns/{id}/leads?region=US` | CSV | the import report |
//! | GET | `/v1/campaigns/{id}/leads?after=&limit=` | | a page of leads |
//! | GET | `/v1/campaigns/{id}/calls?before=&limit=` | | a page of calls, newest first |
//! | POST | `/v1/campaigns/{id}/start`, `pause`, `resume`, `cancel` | | the campaign |
//! | PUT | `/v1/campaigns/{id}/concurrency` | `{"max_concurrency": 10}` | the campaign |
//! | GET | `/v1/calls/{id}` | | the call |
//! | POST | `/v1/calls/{id}/disposition` | `{"disposition": "interested"}` | the call |
//! | POST | `/v1/dnc` | `{"numbers": ["+1…"], "campaign_id": null}` | `{"added": n}` |
//! | GET | `/v1/calls/{id}/analysis` | | the call's full analysis (404 until ready) |
//! | POST | `/v1/calls/{id}/recording/start`, `stop` | | the call (`on_demand` campaigns) |
//! | POST | `/v1/leads/{id}/erase` | | the erasure's tombstone (no personal data) |
//! | GET | `/v1/leads/{id}/erasure` | | the tombstone of an erased lead |
//!
//! Campaigns are shown without secrets: a webhook's `secret` is write-only.
//! | GET | `/v1/providers` | | calls, setup success, answer-seizure ratio, cost and circuit state per provider |
//! | GET | `/v1/agents` | | every human agent |
//! | PUT | `/v1/agents/{id}` | `{"name": "Ana", "number": "+1…", "skills": ["spanish"], "status": "available"}` | the agent |
//! | POST | `/v1/agents/{id}/status` | `{"status": "available" \| "busy" \| "offline" \| "wrap_up"}` | |
//!
//! Errors are JSON `{"error": "...", "status": n}` with a 4xx status that
//! says whose fault it is, or 503 when a backend is down.

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use voxdial_app::Engine;
use voxdial_app::csv_import::MAX_CSV_BYTES;
use voxdial_domain::{
    AgentStatus, CallAttempt, CallId, Campaign, CampaignAction, CampaignId, CampaignSettings,
    Disposition, DncScope, E164, HumanAgent, HumanAgentId, Lead, LeadId,
};

use crate::ApiError;

/// The API router.
pub fn router(engine: Engine) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/campaigns", post(create_campaign).get(list_campaigns))
        .route("/v1/campaigns/{id}", get(campaign))
        .route(
            "/v1/campaigns/{id}/leads",
            post(import_leads)
                .get(list_leads)
                .layer(DefaultBodyLimit::max(MAX_CSV_BYTES)),
        )
        .route("/v1/campaigns/{id}/calls", get(list_calls))
        .route("/v1/campaigns/{id}/{action}", post(campaign_action))
        .route("/v1/campaigns/{id}/concurrency", put(set_concurrency))
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
        .with_state(engine)
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(value)| value).map_err(|rejection| {
        ApiError::new(400, format!("invalid JSON body: {}", rejection.body_text()))
    })
}

fn campaign_id(raw: &str) -> Result<CampaignId, ApiError> {
    CampaignId::parse(raw).map_err(|e| ApiError::new(400, e.to_string()))
}

async fn create_campaign(
    State(engine): State<Engine>,
    body: Result<Json<CampaignSettings>, JsonRejection>,
) -> Result<(StatusCode, Json<Campaign>), ApiError> {
    let settings = json_body(body)?;
    let campaign = engine.create_campaign(settings).await?;
    Ok((StatusCode::CREATED, Json(campaign.redacted())))
}

async fn list_campaigns(State(engine): State<Engine>) -> Result<Json<Vec<Campaign>>, ApiError> {
    Ok(Json(
        engine
            .campaigns()
            .await?
            .iter()
            .map(Campaign::redacted)
            .collect(),
    ))
}

async fn campaign(
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> Result<Json<voxdial_app::CampaignView>, ApiError> {
    let mut view = engine.campaign_view(&campaign_id(&id)?).await?;
    view.campaign = view.campaign.redacted();
    Ok(Json(view))
}

#[derive(Deserialize)]
struct ImportQuery {
    region: Option<String>,
}

async fn import_leads(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    Query(query): Query<ImportQuery>,
    body: Bytes,
) -> Result<Json<voxdial_app::ImportReport>, ApiError> {
    let id = campaign_id(&id)?;
    Ok(Json(
        engine
            .import_csv(&id, &body, query.region.as_deref())
            .await?,
    ))
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
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Vec<Lead>>, ApiError> {
    let id = campaign_id(&id)?;
    let after = page
        .after
        .as_deref()
        .map(LeadId::parse)
        .transpose()
        .map_err(|e| ApiError::new(400, e.to_string()))?;
    Ok(Json(
        engine.leads_page(&id, after.as_ref(), page.limit()).await?,
    ))
}

async fn list_calls(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Vec<CallAttempt>>, ApiError> {
    let id = campaign_id(&id)?;
    let before = page
        .before
        .as_deref()
        .map(CallId::parse)
        .transpose()
        .map_err(|e| ApiError::new(400, e.to_string()))?;
    Ok(Json(
        engine
            .calls_page(&id, before.as_ref(), page.limit())
            .await?,
    ))
}

async fn campaign_action(
    State(engine): State<Engine>,
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
    Ok(Json(
        engine.act(&campaign_id(&id)?, action).await?.redacted(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Concurrency {
    max_concurrency: u32,
}

async fn set_concurrency(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    body: Result<Json<Concurrency>, JsonRejection>,
) -> Result<Json<Campaign>, ApiError> {
    let Concurrency { max_concurrency } = json_body(body)?;
    Ok(Json(
        engine
            .set_max_concurrency(&campaign_id(&id)?, max_concurrency)
            .await?
            .redacted(),
    ))
}

async fn call(
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> Result<Json<CallAttempt>, ApiError> {
    let id = CallId::parse(id).map_err(|e| ApiError::new(400, e.to_string()))?;
    Ok(Json(engine.call(&id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DispositionBody {
    disposition: Disposition,
}

async fn disposition(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    body: Result<Json<DispositionBody>, JsonRejection>,
) -> Result<Json<CallAttempt>, ApiError> {
    let id = CallId::parse(id).map_err(|e| ApiError::new(400, e.to_string()))?;
    let DispositionBody { disposition } = json_body(body)?;
    Ok(Json(engine.record_disposition(&id, disposition).await?))
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
    body: Result<Json<DncBody>, JsonRejection>,
) -> Result<Json<DncAdded>, ApiError> {
    let DncBody {
        numbers,
        campaign_id: scope,
    } = json_body(body)?;
    let scope = match scope {
        Some(id) => DncScope::Campaign(campaign_id(&id)?),
        None => DncScope::Global,
    };
    let numbers = numbers
        .iter()
        .enumerate()
        .map(|(i, n)| {
            E164::parse(n, None).map_err(|e| ApiError::new(400, format!("numbers[{i}]: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(DncAdded {
        added: engine.add_dnc(&scope, &numbers).await?,
    }))
}

async fn providers(State(engine): State<Engine>) -> Json<serde_json::Value> {
    Json(serde_json::to_value(engine.provider_stats()).unwrap_or(serde_json::Value::Null))
}

async fn list_agents(State(engine): State<Engine>) -> Result<Json<Vec<HumanAgent>>, ApiError> {
    Ok(Json(engine.human_agents().await?))
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
    Path(id): Path<String>,
    body: Result<Json<AgentBody>, JsonRejection>,
) -> Result<Json<HumanAgent>, ApiError> {
    let body = json_body(body)?;
    if body.name.trim().is_empty() {
        return Err(ApiError::new(400, "name must not be empty"));
    }
    let agent = HumanAgent {
        id: agent_id(&id)?,
        name: body.name,
        number: E164::parse(&body.number, None)
            .map_err(|e| ApiError::new(400, format!("number: {e}")))?,
        skills: body.skills,
        status: body.status,
        since: engine.clock().now(),
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
    Path(id): Path<String>,
    body: Result<Json<StatusBody>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let StatusBody { status } = json_body(body)?;
    engine
        .set_human_agent_status(&agent_id(&id)?, status)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn call_id(raw: String) -> Result<CallId, ApiError> {
    CallId::parse(raw).map_err(|e| ApiError::new(400, e.to_string()))
}

async fn analysis(
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> Result<Json<voxdial_domain::Analysis>, ApiError> {
    Ok(Json(engine.analysis(&call_id(id)?).await?))
}

async fn recording(
    State(engine): State<Engine>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Json<CallAttempt>, ApiError> {
    let id = call_id(id)?;
    match action.as_str() {
        "start" => Ok(Json(engine.start_recording(&id).await?)),
        "stop" => Ok(Json(engine.stop_recording(&id).await?)),
        other => Err(ApiError::new(
            404,
            format!("unknown recording action {other:?}: use start or stop"),
        )),
    }
}

fn lead_id(raw: String) -> Result<LeadId, ApiError> {
    LeadId::parse(raw).map_err(|e| ApiError::new(400, e.to_string()))
}

async fn erase_lead(
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> Result<Json<voxdial_domain::Tombstone>, ApiError> {
    Ok(Json(engine.erase_lead(&lead_id(id)?, "api").await?))
}

async fn erasure(
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> Result<Json<voxdial_domain::Tombstone>, ApiError> {
    Ok(Json(engine.tombstone(&lead_id(id)?).await?))
}
