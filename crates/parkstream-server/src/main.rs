//! The `parkstream` binary: `parkstream serve` runs the server (`parkstream --help` for more).

use anyhow::Context;
use clap::Parser;
use parkstream_server::auth;
use parkstream_server::config::{Cli, Command, LogFormat};
use parkstream_server::loadtest::{self, LoadtestOptions};
use parkstream_server::simulate::{self, SimulateOptions};
use parkstream_server::telemetry;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(settings) => {
            if let Err(message) = settings.check() {
                use clap::CommandFactory;
                Cli::command()
                    .error(clap::error::ErrorKind::ArgumentConflict, message)
                    .exit();
            }
            telemetry::init(settings.log_format);
            let listener = tokio::net::TcpListener::bind(settings.bind)
                .await
                .with_context(|| format!("binding {}", settings.bind))?;
            parkstream_server::run(*settings, listener, shutdown_signal()).await
        }
        Command::Token(settings) => {
            let secret = match (&settings.jwt_secret, &settings.database_url) {
                (Some(secret), _) => secret.expose().to_owned(),
                (None, Some(url)) => parkstream_server::store::Store::stored_secret(url)
                    .await
                    .context("reading the server's secret from --database-url")?
                    .context(
                        "the database holds no generated secret: its server verifies with \
                         --jwt-secret or --jwt-public-key; mint with that instead",
                    )?,
                (None, None) => unreachable!("clap requires one of the two"),
            };
            let token = auth::mint(
                secret.as_bytes(),
                &settings.subject,
                settings.role,
                settings.contractor.as_deref(),
                settings.lots,
                settings.ttl,
            )?;
            println!("{token}");
            Ok(())
        }
        Command::Loadtest(settings) if settings.ingest => {
            telemetry::init(LogFormat::Text);
            let options = loadtest::ingest::IngestOptions {
                // Present: --ingest conflicts with --sub-url, without which --url is required.
                url: settings.url.unwrap_or_default(),
                clients: settings.clients,
                lots: settings.lots,
                batch: settings.batch,
                publishers: settings.publishers,
                duration: settings.duration,
                token: settings.token.map(|t| t.expose().to_owned()),
            };
            let report = loadtest::ingest::run(options).await?;
            let r = &report.request_ms;
            println!(
                "{} gate events stored in batches of {} ({:.0}/s), {} requests refused; request p50 {:.1} ms, p99 {:.1} ms",
                report.stored, report.batch, report.stored_per_second, report.refused, r.p50, r.p99
            );
            println!(
                "{} dashboards over {} lots: {} of {} deliveries, {} lost, {} duplicates",
                report.clients,
                report.lots,
                report.delivered,
                report.expected,
                report.lost,
                report.duplicates
            );
            println!("{}", serde_json::to_string(&report)?);
            anyhow::ensure!(
                report.lost == 0 && report.duplicates == 0,
                "events were lost or duplicated"
            );
            Ok(())
        }
        Command::Loadtest(settings) => {
            telemetry::init(LogFormat::Text);
            let generic = settings.sub_url.map(|sub_url| loadtest::GenericTarget {
                sub_url,
                pub_url: settings.pub_url.unwrap_or_default(),
                body: settings.body,
                seq_prefix: settings.seq_regex,
            });
            let server = settings.server_pid.map(|pid| loadtest::Watch {
                pid,
                tree: settings.server_tree,
            });
            let options = LoadtestOptions {
                url: settings.url.unwrap_or_default(),
                clients: settings.clients,
                rate: settings.rate,
                duration: settings.duration,
                token: settings.token.map(|t| t.expose().to_owned()),
                generic,
                pub_conns: settings.pub_conns,
                server,
            };
            if let (true, Some(watch)) = (settings.idle, server) {
                let report = loadtest::idle(options, watch).await?;
                println!(
                    "{} idle streams: server {:.1} MiB before, {:.1} MiB with them open, {:.1} KiB per stream",
                    report.clients,
                    report.server_rss_before_mib,
                    report.server_rss_open_mib,
                    report.kib_per_stream
                );
                println!("{}", serde_json::to_string(&report)?);
                return Ok(());
            }
            let report = loadtest::run(options).await?;
            let l = &report.latency_ms;
            println!(
                "{} clients, {} events: {} of {} delivered, {} lost, {} duplicates, {} out of order",
                report.clients, report.published, report.delivered, report.expected,
                report.lost, report.duplicates, report.out_of_order
            );
            println!(
                "latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {:.0} deliveries/s",
                l.p50, l.p90, l.p99, l.max, report.deliveries_per_second
            );
            if let Some(server) = &report.server {
                println!(
                    "server {:.0}% of a core, {:.1} MiB resident; load generator {:.0}% of a core",
                    server.cpu_percent, server.rss_mib, report.loadgen.cpu_percent
                );
            }
            println!("{}", serde_json::to_string(&report)?);
            anyhow::ensure!(
                report.lost == 0 && report.duplicates == 0,
                "events were lost or duplicated"
            );
            Ok(())
        }
        Command::Simulate(settings) => {
            telemetry::init(LogFormat::Text);
            let stop = CancellationToken::new();
            let options = SimulateOptions {
                url: settings.url,
                seed: settings.seed,
                tick: settings.tick,
                ticks: settings.ticks,
                token: settings.token.map(|t| t.expose().to_owned()),
            };
            let run = simulate::run(options, stop.clone());
            tokio::pin!(run);
            tokio::select! {
                result = &mut run => result,
                () = shutdown_signal() => {
                    stop.cancel();
                    run.await
                }
            }
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
