//! The AI agents API: create, read, update (a new version), list and
//! validate `/v1/ai-agents`, a campaign's agent pinned at its start and
//! moved only through `PUT /v1/campaigns/{id}/ai-agent`, clear 400s for
//! invalid drafts, and another organisation's agents answering 404.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;
use voxdial_app::{Engine, EngineConfig};
use voxdial_domain::{OrgId, Role};

struct Api {
    app: axum::Router,
    engine: Engine,
    _dir: tempfile::TempDir,
}

fn api() -> Api {
    let dir = tempfile::tempdir().unwrap();
    let engine = voxdial_tests::local_engine(dir.path(), EngineConfig::default());
    Api {
        app: voxdial_http::api::router(engine.clone()),
        engine,
        _dir: dir,
    }
}

impl Api {
    async fn key(&self, org: &str, role: Role) -> String {
        let org = OrgId::parse(org).unwrap();
        let (_, secret) = self.engine.create_api_key(&org, role, "t").await.unwrap();
        format!("Bearer {}", secret.expose())
    }

    async fn send(&self, key: &str, method: &str, path: &str, body: &str) -> (StatusCode, Value) {
        let content_type = if path.ends_with("/leads") {
            "text/csv"
        } else {
            "application/json"
        };
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", key)
            .header("content-type", content_type)
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }
}

fn agent(name: &str) -> String {
    json!({"config": {
        "name": name,
        "system_prompt": format!("You are {name} from Sunrise Dental."),
        "voice": "Puck",
        "language": "en-US",
        "tools": ["record_outcome", "end_call"],
        "voicemail": {"text": format!("Hi, this is {name}. Please call us back.")},
    }})
    .to_string()
}

