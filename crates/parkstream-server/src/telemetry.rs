//! Logging: one subscriber for the process, filtered by `--log-level`, else `RUST_LOG`, else
//! `info`. Colour codes only when standard error is a terminal, so files and journald get
//! plain text.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

/// What is logged when neither `--log-level` nor `RUST_LOG` says.
const DEFAULT_FILTER: &str = "info,sqlx=warn,hyper=warn";

/// Installs the global tracing subscriber. Call once, from the binary; tests leave logging off
/// unless they install their own. `level` is a filter in `RUST_LOG`'s syntax, already checked.
pub fn init(format: LogFormat, level: Option<&str>) {
    let filter = level
        .and_then(|level| EnvFilter::try_new(level).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // A second init (a subcommand calling it twice) keeps the first subscriber.
    let _ = result;
}
