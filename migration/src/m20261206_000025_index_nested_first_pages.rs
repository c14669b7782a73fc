//! Indexes that let a nested first page read only its own rows.
//!
//! `Campaign.recipients` and `SearchGoal.jobs` list a parent's rows newest first (by id), a
//! page per parent in one statement (`graphql::siblings::first_pages`). Without an index on
//! (parent, id) each parent's page read and sorted every row of that parent: ten campaigns of
//! 5,000 recipients took 72 ms per request (bench/shapes, shape 06, session 13). With it, each
//! page is an index range read of `limit + 1` entries.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_campaign_recipients_campaign_id")
                    .table(CampaignRecipients::Table)
                    .col(CampaignRecipients::CampaignId)
                    .col(CampaignRecipients::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_search_goal_jobs_goal_id")
                    .table(SearchGoalJobs::Table)
                    .col(SearchGoalJobs::GoalId)
                    .col(SearchGoalJobs::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_search_goal_jobs_goal_id")
                    .table(SearchGoalJobs::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_campaign_recipients_campaign_id")
                    .table(CampaignRecipients::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum CampaignRecipients {
    Table,
    CampaignId,
    Id,
}

#[derive(DeriveIden)]
enum SearchGoalJobs {
    Table,
    GoalId,
    Id,
}
