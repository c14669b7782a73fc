//! Insight's second slice: what ROI divides by, and the index the funnel and LTV read deals by.
//!
//! - `marketing_costs`: money spent on a campaign or a lead source (one row per organization,
//!   kind and subject; integer minor units + ISO 4217 code), so `roi` is computable. A
//!   campaign's row also carries its id as a uuid, so it joins `campaigns` on both backends.
//! - `idx_deals_lead`: the funnel asks "has this lead a (won) deal" per lead of the cohort and
//!   `ltv` joins deals to their leads; without it each lead scanned the organization's deals.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MarketingCosts::Table)
                    .if_not_exists()
                    .col(uuid(MarketingCosts::Id).primary_key())
                    .col(uuid(MarketingCosts::OrgId))
                    .col(text(MarketingCosts::Kind))
                    .col(text(MarketingCosts::Subject))
                    .col(uuid_null(MarketingCosts::CampaignId))
                    .col(big_integer(MarketingCosts::AmountMinor))
                    .col(text(MarketingCosts::Currency))
                    .col(uuid_null(MarketingCosts::UpdatedBy))
                    .col(timestamp_with_time_zone(MarketingCosts::CreatedAt))
                    .col(timestamp_with_time_zone(MarketingCosts::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_marketing_costs_subject")
                    .table(MarketingCosts::Table)
                    .col(MarketingCosts::OrgId)
                    .col(MarketingCosts::Kind)
                    .col(MarketingCosts::Subject)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deals_lead")
                    .table(Deals::Table)
                    .col(Deals::LeadId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_deals_lead")
                    .table(Deals::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(MarketingCosts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum MarketingCosts {
    Table,
    Id,
    OrgId,
    Kind,
    Subject,
    CampaignId,
    AmountMinor,
    Currency,
    UpdatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Deals {
    Table,
    LeadId,
}
