//! Access control (docs/protocol.md, "Access"): who is asking, and what they may do.
//!
//! Tokens are JWTs: HS256 with a shared secret, RS256/ES256 with a public key for operators
//! who mint tokens elsewhere, or the keys of an identity provider's key set (`jwks`). The
//! issuer and audience may be required, and the role read from another claim (`claims`). A
//! request's token comes from `Authorization: Bearer`, the `parkstream_token` cookie, or the
//! `access_token` query parameter (for `EventSource`, which cannot set headers). Handlers take
//! a [`Principal`] and call [`Principal::require`].

mod claims;
mod extract;
mod jwks;
mod mint;
mod verify;

pub use claims::RoleClaim;
pub use extract::{need, Allowed, TOKEN_COOKIE};
pub use jwks::{Jwks, REFETCH_AT_MOST_EVERY, REFRESH_EVERY};
pub use mint::{mint, mint_for, Claims};
pub use verify::{Verification, Verifier};

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use jsonwebtoken::Algorithm;
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

impl Role {
    /// How much a role may do, for picking one from an identity provider's list of roles:
    /// admin > operator > monitor > viewer > contractor. A monitor writes (counts, gate
    /// events) and so ranks above a viewer, which only reads; a contractor reads a part.
    fn rank(self) -> u8 {
        match self {
            Role::Admin => 5,
            Role::Operator => 4,
            Role::Monitor => 3,
            Role::Viewer => 2,
            Role::Contractor => 1,
        }
    }

    /// The role's name in tokens.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
            Role::Monitor => "monitor",
            Role::Contractor => "contractor",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [
            Role::Admin,
            Role::Operator,
            Role::Viewer,
            Role::Monitor,
            Role::Contractor,
        ]
        .into_iter()
        .find(|role| role.name() == name)
    }
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

    /// This principal acting, with an optional note (audited as its `sub`).
    ///
    /// # Errors
    /// 422 when the note is longer than allowed.
    pub fn actor(&self, note: Option<String>) -> Result<crate::domain::audit::Actor, ApiError> {
        crate::domain::audit::Actor::new(self.subject.clone(), note).map_err(ApiError::from)
    }

    /// Whether this principal may read the accounts of contractor `id` (its vehicles, its
    /// statement): admins and operators any contractor's, a contractor its own.
    pub fn reads_accounts_of(&self, id: &str) -> bool {
        match self.role {
            Role::Admin | Role::Operator => true,
            Role::Contractor => self.contractor.as_deref() == Some(id),
            _ => false,
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
#[derive(Debug, Clone)]
pub enum Authenticator {
    /// `--auth none`: every request is an admin.
    Disabled,
    Jwt(Arc<Verifier>),
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

#[cfg(test)]
mod tests {
    use super::*;

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
