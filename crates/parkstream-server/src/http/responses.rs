//! Error answers many operations document alike, as `IntoResponses` types for their
//! `responses(...)`. Imports nothing from the handlers.

use std::collections::BTreeMap;

use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::IntoResponses;

/// An answer with an `ErrorBody`.
pub fn error_response(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    )
}

fn errors(answers: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
    answers
        .iter()
        .map(|(status, description)| {
            (
                (*status).to_owned(),
                RefOr::T(error_response(description).build()),
            )
        })
        .collect()
}

/// 503: a write (or the writer's answer) did not happen because the database failed.
pub struct NotStored;

impl IntoResponses for NotStored {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        errors(&[("503", "Not stored (database unavailable); retry")])
    }
}

/// The ways a JSON body is refused, in this API's words (`ApiJson`).
pub struct BodyErrors;

impl IntoResponses for BodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        errors(&[
            ("400", "Malformed JSON"),
            ("413", "Body too large"),
            ("415", "Not application/json"),
            (
                "422",
                "A value is missing, of the wrong type or out of range; `field` names it",
            ),
        ])
    }
}
