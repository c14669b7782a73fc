//! The integration suite: one binary, run once embedded (SQLite + in-process bus) and once
//! against Postgres + Redis + SMTP (scripts/test sets TEST_POSTGRES_URL, TEST_REDIS_URL, ...).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod binary;

mod http_spine;
mod identity;
mod jobs;
mod leads;
mod multi_instance;
mod organizations;
mod schema_sdl;
mod ws_protocol;
