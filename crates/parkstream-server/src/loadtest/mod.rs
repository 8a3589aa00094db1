//! `parkstream loadtest`: opens N streams to a running server, publishes numbered count
//! updates at a fixed rate, and reports delivery latency, loss and duplicates: for operators
//! sizing hardware. With `--ingest` it measures stored gate events per second instead
//! ([`ingest`]). Loopback or a test host; the server must accept the token given (admin,
//! or `--auth none`).
//!
//! With a [`GenericTarget`] it drives any SSE server the same way (one POST per event, the
//! number found in each received event's data), which is how docs/performance.md compares
//! parkstream with other servers; with a [`Watch`] it also reports the server's CPU and
//! memory ([`usage`]), and [`idle`] measures memory per open stream. With `reconnect` its
//! streams resume by id when cut, through a server restart ([`storm`]).

mod command;
pub mod ingest;
mod receive;
pub mod storm;
pub mod usage;

pub use command::command;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use parkstream_client::{Client, EventStream};
use parkstream_protocol::EventType;
use serde::Serialize;
use serde_json::json;

use receive::{receive, Resume, SendTimes};
use usage::UsageReport;

/// How a load test runs.
#[derive(Debug, Clone)]
pub struct LoadtestOptions {
    /// The server, `http://host:port` (unused with `generic`); with several, the instances
    /// of one cluster: streams and publisher connections are spread over them round-robin.
    pub urls: Vec<String>,
    pub clients: usize,
    /// Events per second.
    pub rate: u32,
    pub duration: Duration,
    /// An admin token (`None` for `--auth none`).
    pub token: Option<String>,
    /// Another SSE server instead of parkstream.
    pub generic: Option<GenericTarget>,
    /// Publisher connections (at least one).
    pub pub_conns: usize,
    /// The server process(es) to measure.
    pub server: Option<Watch>,
    /// Other processes to measure, by name (a cluster's Redis and PostgreSQL).
    pub services: Vec<(String, Watch)>,
    /// Streams resume by id when cut, and publications are retried until stored: for a
    /// server restarted while the test runs.
    pub reconnect: bool,
}

impl Default for LoadtestOptions {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            clients: 100,
            rate: 100,
            duration: Duration::from_secs(10),
            token: None,
            generic: None,
            pub_conns: 1,
            server: None,
            services: Vec::new(),
            reconnect: false,
        }
    }
}

/// Any SSE server: a stream to open and an endpoint taking one event per POST.
#[derive(Debug, Clone)]
pub struct GenericTarget {
    pub sub_url: String,
    pub pub_url: String,
    /// The POST body, `{seq}` replaced by the sequence number.
    pub body: String,
    /// The text right before the sequence number in a received event's data.
    pub seq_prefix: String,
}

/// Server processes to measure (summed: a cluster's instances), each with its descendants
/// when `tree` is set.
#[derive(Debug, Clone)]
pub struct Watch {
    pub pids: Vec<u32>,
    pub tree: bool,
}

impl Watch {
    /// This process (the load generator itself).
    fn own() -> Self {
        Self {
            pids: vec![std::process::id()],
            tree: false,
        }
    }

    fn read(&self) -> usage::Usage {
        self.pids
            .iter()
            .map(|pid| usage::read(&pid.to_string(), self.tree))
            .sum()
    }

    /// Starts measuring: the reading the report over a window is taken against.
    fn start(&self) -> Measuring<'_> {
        Measuring {
            watch: self,
            before: self.read(),
        }
    }
}

/// A [`Watch`] with its reading at the start of a window.
struct Measuring<'a> {
    watch: &'a Watch,
    before: usage::Usage,
}

impl Measuring<'_> {
    /// What the watched processes used since the start, over a window of `seconds`.
    fn report(self, seconds: f64) -> UsageReport {
        UsageReport::between(self.before, self.watch.read(), seconds)
    }
}

