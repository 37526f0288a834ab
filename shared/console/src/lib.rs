//! The operations console, embedded: the web assets built from `console/`
//! at the repository root (Vite, plain TypeScript, uPlot) and compiled into
//! the binary, so `voxdial serve` and `voxdial demo` need no Node.js at run
//! time.
//!
//! # Where the assets come from
//!
//! The build script (`build.rs`) runs `npm ci` (only when
//! `console/node_modules` is missing) and `npm run build` into `OUT_DIR`
//! whenever the console's sources change, and embeds the result. Without
//! npm (or with `VOXDIAL_CONSOLE_NO_NPM` set) it embeds `console/dist` if a
//! build left one there, else a page that says how to build the assets;
//! the API works either way. `console/dist` is build output and is never
//! committed.
//!
//! # Layout
//!
//! - [`router`]: `GET /` (the page) and `GET /assets/…` (scripts, styles),
//!   with a content security policy that allows only this origin.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// Only this origin's scripts, styles, images and media; inline styles for
/// the charts and bars (their sizes); no framing, no plug-ins. Requests
/// and sockets go to this origin, and to the media domain where another
/// server holds the media sockets ([`policy`]).
const CSP_HEAD: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; media-src 'self' blob:; connect-src 'self'";
const CSP_TAIL: &str =
    "; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/// The content security policy, sockets allowed to `media_origin` too
/// when it is a plain `ws(s)://host[:port]` (anything else is left out).
fn policy(media_origin: Option<&str>) -> HeaderValue {
    let plain = |origin: &&str| {
        let host = origin
            .strip_prefix("wss://")
            .or_else(|| origin.strip_prefix("ws://"));
        host.is_some_and(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
    };
    let extra = media_origin
        .filter(plain)
        .map(|origin| format!(" {origin}"))
        .unwrap_or_default();
    HeaderValue::from_str(&format!("{CSP_HEAD}{extra}{CSP_TAIL}"))
        .expect("a policy of printable ASCII")
}

/// The embedded file at `path`: content type and bytes.
pub fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS
        .iter()
        .find(|(url, _, _)| *url == path)
        .map(|(_, kind, bytes)| (*kind, *bytes))
}

fn answer(path: &str, cache: &'static str, csp: HeaderValue) -> Response {
    let Some((kind, bytes)) = asset(path) else {
        return (StatusCode::NOT_FOUND, "no such console file").into_response();
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    for (name, value) in [
        (header::CONTENT_TYPE, kind),
        (header::CACHE_CONTROL, cache),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The console's routes: `/` and `/assets/{file}`. Every API call the page
/// makes goes to `/v1`, behind the API's own guard. `media_origin`: where
/// the page opens its media sockets when another server holds them (on
/// AWS the media domain, `wss://media.example.com`), which the content
/// security policy then allows; `None` where this server holds them.
pub fn router<S: Clone + Send + Sync + 'static>(media_origin: Option<&str>) -> Router<S> {
    let csp = policy(media_origin);
    let page = csp.clone();
    let index = move || {
        let csp = page.clone();
        async move { answer("/index.html", "no-cache", csp) }
    };
    // Built assets carry a content hash in their names: cached for good.
    let built = move |uri: Uri| {
        let csp = csp.clone();
        async move { answer(uri.path(), "public, max-age=31536000, immutable", csp) }
    };
    Router::new()
        .route("/", get(index.clone()))
        .route("/index.html", get(index))
        .route("/assets/{*file}", get(built))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str) -> Response {
        let request = Request::builder().uri(path).body(Body::empty()).unwrap();
        router::<()>(None).oneshot(request).await.unwrap()
    }

    #[test]
    fn the_policy_lets_sockets_reach_the_media_domain_and_nothing_else() {
        let own = policy(None);
        assert!(own.to_str().unwrap().contains("connect-src 'self';"));
        let media = policy(Some("wss://media.example.com"));
        assert!(
            media
                .to_str()
                .unwrap()
                .contains("connect-src 'self' wss://media.example.com;")
        );
        for odd in [
            "wss://media.example.com; script-src *",
            "https://media.example.com",
            "wss://",
            "*",
        ] {
            assert_eq!(policy(Some(odd)), own, "{odd}");
        }
    }

    #[tokio::test]
    async fn the_page_is_served_at_the_root_with_a_strict_policy() {
        let response = get("/").await;
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(
            headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&body).contains("voxdial console"));
    }

    #[tokio::test]
    async fn every_embedded_asset_is_served_and_unknown_ones_are_404() {
        for (url, kind, bytes) in ASSETS.iter().filter(|(u, _, _)| u.starts_with("/assets/")) {
            let response = get(url).await;
            assert_eq!(response.status(), StatusCode::OK, "{url}");
            assert_eq!(response.headers()[header::CONTENT_TYPE], *kind);
            let body = axum::body::to_bytes(response.into_body(), 1 << 24)
                .await
                .unwrap();
            assert_eq!(&body[..], *bytes);
        }
        assert_eq!(get("/assets/nope.js").await.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            get("/assets/../Cargo.toml").await.status(),
            StatusCode::NOT_FOUND
        );
    }
}
