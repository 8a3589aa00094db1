//! Start-up from the database: the store opened, and the hub, the domain state and the read
//! model rebuilt from what it holds.

use std::sync::Arc;

use anyhow::Context;
use parkstream_protocol::api::OccupancySample;
use parkstream_protocol::events::CapacityUpdate;
use parkstream_protocol::EventType;

use crate::config::ServeSettings;
use crate::domain::State;
use crate::hub::{publishable, Hub, HubConfig};
use crate::metrics::Metrics;
use crate::read_model::ReadModel;
use crate::store::{PostgresStore, Store};

/// What the stored state rebuilds, ready for the writer to take over.
pub(super) struct Restored {
    pub store: Store,
    /// The database the instances of a cluster share, with `--redis-url`.
    pub cluster_store: Option<PostgresStore>,
    pub metrics: Arc<Metrics>,
    pub hub: Hub,
    pub state: State,
    pub read_model: ReadModel,
    pub next_event_id: u64,
}

/// Opens the database and rebuilds the replay window, the domain state and the read model
/// (with the occupancy history of the stored events) from it.
pub(super) async fn restore(settings: &ServeSettings) -> anyhow::Result<Restored> {
    let store = Store::open(&settings.database_url)
        .await
        .with_context(|| format!("opening the database {}", settings.redacted_database_url()))?;
    let snapshot = store
        .load(settings.history_size, settings.answer_retention())
        .await
        .context("loading the stored state")?;
    let cluster_store = match (&settings.redis_url, &store) {
        (None, _) => None,
        (Some(_), Store::Postgres(pg)) => Some(pg.clone()),
        (Some(_), Store::Sqlite(_)) => anyhow::bail!(
            "--redis-url runs several instances on one database: DATABASE_URL must be postgres://..."
        ),
    };
    let metrics = Arc::new(Metrics::new());
    let hub = Hub::new(
        HubConfig {
            history_size: usize::try_from(settings.history_size).unwrap_or(usize::MAX),
            max_clients: settings.max_clients,
            client_buffer: usize::try_from(settings.client_buffer).unwrap_or(usize::MAX),
        },
        snapshot.next_event_id - 1,
        snapshot.events.iter().map(publishable),
        metrics.clone(),
    );
    if cluster_store.is_some() {
        hub.expect_remote_events();
    }
    let state = State::from_loaded(
        snapshot.state,
        settings.answer_retention(),
        parkstream_protocol::Timestamp::now(),
    );
    metrics.idempotency_answers.set(state.answers_kept() as i64);
    metrics.set_open(state.open_alerts(), state.open_violations());
    let read_model = ReadModel::new(state.lots(), hub.newest_id());
    read_model.update_contractors(state.contractors());
    read_model.record_history(snapshot.events.iter().filter_map(|event| {
        let update: CapacityUpdate = serde_json::from_str(&event.data)
            .ok()
            .filter(|_| event.event_type == EventType::CapacityUpdate)?;
        let sample = OccupancySample {
            t: event.created_at,
            occupied: update.occupied,
            total_slots: update.total_slots,
        };
        Some((update.parking_lot_id, sample))
    }));
    Ok(Restored {
        store,
        cluster_store,
        metrics,
        hub,
        state,
        read_model,
        next_event_id: snapshot.next_event_id,
    })
}
