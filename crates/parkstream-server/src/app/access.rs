//! Access at start-up: the authenticator the settings ask for, and the dashboard's admin
//! token when the server holds the secret.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::auth::{self, Authenticator};
use crate::config::{AuthMode, ServeSettings};
use crate::store::Store;

/// The HS256 secret the server verifies with, and whether it generated it on this start.
pub(super) struct HeldSecret {
    secret: String,
    generated_now: bool,
}

/// What the settings ask tokens to be checked with.
pub(super) struct Access {
    pub auth: Authenticator,
    /// The HS256 secret, when the server holds one (to mint the dashboard's and the demo's
    /// tokens).
    pub secret: Option<HeldSecret>,
    /// The identity provider's key set, not fetched yet: see [`start_key_set`].
    pub key_set: Option<Arc<auth::Jwks>>,
}

/// The authenticator the settings ask for (at start, and again on a reload that changes it).
pub(super) async fn authenticator(
    settings: &ServeSettings,
    store: &Store,
) -> anyhow::Result<Access> {
    if settings.auth == AuthMode::None {
        return Ok(Access {
            auth: Authenticator::Disabled,
            secret: None,
            key_set: None,
        });
    }
    let verification = settings.verification();
    if let Some(url) = &settings.jwt_jwks_url {
        let jwks = auth::Jwks::new(url.clone(), verification.validation(Vec::new()))
            .map_err(|e| anyhow::anyhow!("the JWT key set client: {e}"))?;
        let jwks = Arc::new(jwks);
        return Ok(Access {
            auth: Authenticator::key_set(jwks.clone(), &verification),
            secret: None,
            key_set: Some(jwks),
        });
    }
    if let Some(path) = &settings.jwt_public_key {
        let pem = std::fs::read(path)
            .with_context(|| format!("reading the JWT public key {}", path.display()))?;
        let auth = Authenticator::public_key(&pem, settings.jwt_algorithm, &verification)
            .map_err(|e| anyhow::anyhow!("the JWT public key {}: {e}", path.display()))?;
        return Ok(Access {
            auth,
            secret: None,
            key_set: None,
        });
    }
    let secret = match &settings.jwt_secret {
        Some(secret) => HeldSecret {
            secret: secret.expose().to_owned(),
            generated_now: false,
        },
        None => {
            let (secret, generated_now) = store
                .generated_secret()
                .await
                .context("reading the generated JWT secret")?;
            HeldSecret {
                secret,
                generated_now,
            }
        }
    };
    Ok(Access {
        auth: Authenticator::hs256(secret.secret.as_bytes(), &verification),
        secret: Some(secret),
        key_set: None,
    })
}

/// At start: fetches the key set once, and keeps it fresh in `background` until `stop`.
pub(super) async fn start_key_set(
    jwks: Arc<auth::Jwks>,
    stop: CancellationToken,
    background: &mut JoinSet<()>,
) {
    // An identity provider that is down (or starts after this server) must not keep the
    // server from starting: it answers 503 until the keys arrive, and the log says why.
    match jwks.refresh().await {
        Ok(count) => tracing::info!(keys = count, url = %jwks.url(), "fetched the JWT key set"),
        Err(error) => tracing::error!(
            %error,
            "the JWT key set could not be fetched: requests with tokens are answered 503 \
             until it is (retried every {} s)",
            auth::REFETCH_AT_MOST_EVERY.as_secs()
        ),
    }
    background.spawn(jwks.keep_fresh(stop));
}

/// Mints the dashboard's admin token (valid 30 days) when the server holds the secret, and
/// tells the person who started the server how to open the dashboard at `url` (ending with `/`).
///
/// Tokens never go to the log. The one line on standard output with a sign-in URL is for
/// the person who started a new server: only a start that generated the secret prints it, so
/// a restart (whose output may be collected by a service manager) leaks nothing;
/// `parkstream token --database-url` mints another.
pub(super) fn dashboard_token(
    settings: &ServeSettings,
    secret: Option<&HeldSecret>,
    url: &str,
) -> anyhow::Result<Option<String>> {
    let admin_token = match secret {
        Some(secret) => Some(
            auth::mint_for(
                secret.secret.as_bytes(),
                &settings.verification(),
                "dashboard",
                auth::Role::Admin,
                None,
                None,
                Duration::from_secs(30 * 86_400),
            )
            .context("minting the dashboard token")?,
        ),
        None => None,
    };
    match (&admin_token, secret) {
        (Some(token), Some(secret)) if secret.generated_now => {
            println!("parkstream dashboard (admin, valid 30 days): {url}?token={token}");
        }
        (_, Some(secret)) if settings.jwt_secret.is_none() && !secret.generated_now => {
            println!(
                "parkstream dashboard: {url} (sign in with a token: parkstream token --role admin --database-url {})",
                settings.redacted_database_url()
            );
        }
        _ => {}
    }
    Ok(admin_token)
}
