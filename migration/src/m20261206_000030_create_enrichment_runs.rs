//! Enrichment providers, the waterfall and batch runs: `enrichment_providers` holds each
//! organization's provider keys (sealed), order and cost per call; `enrichment_calls` is the
//! history of every provider call (provider, field, outcome, cost); `enrichment_usage` the money
//! spent per organization and month (the budget lives in `enrichment_settings`);
//! `enrichment_runs` a batch (`enrichLeads`) and `enrichment_run_items` its per lead × field
//! completion, written in the transaction of the result so a resumed run repeats no call.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        providers(manager).await?;
        calls(manager).await?;
        runs(manager).await?;
        manager
            .create_table(
                Table::create()
                    .table(EnrichmentUsage::Table)
                    .if_not_exists()
                    .col(uuid(EnrichmentUsage::OrgId))
                    .col(string_len(EnrichmentUsage::Period, 7))
                    .col(big_integer(EnrichmentUsage::SpentCents).default(0))
                    .primary_key(
                        Index::create()
                            .col(EnrichmentUsage::OrgId)
                            .col(EnrichmentUsage::Period),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(EnrichmentSettings::Table)
                    .add_column(big_integer_null(EnrichmentSettings::MonthlyBudgetCents))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(EnrichmentSettings::Table)
                    .drop_column(EnrichmentSettings::MonthlyBudgetCents)
                    .to_owned(),
            )
            .await?;
        for t in [
            EnrichmentUsage::Table.into_iden(),
            EnrichmentRunItems::Table.into_iden(),
            EnrichmentRuns::Table.into_iden(),
            EnrichmentCalls::Table.into_iden(),
            EnrichmentProviders::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn providers(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(EnrichmentProviders::Table)
                .if_not_exists()
                .col(uuid(EnrichmentProviders::Id).primary_key())
                .col(uuid(EnrichmentProviders::OrgId))
                .col(string_len(EnrichmentProviders::Provider, 16))
                .col(text(EnrichmentProviders::ApiKey))
                .col(integer(EnrichmentProviders::Position))
                .col(big_integer(EnrichmentProviders::CostCents))
                .col(boolean(EnrichmentProviders::Enabled).default(true))
                .col(uuid_null(EnrichmentProviders::UpdatedBy))
                .col(timestamp_with_time_zone(EnrichmentProviders::CreatedAt))
                .col(timestamp_with_time_zone(EnrichmentProviders::UpdatedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("idx_enrichment_providers_org_provider")
                .table(EnrichmentProviders::Table)
                .col(EnrichmentProviders::OrgId)
                .col(EnrichmentProviders::Provider)
                .unique()
                .to_owned(),
        )
        .await
}

async fn calls(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(EnrichmentCalls::Table)
                .if_not_exists()
                .col(uuid(EnrichmentCalls::Id).primary_key())
                .col(uuid(EnrichmentCalls::OrgId))
                .col(uuid(EnrichmentCalls::LeadId))
                .col(uuid_null(EnrichmentCalls::RunId))
                .col(string_len(EnrichmentCalls::Provider, 16))
                .col(string_len(EnrichmentCalls::Field, 16))
                .col(string_len(EnrichmentCalls::Outcome, 16))
                .col(big_integer(EnrichmentCalls::CostCents))
                .col(json_binary(EnrichmentCalls::Filled))
                .col(string_len_null(EnrichmentCalls::Detail, 300))
                .col(timestamp_with_time_zone(EnrichmentCalls::At))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("idx_enrichment_calls_org_lead")
                .table(EnrichmentCalls::Table)
                .col(EnrichmentCalls::OrgId)
                .col(EnrichmentCalls::LeadId)
                .col(EnrichmentCalls::Id)
                .to_owned(),
        )
        .await
}

async fn runs(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(EnrichmentRuns::Table)
                .if_not_exists()
                .col(uuid(EnrichmentRuns::Id).primary_key())
                .col(uuid(EnrichmentRuns::OrgId))
                .col(uuid_null(EnrichmentRuns::JobId))
                .col(uuid(EnrichmentRuns::CreatedBy))
                .col(string_len(EnrichmentRuns::Role, 16))
                .col(json_binary(EnrichmentRuns::Fields))
                .col(json_binary(EnrichmentRuns::LeadIds))
                .col(string_len(EnrichmentRuns::Status, 24))
                .col(integer(EnrichmentRuns::Total))
                .col(integer(EnrichmentRuns::Done))
                .col(integer(EnrichmentRuns::Filled))
                .col(integer(EnrichmentRuns::Failed))
                .col(timestamp_with_time_zone(EnrichmentRuns::CreatedAt))
                .col(timestamp_with_time_zone(EnrichmentRuns::UpdatedAt))
                .col(timestamp_with_time_zone_null(EnrichmentRuns::FinishedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("idx_enrichment_runs_org_id")
                .table(EnrichmentRuns::Table)
                .col(EnrichmentRuns::OrgId)
                .col(EnrichmentRuns::Id)
                .to_owned(),
        )
        .await?;
    manager
        .create_table(
            Table::create()
                .table(EnrichmentRunItems::Table)
                .if_not_exists()
                .col(uuid(EnrichmentRunItems::RunId))
                .col(uuid(EnrichmentRunItems::LeadId))
                .col(string_len(EnrichmentRunItems::Field, 16))
                .col(string_len(EnrichmentRunItems::Outcome, 24))
                .col(string_len_null(EnrichmentRunItems::Provider, 16))
                .col(timestamp_with_time_zone(EnrichmentRunItems::At))
                .primary_key(
                    Index::create()
                        .col(EnrichmentRunItems::RunId)
                        .col(EnrichmentRunItems::LeadId)
                        .col(EnrichmentRunItems::Field),
                )
                .to_owned(),
        )
        .await
}

#[derive(DeriveIden)]
enum EnrichmentProviders {
    Table,
    Id,
    OrgId,
    Provider,
    ApiKey,
    Position,
    CostCents,
    Enabled,
    UpdatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EnrichmentCalls {
    Table,
    Id,
    OrgId,
    LeadId,
    RunId,
    Provider,
    Field,
    Outcome,
    CostCents,
    Filled,
    Detail,
    At,
}

#[derive(DeriveIden)]
enum EnrichmentRuns {
    Table,
    Id,
    OrgId,
    JobId,
    CreatedBy,
    Role,
    Fields,
    LeadIds,
    Status,
    Total,
    Done,
    Filled,
    Failed,
    CreatedAt,
    UpdatedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum EnrichmentRunItems {
    Table,
    RunId,
    LeadId,
    Field,
    Outcome,
    Provider,
    At,
}

#[derive(DeriveIden)]
enum EnrichmentUsage {
    Table,
    OrgId,
    Period,
    SpentCents,
}

#[derive(DeriveIden)]
enum EnrichmentSettings {
    Table,
    MonthlyBudgetCents,
}
