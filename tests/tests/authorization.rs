//! The authorization walk: every route of the API's table
//! (`voxdial_http::api::ROUTES`) × no key, a malformed key, an unknown key,
//! a revoked key, each role × the caller's own organisation's ids and
//! another's. Each answer's status is checked, and a refused request must
//! leave every record (campaigns, leads, calls, agents, keys, the audit
//! trail) as it was; another organisation's id answers exactly what an id
//! that does not exist answers (no existence oracle). The same walk runs on
//! the local store (SQLite) and on DynamoDB (moto).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;
use voxdial_app::router::{Providers, StaticRouter};
use voxdial_app::{Engine, EngineConfig};
use voxdial_aws::testing::Emulator;
use voxdial_domain::{
    AgentId, AgentStatus, ApiKeyId, CallId, Campaign, CampaignId, Clock, E164, HumanAgent,
    HumanAgentId, ImportId, LeadId, OrgId, Role, Store,
};
use voxdial_http::api::ROUTES;
use voxdial_http::auth::{MASKED, RouteRule};
use voxdial_local::{LocalBlobStore, LocalQueue, LocalStore, QueueConfig};
use voxdial_testkit::ManualClock;
use voxdial_testkit::fixtures::{call_for, campaign, lead, t0};

/// One organisation's records and keys.
struct Tenant {
    campaign: CampaignId,
    lead: LeadId,
    call: CallId,
    agent: HumanAgentId,
    ai_agent: AgentId,
    /// Another agent, the one `PUT /v1/agents/{id}` is walked with (a PUT
    /// naming another organisation's agent makes the caller's own agent of
    /// that id, which would then answer the status route).
    put_agent: HumanAgentId,
    /// An import into `campaign`, awaiting its upload.
    import: ImportId,
    /// A key of this organisation that revoke and rotate may act on.
    spare_key: ApiKeyId,
    phone: E164,
}

struct World {
    engine: Engine,
    app: axum::Router,
    own: Tenant,
    other: Tenant,
    /// `Authorization` values by name.
    keys: Vec<(&'static str, Option<String>)>,
    _dir: tempfile::TempDir,
}

const ACME: &str = "acme";
const RIVAL: &str = "rival";

fn org(name: &str) -> OrgId {
    OrgId::parse(name).unwrap()
}

async fn tenant(engine: &Engine, store: &dyn Store, name: &str, n: usize) -> Tenant {
    let mut c: Campaign = campaign(&format!("camp-{name}"), t0());
    c.org_id = org(name);
    store.insert_campaign(&c).await.unwrap();
    let l = lead(&c.id, n, t0());
    store.import_leads(&c.id, vec![l.clone()]).await.unwrap();
    let call = call_for(&l, 1, t0());
    store.create_call(&call).await.unwrap();
    let agent = HumanAgent {
        id: HumanAgentId::parse(format!("agent-{name}")).unwrap(),
        org_id: org(name),
        name: "Agent".into(),
        number: E164::parse("+14155550199", None).unwrap(),
        skills: Vec::new(),
        status: AgentStatus::Offline,
        since: t0(),
        call_id: None,
    };
    engine.put_human_agent(&agent).await.unwrap();
    let put_agent = HumanAgentId::parse(format!("put-{name}")).unwrap();
    engine
        .put_human_agent(&HumanAgent {
            id: put_agent.clone(),
            ..agent.clone()
        })
        .await
        .unwrap();
    let (spare, _) = engine
        .create_api_key(&org(name), Role::Viewer, "spare")
        .await
        .unwrap();
    let ai_agent = engine
        .create_ai_agent(&org(name), ai_agent_draft().as_bytes())
        .await
        .unwrap();
    let import = engine.create_import(&c, None).await.unwrap().import.id;
    Tenant {
        import,
        campaign: c.id,
        lead: l.id,
        call: call.id,
        agent: agent.id,
        ai_agent: ai_agent.id,
        put_agent,
        spare_key: spare.id,
        phone: l.phone,
    }
}

fn ai_agent_draft() -> String {
    json!({"config": {"name": "Maya", "system_prompt": "You are Maya."}}).to_string()
}

async fn world(store: Arc<dyn Store>) -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = ManualClock::shared(t0());
    let queue = LocalQueue::open(
        dir.path().join("q.sqlite"),
        QueueConfig::default(),
        clock.clone(),
    )
    .unwrap();
    // Human agents live in SQLite on both backends (DynamoDB has no agent store).
    let agents = Arc::new(LocalStore::open(dir.path().join("agents.sqlite")).unwrap());
    let blobs = LocalBlobStore::open(
        dir.path().join("blobs"),
        "http://127.0.0.1:1",
        b"blob-secret".to_vec(),
        clock.clone(),
    )
    .unwrap();
    let engine = Engine::new(
        store.clone(),
        Arc::new(queue),
        Providers::new(),
        Arc::new(StaticRouter::new(Vec::new())),
        clock,
        EngineConfig {
            session_key: voxdial_app::session::SessionKey::new("the walk's session key"),
            ..EngineConfig::default()
        },
    )
    .with_agents(agents)
    .with_blobs(Arc::new(blobs));
    let own = tenant(&engine, store.as_ref(), ACME, 1).await;
    let other = tenant(&engine, store.as_ref(), RIVAL, 2).await;
    let bearer = |secret: &voxdial_domain::KeySecret| Some(format!("Bearer {}", secret.expose()));
    let mut keys = vec![
        ("none", None),
        ("malformed", Some("Bearer not-a-key".to_string())),
        (
            "unknown",
            Some(format!("Bearer vxd_{}_{}", "ab".repeat(8), "cd".repeat(32))),
        ),
    ];
    let (revoked, secret) = engine
        .create_api_key(&org(ACME), Role::Admin, "old")
        .await
        .unwrap();
    engine
        .revoke_api_key(&org(ACME), &revoked.id)
        .await
        .unwrap();
    keys.push(("revoked", bearer(&secret)));
    for (name, role) in [
        ("viewer", Role::Viewer),
        ("operator", Role::Operator),
        ("admin", Role::Admin),
    ] {
        let (_, secret) = engine.create_api_key(&org(ACME), role, name).await.unwrap();
        keys.push((name, bearer(&secret)));
    }
    World {
        app: voxdial_http::api::router(engine.clone()),
        engine,
        own,
        other,
        keys,
        _dir: dir,
    }
}

