//! GraphQL types of the auto-responder: `AutoResponderRule`, its action, the inputs of its
//! mutations, and the status of an automatic reply.

use async_graphql::{Enum, InputObject, MaybeUndefined, Object, ID};
use chrono::{DateTime, Utc};
use entity::auto_responder_rule;

/// What a matching rule does.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoResponderAction {
    /// Reply with an outreach template rendered for the lead (sent at once).
    ReplyWithTemplate,
    /// Ask the AI provider for a draft; an AI_REPLY approval request holds it and the reply is
    /// sent only once it is approved.
    AiReply,
}
crate::wire_enum!(AutoResponderAction { ReplyWithTemplate => "REPLY_WITH_TEMPLATE", AiReply => "AI_REPLY" });

/// Where an automatic reply stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoReplyStatus {
    /// An AI draft waiting for its approval request.
    PendingApproval,
    /// Handed to the send job (a template reply, or an approved draft).
    Queued,
    /// The draft was rejected (or the request withdrawn or expired): nothing is sent.
    Rejected,
}
crate::wire_enum!(AutoReplyStatus { PendingApproval => "PENDING_APPROVAL", Queued => "QUEUED", Rejected => "REJECTED" });

/// An auto-responder rule: when an inbound message's subject or text contains one of its
/// keywords (case-insensitive), the first enabled rule by priority acts, at most once per
/// conversation per cooldown.
pub struct AutoResponderRule(pub auto_responder_rule::Model);

impl From<auto_responder_rule::Model> for AutoResponderRule {
    fn from(m: auto_responder_rule::Model) -> Self {
        AutoResponderRule(m)
    }
}

#[Object]
impl AutoResponderRule {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Keywords or phrases (lowercase); any one of them in the subject or text matches.
    async fn keywords(&self) -> Vec<String> {
        super::labels_of(&self.0.keywords)
    }
    /// What it does.
    async fn action(&self) -> Option<AutoResponderAction> {
        AutoResponderAction::parse(&self.0.action)
    }
    /// The template (REPLY_WITH_TEMPLATE).
    async fn template_id(&self) -> Option<ID> {
        self.0.template_id.map(|t| ID(t.to_string()))
    }
    /// At most one automatic reply per conversation within this many minutes.
    async fn cooldown_minutes(&self) -> i32 {
        self.0.cooldown_minutes
    }
    /// Whether it acts.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// Order of evaluation: lower first.
    async fn priority(&self) -> i32 {
        self.0.priority
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// Input of `createAutoResponderRule`.
#[derive(InputObject, Debug)]
pub struct CreateAutoResponderRuleInput {
    /// Name (1–200 characters).
    pub name: String,
    /// Keywords or phrases (1–50, each 1–100 characters; matched case-insensitively).
    pub keywords: Vec<String>,
    /// What it does.
    pub action: AutoResponderAction,
    /// The template of REPLY_WITH_TEMPLATE (one of the organization's).
    pub template_id: Option<ID>,
    /// Minutes (1–525,600); 1,440 (24 h) by default.
    pub cooldown_minutes: Option<i32>,
    /// Enabled (true by default).
    pub enabled: Option<bool>,
    /// Order of evaluation, lower first (0–10,000; 0 by default).
    pub priority: Option<i32>,
}

/// Input of `updateAutoResponderRule`: fields left out stay as they are.
#[derive(InputObject, Debug, Default)]
pub struct UpdateAutoResponderRuleInput {
    /// Name.
    pub name: Option<String>,
    /// Keywords or phrases.
    pub keywords: Option<Vec<String>>,
    /// What it does.
    pub action: Option<AutoResponderAction>,
    /// The template (null to clear it; REPLY_WITH_TEMPLATE needs one).
    pub template_id: MaybeUndefined<ID>,
    /// Minutes (1–525,600).
    pub cooldown_minutes: Option<i32>,
    /// Enabled.
    pub enabled: Option<bool>,
    /// Order of evaluation.
    pub priority: Option<i32>,
}
