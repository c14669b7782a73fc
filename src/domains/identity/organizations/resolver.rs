//! Organization, member, invitation and team operations.

use async_graphql::{Context, Object, ID};

use super::{
    service::{self as org, teams},
    types::{
        CreateTeamInput, Invitation, InviteMemberInput, Member, Team, UpdateOrganizationInput,
        UpdateTeamInput,
    },
};
use crate::domains::identity::types::{AuthPayload, Organization};
use crate::{
    auth::Role,
    domains::audit::{self, AuditNote},
    error::AppResult,
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

/// Organization queries.
#[derive(Default)]
pub struct OrgQuery;

#[Object]
impl OrgQuery {
    /// Members of the viewer's organization, newest first.
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<Member>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        org::members(
            state,
            viewer,
            PageArgs::new(first, after, last, before)?,
            Member::from,
        )
        .await
    }

    /// Teams of the viewer's organization, newest first.
    async fn teams(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<Team>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        teams::list(
            state,
            viewer,
            PageArgs::new(first, after, last, before)?,
            Team::from,
        )
        .await
    }

    /// Pending invitations of the organization (not accepted, not expired), newest first
    /// (ADMIN+).
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<Invitation>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        org::invitations(state, viewer, args, Invitation::from).await
    }

    /// One team; null when it does not exist in the viewer's organization.
    async fn team(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Team>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        Ok(teams::find(state, viewer, id).await?.map(Team::from))
    }
}

fn note_change<T: serde::Serialize>(
    ctx: &Context<'_>,
    kind: &'static str,
    id: String,
    before: &T,
    after: &T,
) {
    audit::note(
        ctx,
        AuditNote {
            resource_type: kind,
            resource_id: id,
            changes: audit::diff(before, after),
            ..Default::default()
        },
    );
}

use crate::domains::audit::note_ref;

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct OrgSnapshot<'a> {
    name: &'a str,
    logo_file_id: Option<uuid::Uuid>,
}

impl<'a> OrgSnapshot<'a> {
    fn of(m: &'a entity::organization::Model) -> Self {
        OrgSnapshot {
            name: &m.name,
            logo_file_id: m.logo_file_id,
        }
    }
}

#[derive(serde::Serialize)]
struct RoleSnapshot<'a> {
    role: &'a str,
}

#[derive(serde::Serialize)]
struct TeamSnapshot<'a> {
    name: &'a str,
    description: Option<&'a str>,
}

/// Organization mutations.
#[derive(Default)]
pub struct OrgMutation;

