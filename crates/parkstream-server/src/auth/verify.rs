//! Checking a token: its signature with the configured keys, then its claims.

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::{claims, Authenticator, Jwks, Principal, PublicKeyAlgorithm, RoleClaim};
use crate::error::ApiError;

/// What a token must pass besides its signature: `--jwt-issuer`, `--jwt-audience`, and where
/// its role is (`--jwt-role-claim`). The default checks neither issuer nor audience.
#[derive(Debug, Clone)]
pub struct Verification {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub role_claim: RoleClaim,
}

impl Default for Verification {
    fn default() -> Self {
        Self {
            issuer: None,
            audience: None,
            role_claim: RoleClaim::top_level(),
        }
    }
}

impl Verification {
    /// The claim checks, allowing `algorithms` (set per key for a key set).
    pub fn validation(&self, algorithms: Vec<Algorithm>) -> Validation {
        let mut validation = Validation::new(Algorithm::HS256);
        // Only the key's algorithm: a token signed otherwise (HS/RS confusion, "none") is refused.
        validation.algorithms = algorithms;
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        // A token that names no issuer or audience fails a check that is asked for; a token
        // that carries an audience is refused unless `--jwt-audience` names one of its values.
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        if let Some(audience) = &self.audience {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        validation
    }
}

/// The keys a [`Verifier`] checks signatures with.
enum Keys {
    /// A shared secret or a public key, with its one algorithm.
    Fixed {
        decoding: DecodingKey,
        // Boxed: the variant is built once, and the enum stays small.
        validation: Box<Validation>,
    },
    /// An identity provider's key set.
    Set(Arc<Jwks>),
}

/// Checks tokens: their signature, their claims, and who they speak for.
pub struct Verifier {
    keys: Keys,
    role_claim: RoleClaim,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Verifier");
        match &self.keys {
            Keys::Fixed { validation, .. } => s.field("algorithms", &validation.algorithms),
            Keys::Set(jwks) => s.field("jwks", jwks),
        };
        s.field("role_claim", &self.role_claim.to_string())
            .finish_non_exhaustive()
    }
}

/// Seconds of clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

impl Authenticator {
    /// HS256 with a shared secret.
    pub fn hs256(secret: &[u8], verification: &Verification) -> Self {
        Self::fixed(
            DecodingKey::from_secret(secret),
            Algorithm::HS256,
            verification,
        )
    }

    /// RS256 or ES256 with a PEM public key.
    ///
    /// # Errors
    /// When the key does not parse for that algorithm.
    pub fn public_key(
        pem: &[u8],
        algorithm: PublicKeyAlgorithm,
        verification: &Verification,
    ) -> Result<Self, String> {
        let key = match algorithm {
            PublicKeyAlgorithm::Rs256 => DecodingKey::from_rsa_pem(pem),
            PublicKeyAlgorithm::Es256 => DecodingKey::from_ec_pem(pem),
        }
        .map_err(|e| e.to_string())?;
        Ok(Self::fixed(key, algorithm.algorithm(), verification))
    }

    /// The keys of an identity provider's key set (built with `verification`'s checks).
    pub fn key_set(jwks: Arc<Jwks>, verification: &Verification) -> Self {
        Self::Jwt(Arc::new(Verifier {
            keys: Keys::Set(jwks),
            role_claim: verification.role_claim.clone(),
        }))
    }

    fn fixed(decoding: DecodingKey, algorithm: Algorithm, verification: &Verification) -> Self {
        Self::Jwt(Arc::new(Verifier {
            keys: Keys::Fixed {
                decoding,
                validation: Box::new(verification.validation(vec![algorithm])),
            },
            role_claim: verification.role_claim.clone(),
        }))
    }

    /// With an identity provider's key set: whether its keys have been fetched (`/readyz`).
    pub fn key_set_loaded(&self) -> Option<bool> {
        match self {
            Authenticator::Jwt(verifier) => match &verifier.keys {
                Keys::Set(jwks) => Some(jwks.loaded()),
                Keys::Fixed { .. } => None,
            },
            Authenticator::Disabled => None,
        }
    }

