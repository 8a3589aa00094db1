//! Reloading the settings on SIGHUP, without dropping a connection or a stream.
//!
//! The server reads its sources again as at start (the same command line, the environment,
//! the `--config` file as it is now) and applies what can change while running: the TLS
//! certificate (new connections get it; open ones keep theirs), the log filter, CORS, the
//! per-address, body, filter and stream limits, and how tokens are checked. Any other setting
//! that changed is named in one warning: it needs a restart, and keeps its running value.
//!
//! A reload is all or nothing: every new part is built first, and only when all of them are
//! good are they swapped in. On any error the running settings stay and the error is logged;
//! the server never exits for a reload.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::sync::Arc;

use clap::{ArgMatches, CommandFactory, FromArgMatches};
use tokio_util::sync::CancellationToken;

use super::access;
use crate::config::{self, Cli, ServeSettings};
use crate::hub::Hub;
use crate::limits::PerIpLimits;
use crate::live::{Live, LiveSettings};
use crate::metrics::{Metrics, ResultLabel};
use crate::store::Store;
use crate::telemetry::LogFilter;
use crate::tls;

/// The settings a reload applies while running (by their flags' long names).
const LIVE: [&str; 16] = [
    "tls-cert",
    "tls-key",
    "log-level",
    "cors-origin",
    "max-streams-per-ip",
    "write-rate-per-ip",
    "max-body-bytes",
    "max-filter-lots",
    "max-clients",
    "jwt-secret",
    "jwt-public-key",
    "jwt-algorithm",
    "jwt-jwks-url",
    "jwt-issuer",
    "jwt-audience",
    "jwt-role-claim",
];

/// The settings that decide how tokens are checked.
const ACCESS: [&str; 7] = [
    "jwt-secret",
    "jwt-public-key",
    "jwt-algorithm",
    "jwt-jwks-url",
    "jwt-issuer",
    "jwt-audience",
    "jwt-role-claim",
];

/// Each setting's values as given (flag, environment, file or default), by long name: what
/// two reads of the sources are compared by.
type Raw = BTreeMap<String, Vec<OsString>>;

/// SIGHUP, listened for from before the server is built, so a signal sent as soon as it
/// listens reloads instead of ending the process (SIGHUP's default).
#[derive(Debug)]
pub struct Hangups {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Hangups {
    /// # Errors
    /// When the signal handler cannot be installed.
    pub fn listen() -> std::io::Result<Self> {
        Ok(Self {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?,
        })
    }

    /// The next SIGHUP; `false` when no more can come.
    #[cfg(unix)]
    async fn next(&mut self) -> bool {
        self.signal.recv().await.is_some()
    }

    /// No SIGHUP elsewhere.
    #[cfg(not(unix))]
    async fn next(&mut self) -> bool {
        std::future::pending().await
    }
}

/// The running parts a reload changes, gathered when the server is built.
#[derive(Debug)]
pub(super) struct Reloadable {
    pub certificate: Option<Arc<tls::Certificate>>,
    pub live: Live,
    pub limits: Arc<PerIpLimits>,
    pub hub: Hub,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// Ends the refreshing of the identity provider's key set in use.
    pub key_set_stop: CancellationToken,
    /// The server's stop: refresh tasks started by a reload end with it.
    pub stop: CancellationToken,
}

/// What the server's settings were read from at start: the command line, and each setting's
/// values as parsed then (a reload compares the sources as they are now with these).
#[derive(Debug)]
pub struct Sources {
    args: Vec<OsString>,
    running: Raw,
    public_key: Option<Vec<u8>>,
}

impl Sources {
    /// `args`, the command line as the process got it, and `matches`, what clap made of it
    /// (with the config file's settings) for `settings`.
    pub fn new(args: Vec<OsString>, matches: &ArgMatches, settings: &ServeSettings) -> Self {
        let running = matches
            .subcommand_matches("serve")
            .map(raw_values)
            .unwrap_or_default();
        Self {
            args,
            running,
            public_key: read_public_key(settings).ok().flatten(),
        }
    }
}

/// Reloads on request, remembering what the running settings were read from.
#[derive(Debug)]
pub(super) struct Reloader {
    parts: Reloadable,
    /// The command line the server started with.
    args: Vec<OsString>,
    log: Option<LogFilter>,
    /// What the running settings were read from; settings that need a restart keep their
    /// start values here, so every reload names them until the restart.
    running: Raw,
    /// The `--jwt-public-key` file's content in use, to see it replaced under the same name.
    public_key: Option<Vec<u8>>,
}

impl Reloader {
    pub fn new(parts: Reloadable, sources: Sources, log: Option<LogFilter>) -> Self {
        Self {
            parts,
            args: sources.args,
            log,
            running: sources.running,
            public_key: sources.public_key,
        }
    }

