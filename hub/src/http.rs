//! The hub's HTTP API (contract in DESIGN.md): device endpoints for kiosks (bearer device
//! token, scoped to one store) and channel endpoints for the online shop (bearer channel
//! token). Storage calls run on tokio's blocking pool; errors answer `ApiError` JSON.

use std::future::Future;
use std::sync::Arc;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use omnikiosk_protocol::code::{encode_public_key, CodeKind};
use omnikiosk_protocol::gtin::DEFAULT_LOYALTY_PREFIX;
use omnikiosk_protocol::scan::{classify, ScanContext};
use omnikiosk_protocol::wire::{
    ApiError, CartPut, Change, ConflictRecord, DeviceHealth, CustomerProfile, OrderDetail, PushRequest, PushResponse, CustomerUpsert, DeviceInfo, IdentifiersPut, LookupRequest, LookupResponse, OrderCancel, OrderCreate,
    PullResponse, SalesPage, ShiftsPage, SignedCodeResponse, Timeline, OLDEST_SUPPORTED_PROTOCOL, PROTOCOL_HEADER, PROTOCOL_VERSION,
};
use omnikiosk_protocol::till::Receipt;
use omnikiosk_protocol::wire::LoyaltyRules;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use utoipa::IntoParams;

use crate::lookups::LookupsPage;
use omnikiosk_protocol::wire::{Colleague, StaffPut};
use crate::params::{CustomerPath, ListLimit, PullLimit, PullWait, TimelineLimit};
use crate::shared_pages::SharedPages;
use crate::store::Device;
use crate::{metrics, now_secs, Hub, HubError};

pub(crate) mod master_data;

/// Longest a pull may be held open.
pub const MAX_WAIT_SECS: u64 = 60;
/// Largest page a kiosk may ask for.
pub const MAX_PAGE: u32 = 10_000;
/// The page a kiosk gets when it names none.
pub const PULL_PAGE: u32 = 1000;
/// Lifetime of a customer code made through the channel API.
pub const CUSTOMER_CODE_TTL_SECS: i64 = 30 * 24 * 3600;
/// Default largest request body, bytes. The largest push a kiosk makes is
/// [`crate::MAX_PUSH_OPS`] ops; the largest op, an `order.pick` of an order's 100 lines, is
/// under 4 KB: a whole push of those is about 3.6 MB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, Default)]
pub struct ServeConfig {
    /// Bearer token of the online channel. `None` leaves the channel endpoints open,
    /// which [`serve`] allows only on a loopback listener.
    pub channel_token: Option<String>,
    /// No-show period in seconds (`None`: the default, 7 days); checked every minute.
    pub no_show_secs: Option<i64>,
    /// How long a check-in lasts while its order is open, in seconds (`None`: the
    /// default, 120 minutes); checked every minute.
    pub checkin_ttl_secs: Option<i64>,
    /// How long a help request nobody closed lasts, in seconds (`None`: the default, 30
    /// minutes); checked every minute.
    pub help_ttl_secs: Option<i64>,
    /// Database jobs run or queued at once before requests are answered 429 with
    /// `Retry-After` (`None`: [`crate::DEFAULT_MAX_IN_FLIGHT`]).
    pub max_in_flight: Option<usize>,
    /// Largest request body in bytes; a larger one is answered 413 `too_large` (`None`:
    /// [`DEFAULT_MAX_BODY_BYTES`]).
    pub max_body_bytes: Option<usize>,
    /// Lookups a device may make per minute; past it the device is answered 429
    /// `lookup_rate_limited` with `Retry-After` (`None`:
    /// [`crate::lookups::DEFAULT_LOOKUPS_PER_MINUTE`]). Counted per hub process.
    pub lookups_per_minute: Option<u32>,
    /// How long a customer attached to a store by lookup alone stays in its cache without
    /// a visit, in seconds (`None`: [`crate::lookups::DEFAULT_LOOKUP_TTL_SECS`], 30 days);
    /// checked every minute.
    pub lookup_ttl_secs: Option<i64>,
    /// HTTPS with this certificate and key (`None`: plain HTTP, for loopback or behind a
    /// proxy that terminates TLS).
    pub tls: Option<crate::tls::TlsFiles>,
    /// Points one device may give per hour (`None`: [`crate::DEFAULT_POINTS_PER_DEVICE_HOUR`]).
    pub points_per_device_hour: Option<i64>,
}

#[derive(Clone)]
struct AppState {
    hub: Hub,
    /// SHA-256 of the channel token: compared in constant time, and of one length whatever
    /// the token's, so neither the comparison nor its length is a timing oracle.
    channel_token: Option<[u8; 32]>,
    /// Turns true when the server is stopping: held long-polls answer at once, so a
    /// stop (systemd, a deploy) does not wait out every kiosk's poll.
    closing: tokio::sync::watch::Receiver<bool>,
    /// Keeps `closing` open for routers built without `serve`.
    _closing_tx: Arc<tokio::sync::watch::Sender<bool>>,
    /// Pages read once for the long-polls of a store woken together.
    pages: Arc<SharedPages>,
    /// Bearer tokens lately found to be nobody's ([`admit`]).
    strangers: Arc<Strangers>,
}

/// Tokens lately found to be nobody's, by digest, with when: a flood of requests with a
/// made-up token is answered from here, without a read of the devices table each.
#[derive(Default)]
struct Strangers(std::sync::Mutex<std::collections::HashMap<[u8; 32], std::time::Instant>>);

impl Strangers {
    /// How long a token found to be nobody's is answered from memory; a device added
    /// meanwhile waits that long for its first request with it.
    const FOR: Duration = Duration::from_secs(10);
    /// Tokens remembered at most; past it the memory starts again.
    const MAX: usize = 10_000;

    fn known(&self, digest: &[u8; 32]) -> bool {
        let seen = self.0.lock().expect("not poisoned");
        seen.get(digest).is_some_and(|at| at.elapsed() < Self::FOR)
    }

