//! [`HttpWebhookPoster`]: the outbound webhook sender over HTTPS (reqwest,
//! rustls), with a per-request timeout; redirects are not followed (a
//! signed body is meant for the URL the campaign names).

use std::time::Duration;

use async_trait::async_trait;
use voxdial_domain::{PostError, WebhookPoster};

/// POSTs outbound webhooks.
#[derive(Clone, Debug)]
pub struct HttpWebhookPoster {
    http: reqwest::Client,
}

impl HttpWebhookPoster {
    /// A sender whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Result<HttpWebhookPoster, reqwest::Error> {
        Ok(HttpWebhookPoster {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        })
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
        let mut request = self.http.post(url).body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request.send().await.map_err(|e| PostError {
            message: if e.is_timeout() {
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
