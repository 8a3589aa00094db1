//! MQTT ingest (`--mqtt-url`): camera counts and gate events published by sensors and
//! controllers, taken from a broker with the rules and idempotency of the HTTP endpoints.
//!
//! QoS 1 on a persistent session, acknowledged by hand: a message is acknowledged once its
//! report is stored, or once it is refused for good and republished with its error to the
//! dead-letter topic. A message that could not be stored stays unacknowledged and the
//! connection is dropped, so the broker delivers it again when we come back; gate events carry
//! `eventId`s, so a redelivery counts once. Reconnects back off from 100 ms to 5 s.

mod message;

pub use message::Topics;

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS, Transport};
use tokio_util::sync::CancellationToken;

use crate::config::broker_address;
use crate::health::Health;
use crate::metrics::{Metrics, ResultLabel};
use crate::writer::Writer;
use message::Outcome;

/// Where and how to subscribe.
#[derive(Debug, Clone)]
pub struct MqttSettings {
    /// `mqtt://HOST:PORT` or `mqtts://HOST:PORT`.
    pub url: String,
    /// PEM CA certificate(s) for `mqtts://`; the system's roots otherwise.
    pub ca_file: Option<std::path::PathBuf>,
    pub credentials: Option<(String, String)>,
    /// The session's identity at the broker: one per instance.
    pub client_id: String,
    pub topics: Topics,
    pub dead_letter: String,
    /// In a cluster the instances share one subscription (`$share/parkstream/...`): the broker
    /// hands each message to one of them.
    pub shared: bool,
}

/// Our own QoS 1 publishes (dead letters) awaiting the broker's acknowledgement at once.
const IN_FLIGHT: u16 = 64;
/// Requests (acknowledgements, dead letters, subscriptions) queued for the event loop.
const REQUESTS: usize = 256;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The broker connection's options.
///
/// # Errors
/// When the URL is not `mqtt://` or `mqtts://` with a host, or the CA file cannot be read.
pub fn options(settings: &MqttSettings) -> anyhow::Result<MqttOptions> {
    let (tls, host, port) = broker_address(&settings.url).map_err(anyhow::Error::msg)?;
    let mut options = MqttOptions::new(&settings.client_id, host, port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_inflight(IN_FLIGHT)
        .set_max_packet_size(1024 * 1024, 1024 * 1024);
    if let Some((user, password)) = &settings.credentials {
        options.set_credentials(user, password);
    }
    if tls {
        // rumqttc builds its TLS from the process's rustls provider: the server's own, ring.
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let ca = match &settings.ca_file {
            Some(file) => std::fs::read(file)?,
            None => Vec::new(),
        };
        let transport = if ca.is_empty() {
            Transport::tls_with_default_config()
        } else {
            Transport::tls(ca, None, None)
        };
        options.set_transport(transport);
    }
    Ok(options)
}

/// Subscribes and applies messages until `stop`.
pub async fn run(
    settings: MqttSettings,
    options: MqttOptions,
    writer: Writer,
    metrics: Arc<Metrics>,
    health: Health,
    stop: CancellationToken,
) {
    let mut backoff = FIRST_BACKOFF;
    while !stop.is_cancelled() {
        let (client, eventloop) = AsyncClient::new(options.clone(), REQUESTS);
        let ended = follow(
            &settings, &client, eventloop, &writer, &metrics, &health, &stop,
        )
        .await;
        health.set(false);
        metrics.mqtt_connected.set(0);
        match ended {
            Ended::Stopped => {
                let _ = client.disconnect().await;
                return;
            }
            Ended::Failed(reason) => {
                tracing::warn!(error = %reason, retry_in = ?backoff, "MQTT broker connection lost");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Ended::NotStored => {
                // The database failed: drop the connection with the message unacknowledged;
                // the broker delivers it again after we reconnect.
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        if health.ok() {
            backoff = FIRST_BACKOFF;
        }
    }
}

enum Ended {
    Stopped,
    Failed(String),
    NotStored,
}

/// What the connection's reader hands the applier.
enum Received {
    Connected,
    Subscribed,
    Message(rumqttc::Publish),
    Lost(String),
}

/// One connection: a task reads from the broker (the event loop must be polled all the time
/// to send what the client queues), this one subscribes on each acknowledgement of the
/// connection and applies messages in the order they arrive.
async fn follow(
    settings: &MqttSettings,
    client: &AsyncClient,
    mut eventloop: EventLoop,
    writer: &Writer,
    metrics: &Metrics,
    health: &Health,
    stop: &CancellationToken,
) -> Ended {
    // Unbounded, but never long: the broker sends at most its in-flight window of messages
    // we have not acknowledged, and we acknowledge only after applying. The reader must never
    // wait on it: while it waits, nothing sends our acknowledgements.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        loop {
            let received = match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => Received::Connected,
                Ok(Event::Incoming(Packet::SubAck(_))) => Received::Subscribed,
                Ok(Event::Incoming(Packet::Publish(publish))) => Received::Message(publish),
                Ok(_) => continue,
                Err(err) => Received::Lost(err.to_string()),
            };
            let lost = matches!(received, Received::Lost(_));
            if tx.send(received).is_err() || lost {
                return;
            }
        }
    });
    // The reader stops with this connection, whichever way it ends.
    let _reader = AbortOnDrop(reader);
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => return Ended::Stopped,
            received = rx.recv() => received,
        };
        match received {
            None => return Ended::Failed("the connection's reader stopped".into()),
            Some(Received::Lost(reason)) => {
                metrics.mqtt_errors.inc();
                return Ended::Failed(reason);
            }
            Some(Received::Subscribed) => {
                // Ready once the broker holds the subscriptions: from now on nothing
                // published is missed, whether we are connected or not.
                health.set(true);
                metrics.mqtt_connected.set(1);
            }
            Some(Received::Connected) => {
                tracing::info!(url = %settings.url, "connected to the MQTT broker");
                for pattern in [&settings.topics.counts, &settings.topics.gates] {
                    let filter = if settings.shared {
                        format!("$share/parkstream/{}", pattern.filter())
                    } else {
                        pattern.filter()
                    };
                    if let Err(err) = client.subscribe(filter, QoS::AtLeastOnce).await {
                        return Ended::Failed(err.to_string());
                    }
                }
            }
            Some(Received::Message(publish)) => {
                let outcome =
                    message::handle(writer, &settings.topics, &publish.topic, &publish.payload)
                        .await;
                let result = match &outcome {
                    Outcome::Stored => "stored",
                    Outcome::Refused(_) => "dead_letter",
                    Outcome::NotStored => "not_stored",
                };
                metrics
                    .mqtt_messages
                    .get_or_create(&ResultLabel { result })
                    .inc();
                match outcome {
                    Outcome::Stored => {}
                    Outcome::Refused(dead) => {
                        let body = serde_json::to_vec(&dead).expect("JSON serializes");
                        let published = client
                            .publish(&settings.dead_letter, QoS::AtLeastOnce, false, body)
                            .await;
                        if let Err(err) = published {
                            return Ended::Failed(err.to_string());
                        }
                    }
                    Outcome::NotStored => return Ended::NotStored,
                }
                if let Err(err) = client.ack(&publish).await {
                    return Ended::Failed(err.to_string());
                }
            }
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
