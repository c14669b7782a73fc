//! Background jobs as users see them: list, inspect, cancel, retry.

pub mod resolver;
pub mod service;
pub mod types;

pub use resolver::{JobMutation, JobQuery};
