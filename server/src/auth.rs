//! Who is asking: bearer tokens that carry a tenant and a role.
//!
//! Roles form a ladder, each allowed what the one below it is: `read` (list, show, status,
//! tail), `operate` (submit, cancel, send), `deploy` (push and delete modules), `admin` (make
//! tokens for its tenant). The admin of the system tenant, made at first start, also creates
//! tenants and their tokens. Tokens are kept only as their sha256.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::AppState;
use crate::error::ApiError;

/// The tenant the first admin token belongs to, which manages the others.
pub const SYSTEM_TENANT: &str = "system";

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// List and read.
    Read,
    /// Also run jobs and send them events.
    Operate,
    /// Also push and delete modules.
    Deploy,
    /// Also make tokens.
    Admin,
}

impl Role {
    /// The role's name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Operate => "operate",
            Role::Deploy => "deploy",
            Role::Admin => "admin",
        }
    }

    /// The role's name after "a" or "an".
    pub fn with_article(self) -> &'static str {
        match self {
            Role::Read => "a read",
            Role::Operate => "an operate",
            Role::Deploy => "a deploy",
            Role::Admin => "an admin",
        }
    }

    /// Parses a role name.
    pub fn parse(name: &str) -> Result<Role, ApiError> {
        match name {
            "read" => Ok(Role::Read),
            "operate" => Ok(Role::Operate),
            "deploy" => Ok(Role::Deploy),
            "admin" => Ok(Role::Admin),
            other => Err(ApiError::bad_request(format!(
                "`{other}` is not a role; use read, operate, deploy or admin"
            ))),
        }
    }
}

/// The hex sha256 of a token's text: how it is stored.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random token.
pub fn new_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|err| {
        ApiError::internal(format!("could not draw random bytes for a token: {err}"))
    })?;
    Ok(format!(
        "cameo_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// The caller, from a valid bearer token.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The tenant it acts for.
    pub tenant: String,
    /// What it may do.
    pub role: Role,
}

impl Principal {
    /// Refuses (403) unless the role is at least `needed`; `what` names the action.
    pub fn require(&self, needed: Role, what: &str) -> Result<(), ApiError> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "{} token may not {what}; it needs {} token (ask an admin of tenant \"{}\" for \
                 one)",
                self.role.with_article(),
                needed.with_article(),
                self.tenant
            )))
        }
    }

    /// Refuses (403) unless this is the system tenant's admin.
    pub fn require_system_admin(&self, what: &str) -> Result<(), ApiError> {
        if self.tenant == SYSTEM_TENANT && self.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "only the server's admin token (tenant \"{SYSTEM_TENANT}\") may {what}"
            )))
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized(
                "no token: send `Authorization: Bearer <token>` (the CLI takes --token, \
                 CAMEO_TOKEN, or `cameo login`)",
            )
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "the Authorization header is not `Bearer <token>`; send the token that way",
                )
            })?;
        let record = state.store.token(&token_hash(token))?;
        match record {
            Some(record) => Ok(Principal {
                tenant: record.tenant,
                role: record.role,
            }),
            None => Err(ApiError::unauthorized(
                "this token is not known to the server; check it, or ask an admin for a new one",
            )),
        }
    }
}