/// Everything a refused request must leave as it was.
async fn snapshot(w: &World) -> Value {
    let store = w.engine.store();
    let mut out = Vec::new();
    for (t, name) in [(&w.own, ACME), (&w.other, RIVAL)] {
        out.push(json!({
            "campaign": store.campaign(&t.campaign).await.unwrap(),
            "leads": store.leads(&t.campaign, None, 100).await.unwrap(),
            "calls": store.calls(&t.campaign, None, 100).await.unwrap(),
            "dnc": store.dnc_hit(&org(name), &t.campaign, &t.phone).await.unwrap(),
            "import": store.lead_import(&t.import).await.unwrap(),
        }));
    }
    for name in [ACME, RIVAL] {
        out.push(json!({
            "campaigns": w.engine.campaigns(&org(name)).await.unwrap(),
            "agents": w.engine.human_agents(&org(name)).await.unwrap(),
            "ai_agents": w.engine.ai_agents(&org(name)).await.unwrap(),
            "keys": store.api_keys(&org(name)).await.unwrap(),
            "audit": store.audit(&org(name), 1000).await.unwrap(),
        }));
    }
    Value::Array(out)
}

/// Which organisation's ids a request names.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Scope {
    Own,
    Other,
    /// Ids that exist nowhere.
    Ghost,
}

