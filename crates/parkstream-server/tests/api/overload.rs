//! Ingest faster than the fan-out, briefly (scenario S8 of docs/performance.md at test scale):
//! dashboards that read are never dropped for lag and get every acknowledged event once, in
//! order; writers are slowed instead, and refused only with 503 and Retry-After.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use crate::helpers::{count_batch, spawn_app_with, EventStream};

const LOTS: u32 = 4;
const STREAMS_PER_LOT: u32 = 10;
const WRITERS: u32 = 8;
const BATCH: u32 = 50;
/// The count that tells a dashboard the writers are done (no writer posts it).
const LAST: u64 = 999_999;

/// Reads a stream until its lot's last count: the (id, occupied) of every update.
async fn read_all(mut stream: EventStream) -> Vec<(u64, u64)> {
    let mut seen = Vec::new();
    loop {
        let event = stream.next_event().await;
        if event.event != "capacity_update" {
            continue;
        }
        let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
        let occupied = data["occupied"].as_u64().unwrap();
        if occupied == LAST {
            return seen;
        }
        let id = event.id.as_deref().unwrap().parse().unwrap();
        seen.push((id, occupied));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_that_read_keep_every_event_while_writers_outrun_the_fan_out() {
    // A window of 200 events, against 8 writers with 50 in each request: publications wait
    // for the streams all the time.
    let app = spawn_app_with(|s| s.history_size = 200).await;
    for lot in 0..LOTS {
        app.put_lot(&format!("o{lot}"), 1_000_000).await;
    }
    let mut readers = Vec::new();
    for lot in 0..LOTS {
        for _ in 0..STREAMS_PER_LOT {
            let mut stream = app.subscribe(&format!("lots=o{lot}")).await;
            stream.connected().await;
            readers.push((lot, tokio::spawn(read_all(stream))));
        }
    }

    let until = Instant::now() + Duration::from_secs(3);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (http, url) = (app.http.clone(), app.url("/api/capacity/update"));
            tokio::spawn(async move {
                let lot = w % LOTS;
                let mut stored = Vec::new();
                let mut next = w * 100_000 + 1;
                while Instant::now() < until {
                    let counts = next..next + BATCH;
                    next += BATCH;
                    let body = count_batch(&format!("o{lot}"), counts.clone());
                    let answer = http.post(&url).json(&body).send().await.unwrap();
                    match answer.status().as_u16() {
                        200 => stored.extend(counts.map(u64::from)),
                        503 => {
                            assert!(answer.headers().contains_key("retry-after"));
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        other => panic!("a writer was answered {other}"),
                    }
                }
                (lot, stored)
            })
        })
        .collect();
    let mut stored_per_lot = vec![Vec::new(); LOTS as usize];
    for writer in writers {
        let (lot, stored) = writer.await.unwrap();
        stored_per_lot[lot as usize].extend(stored);
    }
    for lot in 0..LOTS {
        let last = u32::try_from(LAST).unwrap();
        let answer = app
            .post_capacity(&count_batch(&format!("o{lot}"), [last]))
            .await;
        assert_eq!(answer.status(), 200);
    }

    for (lot, reader) in readers {
        let seen = reader.await.unwrap();
        let ids: Vec<u64> = seen.iter().map(|(id, _)| *id).collect();
        assert!(
            ids.windows(2).all(|pair| pair[0] < pair[1]),
            "lot o{lot}: ids in order"
        );
        let counts: BTreeSet<u64> = seen.iter().map(|(_, count)| *count).collect();
        assert_eq!(counts.len(), seen.len(), "lot o{lot}: no event twice");
        let expected: BTreeSet<u64> = stored_per_lot[lot as usize].iter().copied().collect();
        assert_eq!(counts, expected, "lot o{lot}: every acknowledged count");
    }
    assert!(
        stored_per_lot.iter().map(Vec::len).sum::<usize>() > 2_000,
        "the writers outran the window many times over"
    );
    for reason in ["lag", "evicted"] {
        let series = format!("parkstream_sse_subscribers_dropped_total{{reason=\"{reason}\"}}");
        assert_eq!(app.metric(&series).await, 0.0, "{series}");
    }
    app.stop().await;
}