#[tokio::test]
async fn agents_are_created_versioned_read_and_listed() {
    let api = api();
    let admin = api.key("acme", Role::Admin).await;
    let viewer = api.key("acme", Role::Viewer).await;

    let (status, created) = api
        .send(&admin, "POST", "/v1/ai-agents", &agent("Maya"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["version"], 1);
    assert_eq!(created["org_id"], "acme");
    assert_eq!(created["config"]["voice"], "Puck");
    // What the draft left out is the built-in agent's.
    assert_eq!(created["config"]["ivr"]["options"][0]["digit"], "1");
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/v1/ai-agents/{id}");

    let (status, v2) = api.send(&admin, "PUT", &path, &agent("Maya B")).await;
    assert_eq!(status, StatusCode::OK, "{v2}");
    assert_eq!(v2["version"], 2);

    let (_, latest) = api.send(&viewer, "GET", &path, "").await;
    assert_eq!(latest, v2);
    let (_, first) = api
        .send(&viewer, "GET", &format!("{path}?version=1"), "")
        .await;
    assert_eq!(first, created);
    let (status, _) = api
        .send(&viewer, "GET", &format!("{path}?version=3"), "")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = api.send(&viewer, "GET", "/v1/ai-agents", "").await;
    assert_eq!(list, json!([v2]));

    // An update edited from version 1 is refused: version 2 came first.
    let mut stale: Value = serde_json::from_str(&agent("Maya C")).unwrap();
    stale["base_version"] = json!(1);
    let (status, body) = api.send(&admin, "PUT", &path, &stale.to_string()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    stale["base_version"] = json!(2);
    let (status, v3) = api.send(&admin, "PUT", &path, &stale.to_string()).await;
    assert_eq!((status, v3["version"].clone()), (StatusCode::OK, json!(3)));

    // Viewers and operators read; only admins write.
    let operator = api.key("acme", Role::Operator).await;
    let (status, _) = api.send(&operator, "PUT", &path, &agent("X")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn invalid_drafts_get_a_400_naming_each_problem_and_store_nothing() {
    let api = api();
    let admin = api.key("acme", Role::Admin).await;
    let long = "x".repeat(20_001);
    let cases = [
        (
            json!({"config": {"system_prompt": "  "}}),
            "config.system_prompt: must not be empty",
        ),
        (
            json!({"config": {"system_prompt": long}}),
            "config.system_prompt: 20001 characters",
        ),
        (
            json!({"config": {"tools": ["launch_rocket"]}}),
            "unknown variant `launch_rocket`",
        ),
        (
            json!({"config": {"sytem_prompt": "hi"}}),
            "config.sytem_prompt: unknown field",
        ),
        (
            json!({"config": {"language": "Klingon"}}),
            "config.language:",
        ),
        (
            json!({"config": {"hedge": {"fillers": ["uh"]}}}),
            "config.hedge.fillers[0]: no bundled filler",
        ),
        (
            json!({"preferred_provider": "nowhere"}),
            "preferred_provider: no provider nowhere",
        ),
        (
            json!({"config": {}, "colour": "red"}),
            "unknown field `colour`",
        ),
    ];
    for (draft, problem) in &cases {
        let (status, body) = api
            .send(&admin, "POST", "/v1/ai-agents", &draft.to_string())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{draft}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(problem),
            "{draft}: {body}"
        );
        let (status, check) = api
            .send(&admin, "POST", "/v1/ai-agents/validate", &draft.to_string())
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(check["valid"], false, "{draft}");
        let problems = check["problems"].as_array().unwrap();
        assert!(
            problems
                .iter()
                .any(|p| p.as_str().unwrap().contains(problem)),
            "{draft}: {check}"
        );
    }
    let (status, body) = api.send(&admin, "POST", "/v1/ai-agents", "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Several problems of one draft are all listed.
    let two = json!({"config": {"name": "", "system_prompt": ""}}).to_string();
    let (_, check) = api
        .send(&admin, "POST", "/v1/ai-agents/validate", &two)
        .await;
    assert_eq!(check["problems"].as_array().unwrap().len(), 2, "{check}");
    let (_, check) = api
        .send(&admin, "POST", "/v1/ai-agents/validate", &agent("Ok"))
        .await;
    assert_eq!(check, json!({"valid": true, "problems": []}));
    // Nothing was stored.
    let (_, list) = api.send(&admin, "GET", "/v1/ai-agents", "").await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn another_organisations_agent_is_not_found() {
    let api = api();
    let acme = api.key("acme", Role::Admin).await;
    let rival = api.key("rival", Role::Admin).await;
    let (_, created) = api
        .send(&acme, "POST", "/v1/ai-agents", &agent("Maya"))
        .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/v1/ai-agents/{id}");

    let (status, _) = api.send(&rival, "GET", &path, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.send(&rival, "PUT", &path, &agent("Stolen")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = api.send(&rival, "GET", "/v1/ai-agents", "").await;
    assert_eq!(list, json!([]));
    // Nor can a rival campaign use it.
    let body = json!({"name": "c", "agent_id": id}).to_string();
    let (status, error) = api.send(&rival, "POST", "/v1/campaigns", &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let (_, latest) = api.send(&acme, "GET", &path, "").await;
    assert_eq!(latest, created, "the rival's update changed nothing");
}

#[tokio::test]
async fn a_campaign_pins_its_agent_version_at_start_and_moves_only_when_told() {
    let api = api();
    let admin = api.key("acme", Role::Admin).await;
    let operator = api.key("acme", Role::Operator).await;
    let (_, created) = api
        .send(&admin, "POST", "/v1/ai-agents", &agent("Maya"))
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let agent_path = format!("/v1/ai-agents/{id}");

    // An unknown agent is refused when the campaign is created.
    let ghost = json!({"name": "c", "agent_id": "agt_ghost"}).to_string();
    let (status, _) = api.send(&operator, "POST", "/v1/campaigns", &ghost).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // GIVEN a draft campaign of Maya, whose agent moves to version 2 before the start
    let body = json!({"name": "c", "agent_id": id}).to_string();
    let (status, campaign) = api.send(&operator, "POST", "/v1/campaigns", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{campaign}");
    assert_eq!(campaign["agent_version"], Value::Null);
    let cid = campaign["id"].as_str().unwrap().to_string();
    api.send(&admin, "PUT", &agent_path, &agent("Maya v2"))
        .await;
    let csv = "phone,name\n+12125550142,Ann\n";
    let (status, _) = api
        .send(
            &operator,
            "POST",
            &format!("/v1/campaigns/{cid}/leads"),
            csv,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // WHEN it starts, it pins the latest version: 2
    let (status, started) = api
        .send(&operator, "POST", &format!("/v1/campaigns/{cid}/start"), "")
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["status"], "running");
    assert_eq!(started["agent_version"], 2);

    // THEN a version 3 leaves the running campaign on version 2
    api.send(&admin, "PUT", &agent_path, &agent("Maya v3"))
        .await;
    let (_, view) = api
        .send(&operator, "GET", &format!("/v1/campaigns/{cid}"), "")
        .await;
    assert_eq!(view["campaign"]["agent_version"], 2);

    // until an operator moves it (to the latest, or to a named version)
    let move_path = format!("/v1/campaigns/{cid}/ai-agent");
    let (status, moved) = api
        .send(&operator, "PUT", &move_path, &json!({"id": id}).to_string())
        .await;
    assert_eq!(
        (status, moved["agent_version"].clone()),
        (StatusCode::OK, json!(3))
    );
    let (_, moved) = api
        .send(
            &operator,
            "PUT",
            &move_path,
            &json!({"id": id, "version": 1}).to_string(),
        )
        .await;
    assert_eq!(moved["agent_version"], 1);
    let (status, _) = api
        .send(
            &operator,
            "PUT",
            &move_path,
            &json!({"id": id, "version": 9}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .send(
            &operator,
            "PUT",
            &move_path,
            &json!({"id": "agt_ghost"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let viewer = api.key("acme", Role::Viewer).await;
    let (status, _) = api
        .send(&viewer, "PUT", &move_path, &json!({"id": id}).to_string())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, view) = api
        .send(&operator, "GET", &format!("/v1/campaigns/{cid}"), "")
        .await;
    assert_eq!(view["campaign"]["agent_version"], 1);
}
