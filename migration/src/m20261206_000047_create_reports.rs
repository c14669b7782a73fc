//! Insight's reports: `reports` (a saved definition: name, kind, params, format) and
//! `report_runs` (one generation: status, progress, the stored file, the error).
//!
//! - `idx_reports_org` serves `reports` (the organization's, newest first by id).
//! - `idx_report_runs_report` serves `reportRuns(reportId)` (newest first by id).
//! - `idx_report_runs_org_created` serves the daily limit (runs of the organization in the
//!   last 24 hours).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Reports::Table)
                    .if_not_exists()
                    .col(uuid(Reports::Id).primary_key())
                    .col(uuid(Reports::OrgId))
                    .col(text(Reports::Name))
                    .col(text(Reports::Kind))
                    .col(text(Reports::Format))
                    .col(json_binary(Reports::Params))
                    .col(uuid(Reports::CreatedBy))
                    .col(timestamp_with_time_zone(Reports::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReportRuns::Table)
                    .if_not_exists()
                    .col(uuid(ReportRuns::Id).primary_key())
                    .col(uuid(ReportRuns::OrgId))
                    .col(uuid(ReportRuns::ReportId))
                    .col(text(ReportRuns::Status))
                    .col(integer(ReportRuns::Progress).default(0))
                    .col(integer(ReportRuns::Attempt).default(0))
                    .col(integer_null(ReportRuns::RowCount))
                    .col(uuid_null(ReportRuns::FileId))
                    .col(text_null(ReportRuns::Error))
                    .col(uuid(ReportRuns::RequestedBy))
                    .col(timestamp_with_time_zone(ReportRuns::CreatedAt))
                    .col(timestamp_with_time_zone_null(ReportRuns::FinishedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ReportRuns::Table, ReportRuns::ReportId)
                            .to(Reports::Table, Reports::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_reports_org")
                    .table(Reports::Table)
                    .col(Reports::OrgId)
                    .col(Reports::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_report_runs_report")
                    .table(ReportRuns::Table)
                    .col(ReportRuns::ReportId)
                    .col(ReportRuns::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_report_runs_org_created")
                    .table(ReportRuns::Table)
                    .col(ReportRuns::OrgId)
                    .col(ReportRuns::CreatedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ReportRuns::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Reports::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Reports {
    Table,
    Id,
    OrgId,
    Name,
    Kind,
    Format,
    Params,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ReportRuns {
    Table,
    Id,
    OrgId,
    ReportId,
    Status,
    Progress,
    Attempt,
    RowCount,
    FileId,
    Error,
    RequestedBy,
    CreatedAt,
    FinishedAt,
}
