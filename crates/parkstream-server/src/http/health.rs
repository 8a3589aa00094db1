//! `GET /healthz` (the process answers) and `GET /readyz` (its dependencies answer too).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "getHealth",
    tag = "operations",
    summary = "Liveness",
    responses(
        (status = 200, description = "The process answers", body = serde_json::Value)
    )
)]
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "getReadiness",
    tag = "operations",
    summary = "Readiness: the database (and Redis, in a cluster) answers, and an identity provider's keys are held",
    responses(
        (status = 200, description = "Ready", body = serde_json::Value),
        (status = 503, description = "Not ready or shutting down", body = serde_json::Value)
    )
)]
/// 200 when the database (and, with `--redis-url`, Redis) answers and, with `--jwt-jwks-url`, the
/// key set has been fetched; 503 when not or the server is shutting down, so a load balancer stops
/// sending new clients here.
async fn readyz(State(app): State<AppState>) -> Response {
    if app.shutdown.is_cancelled() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "shutting_down"})),
        )
            .into_response();
    }
    let database = app.store.ping().await;
    if let Err(err) = &database {
        tracing::warn!(error = %err, "readiness check: the database does not answer");
    }
    let mut checks = serde_json::Map::new();
    checks.insert(
        "database".into(),
        json!(if database.is_ok() {
            "ok"
        } else {
            "unreachable"
        }),
    );
    let mut ready = database.is_ok();
    if let Some(redis) = &app.redis_health {
        // The stream reader talks to Redis at least every second; its last answer is fresh.
        ready &= redis.ok();
        checks.insert(
            "redis".into(),
            json!(if redis.ok() { "ok" } else { "unreachable" }),
        );
    }
    if let Some(mqtt) = &app.mqtt_health {
        // Reported, not required: dashboards do not need the broker, and messages wait there
        // while it is away from us.
        checks.insert(
            "mqtt".into(),
            json!(if mqtt.ok() { "ok" } else { "unreachable" }),
        );
    }
    if let Some(loaded) = app.live.get().auth.key_set_loaded() {
        // Without the identity provider's keys every token is answered 503: send clients
        // to an instance that has them.
        ready &= loaded;
        checks.insert(
            "jwks".into(),
            json!(if loaded { "ok" } else { "not_fetched" }),
        );
    }
    let (status, word) = if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    (status, Json(json!({"status": word, "checks": checks}))).into_response()
}
