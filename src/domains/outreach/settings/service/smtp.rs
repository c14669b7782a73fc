//! Per-organization SMTP settings: `smtpSettings`, `updateSmtpSettings`, `deleteSmtpSettings`,
//! `testSmtpSettings`, and the transport campaign sends use ([`Sender`]: the organization's
//! server when it has settings, else the server-wide mailer from `SMTP_URL`).
//!
//! The password is stored encrypted (AES-256-GCM under `SECRETS_KEY`, `platform::secrets_box`,
//! bound to the organization) and never returned: the API only says `hasPassword`.
//!
//! The host is user-supplied, so it goes through the outbound guard's rules
//! (`OutboundClient::resolve_checked`): resolved once, loopback, private, link-local, CGNAT and
//! metadata addresses dropped unless `OUTBOUND_ALLOW_PRIVATE_NETWORKS` is on or
//! `OUTBOUND_ALLOW_HOSTS` lists the host and port, and the connection goes to exactly the
//! checked addresses (`SmtpTarget::addrs`; the name is kept for TLS SNI and certificate
//! verification), so DNS cannot answer differently between check and connect. Checked when the
//! settings are saved, tested and used. `testSmtpSettings` reports a coarse
//! [`SmtpTestOutcome`], never the server's or the network's own error text.

use std::{net::SocketAddr, time::Duration};

use async_graphql::MaybeUndefined;
use chrono::Utc;
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
    domains::outreach::settings::types::{
        SmtpSecurity, SmtpSettings, SmtpSettingsInput, SmtpTestOutcome, SmtpTestResult,
    },
    error::{AppError, AppResult, FieldError},
    platform::{
        mailer::{send_pooled, MailError, Mailer},
        outbound::OutboundError,
        secrets_box::{self, SecretsBox},
        smtp_pool::{self, SendError, SmtpPool, SmtpTarget},
    },
    state::AppState,
};

/// Who may read, change and test the settings.
pub const PERMISSION: Permission = Permission::UpdateOrganization;
/// Connect / command timeout of organization servers.
const TIMEOUT: Duration = Duration::from_secs(15);

impl SmtpTestOutcome {
    /// A fixed sentence per outcome (no server or network text).
    fn message(self) -> Option<&'static str> {
        Some(match self {
            SmtpTestOutcome::Connected => return None,
            SmtpTestOutcome::AuthFailed => "the server refused the credentials",
            SmtpTestOutcome::TlsFailed => "the TLS handshake failed",
            SmtpTestOutcome::Unreachable => "no SMTP server answered at this host and port",
            SmtpTestOutcome::RefusedAddress => "the host is a private or reserved network address",
            SmtpTestOutcome::MessageRejected => "the server refused the test message",
        })
    }

    /// Classifies a failed check or send.
    fn of(e: &SendError, sending: bool) -> SmtpTestOutcome {
        match e {
            SendError::Auth(_) => SmtpTestOutcome::AuthFailed,
            SendError::Tls(_) => SmtpTestOutcome::TlsFailed,
            SendError::Smtp(e) if e.is_tls() => SmtpTestOutcome::TlsFailed,
            SendError::Smtp(e) if sending && (e.is_permanent() || e.is_transient()) => {
                SmtpTestOutcome::MessageRejected
            }
            SendError::Smtp(_) | SendError::Connect(_) => SmtpTestOutcome::Unreachable,
        }
    }
}

