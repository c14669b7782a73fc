//! A campaign as the scenarios drive it (leads with addresses, a template, a campaign to all of
//! them, launch, wait), and the delivery verdict: what the sink received against what the
//! database says about each recipient (the at-most-once contract: SENT = exactly one message,
//! UNCERTAIN = at most one, never two).

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use anyhow::Context;
use futures::StreamExt;
use serde_json::{json, Value};

use super::{client, server::psql, sink::Received};

/// A campaign created through the API.
pub struct Campaign {
    pub id: String,
    pub emails: Vec<String>,
}

async fn data(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    q: &str,
    vars: Value,
) -> anyhow::Result<Value> {
    let a = client::call(http, base, token, q, vars).await;
    if !a.ok() {
        anyhow::bail!("{q}: {:?} {}", a.code, a.body);
    }
    Ok(a.body["data"].clone())
}

/// Creates `n` leads `<tag>-<i>@rcpt.example.com` tagged `tag`, a template and a DRAFT
/// campaign to those leads at `rate` per minute (None = unlimited).
pub async fn prepare(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    tag: &str,
    n: usize,
    rate: Option<u32>,
) -> anyhow::Result<Campaign> {
    let emails: Vec<String> = (0..n)
        .map(|i| format!("{tag}-{i}@rcpt.example.com"))
        .collect();
    let inputs: Vec<Value> = emails
        .iter()
        .map(|e| json!({"firstName": "R", "email": e, "tags": [tag]}))
        .collect();
    let results: Vec<Result<u128, client::Answer>> = futures::stream::iter(inputs)
        .map(|input| client::create_lead(http, base, token, input))
        .buffer_unordered(8)
        .collect()
        .await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    anyhow::ensure!(failed == 0, "{failed} leads could not be created");
    let t = data(http, base, token,
        "mutation { createTemplate(input: {name: \"Faults\", subject: \"Hi {{ lead.firstName }}\", bodyHtml: \"<p>Hello {{ lead.firstName }}</p>\", bodyText: \"Hello {{ lead.firstName }}\"}) { id } }",
        json!({})).await?;
    let template = t["createTemplate"]["id"].as_str().context("template id")?;
    let c = data(
        http,
        base,
        token,
        "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { id } }",
        json!({"i": {"name": "faults", "templateId": template, "fromName": "Faults",
                     "fromEmail": "faults@sender.example.com", "sendRatePerMinute": rate}}),
    )
    .await?;
    let id = c["createCampaign"]["id"]
        .as_str()
        .context("campaign id")?
        .to_string();
    let added = data(http, base, token,
        "mutation($c: ID!, $i: RecipientSourceInput!) { addCampaignRecipients(campaignId: $c, input: $i) { added } }",
        json!({"c": id, "i": {"filter": {"tags": {"any": [tag]}}}})).await?;
    anyhow::ensure!(
        added["addCampaignRecipients"]["added"].as_u64() == Some(n as u64),
        "added {} recipients, wanted {n}",
        added["addCampaignRecipients"]["added"]
    );
    Ok(Campaign { id, emails })
}

pub async fn launch(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    id: &str,
) -> anyhow::Result<()> {
    data(
        http,
        base,
        token,
        "mutation($id: ID!) { launchCampaign(id: $id) { status } }",
        json!({"id": id}),
    )
    .await
    .map(|_| ())
}

/// The campaign's status straight from the database (works while servers are down).
pub async fn db_status(db: &str, id: &str) -> Option<String> {
    psql(
        db,
        &format!("SELECT status FROM campaigns WHERE id = '{id}'"),
    )
    .await
    .ok()
}

/// Waits (polling the database) until the campaign is COMPLETED/FAILED/STOPPED or `within`
/// passes; its last status and the time it took.
pub async fn wait_done(db: &str, id: &str, within: Duration) -> (Option<String>, Duration) {
    let t = Instant::now();
    let mut last = None;
    while t.elapsed() < within {
        last = db_status(db, id).await;
        if matches!(last.as_deref(), Some("COMPLETED" | "FAILED" | "STOPPED")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    (last, t.elapsed())
}

/// Every recipient's (email, status, message id).
pub async fn recipients(db: &str, id: &str) -> anyhow::Result<Vec<(String, String, String)>> {
    let out = psql(
        db,
        &format!(
            "SELECT email || '|' || status || '|' || message_id FROM campaign_recipients \
             WHERE campaign_id = '{id}'"
        ),
    )
    .await?;
    Ok(out
        .lines()
        .filter_map(|l| {
            let mut p = l.splitn(3, '|');
            Some((p.next()?.into(), p.next()?.into(), p.next()?.into()))
        })
        .collect())
}

/// The delivery checks: every recipient SENT or UNCERTAIN, the campaign COMPLETED, no address
/// received two messages, every SENT recipient received exactly one, with its Message-ID.
pub fn delivery_checks(
    final_status: Option<&str>,
    rows: &[(String, String, String)],
    received: &[Received],
    emails: &[String],
) -> (Vec<(bool, String)>, Value) {
    let mut per_rcpt: HashMap<&str, usize> = HashMap::new();
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for m in received {
        for r in &m.rcpt {
            *per_rcpt.entry(r.as_str()).or_default() += 1;
        }
        if let Some(id) = &m.message_id {
            *ids.entry(id.as_str()).or_default() += 1;
        }
    }
    let dup_rcpt = per_rcpt.values().filter(|n| **n > 1).count();
    let dup_ids = ids.values().filter(|n| **n > 1).count();
    let mut statuses: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut sent_missing, mut sent_wrong_id) = (0, 0);
    for (email, st, mid) in rows {
        *statuses.entry(st.as_str()).or_default() += 1;
        if st == "SENT" {
            match per_rcpt.get(email.as_str()) {
                Some(1) => {}
                _ => sent_missing += 1,
            }
            if !ids.contains_key(format!("<{}>", mid.trim_matches(['<', '>'])).as_str()) {
                sent_wrong_id += 1;
            }
        }
    }
    let settled = rows
        .iter()
        .filter(|(_, s, _)| s == "SENT" || s == "UNCERTAIN")
        .count();
    let uncertain = statuses.get("UNCERTAIN").copied().unwrap_or(0);
    let strangers = per_rcpt
        .keys()
        .filter(|r| !emails.iter().any(|e| e == *r))
        .count();
    let figures = json!({
        "campaign_status": final_status, "recipients": rows.len(), "statuses": statuses,
        "messages_received": received.len(), "distinct_recipients_received": per_rcpt.len(),
        "duplicate_recipients": dup_rcpt, "duplicate_message_ids": dup_ids,
        "uncertain": uncertain,
    });
    let checks = vec![
        (
            final_status == Some("COMPLETED"),
            format!("campaign ended {final_status:?}, not COMPLETED"),
        ),
        (
            rows.len() == emails.len() && settled == rows.len(),
            format!(
                "{settled}/{} recipients SENT or UNCERTAIN: {statuses:?}",
                emails.len()
            ),
        ),
        (
            dup_rcpt == 0 && dup_ids == 0,
            format!("{dup_rcpt} addresses got two messages or more ({dup_ids} Message-IDs twice)"),
        ),
        (
            sent_missing == 0 && sent_wrong_id == 0,
            format!("{sent_missing} SENT recipients without exactly one message, {sent_wrong_id} without their Message-ID"),
        ),
        (strangers == 0, format!("{strangers} unknown addresses received mail")),
    ];
    (checks, figures)
}
