//! The daemon's small HTTP server: `GET /health` and `GET /metrics`.
//!
//! hyper 1 (HTTP/1.1 server only) with hyper-util's tokio glue: two
//! read-only routes do not need a framework's router or middleware.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::calendar::Calendar;
use crate::schedule::{Clock, JobSpec};
use crate::store::Store;

/// Scrapes closer together than this get the same text: a watch query per
/// scrape would cost too much on a large database.
const METRICS_CACHE: Duration = Duration::from_secs(10);

/// What the routes read.
pub struct Ops {
    pub store: Store,
    pub calendar: Calendar,
    pub jobs: Vec<JobSpec>,
    pub settlement: JobSpec,
    pub clock: Arc<dyn Clock>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    cache: tokio::sync::Mutex<Option<(Instant, String)>>,
}

impl Ops {
    pub fn new(
        store: Store,
        calendar: Calendar,
        jobs: Vec<JobSpec>,
        settlement: JobSpec,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let started_at = clock.now();
        Self {
            store,
            calendar,
            jobs,
            settlement,
            clock,
            started_at,
            cache: tokio::sync::Mutex::new(None),
        }
    }
}

/// Serves until `stop` turns true. Connections in flight finish on their own.
pub async fn serve(listener: TcpListener, ops: Arc<Ops>, mut stop: watch::Receiver<bool>) {
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let ops = ops.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let ops = ops.clone();
                async move { Ok::<_, Infallible>(route(&ops, req).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
        });
    }
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

async fn route(ops: &Ops, req: Request<Incoming>) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/health") => health(ops).await,
        (&Method::GET, "/metrics") => metrics(ops).await,
        (_, "/health" | "/metrics") => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /health or /metrics\n".into(),
        ),
    }
}

/// 200 with the jobs' state when the database answers, 503 otherwise.
async fn health(ops: &Ops) -> Response<Full<Bytes>> {
    let now = ops.clock.now();
    let db = ops.store.ping().await;
    let latest = ops.store.latest_job_runs().await.unwrap_or_default();
    let jobs: Vec<serde_json::Value> = ops
        .jobs
        .iter()
        .map(|j| {
            let last = latest.iter().find(|(r, _)| r.job == j.name).map(|(r, _)| r);
            serde_json::json!({
                "job": j.name, "kind": j.kind.as_str(),
                "next_slot": crate::schedule::next_slot_after(j, &ops.calendar, now).map(|s| s.at.to_rfc3339()),
                "last_status": last.map(|r| r.status.as_str()),
                "last_slot": last.map(|r| r.slot.clone()),
                "last_started_at": last.map(|r| r.started_at.clone()),
            })
        })
        .collect();
    let body = serde_json::json!({
        "status": if db.is_ok() { "ok" } else { "unavailable" },
        "database": match &db { Ok(()) => "ok".to_owned(), Err(e) => e.to_string() },
        "started_at": ops.started_at.to_rfc3339(),
        "now": now.to_rfc3339(),
        "jobs": jobs,
    });
    let status = if db.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    reply(status, "application/json", format!("{body}\n"))
}

async fn metrics(ops: &Ops) -> Response<Full<Bytes>> {
    let mut cache = ops.cache.lock().await;
    if let Some((at, text)) = cache.as_ref()
        && at.elapsed() < METRICS_CACHE
    {
        return reply(StatusCode::OK, crate::metrics::CONTENT_TYPE, text.clone());
    }
    let now = ops.clock.now();
    match crate::metrics::gather(&ops.store, &ops.calendar, &ops.jobs, &ops.settlement, now).await {
        Ok(snapshot) => {
            let text = crate::metrics::encode(&snapshot);
            *cache = Some((Instant::now(), text.clone()));
            reply(StatusCode::OK, crate::metrics::CONTENT_TYPE, text)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot gather metrics");
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                format!("database unavailable: {e}\n"),
            )
        }
    }
}
