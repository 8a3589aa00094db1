//! The OpenAPI document as client generators and linters read it: unique operation ids, the
//! security each operation needs, the error answers shared layers give, body examples, and
//! the stream's event schemas. The document is also checked against the running server: an
//! operation it says needs a token answers 401 without one.

use std::collections::HashSet;

use parkstream_server::auth::Secret;
use parkstream_server::config::AuthMode;
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with};

const PUBLIC: [&str; 7] = [
    "getHealth",
    "getReadiness",
    "getOpenApiDocument",
    "getOpenParkingTable",
    "getOpenParkingStatus",
    "listOpenPlaces",
    "getOpenPlace",
];
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every (path, method, operation) of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                all.push((path.clone(), method.to_owned(), operation.clone()));
            }
        }
    }
    all
}

/// The schema name an error answer refers to.
fn error_schema(operation: &Value, status: &str) -> Option<String> {
    operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .map(ToOwned::to_owned)
}

#[tokio::test]
async fn operation_ids_are_unique_and_every_operation_needing_a_token_declares_security_401_and_403(
) {
    let app = spawn_app().await;
    let doc = app.get_json("/api/openapi.json").await;
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["cookie"]["in"], "cookie");
    assert_eq!(schemes["cookie"]["name"], "parkstream_token");
    assert_eq!(schemes["query"]["in"], "query");
    assert_eq!(schemes["query"]["name"], "access_token");

    let mut ids = HashSet::new();
    let error_body = Some("#/components/schemas/ErrorBody".to_owned());
    for (path, method, operation) in operations(&doc) {
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
        let security = operation["security"].as_array().unwrap();
        if PUBLIC.contains(&id) {
            assert!(security.is_empty(), "{id} is public: {security:?}");
            continue;
        }
        let schemes: Vec<&str> = security
            .iter()
            .flat_map(|requirement| requirement.as_object().unwrap().keys())
            .map(String::as_str)
            .collect();
        assert_eq!(schemes, ["bearer", "cookie", "query"], "{id}");
        let mut needed = vec!["401", "403"];
        if method != "get" {
            needed.push("429");
        }
        if let Some(body) = operation.get("requestBody") {
            needed.extend(["400", "408", "413", "415", "422"]);
            let example = &body["content"]["application/json"]["example"];
            assert!(example.is_object(), "{id} has no request body example");
        }
        for status in needed {
            assert_eq!(
                error_schema(&operation, status),
                error_body,
                "{id} {status}"
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn the_stream_is_documented_as_event_stream_referencing_each_event_schema() {
    let app = spawn_app().await;
    let doc = app.get_json("/api/openapi.json").await;
    let ok = &doc["paths"]["/api/sse/dashboard"]["get"]["responses"]["200"]["content"];
    assert_eq!(
        ok["text/event-stream"]["schema"]["$ref"],
        "#/components/schemas/StreamEvent"
    );
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let stream_event = &schemas["StreamEvent"];
    let referenced: Vec<&str> = stream_event["anyOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["$ref"].as_str().unwrap())
        .collect();
    for (event, schema) in [
        ("connected", "Connected"),
        ("capacity_update", "CapacityUpdate"),
        ("alert", "Alert"),
        ("violation", "Violation"),
        ("reset", "Reset"),
        ("ping", "Ping"),
    ] {
        assert!(schemas.contains_key(schema), "{schema}");
        assert!(
            referenced.contains(&format!("#/components/schemas/{schema}").as_str()),
            "{schema}"
        );
        assert_eq!(stream_event["x-event-schemas"][event], schema);
    }
    app.stop().await;
}

#[tokio::test]
async fn every_operation_the_document_secures_answers_401_without_a_token_and_public_ones_do_not() {
    let app = spawn_app_with(|s| {
        s.auth = AuthMode::Jwt;
        s.jwt_secret = Some(Secret::new("openapi-test-secret-of-enough-length-0123"));
    })
    .await;
    let doc = app.get_json("/api/openapi.json").await;
    for (path, method, operation) in operations(&doc) {
        let url = app.url(&path.replace("{id}", "x"));
        let request = match method.as_str() {
            "get" => app.http.get(url),
            "put" => app.http.put(url),
            "post" => app.http.post(url),
            "delete" => app.http.delete(url),
            other => panic!("no request for {other}"),
        };
        let status = request
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap()
            .status();
        let secured = !operation["security"].as_array().unwrap().is_empty();
        assert_eq!(status == 401, secured, "{method} {path}: {status}");
    }
    app.stop().await;
}
