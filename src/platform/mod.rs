//! Infrastructure adapters shared by all domains.

pub mod backoff;
pub mod cache;
pub mod contact;
pub mod mail_job;
pub mod mailer;
pub mod mx;
pub mod outbound;
pub mod ratelimit;
pub mod redis_client;
pub mod secrets_box;
pub mod smtp_pool;
pub mod smtp_probe;
pub mod sources_config;
pub mod storage;
