//! What the server listens with: connection limits, TLS, CORS origins, the metrics address,
//! and the URL it can be reached at.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::HeaderValue;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::config::ServeSettings;
use crate::http;
use crate::metrics::Metrics;
use crate::server::{self, ConnectionLimits};
use crate::tls;

/// The limits on client connections the settings ask for; the default cap follows the
/// process's open-file limit.
pub(super) fn connection_limits(settings: &ServeSettings) -> ConnectionLimits {
    let file_limit = crate::procfs::file_limit();
    let max_connections = match settings.max_connections {
        Some(max) => {
            let max = usize::try_from(max).unwrap_or(usize::MAX);
            let room = file_limit.map(server::accept::connections_for_file_limit);
            if let Some(room) = room.filter(|&room| max > room) {
                tracing::warn!(
                    max_connections = max,
                    file_limit,
                    "--max-connections is above what the open-file limit leaves for clients \
                     ({room}); accepts will fail for want of file descriptors before it is reached"
                );
            }
            max
        }
        None => server::accept::default_max_connections(),
    };
    tracing::info!(
        max_connections,
        file_limit,
        header_timeout_ms = u64::try_from(settings.header_timeout.as_millis()).unwrap_or(u64::MAX),
        idle_timeout_ms = u64::try_from(settings.idle_timeout.as_millis()).unwrap_or(u64::MAX),
        "connection limits"
    );
    ConnectionLimits {
        max_connections,
        header_timeout: settings.header_timeout,
        idle_timeout: settings.idle_timeout,
    }
}

/// `--metrics-bind`: serves `/metrics` on its own address (in `background`, until `stop`).
///
/// # Errors
/// When the address cannot be bound.
pub(super) async fn serve_metrics(
    addr: SocketAddr,
    app_state: http::AppState,
    limits: ConnectionLimits,
    stop: &CancellationToken,
    background: &mut JoinSet<()>,
) -> anyhow::Result<()> {
    let metrics_listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the metrics address {addr}"))?;
    let addr = metrics_listener.local_addr().unwrap_or(addr);
    tracing::info!(%addr, "metrics listening");
    let metrics: Arc<Metrics> = app_state.metrics.clone();
    let router = http::metrics_router(app_state);
    background.spawn(server::serve(
        metrics_listener,
        router,
        server::Serving {
            shutdown: stop.clone(),
            grace: Duration::from_secs(1),
            tls: None,
            streams: tokio::runtime::Handle::current(),
            limits: ConnectionLimits {
                max_connections: server::accept::METRICS_CONNECTIONS,
                ..limits
            },
            metrics,
        },
    ));
    Ok(())
}

/// `--cors-origin`, as header values.
pub(super) fn cors_origins(settings: &ServeSettings) -> anyhow::Result<Vec<HeaderValue>> {
    settings
        .cors_origin
        .iter()
        .map(|origin| {
            HeaderValue::from_str(origin).with_context(|| format!("the CORS origin {origin:?}"))
        })
        .collect()
}

/// `--tls-cert` and `--tls-key`, when given: the certificate (which a reload replaces) and
/// the acceptor that serves it.
pub(super) fn tls(
    settings: &ServeSettings,
) -> anyhow::Result<Option<(Arc<tls::Certificate>, TlsAcceptor)>> {
    match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => {
            let certificate = tls::Certificate::load(cert, key)?;
            Ok(Some((certificate.clone(), tls::acceptor(certificate)?)))
        }
        _ => Ok(None),
    }
}

/// Where this machine reaches the server listening at `local` (loopback for an unspecified
/// address).
pub(super) fn local_url(local: SocketAddr, tls: bool) -> String {
    let host = if local.ip().is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        local.ip()
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}", SocketAddr::new(host, local.port()))
}
