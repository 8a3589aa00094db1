//! Prometheus metrics of the server, rendered as text at `/metrics`.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use parkstream_protocol::EventType;

/// Every metric the server keeps. Cheap to update from any thread (atomics inside).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// SSE streams open now.
    pub clients: Gauge,
    /// Events stored and published, by type.
    pub events_published: Family<TypeLabel, Counter>,
    /// Frames handed to SSE connections (events, pings, replays).
    pub frames_delivered: Counter,
    /// Streams closed by the server because the client could not keep up.
    pub subscribers_dropped: Family<ReasonLabel, Counter>,
    /// Streams refused because `--max-clients` streams were open.
    pub clients_refused: Counter,
    /// Seconds from an event's publication to its handing to a connection.
    pub delivery_latency: Histogram,
    /// Gate answers kept for `eventId` replays (at most `--idempotency-max`).
    pub idempotency_answers: Gauge,
    /// Client connections open now (every socket: streams, requests, idle keep-alives).
    pub connections_open: Gauge,
    /// Connections closed at once because `--max-connections` were open.
    pub connections_refused: Counter,
    /// Connections closed for silence: no request head by `--header-timeout` (`header`), no
    /// request for `--idle-timeout` (`idle`).
    pub connections_timed_out: Family<ReasonLabel, Counter>,
    /// Accept errors other than a connection reset in the backlog (out of file descriptors,
    /// usually).
    pub accept_errors: Counter,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeLabel {
    pub r#type: TypeName,
}

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct TypeName(pub EventType);

impl EncodeLabelValue for TypeName {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelValueEncoder,
    ) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.0.as_str(), encoder)
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("parkstream");
        let clients = Gauge::default();
        registry.register("sse_clients", "SSE streams open now", clients.clone());
        let events_published = Family::<TypeLabel, Counter>::default();
        registry.register(
            "events_published",
            "Events stored and published, by type",
            events_published.clone(),
        );
        let frames_delivered = Counter::default();
        registry.register(
            "sse_frames_delivered",
            "SSE frames handed to client connections",
            frames_delivered.clone(),
        );
        let subscribers_dropped = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "sse_subscribers_dropped",
            "SSE streams closed by the server because the client fell behind",
            subscribers_dropped.clone(),
        );
        let clients_refused = Counter::default();
        registry.register(
            "sse_clients_refused",
            "SSE streams refused because the connection limit was reached",
            clients_refused.clone(),
        );
        let delivery_latency = Histogram::new([
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            2.5,
        ]);
        registry.register(
            "sse_delivery_latency_seconds",
            "Time from an event's publication to its handing to a client connection",
            delivery_latency.clone(),
        );
        let idempotency_answers = Gauge::default();
        registry.register(
            "idempotency_answers",
            "Gate answers kept for eventId replays (at most --idempotency-max)",
            idempotency_answers.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "connections_open",
            "Client connections open now",
            connections_open.clone(),
        );
        let connections_refused = Counter::default();
        registry.register(
            "connections_refused",
            "Connections closed at once because --max-connections were open",
            connections_refused.clone(),
        );
        let connections_timed_out = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "connections_timed_out",
            "Connections closed without a request head in time (header) or idle too long (idle)",
            connections_timed_out.clone(),
        );
        let accept_errors = Counter::default();
        registry.register(
            "accept_errors",
            "Failed accepts of new connections (out of file descriptors, usually)",
            accept_errors.clone(),
        );
        Self {
            registry,
            clients,
            events_published,
            frames_delivered,
            subscribers_dropped,
            clients_refused,
            delivery_latency,
            idempotency_answers,
            connections_open,
            connections_refused,
            connections_timed_out,
            accept_errors,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
