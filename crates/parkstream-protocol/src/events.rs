//! The payloads of the SSE stream, one type per event name (docs/protocol.md, "Events").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// The `event:` names of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    CapacityUpdate,
    Alert,
    Violation,
    Connected,
    Reset,
    Ping,
}

impl EventType {
    /// Every event type, in a fixed order (the bit order of filter masks).
    pub const ALL: [EventType; 6] = [
        EventType::CapacityUpdate,
        EventType::Alert,
        EventType::Violation,
        EventType::Connected,
        EventType::Reset,
        EventType::Ping,
    ];

    /// The name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::CapacityUpdate => "capacity_update",
            EventType::Alert => "alert",
            EventType::Violation => "violation",
            EventType::Connected => "connected",
            EventType::Reset => "reset",
            EventType::Ping => "ping",
        }
    }

    /// Whether events of this type are stored, carry an `id:` and can be filtered with `types=`.
    /// `connected`, `reset` and `ping` are about the connection itself.
    pub const fn is_domain_event(self) -> bool {
        matches!(
            self,
            EventType::CapacityUpdate | EventType::Alert | EventType::Violation
        )
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`EventType`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEventType(pub String);

impl fmt::Display for UnknownEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown event type {:?}", self.0)
    }
}

impl std::error::Error for UnknownEventType {}

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.to_owned()))
    }
}

/// What a plate reader saw at a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GateEventKind {
    VehicleEntry,
    VehicleExit,
}

/// `capacity_update`: a lot's occupancy changed (or was reported).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CapacityUpdate {
    pub parking_lot_id: String,
    pub total_slots: u32,
    pub occupied: u32,
    /// `max(totalSlots - occupied, 0)`.
    pub empty: u32,
    /// `occupied / totalSlots`, 0 when `totalSlots` is 0.
    pub occupancy_rate: f64,
    /// When the change was observed.
    pub timestamp: Timestamp,
    /// Present only when a gate event caused the update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<GateEventKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_id: Option<String>,
    /// Seconds parked, only on `vehicle_exit` when the entry was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
}

impl CapacityUpdate {
    /// The derived fields (`empty`, `occupancyRate`) computed from the counts, as docs/protocol.md
    /// defines them.
    pub fn derived(total_slots: u32, occupied: u32) -> (u32, f64) {
        let empty = total_slots.saturating_sub(occupied);
        let rate = if total_slots == 0 {
            0.0
        } else {
            f64::from(occupied) / f64::from(total_slots)
        };
        (empty, rate)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertType {
    CapacityWarning,
    CapacityBreach,
    CameraOffline,
    ViolationDetected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Active,
    Acknowledged,
    Resolved,
}

/// `alert`: an alert was raised or changed status (same `_id` on every change).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "type")]
    pub alert_type: AlertType,
    pub severity: Severity,
    pub parking_lot_id: String,
    pub contractor_id: Option<String>,
    pub message: String,
    pub status: AlertStatus,
    pub created_at: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// Who acknowledged it (the token's `sub`), once someone did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    /// Who resolved it, when an operator did (capacity alerts also resolve themselves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
    /// The note of the latest acknowledgement or resolution that gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ViolationType {
    Overparking,
    UnauthorizedVehicle,
    CapacityBreach,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ViolationStatus {
    Pending,
    Acknowledged,
    Resolved,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ViolationDetails {
    pub allocated_capacity: u32,
    pub actual_occupancy: u32,
    pub excess_vehicles: u32,
    /// The breach's length in seconds once it has ended; 0 while it lasts.
    pub duration: u64,
}

/// `violation`: a contractor violation was detected or changed status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    #[serde(rename = "_id")]
    pub id: String,
    /// The contractor responsible; `null` for a plate no contractor registered.
    pub contractor_id: Option<String>,
    pub parking_lot_id: String,
    pub violation_type: ViolationType,
    pub timestamp: Timestamp,
    pub details: ViolationDetails,
    pub penalty: u64,
    pub status: ViolationStatus,
    /// The vehicle, for `unauthorized_vehicle` and `overparking` (absent for `capacity_breach`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate_number: Option<String>,
    /// Who acknowledged it (the token's `sub`), once someone did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    /// Who resolved it, once someone did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
    /// The note of the latest acknowledgement or resolution that gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `connected`: the first event of every stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Connected {
    pub client_id: String,
    pub server_time: Timestamp,
    /// Whether the server is replaying from the client's `Last-Event-ID`.
    pub resumed: bool,
}

/// `reset`: the server cannot replay from the client's `Last-Event-ID`; reload the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reset {
    pub reason: String,
}

impl Reset {
    /// The reason given for an id the server cannot place (docs/protocol.md, "The stream").
    pub const HISTORY_UNAVAILABLE: &'static str = "history_unavailable";
}

/// `ping`: keep-alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ping {
    pub timestamp: Timestamp,
}

