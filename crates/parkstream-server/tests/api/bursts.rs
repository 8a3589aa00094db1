//! Large batches and bursts of ingest: a stream that reads as fast as the server writes is
//! never dropped or reset because of the size or rate of what is ingested (writers are paced
//! instead, see `hub::pacing`).

use std::collections::BTreeSet;

use crate::helpers::{count_batch, spawn_app_with, EventStream, TestApp};

const HISTORY: u64 = 500;

/// A server with a small window, a busy lot and a quiet one, and a stream on each.
async fn busy_and_quiet() -> (TestApp, EventStream, EventStream) {
    let app = spawn_app_with(|s| s.history_size = HISTORY).await;
    app.put_lot("busy", 1_000_000).await;
    app.put_lot("quiet", 100).await;
    let mut busy = app.subscribe("lots=busy").await;
    busy.connected().await;
    let mut quiet = app.subscribe("lots=quiet").await;
    quiet.connected().await;
    (app, busy, quiet)
}

/// Both streams are still the ones opened (nothing was dropped or reset) and the quiet one
/// still receives its lot's events.
async fn neither_stream_was_dropped(app: &TestApp, quiet: &mut EventStream) {
    for reason in ["lag", "evicted"] {
        let series = format!("parkstream_sse_subscribers_dropped_total{{reason=\"{reason}\"}}");
        assert_eq!(app.metric(&series).await, 0.0, "{series}");
    }
    assert_eq!(app.metric("parkstream_sse_clients").await, 2.0);
    app.set_count("quiet", 7).await;
    assert_eq!(quiet.next_counts(1).await, vec![7]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batch_several_times_the_history_ends_no_stream_that_keeps_up() {
    let (app, mut busy, mut quiet) = busy_and_quiet().await;
    let items = u32::try_from(HISTORY).unwrap() * 4;
    let post = {
        let (http, url) = (app.http.clone(), app.url("/api/capacity/update"));
        tokio::spawn(async move {
            let body = count_batch("busy", 1..=items);
            http.post(url).json(&body).send().await.unwrap().status()
        })
    };
    let counts = busy.next_counts(items as usize).await;
    assert_eq!(counts, (1..=u64::from(items)).collect::<Vec<_>>());
    assert_eq!(post.await.unwrap(), 200);
    neither_stream_was_dropped(&app, &mut quiet).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_batches_of_half_the_history_end_no_stream_that_keeps_up() {
    let (app, mut busy, mut quiet) = busy_and_quiet().await;
    let half = u32::try_from(HISTORY / 2).unwrap();
    let posts: Vec<_> = (0..8u32)
        .map(|k| {
            let (http, url) = (app.http.clone(), app.url("/api/capacity/update"));
            tokio::spawn(async move {
                let body = count_batch("busy", k * 10_000 + 1..=k * 10_000 + half);
                http.post(url).json(&body).send().await.unwrap().status()
            })
        })
        .collect();
    let counts = busy.next_counts(8 * half as usize).await;
    let expected: BTreeSet<u64> = (0..8u64)
        .flat_map(|k| k * 10_000 + 1..=k * 10_000 + u64::from(half))
        .collect();
    assert_eq!(counts.iter().copied().collect::<BTreeSet<_>>(), expected);
    assert_eq!(counts.len(), expected.len(), "no event twice");
    for post in posts {
        assert_eq!(post.await.unwrap(), 200);
    }
    neither_stream_was_dropped(&app, &mut quiet).await;
    app.stop().await;
}
