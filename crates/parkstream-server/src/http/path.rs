//! The `{id}` of a resource's path: extracted into our error shape, and documented once for
//! every operation whose path has one.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::Required;
use utoipa::Modify;

use crate::error::ApiError;

/// The `{id}` segment of the path. A segment that does not decode (bad percent-encoding) is
/// answered 400 `invalid_path`. Handlers that check a permission take `Allowed` before it, so
/// a caller without it hears 403 first.
#[derive(Debug)]
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|err| ApiError::BadRequest {
                code: "invalid_path",
                message: err.body_text(),
                field: None,
            })?;
        Ok(PathId(id))
    }
}

/// What an id may be (see `domain::check_identifier`).
const ID_PATTERN: &str = r"^[A-Za-z0-9_.:-]{1,128}$";

/// Documents the `id` parameter of every operation on a path ending in `/{noun}s/{id}...`:
/// "The {noun}'s id", of [`ID_PATTERN`].
pub struct IdParameters;

impl Modify for IdParameters {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut doc.paths.paths {
            let Some((before, _)) = path.split_once("/{id}") else {
                continue;
            };
            let noun = before.rsplit('/').next().unwrap_or(before);
            let noun = noun.strip_suffix('s').unwrap_or(noun);
            let id = ParameterBuilder::new()
                .name("id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(format!("The {noun}'s id")))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(ID_PATTERN)),
                ))
                .build();
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                operation
                    .parameters
                    .get_or_insert_with(Vec::new)
                    .insert(0, id.clone());
            }
        }
    }
}
