//! A goal's result ranks are unique: `SearchGoal.results` is ordered by rank and its cursors
//! are ranks, so two results of one goal with the same rank would make `after: <rank>` skip the
//! second. The ranking step already writes 1…n in one insert (`ai::ranking::store`, once per
//! goal); this makes the database hold it. Ties written before this migration (none are written
//! by the code, but nothing forbade them) are renumbered in (rank, id) order first, which keeps
//! the order every reader saw.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const RENUMBER_TIES: &str = r#"
UPDATE "search_goal_results" SET "rank" = (
    SELECT COUNT(*) FROM "search_goal_results" AS r2
    WHERE r2."goal_id" = "search_goal_results"."goal_id"
      AND (r2."rank" < "search_goal_results"."rank"
           OR (r2."rank" = "search_goal_results"."rank" AND r2."id" <= "search_goal_results"."id")))
WHERE "goal_id" IN (
    SELECT "goal_id" FROM "search_goal_results" GROUP BY "goal_id", "rank" HAVING COUNT(*) > 1)"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(RENUMBER_TIES)
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_search_goal_results_goal_rank")
                    .table(SearchGoalResults::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_search_goal_results_goal_rank")
                    .table(SearchGoalResults::Table)
                    .col(SearchGoalResults::GoalId)
                    .col(SearchGoalResults::Rank)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("uq_search_goal_results_goal_rank")
                    .table(SearchGoalResults::Table)
                    .to_owned(),
            )
            .await?;
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
}

#[derive(DeriveIden)]
enum SearchGoalResults {
    Table,
    GoalId,
    Rank,
}