    /// Reads the sources again and applies what changed, or logs why nothing was.
    pub async fn reload(&mut self) {
        let result = match self.try_reload().await {
            Ok(()) => "ok",
            Err(error) => {
                tracing::error!(%error, "reload failed; the running settings stay");
                "error"
            }
        };
        self.parts
            .metrics
            .config_reloads
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    async fn try_reload(&mut self) -> Result<(), String> {
        let (settings, raw) = read_sources(&self.args)?;
        let changed = raw
            .iter()
            .filter(|(name, values)| self.running.get(*name) != Some(values))
            .map(|(name, _)| name.clone());
        let tls_toggled = self.parts.certificate.is_some() != settings.tls_cert.is_some();
        let (restart, mut live): (Vec<String>, Vec<String>) = changed.partition(|name| {
            !LIVE.contains(&name.as_str()) || (tls_toggled && name.starts_with("tls-"))
        });
        let named = |live: &[String], name: &str| live.iter().any(|n| n == name);

        // Build every new part; nothing is swapped in until all are good.
        let certificate = match (
            &self.parts.certificate,
            &settings.tls_cert,
            &settings.tls_key,
        ) {
            (Some(current), Some(cert), Some(key)) => {
                let (fresh, differs) = current.prepare(cert, key).map_err(|e| format!("{e:#}"))?;
                if differs && !named(&live, "tls-cert") {
                    live.push("tls-cert".into());
                }
                Some((current.clone(), fresh))
            }
            _ => None,
        };
        let public_key = read_public_key(&settings).map_err(|e| format!("{e:#}"))?;
        if public_key.is_some() && public_key != self.public_key && !named(&live, "jwt-public-key")
        {
            live.push("jwt-public-key".into());
        }
        let current = self.parts.live.get();
        let auth = if live.iter().any(|name| ACCESS.contains(&name.as_str())) {
            Some(self.authenticator(&settings).await?)
        } else {
            None
        };
        let cors = if named(&live, "cors-origin") {
            let origins =
                super::listening::cors_origins(&settings).map_err(|e| format!("{e:#}"))?;
            crate::http::cors_layer(&origins)
        } else {
            current.cors.clone()
        };

        // Swap.
        if let Some((certificate, fresh)) = certificate {
            certificate.replace(fresh);
        }
        self.parts
            .limits
            .set(settings.max_streams_per_ip, settings.write_rate_per_ip);
        self.parts.hub.set_max_clients(settings.max_clients);
        let (auth, key_set_stop) = match auth {
            Some((auth, stop)) => (auth, Some(stop)),
            None => (current.auth.clone(), None),
        };
        self.parts.live.replace(LiveSettings {
            auth,
            cors,
            max_body_bytes: settings.max_body_bytes,
            max_filter_lots: usize::try_from(settings.max_filter_lots).unwrap_or(usize::MAX),
        });
        if let Some(stop) = key_set_stop {
            std::mem::replace(&mut self.parts.key_set_stop, stop).cancel();
        }

        live.sort_unstable();
        tracing::info!(changed = %list(&live), "reloaded");
        if !restart.is_empty() {
            tracing::warn!(settings = %list(&restart), "changed, but needs a restart");
        }
        // Last, so the lines above are logged by the filter they were asked under.
        if let (Some(log), true) = (&self.log, named(&live, "log-level")) {
            if let Err(error) = log.set(settings.log_level.as_deref()) {
                tracing::warn!(%error, "the log filter could not be replaced");
            }
        }
        let mut running = raw;
        for name in &restart {
            match self.running.get(name) {
                Some(values) => running.insert(name.clone(), values.clone()),
                None => running.remove(name),
            };
        }
        self.running = running;
        self.public_key = public_key;
        Ok(())
    }

    /// The authenticator the new settings ask for, its key set fetched, and the token that
    /// ends that key set's refreshing.
    async fn authenticator(
        &self,
        settings: &ServeSettings,
    ) -> Result<(crate::auth::Authenticator, CancellationToken), String> {
        let access = access::authenticator(settings, &self.parts.store)
            .await
            .map_err(|e| format!("{e:#}"))?;
        let stop = self.parts.stop.child_token();
        if let Some(jwks) = access.key_set {
            // Unlike at start, a key set that cannot be fetched keeps the running one: a
            // reload must not turn every request into a 503.
            let keys = jwks
                .refresh()
                .await
                .map_err(|e| format!("the JWT key set: {e}"))?;
            tracing::info!(keys, url = %jwks.url(), "fetched the JWT key set");
            tokio::spawn(jwks.keep_fresh(stop.clone()));
        }
        Ok((access.auth, stop))
    }
}

/// Serves reloads on each SIGHUP until `stop`.
pub(super) async fn on_hangups(
    mut hangups: Hangups,
    mut reloader: Reloader,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            more = hangups.next() => {
                if !more {
                    return;
                }
                tracing::info!("SIGHUP: reloading the settings");
                reloader.reload().await;
            }
        }
    }
}

