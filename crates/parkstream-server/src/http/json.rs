//! The JSON body extractor: our error shape for every way a body can be wrong, and batches.

use std::fmt;
use std::marker::PhantomData;

use axum::extract::{FromRequest, Request};
use axum::http::header;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::{DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::AppState;
use crate::error::ApiError;

/// A JSON body: `Content-Type: application/json` (else 415), at most `--max-body-bytes`
/// (else 413), whole within `--body-timeout` (else 408), well-formed (else 400), and of the
/// expected shape (else 422 naming the field).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if !is_json(&req) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = read_body(req, state).await?;
        parse(&bytes).map(ApiJson)
    }
}

/// The whole body, within `--max-body-bytes` (else 413) and `--body-timeout` (else 408).
async fn read_body(req: Request, state: &AppState) -> Result<axum::body::Bytes, ApiError> {
    let limit = state.live.get().max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    // One deadline for the whole body: a client trickling bytes holds a connection and
    // a buffer for no longer than that.
    let deadline = state.body_timeout;
    let bytes = tokio::time::timeout(deadline, Limited::new(req.into_body(), limit).collect())
        .await
        .map_err(|_| ApiError::BodyTimeout { limit: deadline })?
        .map_err(|err| {
            if err.downcast_ref::<LengthLimitError>().is_some() {
                ApiError::PayloadTooLarge { limit }
            } else {
                ApiError::BadRequest {
                    code: "body_unreadable",
                    message: "the request body could not be read".into(),
                    field: None,
                }
            }
        })?
        .to_bytes();
    Ok(bytes)
}

/// A JSON body that may be left out: an empty body is `None` (whatever its `Content-Type`);
/// any other is checked as [`ApiJson`] checks it.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let json = is_json(&req);
        let bytes = read_body(req, state).await?;
        if bytes.is_empty() {
            return Ok(OptionalJson(None));
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse(&bytes).map(|value| OptionalJson(Some(value)))
    }
}

fn is_json(req: &Request) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or("").trim();
    mime.eq_ignore_ascii_case("application/json")
        || (mime.len() > 5 && mime[mime.len() - 5..].eq_ignore_ascii_case("+json"))
}

/// Parses a body, naming the field of a shape error (`[3].occupied`).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        shape_error(&path, &inner)
    })?;
    de.end().map_err(|err| malformed(&err))?;
    Ok(value)
}

fn malformed(err: &serde_json::Error) -> ApiError {
    ApiError::BadRequest {
        code: "malformed_json",
        message: format!("the body is not valid JSON: {err}"),
        field: None,
    }
}

fn shape_error(path: &str, err: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => malformed(err),
        Category::Data => {
            let message = err.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_owned();
            // serde reports a missing field at its parent: name the field itself.
            let missing = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next());
            let field = match (path, missing) {
                (".", Some(name)) => Some(name.to_owned()),
                (parent, Some(name)) => Some(format!("{parent}.{name}")),
                (".", None) => None,
                (path, None) => Some(path.to_owned()),
            };
            ApiError::Invalid { message, field }
        }
    }
}

/// A body that is one object or an array of them (a batch).
#[derive(Debug)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The items, and whether they came as a batch.
    pub fn into_vec(self) -> (Vec<T>, bool) {
        match self {
            OneOrMany::One(item) => (vec![item], false),
            OneOrMany::Many(items) => (items, true),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
            type Value = OneOrMany<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object or an array of objects")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(OneOrMany::One)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::<T>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(OneOrMany::Many)
            }
        }

        deserializer.deserialize_any(OneOrManyVisitor(PhantomData))
    }
}

/// How the document names and describes one `Self` or an array of them, for [`OneOrMany`]'s
/// schema.
pub trait Batchable: ToSchema {
    const ONE_OR_MANY: &'static str;
    const DESCRIPTION: Option<&'static str> = None;
}

impl<T: Batchable> PartialSchema for OneOrMany<T> {
    fn schema() -> RefOr<Schema> {
        let item = || Ref::from_schema_name(T::name());
        OneOfBuilder::new()
            .item(item())
            .item(ArrayBuilder::new().items(item()))
            .description(T::DESCRIPTION)
            .into()
    }
}

impl<T: Batchable> ToSchema for OneOrMany<T> {
    fn name() -> std::borrow::Cow<'static, str> {
        T::ONE_OR_MANY.into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into(), T::schema()));
        T::schemas(schemas);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parkstream_protocol::api::CapacityReport;

    fn err_of(body: &str) -> (String, Option<String>) {
        let err = parse::<OneOrMany<CapacityReport>>(body.as_bytes()).unwrap_err();
        let field = match &err {
            ApiError::Invalid { field, .. } | ApiError::BadRequest { field, .. } => field.clone(),
            other => panic!("unexpected {other:?}"),
        };
        (err.to_string(), field)
    }

    #[test]
    fn names_the_field_of_a_shape_error() {
        let (_, field) = err_of(r#"{"parkingLotId": "a", "occupied": -1}"#);
        assert_eq!(field.as_deref(), Some("occupied"));
        let (_, field) = err_of(r#"[{"parkingLotId": "a", "occupied": 1}, {"parkingLotId": "a"}]"#);
        assert_eq!(field.as_deref(), Some("[1].occupied"));
        let (message, field) = err_of(r#"{"occupied": 1}"#);
        assert_eq!(field.as_deref(), Some("parkingLotId"));
        assert!(message.contains("missing field"), "{message}");
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        for body in ["{", "{\"a\":}", "", "{} {}"] {
            let err = parse::<serde_json::Value>(body.as_bytes()).unwrap_err();
            assert!(
                matches!(
                    err,
                    ApiError::BadRequest {
                        code: "malformed_json",
                        ..
                    }
                ),
                "{body:?}: {err:?}"
            );
        }
    }

    #[test]
    fn one_or_many_accepts_both() {
        let one: OneOrMany<CapacityReport> =
            parse(br#"{"parkingLotId": "a", "occupied": 1}"#).unwrap();
        assert!(matches!(one, OneOrMany::One(_)));
        let many: OneOrMany<CapacityReport> = parse(br#"[]"#).unwrap();
        assert!(matches!(many, OneOrMany::Many(v) if v.is_empty()));
        assert!(parse::<OneOrMany<CapacityReport>>(b"42").is_err());
    }
}
