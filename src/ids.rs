//! ID parsing. Public ids are UUIDs; a malformed id of a specific object reads as NOT_FOUND
//! (it cannot exist), never as an internal error.

use async_graphql::ID;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Parses an `ID` argument.
pub fn parse_id(id: &ID) -> AppResult<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| AppError::NotFound("object"))
}
