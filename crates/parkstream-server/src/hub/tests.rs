//! The hub's fan-out: lot index, lag limit, pacing, resume, limits, closing, pings.

use super::*;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};

pub(crate) fn event(id: u64, lot: &str) -> Arc<PublishedEvent> {
    Arc::new(PublishedEvent::new(
        id,
        EventType::CapacityUpdate,
        Some(lot.into()),
        None,
        "{}",
        None,
    ))
}

fn hub(client_buffer: usize) -> Hub {
    let config = HubConfig {
        history_size: 100,
        max_clients: 3,
        client_buffer,
    };
    Hub::new(config, 0, [], Arc::new(Metrics::new()))
}

fn subscribe(hub: &Hub, lots: Option<&str>, last_id: Option<&str>) -> SseStream {
    let filter = Filter::parse(lots, None, 100).unwrap();
    hub.subscribe(filter, last_id, CancellationToken::new())
        .unwrap()
        .into_stream(Default::default(), None)
}

/// The ids in what the stream has ready now.
fn ready_ids(stream: &mut SseStream) -> Vec<u64> {
    let mut ids = Vec::new();
    while let Some(Some(Ok(chunk))) = stream.next().now_or_never() {
        let text = String::from_utf8(chunk.to_vec()).unwrap();
        ids.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix("id: "))
                .map(|id| id.parse::<u64>().unwrap()),
        );
    }
    ids
}

#[test]
fn delivers_only_to_matching_lots_in_one_chunk() {
    let hub = hub(16);
    let mut only_a = subscribe(&hub, Some("a"), None);
    let mut all = subscribe(&hub, None, None);
    let _ = ready_ids(&mut only_a); // the (empty) head
    hub.publish([event(1, "a"), event(2, "b"), event(3, "a")]);
    assert_eq!(ready_ids(&mut only_a), vec![1, 3]);
    assert_eq!(ready_ids(&mut all), vec![1, 2, 3]);
}

#[test]
fn a_stream_too_far_behind_is_dropped_and_its_connection_closed() {
    let hub = hub(3);
    let kill = CancellationToken::new();
    let mut slow = hub
        .subscribe(Filter::EVERYTHING, None, kill.clone())
        .unwrap()
        .into_stream(Default::default(), None);
    let mut fast = subscribe(&hub, None, None);
    for id in 1..=3 {
        hub.publish([event(id, "a")]);
        assert_eq!(ready_ids(&mut fast), vec![id]);
    }
    assert!(!kill.is_cancelled());
    hub.publish([event(4, "a")]);
    assert!(kill.is_cancelled());
    assert_eq!(hub.subscriber_count(), 1);
    assert_eq!(ready_ids(&mut fast), vec![4]);
    let _ = slow.next().now_or_never(); // head
    assert_eq!(
        slow.next().now_or_never(),
        Some(None),
        "the dropped stream ends"
    );
}

#[test]
fn a_burst_larger_than_the_lag_limit_is_not_lag_for_a_reader() {
    let hub = hub(3);
    let mut reader = subscribe(&hub, None, None);
    for base in [0, 10] {
        hub.publish((base + 1..=base + 10).map(|id| event(id, "a")));
        assert_eq!(ready_ids(&mut reader).len(), 10);
    }
    assert_eq!(hub.subscriber_count(), 1);
}

#[test]
fn a_quiet_lot_filter_is_not_lag() {
    let hub = hub(2);
    let mut only_b = subscribe(&hub, Some("b"), None);
    hub.publish((1..=10).map(|id| event(id, "a")));
    hub.publish([event(11, "b")]);
    assert_eq!(ready_ids(&mut only_b), vec![11]);
    assert_eq!(hub.subscriber_count(), 1);
}

#[test]
fn lag_counts_only_the_events_a_stream_wants() {
    let hub = hub(3);
    let mut only_b = subscribe(&hub, Some("b"), None);
    let _ = ready_ids(&mut only_b); // the (empty) head
    hub.publish([event(1, "b")]);
    // It reads nothing while a busy lot passes: two of its own events unread, not twelve.
    hub.publish((2..=11).map(|id| event(id, "a")));
    hub.publish([event(12, "b")]);
    hub.publish([event(13, "b")]);
    assert_eq!(hub.subscriber_count(), 1);
    assert_eq!(ready_ids(&mut only_b), vec![1, 12, 13]);
    // Three unread of its own before a publication: dropped.
    hub.publish([event(14, "b")]);
    hub.publish([event(15, "b")]);
    hub.publish([event(16, "b")]);
    hub.publish([event(17, "b")]);
    assert_eq!(hub.subscriber_count(), 0);
}

