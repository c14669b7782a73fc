//! The integration suite: one binary, run once embedded (SQLite + in-process bus) and once
//! against Postgres + Redis + SMTP (scripts/test sets TEST_POSTGRES_URL, TEST_REDIS_URL, ...).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixtures;
mod helpers;

mod binary;

mod ai;
mod ai_goals;
mod ai_replies;
mod approvals;
mod compiled;
mod compiled_diff;
mod conversations;
mod enrichment;
mod enrichment_providers;
mod fake_dns;
mod fast_rows;
mod fault_proxy;
mod graphql_ws_client;
mod http_spine;
mod identity;
mod insight;
mod jobs;
mod jobs_reclaim;
mod leads;
mod multi_instance;
mod nested_batches;
mod notifications;
mod organizations;
mod outreach;
mod outreach_ab;
mod outreach_admin;
mod pagination;
mod places;
mod realtime;
mod realtime_outage;
mod redis_outage_clients;
mod schema_sdl;
mod scraping;
mod scraping_sources;
mod security;
mod security_input;
mod security_outreach;
mod security_outreach_mail;
mod security_realtime;
mod security_secrets;
mod security_sessions;
mod shutdown;
mod statement_walk;
mod webhooks;
mod ws_protocol;
