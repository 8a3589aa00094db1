//! The writer's loop: take a group of commands, apply them in one transaction, commit it the
//! one way this instance commits ([`Committer`]), answer.

use parkstream_protocol::Timestamp;
use tokio::sync::mpsc;

use super::command::{self, Command, Context, Finish};
use super::group::{Changed, Group};
use super::local;
use crate::cluster::ClusterWriting;
use crate::domain::{Change, State};
use crate::hub::Hub;
use crate::read_model::ReadModel;
use crate::store::{Batch, RollupRetention, Store, StoreError};

/// Most commands stored in one transaction.
const MAX_GROUP: usize = 512;

/// How often a commit also deletes rollup rows past their retention: often enough that a
/// short retention is kept to the second, and a delete that finds nothing costs an index probe.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

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
            rollups: &group.rollups,
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
    rollup_retention: RollupRetention,
    /// When a commit last deleted old rollup rows.
    pruned_at: Option<tokio::time::Instant>,
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
        retain: super::Retain,
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
            history_size: retain.history_size,
            added_since_trim: 0,
            rollup_retention: retain.rollups,
            pruned_at: None,
            committer,
        }
    }

    pub(super) async fn run(mut self) {
        let mut commands = Vec::with_capacity(MAX_GROUP);
        while self.rx.recv_many(&mut commands, MAX_GROUP).await > 0 {
            self.process(&mut commands).await;
            let metrics = self.hub.metrics();
            metrics
                .idempotency_answers
                .set(self.state.answers_kept() as i64);
            metrics.set_open(self.state.open_alerts(), self.state.open_violations());
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
        let prune = self
            .pruned_at
            .is_none_or(|at| at.elapsed() >= PRUNE_EVERY)
            .then_some(self.rollup_retention);
        let group = Group::of(
            &tx,
            now,
            self.next_event_id,
            self.added_since_trim,
            self.history_size,
            prune,
        );
        let changed = Changed::of(&tx);
        let started = tokio::time::Instant::now();
        let committed = self
            .committer
            .commit(&group, tx.changes(), &changed, &self.read_model)
            .await;
        let metrics = self.hub.metrics();
        metrics
            .commit_duration
            .observe(started.elapsed().as_secs_f64());
        metrics.commit_group_size.observe(finishes.len() as f64);
        match committed {
            Ok(()) => {
                drop(tx);
                if prune.is_some() {
                    self.pruned_at = Some(tokio::time::Instant::now());
                }
                let count = group.stored.len() as u64;
                self.next_event_id += count;
                self.added_since_trim = match group.trim_through {
                    Some(_) => 0,
                    None => self.added_since_trim + count,
                };
                finish(finishes, true);
            }
            Err(err) => {
                metrics.storage_errors.inc();
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
