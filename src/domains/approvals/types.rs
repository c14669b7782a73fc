//! GraphQL types shared by the approval sub-domains: the resource type, the preview's rendered
//! email (outreach's template previews use it too), and the helpers their objects use (stored id
//! lists, [`PageUsers`]: the users of objects resolved together, loaded once for all of them).

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Context, Enum, SimpleObject};
use entity::user;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::{
    domains::identity::{
        types::{load_user, load_users, User},
        users_by_id,
    },
    error::AppResult,
    graphql::ContextExt,
};

/// What kind of thing awaits approval. Only CAMPAIGN is gated today (its launch); the others can
/// be used for requests made by hand and for rules the later domains will evaluate.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApprovalResourceType {
    /// A campaign launch (`launchCampaign`, `scheduleCampaign`).
    Campaign,
    /// An AI-written reply in a conversation (not gated yet).
    AiReply,
    /// A sequence starting to send (`enrollInSequence`, `resumeSequence`).
    Sequence,
    /// A demo-site deploy (not gated yet).
    DemoSite,
    /// Anything else (requests made by hand).
    Other,
}

crate::wire_enum!(ApprovalResourceType { Campaign => "CAMPAIGN", AiReply => "AI_REPLY", Sequence => "SEQUENCE", DemoSite => "DEMO_SITE", Other => "OTHER" });

/// An email rendered for one recipient.
#[derive(SimpleObject, Debug, Clone)]
pub struct RenderedEmail {
    /// Subject.
    pub subject: String,
    /// HTML body.
    pub html: String,
    /// Text body.
    pub text: String,
}

/// Ids stored as a JSON array of UUID strings.
pub fn ids_of(v: &serde_json::Value) -> Vec<Uuid> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().and_then(|s| Uuid::parse_str(s).ok()))
                .collect()
        })
        .unwrap_or_default()
}

/// The stored form of an id list: a JSON array of UUID strings.
pub fn ids_json(ids: &[Uuid]) -> serde_json::Value {
    serde_json::Value::Array(
        ids.iter()
            .map(|u| serde_json::Value::String(u.to_string()))
            .collect(),
    )
}

/// A lookup's model as its GraphQL object, or null when it does not exist (NOT_FOUND).
pub fn found<M, T: From<M>>(r: AppResult<M>) -> AppResult<Option<T>> {
    match r {
        Ok(m) => Ok(Some(m.into())),
        Err(crate::error::AppError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The users named by objects resolved together (the requesters and assignees of a page of
/// requests, the approvers and authors of its rules, the actors of its history): the first field
/// that needs one loads all of them in one statement (issue 22: a statement count that does not
/// grow with the page size, whatever the machine load). With `NESTED_BATCHES=false` each field
/// goes through the request's DataLoader instead (the differential test's other path).
#[derive(Debug, Default)]
pub struct PageUsers {
    ids: Vec<Uuid>,
    users: OnceCell<HashMap<Uuid, user::Model>>,
}

impl PageUsers {
    /// The users `ids` (any order, repeats allowed) of one page.
    pub fn new(ids: impl IntoIterator<Item = Uuid>) -> Arc<Self> {
        let mut ids: Vec<Uuid> = ids.into_iter().collect();
        ids.sort();
        ids.dedup();
        Arc::new(PageUsers {
            ids,
            users: OnceCell::new(),
        })
    }

    /// The page's users, loaded once; `None` when batches are off or `wanted` is not all
    /// among the page's ids (then the caller asks the DataLoader).
    async fn all(
        &self,
        ctx: &Context<'_>,
        wanted: &[Uuid],
    ) -> AppResult<Option<&HashMap<Uuid, user::Model>>> {
        let state = ctx.state()?;
        if !state.config.reads.nested_batches
            || !wanted.iter().all(|id| self.ids.binary_search(id).is_ok())
        {
            return Ok(None);
        }
        let all = self
            .users
            .get_or_try_init(|| users_by_id(&state.db, &self.ids))
            .await?;
        Ok(Some(all))
    }

    /// The user `id`, for a field resolver.
    pub async fn one(&self, ctx: &Context<'_>, id: Option<Uuid>) -> AppResult<Option<User>> {
        let Some(id) = id else {
            return Ok(None);
        };
        match self.all(ctx, &[id]).await? {
            Some(all) => Ok(all.get(&id).cloned().map(User::from)),
            None => load_user(ctx, Some(id)).await,
        }
    }

    /// The users `ids` that exist, in order, for a field resolver.
    pub async fn many(&self, ctx: &Context<'_>, ids: &[Uuid]) -> AppResult<Vec<User>> {
        match self.all(ctx, ids).await? {
            Some(all) => Ok(ids
                .iter()
                .filter_map(|id| all.get(id).cloned().map(User::from))
                .collect()),
            None => load_users(ctx, ids).await,
        }
    }
}
