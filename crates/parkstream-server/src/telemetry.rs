//! Logging: one subscriber for the process, filtered by `--log-level`, else `RUST_LOG`, else
//! `info`. Colour codes only when standard error is a terminal, so files and journald get
//! plain text. The filter can be replaced while running ([`LogFilter`], on reload).

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Registry};

use crate::config::LogFormat;

/// What is logged when neither `--log-level` nor `RUST_LOG` says.
const DEFAULT_FILTER: &str = "info,sqlx=warn,hyper=warn";

/// The installed subscriber's filter, to change what is logged without a restart.
#[derive(Debug, Clone)]
pub struct LogFilter(reload::Handle<EnvFilter, Registry>);

impl LogFilter {
    /// Filters by `level` (or, without it, as at start: `RUST_LOG`, else `info`).
    ///
    /// # Errors
    /// When the subscriber is gone (never while the process runs).
    pub fn set(&self, level: Option<&str>) -> Result<(), reload::Error> {
        self.0.reload(filter(level))
    }
}

/// Installs the global tracing subscriber. Call once, from the binary; tests leave logging off
/// unless they install their own. `level` is a filter in `RUST_LOG`'s syntax, already checked.
/// `None` when a subscriber was installed already (a subcommand calling it twice keeps the
/// first).
pub fn init(format: LogFormat, level: Option<&str>) -> Option<LogFilter> {
    let (filter, handle) = reload::Layer::new(filter(level));
    let ansi = std::io::stderr().is_terminal();
    let text = (format == LogFormat::Text)
        .then(|| fmt::layer().with_writer(std::io::stderr).with_ansi(ansi));
    let json = (format == LogFormat::Json).then(|| {
        fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .try_init()
        .ok()
        .map(|()| LogFilter(handle))
}

fn filter(level: Option<&str>) -> EnvFilter {
    level
        .and_then(|level| EnvFilter::try_new(level).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER))
}
