//! The query of a stored occupancy history (`lot`, `from`, `to`, `step`), parsed and checked
//! against what is kept, before anything is read.

use std::time::Duration;

use parkstream_protocol::Timestamp;

use super::params::Params;
use crate::error::ApiError;
use crate::store::{RollupRetention, Step};

/// Without `step`, ranges up to this long get minutes, longer ones hours (a day of minutes
/// is 1,440 points, enough for any chart).
const MINUTES_UP_TO: Duration = Duration::from_secs(86_400);

/// Whether the query asks for stored history (any of `from`, `to`, `step`) rather than the
/// recent samples kept in memory.
pub(super) fn wants_stored(params: &Params) -> bool {
    ["from", "to", "step"]
        .iter()
        .any(|name| params.get(name).is_some())
}

/// A checked query of stored history.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RangeQuery {
    pub lot: String,
    pub from: Timestamp,
    pub to: Timestamp,
    pub step: Step,
}

impl RangeQuery {
    /// Reads `lot`, `from`, `to` (default: now) and `step` (default: by the range's length).
    ///
    /// # Errors
    /// 422 naming the parameter: a missing lot or `from`, a timestamp that is not RFC 3339,
    /// `from` not before `to`, an unknown step, a range longer than its step is kept, or
    /// `minutes` besides.
    pub(super) fn parse(
        params: &Params,
        now: Timestamp,
        kept: RollupRetention,
    ) -> Result<Self, ApiError> {
        if params.get("minutes").is_some() {
            return Err(ApiError::invalid(
                "minutes",
                "minutes is for recent history; use from and to with step",
            ));
        }
        let lot = params
            .text("lot")
            .ok_or_else(|| ApiError::invalid("lot", "lot is required with from, to or step"))?;
        let from = timestamp(params, "from")?
            .ok_or_else(|| ApiError::invalid("from", "from is required with to or step"))?;
        let to = timestamp(params, "to")?.unwrap_or(now);
        if from >= to {
            return Err(ApiError::invalid("from", "from must be before to"));
        }
        let span = Duration::from_millis((to.unix_millis() - from.unix_millis()) as u64);
        let step = match params.get("step").filter(|s| !s.is_empty()) {
            None if span <= MINUTES_UP_TO => Step::Minute,
            None => Step::Hour,
            Some(raw) => Step::ALL
                .into_iter()
                .find(|step| step.as_str() == raw)
                .ok_or_else(|| ApiError::invalid("step", "step must be 1m or 1h"))?,
        };
        if span > kept.of(step) {
            return Err(ApiError::invalid(
                "to",
                format!(
                    "a range at step {} may span at most {} hours (what is kept)",
                    step.as_str(),
                    kept.of(step).as_secs() / 3600
                ),
            ));
        }
        Ok(Self {
            lot,
            from,
            to,
            step,
        })
    }
}

fn timestamp(params: &Params, name: &str) -> Result<Option<Timestamp>, ApiError> {
    match params.get(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(raw) => raw.parse().map(Some).map_err(|_| {
            ApiError::invalid(
                name,
                format!("{name} must be an RFC 3339 time such as 2026-11-26T10:00:00Z"),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<RangeQuery, String> {
        let pairs = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let now = "2026-11-26T12:00:00Z".parse().unwrap();
        RangeQuery::parse(&Params::from_pairs(pairs), now, RollupRetention::default()).map_err(
            |err| match err {
                ApiError::Invalid { field, .. } => field.unwrap_or_default(),
                other => panic!("{other:?}"),
            },
        )
    }

    #[test]
    fn the_step_follows_the_range_when_omitted() {
        let day = parse("lot=a&from=2026-11-25T12:00:00Z").unwrap();
        assert_eq!(day.step, Step::Minute);
        assert_eq!(day.to.to_string(), "2026-11-26T12:00:00.000Z");
        let week = parse("lot=a&from=2026-11-19T12:00:00Z").unwrap();
        assert_eq!(week.step, Step::Hour);
        let minutes = parse("lot=a&from=2026-11-19T12:00:00Z&step=1m").unwrap();
        assert_eq!(minutes.step, Step::Minute);
    }

    #[test]
    fn each_bad_query_names_its_parameter() {
        assert_eq!(parse("from=2026-11-25T12:00:00Z").unwrap_err(), "lot");
        assert_eq!(parse("lot=a&to=2026-11-25T12:00:00Z").unwrap_err(), "from");
        assert_eq!(parse("lot=a&from=yesterday").unwrap_err(), "from");
        assert_eq!(
            parse("lot=a&from=2026-11-25T12:00:00Z&to=2026-11-25T11:00:00Z").unwrap_err(),
            "from"
        );
        assert_eq!(
            parse("lot=a&from=2026-11-25T12:00:00Z&step=5m").unwrap_err(),
            "step"
        );
        assert_eq!(
            parse("lot=a&from=2026-11-18T11:00:00Z&step=1m").unwrap_err(),
            "to"
        );
        assert_eq!(parse("lot=a&from=2025-10-01T00:00:00Z").unwrap_err(), "to");
        assert_eq!(
            parse("lot=a&from=2026-11-25T12:00:00Z&minutes=5").unwrap_err(),
            "minutes"
        );
    }
}
