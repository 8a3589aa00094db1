//! parkstream: the real-time layer of a smart-parking system.
//!
//! Reports come in over HTTP, the writer applies the domain rules and stores the result, the
//! hub fans the resulting events out to every SSE stream that wants them.
//!
//! Layout:
//! - [`config`]: the command line and typed settings (every flag has an environment twin).
//! - [`http`]: the API, one module per resource; `sse` is the stream. Handlers parse input into
//!   domain types and talk to the writer (changes) or the read model (queries).
//! - [`domain`]: lots and their rules as plain data and functions; no HTTP, no SQL.
//! - [`writer`]: the single task that changes state: applies commands, group-commits them to
//!   the store, then publishes their events and updates the read model.
//! - [`store`]: durable storage behind one type (SQLite or PostgreSQL), chosen by the URL.
//! - [`cluster`]: several instances on one PostgreSQL and one Redis Stream.
//! - [`hub`]: the replay window and the fan-out of encoded frames to subscribers.
//! - [`read_model`]: the committed state `GET` requests answer from.
//! - [`server`]: the accept loop, per-connection control, the lean stream path, graceful
//!   shutdown.
//! - [`error`]: `ApiError`, the one place failures become status codes and error bodies.
//! - [`metrics`], [`telemetry`]: Prometheus metrics and logging.

pub mod auth;
pub mod cluster;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod hub;
pub mod limits;
pub mod loadtest;
pub mod metrics;
pub mod read_model;
pub mod server;
pub mod simulate;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod writer;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use parkstream_protocol::api::OccupancySample;
use parkstream_protocol::events::CapacityUpdate;
use parkstream_protocol::EventType;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::Authenticator;
use crate::config::{AuthMode, ServeSettings};
use crate::domain::State;
use crate::hub::{Hub, HubConfig};
use crate::metrics::Metrics;
use crate::read_model::ReadModel;
use crate::store::Store;
use crate::writer::Writer;

