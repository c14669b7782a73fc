//! Per-organization SMTP settings: `smtpSettings`, `updateSmtpSettings`, `deleteSmtpSettings`,
//! `testSmtpSettings`, and the transport campaign sends use ([`Sender`]: the organization's
//! server when it has settings, else the server-wide mailer from `SMTP_URL`).
//!
//! The password is stored as given (the project has no encryption-at-rest helper yet; see
//! docs/ARCHITECTURE.md) and never returned: the API only says `hasPassword`. Hosts that resolve
//! to loopback, private, link-local or metadata addresses are refused unless
//! `OUTBOUND_ALLOW_PRIVATE_NETWORKS` is on or `OUTBOUND_ALLOW_HOSTS` lists the host and port (the
//! outbound guard's rules), checked when the settings are saved, tested and used.

use std::time::Duration;

use async_graphql::{Enum, InputObject, MaybeUndefined, SimpleObject};
use chrono::{DateTime, Utc};
use entity::smtp_setting;
use lettre::{
    message::{header::ContentType, Mailbox},
    transport::smtp::authentication::Credentials,
    Message,
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use uuid::Uuid;

use crate::{
    auth::{Permission, Viewer},
    error::{AppError, AppResult, FieldError},
    platform::{
        mailer::{send_pooled, MailError, Mailer},
        outbound::is_forbidden_ip,
        smtp_pool::{self, SmtpPool, SmtpTarget},
    },
    state::AppState,
};

/// Who may read, change and test the settings.
pub const PERMISSION: Permission = Permission::UpdateOrganization;
/// Connect / command timeout of organization servers.
const TIMEOUT: Duration = Duration::from_secs(15);

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

impl SmtpSecurity {
    fn as_str(self) -> &'static str {
        match self {
            SmtpSecurity::None => "NONE",
            SmtpSecurity::Starttls => "STARTTLS",
            SmtpSecurity::Tls => "TLS",
        }
    }
    fn parse(s: &str) -> SmtpSecurity {
        match s {
            "NONE" => SmtpSecurity::None,
            "TLS" => SmtpSecurity::Tls,
            _ => SmtpSecurity::Starttls,
        }
    }
}

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
            security: SmtpSecurity::parse(&m.security),
            username: m.username,
            has_password: m.password.is_some(),
            updated_at: m.updated_at,
        }
    }
}

/// Result of `testSmtpSettings`.
#[derive(SimpleObject, Debug, Clone)]
pub struct SmtpTestResult {
    /// Connected, greeted (EHLO, STARTTLS/AUTH as configured) and, when asked, the test message
    /// was accepted.
    pub ok: bool,
    /// What went wrong.
    pub error: Option<String>,
    /// The address the test message was sent to.
    pub sent_to: Option<String>,
}

/// Connection parameters (saved or given).
#[derive(Debug, Clone)]
struct Params {
    host: String,
    port: u16,
    security: SmtpSecurity,
    username: Option<String>,
    password: Option<String>,
}

impl From<&smtp_setting::Model> for Params {
    fn from(m: &smtp_setting::Model) -> Self {
        Params {
            host: m.host.clone(),
            port: u16::try_from(m.port).unwrap_or(25),
            security: SmtpSecurity::parse(&m.security),
            username: m.username.clone(),
            password: m.password.clone(),
        }
    }
}

/// The connection pool a campaign run (and `testSmtpSettings`) sends through (`TCP_NODELAY` sockets; see
/// `platform::smtp_pool`), at most `max_connections` open.
fn pool(p: &Params, max_connections: usize) -> SmtpPool {
    SmtpPool::new(
        SmtpTarget {
            host: p.host.clone(),
            port: p.port,
            security: match p.security {
                SmtpSecurity::None => smtp_pool::Security::None,
                SmtpSecurity::Starttls => smtp_pool::Security::Starttls,
                SmtpSecurity::Tls => smtp_pool::Security::Tls,
            },
            credentials: p
                .username
                .as_ref()
                .map(|u| Credentials::new(u.clone(), p.password.clone().unwrap_or_default())),
            timeout: TIMEOUT,
            hello: Default::default(),
        },
        max_connections,
    )
}

