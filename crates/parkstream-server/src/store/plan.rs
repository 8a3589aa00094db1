//! What a group commit writes, as plain statements: SQL text (`$N` parameters, accepted by
//! SQLite and PostgreSQL alike) and owned values. Planning is backend-neutral, so the same
//! statements run through sqlx (PostgreSQL, in-memory SQLite) and on SQLite's commit thread
//! (`sqlite_commit.rs`), which needs owned values to take them across threads.

use std::borrow::Cow;

use super::statement::statement;
pub use super::statement::{Param, Statement};
use super::{json_text, Batch};
use crate::domain::contractor::ContractorId;
use crate::domain::Change;

/// Rows per multi-row INSERT: 6 parameters each stays far below SQLite's limit of 32,766
/// and PostgreSQL's of 65,535.
const ROWS_PER_INSERT: usize = 1_000;

/// Every statement of a group commit, in order; run them in one transaction.
pub fn statements(batch: &Batch<'_>) -> Vec<Statement> {
    let mut out = Vec::with_capacity(batch.changes.len() + 2);
    // Contractors first release their plates and allocations, so a plate moving between
    // two contractors in one group never meets itself in the unique index.
    for change in batch.changes {
        if let Change::Contractor(c) = change {
            for sql in [
                "DELETE FROM contractor_allocations WHERE contractor_id = $1",
                "DELETE FROM contractor_plates WHERE contractor_id = $1",
            ] {
                out.push(statement(sql, vec![c.id.as_str().into()]));
            }
        }
    }
    let mut forget_answers_through = None;
    for change in batch.changes {
        match change {
            Change::ForgetGateAnswers { through } => forget_answers_through = Some(*through),
            change => change_statements(change, &mut out),
        }
    }
    for chunk in batch.events.chunks(ROWS_PER_INSERT) {
        let mut sql =
            String::from("INSERT INTO events (id, type, lot_id, owner, data, created_at) VALUES ");
        let mut params = Vec::with_capacity(chunk.len() * 6);
        for (row, event) in chunk.iter().enumerate() {
            let first = row * 6;
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${})",
                first + 1,
                first + 2,
                first + 3,
                first + 4,
                first + 5,
                first + 6
            ));
            params.extend([
                Param::from(event.id as i64),
                event.event_type.as_str().into(),
                event.lot_id.as_deref().into(),
                event.owner.as_deref().into(),
                event.data.as_str().into(),
                event.created_at.to_string().into(),
            ]);
        }
        out.push(Statement {
            sql: Cow::Owned(sql),
            params,
        });
    }
    // Before the trim below: the outbox copies the events it queues from the table.
    out.extend(super::webhooks::outbox_statement(batch.events));
    super::rollup::statements(batch.rollups, &mut out);
    if let Some(through) = batch.trim_through {
        out.push(statement(
            "DELETE FROM events WHERE id <= $1",
            vec![(through as i64).into()],
        ));
    }
    // After the answers inserted above: some of them may be forgotten already.
    if let Some(through) = forget_answers_through {
        out.push(statement(
            "DELETE FROM gate_answers WHERE seq <= $1",
            vec![(through as i64).into()],
        ));
    }
    out
}

