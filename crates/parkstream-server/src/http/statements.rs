//! `GET /api/contractors/{id}/statement`: a contractor's violations in a period and their
//! penalties, as JSON or (with `Accept: text/csv`) as a CSV file for accounting.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use parkstream_protocol::api::ErrorBody;
use parkstream_protocol::events::Violation;
use parkstream_protocol::records::{Statement, StatementLine, StatementTotals};
use parkstream_protocol::Timestamp;

use super::params::Params;
use super::path::PathId;
use super::AppState;
use crate::auth::Principal;
use crate::domain::audit::wire_name;
use crate::error::ApiError;

/// The longest period one statement covers (a leap year).
const MAX_DAYS: u64 = 366;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/contractors/{id}/statement", get(statement))
}

#[utoipa::path(
    get,
    path = "/api/contractors/{id}/statement",
    operation_id = "getContractorStatement",
    tag = "contractors",
    summary = "A contractor's violations and penalties in a period (JSON or CSV)",
    params(
        ("from" = String, Query, format = DateTime, description = "Violations detected at or after this time (RFC 3339)"),
        ("to" = String, Query, format = DateTime, description = "Violations detected at or before this time (RFC 3339); at most 366 days after `from`")
    ),
    responses(
        (status = 200, description = "The statement; with `Accept: text/csv`, one CSV row per violation", content(
            (Statement = "application/json"),
            (String = "text/csv")
        )),
        (status = 403, description = "A contractor asking for another's statement", body = ErrorBody),
        (status = 404, description = "Unknown contractor", body = ErrorBody),
        (status = 422, description = "`from` or `to` missing or invalid, `from` after `to`, or more than 366 days apart", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody)
    )
)]
/// Admins and operators read any contractor's statement; a contractor its own.
async fn statement(
    principal: Principal,
    State(app): State<AppState>,
    PathId(id): PathId,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !principal.reads_accounts_of(&id) {
        return Err(ApiError::Forbidden(
            "statements are for admins, operators and the contractor itself".into(),
        ));
    }
    let (from, to) = period(&params)?;
    let (contractors, _) = app.writer.contractors().await?;
    if !contractors.iter().any(|c| c.contractor_id == id) {
        return Err(ApiError::NotFound {
            message: format!("contractor {} does not exist", crate::domain::quote(&id)),
            field: Some("id".into()),
        });
    }
    let violations = app.store.contractor_violations(&id, from, to).await?;
    let mut statement = of(id, from, to, violations);
    statement.currency = app.currency.as_ref().map(|c| c.as_str().to_owned());
    if wants_csv(&headers) {
        Ok(csv_response(&statement))
    } else {
        Ok(Json(statement).into_response())
    }
}

/// `from` and `to`: both required, in order, at most [`MAX_DAYS`] apart.
fn period(params: &Params) -> Result<(Timestamp, Timestamp), ApiError> {
    let (from, to) = params.period()?;
    let missing = |name: &str| ApiError::invalid(name, format!("{name} is required (RFC 3339)"));
    let from = from.ok_or_else(|| missing("from"))?;
    let to = to.ok_or_else(|| missing("to"))?;
    if to.seconds_since(from) > MAX_DAYS * 86_400 {
        return Err(ApiError::invalid(
            "to",
            format!("a statement covers at most {MAX_DAYS} days"),
        ));
    }
    Ok((from, to))
}

/// The statement of `violations`, with their totals.
fn of(
    contractor_id: String,
    from: Timestamp,
    to: Timestamp,
    violations: Vec<Violation>,
) -> Statement {
    let mut totals = StatementTotals::default();
    let lines: Vec<StatementLine> = violations
        .into_iter()
        .map(|v| {
            let kind = wire_name(&v.violation_type);
            totals.penalty = totals.penalty.saturating_add(v.penalty);
            *totals.by_type.entry(kind).or_default() += v.penalty;
            *totals.by_lot.entry(v.parking_lot_id.clone()).or_default() += v.penalty;
            StatementLine {
                violation_id: v.id,
                violation_type: v.violation_type,
                lot: v.parking_lot_id,
                timestamp: v.timestamp,
                penalty: v.penalty,
                plate_number: v.plate_number,
                status: wire_name(&v.status),
            }
        })
        .collect();
    Statement {
        contractor_id,
        from,
        to,
        violations: lines,
        totals,
        currency: None,
    }
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("text/csv")
        })
}

/// One CSV field, quoted as RFC 4180 says when it holds a comma, a quote or a line break.
fn field(value: &str) -> String {
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// The statement as CSV: a header row, then one row per violation, CRLF line ends.
fn csv_of(statement: &Statement) -> String {
    let mut out = String::from("violationId,type,lot,timestamp,plateNumber,status,penalty\r\n");
    for line in &statement.violations {
        let row = [
            field(&line.violation_id),
            field(&wire_name(&line.violation_type)),
            field(&line.lot),
            field(&line.timestamp.to_string()),
            field(line.plate_number.as_deref().unwrap_or("")),
            field(&line.status),
            line.penalty.to_string(),
        ];
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_response(statement: &Statement) -> Response {
    // Colons are not allowed in file names everywhere: the times lose theirs.
    let name = format!(
        "statement-{}-{}-{}.csv",
        statement.contractor_id,
        statement.from.to_string().replace(':', ""),
        statement.to.to_string().replace(':', "")
    );
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv_of(statement),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed_and_quotes_doubled() {
        assert_eq!(field("lot_1"), "lot_1");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
    }
}
