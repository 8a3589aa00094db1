//! A subscription: the task that keeps a connection, and the `Stream` it feeds.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use parkstream_protocol::events::Event;
use parkstream_protocol::sse::SseItem;
use parkstream_protocol::EventType;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::connection::EventStream;
use crate::error::ClientError;
use crate::listeners::Listeners;
use crate::update::{Received, Update};

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
    pub(crate) fn start(config: Arc<Config>, listeners: Arc<Listeners>) -> Self {
        let (tx, rx) = mpsc::channel(256);
        let last_event_id = Arc::new(Mutex::new(config.last_event_id.clone()));
        let task = Task {
            config,
            listeners,
            tx,
            last_event_id: last_event_id.clone(),
        };
        let task = tokio::spawn(task.run());
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

/// What the connection task works with.
struct Task {
    config: Arc<Config>,
    listeners: Arc<Listeners>,
    tx: Sender,
    last_event_id: Arc<Mutex<Option<String>>>,
}

impl Task {
    /// Connects, and reconnects on the backoff schedule, until nobody listens, the server
    /// refuses, or the attempts run out.
    async fn run(self) {
        let backoff = &self.config.backoff;
        let mut attempt = 0u32;
        let mut server_retry = None;
        let mut waited = Duration::ZERO;
        loop {
            let ended = self.connect(&mut server_retry, &mut attempt).await;
            let error = match ended {
                Ended::Unwanted => return,
                Ended::Rejected(err) => {
                    let _ = self.tx.send(Err(err)).await;
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
                let _ = self.tx.send(Err(gave_up)).await;
                return;
            }
            let delay = backoff.delay(attempt, server_retry);
            let update = Update::Reconnecting {
                attempt,
                delay,
                error,
            };
            if self.tx.send(Ok(update)).await.is_err() {
                return;
            }
            tokio::time::sleep(delay).await;
            waited += delay;
        }
    }

    /// One connection: requests the stream (resuming from the last id) and forwards its
    /// events until it ends.
    async fn connect(&self, server_retry: &mut Option<Duration>, attempt: &mut u32) -> Ended {
        let resume = self
            .last_event_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut events = match EventStream::open(&self.config, resume.as_deref()).await {
            Ok(events) => events,
            Err(err @ ClientError::Rejected { .. }) => return Ended::Rejected(err),
            Err(err) => return Ended::Lost(lost(err)),
        };
        while let Some(item) = events.next().await {
            let sse = match item {
                Ok(SseItem::Retry(millis)) => {
                    *server_retry = Some(Duration::from_millis(millis));
                    continue;
                }
                Ok(SseItem::Event(sse)) => sse,
                Err(err) => return Ended::Lost(lost(err)),
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
                *self.last_event_id.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.clone());
            }
            if event_type == EventType::Connected {
                *attempt = 0;
            }
            let received = Received { id, event };
            self.listeners.dispatch(&received);
            if self.tx.send(Ok(Update::Event(received))).await.is_err() {
                return Ended::Unwanted;
            }
        }
        Ended::Lost("the server closed the stream".into())
    }
}

/// Why a connection was lost, as [`Update::Reconnecting`] tells it.
fn lost(err: ClientError) -> String {
    match err {
        ClientError::Disconnected(reason) => reason,
        other => other.to_string(),
    }
}
