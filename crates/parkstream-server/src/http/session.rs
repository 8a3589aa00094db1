//! `GET /api/session`: who the request's token is and what it may do. The dashboard asks at
//! start (and after signing in again) so it offers only the actions the role may take, and
//! learns the currency to show penalties in, without decoding the token itself.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use parkstream_protocol::session::{Permissions, SessionView};

use super::AppState;
use crate::auth::{Need, Principal};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/session", get(show))
}

/// Any valid token may ask, whatever its role (a monitor too): it only learns about itself.
/// With `--auth none` the answer is the unrestricted `anonymous` admin every request is.
#[utoipa::path(
    get,
    path = "/api/session",
    operation_id = "getSession",
    tag = "access",
    summary = "The token's identity, what it may do, and the server's currency",
    responses((status = 200, body = SessionView))
)]
async fn show(principal: Principal, State(app): State<AppState>) -> Json<SessionView> {
    Json(view(&principal, app.currency.as_ref()))
}

fn view(principal: &Principal, currency: Option<&crate::config::Currency>) -> SessionView {
    let may = |need| principal.require(need).is_ok();
    SessionView {
        subject: principal.subject.clone(),
        role: principal.role.name().to_owned(),
        contractor_id: principal.contractor.as_deref().map(str::to_owned),
        lots: principal
            .lots
            .as_ref()
            .map(|lots| lots.iter().map(ToString::to_string).collect()),
        expires_at: principal.expires_at,
        permissions: Permissions {
            operate: may(Need::Operate),
            administer: may(Need::Administer),
            ingest: may(Need::Ingest),
        },
        currency: currency.map(ToString::to_string),
    }
}