    fn note(&self, digest: [u8; 32]) {
        let mut seen = self.0.lock().expect("not poisoned");
        if seen.len() >= Self::MAX {
            seen.clear();
        }
        seen.insert(digest, std::time::Instant::now());
    }
}

/// A request that brings a body (a push, an order, an import…) is let in only with a
/// token that is someone's — the channel's, or a device's in good standing — before a
/// byte of its body is read: a stranger's 4 MiB is never parsed, and a flood of them
/// costs no database read (made-up tokens are remembered a few seconds). Each handler
/// still checks which token may do what.
async fn admit(State(s): State<AppState>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let with_body = matches!(*req.method(), axum::http::Method::POST | axum::http::Method::PUT | axum::http::Method::PATCH);
    if !with_body || s.channel_token.is_none() {
        return next.run(req).await;
    }
    let Some(token) = bearer(req.headers()).map(str::to_string) else {
        return ApiFailure(HubError::Unauthorized("missing bearer token".into())).into_response();
    };
    if is_channel_token(&s, &token) || s.hub.known_device(&token).is_some_and(|d| !d.revoked) {
        return next.run(req).await;
    }
    let digest = token_digest(&token);
    if !s.strangers.known(&digest) {
        let hub = s.hub.clone();
        match blocking(move || hub.device_by_token(&token)).await {
            Ok(Some(d)) if !d.revoked => return next.run(req).await,
            Ok(_) => s.strangers.note(digest),
            Err(e) => return e.into_response(),
        }
    }
    ApiFailure(HubError::Unauthorized("unknown or revoked token".into())).into_response()
}

struct ApiFailure(HubError);

impl From<HubError> for ApiFailure {
    fn from(e: HubError) -> Self {
        ApiFailure(e)
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let e = self.0;
        let message = match &e {
            HubError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "internal error".to_string()
            }
            HubError::Storage(detail) => {
                metrics::database_error();
                tracing::error!(%detail, "database error");
                "internal error: the hub's database failed".to_string()
            }
            other => other.to_string(),
        };
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(ApiError { error: e.code().to_string(), message })).into_response();
        if let Some(secs) = e.retry_after() {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

type ApiResult<T> = Result<Json<T>, ApiFailure>;
/// A JSON request body, or why it could not be read.
type Body<T> = Result<Json<T>, JsonRejection>;

/// Runs storage work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, HubError> + Send + 'static) -> Result<T, ApiFailure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HubError::Internal(format!("worker: {e}")))?
        .map_err(ApiFailure)
}

/// Runs `f` on the hub, off the async threads.
async fn on_hub<T: Send + 'static>(s: &AppState, f: impl FnOnce(&Hub) -> Result<T, HubError> + Send + 'static) -> Result<T, ApiFailure> {
    let hub = s.hub.clone();
    blocking(move || f(&hub)).await
}

/// A channel write to a customer, answered with the profile as it now stands.
async fn customer_write<B: Send + 'static>(
    s: &AppState,
    headers: &HeaderMap,
    id: CustomerPath,
    b: Body<B>,
    write: fn(&Hub, &str, &B) -> Result<(), HubError>,
) -> ApiResult<CustomerProfile> {
    channel_auth(s, headers).await?;
    let id = id.id.read()?;
    let b = body(b)?;
    Ok(Json(
        on_hub(s, move |hub| {
            write(hub, &id, &b)?;
            hub.get_customer(&id)
        })
        .await?,
    ))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// Whether `token` is the channel token, in time that does not depend on where they differ.
fn is_channel_token(state: &AppState, token: &str) -> bool {
    let Some(expected) = &state.channel_token else { return false };
    token_digest(token).ct_eq(expected).into()
}

fn token_digest(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// The caller's protocol version; kiosks always send it, other callers may not.
fn protocol(headers: &HeaderMap) -> Result<u32, ApiFailure> {
    let Some(v) = headers.get(PROTOCOL_HEADER) else { return Ok(PROTOCOL_VERSION) };
    let v: u32 = v
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| HubError::BadRequest(format!("{PROTOCOL_HEADER} must be a number")))?;
    if !(OLDEST_SUPPORTED_PROTOCOL..=PROTOCOL_VERSION).contains(&v) {
        return Err(HubError::UpdateNeeded(v).into());
    }
    Ok(v)
}

async fn device_auth(state: &AppState, headers: &HeaderMap) -> Result<(Device, u32), ApiFailure> {
    let proto = protocol(headers)?;
    let token = bearer(headers).ok_or_else(|| HubError::Unauthorized("missing bearer device token".into()))?.to_string();
    if is_channel_token(state, &token) {
        return Err(HubError::Forbidden("the channel token cannot act as a kiosk".into()).into());
    }
    let device = match state.hub.known_device(&token) {
        Some(device) => Some(device),
        None => {
            let hub = state.hub.clone();
            blocking(move || hub.device_by_token(&token)).await?
        }
    };
    match device {
        Some(d) if !d.revoked => Ok((d, proto)),
        Some(_) => Err(HubError::Unauthorized("this device token was revoked".into()).into()),
        None => Err(HubError::Unauthorized("unknown device token".into()).into()),
    }
}

async fn channel_auth(state: &AppState, headers: &HeaderMap) -> Result<(), ApiFailure> {
    protocol(headers)?;
    if state.channel_token.is_none() {
        return Ok(());
    }
    match bearer(headers) {
        Some(t) if is_channel_token(state, t) => Ok(()),
        Some(t) => {
            let hub = state.hub.clone();
            let token = t.to_string();
            let is_device = blocking(move || hub.device_by_token(&token)).await?.is_some();
            if is_device {
                Err(HubError::Forbidden("a device token cannot use the channel API".into()).into())
            } else {
                Err(HubError::Unauthorized("unknown channel token".into()).into())
            }
        }
        None => Err(HubError::Unauthorized("missing bearer channel token".into()).into()),
    }
}

/// A query that could not be read, answered 400.
fn bad_query(e: QueryRejection) -> ApiFailure {
    HubError::BadRequest(format!("bad query: {}", e.body_text())).into()
}

fn body<T>(b: Body<T>) -> Result<T, ApiFailure> {
    b.map(|Json(v)| v).map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            HubError::TooLarge("the request body is larger than this hub takes".into()).into()
        } else {
            HubError::BadRequest(format!("bad JSON body: {}", e.body_text())).into()
        }
    })
}

