//! One message from the broker, from payload to outcome: the same parsing, validation, rules
//! and idempotency as `POST /api/monitor/lot` and `/api/monitor/gate`, with the lot taken from
//! the topic.

use parkstream_protocol::events::CapacityUpdate;
use parkstream_protocol::Timestamp;
use serde_json::{json, Value};

use crate::config::TopicPattern;
use crate::domain::camera::CameraReport;
use crate::domain::gate::GateEvent;
use crate::domain::DomainError;
use crate::error::ApiError;
use crate::http::{parse_items, parse_json, OneOrMany};
use crate::store::WriteError;
use crate::writer::Writer;

/// What became of a message.
#[derive(Debug)]
pub enum Outcome {
    /// Stored (or a replay of a stored report, by `eventId`): acknowledge it.
    Stored,
    /// Refused for good: acknowledge it and publish this to the dead-letter topic.
    Refused(Value),
    /// Not stored (the database failed, or the server is stopping): leave it unacknowledged,
    /// so the broker delivers it again.
    NotStored,
}

/// Which reports a subscription carries.
#[derive(Debug, Clone)]
pub struct Topics {
    pub counts: TopicPattern,
    pub gates: TopicPattern,
}

/// Applies the message published to `topic`.
pub async fn handle(writer: &Writer, topics: &Topics, topic: &str, payload: &[u8]) -> Outcome {
    let applied = if let Some(lot) = topics.counts.lot(topic) {
        apply(payload, lot, CameraReport::parse, |reports, batch| {
            writer.report_cameras(reports, batch)
        })
        .await
    } else if let Some(lot) = topics.gates.lot(topic) {
        apply(payload, lot, GateEvent::parse, |events, batch| {
            writer.gate_events(events, batch)
        })
        .await
    } else {
        Err(Refusal::Refused(ApiError::BadRequest {
            code: "unknown_topic",
            message: format!(
                "the topic matches neither {} nor {}",
                topics.counts, topics.gates
            ),
            field: None,
        }))
    };
    match applied {
        Ok(()) => Outcome::Stored,
        Err(Refusal::NotStored) => Outcome::NotStored,
        Err(Refusal::Refused(error)) => Outcome::Refused(dead_letter(topic, payload, &error)),
    }
}

enum Refusal {
    Refused(ApiError),
    NotStored,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Refusal::Refused(error)
    }
}

impl From<DomainError> for Refusal {
    fn from(error: DomainError) -> Self {
        Refusal::Refused(error.into())
    }
}

/// Parses `payload` (one report or an array, each of the lot `lot`), checks each item with
/// `parse` and hands them to `store` as one command, as the HTTP endpoints do.
async fn apply<T, U, F>(
    payload: &[u8],
    lot: &str,
    mut parse: impl FnMut(T, Timestamp) -> Result<U, DomainError>,
    store: impl FnOnce(Vec<U>, bool) -> F,
) -> Result<(), Refusal>
where
    T: serde::de::DeserializeOwned,
    F: std::future::Future<Output = Result<Vec<CapacityUpdate>, WriteError>>,
{
    let body = with_lot(payload, lot)?;
    let (items, batch) = parse_json::<OneOrMany<T>>(&body)?.into_vec();
    let items = parse_items(items, batch, &mut parse)?;
    if items.is_empty() {
        return Ok(());
    }
    match store(items, batch).await {
        Ok(_) => Ok(()),
        Err(WriteError::Refused(error)) => Err(error.into()),
        Err(WriteError::NotStored | WriteError::Busy) => Err(Refusal::NotStored),
    }
}

/// The payload with `parkingLotId` set to the topic's lot in each report that leaves it out;
/// one that names another lot is refused.
fn with_lot(payload: &[u8], lot: &str) -> Result<Vec<u8>, ApiError> {
    let Ok(mut value) = serde_json::from_slice::<Value>(payload) else {
        // Not JSON: the parser names the error the way the HTTP endpoints do.
        return Err(parse_json::<Value>(payload).expect_err("not JSON"));
    };
    let mismatch = |field: String| ApiError::Invalid {
        message: format!("names another lot than the topic's ({lot})"),
        field: Some(field),
    };
    match &mut value {
        Value::Object(report) => {
            set_lot(report, lot).map_err(|()| mismatch("parkingLotId".into()))?
        }
        Value::Array(reports) => {
            for (i, report) in reports.iter_mut().enumerate() {
                if let Value::Object(report) = report {
                    set_lot(report, lot).map_err(|()| mismatch(format!("[{i}].parkingLotId")))?;
                }
            }
        }
        _ => {}
    }
    Ok(serde_json::to_vec(&value).expect("a JSON value serializes"))
}

fn set_lot(report: &mut serde_json::Map<String, Value>, lot: &str) -> Result<(), ()> {
    match report.get("parkingLotId") {
        None => {
            report.insert("parkingLotId".into(), Value::String(lot.to_owned()));
            Ok(())
        }
        Some(Value::String(named)) if named == lot => Ok(()),
        Some(_) => Err(()),
    }
}

/// What goes to the dead-letter topic: where the message came from, the message (as text, cut
/// at 64 KiB), and the error in the API's error shape.
fn dead_letter(topic: &str, payload: &[u8], error: &ApiError) -> Value {
    const MAX_PAYLOAD: usize = 64 * 1024;
    let text = String::from_utf8_lossy(&payload[..payload.len().min(MAX_PAYLOAD)]);
    json!({
        "topic": topic,
        "payload": text,
        "error": error.body().error,
        "receivedAt": Timestamp::now(),
    })
}
