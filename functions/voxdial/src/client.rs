//! `voxdial campaign …` and `voxdial dnc …`: thin clients of a running
//! server's API.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

/// An API client for the server at `base`, sending `key` when there is one.
pub(crate) struct Client {
    base: String,
    key: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub(crate) fn new(base: &str, key: Option<String>) -> anyhow::Result<Client> {
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            key,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
        })
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let request = match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        };
        let response = request.send().await.with_context(|| {
            format!(
                "cannot reach the voxdial server at {} (is `voxdial serve` running?)",
                self.base
            )
        })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let reason = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no reason given");
            if status == reqwest::StatusCode::UNAUTHORIZED {
                bail!(
                    "the server refused the request ({status}): {reason}; pass --api-key or \
                     VOXDIAL_API_KEY, or --data-dir of the server (its admin.key)"
                );
            }
            bail!("the server refused the request ({status}): {reason}");
        }
        Ok(body)
    }

    pub(crate) async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.call(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub(crate) async fn put_json(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.call(self.http.put(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub(crate) async fn post_csv(&self, path: &str, file: &Path) -> anyhow::Result<Value> {
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "text/csv")
            .body(bytes);
        self.call(request).await
    }

    /// Imports a lead file through the upload route: creates the import,
    /// `PUT`s the file to its presigned `upload_url` (no API key: the URL
    /// carries its own signature), starts it, and shows its progress on
    /// stderr until it ends. Answers the final import (its counts and
    /// line-numbered rejections); an import that failed is an error.
    pub(crate) async fn upload_csv(
        &self,
        campaign: &str,
        file: &Path,
        region: Option<&str>,
    ) -> anyhow::Result<Value> {
        let imports = format!("/v1/campaigns/{campaign}/imports");
        let created = self
            .post_json(&imports, &serde_json::json!({ "region": region }))
            .await?;
        let (Some(import), Some(url)) = (
            created["import"]["id"].as_str(),
            created["upload_url"].as_str(),
        ) else {
            bail!("the server answered an import without an id or upload_url: {created}");
        };
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let put = self
            .http
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, "text/csv")
            .body(bytes)
            .send()
            .await
            .context("cannot upload the file")?;
        if !put.status().is_success() {
            let status = put.status();
            let body = put.text().await.unwrap_or_default();
            bail!("the upload was refused ({status}): {body}");
        }
        let path = format!("{imports}/{import}");
        let mut view = self
            .call(self.http.post(format!("{}{path}/start", self.base)))
            .await?;
        loop {
            eprintln!("{}", import_line(&view));
            match view["status"].as_str() {
                Some("done") => return Ok(view),
                Some("failed") => bail!(
                    "the import failed: {}",
                    view["failure"].as_str().unwrap_or("no reason given")
                ),
                _ => tokio::time::sleep(Duration::from_secs(1)).await,
            }
            view = self.get(&path).await?;
        }
    }
}

/// One line about an import's progress.
fn import_line(view: &Value) -> String {
    let progress = &view["progress"];
    let n = |field: &str| progress[field].as_u64().unwrap_or(0);
    format!(
        "import {} {}: {} rows read, {} stored, {} merged, {} rejected",
        view["id"].as_str().unwrap_or("?"),
        view["status"].as_str().unwrap_or("?"),
        n("rows"),
        n("inserted"),
        n("merged"),
        n("rejected"),
    )
}

/// Prints a JSON value readably.
pub(crate) fn print(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// One line about a campaign's progress.
pub(crate) fn status_line(view: &Value) -> String {
    let campaign = &view["campaign"];
    let progress = &view["progress"];
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let finals: u64 = progress["finals"]
        .as_object()
        .map_or(0, |m| m.values().map(n).sum());
    let live: u64 = progress["live_calls"]
        .as_object()
        .map_or(0, |m| m.values().map(n).sum());
    format!(
        "{} {}: {} leads, {} pending, {} active, {} live calls, {} final",
        campaign["id"].as_str().unwrap_or("?"),
        campaign["status"].as_str().unwrap_or("?"),
        n(&progress["total"]),
        n(&progress["pending"]),
        n(&progress["active"]),
        live,
        finals
    )
}