/// The request a rule is walked with: path and body.
fn request_for(rule: &RouteRule, w: &World, scope: Scope) -> Option<(String, Option<String>)> {
    let t = match scope {
        Scope::Own | Scope::Ghost => &w.own,
        Scope::Other => &w.other,
    };
    let ghost = |real: &str| match scope {
        Scope::Ghost => format!("ghost-{}", real.len()),
        _ => real.to_string(),
    };
    let campaign = ghost(t.campaign.as_str());
    let call = ghost(t.call.as_str());
    let lead = ghost(t.lead.as_str());
    let agent = ghost(t.agent.as_str());
    let ai_agent = ghost(t.ai_agent.as_str());
    let put_agent = ghost(t.put_agent.as_str());
    let import = ghost(t.import.as_str());
    let key = match scope {
        Scope::Ghost => "ffffffffffffffff".to_string(),
        _ => t.spare_key.to_string(),
    };
    // Analytics name a campaign in the query string.
    let scoped = rule.path.contains("{id}") || rule.path.starts_with("/v1/analytics");
    if scope != Scope::Own && !scoped && rule.path != "/v1/dnc" {
        return None;
    }
    let json = |v: Value| Some(v.to_string());
    let (path, body) = match (rule.method, rule.path) {
        ("POST", "/v1/campaigns") => ("/v1/campaigns".into(), json(json!({"name": "new"}))),
        ("GET", "/v1/campaigns") => ("/v1/campaigns".into(), None),
        ("GET", "/v1/campaigns/{id}") => (format!("/v1/campaigns/{campaign}"), None),
        ("POST", "/v1/campaigns/{id}/leads") => (
            format!("/v1/campaigns/{campaign}/leads"),
            Some("phone,name\n+12125550142,New\n".into()),
        ),
        ("GET", "/v1/campaigns/{id}/leads") => (format!("/v1/campaigns/{campaign}/leads"), None),
        ("GET", "/v1/campaigns/{id}/calls") => (format!("/v1/campaigns/{campaign}/calls"), None),
        ("POST", "/v1/campaigns/{id}/{action}") => {
            (format!("/v1/campaigns/{campaign}/start"), None)
        }
        ("PUT", "/v1/campaigns/{id}/concurrency") => (
            format!("/v1/campaigns/{campaign}/concurrency"),
            json(json!({"max_concurrency": 3})),
        ),
        ("POST", "/v1/campaigns/{id}/consent-waiver") => (
            format!("/v1/campaigns/{campaign}/consent-waiver"),
            json(json!({"reason": "existing customers"})),
        ),
        ("POST", "/v1/campaigns/{id}/imports") => {
            (format!("/v1/campaigns/{campaign}/imports"), None)
        }
        ("POST", "/v1/campaigns/{id}/imports/{import}/start") => (
            format!("/v1/campaigns/{campaign}/imports/{import}/start"),
            None,
        ),
        ("GET", "/v1/campaigns/{id}/imports/{import}") => {
            (format!("/v1/campaigns/{campaign}/imports/{import}"), None)
        }
        ("GET", "/v1/calls/{id}") => (format!("/v1/calls/{call}"), None),
        ("POST", "/v1/calls/{id}/disposition") => (
            format!("/v1/calls/{call}/disposition"),
            json(json!({"disposition": "interested"})),
        ),
        ("GET", "/v1/calls/{id}/analysis") => (format!("/v1/calls/{call}/analysis"), None),
        ("POST", "/v1/calls/{id}/recording/{action}") => {
            (format!("/v1/calls/{call}/recording/start"), None)
        }
        ("POST", "/v1/leads/{id}/erase") => (format!("/v1/leads/{lead}/erase"), None),
        ("GET", "/v1/leads/{id}/erasure") => (format!("/v1/leads/{lead}/erasure"), None),
        ("POST", "/v1/dnc") => (
            "/v1/dnc".into(),
            json(json!({"numbers": ["+12125550143"], "campaign_id": campaign})),
        ),
        ("GET", "/v1/providers") => ("/v1/providers".into(), None),
        ("GET", "/v1/agents") => ("/v1/agents".into(), None),
        ("PUT", "/v1/agents/{id}") => (
            format!("/v1/agents/{put_agent}"),
            json(json!({"name": "Eve", "number": "+12125550144"})),
        ),
        ("POST", "/v1/agents/{id}/status") => (
            format!("/v1/agents/{agent}/status"),
            json(json!({"status": "available"})),
        ),
        ("PUT", "/v1/campaigns/{id}/ai-agent") => (
            format!("/v1/campaigns/{campaign}/ai-agent"),
            json(json!({"id": ai_agent})),
        ),
        ("GET", "/v1/ai-agents") => ("/v1/ai-agents".into(), None),
        ("POST", "/v1/ai-agents") => ("/v1/ai-agents".into(), Some(ai_agent_draft())),
        ("POST", "/v1/ai-agents/validate") => {
            ("/v1/ai-agents/validate".into(), Some(ai_agent_draft()))
        }
        ("GET", "/v1/ai-agents/{id}") => (format!("/v1/ai-agents/{ai_agent}"), None),
        // A plain GET (no upgrade): refused as for listen-in.
        ("GET", "/v1/ai-agents/{id}/test-call") => {
            (format!("/v1/ai-agents/{ai_agent}/test-call"), None)
        }
        ("PUT", "/v1/ai-agents/{id}") => {
            (format!("/v1/ai-agents/{ai_agent}"), Some(ai_agent_draft()))
        }
        ("POST", "/v1/keys") => ("/v1/keys".into(), json(json!({"role": "viewer"}))),
        ("GET", "/v1/keys") => ("/v1/keys".into(), None),
        ("POST", "/v1/keys/{id}/revoke") => (format!("/v1/keys/{key}/revoke"), None),
        ("POST", "/v1/keys/{id}/rotate") => (format!("/v1/keys/{key}/rotate"), None),
        ("GET", "/v1/audit") => ("/v1/audit".into(), None),
        ("GET", "/v1/analytics") => (format!("/v1/analytics?campaign_id={campaign}"), None),
        ("GET", "/v1/analytics.csv") => (format!("/v1/analytics.csv?campaign_id={campaign}"), None),
        (_, "/v1/session") => ("/v1/session".into(), None),
        ("GET", "/v1/campaigns/{id}/events") => (format!("/v1/campaigns/{campaign}/events"), None),
        ("GET", "/v1/calls/{id}/recording") => (format!("/v1/calls/{call}/recording"), None),
        ("GET", "/v1/calls/{id}/transcript") => (format!("/v1/calls/{call}/transcript"), None),
        ("GET", "/v1/campaigns/{id}/snapshot") => {
            (format!("/v1/campaigns/{campaign}/snapshot"), None)
        }
        ("POST", "/v1/calls/{id}/hangup") => (format!("/v1/calls/{call}/hangup"), None),
        ("POST", "/v1/calls/{id}/transfer") => (
            format!("/v1/calls/{call}/transfer"),
            json(json!({"agent_id": agent, "mode": "cold"})),
        ),
        // A plain GET (no upgrade): the guard answers first, then the upgrade is refused.
        ("GET", "/v1/calls/{id}/listen") => (format!("/v1/calls/{call}/listen"), None),
        ("GET", "/v1/calls/{id}/live") => (format!("/v1/calls/{call}/live"), None),
        ("POST", "/v1/calls/{id}/listen/ticket") => {
            (format!("/v1/calls/{call}/listen/ticket"), None)
        }
        ("POST", "/v1/calls/{id}/live/ticket") => (format!("/v1/calls/{call}/live/ticket"), None),
        ("POST", "/v1/ai-agents/{id}/test-call/ticket") => {
            (format!("/v1/ai-agents/{ai_agent}/test-call/ticket"), None)
        }
        (method, path) => panic!("no walk case for {method} {path}: add one here"),
    };
    Some((path, body))
}

