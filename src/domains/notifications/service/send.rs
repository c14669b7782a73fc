//! `sendNotification`: an ANNOUNCEMENT from an administrator to one member, a team (its members
//! who are still in the organization) or everybody (sender included), delivered per each
//! recipient's preferences.

use entity::{membership, team, team_member};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::{
    deliver::{deliver, NewNotification},
    preferences::MAX_URL,
};
use crate::{
    auth::{Permission, Viewer},
    domains::notifications::types::{NotificationType, SendNotificationInput},
    error::{AppError, AppResult, FieldError},
    ids::parse_id,
    state::{AppState, Wakes},
};

/// Longest title.
pub const MAX_TITLE: usize = 200;
/// Longest body.
pub const MAX_BODY: usize = 5000;

/// A link as given, or why it is refused: an http(s) URL or a path inside the app (`/…`).
fn clean_link(raw: &str) -> Result<Option<String>, String> {
    let link = raw.trim();
    if link.is_empty() {
        return Ok(None);
    }
    if link.chars().count() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    if link.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("must not contain spaces or control characters".into());
    }
    if link.starts_with('/') {
        // `//host` and `/\host` are other sites to browsers.
        if link.starts_with("//") || link.contains('\\') {
            return Err("must be an http(s) URL or a path starting with a single /".into());
        }
        return Ok(Some(link.to_string()));
    }
    match url::Url::parse(link) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            if !u.username().is_empty() || u.password().is_some() {
                return Err("must not contain credentials".into());
            }
            Ok(Some(link.to_string()))
        }
        _ => Err("must be an http(s) URL or a path starting with /".into()),
    }
}

#[derive(Clone, Copy)]
enum Target {
    User(Uuid),
    Team(Uuid),
    Organization,
}

/// Sends an ANNOUNCEMENT to one member, a team or everybody (ADMIN+); returns how many members
/// it was addressed to. Each recipient's preferences decide the channels.
pub async fn send(
    state: &AppState,
    viewer: &Viewer,
    input: SendNotificationInput,
) -> AppResult<u64> {
    viewer.require(Permission::SendNotifications)?;
    let (n, target) = validate(viewer, input)?;
    let txn = state.db.begin().await?;
    let recipients = recipients(&txn, viewer, target).await?;
    if matches!(target, Target::User(_)) && recipients.is_empty() {
        return Err(AppError::NotFound("member"));
    }
    deliver(&txn, &n, &recipients).await?;
    state.commit(txn, Wakes::Jobs).await?;
    Ok(recipients.len() as u64)
}

/// The announcement and its target, or every field error.
fn validate(viewer: &Viewer, input: SendNotificationInput) -> AppResult<(NewNotification, Target)> {
    let mut errors = Vec::new();
    let mut refuse = |field: &str, message: String| {
        errors.push(FieldError {
            field: field.into(),
            message,
        })
    };
    let whole = input.whole_organization.unwrap_or(false);
    let given = [input.user_id.is_some(), input.team_id.is_some(), whole]
        .into_iter()
        .filter(|g| *g)
        .count();
    if given != 1 {
        refuse(
            "input",
            "give exactly one of userId, teamId or wholeOrganization: true".into(),
        );
    }
    let title = input.title.trim().to_string();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        refuse("input.title", format!("must be 1–{MAX_TITLE} characters"));
    }
    let body = input.body.unwrap_or_default().trim().to_string();
    if body.chars().count() > MAX_BODY {
        refuse(
            "input.body",
            format!("must be at most {MAX_BODY} characters"),
        );
    }
    let link = match input.link.as_deref().map(clean_link).transpose() {
        Ok(l) => l.flatten(),
        Err(m) => {
            refuse("input.link", m);
            None
        }
    };
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    let target = match (&input.user_id, &input.team_id) {
        (Some(u), _) => Target::User(parse_id(u).map_err(|_| AppError::NotFound("member"))?),
        (_, Some(t)) => Target::Team(parse_id(t).map_err(|_| AppError::NotFound("team"))?),
        _ => Target::Organization,
    };
    let n = NewNotification {
        org_id: viewer.org_id,
        notification_type: NotificationType::Announcement,
        title,
        body,
        link,
        resource: None,
    };
    Ok((n, target))
}

/// The current members `target` reaches (NOT_FOUND for a team of another organization).
async fn recipients(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    target: Target,
) -> AppResult<Vec<Uuid>> {
    let members = membership::Entity::find()
        .select_only()
        .column(membership::Column::UserId)
        .filter(membership::Column::OrgId.eq(viewer.org_id));
    Ok(match target {
        Target::User(u) => {
            members
                .filter(membership::Column::UserId.eq(u))
                .into_tuple()
                .all(txn)
                .await?
        }
        Target::Team(t) => {
            team::Entity::find()
                .filter(team::Column::Id.eq(t))
                .filter(team::Column::OrgId.eq(viewer.org_id))
                .one(txn)
                .await?
                .ok_or(AppError::NotFound("team"))?;
            let in_team: Vec<Uuid> = team_member::Entity::find()
                .select_only()
                .column(team_member::Column::UserId)
                .filter(team_member::Column::TeamId.eq(t))
                .filter(team_member::Column::OrgId.eq(viewer.org_id))
                .into_tuple()
                .all(txn)
                .await?;
            // Only people who are still members of the organization.
            members
                .filter(membership::Column::UserId.is_in(in_team))
                .into_tuple()
                .all(txn)
                .await?
        }
        Target::Organization => members.into_tuple().all(txn).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_http_urls_or_app_paths() {
        assert_eq!(
            clean_link("https://example.com/a?b=1").unwrap().as_deref(),
            Some("https://example.com/a?b=1")
        );
        assert_eq!(
            clean_link(" /leads/123 ").unwrap().as_deref(),
            Some("/leads/123")
        );
        assert_eq!(clean_link("").unwrap(), None);
        for bad in [
            "javascript:alert(1)",
            "//evil.example/x",
            "/\\evil.example",
            "ftp://example.com/x",
            "leads/123",
            "https://user:pw@example.com/",
            "/a b",
            "http://",
        ] {
            assert!(clean_link(bad).is_err(), "{bad}");
        }
        assert!(clean_link(&format!("/{}", "a".repeat(MAX_URL))).is_err());
    }
}
