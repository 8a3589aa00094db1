//! The writer: the one task that changes state.
//!
//! Handlers send it commands. It takes every command waiting (up to a limit), applies them in
//! order to the in-memory state, stores all their changes and events in one transaction (group
//! commit), and only then publishes the events and answers. If the commit fails, the state is
//! rolled back and every command in the group is answered "not stored". One writer gives every
//! event its id in commit order, so ids on the stream strictly increase, and rules see a
//! consistent state without locks.
//!
//! With several instances (`--redis-url`), each group runs under the cluster's write lock
//! instead: the state is reloaded if another instance committed since, the events go to the
//! Redis Stream after the commit, and this instance's hub and read model learn of them from
//! the stream like every other instance's (see `cluster`).

use std::sync::Arc;
use std::time::Duration;

use parkstream_protocol::api::{ContractorView, LotView};
use parkstream_protocol::events::{Alert, CapacityUpdate, Event, Violation};
use parkstream_protocol::Timestamp;
use tokio::sync::{mpsc, oneshot};

use crate::cluster::Appender;
use crate::domain::camera::CameraReport;
use crate::domain::contractor::{ContractorId, ContractorSettings};
use crate::domain::gate::GateEvent;
use crate::domain::{Change, CountReport, DomainError, LotId, LotSettings, State, Txn};
use crate::hub::{Hub, PublishedEvent};
use crate::read_model::ReadModel;
use crate::store::{Batch, PostgresStore, Store, StoredEvent, WriteError, WriteLock};

/// Most commands stored in one transaction.
const MAX_GROUP: usize = 512;
/// Trim stored history once this many events were added since the last trim.
const TRIM_EVERY: u64 = 1_000;

type Reply<T> = oneshot::Sender<Result<T, WriteError>>;

/// What an operator does to an alert or a violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Acknowledge,
    Resolve,
}

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
    ReportCameras {
        reports: Vec<CameraReport>,
        batch: bool,
        reply: Reply<Vec<CapacityUpdate>>,
    },
    Gate {
        events: Vec<GateEvent>,
        batch: bool,
        reply: Reply<Vec<CapacityUpdate>>,
    },
    PutContractor {
        id: ContractorId,
        settings: ContractorSettings,
        reply: Reply<(ContractorView, bool)>,
    },
    ListContractors {
        reply: Reply<(Vec<ContractorView>, u64)>,
    },
    Alert {
        id: String,
        action: Action,
        reply: Reply<Alert>,
    },
    Violation {
        id: String,
        action: Action,
        reply: Reply<Violation>,
    },
    /// Time passed: check silent cameras and overstays, forget expired gate answers.
    Tick { camera_timeout: Duration },
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::PutLot { .. } => "PutLot",
            Command::ReportCounts { .. } => "ReportCounts",
            Command::ReportCameras { .. } => "ReportCameras",
            Command::Gate { .. } => "Gate",
            Command::PutContractor { .. } => "PutContractor",
            Command::ListContractors { .. } => "ListContractors",
            Command::Alert { .. } => "Alert",
            Command::Violation { .. } => "Violation",
            Command::Tick { .. } => "Tick",
        })
    }
}

impl Command {
    /// Answers "not stored" without applying the command.
    fn refuse(self) {
        match self {
            Command::PutLot { reply, .. } => drop(reply.send(Err(WriteError::NotStored))),
            Command::ReportCounts { reply, .. }
            | Command::ReportCameras { reply, .. }
            | Command::Gate { reply, .. } => drop(reply.send(Err(WriteError::NotStored))),
            Command::PutContractor { reply, .. } => drop(reply.send(Err(WriteError::NotStored))),
            Command::ListContractors { reply } => drop(reply.send(Err(WriteError::NotStored))),
            Command::Alert { reply, .. } => drop(reply.send(Err(WriteError::NotStored))),
            Command::Violation { reply, .. } => drop(reply.send(Err(WriteError::NotStored))),
            Command::Tick { .. } => {}
        }
    }
}

