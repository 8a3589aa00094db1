//! From a verified token's claims to a [`Principal`]: where the role is read
//! (`--jwt-role-claim`), and which role an identity provider's list of roles grants.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use parkstream_protocol::Timestamp;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Principal, Role};
use crate::error::ApiError;

/// Where a token carries its role: a dotted path into the claims (`role`, or
/// `realm_access.roles` as Keycloak puts them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleClaim {
    path: Vec<String>,
}

impl RoleClaim {
    /// The `role` claim at the top level, as `parkstream token` mints it.
    pub fn top_level() -> Self {
        Self {
            path: vec!["role".into()],
        }
    }

    /// Whether this is the top-level `role` claim (tokens minted as before verify).
    pub fn is_default(&self) -> bool {
        self.path.len() == 1 && self.path[0] == "role"
    }

    /// Puts `role` at this path in `claims` (for tokens the server mints itself).
    pub(super) fn insert(&self, claims: &mut Map<String, Value>, role: Role) {
        let Some((last, parents)) = self.path.split_last() else {
            return;
        };
        let mut object = claims;
        for name in parents {
            let entry = object
                .entry(name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            let Value::Object(inner) = entry else {
                unreachable!("made an object above")
            };
            object = inner;
        }
        object.insert(last.clone(), Value::String(role.name().into()));
    }

    fn find<'a>(&self, claims: &'a Map<String, Value>) -> Option<&'a Value> {
        let (first, rest) = self.path.split_first()?;
        rest.iter()
            .try_fold(claims.get(first)?, |value, name| value.get(name))
    }

    /// The role the claim at this path grants: a role name, or a list of names of which the
    /// one with the most privilege counts (names that are no parkstream role are ignored, so
    /// an identity provider's own roles may sit beside ours).
    fn role_in(&self, claims: &Map<String, Value>) -> Result<Role, ApiError> {
        let value = self.find(claims).ok_or_else(|| {
            ApiError::Unauthorized(format!("the token has no `{self}` claim (its role)"))
        })?;
        let role = match value {
            Value::String(name) => Role::from_name(name),
            Value::Array(names) => names
                .iter()
                .filter_map(|name| name.as_str().and_then(Role::from_name))
                .max_by_key(|role| role.rank()),
            _ => None,
        };
        role.ok_or_else(|| {
            ApiError::Unauthorized(format!(
                "the token's `{self}` claim names no parkstream role \
                 (admin, operator, monitor, viewer or contractor)"
            ))
        })
    }
}

impl fmt::Display for RoleClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path.join("."))
    }
}

impl FromStr for RoleClaim {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let path: Vec<String> = s.split('.').map(str::to_owned).collect();
        if path
            .iter()
            .any(|name| name.is_empty() || name.trim() != name)
        {
            return Err(format!(
                "{s:?} is not a claim path: names separated by dots, like role or realm_access.roles"
            ));
        }
        Ok(Self { path })
    }
}

/// The claims besides the role that parkstream reads; all at the top level.
#[derive(Deserialize)]
struct Fixed {
    sub: String,
    #[serde(rename = "contractorId", default)]
    contractor_id: Option<String>,
    #[serde(default)]
    lots: Option<Vec<String>>,
    exp: u64,
}

/// Who a verified token speaks for.
///
/// # Errors
/// 401 when the role is missing or unknown, a claim has the wrong type, or a contractor
/// token has no `contractorId`.
pub(super) fn principal(
    claims: Map<String, Value>,
    role_claim: &RoleClaim,
) -> Result<Principal, ApiError> {
    let role = role_claim.role_in(&claims)?;
    let fixed: Fixed = serde_json::from_value(Value::Object(claims)).map_err(|err| {
        ApiError::Unauthorized(format!("the token's claims do not fit parkstream: {err}"))
    })?;
    if role == Role::Contractor && fixed.contractor_id.is_none() {
        return Err(ApiError::Unauthorized(
            "a contractor token needs a contractorId claim".into(),
        ));
    }
    Ok(Principal {
        subject: fixed.sub,
        role,
        contractor: fixed.contractor_id.map(Arc::from),
        lots: fixed.lots.map(|l| l.into_iter().map(Arc::from).collect()),
        expires_at: i64::try_from(fixed.exp)
            .ok()
            .and_then(|s| Timestamp::from_unix_millis(s.saturating_mul(1000))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        let Value::Object(mut map) = value else {
            panic!("an object")
        };
        map.insert("sub".into(), json!("s"));
        map.insert("exp".into(), json!(4_000_000_000_u64));
        map
    }

    #[test]
    fn a_list_of_roles_grants_the_most_privileged_known_one() {
        let path: RoleClaim = "realm_access.roles".parse().unwrap();
        let role = |roles: Value| {
            principal(claims(json!({"realm_access": {"roles": roles}})), &path).map(|p| p.role)
        };
        assert_eq!(
            role(json!(["offline_access", "operator", "viewer"])).unwrap(),
            Role::Operator
        );
        assert_eq!(role(json!(["viewer", "monitor"])).unwrap(), Role::Monitor);
        assert_eq!(role(json!(["admin", "contractor"])).unwrap(), Role::Admin);
        assert!(role(json!(["offline_access", "Admin"])).is_err());
        assert!(role(json!([])).is_err());
        assert!(role(json!(42)).is_err());
    }

    #[test]
    fn a_missing_or_unknown_role_is_refused_with_the_claim_named() {
        let top = RoleClaim::top_level();
        let err = principal(claims(json!({})), &top).unwrap_err();
        assert!(err.to_string().contains("`role`"), "{err}");
        let err = principal(claims(json!({"role": "root"})), &top).unwrap_err();
        assert!(
            err.to_string().contains("names no parkstream role"),
            "{err}"
        );
        let ok = principal(claims(json!({"role": "viewer", "lots": ["a"]})), &top).unwrap();
        assert_eq!(ok.role, Role::Viewer);
        assert!(ok.claims_lot("a") && !ok.claims_lot("b"));
        assert!(principal(claims(json!({"role": "contractor"})), &top).is_err());
    }

    #[test]
    fn claim_paths_parse_and_insert_where_they_are_read() {
        assert!("".parse::<RoleClaim>().is_err());
        assert!("a..b".parse::<RoleClaim>().is_err());
        assert!(".role".parse::<RoleClaim>().is_err());
        let path: RoleClaim = "resource_access.parkstream.roles".parse().unwrap();
        assert_eq!(path.to_string(), "resource_access.parkstream.roles");
        let mut map = claims(json!({}));
        path.insert(&mut map, Role::Operator);
        assert_eq!(principal(map, &path).unwrap().role, Role::Operator);
    }
}
