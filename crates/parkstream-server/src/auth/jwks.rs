//! Verifying keys from an identity provider's JSON Web Key Set (`--jwt-jwks-url`).
//!
//! The set is fetched at start, again every [`REFRESH_EVERY`], and again when a token names a
//! key (`kid`) the cached set lacks, since that is how a key rotation first shows. Such a
//! refetch happens at most once per [`REFETCH_AT_MOST_EVERY`], so tokens with made-up key ids
//! cannot make the server hammer the identity provider; in between they are simply refused.
//! A failed fetch keeps the keys already held. Until a first fetch succeeds, tokens are
//! answered 503: the server cannot tell good ones from bad.
//!
//! Each key verifies one algorithm, the one its `alg` names (RS256/384/512, PS256/384/512,
//! ES256, ES384, EdDSA), or without `alg` the usual one for its type (RS256 for RSA, ES256 or
//! ES384 by curve, EdDSA for Ed25519). Shared-secret (`oct`, HS*) and encryption keys, and
//! anything else, are skipped: a key set is public, so a shared secret in it would let anyone
//! mint tokens.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;

/// How often the key set is refetched in the background.
pub const REFRESH_EVERY: Duration = Duration::from_secs(300);
/// At most one refetch per this interval for tokens naming an unknown key; also how often a
/// server without keys retries in the background.
pub const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(10);
/// A fetch that takes longer fails (the cached keys stay).
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Larger key sets are refused (real ones are a few kilobytes).
const MAX_SET_BYTES: usize = 1 << 20;

/// One verifying key, with the checks a token signed by it must pass.
pub(super) struct Key {
    kid: Option<String>,
    pub(super) decoding: DecodingKey,
    /// The claim checks, allowing this key's algorithm only.
    pub(super) validation: Validation,
}

/// The cached key set of one identity provider.
pub struct Jwks {
    url: reqwest::Url,
    http: reqwest::Client,
    /// The claim checks every key's validation starts from.
    base: Validation,
    /// `None` until a fetch succeeds.
    keys: RwLock<Option<Arc<[Arc<Key>]>>>,
    /// When a token naming an unknown key last caused a fetch; held during that fetch, so a
    /// burst of such tokens waits for one fetch instead of starting many.
    last_refetch: tokio::sync::Mutex<Option<Instant>>,
}

impl fmt::Debug for Jwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwks")
            .field("url", &self.url.as_str())
            .field("keys", &self.current().map(|keys| keys.len()))
            .finish_non_exhaustive()
    }
}

