//! The command line: subcommands and typed settings, each flag with an environment twin.
//!
//! One file per subcommand's settings; `parse` holds the value parsers they share.

mod backup;
mod check;
mod currency;
mod file;
mod forecast;
mod loadtest;
mod mqtt;
mod open_data;
mod parse;
mod serve;
mod simulate;
mod token;
mod topic;

use clap::{Parser, Subcommand};

pub use backup::BackupSettings;
pub use check::effective;
pub use currency::Currency;
pub use file::{expand, Expanded};
pub use forecast::{BacktestSettings, ForecastCommand, GenerateSettings};
pub use loadtest::LoadtestSettings;
pub use mqtt::{broker_address, MqttFlags};
pub use open_data::{OpenDataFlags, Publisher};
pub use parse::{parse_duration, parse_positive_duration};
pub use serve::{AuthMode, LogFormat, ServeSettings};
pub use simulate::SimulateSettings;
pub use token::TokenSettings;
pub use topic::TopicPattern;

/// `--version`: the crate's version and the commit it was built from (see build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("PARKSTREAM_COMMIT"),
    ")"
);

/// parkstream: live parking-lot state, alerts and violations, pushed to dashboards over SSE.
#[derive(Debug, Parser)]
#[command(name = "parkstream", version = VERSION, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: HTTP API, SSE stream, dashboard at `/`.
    Serve(Box<ServeSettings>),
    /// Drive realistic traffic (lots, contractors, gates, cameras) against a running server.
    Simulate(SimulateSettings),
    /// Print a signed access token (HS256, with the server's --jwt-secret).
    Token(TokenSettings),
    /// Open N streams to a running server, publish at a fixed rate, and report delivery
    /// latency, loss and duplicates (exits non-zero on any loss or duplicate).
    Loadtest(LoadtestSettings),
    /// Copy a SQLite database, while its server runs, to a file `serve` can start from.
    Backup(BackupSettings),
    /// Occupancy forecasts: score them on stored history, or generate a history to try them.
    Forecast {
        #[command(subcommand)]
        command: ForecastCommand,
    },
    /// Work with the settings of `serve`.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check `serve`'s settings (flags, environment, --config file) and print the effective
    /// ones with where each came from, secrets redacted; exit status 2 on a bad one.
    Check(Box<ServeSettings>),
}

impl ServeSettings {
    /// The settings with every default, as `parkstream serve` with no flags and no environment
    /// would have them (tests start from this).
    pub fn defaults() -> Self {
        let cli = Cli::parse_from(["parkstream", "serve"]);
        match cli.command {
            Command::Serve(settings) => *settings,
            _ => unreachable!("parsed serve"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn connection_limits_refuse_zero_and_absurd_values() {
        let serve = |args: &[&str]| {
            Cli::try_parse_from(["parkstream", "serve"].iter().chain(args)).map(|cli| {
                match cli.command {
                    Command::Serve(settings) => *settings,
                    _ => unreachable!("parsed serve"),
                }
            })
        };
        for bad in [
            &["--max-connections", "0"][..],
            &["--max-connections", "99999999999"],
            &["--max-connections=-1", "--bind", "127.0.0.1:1"],
            &["--header-timeout", "0"],
            &["--header-timeout", "50ms"],
            &["--header-timeout", "2h"],
            &["--idle-timeout", "0s"],
            &["--idle-timeout", "1000h"],
            &["--idle-timeout", "soon"],
        ] {
            let err = serve(bad).expect_err(&format!("{bad:?} is refused"));
            assert_eq!(err.exit_code(), 2, "{bad:?}");
            let flag = bad[0].split('=').next().unwrap();
            assert!(err.to_string().contains(flag), "{bad:?}: {err}");
        }
        let s = serve(&[
            "--max-connections",
            "500",
            "--header-timeout",
            "1s",
            "--idle-timeout",
            "5m",
        ])
        .expect("valid");
        assert_eq!(s.max_connections, Some(500));
        assert_eq!(s.header_timeout, Duration::from_secs(1));
        assert_eq!(s.idle_timeout, Duration::from_secs(300));
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
