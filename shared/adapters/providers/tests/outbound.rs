//! The outbound webhook sender against receivers on 127.0.0.1: loopback is
//! reached only when the runtime allows it, user info and private addresses
//! never, and redirects are not followed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use voxdial_domain::WebhookPoster;
use voxdial_providers::HttpWebhookPoster;

/// A receiver: `/hook` answers 204, `/moved` redirects to `/hook`; the
/// counter counts every request that reached it.
async fn receiver() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let (h1, h2) = (hits.clone(), hits.clone());
    let app = Router::new()
        .route(
            "/hook",
            post(move || async move {
                h1.fetch_add(1, Ordering::SeqCst);
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/moved",
            post(move || async move {
                h2.fetch_add(1, Ordering::SeqCst);
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, "/hook")],
                )
                    .into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("127.0.0.1:{port}"), hits)
}

fn strict() -> HttpWebhookPoster {
    HttpWebhookPoster::new(Duration::from_secs(10)).unwrap()
}

fn local() -> HttpWebhookPoster {
    HttpWebhookPoster::allowing_loopback(Duration::from_secs(10)).unwrap()
}

#[tokio::test]
async fn loopback_is_reached_only_when_the_runtime_allows_it() {
    let (addr, hits) = receiver().await;
    let port = addr.rsplit(':').next().unwrap();
    // A literal loopback address, and a name that resolves to loopback
    // (the check runs after DNS, on the addresses connected to).
    for url in [
        format!("http://{addr}/hook"),
        format!("https://{addr}/hook"),
        format!("https://localhost:{port}/hook"),
    ] {
        let error = strict().post(&url, &[], b"{}").await.unwrap_err();
        assert!(error.message.contains("refused"), "{url}: {error}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    assert_eq!(
        local()
            .post(&format!("http://{addr}/hook"), &[], b"{}")
            .await
            .unwrap(),
        204
    );
    assert_eq!(
        local()
            .post(&format!("http://localhost:{port}/hook"), &[], b"{}")
            .await
            .unwrap(),
        204
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn user_info_and_private_addresses_are_never_reached() {
    let (addr, hits) = receiver().await;
    for url in [
        // The host of this URL is any-host: today's prefix check passed it.
        "http://127.0.0.1@any-host/".to_string(),
        format!("http://user@{addr}/hook"),
        "https://169.254.169.254/latest/meta-data/".to_string(),
        "https://[fd00:ec2::254]/".to_string(),
        "https://10.0.0.1/".to_string(),
        "http://example.com/".to_string(),
    ] {
        let error = local().post(&url, &[], b"{}").await.unwrap_err();
        assert!(error.message.contains("refused"), "{url}: {error}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (addr, hits) = receiver().await;
    let status = local()
        .post(&format!("http://{addr}/moved"), &[], b"{}")
        .await
        .unwrap();
    assert_eq!(status, 307);
    assert_eq!(hits.load(Ordering::SeqCst), 1, "only /moved was reached");
}

/// The sender the local runtime uses, under the webhook poster contract
/// (`voxdial_testkit::webhook`). Its timeout is long enough for any local
/// answer on a loaded machine; the hang case waits it once.
struct Poster(HttpWebhookPoster);

const CONTRACT_TIMEOUT: Duration = Duration::from_secs(5);

impl voxdial_testkit::webhook::WebhookSubject for Poster {
    fn poster(&self) -> &dyn WebhookPoster {
        &self.0
    }

    fn timeout(&self) -> Duration {
        CONTRACT_TIMEOUT
    }
}

mod http_poster {
    use super::*;
    voxdial_testkit::webhook_contract!(async {
        Poster(HttpWebhookPoster::allowing_loopback(CONTRACT_TIMEOUT).unwrap())
    });
}