pub fn router(hub: Hub, cfg: ServeConfig) -> Router {
    router_with(hub, cfg, Arc::new(tokio::sync::watch::channel(false).0))
}

fn router_with(hub: Hub, cfg: ServeConfig, closing: Arc<tokio::sync::watch::Sender<bool>>) -> Router {
    // Installed before the first request is counted.
    metrics::handle();
    let channel_token = cfg.channel_token.as_deref().map(token_digest);
    let state = AppState { hub, channel_token, closing: closing.subscribe(), _closing_tx: closing, pages: Arc::default(), strangers: Arc::default() };
    Router::new()
        .route("/v1/device", get(device_info))
        .route("/v1/sync/pull", get(pull))
        .route("/v1/sync/push", post(push))
        .route("/v1/lookup", get(lookup).post(lookup_post))
        .route("/v1/lookups", get(lookups))
        .route("/v1/customers/{id}", put(upsert_customer).get(get_customer).delete(erase_customer))
        .route("/v1/customers/{id}/identifiers", put(put_identifiers))
        .route("/v1/customers/{id}/cart", put(put_cart))
        .route("/v1/customers/{id}/code", post(customer_code))
        .route("/v1/customers/{id}/timeline", get(timeline))
        .route("/v1/orders", post(place_order))
        .route("/v1/orders/{id}", get(get_order))
        .route("/v1/orders/{id}/cancel", post(cancel_order))
        .route("/v1/sales", get(sales))
        .route("/v1/shifts", get(shifts))
        .route("/v1/receipts/{number}", get(receipt))
        .route("/v1/e-receipts/{code}", get(e_receipt))
        .route("/v1/devices", get(devices))
        .route("/v1/loyalty/rule", put(put_loyalty_rule).get(loyalty_rule))
        .route("/v1/conflicts", get(conflicts))
        .route("/v1/stores/{id}/staff", get(list_staff))
        .route("/v1/stores/{id}/staff/{staff_id}", put(put_staff).delete(remove_staff))
        .route("/v1/openapi.json", get(openapi_json))
        .merge(master_data::routes())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), admit))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(cfg.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES)))
        .with_state(state)
}

/// Why the hub could not serve.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("refusing to listen on {0} without a channel token (--channel-token or OMNIKIOSK_CHANNEL_TOKEN)")]
    Unprotected(SocketAddr),
    #[error("serving HTTP: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// Serves until `shutdown` resolves. Refuses a non-loopback listener without a channel
/// token: the channel API would otherwise be open to the network.
pub async fn serve(
    hub: Hub,
    listener: tokio::net::TcpListener,
    cfg: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let addr: SocketAddr = listener.local_addr()?;
    if cfg.channel_token.is_none() && !addr.ip().is_loopback() {
        return Err(ServeError::Unprotected(addr));
    }
    let tls = match &cfg.tls {
        Some(files) => Some((crate::tls::load(files).await?, files.clone())),
        None => {
            if !addr.ip().is_loopback() {
                tracing::warn!(%addr, "serving plain HTTP off loopback: tokens cross the network readable; use --tls-cert/--tls-key or a TLS proxy in front");
            }
            None
        }
    };
    hub.set_max_in_flight(cfg.max_in_flight.unwrap_or(crate::DEFAULT_MAX_IN_FLIGHT));
    hub.set_lookups_per_minute(cfg.lookups_per_minute.unwrap_or(crate::lookups::DEFAULT_LOOKUPS_PER_MINUTE));
    hub.set_points_per_device_hour(cfg.points_per_device_hour.unwrap_or(crate::DEFAULT_POINTS_PER_DEVICE_HOUR));
    let lookup_ttl = cfg.lookup_ttl_secs.unwrap_or(crate::lookups::DEFAULT_LOOKUP_TTL_SECS);
    let no_show = cfg.no_show_secs.unwrap_or(crate::DEFAULT_NO_SHOW_SECS);
    let checkin_ttl = cfg.checkin_ttl_secs.unwrap_or(crate::DEFAULT_CHECKIN_TTL_SECS);
    let help_ttl = cfg.help_ttl_secs.unwrap_or(crate::DEFAULT_HELP_TTL_SECS);
    let expiry_hub = hub.clone();
    let expiry = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let h = expiry_hub.clone();
            match tokio::task::spawn_blocking(move || h.expire_no_shows(now_secs(), no_show)).await {
                Ok(Ok(ids)) if !ids.is_empty() => tracing::info!(count = ids.len(), "orders expired as no-shows"),
                Ok(Err(e)) => tracing::warn!(error = %e, "no-show expiry failed"),
                _ => {}
            }
            let h = expiry_hub.clone();
            match tokio::task::spawn_blocking(move || h.end_stale_waits(now_secs(), checkin_ttl, help_ttl)).await {
                Ok(Ok(ended)) if !ended.checkins.is_empty() || !ended.help.is_empty() => {
                    tracing::info!(checkins = ended.checkins.len(), help = ended.help.len(), "check-ins and help requests ran out of time")
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "check-in and help request expiry failed"),
                _ => {}
            }
            let h = expiry_hub.clone();
            match tokio::task::spawn_blocking(move || h.republish_due_prices(now_secs())).await {
                Ok(Ok(changed)) if changed > 0 => tracing::info!(changed, "sale prices started or ended: products published anew"),
                Ok(Err(e)) => tracing::warn!(error = %e, "publishing the sale prices due failed"),
                _ => {}
            }
            let h = expiry_hub.clone();
            match tokio::task::spawn_blocking(move || h.detach_stale_lookups(now_secs(), lookup_ttl)).await {
                Ok(Ok(gone)) if !gone.is_empty() => tracing::info!(count = gone.len(), "customers attached by lookup left their stores' caches"),
                Ok(Err(e)) => tracing::warn!(error = %e, "expiry of customers attached by lookup failed"),
                _ => {}
            }
        }
    });
    // The pull bookkeeping kept in memory, written in one transaction every few seconds.
    let seen_hub = hub.clone();
    let flushing = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(crate::SEEN_FLUSH_SECS));
        loop {
            tick.tick().await;
            let h = seen_hub.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || h.flush_seen()).await {
                tracing::warn!(error = %e, "writing the devices' pull bookkeeping failed; kept for the next try");
            }
        }
    });
    let last_flush = hub.clone();
    let closing = Arc::new(tokio::sync::watch::channel(false).0);
    let on_stop = closing.clone();
    let stopping = async move {
        shutdown.await;
        on_stop.send_replace(true);
    };
    let app = router_with(hub, cfg, closing);
    let served = match tls {
        None => axum::serve(listener, app).with_graceful_shutdown(stopping).await,
        Some((config, files)) => {
            let reload = crate::tls::reload_on_hangup(config.clone(), files);
            let handle = axum_server::Handle::new();
            let on_stop = handle.clone();
            tokio::spawn(async move {
                stopping.await;
                // Long-polls end at once (`closing`); other requests get a moment.
                on_stop.graceful_shutdown(Some(Duration::from_secs(5)));
            });
            let served = axum_server::from_tcp_rustls(listener.into_std()?, config).handle(handle).serve(app.into_make_service()).await;
            reload.abort();
            served
        }
    };
    expiry.abort();
    flushing.abort();
    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || last_flush.flush_seen()).await {
        tracing::warn!(error = %e, "the devices' last pull bookkeeping was not written");
    }
    served?;
    Ok(())
}

