//! Identity: who is calling. (Accounts, organizations, teams and keys build on this.)

pub mod resolver;

pub use resolver::IdentityQuery;
