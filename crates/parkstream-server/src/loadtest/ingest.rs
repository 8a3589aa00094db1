//! `parkstream loadtest --ingest`: how many gate events per second a server stores while
//! dashboards watch (scenario S5 of docs/performance.md).
//!
//! Publishers post batches of gate events as fast as the server answers, each batch half
//! entries of new plates and half exits of the plates the previous batch let in, so lots stay
//! at a steady count. Events spread over `lots` lots; each dashboard watches one of them (a
//! dashboard per lot office, as operators run them), so every event reaches
//! `clients / lots` dashboards. Only acknowledged events count; every dashboard must receive
//! every event of its lot, once, in order. A publisher told to retry (429 or 503) waits for
//! its `Retry-After`, as a well-behaved sensor gateway would.
//!
//! Beside the rate it reports each dashboard's lag (an update's arrival against its
//! `timestamp`, every eighth update) and how many streams the server dropped as too slow
//! (from its metrics): an ingest faster than the fan-out should slow the publishers, not
//! drop the dashboards (scenario S8).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use parkstream_client::{Client, EventStream};
use parkstream_protocol::sse::SseItem;
use parkstream_protocol::EventType;
use serde::Serialize;
use serde_json::{json, Value};

use super::usage::UsageReport;
use super::{Percentiles, Watch};

/// One capacity update in this many is timed for the lag figures (parsing every timestamp
/// would load the generator more than the server).
const LAG_SAMPLE_EVERY: u64 = 8;

/// How an ingest test runs.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The server, `http://host:port`.
    pub url: String,
    /// Dashboards connected while it runs.
    pub clients: usize,
    pub lots: usize,
    /// Gate events per request.
    pub batch: usize,
    /// Requests in flight.
    pub publishers: usize,
    pub duration: Duration,
    /// An admin token (`None` for `--auth none`).
    pub token: Option<String>,
    /// The server process to measure.
    pub server: Option<Watch>,
}

/// What an ingest test measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IngestReport {
    pub clients: usize,
    pub lots: usize,
    pub batch: usize,
    /// Gate events acknowledged (stored).
    pub stored: u64,
    pub stored_per_second: f64,
    /// Requests refused (not stored).
    pub refused: u64,
    /// Request (batch) response times, in milliseconds.
    pub request_ms: Percentiles,
    /// Dashboards' lag: an update's arrival after its `timestamp`, in milliseconds.
    pub lag_ms: Percentiles,
    /// Streams the server dropped as too slow (for lag, or because events they had not read
    /// left its window) while the test ran (`None`: its metrics were not readable).
    pub streams_dropped: Option<u64>,
    /// Dashboards whose stream ended before the test did.
    pub streams_ended: u64,
    /// Deliveries expected: each stored event to each dashboard of its lot.
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    /// Events seen twice or out of order (ids not increasing).
    pub duplicates: u64,
    /// The server over the publishing window, when its process was given: what the stored
    /// rate cost, and whether the machine had a core left.
    pub server: Option<UsageReport>,
    /// This load generator over the same window.
    pub loadgen: UsageReport,
}

fn lot(index: usize) -> String {
    format!("ingest_{index}")
}

