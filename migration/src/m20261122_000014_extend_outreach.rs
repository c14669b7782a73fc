//! Outreach, second step: A/B test settings and the chosen winner on `campaigns`, per-organization
//! SMTP settings, and the indexes of the suppression list and per-campaign event lists.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds a single column at a time.
        for col in [Campaigns::AbTest, Campaigns::AbWinner] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Campaigns::Table)
                        .add_column(json_binary_null(col))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(SmtpSettings::Table)
                    .if_not_exists()
                    .col(pk_uuid(SmtpSettings::OrgId))
                    .col(string_len(SmtpSettings::Host, 253))
                    .col(integer(SmtpSettings::Port))
                    .col(string_len(SmtpSettings::Security, 16))
                    .col(string_len_null(SmtpSettings::Username, 320))
                    .col(text_null(SmtpSettings::Password))
                    .col(uuid_null(SmtpSettings::UpdatedBy))
                    .col(timestamp_with_time_zone(SmtpSettings::CreatedAt))
                    .col(timestamp_with_time_zone(SmtpSettings::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SmtpSettings::Table, SmtpSettings::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // `Campaign.events(type)`: one campaign's events of one kind, newest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_email_events_campaign_kind_id")
                    .table(EmailEvents::Table)
                    .col(EmailEvents::CampaignId)
                    .col(EmailEvents::Kind)
                    .col(EmailEvents::Id)
                    .to_owned(),
            )
            .await?;
        // `suppressions`: one organization's list, newest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_email_suppressions_org_id")
                    .table(EmailSuppressions::Table)
                    .col(EmailSuppressions::OrgId)
                    .col(EmailSuppressions::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_email_suppressions_org_id")
                    .table(EmailSuppressions::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_email_events_campaign_kind_id")
                    .table(EmailEvents::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(SmtpSettings::Table).to_owned())
            .await?;
        for col in [Campaigns::AbWinner, Campaigns::AbTest] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Campaigns::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Campaigns {
    Table,
    AbTest,
    AbWinner,
}

#[derive(DeriveIden)]
enum SmtpSettings {
    Table,
    OrgId,
    Host,
    Port,
    Security,
    Username,
    Password,
    UpdatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum EmailEvents {
    Table,
    Id,
    CampaignId,
    Kind,
}

#[derive(DeriveIden)]
enum EmailSuppressions {
    Table,
    Id,
    OrgId,
}
