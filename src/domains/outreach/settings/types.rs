//! The settings GraphQL types: SMTP settings (input, object, test result), the suppression list
//! entry and filter, and the sending domain.

use async_graphql::{Enum, InputObject, Json, MaybeUndefined, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{email_suppression, sending_domain, smtp_setting};

use super::service::sending_domains::{TXT_LABEL, TXT_PREFIX};

/// How the connection to the SMTP server is secured.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text (local relays and test sinks only).
    None,
    /// Plain connection upgraded with STARTTLS (required), usually port 587.
    Starttls,
    /// TLS from the first byte, usually port 465.
    Tls,
}

crate::wire_enum!(SmtpSecurity { None => "NONE", Starttls => "STARTTLS", Tls => "TLS" });

/// Input of `updateSmtpSettings` and `testSmtpSettings`.
#[derive(InputObject, Debug, Clone)]
pub struct SmtpSettingsInput {
    /// Server host name or address.
    pub host: String,
    /// Port (1–65535).
    pub port: i32,
    /// Connection security.
    pub security: SmtpSecurity,
    /// User name for AUTH (none = no authentication).
    pub username: Option<String>,
    /// Password for AUTH: absent keeps the saved one, `null` clears it.
    #[graphql(default)]
    pub password: MaybeUndefined<String>,
}

/// The organization's SMTP server (the password is never returned).
#[derive(SimpleObject, Debug, Clone)]
pub struct SmtpSettings {
    /// Server host.
    pub host: String,
    /// Port.
    pub port: i32,
    /// Connection security.
    pub security: SmtpSecurity,
    /// AUTH user name.
    pub username: Option<String>,
    /// A password is saved.
    pub has_password: bool,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<smtp_setting::Model> for SmtpSettings {
    fn from(m: smtp_setting::Model) -> Self {
        SmtpSettings {
            host: m.host,
            port: m.port,
            security: SmtpSecurity::parse(&m.security).unwrap_or(SmtpSecurity::Starttls),
            username: m.username,
            has_password: m.password.is_some(),
            updated_at: m.updated_at,
        }
    }
}

/// What `testSmtpSettings` found, coarse on purpose: the server's and the network's own error
/// texts are never returned (they would map the network behind the server).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTestOutcome {
    /// Connected and greeted (STARTTLS/AUTH as configured); the test message, when asked for,
    /// was accepted.
    Connected,
    /// The server refused the credentials (or offers no AUTH mechanism we speak).
    AuthFailed,
    /// The TLS handshake failed (implicit TLS or STARTTLS), or STARTTLS is not offered.
    TlsFailed,
    /// The host did not resolve, nothing answered, no SMTP server greeted, or it timed out.
    Unreachable,
    /// The host is or resolves to a loopback, private, link-local or otherwise reserved address.
    RefusedAddress,
    /// Connected, but the server refused the test message.
    MessageRejected,
}

/// Result of `testSmtpSettings`.
#[derive(SimpleObject, Debug, Clone)]
pub struct SmtpTestResult {
    /// Connected, greeted (EHLO, STARTTLS/AUTH as configured) and, when asked, the test message
    /// was accepted.
    pub ok: bool,
    /// What happened.
    pub outcome: SmtpTestOutcome,
    /// A fixed sentence describing a failed `outcome` (never the server's own text).
    pub error: Option<String>,
    /// The address the test message was sent to.
    pub sent_to: Option<String>,
}

/// Why an address is suppressed.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuppressionReason {
    /// The recipient unsubscribed.
    Unsubscribe,
    /// A hard bounce.
    HardBounce,
    /// A spam complaint.
    Complaint,
    /// Added by hand.
    Manual,
}

crate::wire_enum!(SuppressionReason { Unsubscribe => "unsubscribe", HardBounce => "hard_bounce", Complaint => "complaint", Manual => "manual" });

/// Filters of `suppressions`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct SuppressionFilter {
    /// Any of these reasons.
    pub reason: Option<Vec<SuppressionReason>>,
    /// Address contains (case-insensitive).
    pub search: Option<String>,
}

/// An address the organization never emails.
pub struct Suppression(pub email_suppression::Model);

#[Object]
impl Suppression {
    /// Entry id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The address (lowercase).
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// Why.
    async fn reason(&self) -> SuppressionReason {
        SuppressionReason::parse(&self.0.reason).unwrap_or(SuppressionReason::Manual)
    }
    /// Where it came from: `{campaignId, recipientId, provider}` or `{addedBy}`.
    async fn source(&self) -> Json<serde_json::Value> {
        Json(self.0.data.clone())
    }
    /// When it was added.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A sending domain of the organization.
pub struct SendingDomain(pub sending_domain::Model);

/// A domain the organization may send campaigns from once verified (a DNS TXT record proves
/// control); a verified domain covers its subdomains.
#[Object]
impl SendingDomain {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The domain (lowercase).
    async fn domain(&self) -> &str {
        &self.0.domain
    }
    /// Whether the TXT record was found: campaigns may send from this domain and its subdomains.
    async fn verified(&self) -> bool {
        self.0.verified_at.is_some()
    }
    /// When it was verified.
    async fn verified_at(&self) -> Option<DateTime<Utc>> {
        self.0.verified_at
    }
    /// Where to publish the TXT record (the domain itself works too).
    async fn txt_name(&self) -> String {
        format!("{TXT_LABEL}.{}", self.0.domain)
    }
    /// The TXT record's value to publish.
    async fn txt_value(&self) -> String {
        format!("{TXT_PREFIX}{}", self.0.token)
    }
    /// When `verifySendingDomain` last looked.
    async fn last_checked_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_checked_at
    }
    /// Why the last check did not verify it (null once verified).
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// When it was added.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
