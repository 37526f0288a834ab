//! `X-Twilio-Signature`: computation and validation, exactly as twilio-python
//! 9.13 `twilio.request_validator.RequestValidator` does it.
//!
//! # The algorithm
//!
//! 1. Start from the full URL Twilio requested (scheme, host, path, query as
//!    sent, still percent-encoded).
//! 2. For a form-encoded request, append `name + value` for every parameter:
//!    names sorted, each name's values sorted, values percent-decoded, empty
//!    values included, identical `(name, value)` pairs counted once (Python
//!    builds a `set`). Sorting is by code point, which is UTF-8 byte order.
//! 3. Sign with HMAC-SHA1 keyed by the Auth Token, or HMAC-SHA256 keyed by a
//!    SharedKey secret when the request carries
//!    `X-Twilio-Webhooks-Signature-Settings: key=<id>,algorithm=HMAC_SHA256`;
//!    base64-encode the MAC.
//! 4. Accept the request if the signature matches the URL **with its port
//!    removed** or **with the default port added** (`:443` for `https`, `:80`
//!    for any other scheme, `wss` included): Twilio's backend is inconsistent
//!    about ports. The URL as received always matches one of the two forms.
//! 5. If the body is not form-encoded (a JSON webhook, `text/plain`, no
//!    content type), the URL's query must have `bodySHA256`, the hex SHA-256
//!    of the raw body must equal it, and the signature covers the URL alone
//!    (`bodySHA256` included). A non-empty raw body without `bodySHA256` is
//!    refused ([`SignatureError::UnsignedBody`]) where twilio-python would
//!    check the URL alone and leave the body unsigned.
//! 6. A Media Streams WebSocket upgrade is a `GET` on the `wss://` URL: the
//!    signature covers the URL alone.
//!
//! Comparisons are constant-time ([`subtle`]).
//!
//! # URL normalisation
//!
//! Like the reference, the URL is split and rejoined the way Python's
//! `urllib.parse.urlparse(...).geturl()` does: the scheme is lowercased, an
//! empty `?` or `#` is dropped, tabs and newlines are removed and leading
//! control characters and spaces are stripped. A port that is not a number in
//! `0..=65535` or unbalanced IPv6 brackets make Python raise; here they are
//! [`SignatureError::InvalidUrl`]. Python's NFKC check of the host is not
//! reproduced. A form body that is not UTF-8 once percent-decoded is refused
//! ([`SignatureError::Form`]) where Python would substitute U+FFFD.
//!
//! # Behind a proxy or API Gateway
//!
//! The signature covers the *public* URL Twilio called, which the handler may
//! not see (custom domain vs `execute-api…/stage/`). Rebuild it from
//! configuration with [`public_url`]. A Lambda body flagged `isBase64Encoded`
//! must be decoded before it is passed here.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::forms::{FormError, parse_form};

/// Name of the header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// Name of the header that selects a SharedKey and its algorithm.
pub const SIGNATURE_SETTINGS_HEADER: &str = "X-Twilio-Webhooks-Signature-Settings";

/// Why a request failed validation.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The request has no `X-Twilio-Signature` header.
    #[error("missing X-Twilio-Signature header")]
    MissingSignature,
    /// The signature matches neither URL form.
    #[error("signature does not match")]
    Mismatch,
    /// A body that is not form-encoded came without a `bodySHA256` query
    /// parameter: nothing signs it.
    #[error("a body that is not a form needs the bodySHA256 query parameter")]
    UnsignedBody,
    /// The body's SHA-256 differs from the URL's `bodySHA256`.
    #[error("body SHA-256 does not match the bodySHA256 query parameter")]
    BodyHashMismatch,
    /// The settings header names an algorithm this crate does not support.
    #[error("unsupported webhook signature algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The settings header names a SharedKey id that is not configured.
    #[error("unknown webhook SharedKey id {0:?}")]
    UnknownSharedKey(String),
    /// The request needs the Auth Token but none is configured.
    #[error("no Auth Token configured")]
    NoAuthToken,
    /// The URL cannot be split (bad port, unbalanced IPv6 brackets).
    #[error("invalid URL: {0}")]
    InvalidUrl(&'static str),
    /// The form body cannot be decoded.
    #[error("invalid form body")]
    Form(#[source] FormError),
}

/// The MAC algorithm of a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SignatureAlgorithm {
    /// HMAC-SHA1 keyed by the account Auth Token (the default).
    #[default]
    HmacSha1,
    /// HMAC-SHA256 keyed by a Webhooks SharedKey secret.
    HmacSha256,
}

