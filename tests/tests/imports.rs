//! Large lead files by presigned upload, read asynchronously by a job on
//! the post-call queue, on the local backend (SQLite, files, the local job
//! queue) and on AWS (DynamoDB, S3, SQS on moto): the same API calls, the
//! same job, the same answers. Also: a crash between a stored batch and
//! its progress record replays the batch without duplicating a lead; the
//! direct route refuses a large body with a 413 that names the upload route.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;
use voxdial_app::analysis::LocalAnalyser;
use voxdial_app::postcall::handle_job_delivery;
use voxdial_app::router::{Providers, StaticRouter};
use voxdial_app::transcription::LiveTranscriber;
use voxdial_app::{Engine, EngineConfig, PostCallConfig, PostCallDeps};
use voxdial_aws::testing::Emulator;
use voxdial_domain::{
    BlobStore, CampaignId, Clock, ImportId, ImportStatus, JobQueue, LeadImport, OrgId, Role, Store,
};
use voxdial_local::{LocalBlobStore, LocalJobQueue, LocalQueue, LocalStore, QueueConfig};
use voxdial_testkit::ManualClock;
use voxdial_testkit::fixtures::t0;

/// How a client puts a file at an upload URL.
enum Uploader {
    /// An HTTP `PUT` (S3 on moto).
    Http,
    /// What the local server's `PUT /blobs/{key}` does with the request.
    Local(LocalBlobStore, Arc<dyn Clock>),
}

struct World {
    engine: Engine,
    app: axum::Router,
    auth: String,
    store: Arc<dyn Store>,
    jobs: Arc<dyn JobQueue>,
    uploader: Uploader,
    campaign: CampaignId,
    _dir: tempfile::TempDir,
}

/// Batches one job run stores: small, so a file takes several runs.
const BATCHES_PER_RUN: u32 = 1;
/// Leads per batch: small, so a file of a few hundred rows takes several
/// batches (moto takes a while over each conditional write).
const BATCH_ROWS: usize = 100;