impl Jwks {
    /// A cache of the set at `url`, empty until [`Jwks::refresh`] succeeds; tokens must also
    /// pass `base`'s claim checks.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(url: reqwest::Url, base: Validation) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .user_agent(concat!("parkstream/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            url,
            http,
            base,
            keys: RwLock::new(None),
            last_refetch: tokio::sync::Mutex::new(None),
        })
    }

    /// Whether a fetch has succeeded (keys are held).
    pub fn loaded(&self) -> bool {
        self.current().is_some()
    }

    /// The URL the keys come from.
    pub fn url(&self) -> &reqwest::Url {
        &self.url
    }

    fn current(&self) -> Option<Arc<[Arc<Key>]>> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Fetches the set and replaces the cached keys; answers how many keys it holds.
    ///
    /// # Errors
    /// A message for the log when the fetch fails or the set holds no usable key; the keys
    /// already cached stay.
    pub async fn refresh(&self) -> Result<usize, String> {
        let keys = self.fetch().await?;
        let count = keys.len();
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(keys.into());
        Ok(count)
    }

    async fn fetch(&self) -> Result<Vec<Arc<Key>>, String> {
        let mut response = self
            .http
            .get(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("fetching {}: {e}", self.url))?;
        if !response.status().is_success() {
            return Err(format!("{} answered {}", self.url, response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading {}: {e}", self.url))?
        {
            if body.len() + chunk.len() > MAX_SET_BYTES {
                return Err(format!("{} is larger than {MAX_SET_BYTES} bytes", self.url));
            }
            body.extend_from_slice(&chunk);
        }
        usable_keys(&body, &self.base).map_err(|e| format!("{}: {e}", self.url))
    }

    /// Refreshes the set every [`REFRESH_EVERY`] (every [`REFETCH_AT_MOST_EVERY`] while no
    /// fetch has succeeded yet) until `stop`.
    pub async fn keep_fresh(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let wait = if self.current().is_some() {
                REFRESH_EVERY
            } else {
                REFETCH_AT_MOST_EVERY
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            match self.refresh().await {
                Ok(count) => tracing::debug!(keys = count, "refreshed the JWT key set"),
                Err(error) => {
                    tracing::warn!(%error, "the JWT key set could not be refreshed; keeping the keys held");
                }
            }
        }
    }

    /// The key a token names by its `kid` (a token without one: the set's only key).
    ///
    /// # Errors
    /// 401 when the set lacks the key even after a refetch (or a refetch was made too
    /// recently); 503 while no key set has been fetched yet.
    pub(super) async fn key_for(&self, kid: Option<&str>) -> Result<Arc<Key>, ApiError> {
        if let Some(key) = self.current().and_then(|keys| find(&keys, kid)) {
            return Ok(key);
        }
        if kid.is_some() || self.current().is_none() {
            self.refetch_for_unknown_key().await;
        }
        let keys = self.current().ok_or_else(|| ApiError::Unavailable {
            message: "the identity provider's signing keys have not been fetched yet".into(),
            retry_after_secs: Some(REFETCH_AT_MOST_EVERY.as_secs()),
        })?;
        find(&keys, kid).ok_or_else(|| {
            ApiError::Unauthorized(match kid {
                Some(_) => {
                    "the token's signing key (kid) is not in the identity provider's key set".into()
                }
                None => "the token names no signing key (kid) and the key set holds several".into(),
            })
        })
    }

    async fn refetch_for_unknown_key(&self) {
        let mut last = self.last_refetch.lock().await;
        if last.is_some_and(|at| at.elapsed() < REFETCH_AT_MOST_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        match self.refresh().await {
            Ok(count) => tracing::info!(
                keys = count,
                "refetched the JWT key set for a token naming a new key"
            ),
            Err(error) => {
                tracing::warn!(%error, "the JWT key set could not be refetched; keeping the keys held")
            }
        }
    }
}

fn find(keys: &[Arc<Key>], kid: Option<&str>) -> Option<Arc<Key>> {
    match kid {
        Some(kid) => keys.iter().find(|k| k.kid.as_deref() == Some(kid)).cloned(),
        None => match keys {
            [only] => Some(only.clone()),
            _ => None,
        },
    }
}

/// The signing keys of a key set document, each with `base`'s checks for its algorithm.
fn usable_keys(body: &[u8], base: &Validation) -> Result<Vec<Arc<Key>>, String> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<Value>,
    }
    let set: Set =
        serde_json::from_slice(body).map_err(|e| format!("not a JSON Web Key Set: {e}"))?;
    let keys: Vec<Arc<Key>> = set
        .keys
        .into_iter()
        // One key the library cannot read must not cost the others.
        .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
        .filter_map(|jwk| {
            let algorithm = signing_algorithm(&jwk)?;
            let decoding = DecodingKey::from_jwk(&jwk).ok()?;
            let mut validation = base.clone();
            validation.algorithms = vec![algorithm];
            Some(Arc::new(Key {
                kid: jwk.common.key_id,
                decoding,
                validation,
            }))
        })
        .collect();
    if keys.is_empty() {
        return Err(
            "the key set holds no signing key parkstream accepts (RSA, EC P-256/P-384, Ed25519)"
                .into(),
        );
    }
    Ok(keys)
}

/// The one algorithm a key verifies; `None` for keys that must not verify tokens.
fn signing_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    use AlgorithmParameters::{EllipticCurve as Ec, OctetKeyPair, RSA};
    use KeyAlgorithm as K;
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    let algorithm = match (jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(K::RS256) | None, RSA(_)) => Algorithm::RS256,
        (Some(K::RS384), RSA(_)) => Algorithm::RS384,
        (Some(K::RS512), RSA(_)) => Algorithm::RS512,
        (Some(K::PS256), RSA(_)) => Algorithm::PS256,
        (Some(K::PS384), RSA(_)) => Algorithm::PS384,
        (Some(K::PS512), RSA(_)) => Algorithm::PS512,
        (Some(K::ES256) | None, Ec(p)) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        (Some(K::ES384) | None, Ec(p)) if p.curve == EllipticCurve::P384 => Algorithm::ES384,
        (Some(K::EdDSA) | None, OctetKeyPair(p)) if p.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        // HS* and `oct` keys, `none`, encryption algorithms, and mismatched pairs.
        _ => return None,
    };
    Some(algorithm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The test fixture's RSA key as a JWK (kid `r`, no `alg`, no `use`).
    fn rsa() -> Value {
        let pem = include_bytes!("../../tests/fixtures/rs256.key.pem");
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem).unwrap();
        let mut jwk =
            serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap()).unwrap();
        jwk.as_object_mut().unwrap().remove("alg");
        jwk["kid"] = json!("r");
        jwk
    }

    fn keys(set: Value) -> Result<Vec<Arc<Key>>, String> {
        usable_keys(set.to_string().as_bytes(), &Validation::default())
    }

    #[test]
    fn shared_secrets_encryption_keys_and_none_never_verify() {
        let rsa = rsa();
        let with = |changes: Value| {
            let mut key = rsa.clone();
            for (k, v) in changes.as_object().unwrap() {
                key[k] = v.clone();
            }
            keys(json!({ "keys": [key] }))
        };
        assert_eq!(
            with(json!({})).unwrap()[0].validation.algorithms,
            [Algorithm::RS256]
        );
        assert_eq!(
            with(json!({"alg": "PS384"})).unwrap()[0]
                .validation
                .algorithms,
            [Algorithm::PS384]
        );
        assert!(with(json!({"alg": "none"})).is_err());
        assert!(with(json!({"alg": "HS256"})).is_err());
        assert!(
            with(json!({"alg": "ES256"})).is_err(),
            "an RSA key is not EC"
        );
        assert!(with(json!({"use": "enc"})).is_err());
        assert!(keys(json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}]})).is_err());
        assert!(keys(json!({"nokeys": []})).is_err());
    }

    #[test]
    fn an_unreadable_key_does_not_cost_the_others_and_kids_select() {
        let rsa = rsa();
        let set = keys(json!({"keys": [{"kty": "XYZ"}, {"kty": "oct", "k": "eA"}, rsa]})).unwrap();
        assert_eq!(set.len(), 1);
        assert!(find(&set, Some("r")).is_some());
        assert!(find(&set, Some("other")).is_none());
        assert!(find(&set, None).is_some(), "the only key");
        let two = [set[0].clone(), set[0].clone()];
        assert!(find(&two, None).is_none());
    }
}