#[utoipa::path(
    get, path = "/v1/device", tag = "device", security(("device_token" = [])),
    responses((status = 200, description = "Who the calling device is", body = DeviceInfo))
)]
async fn device_info(State(s): State<AppState>, headers: HeaderMap) -> ApiResult<DeviceInfo> {
    let (device, proto) = device_auth(&s, &headers).await?;
    let hub = s.hub.clone();
    let store_id = device.store_id;
    let store = blocking(move || hub.store(store_id)).await?;
    let hub = s.hub.clone();
    let id = device.id.clone();
    let (last_seq, last_receipt) = blocking(move || {
        hub.device_seen(&id, proto, None)?;
        Ok((hub.device_last_seq(&id)?, hub.last_receipt(&id)?))
    })
    .await?;
    Ok(Json(DeviceInfo {
        last_seq,
        last_receipt,
        device_id: device.id,
        store_id,
        store_name: store.map(|s| s.name).unwrap_or_default(),
        hub_public_key: encode_public_key(&s.hub.public_key()),
        server_time: now_secs(),
        protocol_version: PROTOCOL_VERSION,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PullParams {
    /// The `cursor` of the last page; empty or absent for the start of the feed.
    #[serde(default)]
    cursor: String,
    /// Most changes in the page; a server transaction is never split.
    #[param(inline)]
    limit: Option<PullLimit>,
    /// Seconds to hold the request when nothing is new (long-poll). A hold of 10 s or more
    /// may end at any moment of its last quarter, so that kiosks drift apart.
    #[param(inline)]
    wait: Option<PullWait>,
}

#[utoipa::path(
    get, path = "/v1/sync/pull", tag = "device", security(("device_token" = [])), params(PullParams),
    responses(
        (status = 200, description = "Changes after the cursor for this device's store, whole server transactions only", body = PullResponse),
        (status = 409, description = "The cursor is of another hub database, or ahead of this feed: pull again from the start (`cursor_reset`)", body = ApiError),
    )
)]
async fn pull(State(s): State<AppState>, headers: HeaderMap, params: Result<Query<PullParams>, QueryRejection>) -> Result<Response, ApiFailure> {
    let (device, proto) = device_auth(&s, &headers).await?;
    let Query(p) = params.map_err(bad_query)?;
    let (limit, wait) = (PullLimit::read(&p.limit)? as u32, PullWait::read(&p.wait)?);
    let hub = s.hub.clone();
    let cursor = p.cursor.clone();
    let pulling = device.clone();
    let after = blocking(move || {
        let after = hub.parse_cursor(&cursor)?;
        hub.device_pulling(&pulling, proto)?;
        Ok(after)
    })
    .await?;
    let wait = held_for(Duration::from_secs(wait));
    let deadline = tokio::time::Instant::now() + wait;
    // Subscribe before reading, so a commit between the read and the wait still wakes us.
    let mut head = s.hub.subscribe(device.store_id);
    let page = loop {
        let version = *head.borrow_and_update();
        let hub = s.hub.clone();
        let store_id = device.store_id;
        let page = s.pages.get(store_id, after, limit, version, || blocking(move || hub.pull(store_id, after, limit))).await?;
        if !page.changes.is_empty() || tokio::time::Instant::now() >= deadline {
            break page;
        }
        // Nothing new for this store: wait for a commit (maybe another store's) or time.
        let mut closing = s.closing.clone();
        if *closing.borrow_and_update() {
            break page;
        }
        let _open = metrics::LongPollOpen::start();
        tokio::select! {
            woke = tokio::time::timeout_at(deadline, head.changed()) => if woke.is_err() { break page; },
            _ = closing.changed() => break page,
        }
    };
    // A device of the previous protocol is not sent the kinds it cannot read; its cursor
    // moves past them all the same.
    #[derive(serde::Deserialize)]
    struct Kind<'a> {
        #[serde(borrow)]
        kind: std::borrow::Cow<'a, str>,
    }
    /// A product's `status`, which decides what an older device is sent.
    #[derive(serde::Deserialize)]
    struct ProductStatus<'a> {
        #[serde(borrow)]
        data: Status<'a>,
    }
    #[derive(serde::Deserialize)]
    struct Status<'a> {
        #[serde(borrow, default)]
        status: Option<std::borrow::Cow<'a, str>>,
    }
    let known = |b: &String| {
        proto >= PROTOCOL_VERSION
            || serde_json::from_str::<Kind>(b).is_ok_and(|k| {
                let status = if k.kind == "product" { serde_json::from_str::<ProductStatus>(b).ok().and_then(|p| p.data.status) } else { None };
                Change::needs_protocol(&k.kind, status.as_deref()) <= proto
            })
    };
    let hub = s.hub.clone();
    let (id, last) = (device.id.clone(), page.last_seq);
    blocking(move || hub.device_seen(&id, proto, Some(last))).await?;
    // A `PullResponse` written straight from the stored change bodies (the hub wrote each
    // as a serialised `Change`): a catch-up page costs no parsing and no re-encoding.
    let mut body = String::with_capacity(page.changes.iter().map(|b| b.len() + 1).sum::<usize>() + 128);
    body.push_str("{\"changes\":[");
    for (i, change) in page.changes.iter().filter(|b| known(b)).enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(change);
    }
    let tail = PullTail { cursor: s.hub.cursor(page.last_seq), has_more: page.has_more, remaining: page.remaining };
    let tail = serde_json::to_string(&tail).map_err(|e| HubError::Internal(format!("pull page: {e}")))?;
    body.push_str("],");
    body.push_str(&tail[1..]);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Holds of at least this long end at a random moment of their last quarter.
