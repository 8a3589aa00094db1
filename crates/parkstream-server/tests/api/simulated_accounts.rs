//! A simulated day (`parkstream simulate`), then the books checked against the raw record:
//! every contractor's statement against its violations, and every lot's stored occupancy
//! rollups against the `capacity_update` events the stream carried.

use std::collections::BTreeMap;
use std::time::Duration;

use parkstream_protocol::sse::SseEvent;
use parkstream_protocol::Timestamp;
use parkstream_server::simulate::{self, SimulateOptions};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::helpers::{spawn_app_with, TestApp};

/// `now` moved by `seconds` (negative: the past), as a query value.
fn at(seconds: i64) -> String {
    Timestamp::from_unix_millis(Timestamp::now().unix_millis() + seconds * 1000)
        .unwrap()
        .to_string()
}

fn number(id: &str) -> u64 {
    id.parse().expect("event ids are decimal numbers")
}

/// Reads the stream from now on, as fast as it comes (a stream that falls behind is closed),
/// and hands every event on.
async fn record(app: &TestApp) -> (mpsc::UnboundedReceiver<SseEvent>, JoinHandle<()>) {
    let mut stream = app.subscribe("").await;
    stream.connected().await;
    let (tx, rx) = mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        loop {
            let event = stream.next_event().await;
            if tx.send(event).is_err() {
                return;
            }
        }
    });
    (rx, reader)
}

/// Every `capacity_update` recorded, in the order stored, up to the newest event the state
/// reflects now.
async fn capacity_updates(
    app: &TestApp,
    mut events: mpsc::UnboundedReceiver<SseEvent>,
    reader: JoinHandle<()>,
) -> Vec<Value> {
    let lots = app.http.get(app.url("/api/lots")).send().await.unwrap();
    let newest = number(lots.headers()["Last-Event-ID"].to_str().unwrap());
    let mut updates = Vec::new();
    loop {
        let event = events.recv().await.expect("the stream stays open");
        assert_ne!(event.event, "reset", "the stream kept up");
        if event.event == "capacity_update" {
            updates.push(serde_json::from_str(&event.data).unwrap());
        }
        if event.id.as_deref().map(number) >= Some(newest) {
            reader.abort();
            return updates;
        }
    }
}

async fn statement(app: &TestApp, contractor: &str, from: &str, to: &str) -> Value {
    app.get_json(&format!(
        "/api/contractors/{contractor}/statement?from={from}&to={to}"
    ))
    .await
}

