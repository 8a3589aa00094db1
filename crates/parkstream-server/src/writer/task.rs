//! The writer's loop: take a group of commands, apply them in one transaction, commit it the
//! one way this instance commits ([`Committer`]), answer.

use parkstream_protocol::Timestamp;
use tokio::sync::mpsc;

use super::command::{self, Command, Context, Finish};
use super::local;
use crate::cluster::ClusterWriting;
use crate::domain::contractor::Contractor;
use crate::domain::{Change, Lot, State, Txn};
use crate::hub::Hub;
use crate::read_model::ReadModel;
use crate::store::{Batch, Store, StoreError, StoredEvent};

/// Most commands stored in one transaction.
const MAX_GROUP: usize = 512;
/// Trim stored history once this many events were added since the last trim.
const TRIM_EVERY: u64 = 1_000;

/// How a group is committed: alone, or taking turns with the cluster's other instances.
#[derive(Debug)]
enum Committer {
    Local { store: Store, hub: Hub },
    Cluster(Box<ClusterWriting>),
}

impl Committer {
    /// Readies a group on a state whose newest stored event is `newest` (as this writer
    /// knows it): answers the newest id the group follows, or `None` when the group cannot
    /// run now (its commands are then answered "not stored").
    async fn begin(&mut self, state: &mut State, newest: u64) -> Option<u64> {
        match self {
            Committer::Local { .. } => Some(newest),
            Committer::Cluster(cluster) => cluster.begin(state).await,
        }
    }

    /// The group changed nothing: there is nothing to store.
    async fn unchanged(&mut self, newest: u64) {
        if let Committer::Cluster(cluster) = self {
            cluster.release_unchanged(newest).await;
        }
    }

    /// Stores the group, gets its events published, and updates the read model.
    async fn commit(
        &mut self,
        group: &Group,
        changes: &[Change],
        changed: &Changed,
        read_model: &ReadModel,
    ) -> Result<(), StoreError> {
        let batch = Batch {
            changes,
            events: &group.stored,
            trim_through: group.trim_through,
        };
        match self {
            Committer::Local { store, hub } => {
                local::commit(store, hub, &batch, group, changed, read_model).await
            }
            Committer::Cluster(cluster) => {
                cluster
                    .commit(&batch, group.last_id, &changed.contractors, read_model)
                    .await
            }
        }
    }
}

pub(super) struct WriterTask {
    rx: mpsc::Receiver<Command>,
    state: State,
    store: Store,
    hub: Hub,
    read_model: ReadModel,
    next_event_id: u64,
    history_size: u64,
    added_since_trim: u64,
    committer: Committer,
}

impl WriterTask {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        rx: mpsc::Receiver<Command>,
        state: State,
        store: Store,
        hub: Hub,
        read_model: ReadModel,
        next_event_id: u64,
        history_size: u64,
        cluster: Option<ClusterWriting>,
    ) -> Self {
        let committer = match cluster {
            Some(cluster) => Committer::Cluster(Box::new(cluster)),
            None => Committer::Local {
                store: store.clone(),
                hub: hub.clone(),
            },
        };
        Self {
            rx,
            state,
            store,
            hub,
            read_model,
            next_event_id,
            history_size,
            added_since_trim: 0,
            committer,
        }
    }

    pub(super) async fn run(mut self) {
        let mut commands = Vec::with_capacity(MAX_GROUP);
        while self.rx.recv_many(&mut commands, MAX_GROUP).await > 0 {
            self.process(&mut commands).await;
            self.hub
                .metrics()
                .idempotency_answers
                .set(self.state.answers_kept() as i64);
        }
        self.store.close().await;
    }

    async fn process(&mut self, commands: &mut Vec<Command>) {
        let known = self.next_event_id - 1;
        let Some(newest) = self.committer.begin(&mut self.state, known).await else {
            // Dropped unapplied: each is answered "not stored" (503).
            commands.clear();
            return;
        };
        self.next_event_id = newest + 1;
        let now = Timestamp::now();
        let mut tx = self.state.begin();
        let finishes = command::apply(&mut tx, commands, Context { now, newest });
        if tx.changes().is_empty() && tx.events().is_empty() {
            drop(tx);
            self.committer.unchanged(newest).await;
            finish(finishes, true);
            return;
        }
        let group = Group::of(
            &tx,
            now,
            self.next_event_id,
            self.added_since_trim,
            self.history_size,
        );
        let changed = Changed::of(&tx);
        match self
            .committer
            .commit(&group, tx.changes(), &changed, &self.read_model)
            .await
        {
            Ok(()) => {
                drop(tx);
                let count = group.stored.len() as u64;
                self.next_event_id += count;
                self.added_since_trim = match group.trim_through {
                    Some(_) => 0,
                    None => self.added_since_trim + count,
                };
                finish(finishes, true);
            }
            Err(err) => {
                tracing::error!(error = %err, commands = finishes.len(), "commit failed; nothing of the group was stored");
                tx.rollback();
                finish(finishes, false);
            }
        }
    }
}

fn finish(finishes: Vec<Finish>, stored: bool) {
    finishes.into_iter().for_each(|finish| finish(stored));
}

/// The events of one group as they are stored, and what publishing them needs besides.
#[derive(Debug, Clone)]
pub(super) struct Group {
    /// Ids from the writer's next one, in emission order.
    pub stored: Vec<StoredEvent>,
    /// Beside each stored event: its data as other contractors see it, if different.
    pub redacted: Vec<Option<String>>,
    /// The newest id once the group is stored.
    pub last_id: u64,
    /// Delete stored history up to this id.
    pub trim_through: Option<u64>,
}

impl Group {
    fn of(
        tx: &Txn<'_>,
        now: Timestamp,
        next_event_id: u64,
        added_since_trim: u64,
        history_size: u64,
    ) -> Self {
        let (stored, redacted) = tx
            .events()
            .iter()
            .zip(tx.routing())
            .zip(next_event_id..)
            .map(|((event, routing), id)| {
                let stored = StoredEvent {
                    id,
                    event_type: event.event_type(),
                    lot_id: event.parking_lot_id().map(str::to_owned),
                    owner: routing.owner.clone(),
                    data: event.to_json(),
                    created_at: now,
                };
                (stored, routing.redacted.as_ref().map(|r| r.to_json()))
            })
            .unzip::<_, _, Vec<_>, Vec<_>>();
        let count = stored.len() as u64;
        let last_id = next_event_id + count - 1;
        let trim_through = (count > 0 && added_since_trim + count >= TRIM_EVERY)
            .then(|| last_id.checked_sub(history_size))
            .flatten();
        Self {
            stored,
            redacted,
            last_id,
            trim_through,
        }
    }
}

/// The lots and contractors a transaction changed, as the read model shows them.
#[derive(Debug, Default)]
pub(super) struct Changed {
    pub lots: Vec<Lot>,
    pub contractors: Vec<Contractor>,
}

impl Changed {
    fn of(tx: &Txn<'_>) -> Self {
        let mut changed = Self::default();
        for change in tx.changes() {
            match change {
                Change::Lot(lot) => changed.lots.push(lot.clone()),
                Change::Contractor(c) => changed.contractors.push(c.clone()),
                _ => {}
            }
        }
        changed
    }
}
