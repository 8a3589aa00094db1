//! `ApiError`: every failure an HTTP handler can answer with, mapped to a status code and the
//! error body of docs/protocol.md ("Errors") in one place.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use parkstream_protocol::api::{ErrorBody, ErrorDetail};

use crate::domain::DomainError;
use crate::store::{StoreError, WriteError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request could not be read: malformed JSON, a bad query parameter.
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    /// The body was read but a value in it is not acceptable.
    #[error("{message}")]
    Invalid {
        message: String,
        field: Option<String>,
    },
    #[error("{message}")]
    NotFound {
        message: String,
        field: Option<String>,
    },
    /// No credentials, or credentials that do not verify.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials that do not allow this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// A gate event's `eventId` was already answered in its lot for a different request.
    #[error("{message}")]
    IdempotencyConflict {
        message: String,
        field: Option<String>,
    },
    /// Too many requests or streams from one address; retry after some seconds.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The body did not arrive in time (`--body-timeout`).
    #[error("the request body did not arrive within {} ms", .limit.as_millis())]
    BodyTimeout { limit: std::time::Duration },
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("no route for this method and path")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The server is full (too many streams) or a dependency is down; try again later.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after_secs: Option<u64>,
    },
    /// A bug or an unexpected failure; its cause is logged, not sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn bad_query(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code: "invalid_query",
            message: message.into(),
            field: Some(field.into()),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound { .. } | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) | ApiError::IdempotencyConflict { .. } => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::Invalid { .. } => "invalid_value",
            ApiError::NotFound { .. } | ApiError::RouteNotFound => "not_found",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Conflict(_) => "conflict",
            ApiError::IdempotencyConflict { .. } => "idempotency_conflict",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::BodyTimeout { .. } => "request_timeout",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            ApiError::BadRequest { field, .. }
            | ApiError::Invalid { field, .. }
            | ApiError::NotFound { field, .. }
            | ApiError::IdempotencyConflict { field, .. } => field.clone(),
            _ => None,
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::NotFound { field, message } => ApiError::NotFound {
                message,
                field: Some(field),
            },
            DomainError::Invalid { field, message } => ApiError::Invalid {
                message,
                field: Some(field),
            },
            DomainError::Conflict(message) => ApiError::Conflict(message),
            DomainError::IdempotencyConflict { field, message } => ApiError::IdempotencyConflict {
                message,
                field: Some(field),
            },
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(err: WriteError) -> Self {
        match err {
            WriteError::Refused(err) => err.into(),
            WriteError::NotStored => ApiError::Unavailable {
                message: "the change was not stored; try again".into(),
                retry_after_secs: Some(1),
            },
            WriteError::Busy => ApiError::Unavailable {
                message: "the server is busy; the change was not stored, try again".into(),
                retry_after_secs: Some(1),
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            // The change was not stored: say so, and let the caller retry.
            StoreError::Unavailable(cause) => {
                tracing::error!(error = ?cause, "storage unavailable");
                ApiError::Unavailable {
                    message: "storage is unavailable; the change was not stored".into(),
                    retry_after_secs: Some(1),
                }
            }
            StoreError::Corrupt(message) => ApiError::Internal(anyhow::anyhow!(message)),
        }
    }
}

/// The longest message and field an error body carries. Messages quote only a short prefix of
/// the input they refuse (`domain::quote`); this bounds every other path, such as a parser's
/// message naming an unknown value, or a field path through a client's own keys.
const MAX_MESSAGE_CHARS: usize = 300;
const MAX_FIELD_CHARS: usize = 120;

fn bounded(mut text: String, max_chars: usize) -> String {
    if let Some((end, _)) = text.char_indices().nth(max_chars) {
        text.truncate(end);
        text.push('…');
    }
    text
}

impl ApiError {
    /// The error in the API's error shape (an internal error's cause is not in it).
    pub fn body(&self) -> ErrorBody {
        let message = match self {
            ApiError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        self.body_with(message)
    }

    fn body_with(&self, message: String) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: bounded(message, MAX_MESSAGE_CHARS),
                field: self.field().map(|field| bounded(field, MAX_FIELD_CHARS)),
            },
        }
    }
}

/// The `code` of an error answer, beside the response for the metrics layer (which counts
/// refusals by it without reading the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode(pub &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let body = self.body_with(message);
        let mut response = (status, axum::Json(body)).into_response();
        response.extensions_mut().insert(ErrorCode(self.code()));
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"parkstream\""),
            );
        }
        let retry_after = match self {
            ApiError::Unavailable {
                retry_after_secs, ..
            } => retry_after_secs,
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => Some(retry_after_secs),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