async fn send(
    w: &World,
    method: &str,
    path: &str,
    body: Option<String>,
    auth: Option<&str>,
) -> (StatusCode, String) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let content_type = if path.ends_with("/leads") {
        "text/csv"
    } else {
        "application/json"
    };
    let request = request
        .header("content-type", content_type)
        .body(Body::from(body.unwrap_or_default()))
        .unwrap();
    let response = w.app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    // A live event stream never ends: its status is the answer.
    if response.headers().get("content-type").map(|v| v.as_bytes()) == Some(b"text/event-stream") {
        return (status, String::new());
    }
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn role_of(name: &str) -> Option<Role> {
    match name {
        "viewer" => Some(Role::Viewer),
        "operator" => Some(Role::Operator),
        "admin" => Some(Role::Admin),
        _ => None,
    }
}

/// Answers an own, allowed request may give besides success: a record
/// not ready or not erased yet, a state the action does not fit.
fn fine_for_own(rule: &RouteRule, status: StatusCode) -> bool {
    let not_yet = ["/analysis", "/erasure", "/recording", "/transcript"]
        .iter()
        .any(|stage| rule.path.ends_with(stage));
    !matches!(status.as_u16(), 401 | 403 | 500) && (status != StatusCode::NOT_FOUND || not_yet)
}

