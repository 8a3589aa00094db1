//! Access control (docs/protocol.md, "Access"): who is asking, and what they may do.
//!
//! Tokens are JWTs: HS256 with a shared secret, or RS256/ES256 with a public key for operators
//! who mint tokens elsewhere. A request's token comes from `Authorization: Bearer`, the
//! `parkstream_token` cookie, or the `access_token` query parameter (for `EventSource`, which
//! cannot set headers). Handlers take a [`Principal`] and call [`Principal::require`].

mod extract;

pub use extract::{need, Allowed, TOKEN_COOKIE};

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use parkstream_protocol::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including lots and contractors.
    Admin,
    /// Reads, acknowledges and resolves alerts and violations, and may report counts.
    Operator,
    /// Reads.
    Viewer,
    /// Camera and gate backends: ingest only.
    Monitor,
    /// A contractor: reads its own lots, alerts and violations.
    Contractor,
}

/// What an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Current state, lists, the stream: viewer and above, and contractors (scoped).
    Read,
    /// Acknowledge and resolve: operator and above.
    Operate,
    /// Lots and contractors: admin.
    Administer,
    /// Counts and gate events: monitor, operator, admin.
    Ingest,
    /// `/metrics` on the main address: admin, and monitor (scrapers send a bearer token).
    Scrape,
}

/// The claims of a parkstream token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(
        rename = "contractorId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub contractor_id: Option<String>,
    /// Only these lots are visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lots: Option<Vec<String>>,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub role: Role,
    /// For `contractor` tokens.
    pub contractor: Option<Arc<str>>,
    /// The `lots` claim: only these lots are visible.
    pub lots: Option<Vec<Arc<str>>>,
    /// When the token expires (a stream ends by then).
    pub expires_at: Option<Timestamp>,
}

impl Principal {
    /// Everything allowed: `--auth none`.
    pub fn unrestricted() -> Self {
        Self {
            subject: "anonymous".into(),
            role: Role::Admin,
            contractor: None,
            lots: None,
            expires_at: None,
        }
    }

    /// # Errors
    /// 403 when the role does not allow `need`.
    pub fn require(&self, need: Need) -> Result<(), ApiError> {
        use Role::{Admin, Contractor, Monitor, Operator, Viewer};
        let allowed = match need {
            Need::Read => matches!(self.role, Admin | Operator | Viewer | Contractor),
            Need::Operate => matches!(self.role, Admin | Operator),
            Need::Administer => self.role == Admin,
            Need::Ingest => matches!(self.role, Admin | Operator | Monitor),
            Need::Scrape => matches!(self.role, Admin | Monitor),
        };
        if allowed {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "the {:?} role may not do this",
                self.role
            )))
        }
    }

    /// Whether the `lots` claim lets this principal see `lot`.
    pub fn claims_lot(&self, lot: &str) -> bool {
        self.lots
            .as_ref()
            .is_none_or(|lots| lots.iter().any(|l| &**l == lot))
    }
}

/// How requests are authenticated.
#[derive(Clone)]
pub enum Authenticator {
    /// `--auth none`: every request is an admin.
    Disabled,
    Jwt {
        decoding: Arc<DecodingKey>,
        validation: Arc<Validation>,
    },
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Authenticator::Disabled => f.write_str("Authenticator::Disabled"),
            Authenticator::Jwt { validation, .. } => f
                .debug_struct("Authenticator::Jwt")
                .field("algorithms", &validation.algorithms)
                .finish_non_exhaustive(),
        }
    }
}

/// Seconds of clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

impl Authenticator {
    /// HS256 with a shared secret.
    pub fn hs256(secret: &[u8]) -> Self {
        Self::jwt(DecodingKey::from_secret(secret), Algorithm::HS256)
    }

    /// RS256 or ES256 with a PEM public key.
    ///
    /// # Errors
    /// When the key does not parse for that algorithm.
    pub fn public_key(pem: &[u8], algorithm: PublicKeyAlgorithm) -> Result<Self, String> {
        let key = match algorithm {
            PublicKeyAlgorithm::Rs256 => DecodingKey::from_rsa_pem(pem),
            PublicKeyAlgorithm::Es256 => DecodingKey::from_ec_pem(pem),
        }
        .map_err(|e| e.to_string())?;
        Ok(Self::jwt(key, algorithm.algorithm()))
    }

