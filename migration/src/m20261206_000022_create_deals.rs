use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Organizations get an IANA time zone: analytics bucket days, weeks and months in it.
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(text(Organizations::Timezone).default("UTC"))
                    .to_owned(),
            )
            .await?;
        // Pipelines: an ordered list of stages (deal_stages) deals move through.
        manager
            .create_table(
                Table::create()
                    .table(Pipelines::Table)
                    .if_not_exists()
                    .col(uuid(Pipelines::Id).primary_key())
                    .col(uuid(Pipelines::OrgId))
                    .col(text(Pipelines::Name))
                    .col(uuid_null(Pipelines::CreatedBy))
                    .col(timestamp_with_time_zone(Pipelines::CreatedAt))
                    .col(timestamp_with_time_zone(Pipelines::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DealStages::Table)
                    .if_not_exists()
                    .col(uuid(DealStages::Id).primary_key())
                    .col(uuid(DealStages::OrgId))
                    .col(uuid(DealStages::PipelineId))
                    .col(text(DealStages::Name))
                    .col(integer(DealStages::Position))
                    .col(integer(DealStages::WinProbability))
                    .to_owned(),
            )
            .await?;
        // Deals: a lead's opportunity; money as integer minor units + ISO 4217 code.
        manager
            .create_table(
                Table::create()
                    .table(Deals::Table)
                    .if_not_exists()
                    .col(uuid(Deals::Id).primary_key())
                    .col(uuid(Deals::OrgId))
                    .col(uuid(Deals::PipelineId))
                    .col(uuid(Deals::StageId))
                    .col(uuid_null(Deals::LeadId))
                    .col(text(Deals::Title))
                    .col(big_integer(Deals::AmountMinor))
                    .col(text(Deals::Currency))
                    .col(text(Deals::Status))
                    .col(text_null(Deals::LostReason))
                    .col(uuid_null(Deals::OwnerId))
                    .col(date_null(Deals::ExpectedCloseDate))
                    .col(timestamp_with_time_zone_null(Deals::ClosedAt))
                    .col(uuid_null(Deals::CreatedBy))
                    .col(timestamp_with_time_zone(Deals::CreatedAt))
                    .col(timestamp_with_time_zone(Deals::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, table, cols) in [
            (
                "idx_pipelines_org_id",
                Pipelines::Table.into_iden(),
                vec![Pipelines::OrgId.into_iden(), Pipelines::Id.into_iden()],
            ),
            (
                "idx_deal_stages_pipeline",
                DealStages::Table.into_iden(),
                vec![
                    DealStages::PipelineId.into_iden(),
                    DealStages::Position.into_iden(),
                ],
            ),
            (
                "idx_deals_org_id",
                Deals::Table.into_iden(),
                vec![Deals::OrgId.into_iden(), Deals::Id.into_iden()],
            ),
            (
                "idx_deals_org_created",
                Deals::Table.into_iden(),
                vec![Deals::OrgId.into_iden(), Deals::CreatedAt.into_iden()],
            ),
            (
                "idx_deals_org_closed",
                Deals::Table.into_iden(),
                vec![Deals::OrgId.into_iden(), Deals::ClosedAt.into_iden()],
            ),
            (
                "idx_deals_stage",
                Deals::Table.into_iden(),
                vec![Deals::StageId.into_iden()],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(table);
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Deals::Table.into_iden(),
            DealStages::Table.into_iden(),
            Pipelines::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .drop_column(Organizations::Timezone)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Timezone,
}

#[derive(DeriveIden)]
enum Pipelines {
    Table,
    Id,
    OrgId,
    Name,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DealStages {
    Table,
    Id,
    OrgId,
    PipelineId,
    Name,
    Position,
    WinProbability,
}

#[derive(DeriveIden)]
enum Deals {
    Table,
    Id,
    OrgId,
    PipelineId,
    StageId,
    LeadId,
    Title,
    AmountMinor,
    Currency,
    Status,
    LostReason,
    OwnerId,
    ExpectedCloseDate,
    ClosedAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}
