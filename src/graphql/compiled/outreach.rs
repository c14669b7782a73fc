//! `campaigns` compiled to one statement (see `graphql::compiled::newest`): the campaign
//! rows of outreach's own list select, their templates by primary key, their first pages of
//! recipients with each recipient's lead (the lead's fields as the `leads` compiler writes
//! them).

use super::{
    enum_sql,
    frame::Layout,
    leads::lead_field,
    leaf_object_sql,
    newest::{child_connection, page_args, NewestPlan},
    object_sql, timestamp_sql, Sel,
};
use crate::{
    auth::Viewer,
    domains::outreach::{
        campaigns::{service::list_select, types::CampaignFilter},
        types::{CampaignStatus, RecipientStatus},
    },
};
use entity::campaign;

/// The campaign row of the root page.
const C: &str = "\"campaigns\"";

/// Plans the root `campaigns` field, or `None` when the resolvers must run it.
pub fn plan_campaigns(viewer: &Viewer, field: &Sel) -> Option<NewestPlan> {
    if !field.only_args(&["filter", "first", "after", "last", "before"]) {
        return None;
    }
    let filter: Option<CampaignFilter> = field.arg("filter", "CampaignFilter", false)?;
    let args = page_args(field)?;
    let select = list_select(viewer, &filter.unwrap_or_default()).ok()?;
    let layout = Layout::plan(field, "CampaignConnection", "CampaignEdge", |sel| {
        object_sql(sel, "Campaign", |f| campaign_field(viewer, f))
    })?;
    Some(NewestPlan::new(select, campaign::Column::Id, args, layout))
}

/// The SQL of one selected `Campaign` field of the row [`C`].
fn campaign_field(viewer: &Viewer, f: &Sel) -> Option<String> {
    let col = |c: &str| format!("{C}.\"{c}\"");
    if f.is_leaf() {
        return Some(match f.name.as_str() {
            "id" => col("id"),
            "name" => col("name"),
            "status" => enum_sql(&col("status"), CampaignStatus::ALL, "DRAFT"),
            "fromName" => col("from_name"),
            "fromEmail" => col("from_email"),
            "replyTo" => col("reply_to"),
            "sendRatePerMinute" => col("send_rate_per_minute"),
            "requireValidatedRecipients" => col("require_validated_recipients"),
            "lastError" => col("last_error"),
            "createdById" => col("created_by"),
            "scheduleAt" => timestamp_sql(&col("schedule_at")),
            "launchedAt" => timestamp_sql(&col("launched_at")),
            "completedAt" => timestamp_sql(&col("completed_at")),
            "createdAt" => timestamp_sql(&col("created_at")),
            "updatedAt" => timestamp_sql(&col("updated_at")),
            _ => return None,
        });
    }
    match f.name.as_str() {
        // By primary key, in the campaign's organization (as the resolvers' page-wide load).
        "template" if f.args.is_empty() => {
            let obj = leaf_object_sql(&f.children, "Template", template_column)?;
            Some(format!(
                "(SELECT {obj} FROM email_templates lg_t WHERE lg_t.id = {c} AND lg_t.org_id = {o})",
                c = col("template_id"),
                o = col("org_id"),
            ))
        }
        "recipients" => child_connection(
            f,
            "CampaignRecipientConnection",
            &format!(
                "campaign_recipients lg_r WHERE lg_r.campaign_id = {}",
                col("id")
            ),
            "lg_r",
            |sel| object_sql(sel, "CampaignRecipient", |r| recipient_field(viewer, r)),
        ),
        _ => None,
    }
}

/// A `Template` leaf of the row `lg_t`.
fn template_column(name: &str) -> Option<String> {
    Some(match name {
        "id" | "name" | "category" | "subject" | "favorite" => format!("lg_t.{name}"),
        "bodyHtml" => "lg_t.body_html".into(),
        "bodyText" => "lg_t.body_text".into(),
        "aiGenerated" => "lg_t.ai_generated".into(),
        "createdById" => "lg_t.created_by".into(),
        "createdAt" => timestamp_sql("lg_t.created_at"),
        "updatedAt" => timestamp_sql("lg_t.updated_at"),
        _ => return None,
    })
}

/// A `CampaignRecipient` field of the row `lg_r`.
fn recipient_field(viewer: &Viewer, f: &Sel) -> Option<String> {
    if f.name == "lead" && f.args.is_empty() {
        // The lead by primary key (null once deleted: the foreign key is set null).
        let obj = object_sql(&f.children, "Lead", |l| lead_field(viewer, l))?;
        return Some(format!(
            "(SELECT {obj} FROM leads WHERE \"leads\".\"id\" = lg_r.lead_id)"
        ));
    }
    if !f.is_leaf() {
        return None;
    }
    Some(match f.name.as_str() {
        "id" | "email" | "variant" | "attempts" | "error" => format!("lg_r.{}", f.name),
        "messageId" => "lg_r.message_id".into(),
        "openCount" => "lg_r.open_count".into(),
        "clickCount" => "lg_r.click_count".into(),
        "bounceKind" => "lg_r.bounce_kind".into(),
        "status" => enum_sql("lg_r.status", RecipientStatus::ALL, "PENDING"),
        "sentAt" => timestamp_sql("lg_r.sent_at"),
        "openedAt" => timestamp_sql("lg_r.opened_at"),
        "clickedAt" => timestamp_sql("lg_r.clicked_at"),
        "repliedAt" => timestamp_sql("lg_r.replied_at"),
        "bouncedAt" => timestamp_sql("lg_r.bounced_at"),
        "unsubscribedAt" => timestamp_sql("lg_r.unsubscribed_at"),
        "lastEventAt" => timestamp_sql("lg_r.last_event_at"),
        _ => return None,
    })
}