/// Runs the server on `listener` until `shutdown` completes, then shuts down gracefully:
/// stops accepting, ends every stream, lets requests in flight finish, stores what was
/// acknowledged, and closes the database.
///
/// # Errors
/// When the database cannot be opened or loaded, or the metrics address cannot be bound.
pub async fn run(
    settings: ServeSettings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    settings.check().map_err(anyhow::Error::msg)?;
    let store = Store::open(&settings.database_url)
        .await
        .with_context(|| format!("opening the database {}", redact(&settings.database_url)))?;
    let snapshot = store
        .load(settings.history_size, settings.answer_retention())
        .await
        .context("loading the stored state")?;
    let cluster_store = match (&settings.redis_url, &store) {
        (None, _) => None,
        (Some(_), Store::Postgres(pg)) => Some(pg.clone()),
        (Some(_), Store::Sqlite(_)) => anyhow::bail!(
            "--redis-url runs several instances on one database: DATABASE_URL must be postgres://..."
        ),
    };
    let metrics = Arc::new(Metrics::new());
    let hub = Hub::new(
        HubConfig {
            history_size: usize::try_from(settings.history_size).unwrap_or(usize::MAX),
            max_clients: settings.max_clients,
            client_buffer: usize::try_from(settings.client_buffer).unwrap_or(usize::MAX),
        },
        snapshot.next_event_id - 1,
        snapshot.events.iter().map(writer::publishable),
        metrics.clone(),
    );
    if cluster_store.is_some() {
        hub.expect_remote_events();
    }
    let state = State::from_loaded(
        snapshot.state,
        settings.answer_retention(),
        parkstream_protocol::Timestamp::now(),
    );
    metrics.idempotency_answers.set(state.answers_kept() as i64);
    let read_model = ReadModel::new(state.lots(), hub.newest_id());
    read_model.update_contractors(state.contractors());
    read_model.record_history(snapshot.events.iter().filter_map(|event| {
        let update: CapacityUpdate = serde_json::from_str(&event.data)
            .ok()
            .filter(|_| event.event_type == EventType::CapacityUpdate)?;
        let sample = OccupancySample {
            t: event.created_at,
            occupied: update.occupied,
            total_slots: update.total_slots,
        };
        Some((update.parking_lot_id, sample))
    }));
    let mut background = tokio::task::JoinSet::new();
    let stop = CancellationToken::new();
    let (cluster_writing, redis_health) = match (&cluster_store, &settings.redis_url) {
        (Some(pg), Some(url)) => {
            let ca_file = settings.redis_ca_file.as_deref();
            let appender = cluster::Appender::new(
                url,
                ca_file,
                &settings.redis_stream,
                settings.redis_stream_length,
            )
            .context("the Redis URL")?;
            let follower = cluster::Follower::new(
                url,
                ca_file,
                &settings.redis_stream,
                hub.clone(),
                pg.clone(),
                read_model.clone(),
            )
            .context("the Redis URL")?;
            let health = follower.health();
            background.spawn(follower.run(stop.clone()));
            let writing = writer::ClusterWriting {
                store: pg.clone(),
                lock: pg.write_lock(),
                appender,
                version: None,
            };
            (Some(writing), Some(health))
        }
        _ => (None, None),
    };
    let (writer, writer_task) = Writer::spawn(
        state,
        store.clone(),
        hub.clone(),
        read_model.clone(),
        snapshot.next_event_id,
        settings.history_size,
        cluster_writing,
    );

    let (auth, admin_secret) = authenticator(&settings, &store).await?;
    let stop_demo = stop.clone();
    let app_state = http::AppState {
        writer,
        hub: hub.clone(),
        read_model,
        store,
        metrics,
        auth,
        limits: limits::PerIpLimits::new(settings.max_streams_per_ip, settings.write_rate_per_ip),
        max_body_bytes: settings.max_body_bytes,
        body_timeout: settings.body_timeout,
        max_filter_lots: usize::try_from(settings.max_filter_lots).unwrap_or(usize::MAX),
        shutdown: stop.clone(),
        // Streams end within the grace period, so closing the connections (when the grace
        // period is over) never has to interrupt a stream that is still draining.
        shutdown_drain: settings.shutdown_drain.min(settings.shutdown_grace),
        gzip: settings
            .stream_gzip
            .then(|| hub::gzip::GzipSlots::new(settings.max_gzip_streams)),
        redis_health,
    };

    let limits = connection_limits(&settings);
    background.spawn(ping_loop(hub.clone(), settings.ping_interval, stop.clone()));
    background.spawn(clock_loop(
        app_state.writer.clone(),
        settings.camera_timeout,
        cluster_store.map(|pg| cluster::Leadership::new(pg.connect_options())),
        stop.clone(),
    ));
    if let Some(addr) = settings.metrics_bind {
        let metrics_listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the metrics address {addr}"))?;
        let addr = metrics_listener.local_addr().unwrap_or(addr);
        tracing::info!(%addr, "metrics listening");
        let router = http::metrics_router(app_state.clone());
        background.spawn(server::serve(
            metrics_listener,
            router,
            server::Serving {
                shutdown: stop.clone(),
                grace: Duration::from_secs(1),
                tls: None,
                streams: tokio::runtime::Handle::current(),
                limits: server::ConnectionLimits {
                    max_connections: server::accept::METRICS_CONNECTIONS,
                    ..limits
                },
                metrics: app_state.metrics.clone(),
            },
        ));
    }
    {
        let stop = stop.clone();
        let hub = hub.clone();
        tokio::spawn(async move {
            shutdown.await;
            hub.close_streams();
            stop.cancel();
        });
    }

    let cors_origins = settings
        .cors_origin
        .iter()
        .map(|origin| {
            axum::http::HeaderValue::from_str(origin)
                .with_context(|| format!("the CORS origin {origin:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let connection_metrics = app_state.metrics.clone();
    let router = http::router(app_state, settings.metrics_bind.is_none(), &cors_origins);
    let local = listener
        .local_addr()
        .context("reading the listening address")?;
    tracing::info!(addr = %local, "parkstream listening");
    let host = if local.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        local.ip()
    };
    let tls = match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!(
        "{scheme}://{}",
        std::net::SocketAddr::new(host, local.port())
    );
    // Tokens never go to the log. The one line on standard output with a sign-in URL is for
    // the person who started a new server: only a start that generated the secret prints it,
    // so a restart (whose output may be collected by a service manager) leaks nothing;
    // `parkstream token --database-url` mints another.
    let admin_token = match &admin_secret {
        Some(secret) => Some(
            auth::mint(
                secret.secret.as_bytes(),
                "dashboard",
                auth::Role::Admin,
                None,
                None,
                Duration::from_secs(30 * 86_400),
            )
            .context("minting the dashboard token")?,
        ),
        None => None,
    };
    match (&admin_token, &admin_secret) {
        (Some(token), Some(secret)) if secret.generated_now => {
            println!("parkstream dashboard (admin, valid 30 days): {url}/?token={token}");
        }
        (_, Some(secret)) if settings.jwt_secret.is_none() && !secret.generated_now => {
            println!(
                "parkstream dashboard: {url}/ (sign in with a token: parkstream token --role admin --database-url {})",
                redact(&settings.database_url)
            );
        }
        _ => {}
    }
    if settings.demo {
        tracing::info!(%url, "demo: the simulator drives this server; open the dashboard there");
        let options = simulate::SimulateOptions {
            url: url.clone(),
            seed: 1,
            tick: Duration::from_millis(500),
            ticks: None,
            token: admin_token.clone(),
        };
        background.spawn(async move {
            if let Err(err) = simulate::run(options, stop_demo).await {
                tracing::error!(error = %err, "the demo simulator stopped");
            }
        });
    }
    let stream_runtime =
        server::StreamRuntime::new(settings.stream_workers).context("starting stream threads")?;
    server::serve(
        listener,
        router,
        server::Serving {
            shutdown: stop.clone(),
            grace: settings.shutdown_grace,
            tls,
            streams: stream_runtime.handle(),
            limits,
            metrics: connection_metrics,
        },
    )
    .await;
    tracing::info!("connections closed; finishing writes");
    stop.cancel();
    while background.join_next().await.is_some() {}
    // Every handle to the writer is gone with the router: it answers what it holds, then ends.
    writer_task.await.context("the writer task failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// The limits on client connections the settings ask for; the default cap follows the
/// process's open-file limit.
fn connection_limits(settings: &ServeSettings) -> server::ConnectionLimits {
    let file_limit = server::accept::file_limit();
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
    server::ConnectionLimits {
        max_connections,
        header_timeout: settings.header_timeout,
        idle_timeout: settings.idle_timeout,
    }
}

async fn ping_loop(hub: Hub, every: Duration, stop: CancellationToken) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await; // the first tick is immediate
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = interval.tick() => hub.ping(),
        }
    }
}

/// Lets the time-based rules (silent cameras, overstays) run: every quarter of the camera
/// timeout, at least every second, at most every 50 ms. In a cluster only the leader's clock
/// ticks (its ticks also append events a failed append left behind).
async fn clock_loop(
    writer: Writer,
    camera_timeout: Duration,
    mut leadership: Option<cluster::Leadership>,
    stop: CancellationToken,
) {
    let every = (camera_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = interval.tick() => {
                let leads = match leadership.as_mut() {
                    Some(leadership) => leadership.check().await,
                    None => true,
                };
                if leads {
                    writer.tick(camera_timeout).await;
                }
            }
        }
    }
}

/// The authenticator the settings ask for, and the HS256 secret when the server holds one
/// (to mint the dashboard's and the demo's tokens).
async fn authenticator(
    settings: &ServeSettings,
    store: &Store,
) -> anyhow::Result<(Authenticator, Option<HeldSecret>)> {
    if settings.auth == AuthMode::None {
        tracing::warn!(
            "--auth none: every request is allowed everything; for local development only"
        );
        return Ok((Authenticator::Disabled, None));
    }
    if let Some(path) = &settings.jwt_public_key {
        let pem = std::fs::read(path)
            .with_context(|| format!("reading the JWT public key {}", path.display()))?;
        let auth = Authenticator::public_key(&pem, settings.jwt_algorithm)
            .map_err(|e| anyhow::anyhow!("the JWT public key {}: {e}", path.display()))?;
        return Ok((auth, None));
    }
    let secret = match &settings.jwt_secret {
        Some(secret) => HeldSecret {
            secret: secret.expose().to_owned(),
            generated_now: false,
        },
        None => {
            let (secret, generated_now) = store
                .generated_secret()
                .await
                .context("reading the generated JWT secret")?;
            HeldSecret {
                secret,
                generated_now,
            }
        }
    };
    Ok((Authenticator::hs256(secret.secret.as_bytes()), Some(secret)))
}

/// The HS256 secret the server verifies with, and whether it generated it on this start.
struct HeldSecret {
    secret: String,
    generated_now: bool,
}

/// The database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_database_passwords() {
        assert_eq!(
            super::redact("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            super::redact("sqlite://parkstream.db"),
            "sqlite://parkstream.db"
        );
    }
}
