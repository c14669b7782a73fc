//! Infrastructure adapters shared by all domains.

pub mod cache;
pub mod mail_job;
pub mod mailer;
pub mod outbound;
pub mod ratelimit;
pub mod secrets_box;
pub mod smtp_pool;
