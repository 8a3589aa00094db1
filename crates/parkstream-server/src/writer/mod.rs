//! The writer: the one task that changes state.
//!
//! Handlers send it commands. It takes every command waiting (up to a limit), applies them in
//! order to the in-memory state, stores all their changes and events in one transaction (group
//! commit), and only then publishes the events and answers. If the commit fails, the state is
//! rolled back and every command in the group is answered "not stored". One writer gives every
//! event its id in commit order, so ids on the stream strictly increase, and rules see a
//! consistent state without locks.
//!
//! - `command`: a command and its answer.
//! - `task`: the group-commit loop.
//! - `group`: what one group is made of: its events as stored, the rows it changed.
//! - `local`: committing alone: store, then publish into this instance's hub.
//! - With several instances (`--redis-url`), groups are committed the cluster's way instead
//!   ([`crate::cluster::ClusterWriting`]).

mod command;
mod group;
mod local;
mod task;
#[cfg(test)]
mod tests;

use std::time::Duration;

use parkstream_protocol::api::{ContractorView, LotView};
use parkstream_protocol::events::{Alert, CapacityUpdate, Violation};
use parkstream_protocol::records::ContractorVehicles;
use tokio::sync::{mpsc, oneshot};

use crate::domain::audit::Actor;
use crate::domain::camera::CameraReport;
use crate::domain::contractor::{ContractorId, ContractorSettings, Plate};
use crate::domain::gate::GateEvent;
use crate::domain::gate::Stay;
use crate::domain::{CountReport, DomainError, LotId, LotSettings, State, Txn};
use crate::hub::Hub;
use crate::read_model::ReadModel;
use crate::store::{RollupRetention, Store, WriteError};
use command::{Command, Context};

pub use crate::cluster::ClusterWriting;

/// The longest a request waits for a place in the writer's queue. The queue fills when
/// writers send faster than the streams read (the writer waits for them, see `hub::pacing`);
/// past this wait the writer is answered 503 with Retry-After rather than left hanging.
const QUEUE_WAIT: Duration = Duration::from_secs(2);

/// What an operator does to an alert or a violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Acknowledge,
    Resolve,
}