const JITTER_FROM: Duration = Duration::from_secs(10);

/// How long a long-poll asking to wait `wait` is held when nothing comes. Kiosks parked
/// together (after a hub restart, or a store's all answered by one change) would time out
/// together and come back as one herd every `wait`; ended at a random moment of its last
/// quarter, their polls drift apart.
fn held_for(wait: Duration) -> Duration {
    use rand::Rng;
    if wait < JITTER_FROM {
        return wait;
    }
    wait.mul_f64(rand::thread_rng().gen_range(0.75..=1.0))
}

/// The fields of a [`PullResponse`] after its changes, in its wire form.
#[derive(serde::Serialize)]
struct PullTail {
    cursor: String,
    has_more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    remaining: Option<u64>,
}

#[utoipa::path(
    post, path = "/v1/sync/push", tag = "device", security(("device_token" = [])), request_body = PushRequest,
    responses(
        (status = 200, description = "One result per op, in order; stops after an `expected_seq`", body = PushResponse),
        (status = 413, description = "The body is larger than the hub takes (`too_large`)", body = ApiError),
    )
)]
async fn push(State(s): State<AppState>, headers: HeaderMap, b: Body<PushRequest>) -> ApiResult<PushResponse> {
    let (device, _) = device_auth(&s, &headers).await?;
    let req = body(b)?;
    let hub = s.hub.clone();
    let results = blocking(move || hub.push(&device, &req)).await?;
    results.iter().for_each(|r| metrics::op_answered(&r.outcome));
    Ok(Json(PushResponse { results }))
}

#[utoipa::path(
    get, path = "/v1/conflicts", tag = "channel", security(("channel_token" = [])),
    responses((status = 200, description = "Ops the hub rejected, with both sides' facts", body = Vec<ConflictRecord>))
)]
async fn conflicts(State(s): State<AppState>, headers: HeaderMap) -> ApiResult<Vec<ConflictRecord>> {
    channel_auth(&s, &headers).await?;
    Ok(Json(on_hub(&s, move |hub| hub.conflicts()).await?))
}

#[utoipa::path(
    delete, path = "/v1/customers/{id}", tag = "channel", security(("channel_token" = [])), params(CustomerPath),
    responses(
        (status = 204, description = "Erased everywhere: every kiosk drops the customer at its next pull"),
        (status = 404, description = "No such customer (`not_found`)", body = ApiError),
    )
)]
async fn erase_customer(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<CustomerPath>) -> Result<StatusCode, ApiFailure> {
    channel_auth(&s, &headers).await?;
    let id = id.id.read()?;
    let hub = s.hub.clone();
    blocking(move || hub.erase_customer(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LookupParams {
    /// A scanned customer app code (`K1.…`) or loyalty card number.
    code: String,
}

#[utoipa::path(
    get, path = "/v1/lookup", tag = "device", security(("device_token" = [])), params(LookupParams),
    description = "The form of kiosks before protocol 5; newer ones POST the code, which keeps it out of access logs.",
    responses(
        (status = 200, description = "The customer, who now flows into this store's feed", body = LookupResponse),
        (status = 404, description = "Nobody has this code (`not_found`)", body = ApiError),
        (status = 429, description = "The hub is past its limits (`busy`), or this device made more lookups than it may per minute \
            (`lookup_rate_limited`: nothing was looked up): ask again after the `Retry-After` seconds", body = ApiError),
    )
)]
async fn lookup(State(s): State<AppState>, headers: HeaderMap, params: Result<Query<LookupParams>, QueryRejection>) -> ApiResult<LookupResponse> {
    let (device, _) = device_auth(&s, &headers).await?;
    let Query(p) = params.map_err(bad_query)?;
    look_up(&s, device, &p.code).await
}

#[utoipa::path(
    post, path = "/v1/lookup", tag = "device", security(("device_token" = [])), request_body = LookupRequest,
    responses(
        (status = 200, description = "The customer, who now flows into this store's feed", body = LookupResponse),
        (status = 404, description = "Nobody has this code (`not_found`)", body = ApiError),
        (status = 429, description = "The hub is past its limits (`busy`), or this device made more lookups than it may per minute \
            (`lookup_rate_limited`: nothing was looked up): ask again after the `Retry-After` seconds", body = ApiError),
    )
)]
async fn lookup_post(State(s): State<AppState>, headers: HeaderMap, b: Body<LookupRequest>) -> ApiResult<LookupResponse> {
    let (device, _) = device_auth(&s, &headers).await?;
    let b = body(b)?;
    look_up(&s, device, &b.code).await
}

