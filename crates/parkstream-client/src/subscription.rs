//! A subscription: the task that keeps a connection, and the `Stream` it feeds.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use parkstream_protocol::events::Event;
use parkstream_protocol::sse::{SseItem, SseParser};
use parkstream_protocol::EventType;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::client::Client;
use crate::error::ClientError;

/// An event and the id it carried (domain events only; `connected`, `reset` and `ping`
/// carry none).
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub id: Option<String>,
    pub event: Event,
}

/// What a subscription yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// An event from the server. A [`Event::Reset`] means events were missed: reload the
    /// state over REST.
    Event(Received),
    /// The connection was lost (or could not be made); the next attempt comes after `delay`.
    Reconnecting {
        attempt: u32,
        delay: Duration,
        error: String,
    },
}

/// A `Stream` of [`Update`]s that reconnects by itself; after the last failed attempt it
/// yields [`ClientError::GaveUp`] (or [`ClientError::Rejected`] at once for a refusal that
/// retrying cannot fix) and ends.
///
/// ```no_run
/// # async fn demo() -> Result<(), parkstream_client::ClientError> {
/// use futures_util::StreamExt;
/// use parkstream_client::{Client, Update};
/// use parkstream_protocol::events::Event;
///
/// let client = Client::builder("http://127.0.0.1:8080").build()?;
/// let mut subscription = client.subscribe();
/// while let Some(update) = subscription.next().await {
///     match update? {
///         Update::Event(received) => {
///             if let Event::Reset(_) = received.event {
///                 // Events were missed: reload the lots over REST.
///             }
///         }
///         Update::Reconnecting { attempt, delay, error } => {
///             eprintln!("connection lost ({error}); attempt {attempt} in {delay:?}");
///         }
///     }
///     // Where the next reconnection resumes (sent as `Last-Event-ID`).
///     let _resume_from = subscription.last_event_id();
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<Result<Update, ClientError>>,
    task: JoinHandle<()>,
    last_event_id: Arc<Mutex<Option<String>>>,
}

impl Subscription {
    pub(crate) fn start(client: Client) -> Self {
        let (tx, rx) = mpsc::channel(256);
        let last_event_id = Arc::new(Mutex::new(client.config.last_event_id.clone()));
        let task = tokio::spawn(run(client, tx, last_event_id.clone()));
        Self {
            rx,
            task,
            last_event_id,
        }
    }

    /// The id of the last event received: where a reconnection resumes.
    pub fn last_event_id(&self) -> Option<String> {
        self.last_event_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Closes the connection and stops reconnecting.
    pub fn close(self) {}
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Stream for Subscription {
    type Item = Result<Update, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// How one connection ended.
enum Ended {
    /// Nobody listens any more.
    Unwanted,
    /// The server refused for good.
    Rejected(ClientError),
    /// Lost or never made: try again.
    Lost(String),
}

type Sender = mpsc::Sender<Result<Update, ClientError>>;

async fn run(client: Client, tx: Sender, last_event_id: Arc<Mutex<Option<String>>>) {
    let backoff = &client.config.backoff;
    let mut attempt = 0u32;
    let mut server_retry = None;
    let mut waited = Duration::ZERO;
    loop {
        let ended = connect(
            &client,
            &tx,
            &last_event_id,
            &mut server_retry,
            &mut attempt,
        )
        .await;
        let error = match ended {
            Ended::Unwanted => return,
            Ended::Rejected(err) => {
                let _ = tx.send(Err(err)).await;
                return;
            }
            Ended::Lost(error) => error,
        };
        if attempt == 0 {
            waited = Duration::ZERO;
        }
        attempt += 1;
        if attempt > backoff.max_attempts {
            let gave_up = ClientError::GaveUp {
                attempts: attempt - 1,
                waited,
                last_error: error,
            };
            let _ = tx.send(Err(gave_up)).await;
            return;
        }
        let delay = backoff.delay(attempt, server_retry);
        let update = Update::Reconnecting {
            attempt,
            delay,
            error,
        };
        if tx.send(Ok(update)).await.is_err() {
            return;
        }
        tokio::time::sleep(delay).await;
        waited += delay;
    }
}

/// One connection: requests the stream (resuming from the last id) and forwards its events
/// until it ends.
async fn connect(
    client: &Client,
    tx: &Sender,
    last_event_id: &Mutex<Option<String>>,
    server_retry: &mut Option<Duration>,
    attempt: &mut u32,
) -> Ended {
    let config = &client.config;
    let mut request = config
        .http
        .get(config.url.clone())
        .header(reqwest::header::ACCEPT, "text/event-stream");
    let resume = last_event_id
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some(id) = resume {
        request = request.header("Last-Event-ID", id);
    }
    if let Some(token) = &config.access_token {
        request = request.bearer_auth(token);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(err) => return Ended::Lost(err.to_string()),
    };
    let status = response.status();
    if !status.is_success() {
        // A refusal of the request itself will not change by retrying; overload will.
        let retryable = status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT;
        if retryable {
            return Ended::Lost(format!("HTTP {status}"));
        }
        let body = response.text().await.unwrap_or_default();
        return Ended::Rejected(ClientError::Rejected {
            status: status.as_u16(),
            body,
        });
    }

    let mut parser = SseParser::new();
    let mut items = Vec::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(err) => return Ended::Lost(err.to_string()),
        };
        parser.feed(&chunk, &mut items);
        for item in items.drain(..) {
            let sse = match item {
                SseItem::Retry(millis) => {
                    *server_retry = Some(Duration::from_millis(millis));
                    continue;
                }
                SseItem::Event(sse) => sse,
            };
            // Unknown event types (a newer server) and data that does not parse are skipped.
            let Ok(event_type) = sse.event.parse::<EventType>() else {
                continue;
            };
            let Ok(event) = Event::from_parts(event_type, &sse.data) else {
                continue;
            };
            let id = if event_type.is_domain_event() {
                sse.id
            } else {
                None
            };
            if let Some(id) = &id {
                *last_event_id.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.clone());
            }
            if event_type == EventType::Connected {
                *attempt = 0;
            }
            let received = Received { id, event };
            client.listeners.dispatch(&received);
            if tx.send(Ok(Update::Event(received))).await.is_err() {
                return Ended::Unwanted;
            }
        }
    }
    Ended::Lost("the server closed the stream".into())
}
