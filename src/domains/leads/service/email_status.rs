//! The email verdict on a lead (`Lead.emailStatus`, `Lead.validatedAt`): written by contact
//! validation (enrichment) through [`record_email_status`], with provenance
//! `{kind: enrichment, reference: "validation: <reasons>", at}` under `emailStatus`. A new email
//! clears the verdict (`updateLead`), so a verdict always speaks about the current address.

use chrono::{DateTime, Utc};
use entity::lead;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseTransaction};
use serde_json::json;
use uuid::Uuid;

use super::{emit_updated, get, record};
use crate::{
    auth::{Permission, Viewer},
    domains::leads::types::EmailStatus,
    error::AppResult,
};

/// The provenance key of the verdict.
pub const EMAIL_STATUS_FIELD: &str = "emailStatus";

/// Stores `status` (with its `reasons`) as the verdict on lead `id`'s email `address`, inside
/// `txn`. Nothing is written when the lead's email is no longer `address` (`Ok(None)`); another
/// organization's lead is NOT_FOUND. Records a `validated` timeline entry and `lead.updated`.
pub async fn record_email_status(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    id: Uuid,
    address: &str,
    status: EmailStatus,
    reasons: &[String],
    at: DateTime<Utc>,
) -> AppResult<Option<lead::Model>> {
    viewer.require(Permission::WriteLeads)?;
    let before = get(txn, viewer, id).await?;
    if before.email.as_deref() != Some(address) {
        return Ok(None);
    }
    let mut prov = before.provenance.as_object().cloned().unwrap_or_default();
    let reference = if reasons.is_empty() {
        "validation".to_string()
    } else {
        format!("validation: {}", reasons.join(", "))
    };
    prov.insert(
        EMAIL_STATUS_FIELD.into(),
        json!({"kind": "enrichment", "reference": reference, "at": at}),
    );
    let mut a: lead::ActiveModel = before.into();
    a.email_status = Set(Some(status.as_str().to_string()));
    a.validated_at = Set(Some(at));
    a.provenance = Set(serde_json::Value::Object(prov));
    a.updated_at = Set(Utc::now());
    let after = a.update(txn).await?;
    let data = json!({"emailStatus": status.as_str(), "reasons": reasons});
    record(txn, viewer, id, "validated", data).await?;
    let changed = vec!["emailStatus".to_string(), "validatedAt".to_string()];
    emit_updated(txn, viewer, id, changed).await?;
    Ok(Some(after))
}

/// Why `lead`'s email is UNDELIVERABLE (the provenance reference), or `None` when its verdict is
/// anything else. Read by the campaign send gate (outreach).
pub fn undeliverable_reason(lead: &lead::Model) -> Option<String> {
    if lead.email_status.as_deref() != Some(EmailStatus::Undeliverable.as_str()) {
        return None;
    }
    let reference = lead.provenance[EMAIL_STATUS_FIELD]["reference"]
        .as_str()
        .unwrap_or("validation");
    Some(format!("email UNDELIVERABLE ({reference})"))
}

/// Why a campaign must not send to `address` of `lead` (the deliverability gate), or `None` to
/// send: the lead's verdict on this very address is UNDELIVERABLE ([`undeliverable_reason`]),
/// or the campaign requires validated recipients (`require_validated`) and this address has no
/// verdict (no lead, another address, or never validated).
pub fn send_gate_reason(
    lead: Option<&lead::Model>,
    address: &str,
    require_validated: bool,
) -> Option<String> {
    let same = lead.filter(|l| l.email.as_deref() == Some(address));
    if let Some(reason) = same.and_then(undeliverable_reason) {
        return Some(reason);
    }
    let validated = same.is_some_and(|l| l.validated_at.is_some());
    (require_validated && !validated).then(|| NOT_VALIDATED.to_string())
}

/// The reason of a recipient skipped because its address was never validated.
pub const NOT_VALIDATED: &str = "email not validated (the campaign requires validated recipients)";
