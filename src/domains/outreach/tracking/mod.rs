//! Tracking: what happens to an email after it is sent.
//!
//! - Tokens and links ([`token`]): HS256 JWTs with their own audience, `{r: recipient,
//!   k: o|c|u, u: url}`, no expiry (unsubscribe links must keep working); only links that were in
//!   the rendered email get a click token, so there is no open redirect.
//! - HTTP endpoints ([`service::http`]): `GET /t/o/{token}.gif` (pixel, `no-store`),
//!   `GET /t/c/{token}` (302), `GET /u/{token}` (a confirmation page: a GET never unsubscribes,
//!   link scanners prefetch) and `POST /u/{token}` (its button and RFC 8058 one-click). Forged,
//!   altered or wrong-kind tokens are 404.
//! - Provider webhooks ([`service::webhooks`]): `POST /webhooks/email/sendgrid` (Event Webhook,
//!   ECDSA P-256 when `SENDGRID_WEBHOOK_PUBLIC_KEY` is set) and `/webhooks/email/mailgun`
//!   (HMAC-SHA256 when `MAILGUN_WEBHOOK_SIGNING_KEY` is set); events find their recipient by our
//!   Message-ID or an `lg_recipient` custom argument. Freshness, replay and production rules:
//!   Security model (S12). Other senders' mail (sequence steps) carries tokens for their own
//!   rows: a token that names no campaign recipient goes to the registered
//!   [`TrackedMessages`] senders. Inbound email ([`service::inbound`]): replies and DSN bounces; every
//!   other message also goes to the registered [`InboundMailSink`]s (conversations) first.
//! - [`record`] applies any event in one transaction (event row, recipient status moving only
//!   forward, suppressions, lead timeline, `campaign.activity`).
//! - `Campaign.events(type)` ([`service::events`]): newest first, addresses and leads loaded
//!   once per page; [`EventPages`] loads the first pages of a whole page of campaigns at once.
//!
//! Sub-domain order: above `settings`; imports only `outreach::types` and lower domains. It has
//! no GraphQL root objects (its entry points are HTTP routes), so no `resolver.rs`.

pub mod service;
pub mod types;

pub use service::{
    events::{list as events_of_campaign, EventPages},
    http::{click, open, unsubscribe, unsubscribe_page},
    inbound::inbound,
    others::{register_tracked_messages, TrackedMessages},
    record::{recipient_by_message_id, record, Activity},
    sink::{register_inbound_sink, InboundMail, InboundMailSink},
    token::{instrument_html, sign, verify, Links, TokenKind},
    webhooks::provider,
};
pub use types::{EmailEvent, EmailEventType};
