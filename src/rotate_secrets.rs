//! `leadgraph rotate-secrets`: re-encrypts every secret stored in the database under the
//! current `SECRETS_KEY` (values sealed under a key of `SECRETS_KEY_PREVIOUS`, and plain text
//! written before encryption existed).
//!
//! The stored secrets, by table and column:
//! - `smtp_settings.password` (an organization's SMTP AUTH password),
//! - `scraping_settings.brave_api_key`, `.google_places_api_key`, `.social_api_key` (an
//!   organization's provider keys),
//! - `notification_preferences.webhook_url` (a member's Slack-style incoming-webhook URL; the URL
//!   is the credential),
//! - `webhook_endpoints.secret`, `.previous_secret` (an outgoing webhook endpoint's signing
//!   secrets),
//! - `enrichment_providers.api_key` (an organization's Hunter / Apollo key),
//! - `integrations.secret` (an organization's n8n API key or Slack incoming-webhook URL).
//!
//! Each value is updated only if it is still the one read (a concurrent save wins), so the
//! command can run while the servers run. Run it after putting the new key in `SECRETS_KEY` and
//! the old one in `SECRETS_KEY_PREVIOUS` on every instance; afterwards the old key can go.

use entity::{notification_preference, scraping_settings, smtp_setting, webhook_endpoint};
use sea_orm::{sea_query::Expr, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use crate::{
    domains::{enrichment, notifications, outreach, scraping, webhooks},
    platform::secrets_box::SecretsBox,
};

/// What the command did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// Values re-encrypted (legacy plain text or an older key).
    pub resealed: usize,
    /// Values already under the current key (and readable).
    pub current: usize,
    /// Values that could not be opened (`table.column of row: why`); left as they are.
    pub failed: Vec<String>,
}

impl RotationReport {
    fn one(
        &mut self,
        secrets: &SecretsBox,
        stored: &str,
        context: &str,
        what: String,
    ) -> Option<String> {
        // Values already under the current key are opened too, so the report also verifies
        // that every stored secret is readable (e.g. none was copied into another row).
        let resealed = if secrets.is_current(stored) {
            secrets.open(stored, context).map(|_| None)
        } else {
            secrets.reseal(stored, context)
        };
        match resealed {
            Ok(Some(v)) => Some(v),
            Ok(None) => {
                self.current += 1;
                None
            }
            Err(e) => {
                self.failed.push(format!("{what}: {e}"));
                None
            }
        }
    }
}

/// Re-encrypts every stored secret under the current key.
pub async fn rotate_all(
    db: &DatabaseConnection,
    secrets: &SecretsBox,
) -> Result<RotationReport, DbErr> {
    let mut report = RotationReport::default();
    rotate_smtp_passwords(db, secrets, &mut report).await?;
    rotate_scraping_keys(db, secrets, &mut report).await?;
    rotate_webhook_urls(db, secrets, &mut report).await?;
    rotate_webhook_secrets(db, secrets, &mut report).await?;
    rotate_enrichment_keys(db, secrets, &mut report).await?;
    rotate_integration_secrets(db, secrets, &mut report).await?;
    Ok(report)
}

/// `integrations.secret`.
async fn rotate_integration_secrets(
    db: &DatabaseConnection,
    secrets: &SecretsBox,
    report: &mut RotationReport,
) -> Result<(), DbErr> {
    use entity::integration::{Column, Entity};
    for row in Entity::find().all(db).await? {
        let context = webhooks::integrations::secret_context(row.id);
        let what = format!("integrations.secret of {}", row.id);
        if let Some(new) = report.one(secrets, &row.secret, &context, what) {
            let res = Entity::update_many()
                .col_expr(Column::Secret, Expr::value(new))
                .filter(Column::Id.eq(row.id))
                .filter(Column::Secret.eq(row.secret.as_str()))
                .exec(db)
                .await?;
            report.resealed += res.rows_affected as usize;
        }
    }
    Ok(())
}

/// `enrichment_providers.api_key`.
async fn rotate_enrichment_keys(
    db: &DatabaseConnection,
    secrets: &SecretsBox,
    report: &mut RotationReport,
) -> Result<(), DbErr> {
    use entity::enrichment_provider::{Column, Entity};
    // The local provider stores no key ("").
    for row in Entity::find().filter(Column::ApiKey.ne("")).all(db).await? {
        let context = enrichment::key_context(row.id);
        let what = format!("enrichment_providers.api_key of {}", row.id);
        if let Some(new) = report.one(secrets, &row.api_key, &context, what) {
            let res = Entity::update_many()
                .col_expr(Column::ApiKey, Expr::value(new))
                .filter(Column::Id.eq(row.id))
                .filter(Column::ApiKey.eq(row.api_key.as_str()))
                .exec(db)
                .await?;
            report.resealed += res.rows_affected as usize;
        }
    }
    Ok(())
}