/// Both forms of the lookup: the code classified, then looked up for the device's store.
async fn look_up(s: &AppState, device: Device, code: &str) -> ApiResult<LookupResponse> {
    let key = s.hub.public_key();
    let scan = classify(code, &ScanContext { hub_key: Some(&key), now: now_secs(), loyalty_prefix: DEFAULT_LOYALTY_PREFIX })
        .map_err(|e| HubError::BadRequest(e.to_string()))?;
    let hub = s.hub.clone();
    let found = blocking(move || hub.lookup(&device, scan)).await?;
    let found = found.ok_or_else(|| HubError::NotFound("no customer with this code".into()))?;
    Ok(Json(found))
}

#[utoipa::path(
    put, path = "/v1/customers/{id}", tag = "channel", security(("channel_token" = [])), params(CustomerPath),
    request_body = CustomerUpsert,
    responses(
        (status = 200, description = "The profile as it now stands", body = CustomerProfile),
        (status = 413, description = "The body is larger than the hub takes (`too_large`)", body = ApiError),
    )
)]
async fn upsert_customer(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<CustomerPath>, b: Body<CustomerUpsert>) -> ApiResult<CustomerProfile> {
    customer_write(&s, &headers, id, b, Hub::upsert_customer).await
}

#[utoipa::path(
    get, path = "/v1/customers/{id}", tag = "channel", security(("channel_token" = [])), params(CustomerPath),
    responses(
        (status = 200, description = "The whole profile, with the loyalty balance", body = CustomerProfile),
        (status = 404, description = "No such customer (`not_found`)", body = ApiError),
    )
)]
async fn get_customer(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<CustomerPath>) -> ApiResult<CustomerProfile> {
    channel_auth(&s, &headers).await?;
    let id = id.id.read()?;
    Ok(Json(on_hub(&s, move |hub| hub.get_customer(&id)).await?))
}

#[utoipa::path(
    put, path = "/v1/customers/{id}/identifiers", tag = "channel", security(("channel_token" = [])), params(CustomerPath),
    request_body = IdentifiersPut,
    responses(
        (status = 200, description = "The profile as it now stands", body = CustomerProfile),
        (status = 404, description = "No such customer (`not_found`)", body = ApiError),
        (status = 409, description = "A card belongs to another customer (`conflict`)", body = ApiError),
        (status = 413, description = "The body is larger than the hub takes (`too_large`)", body = ApiError),
    )
)]
async fn put_identifiers(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<CustomerPath>, b: Body<IdentifiersPut>) -> ApiResult<CustomerProfile> {
    customer_write(&s, &headers, id, b, Hub::put_identifiers).await
}

#[utoipa::path(
    put, path = "/v1/customers/{id}/cart", tag = "channel", security(("channel_token" = [])), params(CustomerPath),
    request_body = CartPut,
    responses(
        (status = 200, description = "The profile as it now stands", body = CustomerProfile),
        (status = 404, description = "No such customer (`not_found`)", body = ApiError),
        (status = 413, description = "The body is larger than the hub takes (`too_large`)", body = ApiError),
    )
)]
async fn put_cart(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<CustomerPath>, b: Body<CartPut>) -> ApiResult<CustomerProfile> {
    customer_write(&s, &headers, id, b, Hub::put_cart).await
}

#[utoipa::path(
    post, path = "/v1/customers/{id}/code", tag = "channel", security(("channel_token" = [])), params(CustomerPath),
    responses(
        (status = 200, description = "A signed customer QR payload (`K1.…`)", body = SignedCodeResponse),
        (status = 404, description = "No such customer (`not_found`)", body = ApiError),
    )
)]
async fn customer_code(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<CustomerPath>) -> ApiResult<SignedCodeResponse> {
    channel_auth(&s, &headers).await?;
    let id = id.id.read()?;
    let hub = s.hub.clone();
    let code = blocking(move || {
        hub.get_customer(&id)?;
        hub.sign_code(CodeKind::Customer, &id, CUSTOMER_CODE_TTL_SECS)
    })
    .await?;
    Ok(Json(SignedCodeResponse { code }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TimelineParams {
    /// The `next` of the page before; absent for the newest.
    after: Option<String>,
    /// Entries in the page.
    #[param(inline)]
    limit: Option<TimelineLimit>,
}

#[utoipa::path(
    get, path = "/v1/customers/{id}/timeline", tag = "channel", security(("channel_token" = [])), params(CustomerPath, TimelineParams),
    responses(
        (status = 200, description = "The customer's in-store touchpoints, newest first", body = Timeline),
        (status = 404, description = "No such customer (`not_found`)", body = ApiError),
    )
)]
async fn timeline(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<CustomerPath>,
    params: Result<Query<TimelineParams>, QueryRejection>,
) -> ApiResult<Timeline> {
    channel_auth(&s, &headers).await?;
    let id = id.id.read()?;
    let Query(p) = params.map_err(bad_query)?;
    let limit = TimelineLimit::read(&p.limit)? as u32;
    Ok(Json(on_hub(&s, move |hub| hub.timeline(&id, p.after.as_deref(), Some(limit))).await?))
}

#[utoipa::path(
    post, path = "/v1/orders", tag = "channel", security(("channel_token" = [])), request_body = OrderCreate,
    responses(
        (status = 201, description = "The order, with its id, status and pickup code", body = OrderDetail),
        (status = 404, description = "The customer is gone (`not_found`)", body = ApiError),
        (status = 409, description = "The store has no free pickup code (`conflict`)", body = ApiError),
        (status = 413, description = "The body is larger than the hub takes (`too_large`)", body = ApiError),
    )
)]
async fn place_order(State(s): State<AppState>, headers: HeaderMap, b: Body<OrderCreate>) -> Result<(StatusCode, Json<OrderDetail>), ApiFailure> {
    channel_auth(&s, &headers).await?;
    let b = body(b)?;
    let hub = s.hub.clone();
    Ok((StatusCode::CREATED, Json(blocking(move || hub.place_order(&b)).await?)))
}