async fn walk(w: World) {
    let mut walked = 0;
    for rule in ROUTES {
        for scope in [Scope::Other, Scope::Own] {
            let Some((path, body)) = request_for(rule, &w, scope) else {
                continue;
            };
            for (name, auth) in &w.keys {
                let before = snapshot(&w).await;
                let (status, text) =
                    send(&w, rule.method, &path, body.clone(), auth.as_deref()).await;
                let what = format!("{name} {} {path} ({scope:?}): {status} {text}", rule.method);
                let refused = match role_of(name) {
                    None => {
                        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                        true
                    }
                    Some(role) if !role.allows(rule.access) => {
                        assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
                        true
                    }
                    Some(_)
                        if scope == Scope::Other
                            && (rule.method, rule.path) == ("PUT", "/v1/agents/{id}") =>
                    {
                        // Agent ids are each organisation's own: another's id
                        // makes the caller's own agent, exactly as a free id
                        // does, and leaves the other organisation's as it was.
                        let (path, body) = request_for(rule, &w, Scope::Ghost).unwrap();
                        let (ghost_status, ghost) =
                            send(&w, rule.method, &path, body, auth.as_deref()).await;
                        assert_eq!(status, ghost_status, "{what}");
                        assert_eq!(
                            text.replace(w.other.put_agent.as_str(), "ID"),
                            ghost_ids(&ghost),
                            "{what}"
                        );
                        let rival_agents = |s: &Value| s[3]["agents"].clone();
                        assert_eq!(rival_agents(&snapshot(&w).await), rival_agents(&before));
                        walked += 1;
                        continue;
                    }
                    Some(_) if scope == Scope::Other => {
                        assert_eq!(status, StatusCode::NOT_FOUND, "{what}");
                        // Exactly the answer for an id that exists nowhere.
                        let (path, body) = request_for(rule, &w, Scope::Ghost).unwrap();
                        let (_, ghost) = send(&w, rule.method, &path, body, auth.as_deref()).await;
                        let same = |t: &str, tenant: &Tenant| {
                            // Longest first: call and lead ids start with the campaign's.
                            t.replace(tenant.call.as_str(), "ID")
                                .replace(tenant.lead.as_str(), "ID")
                                .replace(tenant.campaign.as_str(), "ID")
                                .replace(tenant.ai_agent.as_str(), "ID")
                                .replace(tenant.agent.as_str(), "ID")
                                .replace(tenant.import.as_str(), "ID")
                                .replace(tenant.spare_key.as_str(), "ID")
                        };
                        let ghost = ghost_ids(&ghost.replace("ffffffffffffffff", "ID"));
                        assert_eq!(same(&text, &w.other), ghost, "{what}");
                        true
                    }
                    Some(_) => {
                        assert!(fine_for_own(rule, status), "{what}");
                        false
                    }
                };
                if refused {
                    assert_eq!(snapshot(&w).await, before, "{what} changed something");
                }
                walked += 1;
            }
        }
    }
    assert!(walked >= ROUTES.len() * 7, "{walked} requests walked");
    then_viewers_see_masked_fields_and_the_audit_names_the_keys(&w).await;
    then_a_do_not_call_list_stays_in_its_organisation(&w).await;
}

/// Ghost ids (`ghost-<len>`) replaced by the placeholder real ids get.
fn ghost_ids(text: &str) -> String {
    let mut out = text.to_string();
    for len in (1..=80).rev() {
        out = out.replace(&format!("ghost-{len}"), "ID");
    }
    out
}

async fn then_viewers_see_masked_fields_and_the_audit_names_the_keys(w: &World) {
    let auth = |name: &str| {
        w.keys
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, a)| a.clone())
    };
    let path = format!("/v1/campaigns/{}/leads", w.own.campaign);
    let (_, viewer) = send(w, "GET", &path, None, auth("viewer").as_deref()).await;
    let (_, operator) = send(w, "GET", &path, None, auth("operator").as_deref()).await;
    assert!(viewer.contains(MASKED), "{viewer}");
    assert!(!viewer.contains(&w.own.phone.as_str()[2..]), "{viewer}");
    assert!(operator.contains(w.own.phone.as_str()), "{operator}");

    let (status, audit) = send(w, "GET", "/v1/audit", None, auth("admin").as_deref()).await;
    assert_eq!(status, StatusCode::OK);
    let audit: Vec<Value> = serde_json::from_str(&audit).unwrap();
    let operator_key = w.engine.store().api_keys(&org(ACME)).await.unwrap();
    let operator_key = operator_key
        .iter()
        .find(|k| k.role == Role::Operator)
        .unwrap();
    assert!(
        audit.iter().any(|e| e["route"] == "/v1/campaigns"
            && e["method"] == "POST"
            && e["key_id"] == operator_key.id.as_str()),
        "{audit:?}"
    );
    // Reads leave no entry; every entry is the caller's organisation's.
    assert!(
        audit
            .iter()
            .all(|e| e["method"] != "GET" && e["org_id"] == ACME)
    );
}

