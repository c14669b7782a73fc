//! The mailbox probe step of a validation (`platform::smtp_probe`), when the server allows it
//! and the organization opted in: the addresses still DELIVERABLE or RISKY after the DNS
//! verdict are grouped by domain; each domain gets one connection to its most preferred mail
//! exchanger (at most [`PROBE_CONCURRENCY`] domains at once), unless its per-domain rate
//! (`SMTP_PROBE_PER_DOMAIN_PER_MINUTE`, shared by all instances through the rate limiter) is
//! used up. A refused mailbox makes the verdict UNDELIVERABLE; a catch-all domain makes an
//! accepted one RISKY.

use std::{collections::BTreeMap, time::Duration};

use futures::StreamExt;

use crate::{
    domains::{
        enrichment::types::{EmailValidation, ValidationReason as R},
        leads::types::EmailStatus,
    },
    platform::{
        ratelimit::Limit,
        smtp_probe::{probe, ProbeReport, ProbeSettings, Rcpt},
    },
    state::AppState,
};

/// Domains probed at once.
pub const PROBE_CONCURRENCY: usize = 4;

/// One domain's addresses: its mail hosts and `(index, local part)` of each address.
type Group = (Vec<String>, Vec<(usize, String)>);

/// What happened to one domain.
enum Outcome {
    Probed(ProbeReport),
    Failed,
    RateLimited,
}

/// Probes the addresses of `emails` that DNS found deliverable or risky.
pub async fn apply(
    state: &AppState,
    settings: &ProbeSettings,
    emails: &mut [Option<EmailValidation>],
) {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for (i, e) in emails.iter().enumerate() {
        let Some(e) = e else { continue };
        let open = matches!(e.verdict, EmailStatus::Deliverable | EmailStatus::Risky);
        let Some((local, domain)) = e.normalized.as_deref().and_then(|a| a.rsplit_once('@')) else {
            continue;
        };
        if !open || e.mx_hosts.is_empty() {
            continue;
        }
        let g = groups
            .entry(domain.to_string())
            .or_insert_with(|| (e.mx_hosts.clone(), Vec::new()));
        g.1.push((i, local.to_string()));
    }
    let limit = Limit {
        name: "smtp_probe",
        max: settings.per_domain_per_minute,
        per: Duration::from_secs(60),
    };
    let outcomes: Vec<(Vec<usize>, Outcome)> = futures::stream::iter(groups)
        .map(|(domain, (hosts, members))| async move {
            let (idx, locals): (Vec<usize>, Vec<String>) = members.into_iter().unzip();
            if !state.limiter.check(&limit, &domain).await.allowed {
                return (idx, Outcome::RateLimited);
            }
            match probe(&state.http, settings, &hosts, &domain, &locals).await {
                Ok(report) => (idx, Outcome::Probed(report)),
                Err(e) => {
                    tracing::debug!(domain = %domain, error = %e, "mailbox probe failed");
                    (idx, Outcome::Failed)
                }
            }
        })
        .buffer_unordered(PROBE_CONCURRENCY)
        .collect()
        .await;
    for (idx, outcome) in outcomes {
        for (k, i) in idx.into_iter().enumerate() {
            let Some(Some(e)) = emails.get_mut(i) else {
                continue;
            };
            match &outcome {
                Outcome::RateLimited => e.reasons.push(R::ProbeRateLimited),
                Outcome::Failed => e.reasons.push(R::ProbeInconclusive),
                Outcome::Probed(r) => judge(e, r.catch_all, r.answers.get(k)),
            }
        }
    }
}

/// One address's probe answer applied to its verdict.
fn judge(e: &mut EmailValidation, catch_all: Option<bool>, answer: Option<&Rcpt>) {
    e.catch_all = catch_all;
    match answer {
        Some(Rcpt::Rejected(_)) => {
            e.verdict = EmailStatus::Undeliverable;
            e.reasons.push(R::MailboxRejected);
        }
        Some(Rcpt::Accepted) if catch_all == Some(true) => {
            e.verdict = EmailStatus::Risky;
            e.reasons.push(R::CatchAll);
        }
        Some(Rcpt::Accepted) => e.reasons.push(R::MailboxAccepted),
        Some(Rcpt::Deferred(_)) | None => e.reasons.push(R::ProbeInconclusive),
    }
}