#[test]
fn a_stream_on_a_quiet_lot_outlives_the_window_turning_over() {
    let hub = hub(16);
    let mut only_b = subscribe(&hub, Some("b"), None);
    let _ = ready_ids(&mut only_b); // the (empty) head
    for base in (0..300).step_by(50) {
        hub.publish((base + 1..=base + 50).map(|id| event(id, "a")));
    }
    hub.publish([event(301, "b")]);
    assert_eq!(ready_ids(&mut only_b), vec![301]);
    assert_eq!(hub.subscriber_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_paced_publication_waits_for_a_reader_and_drops_one_that_never_reads() {
    let hub = hub(100);
    let mut reader = subscribe(&hub, None, None);
    let kill = CancellationToken::new();
    let _stalled = hub
        .subscribe(Filter::EVERYTHING, None, kill.clone())
        .unwrap()
        .into_stream(Default::default(), None);
    let _ = ready_ids(&mut reader); // the (empty) head
    let events: Vec<_> = (1..=250).map(|id| event(id, "a")).collect();
    let publishing = tokio::spawn({
        let hub = hub.clone();
        async move { hub.publish_paced(events).await }
    });
    let mut read = Vec::new();
    let started = tokio::time::Instant::now();
    while read.len() < 250 {
        read.extend(ready_ids(&mut reader));
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    publishing.await.unwrap();
    assert_eq!(
        read,
        (1..=250).collect::<Vec<_>>(),
        "the reader got every event"
    );
    assert!(started.elapsed() >= KEEP_UP_GRACE, "the writer waited");
    assert!(
        kill.is_cancelled(),
        "the stream that never read was dropped"
    );
    assert_eq!(hub.subscriber_count(), 1);
}

#[tokio::test]
async fn a_reader_more_than_a_second_behind_is_waited_for_not_evicted() {
    // Ingest outrunning the fan-out: the events a publication would evict are older than the
    // grace period but still unread by a stream that reads. It is waited for.
    let hub = hub(1000);
    let mut reader = subscribe(&hub, None, None);
    for base in (0..100).step_by(10) {
        hub.make_room(10).await;
        hub.publish((base + 1..=base + 10).map(|id| event(id, "a")));
    }
    tokio::time::sleep(KEEP_UP_GRACE + Duration::from_millis(200)).await;
    let publishing = tokio::spawn({
        let hub = hub.clone();
        async move {
            for base in (100..200).step_by(10) {
                hub.make_room(10).await;
                hub.publish((base + 1..=base + 10).map(|id| event(id, "a")));
            }
        }
    });
    // The publisher goes first: the reader reads only once the publisher waits for it.
    tokio::task::yield_now().await;
    let mut read = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while read.len() < 200 && tokio::time::Instant::now() < deadline {
        read.extend(ready_ids(&mut reader));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    publishing.await.unwrap();
    assert_eq!(read, (1..=200).collect::<Vec<_>>(), "every event, in order");
    assert_eq!(hub.subscriber_count(), 1, "the reader was kept");
}

#[test]
fn resume_replays_what_follows_the_id() {
    let hub = hub(16);
    hub.publish([event(1, "a"), event(2, "b"), event(3, "a")]);
    let mut resumed = subscribe(&hub, Some("a"), Some("1"));
    assert_eq!(ready_ids(&mut resumed), vec![3]);
    let reset = hub
        .subscribe(Filter::EVERYTHING, Some("9"), CancellationToken::new())
        .unwrap();
    assert_eq!(reset.start(), Start::Reset);
}

#[test]
fn refuses_above_the_limit_and_frees_slots_on_drop() {
    let hub = hub(4);
    let subs: Vec<_> = (0..3).map(|_| subscribe(&hub, None, None)).collect();
    assert!(hub
        .subscribe(Filter::EVERYTHING, None, CancellationToken::new())
        .is_err());
    drop(subs);
    assert_eq!(hub.subscriber_count(), 0);
    assert!(hub
        .subscribe(Filter::EVERYTHING, None, CancellationToken::new())
        .is_ok());
}

#[test]
fn closing_ends_every_stream_and_every_later_one() {
    let hub = hub(4);
    let mut open = subscribe(&hub, None, None);
    let _ = open.next().now_or_never(); // the (empty) head
    assert!(open.next().now_or_never().is_none(), "open and idle");
    hub.close_streams();
    assert_eq!(open.next().now_or_never(), Some(None));
    let mut later = subscribe(&hub, Some("a"), None);
    assert_eq!(later.next().now_or_never(), Some(None));
}

#[test]
fn pings_reach_every_stream() {
    let hub = hub(4);
    let mut a = subscribe(&hub, Some("a"), None);
    let _ = a.next().now_or_never();
    hub.ping();
    let Some(Some(Ok(chunk))) = a.next().now_or_never() else {
        panic!("no ping")
    };
    assert!(chunk.starts_with(b"event: ping\ndata: {\"timestamp\":"));
}
