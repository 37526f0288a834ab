//! Media tickets over real sockets on 127.0.0.1, laid out as on AWS: one
//! engine answers the API and issues tickets (the API function), another
//! on the same store and session key holds the live calls and serves only
//! the socket routes (the media-bridge container, mounting
//! `voxdial_http::live::router` and `voxdial_http::listen::router`). A
//! ticket opens its one socket there with no key and no cookie, from any
//! page's origin; it is refused when forged, expired, of a revoked key, for
//! another call, purpose or route, or used across organisations; a viewer
//! gets no listen-in ticket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tower::ServiceExt;
use voxdial_app::router::{Providers, StaticRouter};
use voxdial_app::session::SessionKey;
use voxdial_app::ticket::{TICKET_TTL_SECS, TicketPurpose};
use voxdial_app::{Caller, Engine, EngineConfig};
use voxdial_conversation::{LiveEvent, Speaker};
use voxdial_domain::{CallId, Campaign, CampaignId, Clock, OrgId, Role, Store};
use voxdial_local::{LocalQueue, LocalStore, QueueConfig};
use voxdial_testkit::ManualClock;
use voxdial_testkit::fixtures::{call_for, campaign, lead, t0};

/// Guards only against a hang.
const HANG: Duration = Duration::from_secs(30);

const SESSION_KEY: &str = "the deployment's session key";

struct World {
    /// Answers the API and issues tickets.
    api: Engine,
    /// Holds the live calls and serves the sockets.
    media: Engine,
    media_addr: SocketAddr,
    /// A call of the default organisation, and its campaign.
    own: (CallId, CampaignId),
    /// Another call of the default organisation.
    second: (CallId, CampaignId),
    /// A call of another organisation.
    rival: (CallId, CampaignId),
    _dir: tempfile::TempDir,
}

fn engine(
    store: Arc<dyn Store>,
    dir: &std::path::Path,
    name: &str,
    config: EngineConfig,
) -> Engine {
    let clock: Arc<dyn Clock> = ManualClock::shared(t0());
    let queue = LocalQueue::open(
        dir.join(format!("{name}.sqlite")),
        QueueConfig::default(),
        clock.clone(),
    )
    .unwrap();
    Engine::new(
        store,
        Arc::new(queue),
        Providers::new(),
        Arc::new(StaticRouter::new(Vec::new())),
        clock,
        config,
    )
}

async fn call_of(store: &dyn Store, name: &str, org: &str, n: usize) -> (CallId, CampaignId) {
    let mut c: Campaign = campaign(name, t0());
    c.org_id = OrgId::parse(org).unwrap();
    store.insert_campaign(&c).await.unwrap();
    let l = lead(&c.id, n, t0());
    store.import_leads(&c.id, vec![l.clone()]).await.unwrap();
    let call = call_for(&l, 1, t0());
    store.create_call(&call).await.unwrap();
    (call.id, c.id)
}

