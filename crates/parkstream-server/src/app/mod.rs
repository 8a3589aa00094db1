//! The application: built from the settings and a bound listener, then run until stopped.
//!
//! [`App::build`] opens the database and rebuilds the state from it, joins the cluster,
//! starts the writer and the loops beside it, and prepares the router and the listeners;
//! [`App::run`] serves until the shutdown future completes, then stops gracefully. Each part
//! is wired by a function of its own: `restore` (the store and the state it holds), `cluster`,
//! `access` (authentication and the dashboard token), `listening` (connection limits, TLS,
//! CORS, metrics), `tasks` (pings, the rules' clock, the demo). `reload` applies new settings
//! on SIGHUP ([`App::reload_on`]).

mod access;
mod cluster;
mod listening;
mod mqtt;
mod reload;
mod restore;
mod tasks;

use std::future::Future;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::config::{AuthMode, ServeSettings};
use crate::hub::Hub;
use crate::live::{Live, LiveSettings};
use crate::server::{self, StreamRuntime};
use crate::telemetry::LogFilter;
use crate::writer::Writer;
use crate::{cluster as cluster_node, http, limits};

pub use reload::{Hangups, Sources};

/// A server ready to run: state restored, background tasks started, listener bound.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    router: Router,
    serving: server::Serving,
    /// The threads that write to stream connections; they end when it is dropped, last.
    stream_runtime: StreamRuntime,
    hub: Hub,
    stop: CancellationToken,
    background: JoinSet<()>,
    writer_task: JoinHandle<()>,
    /// What a reload changes, until [`App::reload_on`] takes it.
    reloadable: Option<reload::Reloadable>,
}