impl SmtpTestResult {
    fn with(outcome: SmtpTestOutcome, sent_to: Option<String>) -> SmtpTestResult {
        SmtpTestResult {
            ok: outcome == SmtpTestOutcome::Connected,
            outcome,
            error: outcome.message().map(String::from),
            sent_to,
        }
    }
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

impl Params {
    /// The saved settings with the password decrypted.
    fn saved(m: &smtp_setting::Model, secrets: &SecretsBox) -> AppResult<Params> {
        Ok(Params {
            host: m.host.clone(),
            port: u16::try_from(m.port).unwrap_or(25),
            security: SmtpSecurity::parse(&m.security).unwrap_or(SmtpSecurity::Starttls),
            username: m.username.clone(),
            password: open_password(secrets, m)?,
        })
    }
}

/// The encryption context of an organization's SMTP password.
pub fn password_context(org: Uuid) -> String {
    secrets_box::context("smtp_settings", "password", org)
}

/// The saved password in clear (legacy plain-text rows are read as they are).
fn open_password(secrets: &SecretsBox, m: &smtp_setting::Model) -> AppResult<Option<String>> {
    secrets
        .open_opt(m.password.as_deref(), &password_context(m.org_id))
        .map_err(|e| AppError::internal(format!("smtp_settings.password of {}: {e}", m.org_id)))
}

/// The connection pool a campaign run (and `testSmtpSettings`) sends through (`TCP_NODELAY`
/// sockets; see `platform::smtp_pool`) to the checked `addrs`, at most `max_connections` open.
fn pool(p: &Params, addrs: Vec<SocketAddr>, max_connections: usize) -> SmtpPool {
    SmtpPool::new(
        SmtpTarget {
            host: p.host.clone(),
            addrs,
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

/// Resolves the host once with the outbound guard's rules: the addresses to connect to, or
/// why not (coarse).
async fn resolve_host(
    state: &AppState,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, SmtpTestOutcome> {
    state
        .http
        .resolve_checked(host, port, TIMEOUT)
        .await
        .map_err(|e| match e {
            OutboundError::ForbiddenAddress { .. } => SmtpTestOutcome::RefusedAddress,
            _ => SmtpTestOutcome::Unreachable,
        })
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
    match resolve_host(state, &p.host, p.port).await {
        Ok(_) => {}
        Err(SmtpTestOutcome::RefusedAddress) => {
            return Err(AppError::invalid(
                "input.host",
                "is a private or reserved network address",
            ))
        }
        Err(_) => return Err(AppError::invalid("input.host", "does not resolve")),
    }
    let existing = saved(state, viewer.org_id).await?;
    let context = password_context(viewer.org_id);
    let password = match input.password {
        MaybeUndefined::Value(v) => Some(state.secrets.seal(&v, &context)),
        MaybeUndefined::Null => None,
        // Kept; a legacy plain-text password is encrypted now.
        MaybeUndefined::Undefined => match existing.as_ref().and_then(|e| e.password.as_deref()) {
            Some(stored) => Some(
                state
                    .secrets
                    .reseal(stored, &context)
                    .map_err(|e| AppError::internal(format!("smtp_settings.password: {e}")))?
                    .unwrap_or_else(|| stored.to_string()),
            ),
            None => None,
        },
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

/// The settings `testSmtpSettings` tries: `input` (an absent password meaning the saved one),
/// else the saved settings.
fn test_params(
    state: &AppState,
    input: Option<SmtpSettingsInput>,
    existing: Option<&smtp_setting::Model>,
) -> AppResult<Params> {
    Ok(match input {
        Some(i) => {
            let mut p = validate(&i)?;
            p.password = match i.password {
                MaybeUndefined::Value(v) => Some(v),
                MaybeUndefined::Null => None,
                MaybeUndefined::Undefined => match existing {
                    Some(m) => open_password(&state.secrets, m)?,
                    None => None,
                },
            };
            p
        }
        None => match existing {
            Some(m) => Params::saved(m, &state.secrets)?,
            None => {
                return Err(AppError::invalid(
                    "input",
                    "no saved SMTP settings: give the settings to test",
                ))
            }
        },
    })
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
    let params = test_params(state, input, existing.as_ref())?;
    let fail = |outcome: SmtpTestOutcome| Ok(SmtpTestResult::with(outcome, None));
    let addrs = match resolve_host(state, &params.host, params.port).await {
        Ok(a) => a,
        Err(outcome) => return fail(outcome),
    };
    let t = pool(&params, addrs, 1);
    match tokio::time::timeout(TIMEOUT * 2, t.check()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::info!(org = %viewer.org_id, error = %e, "SMTP settings test failed");
            return fail(SmtpTestOutcome::of(&e, false));
        }
        Err(_) => return fail(SmtpTestOutcome::Unreachable),
    }
    let Some(to) = to else {
        return Ok(SmtpTestResult::with(SmtpTestOutcome::Connected, None));
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
        Err(e) => {
            tracing::warn!(error = %e, "building the SMTP test message failed");
            return fail(SmtpTestOutcome::MessageRejected);
        }
    };
    match tokio::time::timeout(
        TIMEOUT * 2,
        t.send(message.envelope(), &message.formatted()),
    )
    .await
    {
        Ok(Ok(())) => Ok(SmtpTestResult::with(
            SmtpTestOutcome::Connected,
            Some(sent_to),
        )),
        Ok(Err(e)) => {
            tracing::info!(org = %viewer.org_id, error = %e, "SMTP test message failed");
            fail(SmtpTestOutcome::of(&e, true))
        }
        Err(_) => fail(SmtpTestOutcome::Unreachable),
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
        let p = Params::saved(&m, &state.secrets).map_err(|e| {
            tracing::error!(org = %org, error = ?e, "the saved SMTP password cannot be used");
            "the saved SMTP password cannot be decrypted (SECRETS_KEY changed?)".to_string()
        })?;
        let addrs = resolve_host(state, &p.host, p.port)
            .await
            .map_err(|o| o.message().unwrap_or_default().to_string())?;
        Ok(Sender::Org(pool(
            &p,
            addrs,
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
