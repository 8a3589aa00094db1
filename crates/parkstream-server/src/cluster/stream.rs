//! The Redis Stream every instance's events flow through: [`Appender`] (the writer's side)
//! and [`Follower`] (each instance's reader, publishing into its own hub).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::streams::StreamReadReply;
use redis::{AsyncConnectionConfig, Client, RedisResult};
use tokio_util::sync::CancellationToken;

use parkstream_protocol::EventType;

use crate::health::Health;
use crate::hub::{publishable, Hub, PublishedEvent};
use crate::metrics::{Metrics, ReasonLabel};
use crate::read_model::ReadModel;
use crate::store::{PostgresStore, StoredEvent};

/// Entries read per `XREAD`, and how long one waits for new entries.
const READ_COUNT: usize = 1_000;
const READ_BLOCK: Duration = Duration::from_secs(1);

/// A client for `url`; a `rediss://` server's certificate must chain to `ca_file` when given
/// (a private CA), to the system's roots otherwise.
///
/// # Errors
/// When the URL is not a Redis URL, or `ca_file` cannot be read or parsed.
pub fn client(url: &str, ca_file: Option<&Path>) -> RedisResult<Client> {
    // redis builds its rustls config from the process default: the server's own, ring.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let Some(ca_file) = ca_file else {
        return Client::open(url);
    };
    let root_cert = std::fs::read(ca_file)?;
    Client::build_with_tls(
        url,
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(root_cert),
        },
    )
}

async fn connect(
    client: &Client,
    response_timeout: Duration,
) -> RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Duration::from_secs(2))
        .set_response_timeout(response_timeout);
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

fn redis_error(metrics: &Metrics, operation: &'static str) {
    metrics
        .redis_errors
        .get_or_create(&ReasonLabel { reason: operation })
        .inc();
}

/// The stream id of event `id`.
fn entry_id(id: u64) -> String {
    format!("{id}-0")
}

/// Appends events to the stream, in id order.
#[derive(Debug)]
pub struct Appender {
    client: Client,
    key: String,
    max_len: u64,
    conn: Option<MultiplexedConnection>,
    health: Health,
    metrics: Arc<Metrics>,
}

impl Appender {
    /// # Errors
    /// See [`client`].
    pub fn new(
        url: &str,
        ca_file: Option<&Path>,
        key: &str,
        max_len: u64,
        metrics: Arc<Metrics>,
    ) -> RedisResult<Self> {
        Ok(Self {
            client: client(url, ca_file)?,
            key: key.to_owned(),
            max_len,
            conn: None,
            health: Health::default(),
            metrics,
        })
    }

    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// Appends `events` (oldest first) in one `MULTI`. With `skip_present`, those already on
    /// the stream (appended by an instance that died before recording it, or a retry after a
    /// lost answer) are skipped, at the cost of one more round trip; without it, an event
    /// already there fails the append.
    ///
    /// # Errors
    /// When Redis cannot be reached or refuses; some of the events may be on the stream then.
    pub async fn append(&mut self, events: &[StoredEvent], skip_present: bool) -> RedisResult<()> {
        let started = tokio::time::Instant::now();
        let result = self.try_append(events, skip_present).await;
        self.metrics
            .redis_append_duration
            .observe(started.elapsed().as_secs_f64());
        if let Err(err) = &result {
            tracing::warn!(error = %err, "appending to the Redis stream failed");
            redis_error(&self.metrics, "append");
            self.conn = None;
        }
        self.health.set(result.is_ok());
        result
    }

    async fn try_append(&mut self, events: &[StoredEvent], skip_present: bool) -> RedisResult<()> {
        if self.conn.is_none() {
            self.conn = Some(connect(&self.client, Duration::from_secs(2)).await?);
        }
        let conn = self.conn.as_mut().expect("connected");
        let on_stream = if skip_present {
            // The newest entry: an id at or below it is already there.
            let newest: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
                .arg(&self.key)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut *conn)
                .await?;
            newest
                .first()
                .and_then(|(id, _)| parse_entry_id(id))
                .unwrap_or(0)
        } else {
            0
        };
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut any = false;
        for event in events.iter().filter(|e| e.id > on_stream) {
            any = true;
            pipe.cmd("XADD")
                .arg(&self.key)
                .arg("MAXLEN")
                .arg("~")
                .arg(self.max_len)
                .arg(entry_id(event.id))
                .arg("type")
                .arg(event.event_type.as_str())
                .arg("lot")
                .arg(event.lot_id.as_deref().unwrap_or(""))
                .arg("owner")
                .arg(event.owner.as_deref().unwrap_or(""))
                .arg("data")
                .arg(&event.data)
                .ignore();
        }
        if any {
            pipe.query_async::<()>(conn).await?;
        }
        Ok(())
    }
}

fn parse_entry_id(id: &str) -> Option<u64> {
    id.split_once('-').map_or(id, |(ms, _)| ms).parse().ok()
}

