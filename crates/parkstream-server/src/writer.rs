//! The writer: the one task that changes state.
//!
//! Handlers send it commands. It takes every command waiting (up to a limit), applies them in
//! order to the in-memory state, stores all their changes and events in one transaction (group
//! commit), and only then publishes the events and answers. If the commit fails, the state is
//! rolled back and every command in the group is answered "not stored". One writer gives every
//! event its id in commit order, so ids on the stream strictly increase.

use std::sync::Arc;

use parkstream_protocol::api::LotView;
use parkstream_protocol::events::CapacityUpdate;
use parkstream_protocol::Timestamp;
use tokio::sync::{mpsc, oneshot};

use crate::domain::{Change, CountReport, DomainError, LotId, LotSettings, State, Txn};
use crate::hub::{Hub, PublishedEvent};
use crate::read_model::ReadModel;
use crate::store::{Batch, Store, StoredEvent};

/// Most commands stored in one transaction.
const MAX_GROUP: usize = 512;
/// Trim stored history once this many events were added since the last trim.
const TRIM_EVERY: u64 = 1_000;

type Reply<T> = oneshot::Sender<Result<T, DomainError>>;

enum Command {
    PutLot {
        id: LotId,
        settings: LotSettings,
        reply: Reply<(LotView, bool)>,
    },
    ReportCounts {
        reports: Vec<CountReport>,
        batch: bool,
        reply: Reply<Vec<CapacityUpdate>>,
    },
}

/// A handle to send commands to the writer.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::PutLot { .. } => "PutLot",
            Command::ReportCounts { .. } => "ReportCounts",
        })
    }
}

impl Writer {
    /// Starts the writer task. It ends when every handle is dropped, after answering what it
    /// was sent.
    pub fn spawn(
        state: State,
        store: Store,
        hub: Hub,
        read_model: ReadModel,
        next_event_id: u64,
        history_size: u64,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(1024);
        let task = WriterTask {
            rx,
            state,
            store,
            hub,
            read_model,
            next_event_id,
            history_size,
            added_since_trim: 0,
        };
        (Self { tx }, tokio::spawn(task.run()))
    }

    async fn send<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, DomainError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| DomainError::NotStored)?;
        answer.await.map_err(|_| DomainError::NotStored)?
    }

    /// Creates or updates a lot: its view, and whether it was created.
    ///
    /// # Errors
    /// `NotStored` when the change could not be stored.
    pub async fn put_lot(
        &self,
        id: LotId,
        settings: LotSettings,
    ) -> Result<(LotView, bool), DomainError> {
        self.send(|reply| Command::PutLot {
            id,
            settings,
            reply,
        })
        .await
    }

    /// Sets lots' counts, in order, all or none. A `batch` error names the item's index.
    ///
    /// # Errors
    /// `NotFound` for an unknown lot; `NotStored` when the change could not be stored.
    pub async fn report_counts(
        &self,
        reports: Vec<CountReport>,
        batch: bool,
    ) -> Result<Vec<CapacityUpdate>, DomainError> {
        self.send(|reply| Command::ReportCounts {
            reports,
            batch,
            reply,
        })
        .await
    }
}

/// Answers a command once the fate of its group is known.
type Finish = Box<dyn FnOnce(bool) + Send>;

/// Runs `apply` in the transaction; a refused command is undone and answered at once, an
/// accepted one is answered when its group is stored.
fn run<T: Send + 'static>(
    tx: &mut Txn<'_>,
    reply: Reply<T>,
    apply: impl FnOnce(&mut Txn<'_>) -> Result<T, DomainError>,
) -> Option<Finish> {
    let mark = tx.savepoint();
    match apply(tx) {
        Ok(output) => Some(Box::new(move |stored| {
            let _ = reply.send(if stored {
                Ok(output)
            } else {
                Err(DomainError::NotStored)
            });
        })),
        Err(err) => {
            tx.rollback_to(mark);
            let _ = reply.send(Err(err));
            None
        }
    }
}

struct WriterTask {
    rx: mpsc::Receiver<Command>,
    state: State,
    store: Store,
    hub: Hub,
    read_model: ReadModel,
    next_event_id: u64,
    history_size: u64,
    added_since_trim: u64,
}

impl WriterTask {
    async fn run(mut self) {
        let mut commands = Vec::with_capacity(MAX_GROUP);
        while self.rx.recv_many(&mut commands, MAX_GROUP).await > 0 {
            self.process(&mut commands).await;
        }
        self.store.close().await;
    }

    async fn process(&mut self, commands: &mut Vec<Command>) {
        let now = Timestamp::now();
        let mut tx = self.state.begin();
        let mut finishes: Vec<Finish> = Vec::with_capacity(commands.len());
        for command in commands.drain(..) {
            let finish = match command {
                Command::PutLot {
                    id,
                    settings,
                    reply,
                } => run(&mut tx, reply, |tx| Ok(tx.put_lot(id, settings, now))),
                Command::ReportCounts {
                    reports,
                    batch,
                    reply,
                } => run(&mut tx, reply, |tx| tx.report_counts(reports, batch, now)),
            };
            finishes.extend(finish);
        }
        let changes = tx.changes();
        let events = tx.take_events();
        if changes.is_empty() && events.is_empty() {
            finishes.into_iter().for_each(|finish| finish(true));
            return;
        }

        let first_id = self.next_event_id;
        let stored: Vec<StoredEvent> = events
            .iter()
            .zip(first_id..)
            .map(|(event, id)| StoredEvent {
                id,
                event_type: event.event_type(),
                lot_id: event.parking_lot_id().map(str::to_owned),
                data: event.to_json(),
                created_at: now,
            })
            .collect();
        let newest = first_id + stored.len() as u64 - 1;
        let trim_through = (self.added_since_trim + stored.len() as u64 >= TRIM_EVERY)
            .then(|| newest.checked_sub(self.history_size))
            .flatten();
        let batch = Batch {
            changes: &changes,
            events: &stored,
            trim_through,
        };
        match self.store.commit(&batch).await {
            Ok(()) => {
                drop(tx);
                self.next_event_id = newest + 1;
                self.added_since_trim = if trim_through.is_some() {
                    0
                } else {
                    self.added_since_trim + stored.len() as u64
                };
                self.hub.publish(stored.iter().map(publishable));
                self.read_model.update(
                    changes.iter().map(|change| match change {
                        Change::Lot(lot) => lot,
                    }),
                    self.hub.newest_id(),
                );
                finishes.into_iter().for_each(|finish| finish(true));
            }
            Err(err) => {
                tracing::error!(error = %err, commands = finishes.len(), "commit failed; nothing of the group was stored");
                tx.rollback();
                finishes.into_iter().for_each(|finish| finish(false));
            }
        }
    }
}

/// The hub's form of a stored event.
pub fn publishable(event: &StoredEvent) -> Arc<PublishedEvent> {
    Arc::new(PublishedEvent::new(
        event.id,
        event.event_type,
        event.lot_id.as_deref().map(Arc::from),
        &event.data,
    ))
}
