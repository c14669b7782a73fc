//! AI drafts as the subject of AI_REPLY approval requests: conversations' implementation of
//! approvals' [`ApprovalSubject`], registered at start-up by `conversations::register`.
//!
//! - **Existence**: an AI_REPLY request names an auto reply of the organization.
//! - **Preview**: the draft as it would be sent (subject and text) and its recipient.
//! - **Decisions**: approved → the draft is queued in its conversation, threaded on the message
//!   it answers, through `conversation.send` (one conditional `PENDING_APPROVAL → QUEUED`
//!   update, in the deciding transaction: the one mail goes out once); rejected, withdrawn or
//!   expired → `REJECTED`, nothing is sent. Approving a draft whose conversation or message was
//!   deleted meanwhile is CONFLICT.

use async_trait::async_trait;
use chrono::Utc;
use entity::{approval_request, auto_reply, conversation, conversation_message};
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
};
use uuid::Uuid;

use super::respond::{announce, queue_reply, Reply};
use crate::{
    auth::Viewer,
    domains::{
        approvals::{
            types::{ApprovalResourceType, RenderedEmail},
            ApprovalPreview, ApprovalSubject, Decision,
        },
        conversations::types::AutoReplyStatus,
    },
    error::{AppError, AppResult},
    state::AppState,
};

/// The AI_REPLY subject.
pub struct AiReplySubject;

/// Registers [`AiReplySubject`] with approvals.
pub fn register() {
    crate::domains::approvals::register_subject(ApprovalResourceType::AiReply, AiReplySubject);
}

/// The auto reply `resource_id` of organization `org`.
async fn auto_reply_of(
    conn: &impl ConnectionTrait,
    org: Uuid,
    resource_id: &str,
) -> AppResult<Option<auto_reply::Model>> {
    let Ok(id) = Uuid::parse_str(resource_id) else {
        return Ok(None);
    };
    Ok(auto_reply::Entity::find_by_id(id)
        .filter(auto_reply::Column::OrgId.eq(org))
        .one(conn)
        .await?)
}

/// Moves `a` from PENDING_APPROVAL to `to`; false when it was not pending any more.
async fn settle(
    conn: &impl ConnectionTrait,
    a: &auto_reply::Model,
    to: AutoReplyStatus,
) -> AppResult<bool> {
    let n = auto_reply::Entity::update_many()
        .col_expr(auto_reply::Column::Status, Expr::value(to.as_str()))
        .col_expr(auto_reply::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(auto_reply::Column::Id.eq(a.id))
        .filter(auto_reply::Column::Status.eq(AutoReplyStatus::PendingApproval.as_str()))
        .exec(conn)
        .await?
        .rows_affected;
    Ok(n > 0)
}

/// Queues the approved draft `a` in its conversation.
async fn send_draft(txn: &DatabaseTransaction, a: &auto_reply::Model) -> AppResult<()> {
    let gone = || AppError::Conflict("the conversation or its message no longer exists".into());
    let conv = conversation::Entity::find_by_id(a.conversation_id)
        .filter(conversation::Column::OrgId.eq(a.org_id))
        .one(txn)
        .await?
        .ok_or_else(gone)?;
    let trigger = conversation_message::Entity::find_by_id(a.trigger_message_id)
        .filter(conversation_message::Column::OrgId.eq(a.org_id))
        .one(txn)
        .await?
        .ok_or_else(gone)?;
    let reply = Reply {
        id: a.reply_message_id.unwrap_or_else(Uuid::now_v7),
        mid: a.reply_mid.clone(),
        subject: a.subject.clone(),
        text: a.body_text.clone(),
        html: None,
    };
    queue_reply(txn, &conv, &trigger, a.rule_id, reply).await?;
    Ok(())
}

#[async_trait]
impl ApprovalSubject for AiReplySubject {
    fn noun(&self) -> &'static str {
        "AI reply"
    }

    async fn exists(
        &self,
        state: &AppState,
        viewer: &Viewer,
        resource_id: &str,
    ) -> AppResult<bool> {
        Ok(auto_reply_of(&state.db, viewer.org_id, resource_id)
            .await?
            .is_some())
    }

    async fn preview(
        &self,
        state: &AppState,
        viewer: &Viewer,
        resource_id: &str,
        out: &mut ApprovalPreview,
    ) -> AppResult<()> {
        let Some(a) = auto_reply_of(&state.db, viewer.org_id, resource_id).await? else {
            return Ok(());
        };
        let to = conversation::Entity::find_by_id(a.conversation_id)
            .filter(conversation::Column::OrgId.eq(viewer.org_id))
            .one(&state.db)
            .await?
            .map(|c| c.email);
        out.sample_recipient = to;
        out.email = Some(RenderedEmail {
            subject: a.subject,
            html: String::new(),
            text: a.body_text,
        });
        Ok(())
    }

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        r: &approval_request::Model,
        actor: Option<Uuid>,
        decision: Decision,
    ) -> AppResult<()> {
        let Some(a) = auto_reply_of(txn, r.org_id, &r.resource_id).await? else {
            return match decision {
                Decision::Approved { .. } => {
                    Err(AppError::Conflict("the AI reply no longer exists".into()))
                }
                Decision::Returned { .. } => Ok(()),
            };
        };
        let to = match decision {
            Decision::Approved { .. } => AutoReplyStatus::Queued,
            Decision::Returned { .. } => AutoReplyStatus::Rejected,
        };
        if !settle(txn, &a, to).await? {
            return Ok(());
        }
        if to == AutoReplyStatus::Queued {
            send_draft(txn, &a).await?;
        }
        let a = auto_reply::Model {
            status: to.as_str().into(),
            ..a
        };
        announce(txn, &a, actor).await
    }
}
