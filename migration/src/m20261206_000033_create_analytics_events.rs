//! Insight's third slice: `analytics_events`, what frontends and partners track (`trackEvents`).
//!
//! - One row per (organization, client event id): the unique index makes a retried batch a
//!   no-op (`INSERT … ON CONFLICT DO NOTHING`), so a client may resend until it gets an answer.
//! - `idx_analytics_events_time` serves `analyticsEvents` (newest first by occurred time, the id
//!   breaking ties); `idx_analytics_events_lead` and `idx_analytics_events_name` its filters.
//! - `idx_lead_interactions_org_time`: `recentActivity` reads the organization's newest timeline
//!   entries (the largest of the feed's sources); without it each page sorted all of them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AnalyticsEvents::Table)
                    .if_not_exists()
                    .col(uuid(AnalyticsEvents::Id).primary_key())
                    .col(uuid(AnalyticsEvents::OrgId))
                    .col(text(AnalyticsEvents::ClientEventId))
                    .col(text(AnalyticsEvents::Name))
                    .col(timestamp_with_time_zone(AnalyticsEvents::OccurredAt))
                    .col(uuid_null(AnalyticsEvents::LeadId))
                    .col(text_null(AnalyticsEvents::SessionId))
                    .col(json_binary(AnalyticsEvents::Properties))
                    .col(uuid_null(AnalyticsEvents::UserId))
                    .col(uuid_null(AnalyticsEvents::ApiKeyId))
                    .col(timestamp_with_time_zone(AnalyticsEvents::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            (
                "idx_analytics_events_client_id",
                vec![AnalyticsEvents::OrgId, AnalyticsEvents::ClientEventId],
                true,
            ),
            (
                "idx_analytics_events_time",
                vec![
                    AnalyticsEvents::OrgId,
                    AnalyticsEvents::OccurredAt,
                    AnalyticsEvents::Id,
                ],
                false,
            ),
            (
                "idx_analytics_events_lead",
                vec![
                    AnalyticsEvents::OrgId,
                    AnalyticsEvents::LeadId,
                    AnalyticsEvents::OccurredAt,
                ],
                false,
            ),
            (
                "idx_analytics_events_name",
                vec![
                    AnalyticsEvents::OrgId,
                    AnalyticsEvents::Name,
                    AnalyticsEvents::OccurredAt,
                ],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(AnalyticsEvents::Table);
            for c in cols {
                index.col(c);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_lead_interactions_org_time")
                    .table(LeadInteractions::Table)
                    .col(LeadInteractions::OrgId)
                    .col(LeadInteractions::CreatedAt)
                    .col(LeadInteractions::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_lead_interactions_org_time")
                    .table(LeadInteractions::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(AnalyticsEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AnalyticsEvents {
    Table,
    Id,
    OrgId,
    ClientEventId,
    Name,
    OccurredAt,
    LeadId,
    SessionId,
    Properties,
    UserId,
    ApiKeyId,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum LeadInteractions {
    Table,
    Id,
    OrgId,
    CreatedAt,
}
