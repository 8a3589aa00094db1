//! What the accept loop needs besides the listener: the default cap on open connections,
//! derived from the process's open-file limit, and the pacing of accept errors.

use std::time::Duration;

use tokio::time::Instant;

use crate::procfs;

/// File descriptors kept out of `--max-connections`' default for everything that is not a
/// client socket: standard input, output and error (3); the listeners (2) and the metrics
/// listener's own connections ([`METRICS_CONNECTIONS`], 16); the database (SQLite: the
/// database, WAL and shared-memory files of the pool's connections and the commit thread, 13
/// measured; PostgreSQL: the pool's 8 connections and the timer leader's 1); Redis (2); the
/// runtimes' event queues, wakers and signal pipe (7 measured); and the demo simulator's
/// client sockets. About 45 at most: 64 leaves a margin.
pub const FILE_RESERVE: u64 = 64;

/// The fewest connections the default allows, even under a tiny file limit.
pub const MIN_DEFAULT_CONNECTIONS: u64 = 16;

/// The largest `--max-connections` (Linux's default ceiling on a process's open files).
pub const MAX_CONNECTIONS: u64 = 1_048_576;

/// The connections the separate metrics listener (`--metrics-bind`) keeps open at most:
/// scrapers are few.
pub const METRICS_CONNECTIONS: usize = 16;

/// The open-file limit assumed when the process's own cannot be read (the usual default).
const ASSUMED_FILE_LIMIT: u64 = 1024;

/// The default of `--max-connections`: the process's soft open-file limit less
/// [`FILE_RESERVE`], at least [`MIN_DEFAULT_CONNECTIONS`], at most [`MAX_CONNECTIONS`].
pub fn default_max_connections() -> usize {
    connections_for_file_limit(procfs::file_limit().unwrap_or(ASSUMED_FILE_LIMIT))
}

/// The connections a soft file limit of `limit` leaves for clients.
pub fn connections_for_file_limit(limit: u64) -> usize {
    let connections = limit
        .saturating_sub(FILE_RESERVE)
        .clamp(MIN_DEFAULT_CONNECTIONS, MAX_CONNECTIONS);
    usize::try_from(connections).unwrap_or(usize::MAX)
}

/// Whether an accept error concerns only the connection being accepted (it was reset or
/// aborted in the backlog): the next accept may succeed at once.
pub fn concerns_one_connection(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

/// The first pause after an accept error that is not about one connection (out of file
/// descriptors, usually: the listener stays readable, so retrying at once would spin).
pub const FIRST_PAUSE: Duration = Duration::from_millis(10);
/// The longest pause: connections closing free descriptors all the time, so the loop
/// retries at least this often.
pub const LONGEST_PAUSE: Duration = Duration::from_millis(500);
/// At most one log line about accept errors per this interval.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// At most one line per [`LOG_EVERY`]: says whether to log now, and how many were not.
#[derive(Debug, Default)]
pub struct RateLimitedLog {
    /// When the last line was logged.
    logged_at: Option<Instant>,
    /// Occurrences since that line.
    suppressed: u64,
}

impl RateLimitedLog {
    /// One occurrence at `now`: `Some(n)` to log it now, `n` being those not logged since the
    /// last line.
    pub fn note(&mut self, now: Instant) -> Option<u64> {
        let due = self
            .logged_at
            .is_none_or(|at| now.duration_since(at) >= LOG_EVERY);
        if due {
            self.logged_at = Some(now);
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}

/// Paces the accept loop through a run of errors: pauses that double from [`FIRST_PAUSE`] to
/// [`LONGEST_PAUSE`], and one log line per [`LOG_EVERY`].
#[derive(Debug, Default)]
pub struct AcceptErrors {
    /// The pause after the last error; zero after a success.
    pause: Duration,
    log: RateLimitedLog,
}

/// What to do about one accept error.
#[derive(Debug, PartialEq, Eq)]
pub struct ErrorAction {
    /// How long to wait before accepting again.
    pub pause: Duration,
    /// `Some(n)`: log this error now, with `n` errors not logged since the last line.
    pub log: Option<u64>,
}

impl AcceptErrors {
    /// A connection was accepted: the next error starts a new run of pauses.
    pub fn succeeded(&mut self) {
        self.pause = Duration::ZERO;
    }

    /// An error at `now`.
    pub fn failed(&mut self, now: Instant) -> ErrorAction {
        self.pause = (self.pause * 2).clamp(FIRST_PAUSE, LONGEST_PAUSE);
        ErrorAction {
            pause: self.pause,
            log: self.log.note(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_leaves_the_reserve_and_stays_in_bounds() {
        assert_eq!(connections_for_file_limit(256), 192);
        assert_eq!(connections_for_file_limit(1024), 960);
        assert_eq!(connections_for_file_limit(20), 16);
        assert_eq!(connections_for_file_limit(u64::MAX), 1_048_576);
        // This process's own limit gives something in bounds.
        let here = default_max_connections();
        assert!((16..=1_048_576).contains(&here), "{here}");
    }

    #[test]
    fn accept_errors_pause_longer_and_log_once_per_interval() {
        let mut errors = AcceptErrors::default();
        let start = Instant::now();
        let first = errors.failed(start);
        assert_eq!(first.pause, FIRST_PAUSE);
        assert_eq!(first.log, Some(0));
        let mut pauses = Vec::new();
        for i in 1..=10 {
            let action = errors.failed(start + Duration::from_millis(i));
            assert_eq!(action.log, None);
            pauses.push(action.pause);
        }
        assert_eq!(pauses[0], FIRST_PAUSE * 2);
        assert_eq!(*pauses.last().unwrap(), LONGEST_PAUSE);
        // The next line, an interval later, counts the ten not logged.
        let later = errors.failed(start + LOG_EVERY);
        assert_eq!(later.log, Some(10));
        // A success starts the pauses over, not the log interval.
        errors.succeeded();
        let again = errors.failed(start + LOG_EVERY + Duration::from_millis(1));
        assert_eq!(again.pause, FIRST_PAUSE);
        assert_eq!(again.log, None);
    }

    #[test]
    fn resets_in_the_backlog_do_not_pause_the_loop() {
        use std::io::{Error, ErrorKind};
        assert!(concerns_one_connection(&Error::from(
            ErrorKind::ConnectionAborted
        )));
        assert!(!concerns_one_connection(&Error::from_raw_os_error(24)));
    }
}
