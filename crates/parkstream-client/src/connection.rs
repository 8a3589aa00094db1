//! One connection to a stream: the request, then the server's events as they come.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use parkstream_protocol::sse::{SseItem, SseParser};

use crate::config::Config;
use crate::error::ClientError;

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// One connection's SSE items (events and `retry:` fields) as they arrive, parsed but not
/// typed: no reconnection, no callbacks, any event name. From [`Client::connect`]; for tools
/// that count or time events (a load generator), and for SSE servers other than parkstream.
/// A [`Subscription`](crate::Subscription) is built on it. The stream ends when the server
/// closes it, after a [`ClientError::Disconnected`] if the connection broke.
///
/// [`Client::connect`]: crate::Client::connect
///
/// ```no_run
/// # async fn demo() -> Result<(), parkstream_client::ClientError> {
/// use futures_util::StreamExt;
/// use parkstream_client::Client;
/// use parkstream_protocol::sse::SseItem;
///
/// let client = Client::builder("http://127.0.0.1:8080").build()?;
/// let mut events = client.connect().await?;
/// let mut counted = 0;
/// while let Some(item) = events.next().await {
///     if let SseItem::Event(event) = item? {
///         counted += usize::from(event.event == "capacity_update");
///     }
/// }
/// println!("{counted} updates");
/// # Ok(()) }
/// ```
pub struct EventStream {
    body: Body,
    parser: SseParser,
    /// Parsed and not yet yielded, in reverse order (so the next one pops off the end).
    ready: Vec<SseItem>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("ready", &self.ready.len())
            .finish_non_exhaustive()
    }
}

impl EventStream {
    /// Requests the stream (from `last_event_id` on, when given) and waits for the response
    /// head.
    ///
    /// # Errors
    /// [`ClientError::Rejected`] for a refusal that retrying cannot fix (a bad filter, bad
    /// credentials); [`ClientError::Disconnected`] when the server cannot be reached or is
    /// overloaded (5xx, 429, 408).
    pub(crate) async fn open(
        config: &Config,
        last_event_id: Option<&str>,
    ) -> Result<Self, ClientError> {
        let mut request = config
            .http
            .get(config.url.clone())
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        if let Some(token) = &config.access_token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|err| ClientError::Disconnected(err.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            // A refusal of the request itself will not change by retrying; overload will.
            let retryable = status.is_server_error()
                || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                || status == reqwest::StatusCode::REQUEST_TIMEOUT;
            if retryable {
                return Err(ClientError::Disconnected(format!("HTTP {status}")));
            }
            let body = response.text().await.unwrap_or_default();
            return Err(ClientError::Rejected {
                status: status.as_u16(),
                body,
            });
        }
        Ok(Self::from_response(response))
    }

    /// The events of a stream response requested some other way (with headers of the
    /// caller's own, or to see a refusal's status and headers first); the caller has checked
    /// that its status is a success.
    pub fn from_response(response: reqwest::Response) -> Self {
        Self {
            body: Box::pin(response.bytes_stream()),
            parser: SseParser::new(),
            ready: Vec::new(),
        }
    }
}

impl Stream for EventStream {
    type Item = Result<SseItem, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(item) = this.ready.pop() {
                return Poll::Ready(Some(Ok(item)));
            }
            match this.body.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.parser.feed(&chunk, &mut this.ready);
                    this.ready.reverse();
                }
                Poll::Ready(Some(Err(err))) => {
                    return Poll::Ready(Some(Err(ClientError::Disconnected(err.to_string()))));
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