/// `serve`'s settings from `args` (with the config file as it is now) and the environment,
/// as at start, with each one's values as given.
fn read_sources(args: &[OsString]) -> Result<(ServeSettings, Raw), String> {
    let cli = Cli::command();
    let expanded = config::expand(args.to_vec(), &cli)?;
    let matches = cli
        .clone()
        .try_get_matches_from(&expanded.args)
        .map_err(|e| first_line(&e.to_string()))?;
    let serve = matches
        .subcommand_matches("serve")
        .ok_or("the server was not started with `serve`")?;
    let settings =
        ServeSettings::from_arg_matches(serve).map_err(|e| first_line(&e.to_string()))?;
    settings.check()?;
    Ok((settings, raw_values(serve)))
}

/// Each of `serve`'s settings' values in `serve`, its matches.
fn raw_values(serve: &ArgMatches) -> Raw {
    let command = Cli::command();
    let Some(command) = command.find_subcommand("serve") else {
        return Raw::new();
    };
    command
        .get_arguments()
        .filter_map(|arg| {
            let long = arg.get_long()?;
            let values = serve
                .get_raw(arg.get_id().as_str())
                .map(|values| values.map(ToOwned::to_owned).collect())
                .unwrap_or_default();
            Some((long.to_owned(), values))
        })
        .collect()
}

/// The `--jwt-public-key` file's content, when it is the way tokens are checked.
fn read_public_key(settings: &ServeSettings) -> anyhow::Result<Option<Vec<u8>>> {
    use anyhow::Context;
    match (&settings.jwt_public_key, &settings.jwt_jwks_url) {
        (Some(path), None) if settings.auth == config::AuthMode::Jwt => std::fs::read(path)
            .with_context(|| format!("reading the JWT public key {}", path.display()))
            .map(Some),
        _ => Ok(None),
    }
}

/// clap's message without its usage lines.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message);
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "nothing".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_sources_are_read_with_each_settings_values_as_given() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("parkstream.toml");
        std::fs::write(
            &file,
            "max-filter-lots = 7\ncors-origin = [\"https://a.example\"]\n",
        )
        .unwrap();
        let file = file.to_str().unwrap();
        let (settings, raw) =
            read_sources(&args(&["parkstream", "serve", "--config", file])).unwrap();
        assert_eq!(settings.max_filter_lots, 7);
        assert_eq!(raw["max-filter-lots"], [OsString::from("7")]);
        assert_eq!(raw["cors-origin"], [OsString::from("https://a.example")]);
        assert!(LIVE
            .iter()
            .chain(&ACCESS)
            .all(|name| raw.contains_key(*name)));

        std::fs::write(file, "max-filter-lots = 0\n").unwrap();
        let error = read_sources(&args(&["parkstream", "serve", "--config", file])).unwrap_err();
        assert!(error.contains("--max-filter-lots"), "{error}");
        assert!(!error.contains('\n'), "one line: {error}");
    }
}
