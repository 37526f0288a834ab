//! Listen-in over a real socket on 127.0.0.1: `GET /v1/calls/{id}/listen`
//! streams a live call's mixed audio, as the media bridge publishes it into
//! the engine's hub, to an operator, and audits it; it refuses a request
//! without a key, a viewer, another organisation's call and a call not live
//! here, before any audio flows; the socket closes when the call ends.

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
    let (engine, store) =
        voxdial_tests::local_engine_with_store(dir.path(), EngineConfig::default());
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
    let url = format!("ws://{}/v1/calls/{call}/listen", w.addr);
    let mut request = url.into_client_request().unwrap();
    if let Some(auth) = auth {
        request
            .headers_mut()
            .insert("authorization", auth.parse().unwrap());
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
