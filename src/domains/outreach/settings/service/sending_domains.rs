//! Sending domains (S14): a campaign's `fromEmail` must be on a domain the organization proved
//! it controls. `addSendingDomain(domain)` stores the domain with a random token;
//! the organization publishes `leadgraph-verification=<token>` as a TXT record at
//! `_leadgraph.<domain>` (or at the domain itself); `verifySendingDomain(id)` looks it up through
//! the MX checker's resolver settings (`scraping::mx::txt_records`, `DNS_NAMESERVER`, uncached).
//! A verified domain covers its subdomains (whoever controls the zone controls them).
//!
//! With `SENDING_DOMAINS_ALLOW_RESERVED` (the development default) the reserved names of RFC 2606
//! and RFC 6761 — `example.com/.net/.org` and their subdomains, `.example`, `.test`, `.invalid`,
//! `localhost` — pass without verification: they can never receive real mail, and the embedded
//! commands and the tests use them. Production has it off.
//!
//! Roles: listing is `ReadOutreach` (VIEWER); adding, verifying and removing is
//! `ManageSendingDomains` (ADMIN). Another organization's domain is NOT_FOUND.

use chrono::Utc;
use entity::sending_domain;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    Select,
};
use uuid::Uuid;

use crate::{
    auth::{Permission, Viewer},
    config::Config,
    domains::outreach::settings::types::SendingDomain,
    error::{AppError, AppResult},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    platform::mx,
    state::AppState,
};

/// The TXT value's prefix; the token follows.
pub const TXT_PREFIX: &str = "leadgraph-verification=";
/// The label the TXT record goes under (`_leadgraph.<domain>`); the apex works too.
pub const TXT_LABEL: &str = "_leadgraph";

/// Every query starts here.
fn scoped(viewer: &Viewer) -> Select<sending_domain::Entity> {
    sending_domain::Entity::find().filter(sending_domain::Column::OrgId.eq(viewer.org_id))
}

/// A domain name as typed → lowercase ASCII without a trailing dot, or why it is not one: at
/// least two labels of 1–63 letters, digits and inner hyphens, at most 253 characters, and a
/// top-level label that is not all digits (no IP addresses).
pub fn normalize(input: &str) -> Result<String, &'static str> {
    let d = input.trim().to_ascii_lowercase();
    let d = d.strip_suffix('.').unwrap_or(&d).to_string();
    if d.is_empty() {
        return Err("is required");
    }
    if d.len() > 253 {
        return Err("must be at most 253 characters");
    }
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < 2 {
        return Err("must be a domain name such as example.com");
    }
    for l in &labels {
        let ok = !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(
                "must be a domain name: labels of 1–63 letters, digits and inner hyphens (use the punycode form of international names)",
            );
        }
    }
    if labels
        .last()
        .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("must be a domain name, not an address");
    }
    Ok(d)
}

/// RFC 2606 / RFC 6761 names that never receive real mail.
pub fn is_reserved(domain: &str) -> bool {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    let under = |parent: &str| d == parent || d.ends_with(&format!(".{parent}"));
    ["example.com", "example.net", "example.org", "localhost"]
        .iter()
        .any(|p| under(p))
        || ["example", "test", "invalid"]
            .iter()
            .any(|tld| d.rsplit('.').next() == Some(tld))
}

/// Whether `domain` is `parent` or one of its subdomains.
fn covers(parent: &str, domain: &str) -> bool {
    domain == parent || domain.ends_with(&format!(".{parent}"))
}

/// Checks that `from_email` may be used as a campaign's sender by `org_id`: its domain is a
/// verified sending domain of the organization (or below one), or a reserved name with
/// `SENDING_DOMAINS_ALLOW_RESERVED`. `Err` carries the message for the `fromEmail` field.
pub async fn check_from(
    conn: &impl ConnectionTrait,
    config: &Config,
    org_id: Uuid,
    from_email: &str,
) -> AppResult<Result<(), String>> {
    let Some((_, domain)) = from_email.rsplit_once('@') else {
        return Ok(Err("is not a valid email address".into()));
    };
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if config.sending_domains_allow_reserved && is_reserved(&domain) {
        return Ok(Ok(()));
    }
    let verified: Vec<String> = sending_domain::Entity::find()
        .filter(sending_domain::Column::OrgId.eq(org_id))
        .filter(sending_domain::Column::VerifiedAt.is_not_null())
        .all(conn)
        .await?
        .into_iter()
        .map(|d| d.domain)
        .collect();
    if verified.iter().any(|p| covers(p, &domain)) {
        return Ok(Ok(()));
    }
    Ok(Err(format!(
        "{domain} is not a verified sending domain of the organization (an admin adds it with \
         addSendingDomain and verifies it with verifySendingDomain)"
    )))
}

