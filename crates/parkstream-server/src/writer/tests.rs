//! The writer against a real SQLite file: refusals change nothing, a failed commit is rolled
//! back and answered "not stored", ids are not used up by either, and a queue that stays full
//! is answered "busy".

use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};
use parkstream_protocol::api::LotSpec;
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::hub::{Filter, HubConfig, SseStream};
use crate::metrics::Metrics;

fn by() -> Actor {
    Actor::new("admin", None).unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    url: String,
    hub: Hub,
    read_model: ReadModel,
    writer: Writer,
}

async fn start() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("writer.db").display());
    let store = Store::open(&url).await.unwrap();
    let config = HubConfig {
        history_size: 100,
        max_clients: 10,
        client_buffer: 100,
    };
    let hub = Hub::new(config, 0, [], Arc::new(Metrics::new()));
    let read_model = ReadModel::new([], 0);
    let (writer, _task) = Writer::spawn(
        State::default(),
        store,
        hub.clone(),
        read_model.clone(),
        1,
        crate::writer::Retain {
            history_size: 1_000,
            rollups: crate::store::RollupRetention::default(),
        },
        None,
    );
    Fixture {
        _dir: dir,
        url,
        hub,
        read_model,
        writer,
    }
}

fn lot(id: &str) -> (LotId, LotSettings) {
    let spec = LotSpec {
        name: id.to_uppercase(),
        total_slots: 10,
        warning_threshold: None,
        max_stay_seconds: None,
        ..LotSpec::default()
    };
    (LotId::parse(id).unwrap(), LotSettings::parse(spec).unwrap())
}

fn count(id: &str, occupied: u32) -> CountReport {
    CountReport {
        lot_id: LotId::parse(id).unwrap(),
        occupied,
        total_slots: None,
        observed_at: None,
    }
}

fn subscribe(hub: &Hub) -> SseStream {
    let mut stream = hub
        .subscribe(Filter::EVERYTHING, None, CancellationToken::new())
        .unwrap()
        .into_stream(Default::default(), None);
    let _ = stream.next().now_or_never(); // the (empty) head
    stream
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

/// The writer's in-memory count of `id`, read by a command that changes nothing of it.
async fn occupied_in_memory(writer: &Writer, id: &str) -> u32 {
    let (id, settings) = lot(id);
    let (view, created) = writer.put_lot(id, settings, by()).await.unwrap();
    assert!(!created);
    view.occupied
}

/// Makes every write of the `lots` table fail, from another connection, until dropped.
async fn refuse_lot_writes(url: &str, refuse: bool) {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    let statements: &[&str] = if refuse {
        &[
            "CREATE TRIGGER refuse_insert BEFORE INSERT ON lots BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
            "CREATE TRIGGER refuse_update BEFORE UPDATE ON lots BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        ]
    } else {
        &["DROP TRIGGER refuse_insert", "DROP TRIGGER refuse_update"]
    };
    for statement in statements {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
}

#[tokio::test]
async fn a_command_the_rules_refuse_changes_nothing_and_publishes_nothing() {
    let f = start().await;
    let (id, settings) = lot("a");
    assert!(f.writer.put_lot(id, settings, by()).await.unwrap().1);
    let mut stream = subscribe(&f.hub);
    let newest = f.hub.newest_id();

    // The first report is fine, the second names an unknown lot: all or none.
    let err = f
        .writer
        .report_counts(vec![count("a", 5), count("nope", 1)], true)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WriteError::Refused(DomainError::NotFound { field, .. }) if field.starts_with("[1].")),
        "{err:?}"
    );
    assert_eq!(f.hub.newest_id(), newest, "no event published");
    assert!(ready_ids(&mut stream).is_empty());
    assert_eq!(f.read_model.lot("a").0.unwrap().occupied, 0);
    assert_eq!(occupied_in_memory(&f.writer, "a").await, 0);

    // The next accepted command gets the next id: the refusal used none.
    f.writer
        .report_counts(vec![count("a", 5)], false)
        .await
        .unwrap();
    let ids = ready_ids(&mut stream);
    assert_eq!(ids.first(), Some(&(newest + 1)), "{ids:?}");
    assert_eq!(f.read_model.lot("a").0.unwrap().occupied, 5);
}

#[tokio::test]
async fn a_failed_commit_is_rolled_back_and_answered_not_stored() {
    let f = start().await;
    let (id, settings) = lot("a");
    f.writer.put_lot(id, settings, by()).await.unwrap();
    let mut stream = subscribe(&f.hub);
    let newest = f.hub.newest_id();

    refuse_lot_writes(&f.url, true).await;
    let (b, b_settings) = lot("b");
    let (created, counted) = tokio::join!(
        f.writer.put_lot(b.clone(), b_settings.clone(), by()),
        f.writer.report_counts(vec![count("a", 4)], false),
    );
    assert!(matches!(created, Err(WriteError::NotStored)), "{created:?}");
    assert!(matches!(counted, Err(WriteError::NotStored)), "{counted:?}");
    assert_eq!(f.hub.newest_id(), newest, "nothing published");
    assert!(ready_ids(&mut stream).is_empty());
    assert!(f.read_model.lot("b").0.is_none());
    assert_eq!(f.read_model.lot("a").0.unwrap().occupied, 0);
    refuse_lot_writes(&f.url, false).await;

    // The state was rolled back: `b` is created now, `a` still counts 0, and the ids of
    // the failed group are given again.
    assert!(f.writer.put_lot(b, b_settings, by()).await.unwrap().1);
    assert_eq!(occupied_in_memory(&f.writer, "a").await, 0);
    assert_eq!(ready_ids(&mut stream).first(), Some(&(newest + 1)));
}

#[tokio::test]
async fn a_handle_whose_writer_is_gone_answers_not_stored() {
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    let gone = Writer { tx };
    assert!(matches!(
        gone.contractors().await,
        Err(WriteError::NotStored)
    ));
    let (id, settings) = lot("a");
    assert!(matches!(
        gone.put_lot(id, settings, by()).await,
        Err(WriteError::NotStored)
    ));
}

#[tokio::test(start_paused = true)]
async fn a_request_that_finds_the_queue_full_past_the_wait_is_answered_busy() {
    // A writer that takes nothing from its queue of one, as one held back by slow streams.
    let (tx, _rx) = mpsc::channel(1);
    let stuck = Writer { tx };
    let first = tokio::spawn({
        let stuck = stuck.clone();
        async move { stuck.report_counts(vec![count("a", 1)], false).await }
    });
    tokio::task::yield_now().await;
    let started = tokio::time::Instant::now();
    let second = stuck.report_counts(vec![count("a", 2)], false).await;
    assert!(matches!(second, Err(WriteError::Busy)), "{second:?}");
    assert!(
        started.elapsed() >= QUEUE_WAIT,
        "it waited for a place first"
    );
    assert!(
        !first.is_finished(),
        "the queued request still waits for its answer"
    );
}