impl SignatureAlgorithm {
    /// The name in the settings header: `HMAC_SHA1` or `HMAC_SHA256`.
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::HmacSha1 => "HMAC_SHA1",
            Self::HmacSha256 => "HMAC_SHA256",
        }
    }

    /// Parses a settings-header name, case-insensitively like Python's
    /// `.upper()`.
    pub fn from_wire(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("HMAC_SHA1") {
            Some(Self::HmacSha1)
        } else if name.eq_ignore_ascii_case("HMAC_SHA256") {
            Some(Self::HmacSha256)
        } else {
            None
        }
    }
}

/// What `X-Twilio-Webhooks-Signature-Settings` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureSettings {
    /// The SharedKey id (`key=`), if given.
    pub key_id: Option<String>,
    /// The algorithm name (`algorithm=`), `HMAC_SHA1` when absent.
    pub algorithm: String,
}

impl SignatureSettings {
    /// Parses the header as twilio-python's `get_signature_algorithm` does: a
    /// comma-separated list of `name=value`; the first non-empty `algorithm`
    /// wins; a missing or empty header means `HMAC_SHA1`.
    pub fn parse(header: Option<&str>) -> Self {
        let mut key_id = None;
        let mut algorithm = None;
        for part in header.unwrap_or("").split(',') {
            let Some((name, value)) = part.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if value.is_empty() {
                continue;
            }
            if name == "algorithm" && algorithm.is_none() {
                algorithm = Some(value.to_owned());
            } else if name == "key" && key_id.is_none() {
                key_id = Some(value.to_owned());
            }
        }
        Self {
            key_id,
            algorithm: algorithm.unwrap_or_else(|| "HMAC_SHA1".to_owned()),
        }
    }
}

/// A secret, kept out of `Debug` output.
#[derive(Clone, PartialEq, Eq)]
struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The secrets a webhook may be signed with.
///
/// Selection: when the settings header names a SharedKey id, that key's
/// secret is used (unknown id: [`SignatureError::UnknownSharedKey`]);
/// otherwise the Auth Token. The algorithm always comes from the header.
#[derive(Debug, Clone, Default)]
pub struct SigningKeys {
    auth_token: Option<Secret>,
    shared_keys: Vec<(String, Secret)>,
}

impl SigningKeys {
    /// Keys holding only the account Auth Token.
    pub fn auth_token(token: impl AsRef<[u8]>) -> Self {
        Self {
            auth_token: Some(Secret(token.as_ref().to_vec())),
            shared_keys: Vec::new(),
        }
    }

    /// Adds a Webhooks SharedKey (`id` as it appears in `key=`).
    pub fn with_shared_key(mut self, id: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        self.shared_keys
            .push((id.into(), Secret(secret.as_ref().to_vec())));
        self
    }

    fn select(&self, settings: &SignatureSettings) -> Result<&[u8], SignatureError> {
        match &settings.key_id {
            Some(id) => self
                .shared_keys
                .iter()
                .find(|(k, _)| k == id)
                .map(|(_, s)| s.0.as_slice())
                .ok_or_else(|| SignatureError::UnknownSharedKey(id.clone())),
            None => self
                .auth_token
                .as_ref()
                .map(|s| s.0.as_slice())
                .ok_or(SignatureError::NoAuthToken),
        }
    }
}

/// One HTTP request (or WebSocket upgrade) to validate.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The public URL Twilio requested, query included (see [`public_url`]).
    pub url: &'a str,
    /// The HTTP method; `GET` and `HEAD` carry no signed body parameters.
    pub method: &'a str,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The raw body bytes (already base64-decoded if the gateway encoded it).
    pub body: &'a [u8],
    /// The `X-Twilio-Signature` header.
    pub signature: Option<&'a str>,
    /// The `X-Twilio-Webhooks-Signature-Settings` header.
    pub signature_settings: Option<&'a str>,
}

/// Computes the signature Twilio would send for `url` and `params`.
///
/// `params` are the decoded form parameters in any order, repeated names
/// allowed; pass none for GET requests, JSON webhooks and WebSocket upgrades.
/// `url` is signed as given (no port normalisation).
pub fn compute_signature<K, V>(
    key: &[u8],
    algo: SignatureAlgorithm,
    url: &str,
    params: &[(K, V)],
) -> String
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let sorted = sorted_params(params);
    sign(key, algo, url, &sorted)
}

