//! Where the other bridge tasks reach this one: the address its fleet
//! reports carry, so a listen-in or live-events socket the load balancer
//! sent to another task is relayed here (`voxdial_http::forward`).
//!
//! `PEER_ADDR` when set; otherwise, on ECS, the task's private IPv4 from
//! the container metadata endpoint (`$ECS_CONTAINER_METADATA_URI_V4`,
//! `Networks[0].IPv4Addresses[0]`) with the port of `BIND_ADDR`; otherwise
//! none, and the task's calls are watched only through itself.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::Value;

/// How long the metadata endpoint gets to answer at start.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

/// This task's address for the others (see the module doc).
pub(crate) async fn discover(
    configured: Option<SocketAddr>,
    metadata_uri: Option<&str>,
    bind_addr: &str,
) -> Option<SocketAddr> {
    if configured.is_some() {
        return configured;
    }
    let uri = metadata_uri?;
    let port = match bind_addr.parse::<SocketAddr>() {
        Ok(bind) => bind.port(),
        Err(e) => {
            tracing::warn!(error = %e, bind_addr, "BIND_ADDR has no port: other tasks cannot relay sockets here");
            return None;
        }
    };
    let found = async {
        let metadata: Value = reqwest::Client::new()
            .get(uri)
            .timeout(METADATA_TIMEOUT)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok::<_, reqwest::Error>(task_ip(&metadata))
    }
    .await;
    match found {
        Ok(Some(ip)) => Some(SocketAddr::new(ip, port)),
        Ok(None) => {
            tracing::warn!(
                "the container metadata has no IPv4 address: other tasks cannot relay sockets here"
            );
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the container metadata: other tasks cannot relay sockets here");
            None
        }
    }
}

/// The first IPv4 address of the container's first network.
fn task_ip(metadata: &Value) -> Option<IpAddr> {
    metadata["Networks"][0]["IPv4Addresses"][0]
        .as_str()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_s_address_is_its_first_network_s_first_ipv4() {
        // (the shape of AWS's documented Fargate container metadata response)
        let metadata = serde_json::json!({
            "DockerId": "cd189a933e5849daa93386466019ab50-2495160603",
            "Networks": [{
                "NetworkMode": "awsvpc",
                "IPv4Addresses": ["10.0.2.106"],
                "AttachmentIndex": 0,
                "IPv4SubnetCIDRBlock": "10.0.2.0/24"
            }]
        });
        assert_eq!(task_ip(&metadata), Some("10.0.2.106".parse().unwrap()));
        assert_eq!(task_ip(&serde_json::json!({"Networks": []})), None);
        assert_eq!(
            task_ip(&serde_json::json!({"Networks": [{"IPv4Addresses": ["not an ip"]}]})),
            None
        );
    }

    #[tokio::test]
    async fn a_configured_address_wins_and_none_is_found_off_ecs() {
        let configured: SocketAddr = "10.1.1.1:8080".parse().unwrap();
        assert_eq!(
            discover(Some(configured), Some("http://127.0.0.1:9"), "0.0.0.0:8080").await,
            Some(configured)
        );
        assert_eq!(discover(None, None, "0.0.0.0:8080").await, None);
    }

    #[tokio::test]
    async fn on_ecs_the_metadata_endpoint_gives_the_address_with_the_bind_port() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/v4/abc", listener.local_addr().unwrap());
        let app = axum::Router::new().route(
            "/v4/abc",
            axum::routing::get(|| async {
                axum::Json(serde_json::json!({"Networks": [{"IPv4Addresses": ["10.0.9.8"]}]}))
            }),
        );
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        assert_eq!(
            discover(None, Some(&uri), "0.0.0.0:8443").await,
            Some("10.0.9.8:8443".parse().unwrap())
        );
        // an endpoint that cannot be read leaves the task without one
        assert_eq!(
            discover(None, Some("http://127.0.0.1:9/v4"), "0.0.0.0:8443").await,
            None
        );
        server.abort();
    }
}
