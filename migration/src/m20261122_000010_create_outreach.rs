//! Outreach: email templates, campaigns, one row per campaign recipient (the unit of
//! exactly-once delivery), tracking events and the per-organization suppression list.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EmailTemplates::Table)
                    .if_not_exists()
                    .col(pk_uuid(EmailTemplates::Id))
                    .col(uuid(EmailTemplates::OrgId))
                    .col(string_len(EmailTemplates::Name, 200))
                    .col(string_len_null(EmailTemplates::Category, 64))
                    .col(text(EmailTemplates::Subject))
                    .col(text(EmailTemplates::BodyHtml))
                    .col(text(EmailTemplates::BodyText))
                    .col(boolean(EmailTemplates::Favorite).default(false))
                    .col(boolean(EmailTemplates::AiGenerated).default(false))
                    .col(uuid_null(EmailTemplates::CreatedBy))
                    .col(timestamp_with_time_zone(EmailTemplates::CreatedAt))
                    .col(timestamp_with_time_zone(EmailTemplates::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_email_templates_org_id",
                vec![EmailTemplates::OrgId, EmailTemplates::Id],
            ),
            (
                "idx_email_templates_org_category",
                vec![
                    EmailTemplates::OrgId,
                    EmailTemplates::Category,
                    EmailTemplates::Id,
                ],
            ),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(EmailTemplates::Table);
            for c in cols {
                idx.col(c);
            }
            manager.create_index(idx.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Campaigns::Table)
                    .if_not_exists()
                    .col(pk_uuid(Campaigns::Id))
                    .col(uuid(Campaigns::OrgId))
                    .col(string_len(Campaigns::Name, 200))
                    .col(uuid_null(Campaigns::TemplateId))
                    .col(string_len(Campaigns::FromName, 200))
                    .col(string_len(Campaigns::FromEmail, 320))
                    .col(string_len_null(Campaigns::ReplyTo, 320))
                    .col(integer_null(Campaigns::SendRatePerMinute))
                    .col(timestamp_with_time_zone_null(Campaigns::ScheduleAt))
                    .col(string_len(Campaigns::Status, 24))
                    .col(json_binary(Campaigns::Variants))
                    // The template content frozen at launch (and at resume), so a template edited
                    // while the campaign runs cannot change what the remaining recipients get.
                    .col(json_binary_null(Campaigns::Content))
                    // The `campaign.send` job currently responsible; an older job that sees another
                    // id here stops.
                    .col(uuid_null(Campaigns::JobId))
                    .col(uuid_null(Campaigns::CreatedBy))
                    .col(timestamp_with_time_zone_null(Campaigns::LaunchedAt))
                    .col(timestamp_with_time_zone_null(Campaigns::CompletedAt))
                    .col(text_null(Campaigns::LastError))
                    .col(timestamp_with_time_zone(Campaigns::CreatedAt))
                    .col(timestamp_with_time_zone(Campaigns::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Campaigns::Table, Campaigns::TemplateId)
                            .to(EmailTemplates::Table, EmailTemplates::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_campaigns_org_id",
                vec![Campaigns::OrgId, Campaigns::Id],
            ),
            (
                "idx_campaigns_org_status",
                vec![Campaigns::OrgId, Campaigns::Status, Campaigns::Id],
            ),
            (
                "idx_campaigns_template",
                vec![Campaigns::TemplateId, Campaigns::Id],
            ),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(Campaigns::Table);
            for c in cols {
                idx.col(c);
            }
            manager.create_index(idx.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(CampaignRecipients::Table)
                    .if_not_exists()
                    .col(pk_uuid(CampaignRecipients::Id))
                    .col(uuid(CampaignRecipients::CampaignId))
                    .col(uuid(CampaignRecipients::OrgId))
                    // NULL once the lead is deleted; the row stays for the campaign's statistics.
                    .col(uuid_null(CampaignRecipients::LeadId))
                    .col(string_len(CampaignRecipients::Email, 320))
                    .col(string_len(CampaignRecipients::Status, 16))
                    .col(string_len_null(CampaignRecipients::Variant, 32))
                    .col(string_len(CampaignRecipients::MessageId, 255))
                    .col(integer(CampaignRecipients::Attempts).default(0))
                    .col(integer(CampaignRecipients::OpenCount).default(0))
                    .col(integer(CampaignRecipients::ClickCount).default(0))
                    .col(timestamp_with_time_zone_null(CampaignRecipients::SentAt))
                    .col(timestamp_with_time_zone_null(CampaignRecipients::OpenedAt))
                    .col(timestamp_with_time_zone_null(CampaignRecipients::ClickedAt))
                    .col(timestamp_with_time_zone_null(CampaignRecipients::RepliedAt))
                    .col(timestamp_with_time_zone_null(CampaignRecipients::BouncedAt))
                    .col(string_len_null(CampaignRecipients::BounceKind, 8))
                    .col(timestamp_with_time_zone_null(
                        CampaignRecipients::UnsubscribedAt,
                    ))
                    .col(timestamp_with_time_zone_null(
                        CampaignRecipients::LastEventAt,
                    ))
                    .col(text_null(CampaignRecipients::Error))
                    .col(timestamp_with_time_zone(CampaignRecipients::CreatedAt))
                    .col(timestamp_with_time_zone(CampaignRecipients::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CampaignRecipients::Table, CampaignRecipients::CampaignId)
                            .to(Campaigns::Table, Campaigns::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CampaignRecipients::Table, CampaignRecipients::LeadId)
                            .to(Leads::Table, Leads::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_campaign_recipients_campaign_lead")
                    .table(CampaignRecipients::Table)
                    .col(CampaignRecipients::CampaignId)
                    .col(CampaignRecipients::LeadId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_campaign_recipients_message_id")
                    .table(CampaignRecipients::Table)
                    .col(CampaignRecipients::MessageId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            // The sender's claim (`status = 'PENDING'` in id order) and the recipients list.
            (
                "idx_campaign_recipients_campaign_status",
                vec![
                    CampaignRecipients::CampaignId,
                    CampaignRecipients::Status,
                    CampaignRecipients::Id,
                ],
            ),
            (
                "idx_campaign_recipients_lead",
                vec![CampaignRecipients::LeadId, CampaignRecipients::Id],
            ),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(CampaignRecipients::Table);
            for c in cols {
                idx.col(c);
            }
            manager.create_index(idx.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(EmailEvents::Table)
                    .if_not_exists()
                    .col(pk_uuid(EmailEvents::Id))
                    .col(uuid(EmailEvents::RecipientId))
                    .col(uuid(EmailEvents::CampaignId))
                    .col(uuid(EmailEvents::OrgId))
                    .col(uuid_null(EmailEvents::LeadId))
                    .col(string_len(EmailEvents::Kind, 16))
                    .col(json_binary(EmailEvents::Data))
                    .col(timestamp_with_time_zone(EmailEvents::At))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EmailEvents::Table, EmailEvents::RecipientId)
                            .to(CampaignRecipients::Table, CampaignRecipients::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_email_events_campaign_at",
                vec![EmailEvents::CampaignId, EmailEvents::At],
            ),
            (
                "idx_email_events_recipient",
                vec![EmailEvents::RecipientId, EmailEvents::Id],
            ),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(EmailEvents::Table);
            for c in cols {
                idx.col(c);
            }
            manager.create_index(idx.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(EmailSuppressions::Table)
                    .if_not_exists()
                    .col(pk_uuid(EmailSuppressions::Id))
                    .col(uuid(EmailSuppressions::OrgId))
                    .col(string_len(EmailSuppressions::Email, 320))
                    .col(string_len(EmailSuppressions::Reason, 24))
                    .col(json_binary(EmailSuppressions::Data))
                    .col(timestamp_with_time_zone(EmailSuppressions::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_email_suppressions_org_email")
                    .table(EmailSuppressions::Table)
                    .col(EmailSuppressions::OrgId)
                    .col(EmailSuppressions::Email)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            EmailSuppressions::Table.into_iden(),
            EmailEvents::Table.into_iden(),
            CampaignRecipients::Table.into_iden(),
            Campaigns::Table.into_iden(),
            EmailTemplates::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Leads {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum EmailTemplates {
    Table,
    Id,
    OrgId,
    Name,
    Category,
    Subject,
    BodyHtml,
    BodyText,
    Favorite,
    AiGenerated,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Campaigns {
    Table,
    Id,
    OrgId,
    Name,
    TemplateId,
    FromName,
    FromEmail,
    ReplyTo,
    SendRatePerMinute,
    ScheduleAt,
    Status,
    Variants,
    Content,
    JobId,
    CreatedBy,
    LaunchedAt,
    CompletedAt,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CampaignRecipients {
    Table,
    Id,
    CampaignId,
    OrgId,
    LeadId,
    Email,
    Status,
    Variant,
    MessageId,
    Attempts,
    OpenCount,
    ClickCount,
    SentAt,
    OpenedAt,
    ClickedAt,
    RepliedAt,
    BouncedAt,
    BounceKind,
    UnsubscribedAt,
    LastEventAt,
    Error,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EmailEvents {
    Table,
    Id,
    RecipientId,
    CampaignId,
    OrgId,
    LeadId,
    Kind,
    Data,
    At,
}

#[derive(DeriveIden)]
enum EmailSuppressions {
    Table,
    Id,
    OrgId,
    Email,
    Reason,
    Data,
    CreatedAt,
}
