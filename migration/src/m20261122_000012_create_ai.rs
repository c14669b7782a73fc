use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AiUsage::Table)
                    .if_not_exists()
                    .col(pk_uuid(AiUsage::Id))
                    .col(uuid(AiUsage::OrgId))
                    .col(uuid_null(AiUsage::UserId))
                    .col(string_len(AiUsage::Provider, 32))
                    .col(string_len(AiUsage::Model, 128))
                    .col(string_len(AiUsage::Operation, 64))
                    .col(big_integer(AiUsage::PromptTokens))
                    .col(big_integer(AiUsage::CompletionTokens))
                    .col(big_integer(AiUsage::CostMicros))
                    .col(boolean(AiUsage::Cached))
                    .col(timestamp_with_time_zone(AiUsage::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AiUsage::Table, AiUsage::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The budget check and `aiUsage(period)`: one organization's rows since a time.
        manager
            .create_index(
                Index::create()
                    .name("idx_ai_usage_org_created")
                    .table(AiUsage::Table)
                    .col(AiUsage::OrgId)
                    .col(AiUsage::CreatedAt)
                    .to_owned(),
            )
            .await?;
        // The result cache when Redis is not configured (key = SHA-256 of the request).
        manager
            .create_table(
                Table::create()
                    .table(AiCache::Table)
                    .if_not_exists()
                    .col(string_len(AiCache::Key, 64).primary_key())
                    .col(text(AiCache::Value))
                    .col(timestamp_with_time_zone(AiCache::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LeadAnalyses::Table)
                    .if_not_exists()
                    .col(pk_uuid(LeadAnalyses::Id))
                    .col(uuid(LeadAnalyses::OrgId))
                    .col(uuid(LeadAnalyses::LeadId))
                    .col(text(LeadAnalyses::Summary))
                    .col(integer(LeadAnalyses::FitScore))
                    .col(json_binary(LeadAnalyses::Reasons))
                    .col(text(LeadAnalyses::NextAction))
                    .col(json_binary(LeadAnalyses::TalkingPoints))
                    .col(string_len(LeadAnalyses::Provider, 32))
                    .col(string_len(LeadAnalyses::Model, 128))
                    .col(timestamp_with_time_zone(LeadAnalyses::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LeadAnalyses::Table, LeadAnalyses::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(LeadAnalyses::Table, LeadAnalyses::LeadId)
                            .to(Leads::Table, Leads::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The newest analysis per lead (UUID v7 ids).
        manager
            .create_index(
                Index::create()
                    .name("idx_lead_analyses_lead_id")
                    .table(LeadAnalyses::Table)
                    .col(LeadAnalyses::LeadId)
                    .col(LeadAnalyses::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SearchGoals::Table)
                    .if_not_exists()
                    .col(pk_uuid(SearchGoals::Id))
                    .col(uuid(SearchGoals::OrgId))
                    .col(uuid_null(SearchGoals::CreatedBy))
                    .col(text(SearchGoals::Text))
                    .col(string_len_null(SearchGoals::TargetMarket, 200))
                    .col(json_binary(SearchGoals::Locations))
                    .col(integer(SearchGoals::MaxLeads))
                    .col(json_binary(SearchGoals::Strategy))
                    .col(string_len(SearchGoals::Status, 32))
                    .col(string_len(SearchGoals::Provider, 32))
                    .col(string_len(SearchGoals::Model, 128))
                    .col(timestamp_with_time_zone(SearchGoals::CreatedAt))
                    .col(timestamp_with_time_zone(SearchGoals::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SearchGoals::Table, SearchGoals::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_search_goals_org_id")
                    .table(SearchGoals::Table)
                    .col(SearchGoals::OrgId)
                    .col(SearchGoals::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            SearchGoals::Table.into_iden(),
            LeadAnalyses::Table.into_iden(),
            AiCache::Table.into_iden(),
            AiUsage::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Leads {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum LeadAnalyses {
    Table,
    Id,
    OrgId,
    LeadId,
    Summary,
    FitScore,
    Reasons,
    NextAction,
    TalkingPoints,
    Provider,
    Model,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AiUsage {
    Table,
    Id,
    OrgId,
    UserId,
    Provider,
    Model,
    Operation,
    PromptTokens,
    CompletionTokens,
    CostMicros,
    Cached,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AiCache {
    Table,
    Key,
    Value,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum SearchGoals {
    Table,
    Id,
    OrgId,
    CreatedBy,
    Text,
    TargetMarket,
    Locations,
    MaxLeads,
    Strategy,
    Status,
    Provider,
    Model,
    CreatedAt,
    UpdatedAt,
}