/// A handle to send commands to the writer.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Command>,
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
        cluster: Option<ClusterWriting>,
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
            cluster,
        };
        (Self { tx }, tokio::spawn(task.run()))
    }

    async fn send<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| WriteError::NotStored)?;
        answer.await.map_err(|_| WriteError::NotStored)?
    }

    /// Creates or updates a lot: its view, and whether it was created.
    ///
    /// # Errors
    /// `NotStored` when the change could not be stored.
    pub async fn put_lot(
        &self,
        id: LotId,
        settings: LotSettings,
    ) -> Result<(LotView, bool), WriteError> {
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
    ) -> Result<Vec<CapacityUpdate>, WriteError> {
        self.send(|reply| Command::ReportCounts {
            reports,
            batch,
            reply,
        })
        .await
    }

    /// Applies lot monitor reports (counts, cameras alive), all or none.
    ///
    /// # Errors
    /// `NotFound` for an unknown lot; `NotStored` when the change could not be stored.
    pub async fn report_cameras(
        &self,
        reports: Vec<CameraReport>,
        batch: bool,
    ) -> Result<Vec<CapacityUpdate>, WriteError> {
        self.send(|reply| Command::ReportCameras {
            reports,
            batch,
            reply,
        })
        .await
    }

    /// Applies gate events, all or none.
    ///
    /// # Errors
    /// `NotFound` for an unknown lot; `NotStored` when the change could not be stored.
    pub async fn gate_events(
        &self,
        events: Vec<GateEvent>,
        batch: bool,
    ) -> Result<Vec<CapacityUpdate>, WriteError> {
        self.send(|reply| Command::Gate {
            events,
            batch,
            reply,
        })
        .await
    }

    /// Creates or replaces a contractor.
    ///
    /// # Errors
    /// `NotFound` for an unknown lot, `Conflict` for a plate of another contractor,
    /// `NotStored` when the change could not be stored.
    pub async fn put_contractor(
        &self,
        id: ContractorId,
        settings: ContractorSettings,
    ) -> Result<(ContractorView, bool), WriteError> {
        self.send(|reply| Command::PutContractor {
            id,
            settings,
            reply,
        })
        .await
    }

    /// Every contractor, by id, and the newest event id the list reflects.
    ///
    /// # Errors
    /// `NotStored` when the writer is gone.
    pub async fn contractors(&self) -> Result<(Vec<ContractorView>, u64), WriteError> {
        self.send(|reply| Command::ListContractors { reply }).await
    }

    /// Acknowledges or resolves an unresolved alert.
    ///
    /// # Errors
    /// `NotFound` when no unresolved alert has the id, `Conflict` for an invalid transition.
    pub async fn alert(&self, id: String, action: Action) -> Result<Alert, WriteError> {
        self.send(|reply| Command::Alert { id, action, reply })
            .await
    }

    /// Acknowledges or resolves an unresolved violation.
    ///
    /// # Errors
    /// `NotFound` when no unresolved violation has the id, `Conflict` for an invalid transition.
    pub async fn violation(&self, id: String, action: Action) -> Result<Violation, WriteError> {
        self.send(|reply| Command::Violation { id, action, reply })
            .await
    }

    /// Lets the time-based rules run (silent cameras, overstays). Waits only for room in the
    /// queue, not for the outcome.
    pub async fn tick(&self, camera_timeout: Duration) {
        let _ = self.tx.send(Command::Tick { camera_timeout }).await;
    }
}

/// Answers a command once the fate of its group is known.
type Finish = Box<dyn FnOnce(bool) + Send>;

/// Runs `apply` in the transaction; a refused command (which changed nothing) is answered at
/// once, an accepted one when its group is stored.
fn run<T: Send + 'static>(
    tx: &mut Txn<'_>,
    reply: Reply<T>,
    apply: impl FnOnce(&mut Txn<'_>) -> Result<T, DomainError>,
) -> Option<Finish> {
    match apply(tx) {
        Ok(output) => Some(Box::new(move |stored| {
            let _ = reply.send(if stored {
                Ok(output)
            } else {
                Err(WriteError::NotStored)
            });
        })),
        Err(err) => {
            let _ = reply.send(Err(err.into()));
            None
        }
    }
}