#[utoipa::path(
    get, path = "/v1/orders/{id}", tag = "channel", security(("channel_token" = [])), params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order with its history", body = OrderDetail),
        (status = 404, description = "No such order (`not_found`)", body = ApiError),
    )
)]
async fn get_order(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> ApiResult<OrderDetail> {
    channel_auth(&s, &headers).await?;
    Ok(Json(on_hub(&s, move |hub| hub.get_order(&id)).await?))
}

#[utoipa::path(
    post, path = "/v1/orders/{id}/cancel", tag = "channel", security(("channel_token" = [])), params(("id" = String, Path, description = "Order id")),
    request_body = OrderCancel,
    responses(
        (status = 200, description = "The cancelled order with its history", body = OrderDetail),
        (status = 404, description = "No such order (`not_found`)", body = ApiError),
        (status = 409, description = "The order is already finished (`conflict`)", body = ApiError),
        (status = 413, description = "The body is larger than the hub takes (`too_large`)", body = ApiError),
    )
)]
async fn cancel_order(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>, b: Body<OrderCancel>) -> ApiResult<OrderDetail> {
    channel_auth(&s, &headers).await?;
    let b = body(b)?;
    Ok(Json(on_hub(&s, move |hub| hub.cancel_order(&id, &b.reason)).await?))
}

/// The query of a channel list in commit order (`/v1/sales`, `/v1/shifts`, `/v1/lookups`).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// This store's only; absent for every store's.
    store_id: Option<i64>,
    /// The `cursor` of the page before; absent for the first recorded.
    after: Option<String>,
    /// How many in the page.
    #[param(inline)]
    limit: Option<ListLimit>,
}

#[utoipa::path(
    get, path = "/v1/sales", tag = "channel", security(("channel_token" = [])), params(ListParams),
    responses(
        (status = 200, description = "Receipts (sales and returns) in the order the hub recorded them, with lines, tenders and tax", body = SalesPage),
        (status = 409, description = "The cursor is of another hub database: read again from the start (`cursor_reset`)", body = ApiError),
    )
)]
async fn sales(State(s): State<AppState>, headers: HeaderMap, params: Result<Query<ListParams>, QueryRejection>) -> ApiResult<SalesPage> {
    channel_list(&s, &headers, params, Hub::sales).await
}

#[utoipa::path(
    get, path = "/v1/shifts", tag = "channel", security(("channel_token" = [])), params(ListParams),
    responses(
        (status = 200, description = "Z reports (shifts closed at the tills) in the order the hub recorded them", body = ShiftsPage),
        (status = 409, description = "The cursor is of another hub database: read again from the start (`cursor_reset`)", body = ApiError),
    )
)]
async fn shifts(State(s): State<AppState>, headers: HeaderMap, params: Result<Query<ListParams>, QueryRejection>) -> ApiResult<ShiftsPage> {
    channel_list(&s, &headers, params, Hub::shifts).await
}

#[utoipa::path(
    get, path = "/v1/lookups", tag = "channel", security(("channel_token" = [])), params(ListParams),
    responses(
        (status = 200, description = "The lookups' audit in the order the hub recorded them: device, store, kind of code, \
            found, not found or refused by the rate limit, when; never the code, and only the id of a customer found", body = LookupsPage),
        (status = 409, description = "The cursor is of another hub database: read again from the start (`cursor_reset`)", body = ApiError),
    )
)]
async fn lookups(State(s): State<AppState>, headers: HeaderMap, params: Result<Query<ListParams>, QueryRejection>) -> ApiResult<LookupsPage> {
    channel_list(&s, &headers, params, Hub::lookups).await
}

/// One page of a channel list: `Hub::sales`, `Hub::shifts`, `Hub::lookups` (store, after, limit).
type ListPage<T> = fn(&Hub, Option<i64>, Option<&str>, Option<u32>) -> Result<T, HubError>;

/// A channel list in commit order: the token checked, the query read, one page of `list`.
async fn channel_list<T: Send + 'static>(s: &AppState, headers: &HeaderMap, params: Result<Query<ListParams>, QueryRejection>, list: ListPage<T>) -> ApiResult<T> {
    channel_auth(s, headers).await?;
    let Query(p) = params.map_err(bad_query)?;
    let limit = ListLimit::read(&p.limit)? as u32;
    Ok(Json(on_hub(s, move |hub| list(hub, p.store_id, p.after.as_deref(), Some(limit))).await?))
}

#[utoipa::path(
    get, path = "/v1/receipts/{number}", tag = "channel", security(("channel_token" = [])),
    params(("number" = String, Path, description = "Receipt number, `<store>-<device>-<seq>`")),
    responses(
        (status = 200, description = "The receipt as the till made it (an erased shopper's receipt no longer names them)", body = Receipt),
        (status = 404, description = "No such receipt (`not_found`)", body = ApiError),
    )
)]
async fn receipt(State(s): State<AppState>, headers: HeaderMap, Path(number): Path<String>) -> ApiResult<Receipt> {
    channel_auth(&s, &headers).await?;
    Ok(Json(on_hub(&s, move |hub| hub.receipt(&number)).await?))
}