/// What the writer keeps of the past: the newest `history_size` events (for resuming
/// streams) and occupancy rollups for their retention.
#[derive(Debug, Clone, Copy)]
pub struct Retain {
    pub history_size: u64,
    pub rollups: RollupRetention,
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
        retain: Retain,
        cluster: Option<ClusterWriting>,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(1024);
        let task = task::WriterTask::new(
            rx,
            state,
            store,
            hub,
            read_model,
            next_event_id,
            retain,
            cluster,
        );
        (Self { tx }, tokio::spawn(task.run()))
    }

    /// Applies `apply` in the writer's turn and answers its outcome once stored; `Busy` when
    /// the queue stays full for [`QUEUE_WAIT`].
    async fn request<T: Send + 'static>(
        &self,
        apply: impl FnOnce(&mut Txn<'_>, Context) -> Result<T, DomainError> + Send + 'static,
    ) -> Result<T, WriteError> {
        let (reply, answer) = oneshot::channel();
        let place = tokio::time::timeout(QUEUE_WAIT, self.tx.reserve())
            .await
            .map_err(|_| WriteError::Busy)?
            .map_err(|_| WriteError::NotStored)?;
        place.send(Command::request(reply, apply));
        answer.await.map_err(|_| WriteError::NotStored)?
    }

    /// Creates or updates a lot, audited as `by`'s: its view, and whether it was created.
    ///
    /// # Errors
    /// `NotStored` when the change could not be stored.
    pub async fn put_lot(
        &self,
        id: LotId,
        settings: LotSettings,
        by: Actor,
    ) -> Result<(LotView, bool), WriteError> {
        self.request(move |tx, at| {
            let (view, created) = tx.put_lot(id, settings, at.now);
            let action = if created { "lot.create" } else { "lot.update" };
            let summary = format!("{:?}, {} slots", view.name, view.total_slots);
            tx.audit(&by, action, ("lot", &view.parking_lot_id), summary, at.now);
            Ok((view, created))
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
        self.request(move |tx, at| tx.report_counts(&reports, batch, at.now))
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
        self.request(move |tx, at| tx.report_cameras(&reports, batch, at.now))
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
        self.request(move |tx, at| tx.gate_events(&events, batch, at.now))
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
        by: Actor,
    ) -> Result<(ContractorView, bool), WriteError> {
        self.request(move |tx, at| {
            let (view, created) = tx.put_contractor(id, settings, at.now)?;
            let action = if created {
                "contractor.create"
            } else {
                "contractor.update"
            };
            let summary = format!(
                "{:?}, {} allocations, {} plates, penalty {} per vehicle",
                view.name,
                view.allocations.len(),
                view.plates.len(),
                view.penalty_per_vehicle
            );
            let target = ("contractor", view.contractor_id.as_str());
            tx.audit(&by, action, target, summary, at.now);
            Ok((view, created))
        })
        .await
    }

    /// Where a vehicle is inside now, and the contractor that registered it.
    ///
    /// # Errors
    /// `NotStored` when the writer is gone.
    pub async fn whereabouts(
        &self,
        plate: Plate,
    ) -> Result<(Vec<Stay>, Option<ContractorId>), WriteError> {
        self.request(move |tx, _| Ok(tx.state().whereabouts(&plate)))
            .await
    }

    /// A contractor's vehicles inside now and its allocations against them (only in `lots`
    /// when given); `None` for an unknown contractor.
    ///
    /// # Errors
    /// `NotStored` when the writer is gone.
    pub async fn contractor_vehicles(
        &self,
        id: ContractorId,
        lots: Option<Vec<String>>,
    ) -> Result<Option<ContractorVehicles>, WriteError> {
        self.request(move |tx, _| Ok(tx.state().contractor_vehicles(&id, lots.as_deref())))
            .await
    }

    /// Every contractor, by id, and the newest event id the list reflects: it reflects the
    /// commands before it in its group, and is answered once they are stored.
    ///
    /// # Errors
    /// `NotStored` when the writer is gone.
    pub async fn contractors(&self) -> Result<(Vec<ContractorView>, u64), WriteError> {
        self.request(|tx, at| {
            let state = tx.state();
            let mut views: Vec<_> = state
                .contractors()
                .map(|c| state.contractor_view(c))
                .collect();
            views.sort_by(|a, b| a.contractor_id.cmp(&b.contractor_id));
            // The newest event the commands before it publish.
            Ok((views, at.newest + tx.events().len() as u64))
        })
        .await
    }

    /// Acknowledges or resolves an unresolved alert.
    ///
    /// # Errors
    /// `NotFound` when no unresolved alert has the id, `Conflict` for an invalid transition.
    pub async fn alert(&self, id: String, action: Action, by: Actor) -> Result<Alert, WriteError> {
        self.request(move |tx, at| match action {
            Action::Acknowledge => tx.acknowledge_alert(&id, &by, at.now),
            Action::Resolve => tx.resolve_alert(&id, &by, at.now),
        })
        .await
    }

    /// Acknowledges or resolves an unresolved violation.
    ///
    /// # Errors
    /// `NotFound` when no unresolved violation has the id, `Conflict` for an invalid transition.
    pub async fn violation(
        &self,
        id: String,
        action: Action,
        by: Actor,
    ) -> Result<Violation, WriteError> {
        self.request(move |tx, at| match action {
            Action::Acknowledge => tx.acknowledge_violation(&id, &by, at.now),
            Action::Resolve => tx.resolve_violation(&id, &by, at.now),
        })
        .await
    }

    /// Lets the time-based rules run (silent cameras, overstays) and forgets expired gate
    /// answers. Waits only for room in the queue, not for the outcome.
    pub async fn tick(&self, camera_timeout: Duration) {
        let tick = Command::unanswered(move |tx, at| {
            tx.check_cameras(at.now, camera_timeout);
            tx.check_overstays(at.now);
            // Answers expire while no gate event comes, too.
            tx.forget_gate_answers(at.now);
        });
        let _ = self.tx.send(tick).await;
    }
}
