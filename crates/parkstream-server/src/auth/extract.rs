//! Taking the principal out of a request.

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;

use super::{Authenticator, Need, Principal};
use crate::error::ApiError;

/// The cookie the dashboard stores its token in.
pub const TOKEN_COOKIE: &str = "parkstream_token";

/// Any router state that holds an [`Authenticator`] can authenticate its requests.
impl<S> FromRequestParts<S> for Principal
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let auth = Authenticator::from_ref(state);
        if matches!(auth, Authenticator::Disabled) {
            return Ok(Principal::unrestricted());
        }
        let token = bearer(parts)
            .or_else(|| cookie(parts))
            .or_else(|| query(parts))
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "credentials required: Authorization: Bearer, the parkstream_token cookie, or access_token"
                        .into(),
                )
            })?;
        auth.verify(&token).await
    }
}

/// What a handler needs, as a type: see [`Allowed`].
pub trait Requirement {
    const NEED: Need;
}

/// The markers for [`Allowed`].
pub mod need {
    use super::{Need, Requirement};

    /// Current state, lists, the stream.
    #[derive(Debug)]
    pub struct Read;
    /// Acknowledge and resolve.
    #[derive(Debug)]
    pub struct Operate;
    /// Counts and gate events.
    #[derive(Debug)]
    pub struct Ingest;
    /// Lots and contractors.
    #[derive(Debug)]
    pub struct Administer;
    /// Metrics on the main address.
    #[derive(Debug)]
    pub struct Scrape;

    impl Requirement for Read {
        const NEED: Need = Need::Read;
    }
    impl Requirement for Operate {
        const NEED: Need = Need::Operate;
    }
    impl Requirement for Ingest {
        const NEED: Need = Need::Ingest;
    }
    impl Requirement for Administer {
        const NEED: Need = Need::Administer;
    }
    impl Requirement for Scrape {
        const NEED: Need = Need::Scrape;
    }
}

/// A principal allowed what `R` names. Checked while the request's head is taken apart, so a
/// write its token may not make is answered 403 before any of its body is read (a handler's
/// body extractor runs last).
#[derive(Debug)]
pub struct Allowed<R>(pub Principal, PhantomData<R>);

impl<R, S> FromRequestParts<S> for Allowed<R>
where
    R: Requirement,
    Authenticator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        principal.require(R::NEED)?;
        Ok(Self(principal, PhantomData))
    }
}

fn bearer(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

fn cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == TOKEN_COOKIE).then(|| value.to_owned())
        })
}

fn query(parts: &Parts) -> Option<String> {
    let axum::extract::Query(pairs) =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).ok()?;
    pairs
        .into_iter()
        .rev()
        .find(|(name, _)| name == "access_token")
        .map(|(_, token)| token)
}