async fn world_on(
    store: Arc<dyn Store>,
    blobs: Arc<dyn BlobStore>,
    jobs: Arc<dyn JobQueue>,
    uploader: Uploader,
    clock: Arc<dyn Clock>,
    dir: tempfile::TempDir,
) -> World {
    let queue = LocalQueue::open(
        dir.path().join("q.sqlite"),
        QueueConfig::default(),
        clock.clone(),
    )
    .unwrap();
    let engine = Engine::new(
        store.clone(),
        Arc::new(queue),
        Providers::new(),
        Arc::new(StaticRouter::new(Vec::new())),
        clock,
        EngineConfig::default(),
    )
    .with_blobs(blobs)
    .with_post_call(PostCallDeps {
        jobs: jobs.clone(),
        transcriber: Arc::new(LiveTranscriber),
        analyser: Arc::new(LocalAnalyser),
        poster: None,
        config: PostCallConfig {
            import_batches_per_run: BATCHES_PER_RUN,
            import_batch_rows: BATCH_ROWS,
            ..PostCallConfig::default()
        },
    });
    let (_, secret) = engine
        .create_api_key(&OrgId::default(), Role::Operator, "importer")
        .await
        .unwrap();
    let mut w = World {
        app: voxdial_http::api::router(engine.clone()),
        engine,
        auth: format!("Bearer {}", secret.expose()),
        store,
        jobs,
        uploader,
        campaign: CampaignId::parse("placeholder").unwrap(),
        _dir: dir,
    };
    let (status, created) = w
        .send(
            "POST",
            "/v1/campaigns",
            json!({"name": "imports"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    w.campaign = CampaignId::parse(created["id"].as_str().unwrap()).unwrap();
    w
}

async fn local_world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = ManualClock::shared(t0());
    let store = Arc::new(LocalStore::open(dir.path().join("s.sqlite")).unwrap());
    let blobs = LocalBlobStore::open(
        dir.path().join("blobs"),
        "http://127.0.0.1:1",
        b"blob-secret".to_vec(),
        clock.clone(),
    )
    .unwrap();
    let jobs = LocalJobQueue::open(
        dir.path().join("jobs.sqlite"),
        QueueConfig::default(),
        clock.clone(),
    )
    .unwrap();
    let uploader = Uploader::Local(blobs.clone(), clock.clone());
    world_on(store, Arc::new(blobs), Arc::new(jobs), uploader, clock, dir).await
}

async fn aws_world() -> World {
    let moto = Emulator::get();
    let clients = moto.clients(None);
    let (store, _) = moto.store(&clients).await.expect("a table");
    let blobs = moto.blobs(&clients).await.expect("a bucket");
    let jobs = moto
        .job_queue(&clients, Duration::from_secs(30), 10)
        .await
        .expect("a queue");
    let clock: Arc<dyn Clock> = ManualClock::shared(t0());
    let dir = tempfile::tempdir().unwrap();
    world_on(
        Arc::new(store),
        Arc::new(blobs),
        Arc::new(jobs),
        Uploader::Http,
        clock,
        dir,
    )
    .await
}

impl World {
    async fn send(&self, method: &str, path: &str, body: impl Into<Body>) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", &self.auth)
            .header("content-type", "application/json")
            .body(body.into())
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    fn imports(&self) -> String {
        format!("/v1/campaigns/{}/imports", self.campaign)
    }

    /// `POST …/imports`: the import's id and its upload URL.
    async fn create_import(&self) -> (ImportId, String) {
        let (status, created) = self.send("POST", &self.imports(), Body::empty()).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["upload_method"], "PUT");
        assert_eq!(created["import"]["status"], "awaiting_upload");
        let id = ImportId::parse(created["import"]["id"].as_str().unwrap()).unwrap();
        (id, created["upload_url"].as_str().unwrap().to_string())
    }

    async fn upload(&self, url: &str, file: Vec<u8>) {
        match &self.uploader {
            Uploader::Http => {
                let response = reqwest::Client::new()
                    .put(url)
                    .body(file)
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success(), "{response:?}");
            }
            Uploader::Local(blobs, clock) => {
                let (path, query) = url.split_once('?').unwrap();
                let key = path.split_once("/blobs/").unwrap().1;
                let field = |name: &str| {
                    query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix(name))
                        .unwrap()
                        .to_string()
                };
                let expires: i64 = field("expires=").parse().unwrap();
                assert!(blobs.verify_presigned_put(key, expires, &field("sig="), clock.now()));
                let mut upload = blobs.upload(key).unwrap();
                for chunk in file.chunks(64 * 1024) {
                    upload.write(chunk).unwrap();
                }
                upload.commit().await.unwrap();
            }
        }
    }

    async fn start(&self, id: &ImportId) -> (StatusCode, Value) {
        let path = format!("{}/{id}/start", self.imports());
        self.send("POST", &path, Body::empty()).await
    }

    async fn view(&self, id: &ImportId) -> Value {
        let (status, view) = self
            .send("GET", &format!("{}/{id}", self.imports()), Body::empty())
            .await;
        assert_eq!(status, StatusCode::OK, "{view}");
        view
    }

    /// Receives and handles one job; false when none came.
    async fn run_one_job(&self) -> bool {
        for _ in 0..20 {
            let got = self
                .jobs
                .receive(1, Duration::from_millis(200))
                .await
                .unwrap();
            if let Some(delivery) = got.into_iter().next() {
                handle_job_delivery(&self.engine, self.jobs.as_ref(), delivery).await;
                return true;
            }
        }
        false
    }

    /// Runs jobs until the import is finished (a bound guards a hang).
    async fn finish(&self, id: &ImportId) -> LeadImport {
        for _ in 0..100 {
            let import = self.store.lead_import(id).await.unwrap().unwrap();
            if import.status.is_finished() {
                return import;
            }
            assert!(self.run_one_job().await, "no job for {id}: {import:?}");
        }
        panic!("import {id} never finished");
    }

    /// Every stored lead's number.
    async fn phones(&self) -> Vec<String> {
        let mut phones = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .leads(&self.campaign, after.as_ref(), 1000)
                .await
                .unwrap();
            let Some(last) = page.last() else {
                return phones;
            };
            after = Some(last.id.clone());
            phones.extend(page.iter().map(|l| l.phone.as_str().to_string()));
        }
    }
}

