//! Enrichment's GraphQL types: contact validation (the input, the per-field verdicts and their
//! enums) here, providers, the waterfall and batch runs in [`enrich`], duplicate candidates in
//! [`duplicates`].

mod duplicates;
mod enrich;

pub use duplicates::*;
pub use enrich::*;

use async_graphql::{Enum, InputObject, SimpleObject, ID};
use chrono::{DateTime, Utc};

use crate::domains::leads::types::EmailStatus;

/// What to validate. Fields left out are taken from the lead when `leadId` is given.
#[derive(InputObject, Debug, Clone, Default)]
pub struct ContactInput {
    /// An email address (at most 320 characters).
    pub email: Option<String>,
    /// A phone number, E.164 or national with `country` (at most 64 characters).
    pub phone: Option<String>,
    /// A website URL (http or https, at most 2048 characters).
    pub website: Option<String>,
    /// ISO 3166-1 alpha-2 country for national phone numbers (default: the lead's).
    pub country: Option<String>,
    /// A lead of the viewer's organization: its missing fields are validated, and the email
    /// verdict is saved on it (`Lead.emailStatus`, `Lead.validatedAt`).
    pub lead_id: Option<ID>,
}

/// Why an email got its verdict.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ValidationReason {
    /// Not an RFC 5322 address (or an invalid IDN domain).
    InvalidSyntax,
    /// The domain does not exist (NXDOMAIN).
    NoDomain,
    /// The domain has neither MX nor address records.
    NoMx,
    /// The domain publishes a null MX (RFC 7505): it accepts no mail.
    NullMx,
    /// The domain has MX records (or an address as implicit MX).
    MxFound,
    /// DNS did not answer in time or failed.
    DnsUnavailable,
    /// MX lookups are switched off (`EMAIL_MX_CHECK`).
    MxNotChecked,
    /// A throwaway-mailbox domain.
    Disposable,
    /// A shared mailbox of a function (`info@`, `sales@`).
    RoleAccount,
    /// An address nobody reads (`noreply@`).
    NoReply,
    /// The mailbox probe: the mail exchanger accepted the address (`RCPT TO`).
    MailboxAccepted,
    /// The mailbox probe: the mail exchanger refused the address (5xx).
    MailboxRejected,
    /// The mailbox probe: the domain accepts any address, so acceptance proves nothing.
    CatchAll,
    /// The mailbox probe got no clear answer (4xx, timeout, no connection).
    ProbeInconclusive,
    /// The mailbox probe of this domain was skipped: its per-domain rate is used up.
    ProbeRateLimited,
}

crate::wire_enum!(ValidationReason { InvalidSyntax => "INVALID_SYNTAX", NoDomain => "NO_DOMAIN", NoMx => "NO_MX", NullMx => "NULL_MX", MxFound => "MX_FOUND", DnsUnavailable => "DNS_UNAVAILABLE", MxNotChecked => "MX_NOT_CHECKED", Disposable => "DISPOSABLE", RoleAccount => "ROLE_ACCOUNT", NoReply => "NO_REPLY", MailboxAccepted => "MAILBOX_ACCEPTED", MailboxRejected => "MAILBOX_REJECTED", CatchAll => "CATCH_ALL", ProbeInconclusive => "PROBE_INCONCLUSIVE", ProbeRateLimited => "PROBE_RATE_LIMITED" });

/// The verdict on an email address.
#[derive(SimpleObject, Debug, Clone)]
pub struct EmailValidation {
    /// The address as given.
    pub input: String,
    /// Lowercase, IDN domain in ASCII (`xn--`); null when the syntax is invalid.
    pub normalized: Option<String>,
    /// DELIVERABLE, RISKY, UNDELIVERABLE or UNKNOWN.
    pub verdict: EmailStatus,
    /// Why (see [`ValidationReason`]).
    pub reasons: Vec<ValidationReason>,
    /// RFC 5322 syntax holds.
    pub syntax_valid: bool,
    /// The domain accepts mail (MX or implicit MX); null when DNS was not asked or failed.
    pub mx_found: Option<bool>,
    /// The domain's mail hosts, most preferred first.
    pub mx_hosts: Vec<String>,
    /// The domain publishes a null MX.
    pub null_mx: bool,
    /// A disposable-mailbox domain.
    pub disposable: bool,
    /// A role account.
    pub role: bool,
    /// A free webmail provider (gmail.com, outlook.com, ...).
    pub free_provider: bool,
    /// The domain accepts any mailbox; null unless a mailbox probe ran and got an answer.
    pub catch_all: Option<bool>,
    /// The domain's DNS answer came from the validation cache.
    pub cached: bool,
    /// When the domain was looked up.
    pub checked_at: Option<DateTime<Utc>>,
}