fn change_statements(change: &Change, out: &mut Vec<Statement>) {
    match change {
        Change::Lot(lot) => out.push(statement(
            "INSERT INTO lots (id, name, total_slots, warning_threshold, max_stay_seconds,
                               occupied, updated_at, latitude, longitude, time_zone,
                               opening_status, public)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (id) DO UPDATE SET
               name = excluded.name, total_slots = excluded.total_slots,
               warning_threshold = excluded.warning_threshold,
               max_stay_seconds = excluded.max_stay_seconds,
               occupied = excluded.occupied, updated_at = excluded.updated_at,
               latitude = excluded.latitude, longitude = excluded.longitude,
               time_zone = excluded.time_zone, opening_status = excluded.opening_status,
               public = excluded.public",
            vec![
                lot.id.as_str().into(),
                lot.settings.name.as_str().into(),
                i64::from(lot.settings.total_slots).into(),
                lot.settings.warning_threshold.into(),
                lot.settings.max_stay_seconds.map(|s| s as i64).into(),
                i64::from(lot.occupied).into(),
                lot.updated_at.to_string().into(),
                Param::Real(lot.settings.position.map(|(lat, _)| lat)),
                Param::Real(lot.settings.position.map(|(_, lon)| lon)),
                lot.settings.time_zone.as_deref().into(),
                lot.settings.opening_status.map(|s| s.as_str()).into(),
                i64::from(lot.settings.public).into(),
            ],
        )),
        Change::Contractor(c) => {
            out.push(statement(
                "INSERT INTO contractors (id, name, penalty_per_vehicle) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET
                   name = excluded.name, penalty_per_vehicle = excluded.penalty_per_vehicle",
                vec![
                    c.id.as_str().into(),
                    c.name.as_str().into(),
                    (c.penalty_per_vehicle as i64).into(),
                ],
            ));
            for (lot, capacity) in &c.allocations {
                out.push(statement(
                    "INSERT INTO contractor_allocations (contractor_id, lot_id, allocated_capacity)
                     VALUES ($1, $2, $3)",
                    vec![
                        c.id.as_str().into(),
                        lot.as_str().into(),
                        i64::from(*capacity).into(),
                    ],
                ));
            }
            for plate in &c.plates {
                out.push(statement(
                    "INSERT INTO contractor_plates (plate, contractor_id) VALUES ($1, $2)",
                    vec![plate.as_str().into(), c.id.as_str().into()],
                ));
            }
        }
        Change::Stay { lot, plate, stay } => out.push(match stay {
            Some(stay) => statement(
                "INSERT INTO stays (lot_id, plate, entered_at, gate_id, contractor_id,
                                    overstay_flagged)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (lot_id, plate) DO UPDATE SET
                   entered_at = excluded.entered_at, gate_id = excluded.gate_id,
                   contractor_id = excluded.contractor_id,
                   overstay_flagged = excluded.overstay_flagged",
                vec![
                    lot.as_str().into(),
                    plate.as_str().into(),
                    stay.entered_at.to_string().into(),
                    stay.gate_id.as_deref().into(),
                    stay.contractor.as_ref().map(ContractorId::as_str).into(),
                    i64::from(stay.overstay_flagged).into(),
                ],
            ),
            None => statement(
                "DELETE FROM stays WHERE lot_id = $1 AND plate = $2",
                vec![lot.as_str().into(), plate.as_str().into()],
            ),
        }),
        Change::Camera(camera) => out.push(statement(
            "INSERT INTO cameras (lot_id, camera_id, last_seen, offline_alerted)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (lot_id, camera_id) DO UPDATE SET
               last_seen = excluded.last_seen, offline_alerted = excluded.offline_alerted",
            vec![
                camera.lot.as_str().into(),
                camera.camera_id.as_str().into(),
                camera.last_seen.to_string().into(),
                i64::from(camera.offline_alerted).into(),
            ],
        )),
        Change::Alert(record) => {
            let alert = &record.alert;
            out.push(statement(
                "INSERT INTO alerts (id, lot_id, type, subject, status, created_at, data)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, data = excluded.data",
                vec![
                    alert.id.as_str().into(),
                    alert.parking_lot_id.as_str().into(),
                    wire_name(&alert.alert_type).into(),
                    record.key.subject.as_str().into(),
                    wire_name(&alert.status).into(),
                    alert.created_at.to_string().into(),
                    json_text(alert).into(),
                ],
            ));
        }
        Change::Violation(record) => {
            let violation = &record.violation;
            out.push(statement(
                "INSERT INTO violations (id, lot_id, contractor_id, type, status, timestamp,
                                         breach_started_at, data)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status,
                   breach_started_at = excluded.breach_started_at, data = excluded.data",
                vec![
                    violation.id.as_str().into(),
                    violation.parking_lot_id.as_str().into(),
                    violation.contractor_id.as_deref().into(),
                    wire_name(&violation.violation_type).into(),
                    wire_name(&violation.status).into(),
                    violation.timestamp.to_string().into(),
                    Param::Text(record.breach_started_at.map(|t| t.to_string())),
                    json_text(violation).into(),
                ],
            ));
        }
        // A conflict is an answer that expired and was given anew before it was forgotten.
        Change::GateAnswer(answer) => out.push(statement(
            "INSERT INTO gate_answers (lot_id, event_id, seq, timestamp_sent, data, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (lot_id, event_id) DO UPDATE SET
               seq = excluded.seq, timestamp_sent = excluded.timestamp_sent,
               data = excluded.data, created_at = excluded.created_at",
            vec![
                answer.lot.as_str().into(),
                answer.event_id.as_str().into(),
                (answer.kept.seq as i64).into(),
                answer.kept.timestamp_sent.map(i64::from).into(),
                json_text(&answer.kept.answer).into(),
                answer.kept.stored_at.to_string().into(),
            ],
        )),
        Change::Audit(entry) => out.push(statement(
            "INSERT INTO audit (id, at, actor, action, target_kind, target_id, summary)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![
                entry.id.as_str().into(),
                entry.at.to_string().into(),
                entry.actor.as_str().into(),
                entry.action.as_str().into(),
                entry.target.kind.as_str().into(),
                entry.target.id.as_str().into(),
                entry.summary.as_str().into(),
            ],
        )),
        Change::Visit(visit) => out.push(statement(
            "INSERT INTO visits (plate, entered_at, lot_id, gate_id, exited_at, stay_seconds)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (plate, entered_at, lot_id) DO UPDATE SET
               exited_at = excluded.exited_at, stay_seconds = excluded.stay_seconds",
            vec![
                visit.plate.as_str().into(),
                visit.entry.to_string().into(),
                visit.lot.as_str().into(),
                visit.gate.as_deref().into(),
                Param::Text(visit.exit.map(|t| t.to_string())),
                visit.stay_seconds.map(|s| s as i64).into(),
            ],
        )),
        // Planned by `statements`, after every other change.
        Change::ForgetGateAnswers { .. } => {}
    }
}