impl App {
    /// Builds the server that will serve on `listener`.
    ///
    /// # Errors
    /// When the settings conflict, the database cannot be opened or loaded, the Redis URL,
    /// a key, a certificate or a CORS origin is invalid, or the metrics address cannot be
    /// bound.
    pub async fn build(settings: ServeSettings, listener: TcpListener) -> anyhow::Result<Self> {
        settings.check().map_err(anyhow::Error::msg)?;
        let restored = restore::restore(&settings).await?;
        let mut background = JoinSet::new();
        let stop = CancellationToken::new();
        let clustered = cluster::join(
            &settings,
            restored.cluster_store.as_ref(),
            &restored.hub,
            &restored.read_model,
            restored.metrics.clone(),
            &stop,
            &mut background,
        )?;
        let (cluster_writing, redis_health) = match clustered {
            Some(c) => (Some(c.writing), Some(c.redis_health)),
            None => (None, None),
        };
        let hub = restored.hub;
        let (writer, writer_task) = Writer::spawn(
            restored.state,
            restored.store.clone(),
            hub.clone(),
            restored.read_model.clone(),
            restored.next_event_id,
            crate::writer::Retain {
                history_size: settings.history_size,
                rollups: settings.rollup_retention(),
            },
            cluster_writing,
        );

        let mqtt_health = mqtt::start(
            &settings,
            &writer,
            &restored.metrics,
            &stop,
            &mut background,
        )?;
        if settings.auth == AuthMode::None {
            tracing::warn!(
                "--auth none: every request is allowed everything; for local development only"
            );
        }
        let access = access::authenticator(&settings, &restored.store).await?;
        let key_set_stop = stop.child_token();
        if let Some(jwks) = access.key_set {
            access::start_key_set(jwks, key_set_stop.clone(), &mut background).await;
        }
        let admin_secret = access.secret;
        let live = Live::new(LiveSettings {
            auth: access.auth,
            cors: http::cors_layer(&listening::cors_origins(&settings)?),
            max_body_bytes: settings.max_body_bytes,
            max_filter_lots: usize::try_from(settings.max_filter_lots).unwrap_or(usize::MAX),
        });
        let app_state = http::AppState {
            writer,
            hub: hub.clone(),
            read_model: restored.read_model,
            store: restored.store,
            metrics: restored.metrics,
            live,
            limits: limits::PerIpLimits::new(
                settings.max_streams_per_ip,
                settings.write_rate_per_ip,
            ),
            trusted_proxies: settings.trusted_proxies.clone().into(),
            token_cookie: http::TokenCookie {
                path: settings
                    .public_url
                    .as_ref()
                    .map_or_else(|| "/".to_owned(), |url| url.path().to_owned()),
                secure: settings.tls_cert.is_some()
                    || settings
                        .public_url
                        .as_ref()
                        .is_some_and(|url| url.is_https()),
            },
            body_timeout: settings.body_timeout,
            shutdown: stop.clone(),
            // Streams end within the grace period, so closing the connections (when the grace
            // period is over) never has to interrupt a stream that is still draining.
            shutdown_drain: settings.shutdown_drain.min(settings.shutdown_grace),
            rollup_retention: settings.rollup_retention(),
            gzip: settings
                .stream_gzip
                .then(|| http::gzip::GzipSlots::new(settings.max_gzip_streams)),
            redis_health,
            currency: settings.currency,
            mqtt_health,
            open_data: settings
                .open_data
                .open_data
                .then(|| crate::open_data::OpenData::new(&settings.open_data)),
            webhooks: settings.webhook_options(),
        };

        let limits = listening::connection_limits(&settings);
        background.spawn(tasks::ping_loop(
            hub.clone(),
            settings.ping_interval,
            stop.clone(),
        ));
        background.spawn(tasks::clock_loop(
            app_state.writer.clone(),
            settings.camera_timeout,
            restored
                .cluster_store
                .map(|pg| cluster_node::Leadership::new(pg.connect_options())),
            stop.clone(),
        ));
        let delivery = crate::webhooks::deliver::Delivery::new(
            app_state.store.clone(),
            settings.webhook_options(),
            app_state.metrics.clone(),
        )
        .context("building the webhook client")?;
        background.spawn(crate::webhooks::deliver::run(
            std::sync::Arc::new(delivery),
            stop.clone(),
        ));
        if let Some(addr) = settings.metrics_bind {
            listening::serve_metrics(addr, app_state.clone(), limits, &stop, &mut background)
                .await?;
        }

        let connection_metrics = app_state.metrics.clone();
        let reloadable = reload::Reloadable {
            certificate: None,
            live: app_state.live.clone(),
            limits: app_state.limits.clone(),
            hub: hub.clone(),
            store: app_state.store.clone(),
            metrics: app_state.metrics.clone(),
            key_set_stop,
            stop: stop.clone(),
        };
        let router = http::router(app_state, settings.metrics_bind.is_none());
        let local = listener
            .local_addr()
            .context("reading the listening address")?;
        tracing::info!(addr = %local, "parkstream listening");
        let (certificate, tls) = listening::tls(&settings)?.unzip();
        let url = listening::local_url(local, tls.is_some());
        // The sign-in link is the address people use: the proxy's, when there is one.
        let dashboard_url = settings
            .public_url
            .as_ref()
            .map_or_else(|| format!("{url}/"), |public| public.as_str().to_owned());
        let admin_token =
            access::dashboard_token(&settings, admin_secret.as_ref(), &dashboard_url)?;
        if settings.demo {
            tracing::info!(%url, "demo: the simulator drives this server; open the dashboard there");
            background.spawn(tasks::demo(url, admin_token, stop.clone()));
        }
        let stream_runtime =
            StreamRuntime::new(settings.stream_workers).context("starting stream threads")?;
        let serving = server::Serving {
            shutdown: stop.clone(),
            grace: settings.shutdown_grace,
            tls,
            streams: stream_runtime.handle(),
            limits,
            metrics: connection_metrics,
        };
        Ok(Self {
            listener,
            router,
            serving,
            stream_runtime,
            hub,
            stop,
            background,
            writer_task,
            reloadable: Some(reload::Reloadable {
                certificate,
                ..reloadable
            }),
        })
    }

    /// Reloads the settings on each SIGHUP from `hangups`: reads the `sources` the server
    /// started from again (the command line, the environment and the config file as they
    /// are then), and applies what can change while running (through `log` for the log
    /// filter). Without it, SIGHUP is not listened for.
    #[must_use]
    pub fn reload_on(mut self, hangups: Hangups, sources: Sources, log: Option<LogFilter>) -> Self {
        if let Some(parts) = self.reloadable.take() {
            let reloader = reload::Reloader::new(parts, sources, log);
            self.background
                .spawn(reload::on_hangups(hangups, reloader, self.stop.clone()));
        }
        self
    }

    /// Serves until `shutdown` completes, then shuts down gracefully: stops accepting, ends
    /// every stream, lets requests in flight finish, stores what was acknowledged, and closes
    /// the database.
    ///
    /// # Errors
    /// When the writer task failed.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            router,
            serving,
            stream_runtime,
            hub,
            stop,
            mut background,
            writer_task,
            reloadable,
        } = self;
        drop(reloadable);
        {
            let stop = stop.clone();
            tokio::spawn(async move {
                shutdown.await;
                hub.close_streams();
                stop.cancel();
            });
        }
        server::serve(listener, router, serving).await;
        tracing::info!("connections closed; finishing writes");
        stop.cancel();
        while background.join_next().await.is_some() {}
        // Every handle to the writer is gone with the router: it answers what it holds, then ends.
        writer_task.await.context("the writer task failed")?;
        tracing::info!("stopped");
        drop(stream_runtime);
        Ok(())
    }
}