#[Object]
impl OrgMutation {
    /// Renames the organization, changes its time zone or its logo (ADMIN+; a LOGO file of
    /// the organization, null removes it).
    async fn update_organization(
        &self,
        ctx: &Context<'_>,
        input: UpdateOrganizationInput,
    ) -> AppResult<Organization> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let (b, a) = org::update(
            state,
            viewer,
            input.name,
            input.timezone,
            input.logo_file_id,
        )
        .await?;
        note_change(
            ctx,
            "organization",
            a.id.to_string(),
            &OrgSnapshot::of(&b),
            &OrgSnapshot::of(&a),
        );
        Ok(a.into())
    }

    /// Invites someone by email (ADMIN+); they receive an accept link.
    async fn invite_member(
        &self,
        ctx: &Context<'_>,
        input: InviteMemberInput,
    ) -> AppResult<Invitation> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let inv = org::invite(state, viewer, &input.email, input.role).await?;
        note_ref(ctx, "invitation", inv.id.to_string());
        Ok(inv.into())
    }

    /// Withdraws a pending invitation (ADMIN+); its link stops working. Returns it.
    async fn revoke_invitation(&self, ctx: &Context<'_>, id: ID) -> AppResult<Invitation> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let inv = org::revoke_invitation(state, viewer, parse_id(&id)?).await?;
        note_ref(ctx, "invitation", inv.id.to_string());
        Ok(inv.into())
    }

    /// Accepts an invitation. New people give `name` and `password`. An existing account joins
    /// with its `password` or while signed in as that account, never with the link alone
    /// (UNAUTHENTICATED otherwise). Returns a session in the organization.
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        token: String,
        name: Option<String>,
        password: Option<String>,
    ) -> AppResult<AuthPayload> {
        let state = ctx.state()?;
        let viewer = ctx.viewer().ok();
        let payload = org::accept(state, viewer, &token, name, password).await?;
        let org_id = parse_id(&payload.organization.id).ok();
        audit::note(
            ctx,
            AuditNote {
                org_id,
                actor_user_id: parse_id(&payload.user.id).ok(),
                resource_type: "member",
                resource_id: payload.user.id.to_string(),
                changes: None,
            },
        );
        Ok(payload)
    }

    /// Changes a member's role (ADMIN+; OWNER changes need an OWNER; one OWNER must remain).
    async fn update_member_role(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        role: Role,
    ) -> AppResult<Member> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let (b, a) = org::update_role(state, viewer, parse_id(&user_id)?, role).await?;
        note_change(
            ctx,
            "member",
            a.user_id.to_string(),
            &RoleSnapshot { role: &b.role },
            &RoleSnapshot { role: &a.role },
        );
        Ok(a.into())
    }

    /// Removes a member (ADMIN+); their sessions in this organization end.
    async fn remove_member(&self, ctx: &Context<'_>, user_id: ID) -> AppResult<Member> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = org::remove(state, viewer, parse_id(&user_id)?).await?;
        note_ref(ctx, "member", m.user_id.to_string());
        Ok(m.into())
    }

    /// A new session in another organization the viewer belongs to.
    async fn switch_organization(&self, ctx: &Context<'_>, id: ID) -> AppResult<AuthPayload> {
        let (state, viewer) = ctx.state_and_viewer()?;
        org::switch(state, viewer, parse_id(&id)?).await
    }

    /// Creates a team (MANAGER+). CONFLICT when the name is taken.
    async fn create_team(&self, ctx: &Context<'_>, input: CreateTeamInput) -> AppResult<Team> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let t = teams::create(state, viewer, &input.name, input.description.as_deref()).await?;
        note_ref(ctx, "team", t.id.to_string());
        Ok(t.into())
    }

    /// Updates a team (MANAGER+); only fields present change.
    async fn update_team(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateTeamInput,
    ) -> AppResult<Team> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let (b, a) = teams::update(
            state,
            viewer,
            parse_id(&id)?,
            input.name.as_deref(),
            input.description.as_deref(),
        )
        .await?;
        note_change(
            ctx,
            "team",
            a.id.to_string(),
            &TeamSnapshot {
                name: &b.name,
                description: b.description.as_deref(),
            },
            &TeamSnapshot {
                name: &a.name,
                description: a.description.as_deref(),
            },
        );
        Ok(a.into())
    }

    /// Deletes a team (MANAGER+).
    async fn delete_team(&self, ctx: &Context<'_>, id: ID) -> AppResult<Team> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let t = teams::delete(state, viewer, parse_id(&id)?).await?;
        note_ref(ctx, "team", t.id.to_string());
        Ok(t.into())
    }

    /// Adds an organization member to a team (MANAGER+).
    async fn add_team_member(
        &self,
        ctx: &Context<'_>,
        team_id: ID,
        user_id: ID,
    ) -> AppResult<Team> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let t = teams::add_member(state, viewer, parse_id(&team_id)?, parse_id(&user_id)?).await?;
        note_ref(ctx, "team", t.id.to_string());
        Ok(t.into())
    }

    /// Removes a user from a team (MANAGER+).
    async fn remove_team_member(
        &self,
        ctx: &Context<'_>,
        team_id: ID,
        user_id: ID,
    ) -> AppResult<Team> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let t =
            teams::remove_member(state, viewer, parse_id(&team_id)?, parse_id(&user_id)?).await?;
        note_ref(ctx, "team", t.id.to_string());
        Ok(t.into())
    }
}