/// A file of `good` distinct valid numbers, one repeated row (line 3), and
/// bad rows at lines 5, 1500 and the last line.
fn file(good: u64) -> (Vec<u8>, Vec<u64>) {
    let mut csv = String::from("phone,name\n");
    let mut line = 1;
    let mut bad = Vec::new();
    let mut push = |row: String, csv: &mut String, is_bad: bool| {
        line += 1;
        if is_bad {
            bad.push(line);
        }
        csv.push_str(&row);
    };
    for i in 0..good {
        if i == 1 {
            push("+12125550000,Twin\n".into(), &mut csv, false);
        }
        if i == 2 || i == 146 {
            push("not-a-number,Bad\n".into(), &mut csv, true);
        }
        let mut row = String::new();
        writeln!(row, "+1212555{:04},Lead {i}", i).unwrap();
        push(row, &mut csv, false);
    }
    push("+1 900 555 0123,Premium\n".into(), &mut csv, true);
    (csv.into_bytes(), bad)
}

async fn a_large_file_is_imported_in_the_background_with_progress(w: World) {
    // GIVEN a file of 250 good rows, one repeat and three bad rows
    let (csv, bad_lines) = file(250);
    assert_eq!(bad_lines, vec![5, 150, 255]);
    let (id, url) = w.create_import().await;
    // WHEN it is started before anything is uploaded
    let (status, early) = w.start(&id).await;
    // THEN it is refused and stays awaiting its upload
    assert_eq!(status, StatusCode::CONFLICT, "{early}");
    assert!(early["error"].as_str().unwrap().contains("upload_url"));
    assert_eq!(w.view(&id).await["status"], "awaiting_upload");

    // WHEN the file is uploaded and the import started
    w.upload(&url, csv).await;
    let (status, started) = w.start(&id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["status"], "queued");
    // THEN one job run stores one batch and shows it
    assert!(w.run_one_job().await);
    let first = w.view(&id).await;
    assert_eq!(first["status"], "running", "{first}");
    assert_eq!(first["progress"]["batches"], 1);
    assert_eq!(first["progress"]["inserted"], 100);
    assert_eq!(w.phones().await.len(), 100);

    // AND the runs that follow read the rest
    let done = w.finish(&id).await;
    assert_eq!(done.status, ImportStatus::Done);
    let p = done.progress;
    assert_eq!((p.rows, p.accepted, p.rejected), (254, 251, 3));
    assert_eq!((p.inserted, p.merged, p.batches), (250, 1, 3));
    let lines: Vec<u64> = done.rejections.iter().map(|r| r.line).collect();
    assert_eq!(lines, bad_lines);
    assert!(done.rejections[2].reason.contains("premium_rate"));
    assert_eq!(w.phones().await.len(), 250);
    let view = w.view(&id).await;
    assert_eq!(view["status"], "done");
    assert_eq!(view["rejections"][0]["line"], 5);
    // Starting a finished import again changes nothing.
    let (status, again) = w.start(&id).await;
    assert_eq!(
        (status, &again["status"]),
        (StatusCode::ACCEPTED, &json!("done"))
    );
    assert!(!w.run_one_job().await);
}

