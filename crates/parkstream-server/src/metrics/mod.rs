//! Prometheus metrics of the server, rendered as text at `/metrics` (the series are listed in
//! docs/operations.md, "Monitoring").
//!
//! Every series is named `parkstream_…` but the process's own (`process_…`, the names every
//! exporter uses, so existing dashboards and alerts apply). Counters and gauges are atomics:
//! cheap to update from any thread.

mod labels;
mod process;

use parkstream_protocol::api::LotView;
use parkstream_protocol::events::{Alert, AlertStatus, Severity, Violation, ViolationStatus};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};

pub use labels::{
    AlertLabels, BuildLabels, HttpLabels, KindLabel, LotLabel, ReasonLabel, ResultLabel,
    RouteLabels, StatusLabel, TypeLabel, TypeName,
};

const SEVERITIES: [(Severity, &str); 4] = [
    (Severity::Low, "low"),
    (Severity::Medium, "medium"),
    (Severity::High, "high"),
    (Severity::Critical, "critical"),
];
/// The statuses of an unresolved alert.
const ALERT_STATUSES: [(AlertStatus, &str); 2] = [
    (AlertStatus::Active, "active"),
    (AlertStatus::Acknowledged, "acknowledged"),
];
/// The statuses of an unresolved violation.
const VIOLATION_STATUSES: [(ViolationStatus, &str); 2] = [
    (ViolationStatus::Pending, "pending"),
    (ViolationStatus::Acknowledged, "acknowledged"),
];