async fn world_with(media_key: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(LocalStore::open(dir.path().join("s.sqlite")).unwrap());
    let own = call_of(store.as_ref(), "camp-own", OrgId::default().as_str(), 1).await;
    let second = call_of(store.as_ref(), "camp-second", OrgId::default().as_str(), 2).await;
    let rival = call_of(store.as_ref(), "camp-rival", "rival", 3).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let media_addr = listener.local_addr().unwrap();
    let media = engine(
        store.clone(),
        dir.path(),
        "media",
        EngineConfig {
            session_key: SessionKey::new(media_key),
            ..EngineConfig::default()
        },
    );
    let api = engine(
        store,
        dir.path(),
        "api",
        EngineConfig {
            session_key: SessionKey::new(SESSION_KEY),
            media_socket_base: Some(format!("ws://{media_addr}")),
            ..EngineConfig::default()
        },
    );
    // The container's public routes for the calls it holds.
    let app = voxdial_http::listen::router(media.clone())
        .merge(voxdial_http::live::router(media.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    World {
        api,
        media,
        media_addr,
        own,
        second,
        rival,
        _dir: dir,
    }
}

async fn world() -> World {
    world_with(SESSION_KEY).await
}

async fn key(engine: &Engine, org: &str, role: Role) -> (Caller, String) {
    let (key, secret) = engine
        .create_api_key(&OrgId::parse(org).unwrap(), role, "tickets")
        .await
        .unwrap();
    let caller = Caller {
        key_id: key.id,
        org_id: key.org_id,
        role: key.role,
    };
    (caller, format!("Bearer {}", secret.expose()))
}

/// `POST path` on the API with `auth`: the status and the JSON answer.
async fn post(w: &World, path: &str, auth: &str) -> (u16, Value) {
    let request = Request::post(path)
        .header("authorization", auth)
        .body(Body::empty())
        .unwrap();
    let response = voxdial_http::api::router(w.api.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The URL a ticket route answers, checked to be on the media server.
async fn ticket_url(w: &World, path: &str, auth: &str) -> String {
    let (status, body) = post(w, path, auth).await;
    assert_eq!(status, 200, "{path}: {body}");
    let url = body["url"].as_str().unwrap().to_string();
    let socket = path.strip_suffix("/ticket").unwrap();
    assert!(
        url.starts_with(&format!("ws://{}{socket}?ticket=vxt1.", w.media_addr)),
        "{url}"
    );
    let expires = body["expires_unix"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(
        expires > now && expires <= now + TICKET_TTL_SECS + 5,
        "{body}"
    );
    url
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `url` from the console's page on the API's domain (another
/// origin than the media server's), with nothing but the URL; the
/// handshake's HTTP status when refused.
async fn open(url: &str) -> Result<Socket, u16> {
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", "https://console.example.com".parse().unwrap());
    match tokio::time::timeout(HANG, tokio_tungstenite::connect_async(request))
        .await
        .expect("no handshake before the hang guard")
    {
        Ok((socket, _)) => Ok(socket),
        Err(WsError::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("unexpected handshake error: {other}"),
    }
}

async fn next(socket: &mut Socket) -> Option<Message> {
    tokio::time::timeout(HANG, socket.next())
        .await
        .expect("nothing before the hang guard")
        .map(Result::unwrap)
}

async fn next_json(socket: &mut Socket) -> Value {
    match next(socket).await {
        Some(Message::Text(text)) => serde_json::from_str(&text).unwrap(),
        other => panic!("expected an event, got {other:?}"),
    }
}

fn line(index: usize, text: &str) -> LiveEvent {
    LiveEvent::Line {
        index,
        speaker: Speaker::Agent,
        at_ms: 1200,
        transcript: text.into(),
    }
}

#[tokio::test]
async fn a_ticket_opens_a_live_call_s_events_on_the_server_that_holds_it() {
    let w = world().await;
    let (call, campaign) = w.own.clone();
    // GIVEN a call live on the media server, which has said a first line
    let feed = w.media.live().open(&call, &campaign);
    feed.publish(line(0, "Hello, this is Maya"));
    let (_, operator) = key(&w.api, OrgId::default().as_str(), Role::Operator).await;

    // WHEN the console asks the API for a live ticket and opens its URL
    let url = ticket_url(&w, &format!("/v1/calls/{call}/live/ticket"), &operator).await;
    let mut socket = open(&url).await.expect("admitted with the ticket alone");

    // THEN the line said so far comes first, as the SSE's live event has it
    assert_eq!(
        next_json(&mut socket).await,
        json!({"call_id": call.as_str(), "type": "line", "index": 0,
            "speaker": "agent", "at_ms": 1200, "transcript": "Hello, this is Maya"})
    );
    // and each event as the bridge publishes it, this call's only
    let (other, other_campaign) = w.second.clone();
    let other_feed = w.media.live().open(&other, &other_campaign);
    other_feed.publish(line(0, "Another call"));
    feed.publish(line(1, "How can I help?"));
    feed.publish(LiveEvent::BargeIn { count: 1 });
    assert_eq!(
        next_json(&mut socket).await["transcript"],
        "How can I help?"
    );
    assert_eq!(
        next_json(&mut socket).await,
        json!({"call_id": call.as_str(), "type": "barge_in", "count": 1})
    );

    // WHEN the call ends, THEN the socket closes normally
    drop(feed);
    match next(&mut socket).await {
        Some(Message::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected a close, got {other:?}"),
    }
}

#[tokio::test]
async fn a_viewer_watches_with_transcripts_masked_and_gets_no_listen_in_ticket() {
    let w = world().await;
    let (call, campaign) = w.own.clone();
    let feed = w.media.live().open(&call, &campaign);
    feed.publish(line(0, "My number is 555 0100"));
    let (viewer_caller, viewer) = key(&w.api, OrgId::default().as_str(), Role::Viewer).await;

    let url = ticket_url(&w, &format!("/v1/calls/{call}/live/ticket"), &viewer).await;
    let mut socket = open(&url).await.expect("a viewer watches");
    let event = next_json(&mut socket).await;
    assert_eq!(event["type"], "line");
    assert_eq!(event["transcript"], voxdial_http::auth::MASKED);

    // A viewer may not listen in: no ticket from the route, nor from the engine.
    let (status, _) = post(&w, &format!("/v1/calls/{call}/listen/ticket"), &viewer).await;
    assert_eq!(status, 403);
    let refused = w
        .api
        .issue_ticket(&viewer_caller, TicketPurpose::Listen, call.as_str(), 0)
        .await;
    assert!(matches!(refused, Err(voxdial_app::AppError::Forbidden(_))));
    assert!(!feed.wants_audio());
}

#[tokio::test]
async fn a_listen_in_ticket_brings_the_call_s_audio_to_an_operator() {
    let w = world().await;
    let (call, campaign) = w.own.clone();
    let feed = w.media.live().open(&call, &campaign);
    let (_, operator) = key(&w.api, OrgId::default().as_str(), Role::Operator).await;
    let url = ticket_url(&w, &format!("/v1/calls/{call}/listen/ticket"), &operator).await;
    let mut socket = open(&url).await.expect("admitted with the ticket alone");
    tokio::time::timeout(HANG, async {
        while !feed.wants_audio() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the listener is subscribed");
    feed.audio(&[7; 160]);
    match next(&mut socket).await {
        Some(Message::Binary(frame)) => assert_eq!(frame.as_ref(), &[7; 160][..]),
        other => panic!("expected audio, got {other:?}"),
    }
    // The listening is audited under the ticket's key.
    let audit = w.api.audit(&OrgId::default(), 10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.route == "/v1/calls/{id}/listen" && e.status == 101),
        "{audit:?}"
    );
}

#[tokio::test]
async fn tickets_are_refused_forged_expired_revoked_or_for_another_call_purpose_or_route() {
    let w = world().await;
    let (call, campaign) = w.own.clone();
    let (second, second_campaign) = w.second.clone();
    let _feeds = [
        w.media.live().open(&call, &campaign),
        w.media.live().open(&second, &second_campaign),
    ];
    let (operator_caller, operator) = key(&w.api, OrgId::default().as_str(), Role::Operator).await;
    let live = ticket_url(&w, &format!("/v1/calls/{call}/live/ticket"), &operator).await;
    let base = format!("ws://{}", w.media_addr);
    let ticket = live.split_once("?ticket=").unwrap().1.to_string();
    let at = |path: String, ticket: &str| format!("{base}{path}?ticket={ticket}");

    // The ticket opens its own socket, again within its minute.
    assert!(open(&live).await.is_ok());
    // Not another call's, nor another purpose's.
    assert_eq!(
        open(&at(format!("/v1/calls/{second}/live"), &ticket))
            .await
            .err(),
        Some(401)
    );
    assert_eq!(
        open(&at(format!("/v1/calls/{call}/listen"), &ticket))
            .await
            .err(),
        Some(401)
    );
    // Forged: one character of the MAC changed, or the expiry moved on.
    let mut forged = ticket.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    assert_eq!(
        open(&at(format!("/v1/calls/{call}/live"), &forged))
            .await
            .err(),
        Some(401)
    );
    let (id, rest) = ticket
        .strip_prefix("vxt1.")
        .unwrap()
        .split_once('.')
        .unwrap();
    let (expiry, mac) = rest.split_once('.').unwrap();
    let stretched = format!("vxt1.{id}.{}.{mac}", expiry.parse::<i64>().unwrap() + 3600);
    assert_eq!(
        open(&at(format!("/v1/calls/{call}/live"), &stretched))
            .await
            .err(),
        Some(401)
    );
    assert_eq!(
        open(&at(format!("/v1/calls/{call}/live"), "nonsense"))
            .await
            .err(),
        Some(401)
    );
    // Expired: issued more than a minute ago.
    let now = chrono::Utc::now().timestamp();
    let old = w
        .api
        .issue_ticket(
            &operator_caller,
            TicketPurpose::Live,
            call.as_str(),
            now - TICKET_TTL_SECS - 1,
        )
        .await
        .unwrap();
    assert_eq!(
        open(&at(format!("/v1/calls/{call}/live"), &old.token))
            .await
            .err(),
        Some(401)
    );

    // A ticket opens sockets only, not the API.
    let request = Request::get(format!("/v1/calls/{call}?ticket={ticket}"))
        .body(Body::empty())
        .unwrap();
    let response = voxdial_http::api::router(w.api.clone())
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // A revoked key's tickets die with it.
    w.api
        .revoke_api_key(&OrgId::default(), &operator_caller.key_id)
        .await
        .unwrap();
    assert_eq!(open(&live).await.err(), Some(401));
}

#[tokio::test]
async fn tickets_stay_in_their_organisation_and_need_the_shared_key() {
    let w = world().await;
    let (call, campaign) = w.own.clone();
    let (rival_call, rival_campaign) = w.rival.clone();
    let _feeds = [
        w.media.live().open(&call, &campaign),
        w.media.live().open(&rival_call, &rival_campaign),
    ];
    let (rival_caller, rival) = key(&w.api, "rival", Role::Operator).await;
    // Another organisation's call: no ticket (404, as for a call nowhere).
    let (status, _) = post(&w, &format!("/v1/calls/{call}/live/ticket"), &rival).await;
    assert_eq!(status, 404);
    let (status, _) = post(&w, "/v1/calls/ghost.1/live/ticket", &rival).await;
    assert_eq!(status, 404);
    // A genuine ticket of the rival's key for our call's id (as if the
    // issuer had not checked) still finds no such call in its organisation.
    let now = chrono::Utc::now().timestamp();
    let crossed = w
        .api
        .issue_ticket(&rival_caller, TicketPurpose::Live, call.as_str(), now)
        .await
        .unwrap();
    let url = format!(
        "ws://{}/v1/calls/{call}/live?ticket={}",
        w.media_addr, crossed.token
    );
    assert_eq!(open(&url).await.err(), Some(404));
    // Its own call's ticket works.
    let own = ticket_url(&w, &format!("/v1/calls/{rival_call}/live/ticket"), &rival).await;
    assert!(open(&own).await.is_ok());

    // A socket server with another session key accepts none of them.
    let elsewhere = world_with("another deployment's key").await;
    let (rival_elsewhere, _) = key(&elsewhere.api, OrgId::default().as_str(), Role::Operator).await;
    let (c, k) = elsewhere.own.clone();
    let _feed = elsewhere.media.live().open(&c, &k);
    let ticket = elsewhere
        .api
        .issue_ticket(&rival_elsewhere, TicketPurpose::Live, c.as_str(), now)
        .await
        .unwrap();
    let url = format!(
        "ws://{}/v1/calls/{c}/live?ticket={}",
        elsewhere.media_addr, ticket.token
    );
    assert_eq!(open(&url).await.err(), Some(401));
}

#[tokio::test]
async fn a_test_call_ticket_is_an_operator_s_for_an_agent_of_the_organisation() {
    let w = world().await;
    let draft = json!({"config": {"name": "Maya", "system_prompt": "You are Maya."}});
    let agent = w
        .api
        .create_ai_agent(&OrgId::default(), draft.to_string().as_bytes())
        .await
        .unwrap();
    let (_, operator) = key(&w.api, OrgId::default().as_str(), Role::Operator).await;
    let (_, viewer) = key(&w.api, OrgId::default().as_str(), Role::Viewer).await;
    let (_, rival) = key(&w.api, "rival", Role::Operator).await;
    let path = format!("/v1/ai-agents/{}/test-call/ticket", agent.id);
    let url = ticket_url(&w, &path, &operator).await;
    assert!(url.contains(&format!("/v1/ai-agents/{}/test-call?ticket=", agent.id)));
    assert_eq!(post(&w, &path, &viewer).await.0, 403);
    assert_eq!(post(&w, &path, &rival).await.0, 404);

    // On a server with the route, the ticket passes the guard (a plain
    // GET then fails the upgrade), a live ticket does not.
    let ticket = url.split_once("?ticket=").unwrap().1;
    let get = |query: String| {
        let request = Request::get(format!(
            "/v1/ai-agents/{}/test-call?ticket={query}",
            agent.id
        ))
        .body(Body::empty())
        .unwrap();
        voxdial_http::api::router(w.api.clone()).oneshot(request)
    };
    let passed = get(ticket.to_string()).await.unwrap().status().as_u16();
    assert!(![401, 403, 404].contains(&passed), "{passed}");
    let (call, _) = w.own.clone();
    let live = ticket_url(&w, &format!("/v1/calls/{call}/live/ticket"), &operator).await;
    let wrong = live.split_once("?ticket=").unwrap().1.to_string();
    assert_eq!(get(wrong).await.unwrap().status(), 401);
}