    fn jwt(decoding: DecodingKey, algorithm: Algorithm) -> Self {
        // One algorithm only: a token signed otherwise (HS/RS confusion, "none") is refused.
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self::Jwt {
            decoding: Arc::new(decoding),
            validation: Arc::new(validation),
        }
    }

    /// Checks a token and answers who it speaks for.
    ///
    /// # Errors
    /// 401 for a bad signature, algorithm, expiry, or claims (the token is never echoed).
    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let Authenticator::Jwt {
            decoding,
            validation,
        } = self
        else {
            return Ok(Principal::unrestricted());
        };
        let data = jsonwebtoken::decode::<Claims>(token, decoding, validation).map_err(|err| {
            use jsonwebtoken::errors::ErrorKind;
            let reason = match err.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet",
                ErrorKind::InvalidSignature => "the token's signature is wrong",
                ErrorKind::InvalidAlgorithm => "the token is signed with another algorithm",
                _ => "the token is malformed",
            };
            ApiError::Unauthorized(reason.into())
        })?;
        let claims = data.claims;
        if claims.role == Role::Contractor && claims.contractor_id.is_none() {
            return Err(ApiError::Unauthorized(
                "a contractor token needs a contractorId claim".into(),
            ));
        }
        Ok(Principal {
            subject: claims.sub,
            role: claims.role,
            contractor: claims.contractor_id.map(Arc::from),
            lots: claims.lots.map(|l| l.into_iter().map(Arc::from).collect()),
            expires_at: i64::try_from(claims.exp)
                .ok()
                .and_then(|s| Timestamp::from_unix_millis(s.saturating_mul(1000))),
        })
    }
}

/// The algorithms a public key can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PublicKeyAlgorithm {
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "ES256")]
    Es256,
}

impl PublicKeyAlgorithm {
    fn algorithm(self) -> Algorithm {
        match self {
            PublicKeyAlgorithm::Rs256 => Algorithm::RS256,
            PublicKeyAlgorithm::Es256 => Algorithm::ES256,
        }
    }
}

/// A secret that never shows in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() < 16 {
            return Err("a JWT secret needs at least 16 characters".into());
        }
        Ok(Self(s.to_owned()))
    }
}

/// Mints an HS256 token.
///
/// # Errors
/// When the claims cannot be encoded (they always can).
pub fn mint(
    secret: &[u8],
    subject: &str,
    role: Role,
    contractor: Option<&str>,
    lots: Option<Vec<String>>,
    ttl: Duration,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = u64::try_from(Timestamp::now().unix_millis() / 1000).unwrap_or(0);
    let claims = Claims {
        sub: subject.to_owned(),
        role,
        contractor_id: contractor.map(str::to_owned),
        lots,
        exp: now.saturating_add(ttl.as_secs()),
        nbf: None,
        iat: Some(now),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_minted_token_verifies_and_carries_its_claims() {
        let token = mint(
            SECRET,
            "ops",
            Role::Contractor,
            Some("acme"),
            Some(vec!["a".into()]),
            Duration::from_secs(60),
        )
        .unwrap();
        let principal = Authenticator::hs256(SECRET).verify(&token).unwrap();
        assert_eq!(principal.role, Role::Contractor);
        assert_eq!(principal.contractor.as_deref(), Some("acme"));
        assert!(principal.claims_lot("a") && !principal.claims_lot("b"));
        assert!(principal.require(Need::Read).is_ok());
        assert!(principal.require(Need::Operate).is_err());
    }

    #[test]
    fn wrong_secret_and_contractor_without_id_are_refused() {
        let token = mint(
            SECRET,
            "x",
            Role::Admin,
            None,
            None,
            Duration::from_secs(60),
        )
        .unwrap();
        assert!(Authenticator::hs256(b"another-secret-of-32-bytes-long!")
            .verify(&token)
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
        assert!(Authenticator::hs256(SECRET).verify(&token).is_err());
    }

    #[test]
    fn roles_allow_what_the_spec_says() {
        let can = |role, need| {
            Principal {
                role,
                ..Principal::unrestricted()
            }
            .require(need)
            .is_ok()
        };
        assert!(can(Role::Monitor, Need::Ingest) && !can(Role::Monitor, Need::Read));
        assert!(can(Role::Viewer, Need::Read) && !can(Role::Viewer, Need::Operate));
        assert!(can(Role::Operator, Need::Operate) && !can(Role::Operator, Need::Administer));
        assert!(can(Role::Operator, Need::Ingest) && can(Role::Admin, Need::Administer));
        assert!(!can(Role::Contractor, Need::Ingest));
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
