//! Listen-in over a real socket on 127.0.0.1: `GET /v1/calls/{id}/listen`
//! streams a live call's mixed audio, as the media bridge publishes it into
//! the engine's hub, to an operator, and audits it; it refuses a request
//! without a key, a viewer, another organisation's call and a call not live
//! here, before any audio flows; the socket closes when the call ends. A
//! socket for a call another bridge task holds (the fleet's reports say
//! which, and where) is relayed there, once.

use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use voxdial_app::{Engine, EngineConfig};
use voxdial_domain::{CallId, Campaign, CampaignId, OrgId, Role, Store};
use voxdial_testkit::fixtures::{call_for, campaign, lead, t0};

/// Guards only against a hang.
const HANG: Duration = Duration::from_secs(30);

struct World {
    engine: Engine,
    addr: std::net::SocketAddr,
    /// A call of the default organisation, and its campaign.
    own: (CallId, CampaignId),
    /// A call of another organisation, live too.
    rival: (CallId, CampaignId),
    _dir: tempfile::TempDir,
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

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let (engine, store) = voxdial_tests::local_engine_parts(dir.path(), EngineConfig::default());
    let engine = engine.with_bridge_fleet(store.clone());
    let own = call_of(store.as_ref(), "camp-own", OrgId::default().as_str(), 1).await;
    let rival = call_of(store.as_ref(), "camp-rival", "rival", 2).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = voxdial_http::api::router(engine.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    World {
        engine,
        addr,
        own,
        rival,
        _dir: dir,
    }
}

async fn key(engine: &Engine, org: &str, role: Role) -> String {
    let (_, secret) = engine
        .create_api_key(&OrgId::parse(org).unwrap(), role, "listen")
        .await
        .unwrap();
    format!("Bearer {}", secret.expose())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the listen socket of `call`; the handshake's HTTP status when refused.
async fn open(w: &World, call: &CallId, auth: Option<&str>) -> Result<Socket, u16> {
    open_with(w, call, auth, &[]).await
}

/// [`open`] with more request headers.
async fn open_with(
    w: &World,
    call: &CallId,
    auth: Option<&str>,
    headers: &[(&'static str, &str)],
) -> Result<Socket, u16> {
    let url = format!("ws://{}/v1/calls/{call}/listen", w.addr);
    let mut request = url.into_client_request().unwrap();
    if let Some(auth) = auth {
        request
            .headers_mut()
            .insert("authorization", auth.parse().unwrap());
    }
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
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

#[tokio::test]
async fn an_operator_hears_a_live_call_until_it_ends() {
    let w = world().await;
    let (call, campaign) = w.own.clone();
    // GIVEN a live call (the bridge's feed) nobody listens to
    let feed = w.engine.live().open(&call, &campaign);
    assert!(!feed.wants_audio());
    let operator = key(&w.engine, OrgId::default().as_str(), Role::Operator).await;

    // WHEN an operator opens its listen socket
    let mut socket = open(&w, &call, Some(&operator)).await.expect("admitted");
    tokio::time::timeout(HANG, async {
        while !feed.wants_audio() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the listener is subscribed");

    // THEN the mixed frames the bridge publishes arrive, in order, as they are
    for n in 0..5u8 {
        feed.audio(&[n; 160]);
    }
    for n in 0..5u8 {
        match next(&mut socket).await {
            Some(Message::Binary(frame)) => assert_eq!(frame.as_ref(), &[n; 160][..]),
            other => panic!("expected audio, got {other:?}"),
        }
    }
    // and the listening is audited
    let audit = w.engine.audit(&OrgId::default(), 10).await.unwrap();
    assert_eq!(audit[0].route, "/v1/calls/{id}/listen");
    assert_eq!(audit[0].target.as_deref(), Some(call.as_str()));

    // WHEN the call ends, THEN the socket closes normally
    drop(feed);
    match next(&mut socket).await {
        Some(Message::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected a close, got {other:?}"),
    }
}

#[tokio::test]
async fn listening_is_refused_without_a_key_to_viewers_across_organisations_and_off_calls() {
    let w = world().await;
    let feeds = [
        w.engine.live().open(&w.own.0, &w.own.1),
        w.engine.live().open(&w.rival.0, &w.rival.1),
    ];
    let viewer = key(&w.engine, OrgId::default().as_str(), Role::Viewer).await;
    let operator = key(&w.engine, OrgId::default().as_str(), Role::Operator).await;

    assert_eq!(open(&w, &w.own.0, None).await.err(), Some(401));
    assert_eq!(
        open(&w, &w.own.0, Some("Bearer vxd_nope")).await.err(),
        Some(401)
    );
    assert_eq!(open(&w, &w.own.0, Some(&viewer)).await.err(), Some(403));
    // Another organisation's live call answers as a call that does not exist.
    assert_eq!(open(&w, &w.rival.0, Some(&operator)).await.err(), Some(404));
    let ghost = CallId::parse("ghost.1").unwrap();
    assert_eq!(open(&w, &ghost, Some(&operator)).await.err(), Some(404));
    // Nobody got the audio, and nothing was audited.
    assert!(feeds.iter().all(|f| !f.wants_audio()));
    assert!(
        w.engine
            .audit(&OrgId::default(), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A call of the organisation that is not live here: 409.
    drop(feeds);
    assert_eq!(open(&w, &w.own.0, Some(&operator)).await.err(), Some(409));
}

/// Another bridge task holding a call, as the relaying task reaches it:
/// it answers one listen socket with the credential it was sent (as text)
/// and one frame of audio, then closes. Returns its address.
async fn holding_task() -> std::net::SocketAddr {
    use axum::extract::ws::{CloseFrame, Message as AxumMessage, WebSocketUpgrade};
    async fn listen(
        headers: axum::http::HeaderMap,
        ws: WebSocketUpgrade,
    ) -> axum::response::Response {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
                .to_owned()
        };
        let seen = format!(
            "{} relayed={}",
            header("authorization"),
            header(voxdial_http::forward::HOP)
        );
        ws.on_upgrade(move |mut socket| async move {
            let _ = socket.send(AxumMessage::Text(seen.into())).await;
            let _ = socket
                .send(AxumMessage::Binary(vec![7u8; 160].into()))
                .await;
            let close = CloseFrame {
                code: 1000,
                reason: "the call ended".into(),
            };
            let _ = socket.send(AxumMessage::Close(Some(close))).await;
        })
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/v1/calls/{id}/listen", axum::routing::get(listen));
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn a_socket_for_a_call_another_task_holds_is_relayed_there_once() {
    use voxdial_domain::{BridgeLoad, BridgeTaskId};
    let w = world().await;
    let (call, _) = w.own.clone();
    let operator = key(&w.engine, OrgId::default().as_str(), Role::Operator).await;
    // GIVEN the fleet's report that another task, reached at `peer`,
    // holds the call (it is not live in this process)
    let peer = holding_task().await;
    let fleet = w.engine.bridge_fleet().expect("the engine's fleet").clone();
    fleet
        .report_bridge_load(&BridgeLoad {
            task: BridgeTaskId::parse("task-b").unwrap(),
            live: 1,
            capacity: 20,
            expires_at: w.engine.clock().now() + chrono::Duration::seconds(30),
            peer: Some(peer),
            calls: vec![call.clone()],
        })
        .await
        .unwrap();

    // WHEN an operator opens the call's listen socket here
    let mut socket = open(&w, &call, Some(&operator)).await.expect("relayed");

    // THEN the holder got the operator's credential, marked relayed, and
    // what it sends reaches the operator, its close included
    match next(&mut socket).await {
        Some(Message::Text(seen)) => assert_eq!(seen.as_str(), format!("{operator} relayed=1")),
        other => panic!("expected the holder's text, got {other:?}"),
    }
    match next(&mut socket).await {
        Some(Message::Binary(frame)) => assert_eq!(frame.as_ref(), [7u8; 160]),
        other => panic!("expected a frame, got {other:?}"),
    }
    match next(&mut socket).await {
        Some(Message::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected the close, got {other:?}"),
    }
    // AND a socket that was relayed already is not relayed again (a stale
    // report costs a 409, never a loop)
    let relayed = open_with(
        &w,
        &call,
        Some(&operator),
        &[(voxdial_http::forward::HOP, "1")],
    )
    .await;
    assert_eq!(relayed.err(), Some(409));
    // AND the credential is checked here first: a viewer is refused
    // before anything is relayed
    let viewer = key(&w.engine, OrgId::default().as_str(), Role::Viewer).await;
    assert_eq!(open(&w, &call, Some(&viewer)).await.err(), Some(403));
}
