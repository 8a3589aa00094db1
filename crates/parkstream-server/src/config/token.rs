//! Settings of `parkstream token`.

use std::time::Duration;

use clap::Args;

use super::parse::{parse_database_url, parse_name, parse_positive_duration};
use super::serve::parse_claim_value;
use crate::auth::{Role, RoleClaim, Secret, Verification};

/// Settings of `parkstream token`.
#[derive(Debug, Clone, Args)]
pub struct TokenSettings {
    /// What the token allows.
    #[arg(long, value_enum)]
    pub role: Role,

    /// The contractor, for `--role contractor`.
    #[arg(long, required_if_eq("role", "contractor"), value_parser = parse_name)]
    pub contractor: Option<String>,

    /// Only these lots are visible (comma-separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_name)]
    pub lots: Option<Vec<String>>,

    /// How long the token is valid (`30m`, `12h`, `2592000`; at most ten years).
    #[arg(long, default_value = "12h", value_parser = parse_positive_duration)]
    pub ttl: Duration,

    /// Who the token is for (the `sub` claim).
    #[arg(long, default_value = "parkstream-cli", value_parser = parse_name)]
    pub subject: String,

    /// The secret the server verifies with (its --jwt-secret).
    #[arg(
        long,
        env = "PARKSTREAM_JWT_SECRET",
        required_unless_present = "database_url"
    )]
    pub jwt_secret: Option<Secret>,

    /// Instead of --jwt-secret: the server's database, to mint with the secret the server
    /// generated and keeps there (read only; nothing is created or changed).
    #[arg(long, env = "DATABASE_URL", value_parser = parse_database_url)]
    pub database_url: Option<String>,

    /// The issuer (`iss`) the server requires (its --jwt-issuer).
    #[arg(long, env = "PARKSTREAM_JWT_ISSUER", value_parser = parse_claim_value)]
    pub jwt_issuer: Option<String>,

    /// The audience (`aud`) the server requires (its --jwt-audience).
    #[arg(long, env = "PARKSTREAM_JWT_AUDIENCE", value_parser = parse_claim_value)]
    pub jwt_audience: Option<String>,

    /// Where the server reads the role (its --jwt-role-claim).
    #[arg(long, env = "PARKSTREAM_JWT_ROLE_CLAIM", default_value = "role")]
    pub jwt_role_claim: RoleClaim,
}

impl TokenSettings {
    /// The checks of the server the token is for.
    pub fn verification(&self) -> Verification {
        Verification {
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            role_claim: self.jwt_role_claim.clone(),
        }
    }
}
