//! The `parkstream` binary: `parkstream serve` runs the server (`parkstream --help` for more).

use anyhow::Context;
use clap::Parser;
use parkstream_server::auth;
use parkstream_server::config::{Cli, Command, LogFormat};
use parkstream_server::loadtest;
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
                         --jwt-secret, --jwt-public-key or --jwt-jwks-url; mint with that instead",
                    )?,
                (None, None) => unreachable!("clap requires one of the two"),
            };
            let token = auth::mint_for(
                secret.as_bytes(),
                &settings.verification(),
                &settings.subject,
                settings.role,
                settings.contractor.as_deref(),
                settings.lots,
                settings.ttl,
            )?;
            println!("{token}");
            Ok(())
        }
        Command::Loadtest(settings) => {
            telemetry::init(LogFormat::Text);
            loadtest::command(settings).await
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