/// The wire name of a serde enum value (`"pending"`, `"capacity_breach"`), as stored.
fn wire_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        other => unreachable!("not a unit enum: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredEvent;
    use parkstream_protocol::{EventType, Timestamp};

    fn event(id: u64) -> StoredEvent {
        StoredEvent {
            id,
            event_type: EventType::CapacityUpdate,
            lot_id: Some("a".into()),
            owner: None,
            data: "{}".into(),
            created_at: Timestamp::now(),
        }
    }

    #[test]
    fn events_go_in_multi_row_inserts_numbered_across_rows() {
        let events: Vec<_> = (1..=ROWS_PER_INSERT as u64 + 1).map(event).collect();
        let batch = Batch {
            changes: &[],
            events: &events,
            trim_through: Some(7),
            rollups: &Default::default(),
        };
        let planned = statements(&batch);
        assert_eq!(
            planned.len(),
            4,
            "two inserts, the webhook outbox and the trim"
        );
        assert_eq!(planned[0].params.len(), ROWS_PER_INSERT * 6);
        assert!(planned[0].sql.contains("($7, $8, $9, $10, $11, $12)"));
        assert!(planned[0]
            .sql
            .ends_with(&format!("${})", ROWS_PER_INSERT * 6)));
        assert_eq!(planned[1].params.len(), 6);
        assert_eq!(
            planned[1].params[0],
            Param::Int(Some(ROWS_PER_INSERT as i64 + 1))
        );
        // Every event of the batch queued for webhooks, before the trim deletes any.
        assert!(planned[2].sql.contains("INSERT INTO webhook_outbox"));
        assert_eq!(
            planned[2].params,
            vec![
                Param::Int(Some(1)),
                Param::Int(Some(ROWS_PER_INSERT as i64 + 1))
            ]
        );
        assert_eq!(planned[3].params, vec![Param::Int(Some(7))]);
    }
}
