//! Organization, member, invitation and team operations.

use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{invitation, membership, team};

use super::{
    loader::IdentityLoaders,
    org, teams,
    types::{AuthPayload, Organization, User},
};
use crate::{
    auth::Role,
    domains::audit::{self, AuditNote},
    error::{AppError, AppResult},
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

/// A person's membership in the organization.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct Member {
    /// Membership id.
    pub id: ID,
    /// Role in the organization.
    pub role: Role,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
    #[graphql(skip)]
    pub user_id: uuid::Uuid,
}

#[ComplexObject]
impl Member {
    /// The member's account.
    async fn user(&self, ctx: &Context<'_>) -> AppResult<User> {
        let user = ctx
            .loaders()?
            .users()
            .load_one(self.user_id)
            .await
            .map_err(|e| (*e).clone())?;
        user.map(User::from).ok_or(AppError::NotFound("user"))
    }
}

impl From<membership::Model> for Member {
    fn from(m: membership::Model) -> Self {
        Member {
            id: ID(m.id.to_string()),
            role: Role::parse(&m.role).unwrap_or(Role::Viewer),
            joined_at: m.created_at,
            user_id: m.user_id,
        }
    }
}

/// A pending invitation.
#[derive(SimpleObject, Debug, Clone)]
pub struct Invitation {
    /// Invitation id.
    pub id: ID,
    /// Invited address.
    pub email: String,
    /// Role on acceptance.
    pub role: Role,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
}

impl From<invitation::Model> for Invitation {
    fn from(m: invitation::Model) -> Self {
        Invitation {
            id: ID(m.id.to_string()),
            email: m.email,
            role: Role::parse(&m.role).unwrap_or(Role::Viewer),
            expires_at: m.expires_at,
            created_at: m.created_at,
        }
    }
}

/// A group of members.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct Team {
    /// Team id.
    pub id: ID,
    /// Name, unique in the organization.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    #[graphql(skip)]
    pub team_id: uuid::Uuid,
}

#[ComplexObject]
impl Team {
    /// Members of the team (batched across teams).
    async fn members(&self, ctx: &Context<'_>) -> AppResult<Vec<User>> {
        let loaders = ctx.loaders()?;
        let ids = loaders
            .team_members()
            .load_one(self.team_id)
            .await
            .map_err(|e| (*e).clone())?
            .unwrap_or_default();
        let users = loaders
            .users()
            .load_many(ids.iter().copied())
            .await
            .map_err(|e| (*e).clone())?;
        Ok(ids
            .iter()
            .filter_map(|id| users.get(id).cloned().map(User::from))
            .collect())
    }
}

impl From<team::Model> for Team {
    fn from(m: team::Model) -> Self {
        Team {
            id: ID(m.id.to_string()),
            name: m.name,
            description: m.description,
            created_at: m.created_at,
            updated_at: m.updated_at,
            team_id: m.id,
        }
    }
}

/// Input of `updateOrganization`.
#[derive(InputObject, Debug, Clone)]
pub struct UpdateOrganizationInput {
    /// New name.
    pub name: Option<String>,
}

/// Input of `inviteMember`.
#[derive(InputObject, Debug, Clone)]
pub struct InviteMemberInput {
    /// Address to invite.
    pub email: String,
    /// Role on acceptance (at most the inviter's).
    pub role: Role,
}

/// Input of `createTeam`.
#[derive(InputObject, Debug, Clone)]
pub struct CreateTeamInput {
    /// Name, unique in the organization.
    pub name: String,
    /// Description.
    pub description: Option<String>,
}

/// Input of `updateTeam` (only fields present change).
#[derive(InputObject, Debug, Clone)]
pub struct UpdateTeamInput {
    /// New name.
    pub name: Option<String>,
    /// New description (empty clears it).
    pub description: Option<String>,
}

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
struct OrgSnapshot<'a> {
    name: &'a str,
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
    /// Renames the organization (ADMIN+).
    async fn update_organization(
        &self,
        ctx: &Context<'_>,
        input: UpdateOrganizationInput,
    ) -> AppResult<Organization> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let (b, a) = org::update(state, viewer, input.name).await?;
        note_change(
            ctx,
            "organization",
            a.id.to_string(),
            &OrgSnapshot { name: &b.name },
            &OrgSnapshot { name: &a.name },
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