/// What a writer needs when it shares the database with other instances (see `cluster`).
#[derive(Debug)]
pub struct ClusterWriting {
    pub store: PostgresStore,
    pub lock: WriteLock,
    pub appender: Appender,
    /// The cluster version the writer's state reflects (`None`: not known, reload).
    pub version: Option<u64>,
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
    cluster: Option<ClusterWriting>,
}

impl WriterTask {
    async fn run(mut self) {
        let mut commands = Vec::with_capacity(MAX_GROUP);
        while self.rx.recv_many(&mut commands, MAX_GROUP).await > 0 {
            // Taken out for the group, so it is borrowed apart from the rest of the task.
            match self.cluster.take() {
                Some(mut cluster) => {
                    self.process_in_cluster(&mut cluster, &mut commands).await;
                    self.cluster = Some(cluster);
                }
                None => self.process(&mut commands).await,
            }
            self.hub
                .metrics()
                .idempotency_answers
                .set(self.state.answers_kept() as i64);
        }
        self.store.close().await;
    }

    /// Bookkeeping after a commit of `stored` events.
    fn committed(&mut self, stored: &[StoredEvent], trimmed: bool) {
        self.next_event_id += stored.len() as u64;
        self.added_since_trim = if trimmed {
            0
        } else {
            self.added_since_trim + stored.len() as u64
        };
    }

    async fn process(&mut self, commands: &mut Vec<Command>) {
        let now = Timestamp::now();
        let newest = self.next_event_id - 1;
        let mut tx = self.state.begin();
        let finishes = apply(&mut tx, commands, now, newest);
        if tx.changes().is_empty() && tx.events().is_empty() {
            drop(tx);
            finishes.into_iter().for_each(|finish| finish(true));
            return;
        }
        let (stored, trim_through) = stored_events(
            &tx,
            now,
            self.next_event_id,
            self.added_since_trim,
            self.history_size,
        );
        let batch = Batch {
            changes: tx.changes(),
            events: &stored,
            trim_through,
        };
        let last_id = self.next_event_id + stored.len() as u64 - 1;
        // A group larger than the hub publishes at once goes out in paced chunks after the
        // commit; a smaller one waits for room first and is published the moment it is
        // durable (see `hub::pacing`).
        let paced = stored.len() > self.hub.chunk_size();
        if !paced {
            self.hub.make_room(stored.len()).await;
        }
        self.hub.begin_commit(last_id);
        let hub = self.hub.clone();
        let to_publish = (!paced).then(|| stored.clone());
        let publish = move || {
            if let Some(events) = to_publish {
                hub.publish(events.iter().map(publishable));
            }
        };
        match self.store.commit_then(&batch, publish).await {
            Ok(()) => {
                if paced {
                    self.hub
                        .publish_paced(stored.iter().map(publishable).collect())
                        .await;
                }
                let (lots, contractors) = changed(&tx);
                drop(tx);
                self.committed(&stored, trim_through.is_some());
                self.read_model.update_contractors(&contractors);
                self.read_model.update(&lots, self.hub.newest_id());
                finishes.into_iter().for_each(|finish| finish(true));
            }
            Err(err) => {
                tracing::error!(error = %err, commands = finishes.len(), "commit failed; nothing of the group was stored");
                tx.rollback();
                self.hub.abandon_commit();
                finishes.into_iter().for_each(|finish| finish(false));
            }
        }
    }

