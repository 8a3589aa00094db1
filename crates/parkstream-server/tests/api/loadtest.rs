//! `parkstream loadtest` against the real server: a short run with hundreds of streams
//! delivers everything, once, in order, also through a restart and over the instances of a
//! cluster (timing is reported, not asserted).

use std::time::Duration;

use parkstream_server::loadtest::{self, LoadtestOptions};

use crate::cluster::{stop_all, Meeting};
use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_load_test_loses_and_duplicates_nothing() {
    let app = spawn_app().await;
    let options = LoadtestOptions {
        urls: vec![app.url("")],
        clients: 300,
        rate: 50,
        duration: Duration::from_secs(2),
        ..LoadtestOptions::default()
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
        // This test process runs the server (and the dashboards).
        server: Some(loadtest::Watch {
            pids: vec![std::process::id()],
            tree: false,
        }),
    };
    let report = ingest::run(options).await.unwrap();
    let server = report
        .server
        .as_ref()
        .expect("the watched process is reported");
    assert!(
        server.cpu_s > 0.0 && server.rss_mib > 0.0,
        "storing and fanning out cost CPU: {server:?}"
    );
    assert!(report.loadgen.rss_mib > 0.0, "{report:?}");
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
    assert_eq!(
        report.streams_dropped,
        Some(0),
        "read from the server's metrics"
    );
    assert_eq!(report.streams_ended, 0);
    assert!(report.lag_ms.p50 <= report.lag_ms.max, "{report:?}");
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

/// The generic mode, pointed at parkstream's own URLs with a body template and a number
/// pattern, loses nothing and reports the measured process's usage (this test process runs
/// the server, so its CPU is the server's plus the clients').
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generic_mode_drives_a_server_by_its_urls_and_reports_the_servers_usage() {
    let app = spawn_app().await;
    app.put_lot("bench", 1_000_000).await;
    let options = LoadtestOptions {
        clients: 50,
        rate: 50,
        duration: Duration::from_secs(1),
        generic: Some(loadtest::GenericTarget {
            sub_url: app.url("/api/sse/dashboard?lots=bench"),
            pub_url: app.url("/api/capacity/update"),
            body: r#"{"parkingLotId":"bench","occupied":{seq}}"#.into(),
            seq_prefix: r#""occupied":"#.into(),
        }),
        pub_conns: 4,
        server: Some(loadtest::Watch {
            pids: vec![std::process::id()],
            tree: true,
        }),
        services: vec![(
            "itself".into(),
            loadtest::Watch {
                pids: vec![std::process::id()],
                tree: false,
            },
        )],
        ..LoadtestOptions::default()
    };
    let report = loadtest::run(options).await.unwrap();
    assert_eq!(report.published, 50);
    assert_eq!(report.delivered, 50 * 50, "{report:?}");
    assert_eq!((report.lost, report.duplicates), (0, 0));
    let server = report.server.expect("the watched process is reported");
    assert!(server.rss_mib > 0.0 && server.cpu_s >= 0.0, "{server:?}");
    assert_eq!(report.services["itself"].rss_mib, server.rss_mib);
    assert_eq!(report.orders, 1, "one server, one order");
}

/// Scenario S6 of docs/performance.md at test scale: three instances of one cluster, the
/// streams and publisher connections spread over them in turn. Every stream gets every event
/// once and all in one order, whichever instance it was published through or read from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_test_over_three_instances_of_a_cluster_delivers_everything_once_in_one_order() {
    let Some(meeting) = Meeting::on_local_services().await else {
        return;
    };
    let nodes = [
        meeting.instance().await,
        meeting.instance().await,
        meeting.instance().await,
    ];
    let options = LoadtestOptions {
        urls: nodes.iter().map(|node| node.url("")).collect(),
        clients: 300,
        rate: 50,
        duration: Duration::from_secs(2),
        pub_conns: 3,
        ..LoadtestOptions::default()
    };
    let report = loadtest::run(options).await.unwrap();
    assert_eq!(report.published, 100);
    assert_eq!(report.delivered, report.expected, "{report:?}");
    assert_eq!((report.lost, report.duplicates), (0, 0), "{report:?}");
    assert_eq!(report.orders, 1, "{report:?}");
    const PUBLISHED: &str = r#"parkstream_http_requests_total{route="/api/capacity/update",method="POST",status="200"}"#;
    for node in &nodes {
        // A third of the publications went through each instance.
        let published = node.metric(PUBLISHED).await;
        assert!((33.0..=34.0).contains(&published), "{published}");
    }
    stop_all(nodes).await;
}

/// Scenario S7 of docs/performance.md at test scale: the server is stopped (draining its
/// streams over half a second) and started again on the same port while events flow; every
/// stream comes back by id with nothing lost or twice, and no answer but 503 with Retry-After.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_resume_through_a_restart_and_lose_or_repeat_nothing() {
    let app = spawn_app_with(|s| s.shutdown_drain = Duration::from_millis(500)).await;
    let options = LoadtestOptions {
        urls: vec![app.url("")],
        clients: 200,
        rate: 50,
        duration: Duration::from_secs(4),
        reconnect: true,
        ..LoadtestOptions::default()
    };
    let run = tokio::spawn(loadtest::run(options));
    let published = "parkstream_events_published_total{type=\"capacity_update\"}";
    while app.metric(published).await < 30.0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let app = app.restart_in_place().await;
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.published, 200);
    assert_eq!(report.delivered, report.expected, "{report:?}");
    assert_eq!((report.lost, report.duplicates), (0, 0));
    let storm = report
        .storm
        .expect("a reconnecting run reports its reconnections");
    assert_eq!(
        storm.reconnects, 200,
        "every stream was cut once: {storm:?}"
    );
    assert_eq!(storm.gave_up, 0);
    assert!(
        storm.answers.keys().all(|status| *status == 503) && storm.without_retry_after == 0,
        "only 503 with Retry-After: {storm:?}"
    );
    assert!(
        storm.cut_spread_ms.max > 100.0,
        "the drain spread the cuts: {storm:?}"
    );
    app.stop().await;
}
