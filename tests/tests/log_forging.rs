//! A campaign name with a newline cannot forge a log line: the engine logs
//! user-provided text with its control characters escaped.

use std::io::Write;
use std::sync::{Arc, Mutex};

use voxdial_app::router::{Providers, StaticRouter};
use voxdial_app::{Engine, EngineConfig};
use voxdial_domain::{CampaignSettings, Clock, Store};
use voxdial_local::{LocalQueue, LocalStore, QueueConfig};
use voxdial_testkit::ManualClock;
use voxdial_testkit::fixtures::t0;

/// The log output, shared with the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_campaign_name_with_a_newline_stays_on_its_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = ManualClock::shared(t0());
    let store = Arc::new(LocalStore::open(dir.path().join("s.sqlite")).unwrap());
    let queue = LocalQueue::open(
        dir.path().join("q.sqlite"),
        QueueConfig::default(),
        clock.clone(),
    )
    .unwrap();
    let engine = Engine::new(
        store as Arc<dyn Store>,
        Arc::new(queue),
        Providers::new(),
        Arc::new(StaticRouter::new(Vec::new())),
        clock,
        EngineConfig::default(),
    );
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // GIVEN a campaign name carrying a forged second log line
    let settings = CampaignSettings {
        name: "Spring\n2026-01-01T00:00:00Z  INFO voxdial: admin key created".into(),
        ..CampaignSettings::default()
    };
    // WHEN the campaign is created (and logged)
    engine
        .create_campaign(&voxdial_domain::OrgId::default(), settings)
        .await
        .unwrap();

    // THEN the log holds one line, with the newline escaped
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("campaign created"), "{log}");
    assert!(lines[0].contains(r"Spring\n2026-01-01"), "{log}");
    assert!(!log.lines().any(|l| l.starts_with("2026-01-01")), "{log}");
}
