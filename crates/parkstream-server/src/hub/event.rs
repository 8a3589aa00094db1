//! The event as the hub carries it: filter keys and encoded frames, built once per event and
//! shared by every stream that sends it.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use parkstream_protocol::{sse, EventType};

use crate::domain::Routing;
use crate::store::StoredEvent;

/// An event as the hub carries it: filter keys and the encoded frame(s).
#[derive(Debug)]
pub struct PublishedEvent {
    pub id: u64,
    pub event_type: EventType,
    pub lot: Option<Arc<str>>,
    /// The contractor it belongs to (see [`Routing::owner`]).
    pub owner: Option<Arc<str>>,
    /// The whole SSE frame: `id:`, `event:`, `data:` and the blank line.
    pub frame: Bytes,
    /// The frame other contractors' streams send instead (see [`Routing::redacted`]).
    pub redacted: Option<Bytes>,
    pub published_at: Instant,
}

impl PublishedEvent {
    /// Encodes an event with its id: `data`, and `redacted` when others must not see all of it.
    pub fn new(
        id: u64,
        event_type: EventType,
        lot: Option<Arc<str>>,
        owner: Option<Arc<str>>,
        data: &str,
        redacted: Option<&str>,
    ) -> Self {
        let id_text = id.to_string();
        let encode = |data: &str| {
            let mut frame = Vec::with_capacity(data.len() + 48);
            sse::write_frame(&mut frame, Some(&id_text), event_type.as_str(), data);
            Bytes::from(frame)
        };
        Self {
            id,
            event_type,
            lot,
            owner,
            frame: encode(data),
            redacted: redacted.map(encode),
            published_at: Instant::now(),
        }
    }

    /// Encodes an event read back as data alone (from the database or the cluster's stream),
    /// its redacted form derived by the domain's rule.
    pub fn from_stored(
        id: u64,
        event_type: EventType,
        lot: Option<Arc<str>>,
        owner: Option<Arc<str>>,
        data: &str,
    ) -> Self {
        let redacted = Routing::redacted_data(event_type, data);
        Self::new(id, event_type, lot, owner, data, redacted.as_deref())
    }
}

/// The hub's form of a stored event.
pub fn publishable(event: &StoredEvent) -> Arc<PublishedEvent> {
    Arc::new(PublishedEvent::from_stored(
        event.id,
        event.event_type,
        event.lot_id.as_deref().map(Arc::from),
        event.owner.as_deref().map(Arc::from),
        &event.data,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(frame: &Bytes) -> &str {
        std::str::from_utf8(frame).unwrap()
    }

    #[test]
    fn encodes_the_frame_and_the_redacted_frame_with_one_id() {
        let event = PublishedEvent::new(
            7,
            EventType::CapacityUpdate,
            Some("a".into()),
            Some("acme".into()),
            r#"{"plate":"X1"}"#,
            Some("{}"),
        );
        assert_eq!(
            text(&event.frame),
            "id: 7\nevent: capacity_update\ndata: {\"plate\":\"X1\"}\n\n"
        );
        assert_eq!(
            text(event.redacted.as_ref().unwrap()),
            "id: 7\nevent: capacity_update\ndata: {}\n\n"
        );
    }

    #[test]
    fn a_stored_update_naming_a_plate_gets_a_redacted_frame_and_others_none() {
        let data = r#"{"parkingLotId":"a","totalSlots":10,"occupied":1,"empty":9,"occupancyRate":0.1,"timestamp":"2026-01-01T00:00:00.000Z","event":"vehicle_entry","plateNumber":"X1"}"#;
        let stored = StoredEvent {
            id: 3,
            event_type: EventType::CapacityUpdate,
            lot_id: Some("a".into()),
            owner: Some("acme".into()),
            data: data.into(),
            created_at: parkstream_protocol::Timestamp::now(),
        };
        let event = publishable(&stored);
        assert!(text(&event.frame).contains("X1"));
        let redacted = text(event.redacted.as_ref().expect("redacted"));
        assert!(!redacted.contains("X1") && !redacted.contains("plateNumber"));
        assert!(redacted.contains("\"occupied\":1"));
        assert_eq!(event.owner.as_deref(), Some("acme"));
        let plain = StoredEvent {
            data: data.replace(r#","plateNumber":"X1""#, ""),
            ..stored
        };
        assert!(publishable(&plain).redacted.is_none());
    }
}