/// Penalties summed by `key` of each violation.
fn sum_by(violations: &[&Value], key: impl Fn(&Value) -> String) -> BTreeMap<String, u64> {
    let mut sums = BTreeMap::new();
    for v in violations {
        *sums.entry(key(v)).or_default() += v["penalty"].as_u64().unwrap();
    }
    sums
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_simulated_day_statements_match_violations_and_rollups_match_the_counts() {
    let app = spawn_app_with(|s| {
        s.camera_timeout = Duration::from_millis(150);
        s.history_size = 100_000;
    })
    .await;
    let (events, reader) = record(&app).await;
    let options = SimulateOptions {
        url: app.url(""),
        seed: 3,
        tick: Duration::from_millis(2),
        ticks: Some(720),
        token: None,
    };
    simulate::run(options, CancellationToken::new())
        .await
        .unwrap();

    // Statements: for each contractor, over a period holding the whole day and over one that
    // ends at its median violation, the statement lists exactly the violations that
    // GET /api/violations has for it in that period, and its totals are their penalties.
    let contractors = app.get_json("/api/contractors").await;
    let mut checked = 0;
    for contractor in contractors.as_array().unwrap() {
        let id = contractor["contractorId"].as_str().unwrap();
        let all = app
            .get_json(&format!("/api/violations?contractor={id}&limit=1000"))
            .await;
        let all: Vec<&Value> = all.as_array().unwrap().iter().collect();
        let mut times: Vec<&str> = all
            .iter()
            .map(|v| v["timestamp"].as_str().unwrap())
            .collect();
        times.sort_unstable();
        let (from, to) = (at(-300 * 86_400), at(60 * 86_400));
        let mut periods = vec![(from.clone(), to)];
        if let Some(median) = times.get(times.len() / 2) {
            periods.push((from, (*median).to_owned()));
        }
        for (from, to) in periods {
            let within: Vec<&Value> = all
                .iter()
                .copied()
                .filter(|v| {
                    let t: Timestamp = v["timestamp"].as_str().unwrap().parse().unwrap();
                    t >= from.parse().unwrap() && t <= to.parse().unwrap()
                })
                .collect();
            let s = statement(&app, id, &from, &to).await;
            let mut listed: Vec<&str> = s["violations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["violationId"].as_str().unwrap())
                .collect();
            let mut expected: Vec<&str> =
                within.iter().map(|v| v["_id"].as_str().unwrap()).collect();
            listed.sort_unstable();
            expected.sort_unstable();
            assert_eq!(listed, expected, "{id} from {from} to {to}");
            let total: u64 = within.iter().map(|v| v["penalty"].as_u64().unwrap()).sum();
            assert_eq!(s["totals"]["penalty"], total, "{id}");
            let by_type = sum_by(&within, |v| v["violationType"].as_str().unwrap().to_owned());
            let by_lot = sum_by(&within, |v| v["parkingLotId"].as_str().unwrap().to_owned());
            assert_eq!(
                s["totals"]["byType"],
                serde_json::to_value(&by_type).unwrap(),
                "{id}"
            );
            assert_eq!(
                s["totals"]["byLot"],
                serde_json::to_value(&by_lot).unwrap(),
                "{id}"
            );
            assert_eq!(by_type.values().sum::<u64>(), total);
            assert_eq!(by_lot.values().sum::<u64>(), total);
            checked += within.len();
        }
    }
    assert!(checked > 0, "the day produced violations to check");

    // Rollups. Each stored `capacity_update` is one report in its lot's rollups (the buckets
    // are written from the same events, in the same commit), and buckets are by the time of
    // storing, which no event carries. So the exact check is by order: a lot's updates, in the
    // order the stream gives them (the order stored), split into consecutive runs of each
    // per-minute bucket's `samples`, oldest bucket first, must give each bucket's lowest,
    // highest and last count, its mean and its `totalSlots`; and the last of them is the
    // lot's count now.
    let updates = capacity_updates(&app, events, reader).await;
    assert!(updates.len() > 100, "a day of counts: {}", updates.len());
    let mut by_lot: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for update in &updates {
        by_lot
            .entry(update["parkingLotId"].as_str().unwrap().to_owned())
            .or_default()
            .push(update);
    }
    let lots = app.get_json("/api/lots").await;
    assert_eq!(by_lot.len(), lots.as_array().unwrap().len());
    for lot in lots.as_array().unwrap() {
        let id = lot["parkingLotId"].as_str().unwrap();
        let counts = &by_lot[id];
        for step in ["1m", "1h"] {
            let answer = app
                .get_json(&format!(
                    "/api/history/occupancy?lot={id}&from={}&to={}&step={step}",
                    at(-3600),
                    at(60)
                ))
                .await;
            let buckets = answer["buckets"].as_array().unwrap();
            let mut rest = counts.as_slice();
            for bucket in buckets {
                let samples = usize::try_from(bucket["samples"].as_u64().unwrap()).unwrap();
                assert!(
                    samples <= rest.len(),
                    "{id} {step}: more reports than updates"
                );
                let (run, after) = rest.split_at(samples);
                rest = after;
                let occupied: Vec<u64> = run
                    .iter()
                    .map(|u| u["occupied"].as_u64().unwrap())
                    .collect();
                let sum: u64 = occupied.iter().sum();
                assert_eq!(
                    bucket["min"],
                    *occupied.iter().min().unwrap(),
                    "{id} {step} {bucket}"
                );
                assert_eq!(
                    bucket["max"],
                    *occupied.iter().max().unwrap(),
                    "{id} {step} {bucket}"
                );
                assert_eq!(
                    bucket["last"],
                    *occupied.last().unwrap(),
                    "{id} {step} {bucket}"
                );
                assert_eq!(
                    bucket["totalSlots"],
                    run.last().unwrap()["totalSlots"],
                    "{id} {step}"
                );
                let mean = bucket["mean"].as_f64().unwrap();
                assert!(
                    (mean * samples as f64 - sum as f64).abs() < 1e-6 * (sum as f64).max(1.0),
                    "{id} {step}: mean {mean} of {samples} reports summing to {sum}"
                );
            }
            assert!(
                rest.is_empty(),
                "{id} {step}: {} updates in no bucket",
                rest.len()
            );
            assert_eq!(
                buckets.last().unwrap()["last"],
                lot["occupied"],
                "{id} {step}: the last rollup is the count now"
            );
        }
    }
    app.stop().await;
}
