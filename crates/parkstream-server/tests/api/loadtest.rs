//! `parkstream loadtest` against the real server: a short run with hundreds of streams
//! delivers everything, once, in order (timing is reported, not asserted).

use std::time::Duration;

use parkstream_server::loadtest::{self, LoadtestOptions};

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_load_test_loses_and_duplicates_nothing() {
    let app = spawn_app().await;
    let options = LoadtestOptions {
        url: app.url(""),
        clients: 300,
        rate: 50,
        duration: Duration::from_secs(2),
        token: None,
    };
    let report = loadtest::run(options).await.unwrap();
    assert_eq!(report.published, 100);
    assert_eq!(report.expected, 30_000);
    assert_eq!(report.delivered, report.expected, "{report:?}");
    assert_eq!(
        (report.lost, report.duplicates, report.out_of_order),
        (0, 0, 0)
    );
    assert!(report.latency_ms.p50 <= report.latency_ms.p99);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_ingest_test_stores_batches_and_every_dashboard_gets_its_lots_events() {
    use parkstream_server::loadtest::ingest::{self, IngestOptions};
    let app = spawn_app().await;
    let options = IngestOptions {
        url: app.url(""),
        clients: 40,
        lots: 4,
        batch: 50,
        publishers: 2,
        duration: Duration::from_secs(1),
        token: None,
    };
    let report = ingest::run(options).await.unwrap();
    assert!(report.stored >= 100, "{report:?}");
    assert_eq!(
        report.stored % 25,
        0,
        "whole half-batches of entries and exits"
    );
    assert_eq!(report.refused, 0);
    // Each event reaches the 10 dashboards of its lot.
    assert_eq!(report.expected, report.stored * 10, "{report:?}");
    assert_eq!(report.delivered, report.expected, "{report:?}");
    assert_eq!((report.lost, report.duplicates), (0, 0));
    // What the server holds agrees: entries minus exits of the last batches.
    let lots = app.get_json("/api/lots").await;
    let inside: u64 = lots
        .as_array()
        .unwrap()
        .iter()
        .map(|lot| lot["occupied"].as_u64().unwrap())
        .sum();
    assert_eq!(
        inside,
        2 * 25,
        "each publisher's last batch of entries is still inside"
    );
    app.stop().await;
}
