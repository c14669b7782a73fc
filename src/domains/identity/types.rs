//! GraphQL types for identity.

use async_graphql::{ComplexObject, Context, InputObject, MaybeUndefined, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{api_key, organization, user};
use uuid::Uuid;

use super::loader::IdentityLoaders;
use super::service::images::image_files;
use crate::{
    auth::Role,
    error::{AppError, AppResult},
    graphql::ContextExt,
};

/// Largest `size` an image URL field takes, in pixels.
const MAX_IMAGE_SIZE_PX: i32 = 4096;

/// The `size` argument of an image URL field: 1 to [`MAX_IMAGE_SIZE_PX`].
fn image_size(size: Option<i32>) -> AppResult<Option<i32>> {
    match size {
        Some(s) if !(1..=MAX_IMAGE_SIZE_PX).contains(&s) => Err(AppError::invalid(
            "size",
            format!("must be between 1 and {MAX_IMAGE_SIZE_PX}"),
        )),
        s => Ok(s),
    }
}

/// The signed link of image `file_id` at `size` pixels (null without a file, or when it is
/// gone), the files of the whole page read at once through the request's loader.
async fn image_url(
    ctx: &Context<'_>,
    file_id: Option<Uuid>,
    size: Option<i32>,
) -> AppResult<Option<String>> {
    let size = image_size(size)?;
    let Some(id) = file_id else {
        return Ok(None);
    };
    let image = ctx
        .loaders()?
        .images()
        .load_one(id)
        .await
        .map_err(|e| (*e).clone())?;
    let Some(image) = image else {
        return Ok(None);
    };
    Ok(Some(image_files()?.link(ctx.state()?, &image, size)))
}

/// A person with an account.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct User {
    /// User id.
    pub id: ID,
    /// Email address (lowercase).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Whether the email address was verified.
    pub email_verified: bool,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    #[graphql(skip)]
    pub avatar_file_id: Option<Uuid>,
}

#[ComplexObject]
impl User {
    /// A signed link (valid one to two hours) to the avatar, re-encoded without metadata, at
    /// the stored size that best fits `size` pixels (256 × 256, or 64 × 64 for `size` ≤ 64);
    /// null without an avatar.
    async fn avatar_url(&self, ctx: &Context<'_>, size: Option<i32>) -> AppResult<Option<String>> {
        image_url(ctx, self.avatar_file_id, size).await
    }
}

impl From<user::Model> for User {
    fn from(m: user::Model) -> Self {
        User {
            id: ID(m.id.to_string()),
            email: m.email,
            name: m.name,
            email_verified: m.email_verified_at.is_some(),
            created_at: m.created_at,
            avatar_file_id: m.avatar_file_id,
        }
    }
}

/// The user `id` (through the page's loader), for field resolvers.
pub async fn load_user(ctx: &Context<'_>, id: Option<Uuid>) -> AppResult<Option<User>> {
    let Some(id) = id else {
        return Ok(None);
    };
    let u = ctx
        .loaders()?
        .users()
        .load_one(id)
        .await
        .map_err(|e| (*e).clone())?;
    Ok(u.map(User::from))
}

/// The users `ids`, in order (through the page's loader), for field resolvers.
pub async fn load_users(ctx: &Context<'_>, ids: &[Uuid]) -> AppResult<Vec<User>> {
    let users = ctx
        .loaders()?
        .users()
        .load_many(ids.iter().copied())
        .await
        .map_err(|e| (*e).clone())?;
    Ok(ids
        .iter()
        .filter_map(|id| users.get(id).cloned().map(User::from))
        .collect())
}

/// A tenant: every lead, campaign and job belongs to one.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct Organization {
    /// Organization id.
    pub id: ID,
    /// Display name.
    pub name: String,
    /// URL-safe unique handle.
    pub slug: String,
    /// IANA time zone (`Europe/Berlin`, default `UTC`): analytics count days, weeks and months
    /// in it.
    pub timezone: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    #[graphql(skip)]
    pub logo_file_id: Option<Uuid>,
}

#[ComplexObject]
impl Organization {
    /// A signed link (valid one to two hours) to the logo, re-encoded without metadata, at
    /// the stored size that best fits `size` pixels (fitted within 512 × 512, or within
    /// 128 × 128 for `size` ≤ 128); null without a logo.
    async fn logo_url(&self, ctx: &Context<'_>, size: Option<i32>) -> AppResult<Option<String>> {
        image_url(ctx, self.logo_file_id, size).await
    }
}

impl From<organization::Model> for Organization {
    fn from(m: organization::Model) -> Self {
        Organization {
            id: ID(m.id.to_string()),
            name: m.name,
            slug: m.slug,
            timezone: m.timezone,
            created_at: m.created_at,
            logo_file_id: m.logo_file_id,
        }
    }
}

