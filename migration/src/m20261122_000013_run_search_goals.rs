//! Running search goals: the goal's run state, the goal ↔ scrape job links (one row per
//! strategy source, skipped sources included) and the ranked, validated results.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for col in [
            json_binary_null(SearchGoals::Progress),
            text_null(SearchGoals::Error),
            timestamp_with_time_zone_null(SearchGoals::StartedAt),
            timestamp_with_time_zone_null(SearchGoals::FinishedAt),
        ] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table(SearchGoals::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(SearchGoalJobs::Table)
                    .if_not_exists()
                    .col(pk_uuid(SearchGoalJobs::Id))
                    .col(uuid(SearchGoalJobs::GoalId))
                    .col(uuid(SearchGoalJobs::OrgId))
                    .col(integer(SearchGoalJobs::Position))
                    .col(string_len(SearchGoalJobs::Source, 32))
                    .col(text(SearchGoalJobs::Query))
                    .col(uuid_null(SearchGoalJobs::ScrapeJobId))
                    .col(text_null(SearchGoalJobs::SkippedReason))
                    .col(timestamp_with_time_zone(SearchGoalJobs::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SearchGoalJobs::Table, SearchGoalJobs::GoalId)
                            .to(SearchGoals::Table, SearchGoals::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SearchGoalJobs::Table, SearchGoalJobs::ScrapeJobId)
                            .to(ScrapeJobs::Table, ScrapeJobs::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // A retried launch step cannot link (or create) a source's job twice.
        manager
            .create_index(
                Index::create()
                    .name("uq_search_goal_jobs_goal_position")
                    .table(SearchGoalJobs::Table)
                    .col(SearchGoalJobs::GoalId)
                    .col(SearchGoalJobs::Position)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SearchGoalResults::Table)
                    .if_not_exists()
                    .col(pk_uuid(SearchGoalResults::Id))
                    .col(uuid(SearchGoalResults::GoalId))
                    .col(uuid(SearchGoalResults::OrgId))
                    .col(uuid(SearchGoalResults::LeadId))
                    .col(integer(SearchGoalResults::Rank))
                    .col(integer(SearchGoalResults::Score))
                    .col(string_len(SearchGoalResults::Validation, 16))
                    .col(json_binary(SearchGoalResults::Reasons))
                    .col(string_len(SearchGoalResults::Provider, 32))
                    .col(string_len(SearchGoalResults::Model, 128))
                    .col(timestamp_with_time_zone(SearchGoalResults::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SearchGoalResults::Table, SearchGoalResults::GoalId)
                            .to(SearchGoals::Table, SearchGoals::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SearchGoalResults::Table, SearchGoalResults::LeadId)
                            .to(Leads::Table, Leads::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One result per goal and lead: a retried ranking step adds nothing.
        manager
            .create_index(
                Index::create()
                    .name("uq_search_goal_results_goal_lead")
                    .table(SearchGoalResults::Table)
                    .col(SearchGoalResults::GoalId)
                    .col(SearchGoalResults::LeadId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // `SearchGoal.results` in rank order.
        manager
            .create_index(
                Index::create()
                    .name("idx_search_goal_results_goal_rank")
                    .table(SearchGoalResults::Table)
                    .col(SearchGoalResults::GoalId)
                    .col(SearchGoalResults::Rank)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            SearchGoalResults::Table.into_iden(),
            SearchGoalJobs::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        for c in [
            SearchGoals::Progress,
            SearchGoals::Error,
            SearchGoals::StartedAt,
            SearchGoals::FinishedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(SearchGoals::Table)
                        .drop_column(c)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum SearchGoals {
    Table,
    Id,
    Progress,
    Error,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum ScrapeJobs {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Leads {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SearchGoalJobs {
    Table,
    Id,
    GoalId,
    OrgId,
    Position,
    Source,
    Query,
    ScrapeJobId,
    SkippedReason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SearchGoalResults {
    Table,
    Id,
    GoalId,
    OrgId,
    LeadId,
    Rank,
    Score,
    Validation,
    Reasons,
    Provider,
    Model,
    CreatedAt,
}
