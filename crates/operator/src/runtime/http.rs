//! The operator's HTTP endpoints: `/healthz` (every background task alive), `/readyz`
//! (caches synced), `/metrics` (Prometheus text).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::http::StatusCode;
use axum::routing::get;

use super::health::Health;
use crate::metrics::Metrics;

fn parse_bind(addr: &str) -> anyhow::Result<SocketAddr> {
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_string()
    };
    full.parse()
        .with_context(|| format!("bad bind address {addr:?} (expected host:port or :port)"))
}

/// Serves the health routes on `health` and `/metrics` on `metrics_addr` (one listener
/// when both are the same address).
pub async fn serve(
    health: &str,
    metrics_addr: &str,
    metrics: Arc<Metrics>,
    state: Arc<Health>,
) -> anyhow::Result<()> {
    let live = state.clone();
    let health_routes = axum::Router::new()
        .route(
            "/healthz",
            get(move || {
                let live = live.clone();
                async move {
                    match live.check() {
                        Ok(()) => (StatusCode::OK, "ok".to_string()),
                        Err(why) => (StatusCode::INTERNAL_SERVER_ERROR, why.to_string()),
                    }
                }
            }),
        )
        .route(
            "/readyz",
            get(move || {
                let state = state.clone();
                async move {
                    if state.is_ready() {
                        (StatusCode::OK, "ok")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "caches not synced yet")
                    }
                }
            }),
        );
    let metrics_routes = axum::Router::new().route(
        "/metrics",
        get(move || {
            let m = metrics.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    m.encode(),
                )
            }
        }),
    );
    let h = parse_bind(health)?;
    let m = parse_bind(metrics_addr)?;
    if h == m {
        let app = health_routes.merge(metrics_routes);
        let listener = tokio::net::TcpListener::bind(h)
            .await
            .with_context(|| format!("binding {h}"))?;
        tokio::spawn(async move { axum::serve(listener, app).await });
    } else {
        let hl = tokio::net::TcpListener::bind(h)
            .await
            .with_context(|| format!("binding {h}"))?;
        let ml = tokio::net::TcpListener::bind(m)
            .await
            .with_context(|| format!("binding {m}"))?;
        tokio::spawn(async move { axum::serve(hl, health_routes).await });
        tokio::spawn(async move { axum::serve(ml, metrics_routes).await });
    }
    tracing::info!("serving /healthz /readyz on {h}, /metrics on {m}");
    Ok(())
}