/// Runs an ingest test.
///
/// # Errors
/// When the lots cannot be created or a stream cannot be opened.
pub async fn run(options: IngestOptions) -> anyhow::Result<IngestReport> {
    let base = options.url.trim_end_matches('/').to_owned();
    let lots = options.lots.max(1);
    let http = reqwest::Client::new();
    let authorized = |request: reqwest::RequestBuilder| match &options.token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    for index in 0..lots {
        let response = authorized(http.put(format!("{base}/api/lots/{}", lot(index))))
            .json(&json!({"name": "Ingest test", "totalSlots": 1_000_000}))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "creating a lot: {}",
            response.status()
        );
    }

    let mut clients = Vec::with_capacity(options.clients);
    let stop = tokio_util::sync::CancellationToken::new();
    for index in 0..options.clients {
        // A client, and so a connection, each, as browsers open streams.
        let client = Client::builder(&base)
            .lots([lot(index % lots)])
            .types([EventType::CapacityUpdate]);
        let client = match &options.token {
            Some(token) => client.access_token(token),
            None => client,
        };
        let events = client
            .build()?
            .connect()
            .await
            .context("opening a stream")?;
        let delivered = Arc::new(AtomicU64::new(0));
        let duplicates = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(watch(
            events,
            delivered.clone(),
            duplicates.clone(),
            stop.clone(),
        ));

        clients.push((
            index % lots,
            Watcher {
                delivered,
                duplicates,
                task,
            },
        ));
    }

    let dropped_before = streams_dropped(&http, &base, options.token.as_deref()).await;
    // Stored events per lot, and request times.
    let per_lot: Arc<Vec<AtomicU64>> = Arc::new((0..lots).map(|_| AtomicU64::new(0)).collect());
    let refused = Arc::new(AtomicU64::new(0));
    let server_usage = options.server.as_ref().map(Watch::start);
    let own = Watch::own();
    let own_usage = own.start();
    let started = Instant::now();
    let deadline = started + options.duration;
    let mut publishers = Vec::new();
    for publisher in 0..options.publishers.max(1) {
        let (http, url) = (http.clone(), format!("{base}/api/monitor/gate"));
        let token = options.token.clone();
        let (per_lot, refused) = (per_lot.clone(), refused.clone());
        let batch = options.batch.max(2);
        publishers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut inside: Vec<(usize, String)> = Vec::new();
            let mut serial = 0u64;
            while Instant::now() < deadline {
                let mut events = Vec::with_capacity(batch);
                // The lot of each event, to count what was stored per lot.
                let mut of_lots = Vec::with_capacity(batch);
                let mut entered = Vec::with_capacity(batch / 2);
                for _ in 0..batch / 2 {
                    serial += 1;
                    let lot_index = (serial as usize + publisher) % lots;
                    let plate = format!("P{publisher}N{serial}");
                    events.push(json!({"parkingLotId": lot(lot_index), "gateId": "in",
                                       "event": "vehicle_entry", "plateNumber": plate}));
                    of_lots.push(lot_index);
                    entered.push((lot_index, plate));
                }
                // Kept until the batch is stored: a refused batch let nobody out.
                for (lot_index, plate) in &inside {
                    events.push(json!({"parkingLotId": lot(*lot_index), "gateId": "out",
                                       "event": "vehicle_exit", "plateNumber": plate}));
                    of_lots.push(*lot_index);
                }
                let mut request = http.post(&url).json(&Value::Array(events));
                if let Some(token) = &token {
                    request = request.bearer_auth(token);
                }
                let sent = Instant::now();
                let answer = request.send().await;
                times.push(sent.elapsed());
                let ok = matches!(&answer, Ok(r) if r.status().is_success());
                if let Some(wait) = answer.ok().as_ref().and_then(retry_after) {
                    let left = deadline.saturating_duration_since(Instant::now());
                    tokio::time::sleep(wait.min(left)).await;
                }
                if ok {
                    for index in of_lots {
                        per_lot[index].fetch_add(1, Ordering::Relaxed);
                    }
                    inside = entered;
                } else {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
            }
            times
        }));
    }
    let mut times = Vec::new();
    for publisher in publishers {
        times.extend(publisher.await?);
    }
    let elapsed = started.elapsed();
    let server = server_usage.map(|usage| usage.report(elapsed.as_secs_f64()));
    let loadgen = own_usage.report(elapsed.as_secs_f64());
    let stored: u64 = per_lot.iter().map(|n| n.load(Ordering::Relaxed)).sum();

    // Every dashboard has up to 10 s more to receive what its lot stored.
    let drain_until = Instant::now() + Duration::from_secs(10);
    let expected: u64 = clients
        .iter()
        .map(|(lot_index, _)| per_lot[*lot_index].load(Ordering::Relaxed))
        .sum();
    let received = |clients: &[(usize, Watcher)]| -> u64 {
        clients
            .iter()
            .map(|(_, w)| w.delivered.load(Ordering::Relaxed))
            .sum()
    };
    while received(&clients) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    let mut delivered = 0;
    let mut duplicates = 0;
    let mut lags = Vec::new();
    let mut streams_ended = 0;
    for (_, watcher) in clients {
        let (samples, ended) = watcher.task.await?;
        lags.extend(samples);
        streams_ended += u64::from(ended);
        delivered += watcher.delivered.load(Ordering::Relaxed);
        duplicates += watcher.duplicates.load(Ordering::Relaxed);
    }
    let dropped_after = streams_dropped(&http, &base, options.token.as_deref()).await;
    let mut times: Vec<f64> = times.iter().map(Duration::as_secs_f64).collect();
    times.sort_unstable_by(f64::total_cmp);
    lags.sort_unstable();
    Ok(IngestReport {
        clients: options.clients,
        lots,
        batch: options.batch,
        stored,
        stored_per_second: stored as f64 / elapsed.as_secs_f64().max(0.001),
        refused: refused.load(Ordering::Relaxed),
        request_ms: Percentiles::of_sorted(&times, 1000.0),
        lag_ms: Percentiles::of_sorted(&lags, 1.0),
        streams_ended,
        streams_dropped: dropped_after
            .zip(dropped_before)
            .map(|(after, before)| after.saturating_sub(before)),
        expected,
        delivered,
        lost: expected.saturating_sub(delivered),
        duplicates,
        server,
        loadgen,
    })
}

