//! GraphQL types shared by the approval sub-domains: the resource type, the preview's rendered
//! email (outreach's template previews use it too), and the helpers their objects use (stored id
//! lists).

use async_graphql::{Enum, SimpleObject};
use uuid::Uuid;

use crate::error::AppResult;

/// What kind of thing awaits approval. Only CAMPAIGN is gated today (its launch); the others can
/// be used for requests made by hand and for rules the later domains will evaluate.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApprovalResourceType {
    /// A campaign launch (`launchCampaign`, `scheduleCampaign`).
    Campaign,
    /// An AI-written reply in a conversation (not gated yet).
    AiReply,
    /// A demo-site deploy (not gated yet).
    DemoSite,
    /// Anything else (requests made by hand).
    Other,
}

crate::wire_enum!(ApprovalResourceType { Campaign => "CAMPAIGN", AiReply => "AI_REPLY", DemoSite => "DEMO_SITE", Other => "OTHER" });

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
