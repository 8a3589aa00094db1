//! `GET /api/openapi.json`: the OpenAPI document, generated from the handlers' annotations
//! and the wire types, so it cannot drift from the code.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{RefOr, Response};
use utoipa::{Modify, OpenApi};

use super::path::IdParameters;
use super::responses::error_response as error_body;
use super::AppState;

#[derive(Debug, OpenApi)]
#[openapi(
    modifiers(&Security, &CommonErrors, &IdParameters),
    servers((url = "/", description = "The server that serves this document")),
    info(
        title = "parkstream",
        description = "Live parking-lot state, alerts and violations, pushed to dashboards over Server-Sent Events. Every error answer is {\"error\": {\"code\", \"message\", \"field\"?}}."
    ),
    paths(
        super::lots::list,
        super::lots::show,
        super::lots::put,
        super::forecast::show,
        super::history::occupancy,
        super::session::show,
        super::ingest::update,
        super::ingest::lot,
        super::ingest::gate,
        super::contractors::list,
        super::contractors::show,
        super::contractors::put,
        super::alerts::list,
        super::alerts::acknowledge,
        super::alerts::resolve,
        super::violations::list,
        super::violations::acknowledge,
        super::violations::resolve,
        super::audit::list,
        super::vehicles::show,
        super::statements::statement,
        super::contractor_vehicles::vehicles,
        super::webhooks::list,
        super::webhooks::show,
        super::webhooks::put,
        super::webhooks::remove,
        super::webhooks::rotate,
        super::webhooks::deliveries,
        super::sse::dashboard,
        super::health::healthz,
        super::health::readyz,
        super::metrics::metrics,
        super::open_data::parking_table,
        super::open_data::parking_status,
        super::open_data::places,
        super::open_data::place,
        document,
    ),
    components(schemas(
        parkstream_protocol::api::OpeningStatus,
        parkstream_protocol::events::Alert,
        parkstream_protocol::events::Violation,
        parkstream_protocol::events::CapacityUpdate,
        parkstream_protocol::events::Connected,
        parkstream_protocol::events::Reset,
        parkstream_protocol::events::Ping,
        parkstream_protocol::api::ErrorBody,
        super::sse::StreamEvent,
    ))
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(document))
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "getOpenApiDocument",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3 document", body = serde_json::Value))
)]
async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The operations anyone may call, whatever `--auth` says (probes, this document, and the
/// open data feed).
pub const PUBLIC_OPERATIONS: [&str; 7] = [
    "getHealth",
    "getReadiness",
    "getOpenApiDocument",
    "getOpenParkingTable",
    "getOpenParkingStatus",
    "listOpenPlaces",
    "getOpenPlace",
];

/// The three places a token is taken from (`auth::extract`), as security schemes; every
/// operation but the public ones accepts any one of them.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("`Authorization: Bearer <JWT>` (with --auth jwt)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::TOKEN_COOKIE,
                "The dashboard's cookie holding the same JWT",
            ))),
        );
        components.add_security_scheme(
            "query",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "access_token",
                "The JWT in the query, for clients that cannot set a header (EventSource)",
            ))),
        );
        for (operation, _) in operations(doc) {
            let public = is_public(operation);
            operation.security = Some(if public {
                // Stated as empty rather than left out, so tools see it is deliberate.
                Vec::new()
            } else {
                ["bearer", "cookie", "query"]
                    .into_iter()
                    .map(|scheme| SecurityRequirement::new(scheme, Vec::<String>::new()))
                    .collect()
            });
        }
    }
}

/// The error answers that come from layers and extractors shared by many handlers, added to
/// each operation they can reach so no annotation can forget one: 401 and 403 (the token),
/// 429 (`--write-rate-per-ip`, every method but GET), and for a JSON body 400, 408
/// (`--body-timeout`), 413, 415 and 422 (`ApiJson`). A handler's own text for a status wins.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (operation, write) in operations(doc) {
            let public = is_public(operation);
            let mut add = |status: &str, description: &str| {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| RefOr::T(error_response(status, description)));
            };
            if !public {
                add(
                    "401",
                    "No token, or one that does not verify (with --auth jwt)",
                );
                add("403", "The token's role or claims do not allow this");
            }
            if write {
                add(
                    "429",
                    "Too many writes from this address (--write-rate-per-ip); retry after Retry-After seconds",
                );
            }
            if operation.request_body.is_some() {
                add("400", "Malformed JSON");
                add(
                    "408",
                    "The body did not arrive within --body-timeout (`request_timeout`)",
                );
                add("413", "Body larger than --max-body-bytes");
                add("415", "Not application/json");
                add(
                    "422",
                    "A value is missing, of the wrong type or out of range; `field` names it",
                );
            }
        }
    }
}

/// Every operation of the document, each with whether `limit_writes` counts it (every method
/// but GET, HEAD and OPTIONS).
fn operations(doc: &mut utoipa::openapi::OpenApi) -> impl Iterator<Item = (&mut Operation, bool)> {
    doc.paths.paths.values_mut().flat_map(|item| {
        [
            (&mut item.get, false),
            (&mut item.put, true),
            (&mut item.post, true),
            (&mut item.delete, true),
            (&mut item.options, false),
            (&mut item.head, false),
            (&mut item.patch, true),
            (&mut item.trace, true),
        ]
        .into_iter()
        .filter_map(|(operation, write)| operation.as_mut().map(|op| (op, write)))
    })
}

fn is_public(operation: &Operation) -> bool {
    operation
        .operation_id
        .as_deref()
        .is_some_and(|id| PUBLIC_OPERATIONS.contains(&id))
}

fn error_response(status: &str, description: &str) -> Response {
    let mut response = error_body(description);
    if status == "429" {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                )
                .description(Some("Seconds to wait before retrying"))
                .build(),
        );
    }
    response.build()
}