/// The kind of line a phone number is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneType {
    /// Mobile.
    Mobile,
    /// Fixed line.
    FixedLine,
    /// Fixed line or mobile (the numbering plan does not tell them apart).
    FixedLineOrMobile,
    /// Voice over IP.
    Voip,
    /// Toll free.
    TollFree,
    /// Anything else (premium rate, shared cost, pager, ...).
    Other,
}

crate::wire_enum!(PhoneType { Mobile => "MOBILE", FixedLine => "FIXED_LINE", FixedLineOrMobile => "FIXED_LINE_OR_MOBILE", Voip => "VOIP", TollFree => "TOLL_FREE", Other => "OTHER" });

/// The verdict on a phone number.
#[derive(SimpleObject, Debug, Clone)]
pub struct PhoneValidation {
    /// The number as given.
    pub input: String,
    /// A valid number of its region.
    pub valid: bool,
    /// E.164 form, when valid.
    pub e164: Option<String>,
    /// Line type, when valid.
    #[graphql(name = "type")]
    pub kind: Option<PhoneType>,
    /// ISO 3166-1 alpha-2 region, when valid.
    pub region: Option<String>,
}

/// The verdict on a website.
#[derive(SimpleObject, Debug, Clone)]
pub struct WebsiteValidation {
    /// The URL as given.
    pub input: String,
    /// The URL fetched (`https://` added when no scheme was given); null when unusable.
    pub url: Option<String>,
    /// The host resolved to a public address and answered.
    pub resolves: bool,
    /// The final HTTP status, after redirects.
    pub http_status: Option<i32>,
    /// The URL after redirects.
    pub final_url: Option<String>,
    /// The server redirected (to another URL).
    pub redirected: bool,
    /// For https: the certificate was valid (null for http, or when nothing answered).
    pub tls_valid: Option<bool>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// The verdicts on one contact.
#[derive(SimpleObject, Debug, Clone)]
pub struct ContactValidation {
    /// The email verdict, when an email was given (or the lead has one).
    pub email: Option<EmailValidation>,
    /// The phone verdict, when a phone was given (or the lead has one).
    pub phone: Option<PhoneValidation>,
    /// The website verdict, when a website was given (or the lead has one).
    pub website: Option<WebsiteValidation>,
    /// The lead validated, when `leadId` was given.
    pub lead_id: Option<ID>,
    /// The email verdict was saved on the lead (it was the lead's current email).
    pub saved_on_lead: bool,
}

/// An organization's enrichment settings.
#[derive(SimpleObject, Debug, Clone)]
pub struct EnrichmentSettings {
    /// The organization opted in to the SMTP mailbox probe.
    pub smtp_probe: bool,
    /// The server allows the probe (`SMTP_PROBE_ENABLED`); without it the opt-in does nothing.
    pub smtp_probe_available: bool,
    /// Last change (null: never changed).
    pub updated_at: Option<DateTime<Utc>>,
    /// Most cents (credits) provider calls may cost per calendar month (UTC); null: no limit.
    pub monthly_budget_cents: Option<i32>,
    /// Cents spent on provider calls this month.
    pub spent_this_month_cents: i32,
    /// Every lead write that creates a lead or changes its email (manual, import, API, incoming
    /// webhook, scrape) queues a validation of that email; the verdict lands on the lead.
    pub validate_on_write: bool,
}

/// A change of the enrichment settings.
#[derive(InputObject, Debug, Clone)]
pub struct UpdateEnrichmentSettingsInput {
    /// Probe mailboxes with SMTP `RCPT TO` (never `DATA`) during validation.
    pub smtp_probe: bool,
    /// The monthly enrichment budget in cents, 0–100000000 (`null` removes the limit; left
    /// out: unchanged).
    pub monthly_budget_cents: async_graphql::MaybeUndefined<i32>,
    /// Validate a lead's email on every write that creates the lead or changes its email
    /// (left out: unchanged; default off).
    pub validate_on_write: Option<bool>,
}