/// A page of the organization's sending domains, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    args: PageArgs,
) -> AppResult<IdConnection<SendingDomain>> {
    viewer.require(Permission::ReadOutreach)?;
    page_by_id_desc(
        &state.db,
        scoped(viewer),
        sending_domain::Column::Id,
        &args,
        |m| m.id,
        SendingDomain,
    )
    .await
}

async fn get(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<sending_domain::Model> {
    scoped(viewer)
        .filter(sending_domain::Column::Id.eq(id))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("sending domain"))
}

/// Adds an unverified domain with a new random token. CONFLICT when the organization has it.
pub async fn add(
    state: &AppState,
    viewer: &Viewer,
    domain: &str,
) -> AppResult<sending_domain::Model> {
    viewer.require(Permission::ManageSendingDomains)?;
    let domain = normalize(domain).map_err(|m| AppError::invalid("domain", m))?;
    let token = hex::encode(rand::random::<[u8; 20]>());
    Ok(sending_domain::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        domain: Set(domain),
        token: Set(token),
        verified_at: Set(None),
        last_checked_at: Set(None),
        last_error: Set(None),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(Utc::now()),
    }
    .insert(&state.db)
    .await?)
}

/// Looks for the TXT record at `_leadgraph.<domain>`, then at the domain. Found: verified (it
/// stays verified). Not found or DNS failing: `verified: false` with `lastError`.
pub async fn verify(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<sending_domain::Model> {
    viewer.require(Permission::ManageSendingDomains)?;
    let d = get(state, viewer, id).await?;
    let expected = format!("{TXT_PREFIX}{}", d.token);
    let mut error = None;
    let mut found = false;
    for name in [format!("{TXT_LABEL}.{}", d.domain), d.domain.clone()] {
        match mx::txt_records(&state.config.sources, &name).await {
            Ok(records) if records.iter().any(|r| r.trim() == expected) => {
                found = true;
                break;
            }
            Ok(_) => {}
            Err(e) => error = Some(format!("{name}: {e}")),
        }
    }
    let now = Utc::now();
    let mut a: sending_domain::ActiveModel = d.clone().into();
    a.last_checked_at = Set(Some(now));
    if found {
        if d.verified_at.is_none() {
            a.verified_at = Set(Some(now));
        }
        a.last_error = Set(None);
    } else {
        a.last_error = Set(Some(error.unwrap_or_else(|| {
            format!(
                "no TXT record \"{expected}\" at {TXT_LABEL}.{0} or {0} yet (DNS changes can take a while to appear)",
                d.domain
            )
        })));
    }
    Ok(a.update(&state.db).await?)
}

/// Removes a domain; campaigns sending from it can no longer be launched or resumed.
pub async fn remove(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<()> {
    viewer.require(Permission::ManageSendingDomains)?;
    let d = get(state, viewer, id).await?;
    sending_domain::Entity::delete_by_id(d.id)
        .exec(&state.db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalized_or_refused() {
        assert_eq!(normalize(" Acme-Mail.IO. ").as_deref(), Ok("acme-mail.io"));
        assert_eq!(normalize("mail.a.co.uk").as_deref(), Ok("mail.a.co.uk"));
        assert_eq!(
            normalize("xn--bcher-kva.de").as_deref(),
            Ok("xn--bcher-kva.de")
        );
        for bad in [
            "",
            "localhost",
            "a..b",
            "-a.io",
            "a-.io",
            "a_b.io",
            "1.2.3.4",
            "x@y.io",
            "http://a.io",
            "bücher.de",
        ] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
        assert!(normalize(&format!("{}.io", "a".repeat(64))).is_err());
        assert!(normalize(&format!("{}.io", "a.".repeat(130))).is_err());
    }

    #[test]
    fn reserved_names_are_exactly_the_rfc_ones() {
        for d in [
            "example.com",
            "news.example.org",
            "example.net",
            "sender.test",
            "a.example",
            "x.invalid",
            "localhost",
            "app.localhost",
        ] {
            assert!(is_reserved(d), "{d}");
        }
        for d in [
            "example.io",
            "example.com.evil.io",
            "notexample.com",
            "test.io",
            "mytest",
        ] {
            assert!(!is_reserved(d), "{d}");
        }
    }

    #[test]
    fn a_domain_covers_itself_and_its_subdomains_only() {
        assert!(covers("acme.io", "acme.io"));
        assert!(covers("acme.io", "mail.acme.io"));
        assert!(!covers("acme.io", "evilacme.io"));
        assert!(!covers("mail.acme.io", "acme.io"));
    }
}
