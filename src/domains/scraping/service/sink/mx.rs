//! The MX verdict on found contacts: `customFields.mx` and the `no-mx` tag, from
//! [`crate::platform::mx`] (one lookup per email domain).

use std::collections::{BTreeSet, HashMap};

use serde_json::json;

use super::Contact;
use crate::platform::{
    mx::{check_domain, MxStatus, NO_MX_TAG},
    sources_config::SourcesConfig,
};

/// Puts `customFields.mx` (and the `no-mx` tag) on every contact with an email. Does nothing
/// when the check is off. Each domain is looked up once (concurrently).
pub async fn annotate(cfg: &SourcesConfig, contacts: &mut [Contact]) {
    if !cfg.mx_check {
        return;
    }
    let domains: BTreeSet<String> = contacts
        .iter()
        .filter_map(|c| c.email.as_deref())
        .filter_map(|e| e.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()))
        .collect();
    let answers: HashMap<String, MxStatus> =
        futures::future::join_all(domains.into_iter().map(|d| async move {
            let s = check_domain(cfg, &d).await;
            (d, s)
        }))
        .await
        .into_iter()
        .collect();
    for c in contacts.iter_mut() {
        let Some(domain) = c
            .email
            .as_deref()
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| d.to_ascii_lowercase())
        else {
            continue;
        };
        let status = answers.get(&domain).copied().unwrap_or(MxStatus::Unknown);
        c.custom.insert("mx".into(), json!(status.as_str()));
        if status == MxStatus::None && !c.tags.iter().any(|t| t == NO_MX_TAG) {
            c.tags.push(NO_MX_TAG.into());
        }
    }
}
