//! GraphQL types of approval rules: the rule, its inputs, the condition's operators and the
//! explanation `testApprovalRule` gives.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, Enum, InputObject, Json, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::approval_rule;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    auth::Role,
    domains::{
        approvals::types::{ids_of, ApprovalResourceType, PageUsers},
        identity::types::User,
    },
    error::AppResult,
};

/// A rule: when an action on `resourceType` whose facts satisfy `condition` needs approval, and
/// from whom.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct ApprovalRule {
    /// Rule id.
    pub id: ID,
    /// Name.
    pub name: String,
    /// What it applies to.
    pub resource_type: ApprovalResourceType,
    /// The condition (`{all: [...]}`, `{any: [...]}`, `{field, operator, value}`).
    pub condition: Json<serde_json::Value>,
    /// Anyone at or above this role may approve (null when `approvers` are named).
    pub approver_role: Option<Role>,
    /// Distinct approvals needed.
    pub required_approvals: i32,
    /// Hours until a request becomes overdue (urgent); null = no SLA.
    pub sla_hours: Option<i32>,
    /// Whether the gate evaluates it.
    pub enabled: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    #[graphql(skip)]
    pub approver_ids: Vec<Uuid>,
    #[graphql(skip)]
    pub created_by: Option<Uuid>,
    /// The approvers and authors of the rules resolved together (loaded once for all).
    #[graphql(skip)]
    pub users: Arc<PageUsers>,
}

#[ComplexObject]
impl ApprovalRule {
    /// Named approvers (empty when `approverRole` is set).
    async fn approvers(&self, ctx: &Context<'_>) -> AppResult<Vec<User>> {
        self.users.many(ctx, &self.approver_ids).await
    }
    /// Who created it.
    async fn created_by(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        self.users.one(ctx, self.created_by).await
    }
}

impl ApprovalRule {
    /// Rules resolved together (a page): their approvers and authors load in one statement.
    pub fn wrap(models: Vec<approval_rule::Model>) -> Vec<ApprovalRule> {
        let rules: Vec<ApprovalRule> = models.into_iter().map(ApprovalRule::from).collect();
        let users = PageUsers::new(
            rules
                .iter()
                .flat_map(|r| r.approver_ids.iter().copied().chain(r.created_by)),
        );
        rules
            .into_iter()
            .map(|r| ApprovalRule {
                users: users.clone(),
                ..r
            })
            .collect()
    }
}

impl From<approval_rule::Model> for ApprovalRule {
    fn from(m: approval_rule::Model) -> Self {
        let approver_ids = ids_of(&m.approver_ids);
        let users = PageUsers::new(approver_ids.iter().copied().chain(m.created_by));
        ApprovalRule {
            id: ID(m.id.to_string()),
            name: m.name,
            resource_type: ApprovalResourceType::parse(&m.resource_type)
                .unwrap_or(ApprovalResourceType::Other),
            condition: Json(m.condition),
            approver_role: m.approver_role.as_deref().and_then(Role::parse),
            required_approvals: m.required_approvals,
            sla_hours: m.sla_hours,
            enabled: m.enabled,
            created_at: m.created_at,
            updated_at: m.updated_at,
            approver_ids,
            created_by: m.created_by,
            users,
        }
    }
}

/// Input of `createApprovalRule` and `testApprovalRule`.
#[derive(InputObject, Debug, Clone)]
pub struct ApprovalRuleInput {
    /// Name (1–200 characters).
    pub name: String,
    /// What it applies to.
    pub resource_type: ApprovalResourceType,
    /// `{all: [...]}`, `{any: [...]}` or `{field, operator, value}`; operators EQ, NE, GT, GTE,
    /// LT, LTE, IN, CONTAINS, EXISTS. Campaign facts: `recipientCount`, `aiGenerated`,
    /// `firstCampaign`, `fromDomain`, `fromEmail`, `scheduled`, `variantCount`.
    pub condition: Json<serde_json::Value>,
    /// Anyone at or above this role (MEMBER or higher) may approve. Exactly one of this and
    /// `approverIds`.
    pub approver_role: Option<Role>,
    /// Named approvers (members of the organization).
    pub approver_ids: Option<Vec<ID>>,
    /// Distinct approvals needed (1–10, default 1; at most the number of named approvers).
    pub required_approvals: Option<i32>,
    /// Hours until a request becomes overdue (1–8,760); none = no SLA.
    pub sla_hours: Option<i32>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// Input of `updateApprovalRule` (absent fields stay).
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateApprovalRuleInput {
    /// Name.
    pub name: Option<String>,
    /// Condition.
    pub condition: Option<Json<serde_json::Value>>,
    /// Approver role (clears named approvers).
    pub approver_role: Option<Role>,
    /// Named approvers (clears the approver role).
    pub approver_ids: Option<Vec<ID>>,
    /// Distinct approvals needed.
    pub required_approvals: Option<i32>,
    /// Hours until overdue.
    pub sla_hours: Option<i32>,
    /// Whether the gate evaluates it.
    pub enabled: Option<bool>,
}

/// Result of `testApprovalRule`.
#[derive(SimpleObject, Debug, Clone)]
pub struct ApprovalRuleTest {
    /// Whether the sample satisfies the condition.
    pub matched: bool,
    /// Every comparison with its outcome.
    pub explanation: Vec<LeafExplanation>,
}

/// A comparison operator.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// Equal (numbers compare by value: 1 = 1.0).
    Eq,
    /// Not equal (also true when the fact is missing).
    Ne,
    /// Greater than (numbers, or strings in lexical order).
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// The fact is one of the values (`value` is an array).
    In,
    /// The fact (a string) contains `value` (a string), or the fact (an array) contains `value`.
    Contains,
    /// The fact is present and not null (`value: false`: absent or null). `value` defaults to true.
    Exists,
}

crate::wire_enum!(Operator {
    Eq => "EQ",
    Ne => "NE",
    Gt => "GT",
    Gte => "GTE",
    Lt => "LT",
    Lte => "LTE",
    In => "IN",
    Contains => "CONTAINS",
    Exists => "EXISTS",
});

/// Why one leaf matched or not.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct LeafExplanation {
    /// Where the leaf is in the condition (`condition.all[0]`).
    pub path: String,
    /// The fact compared.
    pub field: String,
    /// The operator.
    pub operator: Operator,
    /// The value in the rule.
    pub expected: Json<Value>,
    /// The fact's value in the sample (null when missing).
    pub actual: Json<Value>,
    /// Whether this leaf matched.
    pub matched: bool,
    /// The comparison in words, e.g. `recipientCount = 600 > 500`.
    pub reason: String,
}