/// Bounds of the latency histograms, in seconds: 100 µs to 2.5 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Every metric the server keeps.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    // Streams.
    /// SSE streams open now.
    pub clients: Gauge,
    /// SSE streams open now by kind: `plain`, `gzip` (`--stream-gzip`), `http2`.
    pub streams: Family<KindLabel, Gauge>,
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
    // HTTP.
    /// Requests answered, by route, method and status.
    pub http_requests: Family<HttpLabels, Counter>,
    /// Seconds from a request's arrival to its answer's head, by route and method.
    pub http_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// Requests refused, by the error code of the answer (`too_many_requests`, `unavailable`,
    /// `payload_too_large`, ...).
    pub http_refusals: Family<ReasonLabel, Counter>,
    // Storage.
    /// Seconds one group commit took (store, publish, read model).
    pub commit_duration: Histogram,
    /// Commands stored per group commit.
    pub commit_group_size: Histogram,
    /// Group commits that failed: nothing of the group was stored (503 answers).
    pub storage_errors: Counter,
    /// Gate answers kept for `eventId` replays (at most `--idempotency-max`).
    pub idempotency_answers: Gauge,
    // Cluster.
    /// Seconds one append of a commit's events to the Redis stream took.
    pub redis_append_duration: Histogram,
    /// Failed Redis operations, by operation (`append`, `read`, `connect`).
    pub redis_errors: Family<ReasonLabel, Counter>,
    /// Events stored in PostgreSQL that this instance's follower has not yet published.
    pub follower_lag: Gauge,
    // MQTT ingest.
    /// Messages taken from the broker, by what became of them: `stored`, `dead_letter`,
    /// `not_stored` (left for the broker to deliver again).
    pub mqtt_messages: Family<ResultLabel, Counter>,
    /// 1 while connected to the MQTT broker.
    pub mqtt_connected: Gauge,
    /// Lost or failed connections to the MQTT broker.
    pub mqtt_errors: Counter,
    // Connections.
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
    // Parking.
    /// Vehicles in each lot, as published.
    pub lot_occupied: Family<LotLabel, Gauge>,
    /// Slots of each lot.
    pub lot_capacity: Family<LotLabel, Gauge>,
    /// Unresolved alerts by severity and status.
    pub alerts_open: Family<AlertLabels, Gauge>,
    /// Unresolved violations by status.
    pub violations_open: Family<StatusLabel, Gauge>,
    // Webhooks.
    /// Webhook delivery attempts, by result: `delivered`, `failed` (to be retried),
    /// `abandoned` (past the retry horizon: the endpoint was disabled).
    pub webhook_deliveries: Family<ResultLabel, Counter>,
    /// Seconds one webhook delivery attempt took, answered or not.
    pub webhook_delivery_duration: Histogram,
    /// Events waiting in the webhook outbox, over every endpoint.
    pub webhook_outbox_pending: Gauge,
    // Operation.
    /// Reloads of the settings (SIGHUP), by result: `ok`, `error` (the old settings stay).
    pub config_reloads: Family<ResultLabel, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(process::ProcessCollector::new()));
        let r = registry.sub_registry_with_prefix("parkstream");
        // A gauge at 1 rather than OpenMetrics' info type, which the classic text format (and
        // `promtool check metrics`) does not know; the series is the same.
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                commit: env!("PARKSTREAM_COMMIT"),
            })
            .set(1);
        r.register("build_info", "The running build: version and commit", build);
        let mut metrics = Self {
            clients: add(r, "sse_clients", "SSE streams open now"),
            streams: add(r, "sse_streams", "SSE streams open now, by kind (plain, gzip, http2)"),
            events_published: add(r, "events_published", "Events stored and published, by type"),
            frames_delivered: add(
                r,
                "sse_frames_delivered",
                "SSE frames handed to client connections",
            ),
            subscribers_dropped: add(
                r,
                "sse_subscribers_dropped",
                "SSE streams closed by the server because the client fell behind",
            ),
            clients_refused: add(
                r,
                "sse_clients_refused",
                "SSE streams refused because the connection limit was reached",
            ),
            delivery_latency: add_with(
                r,
                "sse_delivery_latency_seconds",
                "Time from an event's publication to its handing to a client connection",
                latency_histogram(),
            ),
            http_requests: add(
                r,
                "http_requests",
                "HTTP requests answered, by route, method and status",
            ),
            http_duration: add_with(
                r,
                "http_request_duration_seconds",
                "Time from a request's arrival to its answer's head, by route and method",
                Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            ),
            http_refusals: add(
                r,
                "http_refusals",
                "HTTP requests refused, by the error code of the answer",
            ),
            commit_duration: add_with(
                r,
                "commit_duration_seconds",
                "Time one group commit took: store, publish, read model",
                latency_histogram(),
            ),
            commit_group_size: add_with(
                r,
                "commit_group_commands",
                "Commands stored per group commit",
                Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0]),
            ),
            storage_errors: add(
                r,
                "storage_errors",
                "Group commits that failed; nothing of the group was stored",
            ),
            idempotency_answers: add(
                r,
                "idempotency_answers",
                "Gate answers kept for eventId replays (at most --idempotency-max)",
            ),
            redis_append_duration: add_with(
                r,
                "redis_append_duration_seconds",
                "Time one append of a commit's events to the Redis stream took",
                latency_histogram(),
            ),
            redis_errors: add(
                r,
                "redis_errors",
                "Failed Redis operations, by operation (append, read, connect)",
            ),
            follower_lag: add(
                r,
                "cluster_follower_lag_events",
                "Events stored in PostgreSQL that this instance has not yet published",
            ),
            mqtt_messages: add(
                r,
                "mqtt_messages",
                "MQTT messages taken from the broker, by result (stored, dead_letter, not_stored)",
            ),
            mqtt_connected: add(r, "mqtt_connected", "1 while connected to the MQTT broker"),
            mqtt_errors: add(
                r,
                "mqtt_errors",
                "Lost or failed connections to the MQTT broker",
            ),
            connections_open: add(r, "connections_open", "Client connections open now"),
            connections_refused: add(
                r,
                "connections_refused",
                "Connections closed at once because --max-connections were open",
            ),
            connections_timed_out: add(
                r,
                "connections_timed_out",
                "Connections closed without a request head in time (header) or idle too long (idle)",
            ),
            accept_errors: add(
                r,
                "accept_errors",
                "Failed accepts of new connections (out of file descriptors, usually)",
            ),
            lot_occupied: add(r, "lot_occupied_vehicles", "Vehicles in each lot"),
            lot_capacity: add(r, "lot_capacity_slots", "Slots of each lot"),
            alerts_open: add(
                r,
                "alerts_open",
                "Unresolved alerts, by severity and status",
            ),
            violations_open: add(r, "violations_open", "Unresolved violations, by status"),
            webhook_deliveries: add(
                r,
                "webhook_deliveries",
                "Webhook delivery attempts, by result (delivered, failed, abandoned)",
            ),
            webhook_delivery_duration: add_with(
                r,
                "webhook_delivery_seconds",
                "Time one webhook delivery attempt took, answered or not",
                Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            ),
            webhook_outbox_pending: add(
                r,
                "webhook_outbox_pending",
                "Events waiting in the webhook outbox, over every endpoint",
            ),
            config_reloads: add(
                r,
                "config_reloads",
                "Reloads of the settings on SIGHUP, by result (ok, or error: the old settings stay)",
            ),
            registry: Registry::default(),
        };
        // Every kind from the start, so a dashboard shows zeros rather than no data.
        for kind in ["plain", "gzip", "http2"] {
            let _ = metrics.streams.get_or_create(&KindLabel { kind });
        }
        for result in ["ok", "error"] {
            let _ = metrics
                .config_reloads
                .get_or_create(&ResultLabel { result });
        }
        for result in ["delivered", "failed", "abandoned"] {
            let _ = metrics
                .webhook_deliveries
                .get_or_create(&ResultLabel { result });
        }
        metrics.registry = registry;
        metrics
    }

    /// Sets each lot's occupancy and capacity gauges.
    pub fn set_lots<'a>(&self, lots: impl IntoIterator<Item = &'a LotView>) {
        for lot in lots {
            let label = LotLabel {
                lot: lot.parking_lot_id.clone(),
            };
            self.lot_occupied
                .get_or_create(&label)
                .set(i64::from(lot.occupied));
            self.lot_capacity
                .get_or_create(&label)
                .set(i64::from(lot.total_slots));
        }
    }

    /// Sets the unresolved alerts and violations gauges (every severity and status, zeros
    /// included, so a series that went to zero says so).
    pub fn set_open<'a>(
        &self,
        alerts: impl Iterator<Item = &'a Alert>,
        violations: impl Iterator<Item = &'a Violation>,
    ) {
        let mut alert_counts = [[0i64; ALERT_STATUSES.len()]; SEVERITIES.len()];
        for alert in alerts {
            let severity = SEVERITIES.iter().position(|s| s.0 == alert.severity);
            let status = ALERT_STATUSES.iter().position(|s| s.0 == alert.status);
            if let (Some(severity), Some(status)) = (severity, status) {
                alert_counts[severity][status] += 1;
            }
        }
        for (severity, counts) in SEVERITIES.iter().zip(alert_counts) {
            for (status, count) in ALERT_STATUSES.iter().zip(counts) {
                let labels = AlertLabels {
                    severity: severity.1,
                    status: status.1,
                };
                self.alerts_open.get_or_create(&labels).set(count);
            }
        }
        let mut violation_counts = [0i64; VIOLATION_STATUSES.len()];
        for violation in violations {
            if let Some(i) = VIOLATION_STATUSES
                .iter()
                .position(|s| s.0 == violation.status)
            {
                violation_counts[i] += 1;
            }
        }
        for (status, count) in VIOLATION_STATUSES.iter().zip(violation_counts) {
            let labels = StatusLabel { status: status.1 };
            self.violations_open.get_or_create(&labels).set(count);
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

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Registers a new metric of type `M` under `name` and answers it.
fn add<M: Default + Clone + Metric>(registry: &mut Registry, name: &str, help: &str) -> M {
    add_with(registry, name, help, M::default())
}

fn add_with<M: Clone + Metric>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}