    /// Checks a token and answers who it speaks for.
    ///
    /// # Errors
    /// 401 for a bad signature, algorithm, expiry, issuer, audience or claims (the token is
    /// never echoed); 503 while an identity provider's keys have not been fetched yet.
    pub async fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let Authenticator::Jwt(verifier) = self else {
            return Ok(Principal::unrestricted());
        };
        let claims = match &verifier.keys {
            Keys::Fixed {
                decoding,
                validation,
            } => jsonwebtoken::decode::<Map<String, Value>>(token, decoding, validation),
            Keys::Set(jwks) => {
                let header = jsonwebtoken::decode_header(token).map_err(refusal)?;
                let key = jwks.key_for(header.kid.as_deref()).await?;
                jsonwebtoken::decode(token, &key.decoding, &key.validation)
            }
        }
        .map_err(refusal)?
        .claims;
        claims::principal(claims, &verifier.role_claim)
    }
}

/// Why a token was refused, in words for its sender.
fn refusal(err: jsonwebtoken::errors::Error) -> ApiError {
    use jsonwebtoken::errors::ErrorKind;
    let reason = match err.kind() {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet".into(),
        ErrorKind::InvalidSignature => "the token's signature is wrong".into(),
        ErrorKind::InvalidAlgorithm => "the token is signed with another algorithm".into(),
        ErrorKind::InvalidIssuer => "the token's issuer (iss) is not the one accepted here".into(),
        ErrorKind::InvalidAudience => "the token's audience (aud) does not name this server".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token has no `{claim}` claim"),
        _ => "the token is malformed".into(),
    };
    ApiError::Unauthorized(reason)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::auth::{mint, mint_for, Need, Role};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn hs256(secret: &[u8]) -> Authenticator {
        Authenticator::hs256(secret, &Verification::default())
    }

    #[tokio::test]
    async fn a_minted_token_verifies_and_carries_its_claims() {
        let token = mint(
            SECRET,
            "ops",
            Role::Contractor,
            Some("acme"),
            Some(vec!["a".into()]),
            Duration::from_secs(60),
        )
        .unwrap();
        let principal = hs256(SECRET).verify(&token).await.unwrap();
        assert_eq!(principal.role, Role::Contractor);
        assert_eq!(principal.contractor.as_deref(), Some("acme"));
        assert!(principal.claims_lot("a") && !principal.claims_lot("b"));
        assert!(principal.require(Need::Read).is_ok());
        assert!(principal.require(Need::Operate).is_err());
    }

    #[tokio::test]
    async fn wrong_secret_and_contractor_without_id_are_refused() {
        let token = mint(
            SECRET,
            "x",
            Role::Admin,
            None,
            None,
            Duration::from_secs(60),
        )
        .unwrap();
        assert!(hs256(b"another-secret-of-32-bytes-long!")
            .verify(&token)
            .await
            .is_err());
        let token = mint(
            SECRET,
            "x",
            Role::Contractor,
            None,
            None,
            Duration::from_secs(60),
        )
        .unwrap();
        assert!(hs256(SECRET).verify(&token).await.is_err());
    }

    #[tokio::test]
    async fn issuer_audience_and_role_claim_apply_and_minting_follows_them() {
        let checks = Verification {
            issuer: Some("https://idp.example".into()),
            audience: Some("parkstream".into()),
            role_claim: "realm_access.roles".parse().unwrap(),
        };
        let ttl = Duration::from_secs(60);
        let token = mint_for(SECRET, &checks, "s", Role::Operator, None, None, ttl).unwrap();
        let strict = Authenticator::hs256(SECRET, &checks);
        assert_eq!(strict.verify(&token).await.unwrap().role, Role::Operator);
        let plain = mint(SECRET, "s", Role::Operator, None, None, ttl).unwrap();
        let refused = strict.verify(&plain).await.unwrap_err().to_string();
        assert!(
            refused.contains("no `iss` claim") || refused.contains("no `aud` claim"),
            "{refused}"
        );
        let other = Verification {
            issuer: Some("https://elsewhere".into()),
            ..checks.clone()
        };
        let foreign = mint_for(SECRET, &other, "s", Role::Admin, None, None, ttl).unwrap();
        let refused = strict.verify(&foreign).await.unwrap_err().to_string();
        assert!(refused.contains("issuer"), "{refused}");
        // Without --jwt-audience, a token meant for some audience is not taken.
        let refused = hs256(SECRET).verify(&token).await.unwrap_err().to_string();
        assert!(refused.contains("audience"), "{refused}");
    }
}
