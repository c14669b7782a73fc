//! Approval-rule queries and mutations: guard, parse, call the service, map.

use async_graphql::{Context, Json, Object, ID};

use super::{
    service,
    types::{ApprovalRule, ApprovalRuleInput, ApprovalRuleTest, UpdateApprovalRuleInput},
};
use crate::{
    auth::Permission,
    domains::{
        approvals::types::{found, ApprovalResourceType},
        audit::note_ref as note,
    },
    error::AppResult,
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

/// Approval-rule queries.
#[derive(Default)]
pub struct RuleQuery;

#[Object]
impl RuleQuery {
    /// Approval rules, newest first.
    async fn approval_rules(
        &self,
        ctx: &Context<'_>,
        resource_type: Option<ApprovalResourceType>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<ApprovalRule>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        service::list(state, viewer, resource_type, args).await
    }

    /// One rule; null when it does not exist in the viewer's organization.
    async fn approval_rule(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<ApprovalRule>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadApprovals)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        found(service::get(&state.db, viewer, id).await)
    }

    /// Evaluates a stored rule (`id`) or an unsaved one (`input`) against `sample` facts, e.g.
    /// `{recipientCount: 600}`: whether it matches and, per comparison, why.
    async fn test_approval_rule(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        input: Option<ApprovalRuleInput>,
        sample: Json<serde_json::Value>,
    ) -> AppResult<ApprovalRuleTest> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = id.as_ref().map(parse_id).transpose()?;
        service::test(state, viewer, id, input, &sample.0).await
    }
}

/// Approval-rule mutations.
#[derive(Default)]
pub struct RuleMutation;

#[Object]
impl RuleMutation {
    /// Creates a rule (ADMIN+).
    async fn create_approval_rule(
        &self,
        ctx: &Context<'_>,
        input: ApprovalRuleInput,
    ) -> AppResult<ApprovalRule> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let r = service::create(state, viewer, input).await?;
        note(ctx, "approval_rule", r.id);
        Ok(r.into())
    }

    /// Changes a rule (ADMIN+); existing requests keep what they were created with.
    async fn update_approval_rule(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateApprovalRuleInput,
    ) -> AppResult<ApprovalRule> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let r = service::update(state, viewer, parse_id(&id)?, input).await?;
        note(ctx, "approval_rule", r.id);
        Ok(r.into())
    }

    /// Deletes a rule (ADMIN+); its requests stay. Returns the id.
    async fn delete_approval_rule(&self, ctx: &Context<'_>, id: ID) -> AppResult<ID> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let uuid = parse_id(&id)?;
        service::delete(state, viewer, uuid).await?;
        note(ctx, "approval_rule", uuid);
        Ok(id)
    }

    /// Enables a disabled rule or disables an enabled one (ADMIN+).
    async fn toggle_approval_rule(&self, ctx: &Context<'_>, id: ID) -> AppResult<ApprovalRule> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let r = service::toggle(state, viewer, parse_id(&id)?).await?;
        note(ctx, "approval_rule", r.id);
        Ok(r.into())
    }
}
