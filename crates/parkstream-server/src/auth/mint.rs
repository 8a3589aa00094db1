//! Tokens the server and `parkstream token` mint (HS256, with the shared secret).

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parkstream_protocol::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Role, Verification};

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

/// Mints an HS256 token in the default shape (role at the top level, no issuer or audience).
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
    mint_for(
        secret,
        &Verification::default(),
        subject,
        role,
        contractor,
        lots,
        ttl,
    )
}

/// Mints an HS256 token that passes `verification`'s checks: with its issuer and audience,
/// and the role where it is read.
///
/// # Errors
/// When the claims cannot be encoded (they always can).
pub fn mint_for(
    secret: &[u8],
    verification: &Verification,
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
    let Ok(Value::Object(mut claims)) = serde_json::to_value(&claims) else {
        unreachable!("claims serialize to an object")
    };
    if !verification.role_claim.is_default() {
        claims.remove("role");
        verification.role_claim.insert(&mut claims, role);
    }
    if let Some(issuer) = &verification.issuer {
        claims.insert("iss".into(), Value::String(issuer.clone()));
    }
    if let Some(audience) = &verification.audience {
        claims.insert("aud".into(), Value::String(audience.clone()));
    }
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
}