/// `smtp_settings.password`.
async fn rotate_smtp_passwords(
    db: &DatabaseConnection,
    secrets: &SecretsBox,
    report: &mut RotationReport,
) -> Result<(), DbErr> {
    for row in smtp_setting::Entity::find()
        .filter(smtp_setting::Column::Password.is_not_null())
        .all(db)
        .await?
    {
        let Some(stored) = row.password.as_deref() else {
            continue;
        };
        let context = outreach::settings::password_context(row.org_id);
        let what = format!("smtp_settings.password of {}", row.org_id);
        if let Some(new) = report.one(secrets, stored, &context, what) {
            let res = smtp_setting::Entity::update_many()
                .col_expr(smtp_setting::Column::Password, Expr::value(new))
                .filter(smtp_setting::Column::OrgId.eq(row.org_id))
                .filter(smtp_setting::Column::Password.eq(stored))
                .exec(db)
                .await?;
            report.resealed += res.rows_affected as usize;
        }
    }
    Ok(())
}

/// The API keys in `scraping_settings`.
async fn rotate_scraping_keys(
    db: &DatabaseConnection,
    secrets: &SecretsBox,
    report: &mut RotationReport,
) -> Result<(), DbErr> {
    for row in scraping_settings::Entity::find().all(db).await? {
        let columns = [
            (
                "brave_api_key",
                scraping_settings::Column::BraveApiKey,
                row.brave_api_key.as_deref(),
            ),
            (
                "google_places_api_key",
                scraping_settings::Column::GooglePlacesApiKey,
                row.google_places_api_key.as_deref(),
            ),
            (
                "social_api_key",
                scraping_settings::Column::SocialApiKey,
                row.social_api_key.as_deref(),
            ),
        ];
        for (name, column, stored) in columns {
            let Some(stored) = stored else { continue };
            let context = scraping::key_context(name, row.org_id);
            let what = format!("scraping_settings.{name} of {}", row.org_id);
            if let Some(new) = report.one(secrets, stored, &context, what) {
                let res = scraping_settings::Entity::update_many()
                    .col_expr(column, Expr::value(new))
                    .filter(scraping_settings::Column::OrgId.eq(row.org_id))
                    .filter(column.eq(stored))
                    .exec(db)
                    .await?;
                report.resealed += res.rows_affected as usize;
            }
        }
    }
    Ok(())
}

/// `notification_preferences.webhook_url`.
async fn rotate_webhook_urls(
    db: &DatabaseConnection,
    secrets: &SecretsBox,
    report: &mut RotationReport,
) -> Result<(), DbErr> {
    for row in notification_preference::Entity::find()
        .filter(notification_preference::Column::WebhookUrl.is_not_null())
        .all(db)
        .await?
    {
        let Some(stored) = row.webhook_url.as_deref() else {
            continue;
        };
        let context =
            notifications::webhook_url_context(row.org_id, row.user_id, &row.notification_type);
        let what = format!("notification_preferences.webhook_url of {}", row.id);
        if let Some(new) = report.one(secrets, stored, &context, what) {
            let res = notification_preference::Entity::update_many()
                .col_expr(
                    notification_preference::Column::WebhookUrl,
                    Expr::value(new),
                )
                .filter(notification_preference::Column::Id.eq(row.id))
                .filter(notification_preference::Column::WebhookUrl.eq(stored))
                .exec(db)
                .await?;
            report.resealed += res.rows_affected as usize;
        }
    }
    Ok(())
}

/// `webhook_endpoints.secret` and `.previous_secret`.
async fn rotate_webhook_secrets(
    db: &DatabaseConnection,
    secrets: &SecretsBox,
    report: &mut RotationReport,
) -> Result<(), DbErr> {
    use webhook_endpoint::Column;
    for row in webhook_endpoint::Entity::find().all(db).await? {
        let columns = [
            (Column::Secret, Some(row.secret.as_str()), "secret"),
            (
                Column::PreviousSecret,
                row.previous_secret.as_deref(),
                "previous_secret",
            ),
        ];
        for (column, stored, name) in columns {
            let Some(stored) = stored else {
                continue;
            };
            let context = match column {
                Column::Secret => webhooks::secret_context(row.id),
                _ => webhooks::previous_secret_context(row.id),
            };
            let what = format!("webhook_endpoints.{name} of {}", row.id);
            if let Some(new) = report.one(secrets, stored, &context, what) {
                let res = webhook_endpoint::Entity::update_many()
                    .col_expr(column, Expr::value(new))
                    .filter(Column::Id.eq(row.id))
                    .filter(column.eq(stored))
                    .exec(db)
                    .await?;
                report.resealed += res.rows_affected as usize;
            }
        }
    }
    Ok(())
}