#[utoipa::path(
    get, path = "/v1/e-receipts/{code}", tag = "shopper",
    params(("code" = String, Path, description = "The QR of a paper receipt: `K1.…` with `\"k\":\"r\"`, signed by the device that printed it")),
    responses(
        (status = 200, description = "The receipt the code was printed on (no token: holding the paper receipt is the proof), \
            as a shopper's phone may see it: `staff_id` empty, `customer_id` null, no tender's `reference`", body = Receipt),
        (status = 404, description = "No receipt has this code: unknown, altered or forged alike (`not_found`)", body = ApiError),
    )
)]
async fn e_receipt(State(s): State<AppState>, Path(code): Path<String>) -> ApiResult<Receipt> {
    Ok(Json(on_hub(&s, move |hub| hub.e_receipt(&code)).await?))
}

#[utoipa::path(
    get, path = "/v1/devices", tag = "channel", security(("channel_token" = [])),
    responses((status = 200, description = "Fleet health: every device, last seen, cursor lag, outbox", body = Vec<DeviceHealth>))
)]
async fn devices(State(s): State<AppState>, headers: HeaderMap) -> ApiResult<Vec<DeviceHealth>> {
    channel_auth(&s, &headers).await?;
    Ok(Json(on_hub(&s, move |hub| hub.devices()).await?))
}

#[utoipa::path(
    put, path = "/v1/stores/{id}/staff/{staff_id}", tag = "channel", security(("channel_token" = [])),
    params(
        ("id" = i64, Path, minimum = 1, maximum = 2147483647, description = "The hub's store id"),
        ("staff_id" = String, Path, description = "Staff id: 1-64 letters, digits, '-', '_' or '.'"),
    ),
    request_body = StaffPut,
    responses(
        (status = 200, description = "The colleague as they now stand, with their badge's code; a new one has no PIN until they choose it at a kiosk", body = Colleague),
        (status = 400, description = "A store id that is not a number from 1 to 2147483647, or a bad field (`bad_request`)", body = ApiError),
        (status = 404, description = "No such store (`not_found`)", body = ApiError),
        (status = 409, description = "The staff id works at another store (`conflict`)", body = ApiError),
        (status = 413, description = "The body is larger than the hub takes (`too_large`)", body = ApiError),
    )
)]
async fn put_staff(State(s): State<AppState>, headers: HeaderMap, Path((id, staff_id)): Path<(String, String)>, b: Body<StaffPut>) -> ApiResult<Colleague> {
    channel_auth(&s, &headers).await?;
    let id = master_data::store_id(&id)?;
    let b = body(b)?;
    Ok(Json(on_hub(&s, move |hub| hub.put_staff(id, &staff_id, &b)).await?))
}

#[utoipa::path(
    delete, path = "/v1/stores/{id}/staff/{staff_id}", tag = "channel", security(("channel_token" = [])),
    params(
        ("id" = i64, Path, minimum = 1, maximum = 2147483647, description = "The hub's store id"),
        ("staff_id" = String, Path, description = "Staff id"),
    ),
    responses(
        (status = 204, description = "Removed: the badge stops working at every device of the store at its next pull"),
        (status = 400, description = "A store id that is not a number from 1 to 2147483647 (`bad_request`)", body = ApiError),
        (status = 404, description = "No such colleague at this store (`not_found`)", body = ApiError),
    )
)]
async fn remove_staff(State(s): State<AppState>, headers: HeaderMap, Path((id, staff_id)): Path<(String, String)>) -> Result<StatusCode, ApiFailure> {
    channel_auth(&s, &headers).await?;
    let id = master_data::store_id(&id)?;
    on_hub(&s, move |hub| hub.remove_staff(Some(id), &staff_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/v1/stores/{id}/staff", tag = "channel", security(("channel_token" = [])),
    params(("id" = i64, Path, minimum = 1, maximum = 2147483647, description = "The hub's store id")),
    responses(
        (status = 200, description = "The store's colleagues by id, each with their badge's code", body = Vec<Colleague>),
        (status = 400, description = "A store id that is not a number from 1 to 2147483647 (`bad_request`)", body = ApiError),
        (status = 404, description = "No such store (`not_found`)", body = ApiError),
    )
)]
async fn list_staff(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> ApiResult<Vec<Colleague>> {
    channel_auth(&s, &headers).await?;
    let id = master_data::store_id(&id)?;
    Ok(Json(on_hub(&s, move |hub| hub.staff_of_store(id)).await?))
}

#[utoipa::path(
    put, path = "/v1/loyalty/rule", tag = "channel", security(("channel_token" = [])), request_body = LoyaltyRules,
    responses(
        (status = 200, description = "The chain's rule as it now stands, on its way to every kiosk (the global feed); a bad \
            currency code or a number out of its range is 400 with nothing changed", body = LoyaltyRules),
        (status = 413, description = "The body is larger than the hub takes (`too_large`)", body = ApiError),
    )
)]
async fn put_loyalty_rule(State(s): State<AppState>, headers: HeaderMap, b: Body<LoyaltyRules>) -> ApiResult<LoyaltyRules> {
    channel_auth(&s, &headers).await?;
    let rules = body(b)?;
    Ok(Json(on_hub(&s, move |hub| {
        hub.set_loyalty_rules(&rules)?;
        hub.loyalty_rules()
    })
    .await?))
}

#[utoipa::path(
    get, path = "/v1/loyalty/rule", tag = "channel", security(("channel_token" = [])),
    responses(
        (status = 200, description = "The chain's points rule per currency", body = LoyaltyRules),
        (status = 404, description = "No rule was set: each till earns and redeems by its own config (`not_found`)", body = ApiError),
    )
)]
async fn loyalty_rule(State(s): State<AppState>, headers: HeaderMap) -> ApiResult<LoyaltyRules> {
    channel_auth(&s, &headers).await?;
    Ok(Json(on_hub(&s, move |hub| hub.loyalty_rules()).await?))
}

#[utoipa::path(
    get, path = "/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json"))
)]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}
