//! What a lead's phone number is, as a phone look-up (enrichment's Numverify provider, or the
//! local `phonenumber` provider) found it: `leads.phone_type` (MOBILE, FIXED_LINE, VOIP, …),
//! `leads.phone_carrier` and `leads.phone_country` (ISO 3166-1 alpha-2). All nullable: absent
//! until a look-up fills them; their provenance is in `leads.provenance` like every enriched
//! field. One column per statement (SQLite alters one column at a time).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            string_len_null(Leads::PhoneType, 32),
            string_len_null(Leads::PhoneCarrier, 200),
            string_len_null(Leads::PhoneCountry, 2),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Leads::Table)
                        .add_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [Leads::PhoneCountry, Leads::PhoneCarrier, Leads::PhoneType] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Leads::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Leads {
    Table,
    PhoneType,
    PhoneCarrier,
    PhoneCountry,
}
