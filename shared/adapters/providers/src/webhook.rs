//! [`HttpWebhookPoster`]: the outbound webhook sender over HTTPS (reqwest,
//! rustls), with a per-request timeout; redirects are not followed (a
//! signed body is meant for the URL the campaign names).
//!
//! The destination is checked at send time ([`voxdial_domain::destination`]):
//! the URL's shape, then every address its host resolves to; the connection
//! goes to the addresses checked (a resolver of our own hands reqwest only
//! those), so a name that resolves to a private, link-local or metadata
//! address, or that changes its answer between a check and the connect,
//! reaches nothing. No proxy is used (a proxy would resolve the name
//! itself). Loopback is refused unless the runtime allows it (local mode).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use voxdial_domain::destination::{check_address, check_url};
use voxdial_domain::{PostError, WebhookPoster};

/// POSTs outbound webhooks.
#[derive(Clone, Debug)]
pub struct HttpWebhookPoster {
    http: reqwest::Client,
    allow_loopback: bool,
}

/// Resolves names with the system resolver and refuses any answer that
/// holds a non-public address.
struct GuardedResolver {
    allow_loopback: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            check_all(&host, addrs.iter().map(SocketAddr::ip), allow_loopback)?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Every address of `host` is allowed (and there is one).
fn check_all(
    host: &str,
    addrs: impl Iterator<Item = IpAddr>,
    allow_loopback: bool,
) -> Result<(), PostError> {
    let mut any = false;
    for ip in addrs {
        any = true;
        check_address(ip, allow_loopback).map_err(|why| refused(host, &why))?;
    }
    if any {
        Ok(())
    } else {
        Err(refused(host, "the name has no address"))
    }
}

fn refused(host: &str, why: &str) -> PostError {
    PostError {
        message: format!("destination {host} refused: {why}"),
    }
}

impl HttpWebhookPoster {
    /// A sender to public addresses only, whose requests give up after
    /// `timeout`.
    pub fn new(timeout: Duration) -> Result<HttpWebhookPoster, reqwest::Error> {
        Self::build(timeout, false)
    }

    /// A sender that may also reach loopback addresses (`http://` included):
    /// for the local, one-machine runtime only.
    pub fn allowing_loopback(timeout: Duration) -> Result<HttpWebhookPoster, reqwest::Error> {
        Self::build(timeout, true)
    }

    fn build(timeout: Duration, allow_loopback: bool) -> Result<HttpWebhookPoster, reqwest::Error> {
        Ok(HttpWebhookPoster {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .dns_resolver(Arc::new(GuardedResolver { allow_loopback }))
                .build()?,
            allow_loopback,
        })
    }

    /// The URL's shape, and its address when it is a literal one (the
    /// resolver is not asked about those).
    fn check(&self, url: &str) -> Result<(), PostError> {
        let parsed = check_url(url).map_err(|why| PostError {
            message: format!("destination refused: {why}"),
        })?;
        let literal = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        let host = parsed.host_str().unwrap_or_default();
        if let Some(ip) = literal {
            check_all(host, std::iter::once(ip), self.allow_loopback)?;
        } else if parsed.scheme() == "http" && !self.allow_loopback {
            return Err(refused(host, "plain http is for the local runtime only"));
        }
        Ok(())
    }
}

#[async_trait]
impl WebhookPoster for HttpWebhookPoster {
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<u16, PostError> {
        self.check(url)?;
        let mut request = self.http.post(url).body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request.send().await.map_err(|e| PostError {
            message: if let Some(refusal) = refusal_of(&e) {
                refusal
            } else if e.is_timeout() {
                "no answer before the timeout".into()
            } else if e.is_connect() {
                "cannot connect".into()
            } else {
                "the request failed".into()
            },
        })?;
        Ok(response.status().as_u16())
    }
}

/// The resolver's refusal inside a reqwest error, if that is what it is.
fn refusal_of(error: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(e) = source {
        if let Some(refusal) = e.downcast_ref::<PostError>() {
            return Some(refusal.message.clone());
        }
        source = e.source();
    }
    None
}