async fn a_crash_after_a_batch_and_before_its_record_replays_without_duplicates(w: World) {
    // GIVEN an import whose first two runs stored two batches
    let (csv, bad_lines) = file(250);
    let (id, url) = w.create_import().await;
    w.upload(&url, csv).await;
    assert_eq!(w.start(&id).await.0, StatusCode::ACCEPTED);
    assert!(w.run_one_job().await);
    let after_first = w.store.lead_import(&id).await.unwrap().unwrap();
    assert!(w.run_one_job().await);
    assert_eq!(w.phones().await.len(), 200);
    // WHEN the second run's record is lost (the process died between
    // storing the batch and recording it): the record says one batch
    let current = w.store.lead_import(&id).await.unwrap().unwrap();
    let lost = LeadImport {
        version: current.version,
        ..after_first
    };
    w.store.update_import(&lost).await.unwrap();
    // THEN the next runs read the second batch again and finish
    let done = w.finish(&id).await;
    assert_eq!(done.status, ImportStatus::Done);
    // AND no lead is stored twice; rows, accepted and rejected are exact,
    // the replayed batch counts as merged
    let phones = w.phones().await;
    let mut unique = phones.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((phones.len(), unique.len()), (250, 250));
    let p = done.progress;
    assert_eq!((p.rows, p.accepted, p.rejected), (254, 251, 3));
    assert_eq!(p.inserted, 250 - 100);
    assert_eq!(p.inserted + p.merged, p.accepted);
    let lines: Vec<u64> = done.rejections.iter().map(|r| r.line).collect();
    assert_eq!(lines, bad_lines);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_file_in_the_background_on_the_local_backend() {
    a_large_file_is_imported_in_the_background_with_progress(local_world().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_file_in_the_background_on_aws() {
    a_large_file_is_imported_in_the_background_with_progress(aws_world().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_replay_on_the_local_backend() {
    a_crash_after_a_batch_and_before_its_record_replays_without_duplicates(local_world().await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_replay_on_aws() {
    a_crash_after_a_batch_and_before_its_record_replays_without_duplicates(aws_world().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_refused_as_a_whole_fails_the_import_with_the_reason() {
    let w = local_world().await;
    let (id, url) = w.create_import().await;
    w.upload(&url, b"name,email\nAda,a@example.com\n".to_vec())
        .await;
    assert_eq!(w.start(&id).await.0, StatusCode::ACCEPTED);
    let failed = w.finish(&id).await;
    assert_eq!(failed.status, ImportStatus::Failed);
    assert!(failed.failure.unwrap().contains("no phone column"));
    assert!(w.phones().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_of_other_campaigns_and_bad_requests_are_refused() {
    let w = local_world().await;
    let (id, _) = w.create_import().await;
    // Another campaign's import answers like one that does not exist.
    let (_, other) = w
        .send(
            "POST",
            "/v1/campaigns",
            json!({"name": "other"}).to_string(),
        )
        .await;
    let other = other["id"].as_str().unwrap();
    let (status, theirs) = w
        .send(
            "GET",
            &format!("/v1/campaigns/{other}/imports/{id}"),
            Body::empty(),
        )
        .await;
    let (_, ghost) = w
        .send(
            "GET",
            &format!("/v1/campaigns/{other}/imports/im_0"),
            Body::empty(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        theirs["error"].as_str().unwrap().replace(id.as_str(), "ID"),
        ghost["error"].as_str().unwrap().replace("im_0", "ID")
    );
    // A region that is not an ISO code is a 400 that says so.
    let (status, bad) = w
        .send("POST", &w.imports(), json!({"region": "usa"}).to_string())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad["error"].as_str().unwrap().contains("alpha-2"), "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_direct_route_refuses_a_large_body_and_names_the_upload_route() {
    let w = local_world().await;
    let (csv, _) = file(300_000);
    assert!(csv.len() > voxdial_app::csv_import::MAX_DIRECT_CSV_BYTES);
    let path = format!("/v1/campaigns/{}/leads", w.campaign);
    let (status, refused) = w.send("POST", &path, csv).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        refused["error"].as_str().unwrap().contains("/imports"),
        "{refused}"
    );
    assert!(w.phones().await.is_empty());
}
