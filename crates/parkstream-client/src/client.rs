//! The client: where to connect, what to ask for, and the callbacks to run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use parkstream_protocol::EventType;

use crate::backoff::Backoff;
use crate::error::ClientError;
use crate::subscription::{Received, Subscription};

/// The stream's path on the server.
const STREAM_PATH: &str = "/api/sse/dashboard";

/// A configured client. Cheap to clone; every clone shares the callbacks.
///
/// ```no_run
/// # async fn demo() -> Result<(), parkstream_client::ClientError> {
/// use parkstream_client::{Backoff, Client};
/// use parkstream_protocol::EventType;
///
/// // https:// works too (rustls with the Mozilla roots; pass your own reqwest::Client
/// // through `http_client` for a private CA).
/// let client = Client::builder("https://parking.example")
///     .lots(["lot_1", "lot_2"])
///     .types([EventType::CapacityUpdate, EventType::Alert])
///     .access_token("a JWT")
///     .backoff(Backoff::default().max_attempts(10))
///     .build()?;
/// client.on(EventType::Alert, |received| println!("alert: {:?}", received.event));
/// let subscription = client.subscribe();
/// # drop(subscription);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) config: Arc<Config>,
    pub(crate) listeners: Arc<Listeners>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.config.url)
            .field("backoff", &self.config.backoff)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) url: reqwest::Url,
    pub(crate) access_token: Option<String>,
    pub(crate) last_event_id: Option<String>,
    pub(crate) backoff: Backoff,
    pub(crate) http: reqwest::Client,
}

/// Builds a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    server: String,
    lots: Vec<String>,
    types: Vec<EventType>,
    access_token: Option<String>,
    last_event_id: Option<String>,
    backoff: Backoff,
    http: Option<reqwest::Client>,
}

impl ClientBuilder {
    /// Only events about these lots (`lots=`).
    #[must_use]
    pub fn lots<I, S>(mut self, lots: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.lots = lots.into_iter().map(Into::into).collect();
        self
    }

    /// Only these event types (`types=`); `connected`, `reset` and `ping` always come.
    #[must_use]
    pub fn types(mut self, types: impl IntoIterator<Item = EventType>) -> Self {
        self.types = types.into_iter().collect();
        self
    }

    /// Sent as `Authorization: Bearer`.
    #[must_use]
    pub fn access_token(mut self, token: impl Into<String>) -> Self {
        self.access_token = Some(token.into());
        self
    }

    /// Start after this event id (for example the `Last-Event-ID` of a REST snapshot).
    #[must_use]
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Use this HTTP client (proxies, TLS roots, timeouts). It must not time out whole
    /// requests: a stream lasts as long as it is wanted.
    #[must_use]
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// # Errors
    /// [`ClientError::InvalidUrl`] when the server URL does not parse.
    pub fn build(self) -> Result<Client, ClientError> {
        let invalid = |reason: String| ClientError::InvalidUrl {
            url: self.server.clone(),
            reason,
        };
        let base = reqwest::Url::parse(&self.server).map_err(|e| invalid(e.to_string()))?;
        let mut url = base.join(STREAM_PATH).map_err(|e| invalid(e.to_string()))?;
        {
            let mut query = url.query_pairs_mut();
            if !self.lots.is_empty() {
                query.append_pair("lots", &self.lots.join(","));
            }
            if !self.types.is_empty() {
                let names: Vec<&str> = self.types.iter().map(|t| t.as_str()).collect();
                query.append_pair("types", &names.join(","));
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        Ok(Client {
            config: Arc::new(Config {
                url,
                access_token: self.access_token,
                last_event_id: self.last_event_id,
                backoff: self.backoff,
                http: self.http.unwrap_or_default(),
            }),
            listeners: Arc::new(Listeners::default()),
        })
    }
}

/// Identifies a callback, to remove it with [`Client::off`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

type Callback = Arc<dyn Fn(&Received) + Send + Sync>;

#[derive(Default)]
pub(crate) struct Listeners {
    next: AtomicU64,
    callbacks: Mutex<Vec<(ListenerId, EventType, Callback)>>,
}

impl Listeners {
    /// Runs every callback registered for the event's type. They run outside the lock, so a
    /// callback may call `on` or `off`.
    pub(crate) fn dispatch(&self, received: &Received) {
        let event_type = received.event.event_type();
        let matching: Vec<Callback> = self
            .callbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, t, _)| *t == event_type)
            .map(|(_, _, callback)| callback.clone())
            .collect();
        for callback in matching {
            callback(received);
        }
    }
}

impl Client {
    /// Starts building a client of the server at `server` (`http://host:port`).
    pub fn builder(server: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            server: server.into(),
            lots: Vec::new(),
            types: Vec::new(),
            access_token: None,
            last_event_id: None,
            backoff: Backoff::default(),
            http: None,
        }
    }

    /// The stream URL this client connects to.
    pub fn url(&self) -> &str {
        self.config.url.as_str()
    }

    /// Connects and yields every update; reconnects and resumes by itself. Callbacks
    /// registered with [`on`](Self::on) run for each event too. Dropping the subscription
    /// closes the connection.
    pub fn subscribe(&self) -> Subscription {
        Subscription::start(self.clone())
    }

    /// Runs `callback` for every event of `event_type` received by this client's
    /// subscriptions.
    pub fn on(
        &self,
        event_type: EventType,
        callback: impl Fn(&Received) + Send + Sync + 'static,
    ) -> ListenerId {
        let id = ListenerId(self.listeners.next.fetch_add(1, Ordering::Relaxed));
        self.listeners
            .callbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, event_type, Arc::new(callback)));
        id
    }

    /// Removes a callback; false if it was not registered.
    pub fn off(&self, id: ListenerId) -> bool {
        let mut callbacks = self
            .listeners
            .callbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let before = callbacks.len();
        callbacks.retain(|(listener, _, _)| *listener != id);
        callbacks.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_stream_url_with_its_filters() {
        let client = Client::builder("http://127.0.0.1:8080/")
            .lots(["a", "b"])
            .types([EventType::Alert, EventType::Violation])
            .build()
            .unwrap();
        assert_eq!(
            client.url(),
            "http://127.0.0.1:8080/api/sse/dashboard?lots=a%2Cb&types=alert%2Cviolation"
        );
        let plain = Client::builder("http://h:1").build().unwrap();
        assert_eq!(plain.url(), "http://h:1/api/sse/dashboard");
        assert!(Client::builder("not a url").build().is_err());
    }
}
