//! `parkstream loadtest`: opens N streams to a running server, publishes numbered count
//! updates at a fixed rate, and reports delivery latency, loss and duplicates: for operators
//! sizing hardware. With `--ingest` it measures stored gate events per second instead
//! ([`ingest`]). Loopback or a test host; the server must accept the token given (admin,
//! or `--auth none`).

pub mod ingest;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use parkstream_protocol::sse::{SseItem, SseParser};
use serde::Serialize;
use serde_json::json;

/// How a load test runs.
#[derive(Debug, Clone)]
pub struct LoadtestOptions {
    /// The server, `http://host:port`.
    pub url: String,
    pub clients: usize,
    /// Events per second.
    pub rate: u32,
    pub duration: Duration,
    /// An admin token (`None` for `--auth none`).
    pub token: Option<String>,
}

/// What a load test measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub clients: usize,
    pub published: u64,
    /// Deliveries expected: every published event to every client.
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// Publication (POST sent) to receipt, in milliseconds.
    pub latency_ms: Percentiles,
    pub deliveries_per_second: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// The lot the load test publishes to (created if missing).
const LOT: &str = "loadtest";

/// Runs a load test.
///
/// # Errors
/// When the lot cannot be created, a stream cannot be opened, or a publication fails.
pub async fn run(options: LoadtestOptions) -> anyhow::Result<Report> {
    let base = options.url.trim_end_matches('/').to_owned();
    let http = reqwest::Client::new();
    let authorized = |request: reqwest::RequestBuilder| match &options.token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let lot = authorized(http.put(format!("{base}/api/lots/{LOT}")))
        .json(&json!({"name": "Load test", "totalSlots": u32::MAX}))
        .send()
        .await?;
    anyhow::ensure!(
        lot.status().is_success(),
        "creating the lot: {}",
        lot.status()
    );

    let total = u64::from(options.rate) * options.duration.as_secs().max(1);
    // Send times by sequence number (the count published), shared with every client.
    let sent: Arc<Mutex<Vec<Option<Instant>>>> =
        Arc::new(Mutex::new(vec![None; total as usize + 1]));
    let mut clients = Vec::with_capacity(options.clients);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(options.clients.max(1));
    for _ in 0..options.clients {
        let url = format!("{base}/api/sse/dashboard?lots={LOT}&types=capacity_update");
        let response = authorized(http.get(url)).send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "opening a stream: {}",
            response.status()
        );
        clients.push(tokio::spawn(receive(
            response,
            sent.clone(),
            total,
            ready_tx.clone(),
        )));
    }
    for _ in 0..options.clients {
        ready_rx.recv().await;
    }

    let started = Instant::now();
    let mut published = 0;
    let period = Duration::from_secs_f64(1.0 / f64::from(options.rate.max(1)));
    for seq in 1..=total {
        tokio::time::sleep_until((started + period * (seq as u32 - 1)).into()).await;
        sent.lock().unwrap_or_else(|p| p.into_inner())[seq as usize] = Some(Instant::now());
        let response = authorized(http.post(format!("{base}/api/capacity/update")))
            .json(&json!({"parkingLotId": LOT, "occupied": seq}))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "publishing: {}",
            response.status()
        );
        published += 1;
    }
    let publishing = started.elapsed();

    let mut latencies = Vec::new();
    let (mut delivered, mut duplicates, mut out_of_order) = (0, 0, 0);
    for client in clients {
        // Each client stops once it has everything, or after a drain of 5 s.
        let seen = client.await?;
        delivered += seen.delivered;
        duplicates += seen.duplicates;
        out_of_order += seen.out_of_order;
        latencies.extend(seen.latencies_us);
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .map_or(0.0, |us| f64::from(*us) / 1000.0)
    };
    let expected = published * options.clients as u64;
    Ok(Report {
        clients: options.clients,
        published,
        expected,
        delivered,
        lost: expected.saturating_sub(delivered),
        duplicates,
        out_of_order,
        latency_ms: Percentiles {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: at(1.0),
        },
        deliveries_per_second: delivered as f64 / publishing.as_secs_f64().max(0.001),
    })
}

/// What one client saw.
struct Seen {
    delivered: u64,
    duplicates: u64,
    out_of_order: u64,
    latencies_us: Vec<u32>,
}

/// Reads one stream until every event arrived or the stream stayed quiet for the drain time.
async fn receive(
    response: reqwest::Response,
    sent: Arc<Mutex<Vec<Option<Instant>>>>,
    total: u64,
    ready: tokio::sync::mpsc::Sender<()>,
) -> Seen {
    const DRAIN: Duration = Duration::from_secs(5);
    let mut seen = Seen {
        delivered: 0,
        duplicates: 0,
        out_of_order: 0,
        latencies_us: Vec::new(),
    };
    let mut got = vec![false; total as usize + 1];
    let mut highest = 0;
    let mut parser = SseParser::new();
    let mut items = Vec::new();
    let mut body = response.bytes_stream();
    while seen.delivered < total {
        let Ok(Some(Ok(chunk))) = tokio::time::timeout(DRAIN, body.next()).await else {
            break;
        };
        let now = Instant::now();
        parser.feed(&chunk, &mut items);
        for item in items.drain(..) {
            let SseItem::Event(event) = item else {
                continue;
            };
            if event.event == "connected" {
                let _ = ready.send(()).await;
                continue;
            }
            let Some(seq) = serde_json::from_str::<serde_json::Value>(&event.data)
                .ok()
                .and_then(|data| data["occupied"].as_u64())
                .filter(|seq| (1..=total).contains(seq))
            else {
                continue;
            };
            if std::mem::replace(&mut got[seq as usize], true) {
                seen.duplicates += 1;
                continue;
            }
            if seq < highest {
                seen.out_of_order += 1;
            }
            highest = highest.max(seq);
            seen.delivered += 1;
            if let Some(at) = sent.lock().unwrap_or_else(|p| p.into_inner())[seq as usize] {
                let micros = now.saturating_duration_since(at).as_micros();
                seen.latencies_us
                    .push(u32::try_from(micros).unwrap_or(u32::MAX));
            }
        }
    }
    seen
}
