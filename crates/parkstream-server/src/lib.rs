//! parkstream: the real-time layer of a smart-parking system.
//!
//! Reports come in over HTTP, the writer applies the domain rules and stores the result, the
//! hub fans the resulting events out to every SSE stream that wants them.
//!
//! Layout:
//! - [`app`]: the application, built from the settings (state restored, tasks started,
//!   listeners prepared) and then run until stopped; [`run`] is its entry point.
//! - [`config`]: the command line and typed settings (every flag has an environment twin).
//! - [`http`]: the API, one module per resource; `sse` is the stream. Handlers parse input into
//!   domain types and talk to the writer (changes) or the read model (queries).
//! - [`auth`]: who is asking (JWTs from a header, a cookie or the query) and what they may do.
//! - [`limits`]: per-address limits on streams and writes.
//! - [`live`]: the settings requests read as they are handled, which a reload (SIGHUP)
//!   replaces; `app::reload` reads the sources again and swaps them in.
//! - [`proxy`]: behind a reverse proxy: the client address trusted proxies forward, and the
//!   public URL.
//! - [`domain`]: lots and their rules as plain data and functions; no HTTP, no SQL.
//! - [`writer`]: the single task that changes state: applies commands, group-commits them to
//!   the store, then publishes their events and updates the read model.
//! - [`store`]: durable storage behind one type (SQLite or PostgreSQL), chosen by the URL.
//! - [`cluster`]: several instances on one PostgreSQL and one Redis Stream.
//! - [`hub`]: the replay window and the fan-out of encoded frames to subscribers.
//! - [`read_model`]: the committed state `GET` requests answer from.
//! - [`server`]: the accept loop, per-connection control, the lean stream path, graceful
//!   shutdown; [`tls`] loads its certificate.
//! - [`error`]: `ApiError`, the one place failures become status codes and error bodies.
//! - [`metrics`], [`telemetry`]: Prometheus metrics and logging.
//! - [`simulate`], [`loadtest`]: client tools of the `parkstream` binary: realistic traffic
//!   for a demo, and load tests for sizing (through the `parkstream-client` crate).

pub mod app;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod domain;
pub mod error;
pub mod forecast;
pub mod health;
pub mod http;
pub mod hub;
pub mod limits;
pub mod live;
pub mod loadtest;
pub mod metrics;
pub mod mqtt;
pub mod open_data;
pub mod procfs;
pub mod proxy;
pub mod read_model;
pub mod server;
pub mod simulate;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod tls;
pub mod webhooks;
pub mod writer;

use std::future::Future;

use tokio::net::TcpListener;

pub use crate::app::App;
use crate::config::ServeSettings;

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
    App::build(settings, listener).await?.run(shutdown).await
}