/// Any event of the stream, typed.
///
/// Built from an SSE frame's event name and data with [`Event::from_parts`]:
///
/// ```
/// use parkstream_protocol::events::Event;
/// use parkstream_protocol::EventType;
///
/// let event_type: EventType = "capacity_update".parse().unwrap();
/// let data = r#"{"parkingLotId":"lot_1","totalSlots":100,"occupied":42,"empty":58,
///     "occupancyRate":0.42,"timestamp":"2025-01-01T00:00:00.000Z"}"#;
/// match Event::from_parts(event_type, data).unwrap() {
///     Event::CapacityUpdate(update) => {
///         assert_eq!(update.parking_lot_id, "lot_1");
///         assert_eq!(update.occupied, 42);
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    CapacityUpdate(CapacityUpdate),
    Alert(Alert),
    Violation(Violation),
    Connected(Connected),
    Reset(Reset),
    Ping(Ping),
}

impl Event {
    /// The type of this event.
    pub fn event_type(&self) -> EventType {
        match self {
            Event::CapacityUpdate(_) => EventType::CapacityUpdate,
            Event::Alert(_) => EventType::Alert,
            Event::Violation(_) => EventType::Violation,
            Event::Connected(_) => EventType::Connected,
            Event::Reset(_) => EventType::Reset,
            Event::Ping(_) => EventType::Ping,
        }
    }

    /// The lot the event is about, for events that are about one.
    pub fn parking_lot_id(&self) -> Option<&str> {
        match self {
            Event::CapacityUpdate(e) => Some(&e.parking_lot_id),
            Event::Alert(e) => Some(&e.parking_lot_id),
            Event::Violation(e) => Some(&e.parking_lot_id),
            _ => None,
        }
    }

    /// Parses the `data` of an event named `event_type`.
    ///
    /// # Errors
    /// When the data does not have the shape of that type.
    pub fn from_parts(event_type: EventType, data: &str) -> Result<Self, serde_json::Error> {
        Ok(match event_type {
            EventType::CapacityUpdate => Event::CapacityUpdate(serde_json::from_str(data)?),
            EventType::Alert => Event::Alert(serde_json::from_str(data)?),
            EventType::Violation => Event::Violation(serde_json::from_str(data)?),
            EventType::Connected => Event::Connected(serde_json::from_str(data)?),
            EventType::Reset => Event::Reset(serde_json::from_str(data)?),
            EventType::Ping => Event::Ping(serde_json::from_str(data)?),
        })
    }

    /// The event's `data`, as one line of JSON.
    pub fn to_json(&self) -> String {
        let result = match self {
            Event::CapacityUpdate(e) => serde_json::to_string(e),
            Event::Alert(e) => serde_json::to_string(e),
            Event::Violation(e) => serde_json::to_string(e),
            Event::Connected(e) => serde_json::to_string(e),
            Event::Reset(e) => serde_json::to_string(e),
            Event::Ping(e) => serde_json::to_string(e),
        };
        // These types have string keys and no maps with non-string keys: serializing cannot fail.
        result.expect("event types always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>().unwrap(), t);
        }
        assert!("capacity-update".parse::<EventType>().is_err());
    }

    #[test]
    fn capacity_update_has_the_spec_shape() {
        let (empty, rate) = CapacityUpdate::derived(100, 75);
        let update = CapacityUpdate {
            parking_lot_id: "lot_123".into(),
            total_slots: 100,
            occupied: 75,
            empty,
            occupancy_rate: rate,
            timestamp: "2026-11-26T10:00:00Z".parse().unwrap(),
            event: Some(GateEventKind::VehicleEntry),
            plate_number: Some("KA01AB1234".into()),
            gate_id: Some("north".into()),
            duration: None,
        };
        assert_eq!(
            serde_json::to_value(&update).unwrap(),
            serde_json::json!({"parkingLotId": "lot_123", "totalSlots": 100, "occupied": 75,
                "empty": 25, "occupancyRate": 0.75, "timestamp": "2026-11-26T10:00:00.000Z",
                "event": "vehicle_entry", "plateNumber": "KA01AB1234", "gateId": "north"})
        );
    }

    #[test]
    fn derived_fields_follow_the_spec() {
        assert_eq!(CapacityUpdate::derived(0, 0), (0, 0.0));
        assert_eq!(CapacityUpdate::derived(10, 12), (0, 1.2));
        assert_eq!(CapacityUpdate::derived(4, 1), (3, 0.25));
    }

    #[test]
    fn alert_uses_underscore_id_and_nulls() {
        let alert = Alert {
            id: "alert_1".into(),
            alert_type: AlertType::CapacityWarning,
            severity: Severity::Medium,
            parking_lot_id: "lot_123".into(),
            contractor_id: None,
            message: "Parking lot is 90% full".into(),
            status: AlertStatus::Active,
            created_at: "2026-11-26T10:00:00Z".parse().unwrap(),
            acknowledged_at: None,
            resolved_at: None,
            acknowledged_by: None,
            resolved_by: None,
            note: None,
        };
        let json = serde_json::to_value(&alert).unwrap();
        assert_eq!(json["_id"], "alert_1");
        assert_eq!(json["type"], "capacity_warning");
        assert!(json["contractorId"].is_null());
        assert!(json["resolvedAt"].is_null());
        assert!(
            json.get("acknowledgedBy").is_none() && json.get("note").is_none(),
            "who and why appear only once known, so older clients see the shape they know"
        );
        let back = Event::from_parts(EventType::Alert, &json.to_string()).unwrap();
        assert_eq!(back, Event::Alert(alert));
    }
}