    /// One group in a cluster: under the cluster's write lock, catch up with other instances,
    /// make sure Redis takes appends, apply, commit, append, release. The events reach this
    /// instance's hub through the stream like everyone else's.
    async fn process_in_cluster(
        &mut self,
        cluster: &mut ClusterWriting,
        commands: &mut Vec<Command>,
    ) {
        let row = match cluster.lock.acquire().await {
            Ok(row) => row,
            Err(err) => {
                tracing::error!(error = %err, "cannot take the cluster's write lock");
                return refuse(commands);
            }
        };
        if cluster.version != Some(row.version) {
            let retention = self.state.answer_retention();
            match cluster.store.load_state(retention).await {
                Ok((loaded, _)) => {
                    self.state = State::from_loaded(loaded, retention, Timestamp::now());
                    cluster.version = Some(row.version);
                }
                Err(err) => {
                    tracing::error!(error = %err, "cannot reload the state another instance changed");
                    let _ = cluster.lock.release_appended(None).await;
                    return refuse(commands);
                }
            }
        }
        self.next_event_id = row.next_event_id;
        let newest = row.next_event_id - 1;
        // Events stored but not yet on the stream go first; and while Redis is failing, this
        // is the check that turns writes away (503) instead of storing what cannot be sent.
        if row.appended_through < newest || !cluster.appender.health().ok() {
            let flushed = match cluster.lock.events_after(row.appended_through).await {
                Ok(pending) => cluster.appender.append(&pending, true).await.is_ok(),
                Err(_) => false,
            };
            if !flushed {
                let _ = cluster.lock.release_appended(None).await;
                return refuse(commands);
            }
        }

        let now = Timestamp::now();
        let mut tx = self.state.begin();
        let finishes = apply(&mut tx, commands, now, newest);
        if tx.changes().is_empty() && tx.events().is_empty() {
            drop(tx);
            let _ = cluster.lock.release_appended(Some(newest)).await;
            finishes.into_iter().for_each(|finish| finish(true));
            return;
        }
        let (stored, trim_through) = stored_events(
            &tx,
            now,
            self.next_event_id,
            self.added_since_trim,
            self.history_size,
        );
        let batch = Batch {
            changes: tx.changes(),
            events: &stored,
            trim_through,
        };
        match cluster.lock.commit(&batch).await {
            Ok(version) => {
                cluster.version = Some(version);
                let (_, contractors) = changed(&tx);
                drop(tx);
                // New ids, above anything on the stream: no need to look for them there.
                let appended = cluster.appender.append(&stored, false).await.is_ok();
                let last_id = newest + stored.len() as u64;
                // If the append failed the events wait in the database; the next writer (or
                // the timer leader within a second) appends them. They are stored, so the
                // commands succeeded.
                let _ = cluster
                    .lock
                    .release_appended(appended.then_some(last_id))
                    .await;
                self.committed(&stored, trim_through.is_some());
                self.read_model.update_contractors(&contractors);
                if appended && !stored.is_empty() {
                    // Read your writes: answer once this instance's stream reader has them.
                    self.read_model
                        .wait_reflects(last_id, Duration::from_secs(2))
                        .await;
                }
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

/// The stored form of the events a transaction emitted (ids from `next_event_id`), and how
/// far to trim stored history.
fn stored_events(
    tx: &Txn<'_>,
    now: Timestamp,
    next_event_id: u64,
    added_since_trim: u64,
    history_size: u64,
) -> (Vec<StoredEvent>, Option<u64>) {
    let stored: Vec<StoredEvent> = tx
        .events()
        .iter()
        .zip(next_event_id..)
        .map(|(event, id)| StoredEvent {
            id,
            event_type: event.event_type(),
            lot_id: event.parking_lot_id().map(str::to_owned),
            owner: owner(tx.state(), event),
            data: event.to_json(),
            created_at: now,
        })
        .collect();
    let last_id = next_event_id + stored.len() as u64 - 1;
    let trim_through = (!stored.is_empty() && added_since_trim + stored.len() as u64 >= TRIM_EVERY)
        .then(|| last_id.checked_sub(history_size))
        .flatten();
    (stored, trim_through)
}

/// Answers every command "not stored" (503) without applying it.
fn refuse(commands: &mut Vec<Command>) {
    for command in commands.drain(..) {
        command.refuse();
    }
}

/// The lots and contractors a transaction changed.
fn changed(
    tx: &Txn<'_>,
) -> (
    Vec<crate::domain::Lot>,
    Vec<crate::domain::contractor::Contractor>,
) {
    let mut lots = Vec::new();
    let mut contractors = Vec::new();
    for change in tx.changes() {
        match change {
            Change::Lot(lot) => lots.push(lot.clone()),
            Change::Contractor(c) => contractors.push(c.clone()),
            _ => {}
        }
    }
    (lots, contractors)
}

/// Applies a group of commands in order to the transaction; answers how to finish each
/// accepted one once the group's fate is known. `newest` is the id of the newest event stored
/// before this group.
fn apply(
    tx: &mut Txn<'_>,
    commands: &mut Vec<Command>,
    now: Timestamp,
    newest: u64,
) -> Vec<Finish> {
    let mut finishes: Vec<Finish> = Vec::with_capacity(commands.len());
    for command in commands.drain(..) {
        let finish = match command {
            Command::PutLot {
                id,
                settings,
                reply,
            } => run(tx, reply, |tx| Ok(tx.put_lot(id, settings, now))),
            Command::ReportCounts {
                reports,
                batch,
                reply,
            } => run(tx, reply, |tx| tx.report_counts(&reports, batch, now)),
            Command::ReportCameras {
                reports,
                batch,
                reply,
            } => run(tx, reply, |tx| tx.report_cameras(&reports, batch, now)),
            Command::Gate {
                events,
                batch,
                reply,
            } => run(tx, reply, |tx| tx.gate_events(&events, batch, now)),
            Command::PutContractor {
                id,
                settings,
                reply,
            } => run(tx, reply, |tx| tx.put_contractor(id, settings, now)),
            Command::ListContractors { reply } => {
                // Reflects the commands before it in this group, answered once they are
                // stored; the id is the newest event they publish.
                let event_count = tx.events().len() as u64;
                run(tx, reply, |tx| {
                    let state = tx.state();
                    let mut views: Vec<_> = state
                        .contractors()
                        .map(|c| state.contractor_view(c))
                        .collect();
                    views.sort_by(|a, b| a.contractor_id.cmp(&b.contractor_id));
                    Ok((views, newest + event_count))
                })
            }
            Command::Alert { id, action, reply } => run(tx, reply, |tx| match action {
                Action::Acknowledge => tx.acknowledge_alert(&id, now),
                Action::Resolve => tx.resolve_alert(&id, now),
            }),
            Command::Violation { id, action, reply } => run(tx, reply, |tx| match action {
                Action::Acknowledge => tx.acknowledge_violation(&id, now),
                Action::Resolve => tx.resolve_violation(&id, now),
            }),
            Command::Tick { camera_timeout } => {
                tx.check_cameras(now, camera_timeout);
                tx.check_overstays(now);
                // Answers expire while no gate event comes, too.
                tx.forget_gate_answers(now);
                None
            }
        };
        finishes.extend(finish);
    }
    finishes
}

/// The contractor an event belongs to: an alert's or violation's contractor, or the
/// contractor whose plate a capacity update names. Contractors' streams are filtered by it.
fn owner(state: &State, event: &Event) -> Option<String> {
    match event {
        Event::Alert(alert) => alert.contractor_id.clone(),
        Event::Violation(violation) => violation.contractor_id.clone(),
        Event::CapacityUpdate(update) => update
            .plate_number
            .as_deref()
            .and_then(|plate| state.plate_owner(plate))
            .map(ToString::to_string),
        _ => None,
    }
}

/// The hub's form of a stored event.
pub fn publishable(event: &StoredEvent) -> Arc<PublishedEvent> {
    Arc::new(PublishedEvent::new(
        event.id,
        event.event_type,
        event.lot_id.as_deref().map(Arc::from),
        event.owner.as_deref().map(Arc::from),
        &event.data,
    ))
}
