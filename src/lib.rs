//! Leadgraph: a GraphQL backend for AI-powered lead generation and outreach.
//!
//! See docs/ARCHITECTURE.md for the map of this crate.

pub mod auth;
pub mod config;
pub mod db;
pub mod domains;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod ids;
pub mod jobs;
pub mod platform;
pub mod rotate_secrets;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use config::Config;
pub use startup::Application;