fn sorted_params<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> Vec<(&str, &str)> {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}

fn sign(key: &[u8], algo: SignatureAlgorithm, url: &str, sorted: &[(&str, &str)]) -> String {
    match algo {
        SignatureAlgorithm::HmacSha1 => mac::<Hmac<Sha1>>(key, url, sorted),
        SignatureAlgorithm::HmacSha256 => mac::<Hmac<Sha256>>(key, url, sorted),
    }
}

fn mac<M: Mac + KeyInit>(key: &[u8], url: &str, sorted: &[(&str, &str)]) -> String {
    // HMAC takes keys of any length; the error arm cannot happen, and an empty
    // signature never validates.
    let Ok(mut m) = <M as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    m.update(url.as_bytes());
    for (k, v) in sorted {
        m.update(k.as_bytes());
        m.update(v.as_bytes());
    }
    BASE64.encode(m.finalize().into_bytes())
}

/// Validates a request's signature; `Ok(())` means it came from Twilio.
///
/// The body is form-decoded here when `content_type` is
/// `application/x-www-form-urlencoded` and the method is not `GET`/`HEAD`.
pub fn validate_request(req: &SignedRequest<'_>, keys: &SigningKeys) -> Result<(), SignatureError> {
    let signature = req
        .signature
        .map(|s| s.trim())
        .ok_or(SignatureError::MissingSignature)?;
    let settings = SignatureSettings::parse(req.signature_settings);
    let algo = SignatureAlgorithm::from_wire(&settings.algorithm)
        .ok_or_else(|| SignatureError::UnsupportedAlgorithm(settings.algorithm.clone()))?;
    let key = keys.select(&settings)?;

    let cleaned = python_clean(req.url);
    let url = PyUrl::parse(&cleaned)?;
    let (without_port, with_port) = url.port_variants()?;

    let has_body =
        !req.method.eq_ignore_ascii_case("GET") && !req.method.eq_ignore_ascii_case("HEAD");
    let form = has_body && is_form(req.content_type);
    let params = if form {
        parse_form(req.body).map_err(SignatureError::Form)?
    } else {
        Vec::new()
    };

    // twilio-python checks the body hash only when handed the raw body (a
    // JSON webhook), never for form parameters. A raw body with no hash to
    // check is signed by nothing: refused (twilio-python would sign the URL
    // alone and leave the body unchecked).
    let mut body_ok = subtle::Choice::from(1u8);
    if has_body && !form {
        match query_first(url.query, "bodySHA256") {
            Some(expected) => {
                let actual = hex::encode(Sha256::digest(req.body));
                body_ok = actual.as_bytes().ct_eq(expected.as_bytes());
            }
            None if !req.body.is_empty() => return Err(SignatureError::UnsignedBody),
            None => {}
        }
    }

    let sorted = sorted_params(&params);
    let a = sign(key, algo, &without_port, &sorted);
    let b = sign(key, algo, &with_port, &sorted);
    let sig_ok =
        a.as_bytes().ct_eq(signature.as_bytes()) | b.as_bytes().ct_eq(signature.as_bytes());

    if !bool::from(body_ok) {
        return Err(SignatureError::BodyHashMismatch);
    }
    if !bool::from(sig_ok) {
        return Err(SignatureError::Mismatch);
    }
    Ok(())
}

fn is_form(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// First non-empty value of `name` in a raw query, decoded like Python's
/// `parse_qs` (blank values dropped).
fn query_first(query: &str, name: &str) -> Option<String> {
    parse_form(query.as_bytes())
        .ok()?
        .into_iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v)
}