/// What a load test measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub clients: usize,
    pub rate: u32,
    pub published: u64,
    /// Deliveries expected: every published event to every client.
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicates: u64,
    /// Events that came after one published later (publications on several connections
    /// may be stored in another order than they were sent).
    pub out_of_order: u64,
    /// How many different orders the streams saw the events in: 1 when every stream got the
    /// same events in the same order (as it must through every instance of a cluster).
    pub orders: usize,
    /// Publication (POST sent) to receipt, in milliseconds.
    pub latency_ms: Percentiles,
    pub deliveries_per_second: f64,
    /// The server over the publishing window, when its process was given (all instances).
    pub server: Option<UsageReport>,
    /// The other measured processes over the same window, by name.
    pub services: BTreeMap<String, UsageReport>,
    /// This load generator over the same window.
    pub loadgen: UsageReport,
    /// With `reconnect`: the streams' reconnections.
    pub storm: Option<storm::StormReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    /// The percentiles of `sorted` (ascending), each scaled by `scale`; zeros when empty.
    pub fn of_sorted<T: Copy + Into<f64>>(sorted: &[T], scale: f64) -> Self {
        let at = |q: f64| {
            sorted
                .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
                .map_or(0.0, |v| (*v).into() * scale)
        };
        Self {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// The lot the load test publishes to (created if missing).
const LOT: &str = "loadtest";

/// Where streams are opened and events published, and how an event's number is found.
struct Endpoints {
    stream: Client,
    publish: String,
    body: String,
    seq_prefix: String,
    /// parkstream announces each stream with a `connected` event; other servers are taken
    /// to be subscribed once their response headers arrive.
    announces: bool,
}

impl Endpoints {
    fn body(&self, seq: u64) -> String {
        self.body.replace("{seq}", &seq.to_string())
    }
}

/// Resolves the endpoints, one per server URL (one for a generic target); for parkstream,
/// creates the lot first.
async fn prepare(
    options: &LoadtestOptions,
    http: &reqwest::Client,
) -> anyhow::Result<Vec<Arc<Endpoints>>> {
    if let Some(generic) = &options.generic {
        return Ok(vec![Arc::new(prepare_generic(generic, options, http)?)]);
    }
    anyhow::ensure!(!options.urls.is_empty(), "no server URL");
    let mut all = Vec::new();
    for url in &options.urls {
        all.push(Arc::new(prepare_one(url, options, http).await?));
    }
    Ok(all)
}

fn prepare_generic(
    generic: &GenericTarget,
    options: &LoadtestOptions,
    http: &reqwest::Client,
) -> anyhow::Result<Endpoints> {
    Ok(Endpoints {
        stream: stream_client(
            Client::builder(&generic.sub_url).stream_path(&generic.sub_url),
            options,
            http,
        )?,
        publish: generic.pub_url.clone(),
        body: generic.body.clone(),
        seq_prefix: generic.seq_prefix.clone(),
        announces: false,
    })
}

async fn prepare_one(
    url: &str,
    options: &LoadtestOptions,
    http: &reqwest::Client,
) -> anyhow::Result<Endpoints> {
    let base = url.trim_end_matches('/').to_owned();
    let lot = authorized(http.put(format!("{base}/api/lots/{LOT}")), options)
        .json(&json!({"name": "Load test", "totalSlots": u32::MAX}))
        .send()
        .await?;
    anyhow::ensure!(
        lot.status().is_success(),
        "creating the lot: {}",
        lot.status()
    );
    Ok(Endpoints {
        stream: stream_client(
            Client::builder(&base)
                .lots([LOT])
                .types([EventType::CapacityUpdate]),
            options,
            http,
        )?,
        publish: format!("{base}/api/capacity/update"),
        body: format!(r#"{{"parkingLotId":"{LOT}","occupied":{{seq}}}}"#),
        seq_prefix: r#""occupied":"#.to_owned(),
        announces: true,
    })
}

fn authorized(
    request: reqwest::RequestBuilder,
    options: &LoadtestOptions,
) -> reqwest::RequestBuilder {
    match &options.token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// The client every stream is opened with: the options' token, one HTTP client for all.
fn stream_client(
    builder: parkstream_client::ClientBuilder,
    options: &LoadtestOptions,
    http: &reqwest::Client,
) -> anyhow::Result<Client> {
    let builder = match &options.token {
        Some(token) => builder.access_token(token),
        None => builder,
    };
    Ok(builder.http_client(http.clone()).build()?)
}

async fn open_stream(endpoints: &Endpoints) -> anyhow::Result<EventStream> {
    endpoints.stream.connect().await.context("opening a stream")
}

/// Runs a load test.
///
/// # Errors
/// When the lot cannot be created, a stream cannot be opened, or a publication fails.
pub async fn run(options: LoadtestOptions) -> anyhow::Result<Report> {
    let http = reqwest::Client::new();
    let endpoints = prepare(&options, &http).await?;

    let total = u64::from(options.rate) * options.duration.as_secs().max(1);
    // Send times by sequence number, shared with every client: atomics, not a lock, since
    // every delivery reads one and the readers of all streams would contend for a lock.
    let sent = Arc::new(SendTimes::new(total));
    let storm = options.reconnect.then(|| {
        Arc::new(Resume {
            storm: storm::Storm::default(),
            http: http.clone(),
            token: options.token.clone(),
        })
    });
    let mut clients = Vec::with_capacity(options.clients);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(options.clients.max(1));
    for (_, endpoints) in (0..options.clients).zip(endpoints.iter().cycle()) {
        let events = open_stream(endpoints).await?;
        clients.push(tokio::spawn(receive(
            events,
            sent.clone(),
            total,
            ready_tx.clone(),
            endpoints.clone(),
            storm.clone(),
        )));
    }
    for _ in 0..options.clients {
        ready_rx.recv().await;
    }
    if !endpoints[0].announces {
        // No event says a subscription is in place; give the server a moment past the headers.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let server_usage = options.server.as_ref().map(Watch::start);
    let services_usage: Vec<_> = options
        .services
        .iter()
        .map(|(name, watch)| (name, watch.start()))
        .collect();
    let own = Watch::own();
    let own_usage = own.start();
    let started = Instant::now();
    // Publishers take every `pub_conns`-th number, each on its own connection, to the
    // servers in turn.
    let conns = options.pub_conns.max(1) as u64;
    let mut publishers = Vec::new();
    for (first, endpoints) in (1..=conns.min(total)).zip(endpoints.iter().cycle()) {
        let (http, endpoints, sent) = (reqwest::Client::new(), endpoints.clone(), sent.clone());
        let options = options.clone();
        publishers.push(tokio::spawn(async move {
            let mut published = 0_u64;
            for seq in (first..=total).step_by(conns as usize) {
                let due =
                    Duration::from_secs_f64((seq - 1) as f64 / f64::from(options.rate.max(1)));
                tokio::time::sleep_until((started + due).into()).await;
                sent.record(seq);
                loop {
                    let response = authorized(http.post(&endpoints.publish), &options)
                        .header("content-type", "application/json")
                        .body(endpoints.body(seq))
                        .send()
                        .await;
                    let status = response.as_ref().map(reqwest::Response::status);
                    if matches!(status, Ok(s) if s.is_success()) {
                        break;
                    }
                    // Through a restart the publication waits for the server to be back.
                    anyhow::ensure!(options.reconnect, "publishing: {status:?}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                published += 1;
            }
            anyhow::Ok(published)
        }));
    }
    let mut published = 0;
    for publisher in publishers {
        published += publisher.await??;
    }
    let publishing = started.elapsed();
    let seconds = publishing.as_secs_f64();
    let server = server_usage.map(|usage| usage.report(seconds));
    let services = services_usage
        .into_iter()
        .map(|(name, usage)| (name.clone(), usage.report(seconds)))
        .collect();
    let loadgen = own_usage.report(seconds);

    let mut latencies = Vec::new();
    let (mut delivered, mut duplicates, mut out_of_order) = (0, 0, 0);
    let mut orders = std::collections::HashSet::new();
    for client in clients {
        // Each client stops once it has everything, or after a drain of 5 s.
        let seen = client.await?;
        delivered += seen.delivered;
        duplicates += seen.duplicates;
        out_of_order += seen.out_of_order;
        orders.insert(seen.order);
        latencies.extend(seen.latencies_us);
    }
    latencies.sort_unstable();
    let expected = published * options.clients as u64;
    Ok(Report {
        clients: options.clients,
        rate: options.rate,
        published,
        expected,
        delivered,
        lost: expected.saturating_sub(delivered),
        duplicates,
        out_of_order,
        orders: orders.len(),
        latency_ms: Percentiles::of_sorted(&latencies, 1e-3),
        deliveries_per_second: delivered as f64 / seconds.max(0.001),
        server,
        services,
        loadgen,
        storm: storm.map(|resume| resume.storm.report()),
    })
}

/// What an idle test measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdleReport {
    pub clients: usize,
    /// The server's resident memory before the streams were opened and while they were
    /// all open, in MiB.
    pub server_rss_before_mib: f64,
    pub server_rss_open_mib: f64,
    /// The difference per open stream, in KiB.
    pub kib_per_stream: f64,
}

/// Opens `clients` streams, publishes nothing, holds them for `duration` and reports how
/// much the server's memory grew per stream.
///
/// # Errors
/// When the lot cannot be created or a stream cannot be opened.
pub async fn idle(options: LoadtestOptions, watch: Watch) -> anyhow::Result<IdleReport> {
    let http = reqwest::Client::new();
    let endpoints = prepare(&options, &http).await?;
    let before = watch.read();
    let mut streams = Vec::with_capacity(options.clients);
    for (_, endpoints) in (0..options.clients).zip(endpoints.iter().cycle()) {
        let mut events = open_stream(endpoints).await?;
        // Read whatever arrives (heartbeats) so nothing backs up in the server.
        streams.push(tokio::spawn(async move {
            while let Some(Ok(_)) = events.next().await {}
        }));
    }
    tokio::time::sleep(options.duration).await;
    let open = watch.read();
    for stream in streams {
        stream.abort();
    }
    let grown = open.rss_kib.saturating_sub(before.rss_kib) as f64;
    Ok(IdleReport {
        clients: options.clients,
        server_rss_before_mib: before.rss_kib as f64 / 1024.0,
        server_rss_open_mib: open.rss_kib as f64 / 1024.0,
        kib_per_stream: grown / options.clients.max(1) as f64,
    })
}
