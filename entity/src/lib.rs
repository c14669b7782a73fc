//! SeaORM models, one module per table. No GraphQL or HTTP types here.

pub mod api_key;
pub mod audit_log;
pub mod email_token;
pub mod invitation;
pub mod job;
pub mod lead;
pub mod lead_interaction;
pub mod lead_note;
pub mod lead_tag;
pub mod membership;
pub mod notification;
pub mod notification_preference;
pub mod organization;
pub mod outbox_event;
pub mod refresh_token;
pub mod team;
pub mod team_member;
pub mod user;
