//! GraphQL objects and inputs of organizations: members, invitations, teams.

use async_graphql::{ComplexObject, Context, InputObject, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{invitation, membership, team};

use crate::{
    auth::Role,
    domains::identity::{
        loader::IdentityLoaders,
        types::{load_user, load_users, User},
    },
    error::{AppError, AppResult},
    graphql::ContextExt,
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
        load_user(ctx, Some(self.user_id))
            .await?
            .ok_or(AppError::NotFound("user"))
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
        let ids = ctx
            .loaders()?
            .team_members()
            .load_one(self.team_id)
            .await
            .map_err(|e| (*e).clone())?
            .unwrap_or_default();
        load_users(ctx, &ids).await
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
    /// New IANA time zone (`Europe/Berlin`).
    pub timezone: Option<String>,
    /// The LOGO file (of this organization) to show as its logo; null removes it.
    pub logo_file_id: async_graphql::MaybeUndefined<ID>,
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
