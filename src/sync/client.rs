//! The hub's device endpoints over HTTP. Every request carries the device token and the
//! kiosk's protocol version; every failure becomes one [`SyncError`] saying what to do.

use std::time::Duration;

use omnikiosk_protocol::wire::{
    ApiError, DeviceInfo, LookupRequest, LookupResponse, PullResponse, PushRequest, PushResponse, PROTOCOL_HEADER, PROTOCOL_VERSION,
};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::config::SyncConfig;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("hub unreachable: {0}")]
    Offline(String),
    #[error("the hub refused this kiosk's token ({0}): enrol again with a new device token")]
    Unauthorized(String),
    #[error("the hub no longer speaks this kiosk's protocol version: update needed (nothing queued is lost)")]
    UpdateNeeded,
    #[error("the hub no longer knows this kiosk's feed position ({0})")]
    CursorReset(String),
    #[error("not found at the hub: {0}")]
    NotFound(String),
    /// The hub is past its limits (429): ask again after `retry_after`, not sooner.
    #[error("the hub is busy ({message}); trying again in {} s", retry_after.as_secs())]
    Busy { retry_after: std::time::Duration, message: String },
    #[error("the hub answered {status}: {message}")]
    Hub { status: u16, message: String },
    #[error("the hub sent an unreadable answer: {0}")]
    BadResponse(String),
    #[error("{0}")]
    BadHubUrl(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl SyncError {
    /// The hub could not be reached at all (as opposed to answering badly).
    pub fn is_offline(&self) -> bool {
        matches!(self, SyncError::Offline(_))
    }

    /// How long the hub asked to be left alone, when it said so.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            SyncError::Busy { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct HubClient {
    /// Shared connection pool: keeps the TCP/TLS connection alive across long-polls.
    http: reqwest::Client,
    /// Hub base URL, always ending in `/`.
    base: Url,
    /// Bearer device token.
    token: String,
    /// Slack over a long-poll's wait before the request counts as hung.
    grace: Duration,
}

impl HubClient {
    /// Refuses a plain `http://` hub that is not on loopback unless `insecure`.
    pub fn new(hub_url: &str, token: &str, insecure: bool, cfg: &SyncConfig) -> Result<HubClient, SyncError> {
        HubClient::trusting(hub_url, token, insecure, None, cfg)
    }

    /// [`HubClient::new`], trusting for the hub's certificate, beside the public web
    /// roots, the private CA `hub_ca` (PEM, from enrolment) and `[sync] ca_file`.
    pub fn trusting(hub_url: &str, token: &str, insecure: bool, hub_ca: Option<&str>, cfg: &SyncConfig) -> Result<HubClient, SyncError> {
        let mut base = Url::parse(hub_url).map_err(|e| SyncError::BadHubUrl(format!("hub URL {hub_url:?}: {e}")))?;
        match base.scheme() {
            "https" => {}
            "http" if is_loopback(&base) => {}
            "http" if insecure => {
                // Every start says it: an --insecure enrolment is for development.
                tracing::warn!(hub = %base, "plain http:// to the hub (enrolled --insecure): anyone on this network can read the device token and the shoppers' data");
            }
            "http" => {
                return Err(SyncError::BadHubUrl(format!(
                    "refusing plain http:// to {hub_url}: use https://, or --insecure on a trusted network"
                )))
            }
            other => return Err(SyncError::BadHubUrl(format!("hub URL scheme {other:?} is not http(s)"))),
        }
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
            .user_agent(concat!("omnikiosk/", env!("CARGO_PKG_VERSION")));
        let configured = match &cfg.ca_file {
            Some(path) => Some((path.display().to_string(), read_ca(path)?)),
            None => None,
        };
        for (what, pem) in hub_ca.map(|pem| ("the CA kept at enrolment".to_string(), pem.to_string())).into_iter().chain(configured) {
            for cert in certificates(&what, &pem)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| SyncError::Internal(format!("HTTP client: {e}")))?;
        Ok(HubClient { http, base, token: token.to_string(), grace: Duration::from_secs(cfg.request_grace_secs) })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `GET /v1/device`: who this token is.
    pub async fn device(&self) -> Result<DeviceInfo, SyncError> {
        self.get("v1/device", &[], Duration::ZERO).await
    }

    /// `GET /v1/device` with a short deadline: is the hub reachable right now?
    pub async fn probe(&self, deadline: Duration) -> Result<DeviceInfo, SyncError> {
        match tokio::time::timeout(deadline, self.device()).await {
            Ok(r) => r,
            Err(_) => Err(SyncError::Offline("no answer in time".into())),
        }
    }

    /// `GET /v1/sync/pull`: at most `limit` changes after `cursor`, held up to `wait`.
    pub async fn pull(&self, cursor: &str, limit: u32, wait: Duration) -> Result<PullResponse, SyncError> {
        let limit = limit.to_string();
        let wait_s = wait.as_secs().to_string();
        self.get("v1/sync/pull", &[("cursor", cursor), ("limit", &limit), ("wait", &wait_s)], wait).await
    }

    /// `POST /v1/lookup`: a customer this store has not cached; `None` when the hub does
    /// not know the code either. The code travels in the body, out of access logs; a hub
    /// of an older release (405) is asked the older way, `GET /v1/lookup?code=`.
    pub async fn lookup(&self, code: &str) -> Result<Option<LookupResponse>, SyncError> {
        let url = self.base.join("v1/lookup").map_err(|e| SyncError::Internal(e.to_string()))?;
        let asked = match self.send(self.http.post(url).json(&LookupRequest { code: code.to_string() }), Duration::ZERO).await {
            Err(SyncError::Hub { status: 405, .. }) => self.get("v1/lookup", &[("code", code)], Duration::ZERO).await,
            other => other,
        };
        match asked {
            Ok(r) => Ok(Some(r)),
            Err(SyncError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /v1/sync/push`: one result per op, in order.
    pub async fn push(&self, req: &PushRequest) -> Result<PushResponse, SyncError> {
        let url = self.base.join("v1/sync/push").map_err(|e| SyncError::Internal(e.to_string()))?;
        self.send(self.http.post(url).json(req), Duration::ZERO).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)], wait: Duration) -> Result<T, SyncError> {
        let url = self.base.join(path).map_err(|e| SyncError::Internal(e.to_string()))?;
        self.send(self.http.get(url).query(query), wait).await
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder, wait: Duration) -> Result<T, SyncError> {
        let resp = req
            .bearer_auth(&self.token)
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .timeout(wait + self.grace)
            .send()
            .await
            .map_err(transport_error)?;
        let status = resp.status();
        // `Retry-After` in seconds (the hub sends whole seconds); a missing one means 1 s.
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(std::time::Duration::from_secs(1), |s| std::time::Duration::from_secs(s.min(300)));
        let body = resp.bytes().await.map_err(transport_error)?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| SyncError::BadResponse(e.to_string()));
        }
        let api = serde_json::from_slice::<ApiError>(&body).ok();
        let code = api.as_ref().map(|e| e.error.clone()).unwrap_or_default();
        let message = api.map(|e| e.message).unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
        Err(match status {
            StatusCode::CONFLICT if code == "cursor_reset" => SyncError::CursorReset(message),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => SyncError::Unauthorized(message),
            StatusCode::UPGRADE_REQUIRED => SyncError::UpdateNeeded,
            StatusCode::NOT_FOUND => SyncError::NotFound(message),
            StatusCode::TOO_MANY_REQUESTS => SyncError::Busy { retry_after, message },
            _ => SyncError::Hub { status: status.as_u16(), message },
        })
    }
}

/// Connection refused, DNS, TLS, timeouts and cut-off bodies all mean "offline" to the
/// kiosk: it keeps working from its local store and tries again later.
fn transport_error(e: reqwest::Error) -> SyncError {
    let what = if e.is_timeout() {
        "no answer in time"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off"
    } else {
        "request failed"
    };
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.contains("certificate") {
        // rustls: UnknownIssuer, NotValidForName, Expired…: the hub is there, not trusted.
        return SyncError::Offline(format!(
            "the hub's certificate is not trusted ({detail}): give this kiosk the CA that signed it \
             (omnikiosk enroll --ca-file FILE, or [sync] ca_file)"
        ));
    }
    SyncError::Offline(format!("{what} ({detail})"))
}

/// Reads a private CA file (`--ca-file`, `[sync] ca_file`): PEM text.
pub fn read_ca(path: &std::path::Path) -> Result<String, SyncError> {
    std::fs::read_to_string(path).map_err(|e| SyncError::BadHubUrl(format!("the CA file {}: {e}", path.display())))
}

/// The certificates of a PEM bundle, at least one; `what` names it in the error.
pub fn certificates(what: &str, pem: &str) -> Result<Vec<reqwest::Certificate>, SyncError> {
    let certs = if pem.contains("-----BEGIN CERTIFICATE-----") { reqwest::Certificate::from_pem_bundle(pem.as_bytes()).ok() } else { None };
    match certs {
        Some(certs) if !certs.is_empty() => Ok(certs),
        _ => Err(SyncError::BadHubUrl(format!("{what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_unless_insecure() {
        let cfg = SyncConfig::default();
        for (url, insecure, ok) in [
            ("http://127.0.0.1:8640", false, true),
            ("http://localhost:8640", false, true),
            ("http://[::1]:8640", false, true),
            ("https://hub.example.com", false, true),
            ("http://hub.example.com", false, false),
            ("http://10.0.0.5:8640", false, false),
            ("http://10.0.0.5:8640", true, true),
            ("ftp://hub.example.com", true, false),
            ("not a url", true, false),
        ] {
            assert_eq!(HubClient::new(url, "t", insecure, &cfg).is_ok(), ok, "{url} insecure={insecure}");
        }
    }

    /// A hub past its limits answers 429 with Retry-After: the kiosk is told how long to
    /// leave it alone, and the daemon waits at least that long.
    #[tokio::test]
    async fn a_busy_hub_is_left_alone_for_as_long_as_it_asks() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await.unwrap();
            let body = r#"{"error":"busy","message":"the hub is busy: try again in 7 s"}"#;
            let answer = format!(
                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(answer.as_bytes()).await.unwrap();
        });
        let client = HubClient::new(&url, "t", false, &SyncConfig::default()).unwrap();
        let e = client.device().await.unwrap_err();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)), "{e}");
        assert!(e.to_string().contains("busy"), "{e}");
    }
}
