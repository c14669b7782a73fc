//! Infrastructure adapters shared by all domains.

pub mod mailer;
pub mod outbound;