/// Refuses hosts that resolve to addresses the outbound guard forbids (unless allowed).
async fn check_host(state: &AppState, host: &str, port: u16) -> Result<(), String> {
    if state.http.allows_host(host, port) {
        return Ok(());
    }
    let addrs = tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| format!("resolving {host} timed out"))?
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    for a in addrs {
        if is_forbidden_ip(a.ip()) {
            return Err(format!(
                "{host} resolves to a private or reserved address ({})",
                a.ip()
            ));
        }
    }
    Ok(())
}

fn validate(input: &SmtpSettingsInput) -> AppResult<Params> {
    let mut errors = Vec::new();
    let mut err = |f: &str, m: &str| {
        errors.push(FieldError {
            field: format!("input.{f}"),
            message: m.into(),
        })
    };
    let host = input.host.trim().to_ascii_lowercase();
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !host_ok {
        err("host", "must be a host name or IP address");
    }
    let port = u16::try_from(input.port).ok().filter(|p| *p > 0);
    if port.is_none() {
        err("port", "must be between 1 and 65535");
    }
    let username = input
        .username
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    if username.is_some_and(|u| u.chars().count() > 320) {
        err("username", "must be at most 320 characters");
    }
    if let MaybeUndefined::Value(p) = &input.password {
        if p.is_empty() || p.chars().count() > 1024 {
            err("password", "must be 1–1024 characters (null clears it)");
        }
    }
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    Ok(Params {
        host: host.trim_start_matches('[').trim_end_matches(']').into(),
        port: port.unwrap_or(25),
        security: input.security,
        username: username.map(str::to_string),
        password: None,
    })
}

async fn saved(state: &AppState, org: Uuid) -> AppResult<Option<smtp_setting::Model>> {
    Ok(smtp_setting::Entity::find_by_id(org).one(&state.db).await?)
}

/// `smtpSettings`: the organization's server, or null (campaigns use `SMTP_URL`).
pub async fn get(state: &AppState, viewer: &Viewer) -> AppResult<Option<SmtpSettings>> {
    viewer.require(PERMISSION)?;
    Ok(saved(state, viewer.org_id).await?.map(Into::into))
}

/// `updateSmtpSettings`: creates or replaces the settings (the password is kept when absent).
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    input: SmtpSettingsInput,
) -> AppResult<SmtpSettings> {
    viewer.require(PERMISSION)?;
    let p = validate(&input)?;
    if let Err(e) = check_host(state, &p.host, p.port).await {
        return Err(AppError::invalid("input.host", e));
    }
    let existing = saved(state, viewer.org_id).await?;
    let password = match input.password {
        MaybeUndefined::Value(v) => Some(v),
        MaybeUndefined::Null => None,
        MaybeUndefined::Undefined => existing.as_ref().and_then(|e| e.password.clone()),
    };
    let now = Utc::now();
    let model = smtp_setting::ActiveModel {
        org_id: Set(viewer.org_id),
        host: Set(p.host),
        port: Set(i32::from(p.port)),
        security: Set(p.security.as_str().into()),
        username: Set(p.username),
        password: Set(password),
        updated_by: Set(Some(viewer.user_id)),
        created_at: Set(existing.as_ref().map_or(now, |e| e.created_at)),
        updated_at: Set(now),
    };
    let m = if existing.is_some() {
        model.update(&state.db).await?
    } else {
        model.insert(&state.db).await?
    };
    Ok(m.into())
}