/// Reads the stream and publishes every event into this instance's hub, then refreshes the
/// read model from the database.
#[derive(Debug)]
pub struct Follower {
    client: Client,
    key: String,
    hub: Hub,
    store: PostgresStore,
    read_model: ReadModel,
    health: Health,
}

impl Follower {
    /// # Errors
    /// See [`client`].
    pub fn new(
        url: &str,
        ca_file: Option<&Path>,
        key: &str,
        hub: Hub,
        store: PostgresStore,
        read_model: ReadModel,
    ) -> RedisResult<Self> {
        Ok(Self {
            client: client(url, ca_file)?,
            key: key.to_owned(),
            hub,
            store,
            read_model,
            health: Health::default(),
        })
    }

    /// Whether Redis answered its last read (for `/readyz`).
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// Follows the stream until `stop`, reconnecting with backoff (100 ms doubling to 2 s)
    /// whenever Redis goes away.
    pub async fn run(self, stop: CancellationToken) {
        let mut last = self.hub.newest_id();
        let mut backoff = Duration::from_millis(100);
        while !stop.is_cancelled() {
            let conn = tokio::select! {
                () = stop.cancelled() => return,
                conn = connect(&self.client, READ_BLOCK + Duration::from_secs(5)) => conn,
            };
            let mut conn = match conn {
                Ok(conn) => {
                    backoff = Duration::from_millis(100);
                    conn
                }
                Err(err) => {
                    self.health.set(false);
                    redis_error(self.hub.metrics(), "connect");
                    tracing::warn!(error = %err, retry_in = ?backoff, "cannot reach Redis");
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            };
            loop {
                let read = tokio::select! {
                    () = stop.cancelled() => return,
                    read = self.read(&mut conn, last) => read,
                };
                match read {
                    Ok(entries) => {
                        self.health.set(true);
                        // Entries, or a quiet second: either way the database may hold news
                        // (events whose append failed, changes without events).
                        last = self.publish(entries, last).await;
                        self.refresh(last).await;
                    }
                    Err(err) => {
                        self.health.set(false);
                        redis_error(self.hub.metrics(), "read");
                        tracing::warn!(error = %err, "reading the Redis stream failed; reconnecting");
                        break;
                    }
                }
            }
        }
    }

    async fn read(
        &self,
        conn: &mut MultiplexedConnection,
        last: u64,
    ) -> RedisResult<Vec<PublishedEvent>> {
        let reply: Option<StreamReadReply> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(READ_BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.key)
            .arg(entry_id(last))
            .query_async(conn)
            .await?;
        let mut events = Vec::new();
        for entry in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
            let field = |name: &str| entry.get::<String>(name).filter(|v| !v.is_empty());
            let decoded = (|| {
                let id = parse_entry_id(&entry.id)?;
                let event_type: EventType = field("type")?.parse().ok()?;
                let data = field("data")?;
                Some(PublishedEvent::from_stored(
                    id,
                    event_type,
                    field("lot").map(Arc::from),
                    field("owner").map(Arc::from),
                    &data,
                ))
            })();
            match decoded {
                Some(event) => events.push(event),
                None => {
                    tracing::error!(id = %entry.id, "an entry of the stream does not decode; skipped")
                }
            }
        }
        Ok(events)
    }

    /// Publishes `entries` after `last`, first reading from the database any event the stream
    /// no longer has (ids are contiguous); answers the newest id published.
    async fn publish(&self, entries: Vec<PublishedEvent>, mut last: u64) -> u64 {
        let mut batch: Vec<Arc<PublishedEvent>> = Vec::with_capacity(entries.len());
        for event in entries {
            if event.id <= last {
                continue;
            }
            if event.id > last + 1 {
                match self.store.events_between(last, event.id).await {
                    Ok(missing) => {
                        tracing::info!(
                            count = missing.len(),
                            "read events missing from the Redis stream from the database"
                        );
                        batch.extend(missing.iter().map(publishable));
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "events missing from the Redis stream could not be read")
                    }
                }
            }
            last = event.id;
            batch.push(Arc::new(event));
        }
        if batch.len() > self.hub.chunk_size() {
            self.hub.publish_paced(batch).await;
        } else if !batch.is_empty() {
            self.hub.make_room(batch.len()).await;
            self.hub.publish(batch);
        }
        last
    }

    /// Updates the read model from the database, and the lag behind it of `published`, the
    /// newest event this instance published.
    async fn refresh(&self, published: u64) {
        match self.store.load_views().await {
            Ok((lots, contractors, newest)) => {
                let lag = newest.saturating_sub(published);
                self.hub
                    .metrics()
                    .follower_lag
                    .set(i64::try_from(lag).unwrap_or(i64::MAX));
                self.read_model.update_contractors(&contractors);
                self.read_model.update(&lots, newest);
            }
            Err(err) => tracing::warn!(error = %err, "refreshing the read model failed"),
        }
    }
}