/// An operator's organisation-wide entry (no campaign named) stops that
/// organisation's campaigns, never another organisation's: here the number
/// of the rival's own lead.
async fn then_a_do_not_call_list_stays_in_its_organisation(w: &World) {
    let operator = w
        .keys
        .iter()
        .find(|(n, _)| *n == "operator")
        .and_then(|(_, a)| a.clone());
    let body = json!({"numbers": [w.other.phone.as_str()]}).to_string();
    let (status, _) = send(w, "POST", "/v1/dnc", Some(body), operator.as_deref()).await;
    assert_eq!(status, StatusCode::OK);
    let store = w.engine.store();
    let own = store
        .dnc_hit(&org(ACME), &w.own.campaign, &w.other.phone)
        .await
        .unwrap();
    assert!(own.global, "{own:?}");
    let rival = store
        .dnc_hit(&org(RIVAL), &w.other.campaign, &w.other.phone)
        .await
        .unwrap();
    assert!(!rival.global && !rival.campaign, "{rival:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_role_and_organisation_on_the_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(dir.path().join("s.sqlite")).unwrap());
    walk(world(store).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_role_and_organisation_on_dynamodb() {
    let moto = Emulator::get();
    let clients = moto.clients(None);
    let (store, _table) = moto.store(&clients).await.expect("a fresh table");
    walk(world(Arc::new(store)).await).await;
}

/// `GET /openapi.json` serves the document, without a key, and every
/// operation it documents is a route of the live router: a guarded one
/// answers the guard's 401 (a path the router lacks answers 404, a method
/// it lacks 405), an open one answers 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served_and_names_only_real_routes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(dir.path().join("s.sqlite")).unwrap());
    let w = world(store).await;
    let (status, served) = send(&w, "GET", voxdial_http::openapi::PATH, None, None).await;
    assert_eq!(status, StatusCode::OK);
    let served: Value = serde_json::from_str(&served).unwrap();
    assert_eq!(served, voxdial_http::openapi::document());
    let mut operations = 0;
    for (template, item) in served["paths"].as_object().unwrap() {
        // Every parameter filled with a value no route names literally.
        let path = template
            .split('/')
            .map(|s| if s.starts_with('{') { "p1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for (method, operation) in item.as_object().unwrap() {
            let method = method.to_ascii_uppercase();
            let guarded = operation["security"] != json!([]);
            let (status, body) = send(&w, &method, &path, None, None).await;
            let expected = if guarded {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::OK
            };
            assert_eq!(status, expected, "{method} {template}: {body}");
            operations += 1;
        }
    }
    assert_eq!(
        operations,
        ROUTES.len() + 2,
        "ROUTES and the two open routes"
    );
}

/// A path no route has, and a method a route lacks, answer JSON errors
/// like every other (404; 405 naming the methods the route has), before
/// and without any key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_methods_answer_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(dir.path().join("s.sqlite")).unwrap());
    let w = world(store).await;
    for (method, path, expected) in [
        (
            "GET",
            "/v1/campaigns/c/imports/a/b/start",
            StatusCode::NOT_FOUND,
        ),
        ("GET", "/nothing-here", StatusCode::NOT_FOUND),
        ("TRACE", "/v1/campaigns", StatusCode::METHOD_NOT_ALLOWED),
        ("DELETE", "/v1/agents/ana", StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let (status, body) = send(&w, method, path, None, None).await;
        assert_eq!(status, expected, "{method} {path}: {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["status"], expected.as_u16(), "{body}");
        assert!(error["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
}
