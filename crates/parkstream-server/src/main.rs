//! The `parkstream` binary: `parkstream serve` runs the server (`parkstream --help` for more).

use anyhow::Context;
use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches};
use parkstream_server::app::{App, Hangups, Sources};
use parkstream_server::auth;
use parkstream_server::config::{self, Cli, Command, ConfigCommand, ForecastCommand, LogFormat};
use parkstream_server::loadtest;
use parkstream_server::simulate::{self, SimulateOptions};
use parkstream_server::telemetry;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The config file's settings join the command line before clap reads it (config/file.rs).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let expanded = config::expand(args.clone(), &Cli::command()).unwrap_or_else(|message| {
        Cli::command()
            .error(ErrorKind::InvalidValue, message)
            .exit()
    });
    let matches = Cli::command().get_matches_from(&expanded.args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    match cli.command {
        Command::Config {
            command: ConfigCommand::Check(settings),
        } => {
            if let Err(message) = settings.check() {
                Cli::command()
                    .error(ErrorKind::ArgumentConflict, message)
                    .exit();
            }
            let command = Cli::command();
            let check = command
                .find_subcommand("config")
                .and_then(|config| config.find_subcommand("check"))
                .expect("config check is a subcommand");
            let check_matches = matches
                .subcommand_matches("config")
                .and_then(|config| config.subcommand_matches("check"))
                .expect("config check was parsed");
            print!(
                "{}",
                config::effective(check, check_matches, &expanded.from_file)
            );
            eprintln!("the settings are valid");
            Ok(())
        }
        Command::Serve(settings) => {
            if let Err(message) = settings.check() {
                Cli::command()
                    .error(ErrorKind::ArgumentConflict, message)
                    .exit();
            }
            let log = telemetry::init(settings.log_format, settings.log_level.as_deref());
            let sources = Sources::new(args, &matches, &settings);
            // Before anything can tell that the server listens: a SIGHUP from then on reloads.
            let hangups = Hangups::listen().context("listening for SIGHUP")?;
            let listener = tokio::net::TcpListener::bind(settings.bind)
                .await
                .with_context(|| format!("binding {}", settings.bind))?;
            App::build(*settings, listener)
                .await?
                .reload_on(hangups, sources, log)
                .run(shutdown_signal())
                .await
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
        Command::Backup(settings) => {
            let report = parkstream_server::store::backup(&settings.database_url, &settings.to)
                .await
                .context("backup failed")?;
            println!("{} ({} bytes)", report.file.display(), report.bytes);
            Ok(())
        }
        Command::Forecast { command } => forecast(command).await,
        Command::Loadtest(settings) => {
            telemetry::init(LogFormat::Text, None);
            loadtest::command(settings).await
        }
        Command::Simulate(settings) => {
            telemetry::init(LogFormat::Text, None);
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

/// `parkstream forecast backtest` and `parkstream forecast generate`.
async fn forecast(command: ForecastCommand) -> anyhow::Result<()> {
    use parkstream_server::forecast::{backtest, synthetic};
    use parkstream_server::store::Store;
    let now = parkstream_protocol::Timestamp::now().unix_millis();
    match command {
        ForecastCommand::Backtest(settings) => {
            let store = Store::open(&settings.database_url).await?;
            let report = backtest::run(&store, &settings.lot, settings.days, now)
                .await
                .context("reading the stored history")?;
            store.close().await;
            if report.horizons.iter().all(|h| h.points == 0) {
                anyhow::bail!(
                    "lot {:?} has no stored history to replay in the last {} days",
                    settings.lot,
                    settings.days
                );
            }
            print!("{report}");
            Ok(())
        }
        ForecastCommand::Generate(settings) => {
            let store = Store::open(&settings.database_url).await?;
            let generated =
                synthetic::generate(&store, &settings.lot, settings.days, settings.seed, now).await;
            store.close().await;
            let generated = generated?;
            let at = |millis| {
                parkstream_protocol::Timestamp::from_unix_millis(millis)
                    .map_or_else(String::new, |t| t.to_string())
            };
            println!(
                "lot {}: {} minute and {} hour rows from {} to {}",
                settings.lot,
                generated.minutes,
                generated.hours,
                at(generated.from),
                at(generated.to)
            );
            Ok(())
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
