//! The dashboard (`web/`) at `/`, and the browser client (`clients/js/`) at `/client/`,
//! embedded in the binary so `parkstream serve` needs no other files.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;

use super::AppState;
use crate::auth::TOKEN_COOKIE;
use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "../../web/"]
#[exclude = "e2e/*"]
#[exclude = "*.test.*"]
struct Dashboard;

// Exact names, no globs: in debug builds rust-embed reads the disk, and a glob such as `lib/*.js`
// would also match `lib/../test/server.js`.
#[derive(RustEmbed)]
#[folder = "../../clients/js/"]
#[include = "sse-client.js"]
#[include = "sse-client.d.ts"]
#[include = "lib/client.js"]
#[include = "lib/fetch-transport.js"]
#[include = "lib/options.js"]
struct BrowserClient;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        // The module imports its lib/ files by relative path: serve them at the same places.
        .route("/client/{*file}", get(client_file))
        .route(
            "/{*path}",
            get(|Path(path): Path<String>| async move { dashboard_file(&path) }),
        )
}

/// The dashboard; or, opened with `?token=JWT` (the link the server prints), signing in: the
/// token goes into the `parkstream_token` cookie and the browser is sent on to the same page
/// without it, so the token stays out of bookmarks, history and the address bar. The
/// redirect is relative (`./`) and the cookie's path is `--public-url`'s, so both hold under
/// whatever path a proxy serves the dashboard at.
async fn index(State(app): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let query = Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map_or_else(|_| Vec::new(), |Query(pairs)| pairs);
    let Some((_, token)) = query.into_iter().find(|(name, _)| name == "token") else {
        return dashboard_file("index.html");
    };
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "./")]).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // A JWT is cookie-safe as it is; anything else is no token, and the page then asks to
    // sign in.
    let token = token.trim();
    let cookie_safe = |c: char| c.is_ascii_alphanumeric() || "._~+/=-".contains(c);
    if !token.is_empty() && token.chars().all(cookie_safe) {
        let secure = if app.token_cookie.secure {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "{TOKEN_COOKIE}={token}; Path={}; SameSite=Strict{secure}",
            app.token_cookie.path
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.insert(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

async fn client_file(Path(file): Path<String>) -> Result<Response, ApiError> {
    let asset = BrowserClient::get(&file).ok_or(ApiError::RouteNotFound)?;
    Ok(respond(&file, asset.data.into_owned()))
}

fn dashboard_file(path: &str) -> Result<Response, ApiError> {
    if path.starts_with("api/") {
        return Err(ApiError::RouteNotFound);
    }
    let asset = Dashboard::get(path).ok_or(ApiError::RouteNotFound)?;
    Ok(respond(path, asset.data.into_owned()))
}

fn respond(path: &str, body: Vec<u8>) -> Response {
    let content_type = match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        // TypeScript declarations are text; browsers never execute them.
        Some("ts") => "text/plain; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Revalidate every time: a new server version must not meet an old cached dashboard.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    // A token may be in the page's URL (`/?token=`): no request from the page carries it on.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The dashboard runs only its own files: no inline script or style, no other origin, no
/// framing (clickjacking the Acknowledge buttons), and the icon is a `data:` image.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";
