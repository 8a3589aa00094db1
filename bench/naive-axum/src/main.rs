//! The simplest SSE server one would write with axum: every POST /publish body becomes one
//! event sent through a `tokio::sync::broadcast` channel to every GET /events stream. No
//! storage, no replay, no backpressure beyond the channel (a stream that falls more than
//! its capacity behind skips what it missed). It is the baseline parkstream is measured
//! against in docs/performance.md.
//!
//! PORT (default 18011) picks the port on 127.0.0.1, CAPACITY (default 1024) the channel's.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::Router;
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast;

type Sender = broadcast::Sender<String>;

#[tokio::main]
async fn main() {
    let port: u16 = env_or("PORT", 18011);
    let capacity: usize = env_or("CAPACITY", 1024);
    let (sender, _) = broadcast::channel::<String>(capacity);
    let app = Router::new()
        .route("/events", get(events))
        .route("/publish", post(publish))
        .with_state(sender);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("binding the port");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .expect("serving");
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn publish(State(sender): State<Sender>, body: String) -> &'static str {
    // No receivers is not an error for a publisher.
    let _ = sender.send(body);
    "ok"
}

async fn events(
    State(sender): State<Sender>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = sender.subscribe();
    let stream = stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(data) => return Some((Ok(Event::default().data(data)), receiver)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