/// Tokens and context returned by `login`, `refreshAccessToken` and `switchOrganization`.
#[derive(SimpleObject, Debug, Clone)]
pub struct AuthPayload {
    /// JWT for `Authorization: Bearer …` (about 15 minutes).
    pub access_token: String,
    /// Opaque token for `refreshAccessToken` (30 days, single use: each refresh rotates it).
    pub refresh_token: String,
    /// When the access token expires.
    pub access_token_expires_at: DateTime<Utc>,
    /// The signed-in user.
    pub user: User,
    /// The organization the tokens are scoped to.
    pub organization: Organization,
    /// The user's role there.
    pub role: Role,
}

/// Result of `register`. With email verification on (the default), the answer is the same
/// whether or not the address already has an account, so it cannot be used to find accounts:
/// `user` and `organization` are null and the emailed link (or, for a taken address, a notice to
/// its owner) is the only outcome.
#[derive(SimpleObject, Debug, Clone)]
pub struct RegisterPayload {
    /// The new user (OWNER of the new organization); null when verification is required.
    pub user: Option<User>,
    /// The new organization; null when verification is required.
    pub organization: Option<Organization>,
    /// True when the emailed link must be followed before `login` works.
    pub verification_required: bool,
}

/// Input of `register`.
#[derive(InputObject, Debug, Clone)]
pub struct RegisterInput {
    /// Email address; must be unique.
    pub email: String,
    /// At least 10 characters, not equal to the email.
    pub password: String,
    /// Display name.
    pub name: String,
    /// Name of the organization to create.
    pub organization_name: String,
}

/// Input of `login`.
#[derive(InputObject, Debug, Clone)]
pub struct LoginInput {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A partner API key (the secret itself is shown only once, by `createApiKey`).
#[derive(SimpleObject, Debug, Clone)]
pub struct ApiKey {
    /// Key id.
    pub id: ID,
    /// Label.
    pub name: String,
    /// Role the key acts with.
    pub role: Role,
    /// First characters of the secret, to recognise it.
    pub prefix: String,
    /// Last successful use (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Expiry, if any.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The member the key acts for (its creator, or whom it was reassigned to). The key's
    /// effective role is at most theirs.
    pub created_by_id: ID,
    /// False when that member left the organization: the key stops working until it is
    /// reassigned (`reassignApiKey`) or revoked.
    pub creator_is_member: bool,
}

impl ApiKey {
    /// The GraphQL view of a key row and whether its creator is still a member.
    pub fn of(m: api_key::Model, creator_is_member: bool) -> Self {
        ApiKey {
            creator_is_member,
            ..m.into()
        }
    }
}

impl From<api_key::Model> for ApiKey {
    fn from(m: api_key::Model) -> Self {
        ApiKey {
            creator_is_member: true,
            created_by_id: ID(m.created_by.to_string()),
            id: ID(m.id.to_string()),
            role: Role::parse(&m.role).unwrap_or(Role::Viewer),
            name: m.name,
            prefix: m.prefix,
            last_used_at: m.last_used_at,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
            created_at: m.created_at,
        }
    }
}

/// Input of `createApiKey`.
#[derive(InputObject, Debug, Clone)]
pub struct CreateApiKeyInput {
    /// Label, 1–200 characters.
    pub name: String,
    /// Role the key acts with; at most the creator's own role.
    pub role: Role,
    /// Optional expiry (must be in the future).
    pub expires_at: Option<DateTime<Utc>>,
}

/// Result of `createApiKey`.
#[derive(SimpleObject, Debug, Clone)]
pub struct CreateApiKeyPayload {
    /// The stored key.
    pub api_key: ApiKey,
    /// The secret (`lg_…`). Shown once; only its hash is stored.
    pub secret: String,
}

/// Input of `updateMe` (only fields present change).
#[derive(InputObject, Debug, Clone)]
pub struct UpdateMeInput {
    /// New display name.
    pub name: Option<String>,
    /// The AVATAR file (of the viewer's organization) to show as the viewer's avatar; null
    /// removes it.
    pub avatar_file_id: MaybeUndefined<ID>,
}

/// How the current request authenticated.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A JWT access token from `login`.
    AccessToken,
    /// A partner API key.
    ApiKey,
}

/// The authenticated principal of this request.
#[derive(SimpleObject, Debug, Clone)]
pub struct ViewerInfo {
    /// The user id.
    pub user_id: ID,
    /// The organization every query is scoped to.
    pub organization_id: ID,
    /// The role in that organization.
    pub role: Role,
    /// How the request authenticated.
    pub auth_method: AuthMethod,
}
