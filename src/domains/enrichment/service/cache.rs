//! The validation cache: each email domain's MX answer is kept in `validation_cache` until it
//! expires (`VALIDATION_CACHE_TTL_SECS`; an unknown answer at most [`UNKNOWN_TTL`]), so every
//! instance resolves a domain once per TTL. A batch reads its domains' rows in one statement,
//! resolves the missing ones concurrently (at most [`LOOKUP_CONCURRENCY`] at a time, without the
//! resolver's own cache: this table is the cache) and writes them back in one upsert.

use std::{
    collections::{BTreeSet, HashMap},
    time::Duration,
};

use chrono::{DateTime, TimeDelta, Utc};
use entity::validation_cache;
use futures::StreamExt;
use sea_orm::{sea_query::OnConflict, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::{
    error::AppResult,
    platform::{
        mx::{inspect_domain, MxAnswer},
        sources_config::SourcesConfig,
    },
    state::AppState,
};

/// Longest reuse of an unknown answer (DNS may be back soon).
pub const UNKNOWN_TTL: Duration = Duration::from_secs(300);
/// Domains looked up at once.
const LOOKUP_CONCURRENCY: usize = 16;

/// A domain's answer and where it came from.
#[derive(Debug, Clone)]
pub struct DomainAnswer {
    /// What DNS said.
    pub mx: MxAnswer,
    /// Read from the cache.
    pub cached: bool,
    /// When it was looked up (`None` when not looked up: the check is off).
    pub checked_at: Option<DateTime<Utc>>,
}

fn key(domain: &str) -> String {
    format!("mx:{domain}")
}

fn encode(a: &MxAnswer) -> Value {
    match a {
        MxAnswer::Hosts(h) => json!({"kind": "hosts", "hosts": h}),
        MxAnswer::Implicit => json!({"kind": "implicit"}),
        MxAnswer::NullMx => json!({"kind": "null_mx"}),
        MxAnswer::NoMail => json!({"kind": "no_mail"}),
        MxAnswer::NoDomain => json!({"kind": "no_domain"}),
        MxAnswer::Unknown => json!({"kind": "unknown"}),
    }
}

fn decode(v: &Value) -> Option<MxAnswer> {
    Some(match v["kind"].as_str()? {
        "hosts" => MxAnswer::Hosts(
            v["hosts"]
                .as_array()?
                .iter()
                .filter_map(|h| h.as_str().map(str::to_string))
                .collect(),
        ),
        "implicit" => MxAnswer::Implicit,
        "null_mx" => MxAnswer::NullMx,
        "no_mail" => MxAnswer::NoMail,
        "no_domain" => MxAnswer::NoDomain,
        "unknown" => MxAnswer::Unknown,
        _ => return None,
    })
}

/// How long `answer` is reused.
fn ttl(cfg: &SourcesConfig, answer: &MxAnswer) -> Duration {
    match answer {
        MxAnswer::Unknown => cfg.validation_ttl.min(UNKNOWN_TTL),
        _ => cfg.validation_ttl,
    }
}

/// `now + ttl`, saturating.
fn expiry(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(ttl)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The MX answers of `domains` (lowercase ASCII), from the cache or DNS.
pub async fn answers(
    state: &AppState,
    domains: BTreeSet<String>,
) -> AppResult<HashMap<String, DomainAnswer>> {
    let cfg = &state.config.sources;
    let mut out = HashMap::new();
    if !cfg.mx_check || domains.is_empty() {
        for d in domains {
            let a = DomainAnswer {
                mx: MxAnswer::Unknown,
                cached: false,
                checked_at: None,
            };
            out.insert(d, a);
        }
        return Ok(out);
    }
    let now = Utc::now();
    let rows = validation_cache::Entity::find()
        .filter(validation_cache::Column::Key.is_in(domains.iter().map(|d| key(d))))
        .filter(validation_cache::Column::ExpiresAt.gt(now))
        .all(&state.db)
        .await?;
    for row in rows {
        let (Some(domain), Some(mx)) = (row.key.strip_prefix("mx:"), decode(&row.answer)) else {
            continue;
        };
        let a = DomainAnswer {
            mx,
            cached: true,
            checked_at: Some(row.checked_at),
        };
        out.insert(domain.to_string(), a);
    }
    let missing: Vec<String> = domains
        .into_iter()
        .filter(|d| !out.contains_key(d))
        .collect();
    let fresh: Vec<(String, MxAnswer)> = futures::stream::iter(missing)
        .map(|d| async move {
            let a = inspect_domain(cfg, &d, false).await;
            (d, a)
        })
        .buffer_unordered(LOOKUP_CONCURRENCY)
        .collect()
        .await;
    store(state, &fresh, now).await?;
    for (d, mx) in fresh {
        let a = DomainAnswer {
            mx,
            cached: false,
            checked_at: Some(now),
        };
        out.insert(d, a);
    }
    Ok(out)
}

/// Upserts fresh answers (another instance may have stored the same domain meanwhile).
async fn store(
    state: &AppState,
    fresh: &[(String, MxAnswer)],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let cfg = &state.config.sources;
    for part in fresh.chunks(500) {
        let rows = part.iter().map(|(d, a)| validation_cache::ActiveModel {
            key: Set(key(d)),
            answer: Set(encode(a)),
            checked_at: Set(now),
            expires_at: Set(expiry(now, ttl(cfg, a))),
        });
        validation_cache::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(validation_cache::Column::Key)
                    .update_columns([
                        validation_cache::Column::Answer,
                        validation_cache::Column::CheckedAt,
                        validation_cache::Column::ExpiresAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&state.db)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn answers_round_trip_through_json() {
        for a in [
            MxAnswer::Hosts(vec!["mx1.example".into(), "mx2.example".into()]),
            MxAnswer::Implicit,
            MxAnswer::NullMx,
            MxAnswer::NoMail,
            MxAnswer::NoDomain,
            MxAnswer::Unknown,
        ] {
            assert_eq!(decode(&encode(&a)).unwrap(), a);
        }
        assert!(decode(&json!({"kind": "what"})).is_none());
    }
}
