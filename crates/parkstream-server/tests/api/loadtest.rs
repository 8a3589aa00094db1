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
