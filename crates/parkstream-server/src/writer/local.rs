//! Committing alone: store the group, then publish its events into this instance's hub.

use super::group::{Changed, Group};
use crate::hub::{Hub, PublishedEvent};
use crate::read_model::ReadModel;
use crate::store::{Batch, Store, StoreError};

/// Stores `batch`, publishes `group`'s events, then shows the changes in the read model (so
/// any id a reader sees there can be resumed from). On failure nothing is published.
pub(super) async fn commit(
    store: &Store,
    hub: &Hub,
    batch: &Batch<'_>,
    group: &Group,
    changed: &Changed,
    read_model: &ReadModel,
) -> Result<(), StoreError> {
    let count = group.stored.len();
    // A group larger than the hub publishes at once goes out in paced chunks after the
    // commit; a smaller one waits for room first and is published the moment it is durable
    // (see `hub::pacing`).
    let paced = count > hub.chunk_size();
    if !paced {
        hub.make_room(count).await;
    }
    hub.begin_commit(group.last_id);
    let publish = {
        let hub = hub.clone();
        let to_publish = (!paced).then(|| group.clone());
        move || {
            if let Some(group) = to_publish {
                hub.publish(published(&group));
            }
        }
    };
    match store.commit_then(batch, publish).await {
        Ok(()) => {
            if paced {
                hub.publish_paced(published(group).collect()).await;
            }
            read_model.update_contractors(&changed.contractors);
            read_model.update(&changed.lots, hub.newest_id());
            Ok(())
        }
        Err(err) => {
            hub.abandon_commit();
            Err(err)
        }
    }
}

/// The hub's form of a group's events: encoded once here, shared by every stream.
fn published(group: &Group) -> impl Iterator<Item = std::sync::Arc<PublishedEvent>> + '_ {
    group
        .stored
        .iter()
        .zip(&group.redacted)
        .map(|(event, redacted)| {
            std::sync::Arc::new(PublishedEvent::new(
                event.id,
                event.event_type,
                event.lot_id.as_deref().map(Into::into),
                event.owner.as_deref().map(Into::into),
                &event.data,
                redacted.as_deref(),
            ))
        })
}
