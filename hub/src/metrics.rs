//! The hub's Prometheus metrics (`GET /metrics`), through the `metrics` facade and the
//! Prometheus exporter's text format, served on a listener of their own
//! (`serve --metrics-listen`, loopback by default): what the hub's traffic looks like is
//! for whoever runs it, not for the network its kiosks and shop reach. The recorder is the
//! process's, installed once: a process with several hubs (the tests, the demo) shares one
//! set of figures.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use omnikiosk_protocol::wire::OpOutcome;

/// Requests answered, by `method`, `route` (the matched path, e.g. `/v1/orders/{id}`) and `status`.
pub const REQUESTS: &str = "omnikiosk_hub_http_requests_total";
/// Time to answer, by `method` and `route`; a long-poll counts its wait.
pub const REQUEST_SECONDS: &str = "omnikiosk_hub_http_request_duration_seconds";
/// Pulls waiting for a change right now.
pub const LONG_POLLS_OPEN: &str = "omnikiosk_hub_long_polls_open";
/// Newest feed sequence number, by `scope`.
pub const FEED_HEAD: &str = "omnikiosk_hub_feed_head";
/// Pushed ops answered, by `outcome`: `applied`, `duplicate`, `rejected`, `expected_seq`.
pub const OPS: &str = "omnikiosk_hub_ops_total";
/// Answers that were a failure of the database.
pub const DATABASE_ERRORS: &str = "omnikiosk_hub_database_errors_total";

/// Latency buckets, seconds: a read is milliseconds, a long-poll up to its 60 s wait.
const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0, 60.0];

/// The process's recorder, installed on first use. When the embedding program has a
/// recorder of its own already, the hub's figures go there and `/metrics` shows none.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(&LATENCY_BUCKETS).expect("the latency buckets are not empty");
            match builder.install_recorder() {
                Ok(handle) => handle,
                Err(e) => {
                    tracing::warn!(error = %e, "another metrics recorder is installed: GET /metrics shows nothing");
                    PrometheusBuilder::new().build_recorder().handle()
                }
            }
        })
        .clone()
}

/// The text format of everything recorded so far.
/// Serves `GET /metrics` on `listener` until `shutdown` resolves.
pub async fn serve(listener: tokio::net::TcpListener, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    handle();
    let app = axum::Router::new().route("/metrics", axum::routing::get(text));
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

async fn text() -> Response {
    use axum::response::IntoResponse;
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], render()).into_response()
}

pub fn render() -> String {
    let handle = handle();
    handle.run_upkeep();
    handle.render()
}

/// Middleware: counts and times every request by its route.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(REQUEST_SECONDS, "method" => method.clone(), "route" => route.clone()).record(started.elapsed().as_secs_f64());
    metrics::counter!(REQUESTS, "method" => method, "route" => route, "status" => status).increment(1);
    response
}

/// Held while a pull waits for a change: the open long-polls gauge counts it.
pub struct LongPollOpen(());

impl LongPollOpen {
    pub fn start() -> LongPollOpen {
        metrics::gauge!(LONG_POLLS_OPEN).increment(1.0);
        LongPollOpen(())
    }
}

impl Drop for LongPollOpen {
    fn drop(&mut self) {
        metrics::gauge!(LONG_POLLS_OPEN).decrement(1.0);
    }
}

/// The feed of `scope` stands at `seq`.
pub fn feed_head(scope: &str, seq: i64) {
    metrics::gauge!(FEED_HEAD, "scope" => scope.to_string()).set(seq as f64);
}

/// One pushed op answered.
pub fn op_answered(outcome: &OpOutcome) {
    let outcome = match outcome {
        OpOutcome::Applied => "applied",
        OpOutcome::Duplicate => "duplicate",
        OpOutcome::Rejected { .. } => "rejected",
        OpOutcome::ExpectedSeq { .. } => "expected_seq",
    };
    metrics::counter!(OPS, "outcome" => outcome).increment(1);
}

/// A request answered with a failure of the database.
pub fn database_error() {
    metrics::counter!(DATABASE_ERRORS).increment(1);
}