/// `deleteSmtpSettings`: back to `SMTP_URL`. False when there were none.
pub async fn delete(state: &AppState, viewer: &Viewer) -> AppResult<bool> {
    viewer.require(PERMISSION)?;
    let res = smtp_setting::Entity::delete_by_id(viewer.org_id)
        .exec(&state.db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// `testSmtpSettings`: connects with `input` (or the saved settings; an absent password in
/// `input` means the saved one), says EHLO (and STARTTLS/AUTH as configured) and, when `to` is
/// given, sends a short test message. Failures are reported in the result, never raised.
pub async fn test(
    state: &AppState,
    viewer: &Viewer,
    input: Option<SmtpSettingsInput>,
    to: Option<String>,
) -> AppResult<SmtpTestResult> {
    viewer.require(PERMISSION)?;
    let existing = saved(state, viewer.org_id).await?;
    let to: Option<Mailbox> = match to.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => match t.parse::<lettre::Address>() {
            Ok(a) if email_address::EmailAddress::is_valid(t) => Some(Mailbox::new(None, a)),
            _ => return Err(AppError::invalid("to", "is not a valid email address")),
        },
        None => None,
    };
    let params = match input {
        Some(i) => {
            let mut p = validate(&i)?;
            p.password = match i.password {
                MaybeUndefined::Value(v) => Some(v),
                MaybeUndefined::Null => None,
                MaybeUndefined::Undefined => existing.as_ref().and_then(|e| e.password.clone()),
            };
            p
        }
        None => match &existing {
            Some(m) => Params::from(m),
            None => {
                return Err(AppError::invalid(
                    "input",
                    "no saved SMTP settings: give the settings to test",
                ))
            }
        },
    };
    let fail = |e: String| SmtpTestResult {
        ok: false,
        error: Some(e),
        sent_to: None,
    };
    if let Err(e) = check_host(state, &params.host, params.port).await {
        return Ok(fail(e));
    }
    let t = pool(&params, 1);
    match tokio::time::timeout(TIMEOUT * 2, t.check()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Ok(fail(e.to_string())),
        Err(_) => return Ok(fail("timed out".into())),
    }
    let Some(to) = to else {
        return Ok(SmtpTestResult {
            ok: true,
            error: None,
            sent_to: None,
        });
    };
    let sent_to = to.email.to_string();
    let message = Message::builder()
        .from(state.mailer.default_from().clone())
        .to(to)
        .subject("Leadgraph SMTP test")
        .header(ContentType::TEXT_PLAIN)
        .body("This is a test message from Leadgraph: your SMTP settings work.\n".to_string());
    let message = match message {
        Ok(m) => m,
        Err(e) => return Ok(fail(format!("message: {e}"))),
    };
    match tokio::time::timeout(
        TIMEOUT * 2,
        t.send(message.envelope(), &message.formatted()),
    )
    .await
    {
        Ok(Ok(())) => Ok(SmtpTestResult {
            ok: true,
            error: None,
            sent_to: Some(sent_to),
        }),
        Ok(Err(e)) => Ok(fail(e.to_string())),
        Err(_) => Ok(fail("timed out".into())),
    }
}

/// The transport of one campaign run.
#[derive(Clone)]
pub enum Sender {
    /// The server-wide mailer (`SMTP_URL`, or `.eml` files).
    Default(Mailer),
    /// The organization's own server (pooled for the run).
    Org(SmtpPool),
}

impl Sender {
    /// The organization's server when it has settings (and its host is allowed), else the
    /// default mailer.
    pub async fn for_org(state: &AppState, org: Uuid) -> Result<Sender, String> {
        let Some(m) = saved(state, org).await.map_err(|e| e.public_message())? else {
            return Ok(Sender::Default(state.mailer.clone()));
        };
        let p = Params::from(&m);
        check_host(state, &p.host, p.port).await?;
        Ok(Sender::Org(pool(
            &p,
            state.config.campaign_send_concurrency.max(1),
        )))
    }

    /// Sends like [`Mailer::send_prepared`]: a 5xx is `Rejected`, a 4xx `Smtp`, anything else
    /// `Unreachable`.
    pub async fn send(&self, message: Message, message_id: &str) -> Result<(), MailError> {
        match self {
            Sender::Default(m) => m.send_prepared(message, message_id).await,
            Sender::Org(pool) => send_pooled(pool, &message).await,
        }
    }
}