/// One dashboard: what it received so far, counted as it goes.
struct Watcher {
    delivered: Arc<AtomicU64>,
    duplicates: Arc<AtomicU64>,
    /// Ends with the lag samples, in milliseconds, and whether the stream ended first.
    task: tokio::task::JoinHandle<(Vec<u32>, bool)>,
}

/// How long a 429 or 503 answer asks the publisher to wait.
fn retry_after(answer: &reqwest::Response) -> Option<Duration> {
    if !matches!(answer.status().as_u16(), 429 | 503) {
        return None;
    }
    let secs = answer
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

/// The server's count of streams dropped as too slow, from `/metrics`.
async fn streams_dropped(http: &reqwest::Client, base: &str, token: Option<&str>) -> Option<u64> {
    let mut request = http.get(format!("{base}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let text = request
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?
        .text()
        .await
        .ok()?;
    let count = |reason: &str| {
        let series = format!("parkstream_sse_subscribers_dropped_total{{reason=\"{reason}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&series))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .map_or(0, |value| value as u64)
    };
    Some(count("lag") + count("evicted"))
}

/// An update's age on arrival, in milliseconds, from the `timestamp` in its data.
fn lag_ms(data: &str) -> Option<u32> {
    let at = data.split_once("\"timestamp\":\"")?.1.split_once('"')?.0;
    let sent = chrono::DateTime::parse_from_rfc3339(at).ok()?;
    let lag = chrono::Utc::now()
        .signed_duration_since(sent)
        .num_milliseconds();
    u32::try_from(lag.max(0)).ok()
}

/// Counts a stream's capacity updates until `stop`; an id not above the last one seen is a
/// duplicate (ids strictly increase on a stream). Returns the lag samples, and whether the
/// stream ended before `stop`.
async fn watch(
    mut events: EventStream,
    delivered: Arc<AtomicU64>,
    duplicates: Arc<AtomicU64>,
    stop: tokio_util::sync::CancellationToken,
) -> (Vec<u32>, bool) {
    let mut last_id = 0u64;
    let mut lags = Vec::new();
    loop {
        let item = tokio::select! {
            () = stop.cancelled() => return (lags, false),
            item = events.next() => item,
        };
        let Some(Ok(item)) = item else {
            return (lags, true);
        };
        let SseItem::Event(event) = item else {
            continue;
        };
        if event.event != "capacity_update" {
            continue;
        }
        let id = event
            .id
            .as_deref()
            .and_then(|id| id.parse().ok())
            .unwrap_or(0);
        if id <= last_id {
            duplicates.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        last_id = id;
        if delivered.fetch_add(1, Ordering::Relaxed) % LAG_SAMPLE_EVERY == 0 {
            lags.extend(lag_ms(&event.data));
        }
    }
}
