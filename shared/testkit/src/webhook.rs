//! The [`WebhookPoster`] contract, against [`Receiver`]: a bare HTTP/1.1
//! receiver on 127.0.0.1 that records what reaches it and answers as told.
//! [`webhook_contract!`](crate::webhook_contract) turns each case into a
//! test.
//!
//! What the port's doc leaves open, fixed here: a POST carries the body
//! and the headers as given; any HTTP answer is the receiver's status, an
//! `Ok` (a 500 or a 410 is the receiver's verdict, the caller decides what
//! to retry); a redirect is answered, not followed (the signed body is for
//! the URL the campaign names); no answer within the poster's timeout, or
//! nobody listening, is an `Err`; and a link-local (metadata) address is
//! refused without a request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use voxdial_domain::WebhookPoster;

/// A webhook poster under test.
pub trait WebhookSubject: Send + Sync {
    /// The poster (one that may reach loopback receivers).
    fn poster(&self) -> &dyn WebhookPoster;
    /// Its per-request timeout.
    fn timeout(&self) -> Duration;
}

/// How the [`Receiver`] answers.
#[derive(Clone, Debug)]
pub enum Reply {
    /// This status, with a `Location` header when given.
    Status(u16, Option<String>),
    /// Reads the request and never answers.
    Hang,
}

/// One request the receiver read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// A bare HTTP/1.1 receiver on 127.0.0.1 (one request per connection).
pub struct Receiver {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// A receiver answering every request with `reply`.
    pub async fn start(reply: Reply) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, reply.clone(), log.clone()));
            }
        });
        Receiver { base, seen }
    }

    /// What reached it so far.
    pub fn seen(&self) -> Vec<Received> {
        self.seen.lock().expect("receiver log").clone()
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next()?.split(' ');
    let (method, path) = (start.next()?.to_string(), start.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received {
        method,
        path,
        headers,
        body,
    })
}

async fn answer(mut stream: TcpStream, reply: Reply, seen: Arc<Mutex<Vec<Received>>>) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    seen.lock().expect("receiver log").push(request);
    match reply {
        Reply::Hang => std::future::pending::<()>().await,
        Reply::Status(status, location) => {
            let location = location
                .map(|l| format!("location: {l}\r\n"))
                .unwrap_or_default();
            let head = format!(
                "HTTP/1.1 {status} X\r\n{location}content-length: 0\r\nconnection: close\r\n\r\n"
            );
            // The poster may have given up already: nothing to do then.
            let _ = stream.write_all(head.as_bytes()).await;
        }
    }
}

fn header<'a>(received: &'a Received, name: &str) -> Option<&'a str> {
    received
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Far beyond the poster's own timeout: only guards a hang of the poster.
fn guard(subject: &impl WebhookSubject) -> Duration {
    subject.timeout() * 4 + Duration::from_secs(60)
}

/// The body and every header arrive as given, by POST to the URL's path;
/// the receiver's status comes back.
pub async fn delivers_the_body_and_headers(subject: impl WebhookSubject) {
    let receiver = Receiver::start(Reply::Status(204, None)).await;
    let body = br#"{"event":"call.analysed","call_id":"ld_x.1"}"#;
    let headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("x-voxdial-signature".to_string(), "t=1,v1=abc".to_string()),
    ];
    let url = format!("{}/hooks/calls?tenant=acme", receiver.base);
    let status = subject
        .poster()
        .post(&url, &headers, body)
        .await
        .expect("an answer");
    assert_eq!(status, 204);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/hooks/calls?tenant=acme");
    assert_eq!(seen[0].body, body);
    for (name, value) in &headers {
        assert_eq!(header(&seen[0], name), Some(value.as_str()), "{name}");
    }
}

/// A 4xx or 5xx is the receiver's answer, not an error of the poster.
pub async fn error_statuses_are_answers(subject: impl WebhookSubject) {
    for status in [500, 503, 410, 400] {
        let receiver = Receiver::start(Reply::Status(status, None)).await;
        let answer = subject.poster().post(&receiver.base, &[], b"{}").await;
        assert_eq!(answer.ok(), Some(status));
    }
}

/// A redirect is answered, not followed.
pub async fn redirects_are_not_followed(subject: impl WebhookSubject) {
    let receiver = Receiver::start(Reply::Status(307, Some("/elsewhere".into()))).await;
    let url = format!("{}/hook", receiver.base);
    let answer = subject.poster().post(&url, &[], b"{}").await;
    assert_eq!(answer.ok(), Some(307));
    let paths: Vec<String> = receiver.seen().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/hook"], "one request, to the URL given");
}

/// A receiver that never answers is an error once the poster's timeout
/// passes (the suite waits far longer before calling it a hang).
pub async fn no_answer_is_an_error(subject: impl WebhookSubject) {
    let receiver = Receiver::start(Reply::Hang).await;
    let answer = tokio::time::timeout(
        guard(&subject),
        subject.poster().post(&receiver.base, &[], b"{}"),
    )
    .await
    .expect("the poster gave up on its own");
    assert!(answer.is_err(), "{answer:?}");
    assert_eq!(receiver.seen().len(), 1, "the request did arrive");
}

/// Nobody listening is an error.
pub async fn nobody_listening_is_an_error(subject: impl WebhookSubject) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
    drop(listener);
    let answer = subject.poster().post(&url, &[], b"{}").await;
    assert!(answer.is_err(), "{answer:?}");
}

/// A link-local address (the cloud metadata service) is refused, unsent.
pub async fn metadata_addresses_are_refused(subject: impl WebhookSubject) {
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
    ] {
        let answer = tokio::time::timeout(guard(&subject), subject.poster().post(url, &[], b"{}"))
            .await
            .expect("refused at once, or at worst after the timeout");
        assert!(answer.is_err(), "{url}: {answer:?}");
    }
}