/// Rebuilds the public URL Twilio called from the configured public base URL
/// (`https://hooks.example.com` or `https://abc.execute-api.ap-south-1.amazonaws.com/prod`),
/// the request path relative to that base and the raw, still-encoded query.
///
/// Exactly one `/` joins base and path; an empty query adds no `?`.
///
/// ```
/// use voxdial_wire::twilio::signature::public_url;
/// assert_eq!(
///     public_url("https://hooks.example.com/prod/", "/twilio/status", Some("a=1&b=%20")),
///     "https://hooks.example.com/prod/twilio/status?a=1&b=%20"
/// );
/// ```
pub fn public_url(base: &str, path: &str, raw_query: Option<&str>) -> String {
    let base = base.trim_end_matches('/');
    let path = path.trim_start_matches('/');
    let mut url = String::with_capacity(base.len() + path.len() + 2);
    url.push_str(base);
    url.push('/');
    url.push_str(path);
    if let Some(q) = raw_query.filter(|q| !q.is_empty()) {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// Schemes Python's `urlunsplit` writes `//` for even with an empty host.
const USES_NETLOC: &[&str] = &[
    "",
    "ftp",
    "http",
    "gopher",
    "nntp",
    "telnet",
    "imap",
    "wais",
    "file",
    "mms",
    "https",
    "shttp",
    "snews",
    "prospero",
    "rtsp",
    "rtsps",
    "rtspu",
    "rsync",
    "svn",
    "svn+ssh",
    "sftp",
    "nfs",
    "git",
    "git+ssh",
    "ws",
    "wss",
    "itms-services",
];

/// Schemes whose last path segment may carry `;params` in `urlparse`.
const USES_PARAMS: &[&str] = &[
    "", "ftp", "hdl", "prospero", "http", "imap", "https", "shttp", "rtsp", "rtsps", "rtspu",
    "sip", "sips", "mms", "sftp", "tel",
];

/// A URL split the way Python 3.11's `urllib.parse.urlparse` splits it.
#[derive(Debug)]
struct PyUrl<'a> {
    scheme: String,
    netloc: &'a str,
    path: &'a str,
    params: &'a str,
    query: &'a str,
    fragment: &'a str,
}

/// What `urlsplit` does before splitting: strip leading C0 controls and
/// spaces, remove every tab, CR and LF.
fn python_clean(raw: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = raw.trim_start_matches(|c: char| c <= ' ');
    if trimmed.contains(['\t', '\r', '\n']) {
        std::borrow::Cow::Owned(trimmed.replace(['\t', '\r', '\n'], ""))
    } else {
        std::borrow::Cow::Borrowed(trimmed)
    }
}

impl<'a> PyUrl<'a> {
    /// Splits a URL already passed through [`python_clean`].
    fn parse(cleaned: &'a str) -> Result<PyUrl<'a>, SignatureError> {
        let mut rest = cleaned;
        let mut scheme = String::new();
        if let Some(i) = rest.find(':') {
            let cand = &rest[..i];
            let valid = i > 0
                && cand.as_bytes()[0].is_ascii_alphabetic()
                && cand
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.');
            if valid {
                scheme = cand.to_ascii_lowercase();
                rest = &rest[i + 1..];
            }
        }
        let mut netloc = "";
        if let Some(after) = rest.strip_prefix("//") {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            netloc = &after[..end];
            rest = &after[end..];
            if netloc.contains('[') != netloc.contains(']') {
                return Err(SignatureError::InvalidUrl("unbalanced IPv6 brackets"));
            }
        }
        let mut fragment = "";
        if let Some((before, frag)) = rest.split_once('#') {
            rest = before;
            fragment = frag;
        }
        let mut query = "";
        if let Some((before, q)) = rest.split_once('?') {
            rest = before;
            query = q;
        }
        let mut path = rest;
        let mut params = "";
        if USES_PARAMS.contains(&scheme.as_str()) && path.contains(';') {
            let i = match path.rfind('/') {
                Some(slash) => path[slash..].find(';').map(|j| slash + j),
                None => path.find(';'),
            };
            if let Some(i) = i {
                params = &path[i + 1..];
                path = &path[..i];
            }
        }
        Ok(PyUrl {
            scheme,
            netloc,
            path,
            params,
            query,
            fragment,
        })
    }

    /// `urlunparse` with another netloc.
    fn join(&self, netloc: &str) -> String {
        let mut url = String::with_capacity(self.path.len() + self.params.len() + 1);
        url.push_str(self.path);
        if !self.params.is_empty() {
            url.push(';');
            url.push_str(self.params);
        }
        if !netloc.is_empty()
            || (!self.scheme.is_empty()
                && USES_NETLOC.contains(&self.scheme.as_str())
                && !url.starts_with("//"))
        {
            if !url.is_empty() && !url.starts_with('/') {
                url.insert(0, '/');
            }
            url = format!("//{netloc}{url}");
        }
        let mut out = String::with_capacity(
            url.len() + self.scheme.len() + self.query.len() + self.fragment.len() + 3,
        );
        if !self.scheme.is_empty() {
            out.push_str(&self.scheme);
            out.push(':');
        }
        out.push_str(&url);
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(self.query);
        }
        if !self.fragment.is_empty() {
            out.push('#');
            out.push_str(self.fragment);
        }
        out
    }

    /// Python's `SplitResult.port`.
    fn port(&self) -> Result<Option<u32>, SignatureError> {
        let hostinfo = self.netloc.rsplit_once('@').map_or(self.netloc, |(_, h)| h);
        let port = match hostinfo.split_once('[') {
            Some((_, bracketed)) => bracketed.split_once(']').map_or("", |(_, after)| {
                after.split_once(':').map_or("", |(_, p)| p)
            }),
            None => hostinfo.split_once(':').map_or("", |(_, p)| p),
        };
        if port.is_empty() {
            return Ok(None);
        }
        if !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SignatureError::InvalidUrl("port is not a number"));
        }
        match port.parse::<u32>() {
            Ok(p) if p <= 65535 => Ok(Some(p)),
            _ => Err(SignatureError::InvalidUrl("port out of range 0-65535")),
        }
    }

    /// `(remove_port(url), add_port(url))` as twilio-python computes them.
    fn port_variants(&self) -> Result<(String, String), SignatureError> {
        // Python tests `if not uri.port`: port 0 counts as no port.
        let port = self.port()?.filter(|p| *p != 0);
        let as_is = self.join(self.netloc);
        Ok(match port {
            Some(_) => {
                let host = self.netloc.split(':').next().unwrap_or("");
                (self.join(host), as_is)
            }
            None => {
                let default = if self.scheme == "https" { 443 } else { 80 };
                (as_is, self.join(&format!("{}:{default}", self.netloc)))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn url_rejoin_matches_python() {
        let cases = [
            ("https://example.com/a?b=1", "https://example.com/a?b=1"),
            ("HTTPS://Example.com/a?", "https://Example.com/a"),
            ("https://example.com/a#", "https://example.com/a"),
            ("https://example.com", "https://example.com"),
            ("https://example.com/a;", "https://example.com/a"),
            ("https://example.com/a;x", "https://example.com/a;x"),
            ("wss://example.com/a;", "wss://example.com/a;"),
        ];
        for (input, want) in cases {
            let u = PyUrl::parse(input).unwrap();
            assert_eq!(u.join(u.netloc), want, "{input}");
        }
    }

    #[test]
    fn port_variants() {
        let u = PyUrl::parse("https://example.com:8443/x").unwrap();
        assert_eq!(
            u.port_variants().unwrap(),
            (
                "https://example.com/x".to_owned(),
                "https://example.com:8443/x".to_owned()
            )
        );
        let u = PyUrl::parse("wss://example.com/x").unwrap();
        assert_eq!(
            u.port_variants().unwrap(),
            (
                "wss://example.com/x".to_owned(),
                "wss://example.com:80/x".to_owned()
            )
        );
        assert!(
            PyUrl::parse("https://example.com:99999/x")
                .unwrap()
                .port_variants()
                .is_err()
        );
        assert!(
            PyUrl::parse("https://example.com:ab/x")
                .unwrap()
                .port_variants()
                .is_err()
        );
    }

    #[test]
    fn settings_header() {
        let s = SignatureSettings::parse(Some("key=webhooks_sharedkey_1, algorithm=HMAC_SHA256"));
        assert_eq!(s.key_id.as_deref(), Some("webhooks_sharedkey_1"));
        assert_eq!(s.algorithm, "HMAC_SHA256");
        assert_eq!(SignatureSettings::parse(None).algorithm, "HMAC_SHA1");
        assert_eq!(
            SignatureSettings::parse(Some("algorithm=")).algorithm,
            "HMAC_SHA1"
        );
    }

    /// twilio-python's own known answer (`tests/unit/test_request_validator.py`:
    /// token `12345`, `uriWithBody`, `expectedWithBody`).
    const KNOWN_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2\
        &bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    const KNOWN_BODY: &[u8] = br#"{"property": "value", "boolean": true}"#;
    const KNOWN_SIGNATURE: &str = "a9nBmqA0ju/hNViExpshrM61xv4=";

    fn raw_body<'a>(url: &'a str, body: &'a [u8], ct: Option<&'a str>) -> SignedRequest<'a> {
        SignedRequest {
            url,
            method: "POST",
            content_type: ct,
            body,
            signature: Some(KNOWN_SIGNATURE),
            signature_settings: None,
        }
    }

    #[test]
    fn body_sha256_known_answer_from_twilio_python() {
        let keys = SigningKeys::auth_token("12345");
        assert_eq!(
            hex::encode(Sha256::digest(KNOWN_BODY)),
            &KNOWN_URL[KNOWN_URL.len() - 64..]
        );
        assert_eq!(
            compute_signature::<&str, &str>(b"12345", SignatureAlgorithm::HmacSha1, KNOWN_URL, &[]),
            KNOWN_SIGNATURE
        );
        let ok = raw_body(KNOWN_URL, KNOWN_BODY, Some("application/json"));
        assert!(validate_request(&ok, &keys).is_ok());
        let tampered = raw_body(
            KNOWN_URL,
            br#"{"property": "evil", "boolean": true}"#,
            Some("application/json"),
        );
        assert!(matches!(
            validate_request(&tampered, &keys),
            Err(SignatureError::BodyHashMismatch)
        ));
    }

    #[test]
    fn a_raw_body_without_body_sha256_is_refused() {
        // GIVEN a signature over the URL alone (no bodySHA256), as a captured
        // GET or JSON webhook would carry
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let key = b"12345";
        let signature =
            compute_signature::<&str, &str>(key, SignatureAlgorithm::HmacSha1, url, &[]);
        let keys = SigningKeys::auth_token("12345");
        for content_type in [Some("text/plain"), None, Some("application/json")] {
            // WHEN a body that is not a form rides along
            let request = SignedRequest {
                url,
                method: "POST",
                content_type,
                body: b"CallSid=CA1&CallStatus=completed",
                signature: Some(&signature),
                signature_settings: None,
            };
            // THEN nothing signs the body: refused
            assert!(
                matches!(
                    validate_request(&request, &keys),
                    Err(SignatureError::UnsignedBody)
                ),
                "{content_type:?}"
            );
        }
        // An empty body has nothing to sign.
        let empty = SignedRequest {
            url,
            method: "POST",
            content_type: None,
            body: b"",
            signature: Some(&signature),
            signature_settings: None,
        };
        assert!(validate_request(&empty, &keys).is_ok());
    }

    #[test]
    fn unknown_shared_key_and_algorithm() {
        let keys = SigningKeys::auth_token("t");
        let mut req = SignedRequest {
            url: "https://example.com/",
            method: "POST",
            content_type: None,
            body: b"",
            signature: Some("x"),
            signature_settings: Some("key=nope,algorithm=HMAC_SHA256"),
        };
        assert!(matches!(
            validate_request(&req, &keys),
            Err(SignatureError::UnknownSharedKey(_))
        ));
        req.signature_settings = Some("algorithm=HMAC_MD5");
        assert!(matches!(
            validate_request(&req, &keys),
            Err(SignatureError::UnsupportedAlgorithm(_))
        ));
        req.signature = None;
        assert!(matches!(
            validate_request(&req, &keys),
            Err(SignatureError::MissingSignature)
        ));
    }

    #[test]
    fn secrets_are_not_debug_printed() {
        let keys = SigningKeys::auth_token("supersecret").with_shared_key("k", "other");
        let s = format!("{keys:?}");
        assert!(!s.contains("supersecret") && !s.contains("other"), "{s}");
    }

    proptest! {
        #[test]
        fn never_panics(url in any::<String>(), body in any::<Vec<u8>>(), sig in any::<String>(),
                        settings in proptest::option::of(any::<String>()), form in any::<bool>()) {
            let keys = SigningKeys::auth_token("token").with_shared_key("k", "s");
            let req = SignedRequest {
                url: &url,
                method: "POST",
                content_type: form.then_some("application/x-www-form-urlencoded"),
                body: &body,
                signature: Some(&sig),
                signature_settings: settings.as_deref(),
            };
            let _ = validate_request(&req, &keys);
        }

        #[test]
        fn compute_then_validate(params in proptest::collection::vec(("[A-Za-z]{1,8}", any::<String>()), 0..8)) {
            let url = "https://example.com/twilio/status?x=1";
            let sig = compute_signature(b"token", SignatureAlgorithm::HmacSha1, url, &params);
            let body = super::super::forms::encode_form(&params);
            let req = SignedRequest {
                url,
                method: "POST",
                content_type: Some("application/x-www-form-urlencoded; charset=utf-8"),
                body: body.as_bytes(),
                signature: Some(&sig),
                signature_settings: None,
            };
            prop_assert!(validate_request(&req, &SigningKeys::auth_token("token")).is_ok());
        }
    }
}
