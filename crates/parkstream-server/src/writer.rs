//! The writer: the one task that changes state.
//!
//! Handlers send it commands. It takes every command waiting (up to a limit), applies them in
//! order to the in-memory state, stores all their changes and events in one transaction (group
//! commit), and only then publishes the events and answers. If the commit fails, the state is
//! rolled back and every command in the group is answered "not stored". One writer gives every
//! event its id in commit order, so ids on the stream strictly increase, and rules see a
//! consistent state without locks.

use std::sync::Arc;
use std::time::Duration;

use parkstream_protocol::api::{ContractorView, LotView};
use parkstream_protocol::events::{Alert, CapacityUpdate, Event, Violation};
use parkstream_protocol::Timestamp;
use tokio::sync::{mpsc, oneshot};

use crate::domain::camera::CameraReport;
use crate::domain::contractor::{ContractorId, ContractorSettings};
use crate::domain::gate::GateEvent;
use crate::domain::{Change, CountReport, DomainError, LotId, LotSettings, State, Txn};
use crate::hub::{Hub, PublishedEvent};
use crate::read_model::ReadModel;
use crate::store::{Batch, Store, StoredEvent};

/// Most commands stored in one transaction.
const MAX_GROUP: usize = 512;
/// Trim stored history once this many events were added since the last trim.
const TRIM_EVERY: u64 = 1_000;

type Reply<T> = oneshot::Sender<Result<T, DomainError>>;

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
    /// Time passed: check silent cameras and overstays.
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

    /// Applies lot monitor reports (counts, cameras alive), all or none.
    ///
    /// # Errors
    /// `NotFound` for an unknown lot; `NotStored` when the change could not be stored.
    pub async fn report_cameras(
        &self,
        reports: Vec<CameraReport>,
        batch: bool,
    ) -> Result<Vec<CapacityUpdate>, DomainError> {
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
    ) -> Result<Vec<CapacityUpdate>, DomainError> {
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
    ) -> Result<(ContractorView, bool), DomainError> {
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
    pub async fn contractors(&self) -> Result<(Vec<ContractorView>, u64), DomainError> {
        self.send(|reply| Command::ListContractors { reply }).await
    }

    /// Acknowledges or resolves an unresolved alert.
    ///
    /// # Errors
    /// `NotFound` when no unresolved alert has the id, `Conflict` for an invalid transition.
    pub async fn alert(&self, id: String, action: Action) -> Result<Alert, DomainError> {
        self.send(|reply| Command::Alert { id, action, reply })
            .await
    }

    /// Acknowledges or resolves an unresolved violation.
    ///
    /// # Errors
    /// `NotFound` when no unresolved violation has the id, `Conflict` for an invalid transition.
    pub async fn violation(&self, id: String, action: Action) -> Result<Violation, DomainError> {
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
                Err(DomainError::NotStored)
            });
        })),
        Err(err) => {
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
        let newest = self.hub.newest_id();
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
                } => run(&mut tx, reply, |tx| tx.report_counts(&reports, batch, now)),
                Command::ReportCameras {
                    reports,
                    batch,
                    reply,
                } => run(&mut tx, reply, |tx| tx.report_cameras(&reports, batch, now)),
                Command::Gate {
                    events,
                    batch,
                    reply,
                } => run(&mut tx, reply, |tx| tx.gate_events(&events, batch, now)),
                Command::PutContractor {
                    id,
                    settings,
                    reply,
                } => run(&mut tx, reply, |tx| tx.put_contractor(id, settings, now)),
                Command::ListContractors { reply } => {
                    // Reflects the commands before it in this group, answered once they are
                    // stored; the id is the newest event they publish.
                    let event_count = tx.events().len() as u64;
                    run(&mut tx, reply, |tx| {
                        let state = tx.state();
                        let mut views: Vec<_> = state
                            .contractors()
                            .map(|c| state.contractor_view(c))
                            .collect();
                        views.sort_by(|a, b| a.contractor_id.cmp(&b.contractor_id));
                        Ok((views, newest + event_count))
                    })
                }
                Command::Alert { id, action, reply } => run(&mut tx, reply, |tx| match action {
                    Action::Acknowledge => tx.acknowledge_alert(&id, now),
                    Action::Resolve => tx.resolve_alert(&id, now),
                }),
                Command::Violation { id, action, reply } => {
                    run(&mut tx, reply, |tx| match action {
                        Action::Acknowledge => tx.acknowledge_violation(&id, now),
                        Action::Resolve => tx.resolve_violation(&id, now),
                    })
                }
                Command::Tick { camera_timeout } => {
                    tx.check_cameras(now, camera_timeout);
                    tx.check_overstays(now);
                    None
                }
            };
            finishes.extend(finish);
        }
        if tx.changes().is_empty() && tx.events().is_empty() {
            drop(tx);
            finishes.into_iter().for_each(|finish| finish(true));
            return;
        }

        let first_id = self.next_event_id;
        let stored: Vec<StoredEvent> = tx
            .events()
            .iter()
            .zip(first_id..)
            .map(|(event, id)| StoredEvent {
                id,
                event_type: event.event_type(),
                lot_id: event.parking_lot_id().map(str::to_owned),
                owner: owner(tx.state(), event),
                data: event.to_json(),
                created_at: now,
            })
            .collect();
        let last_id = first_id + stored.len() as u64 - 1;
        let trim_through = (self.added_since_trim + stored.len() as u64 >= TRIM_EVERY)
            .then(|| last_id.checked_sub(self.history_size))
            .flatten();
        let batch = Batch {
            changes: tx.changes(),
            events: &stored,
            trim_through,
        };
        self.hub.begin_commit(last_id);
        match self.store.commit(&batch).await {
            Ok(()) => {
                let lots: Vec<_> = tx
                    .changes()
                    .iter()
                    .filter_map(|change| match change {
                        Change::Lot(lot) => Some(lot.clone()),
                        _ => None,
                    })
                    .collect();
                let contractors: Vec<_> = tx
                    .changes()
                    .iter()
                    .filter_map(|change| match change {
                        Change::Contractor(c) => Some(c.clone()),
                        _ => None,
                    })
                    .collect();
                drop(tx);
                self.next_event_id = last_id + 1;
                self.added_since_trim = if trim_through.is_some() {
                    0
                } else {
                    self.added_since_trim + stored.len() as u64
                };
                self.hub.publish(stored.iter().map(publishable));
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
