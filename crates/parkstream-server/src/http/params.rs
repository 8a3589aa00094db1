//! Query parameters, parsed into our error shape.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use parkstream_protocol::Timestamp;

use crate::error::ApiError;

/// Default and largest `limit` of a list.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1_000;

/// The query string as name/value pairs; a repeated name's last value wins.
#[derive(Debug)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_query("query", "the query string is malformed"))?;
        Ok(Params(pairs))
    }
}

impl Params {
    #[cfg(test)]
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Params(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A non-empty parameter.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    /// `limit`: 1 to 1,000, default 100.
    ///
    /// # Errors
    /// 400 when it is not a whole number in range.
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.get("limit").filter(|v| !v.is_empty()) {
            None => Ok(DEFAULT_LIMIT),
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_query("limit", format!("limit must be 1 to {MAX_LIMIT}"))
                }),
        }
    }

    /// A time (RFC 3339, as in bodies).
    ///
    /// # Errors
    /// 422 naming the parameter when it is not a time in the accepted range.
    pub fn timestamp(&self, name: &str) -> Result<Option<Timestamp>, ApiError> {
        match self.get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(raw) => raw.parse().map(Some).map_err(|err| {
                ApiError::invalid(name, format!("{name} {}: {err}", crate::domain::quote(raw)))
            }),
        }
    }

    /// `from` and `to`, each optional; `from` after `to` is refused.
    ///
    /// # Errors
    /// 422 naming the parameter for a bad time, or `from` when it is after `to`.
    pub fn period(&self) -> Result<(Option<Timestamp>, Option<Timestamp>), ApiError> {
        let (from, to) = (self.timestamp("from")?, self.timestamp("to")?);
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                return Err(ApiError::invalid(
                    "from",
                    format!("from ({from}) is after to ({to})"),
                ));
            }
        }
        Ok((from, to))
    }

    /// An enum parameter by its wire name (`status=pending`).
    ///
    /// # Errors
    /// 400 naming the parameter when the value is not one of the enum's names.
    pub fn wire_enum<T: DeserializeOwned>(
        &self,
        name: &str,
        expected: &str,
    ) -> Result<Option<T>, ApiError> {
        match self.get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(raw) => serde_json::from_value(serde_json::Value::String(raw.to_owned()))
                .map(Some)
                .map_err(|_| {
                    ApiError::bad_query(name, format!("{name} {raw:?} is not one of {expected}"))
                }),
        }
    }

    /// An enum parameter's wire name (`status=pending`), checked to be one of the enum's.
    ///
    /// # Errors
    /// As [`Params::wire_enum`].
    pub fn wire_name<T: DeserializeOwned>(
        &self,
        name: &str,
        expected: &str,
    ) -> Result<Option<String>, ApiError> {
        Ok(self
            .wire_enum::<T>(name, expected)?
            .and_then(|_| self.text(name)))
    }
}
