//! The client: where to connect, what to ask for, and the callbacks to run.

use std::sync::Arc;

use parkstream_protocol::EventType;

use crate::backoff::Backoff;
use crate::config::Config;
use crate::connection::EventStream;
use crate::error::ClientError;
use crate::listeners::{ListenerId, Listeners};
use crate::subscription::Subscription;
use crate::update::Received;

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
    config: Arc<Config>,
    listeners: Arc<Listeners>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.config.url)
            .field("backoff", &self.config.backoff)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    server: String,
    path: String,
    lots: Vec<String>,
    types: Vec<EventType>,
    access_token: Option<String>,
    last_event_id: Option<String>,
    backoff: Backoff,
    http: Option<reqwest::Client>,
}

impl ClientBuilder {
    /// Where the stream is, resolved against the server URL as a link is: a path (the default
    /// is `/api/sse/dashboard`; a proxy may move it), or a whole URL. The filters are added to
    /// its query. For another SSE server, read it with [`Client::connect`].
    #[must_use]
    pub fn stream_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

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
        let mut url = base.join(&self.path).map_err(|e| invalid(e.to_string()))?;
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

impl Client {
    /// Starts building a client of the server at `server` (`http://host:port`).
    pub fn builder(server: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            server: server.into(),
            path: STREAM_PATH.to_owned(),
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
        Subscription::start(self.config.clone(), self.listeners.clone())
    }

    /// Opens one connection to the stream and returns its SSE items as they arrive: no
    /// reconnection, no typed parsing, no callbacks (see [`EventStream`]). Sends the
    /// builder's `last_event_id`, when given, as `Last-Event-ID`.
    ///
    /// # Errors
    /// [`ClientError::Rejected`] when the server refuses the stream,
    /// [`ClientError::Disconnected`] when it cannot be reached or is overloaded.
    pub async fn connect(&self) -> Result<EventStream, ClientError> {
        EventStream::open(&self.config, self.config.last_event_id.as_deref()).await
    }

    /// Runs `callback` for every event of `event_type` received by this client's
    /// subscriptions.
    pub fn on(
        &self,
        event_type: EventType,
        callback: impl Fn(&Received) + Send + Sync + 'static,
    ) -> ListenerId {
        self.listeners.add(event_type, callback)
    }

    /// Removes a callback; false if it was not registered.
    pub fn off(&self, id: ListenerId) -> bool {
        self.listeners.remove(id)
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

    #[test]
    fn the_stream_path_is_resolved_against_the_server_and_keeps_the_filters() {
        let proxied = Client::builder("https://h/")
            .stream_path("/parking/stream?v=1")
            .lots(["a"])
            .build()
            .unwrap();
        assert_eq!(proxied.url(), "https://h/parking/stream?v=1&lots=a");
        let other = Client::builder("http://h:1")
            .stream_path("http://other:2/events")
            .build()
            .unwrap();
        assert_eq!(other.url(), "http://other:2/events");
    }
}
