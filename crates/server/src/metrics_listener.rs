//! Where `/metrics` is served: on the public listener (the default), on an address of its
//! own (`JWTD_METRICS_BIND`, to keep it off the internet), or nowhere (`JWTD_METRICS=false`).

use std::net::SocketAddr;

use anyhow::Context;
use api::{AppState, RouterOptions};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Config;

/// Starts the metrics listener when one is configured, and says what the public router
/// serves; the listener runs until the process ends.
///
/// # Errors
/// When the metrics address cannot be bound.
pub async fn start(
    config: &Config,
    state: &AppState,
) -> anyhow::Result<(RouterOptions, Option<JoinHandle<()>>)> {
    let public = RouterOptions {
        metrics: config.http.metrics.0 && config.http.metrics_bind.is_none(),
    };
    let Some(address) = &config.http.metrics_bind else {
        return Ok((public, None));
    };
    if !config.http.metrics.0 {
        tracing::warn!("JWTD_METRICS_BIND is set but unused: JWTD_METRICS=false");
        return Ok((public, None));
    }
    let address: SocketAddr = address.parse().with_context(|| {
        format!("invalid setting JWTD_METRICS_BIND: {address:?} is not host:port")
    })?;
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} (JWTD_METRICS_BIND)"))?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "metrics listening");
    let router = api::metrics_router(state.clone());
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the metrics listener stopped");
        }
    });
    Ok((public, Some(task)))
}
