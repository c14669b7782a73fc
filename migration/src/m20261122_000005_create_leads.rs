use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Leads::Table)
                    .if_not_exists()
                    .col(pk_uuid(Leads::Id))
                    .col(uuid(Leads::OrgId))
                    .col(string_len_null(Leads::FirstName, 200))
                    .col(string_len_null(Leads::LastName, 200))
                    .col(string_len_null(Leads::Email, 320))
                    .col(string_len_null(Leads::Phone, 32))
                    // '' when unknown, so ordering by company is a plain keyset.
                    .col(string_len(Leads::Company, 300).default(""))
                    .col(string_len_null(Leads::Title, 200))
                    .col(string_len_null(Leads::Website, 500))
                    .col(string_len_null(Leads::Industry, 200))
                    .col(string_len_null(Leads::City, 200))
                    .col(string_len_null(Leads::Region, 200))
                    .col(string_len_null(Leads::Country, 2))
                    .col(double_null(Leads::Latitude))
                    .col(double_null(Leads::Longitude))
                    .col(string_len(Leads::Source, 32))
                    .col(string_len(Leads::Status, 16))
                    .col(integer(Leads::Score).default(0))
                    .col(json_binary(Leads::ScoreReasons))
                    .col(json_binary(Leads::CustomFields))
                    .col(json_binary(Leads::Provenance))
                    .col(uuid_null(Leads::OwnerId))
                    .col(timestamp_with_time_zone_null(Leads::LastContactedAt))
                    .col(timestamp_with_time_zone(Leads::CreatedAt))
                    .col(timestamp_with_time_zone(Leads::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // NULLs are distinct in unique indexes on both backends: leads without email/phone coexist.
        for (name, col) in [
            ("uq_leads_org_email", Leads::Email),
            ("uq_leads_org_phone", Leads::Phone),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Leads::Table)
                        .col(Leads::OrgId)
                        .col(col)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        for (name, col) in [
            ("idx_leads_org_created", Leads::CreatedAt),
            ("idx_leads_org_updated", Leads::UpdatedAt),
            ("idx_leads_org_score", Leads::Score),
            ("idx_leads_org_company", Leads::Company),
            ("idx_leads_org_status", Leads::Status),
            ("idx_leads_org_owner", Leads::OwnerId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Leads::Table)
                        .col(Leads::OrgId)
                        .col(col)
                        .col(Leads::Id)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(LeadTags::Table)
                    .if_not_exists()
                    .col(uuid(LeadTags::LeadId))
                    .col(uuid(LeadTags::OrgId))
                    .col(string_len(LeadTags::Tag, 64))
                    .primary_key(Index::create().col(LeadTags::LeadId).col(LeadTags::Tag))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LeadTags::Table, LeadTags::LeadId)
                            .to(Leads::Table, Leads::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_lead_tags_org_tag")
                    .table(LeadTags::Table)
                    .col(LeadTags::OrgId)
                    .col(LeadTags::Tag)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LeadNotes::Table)
                    .if_not_exists()
                    .col(pk_uuid(LeadNotes::Id))
                    .col(uuid(LeadNotes::LeadId))
                    .col(uuid(LeadNotes::OrgId))
                    .col(uuid_null(LeadNotes::AuthorId))
                    .col(text(LeadNotes::Body))
                    .col(timestamp_with_time_zone(LeadNotes::CreatedAt))
                    .col(timestamp_with_time_zone(LeadNotes::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LeadNotes::Table, LeadNotes::LeadId)
                            .to(Leads::Table, Leads::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_lead_notes_lead")
                    .table(LeadNotes::Table)
                    .col(LeadNotes::LeadId)
                    .col(LeadNotes::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LeadInteractions::Table)
                    .if_not_exists()
                    .col(pk_uuid(LeadInteractions::Id))
                    .col(uuid(LeadInteractions::LeadId))
                    .col(uuid(LeadInteractions::OrgId))
                    .col(string_len(LeadInteractions::Kind, 32))
                    .col(uuid_null(LeadInteractions::ActorId))
                    .col(json_binary(LeadInteractions::Data))
                    .col(timestamp_with_time_zone(LeadInteractions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LeadInteractions::Table, LeadInteractions::LeadId)
                            .to(Leads::Table, Leads::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_lead_interactions_lead")
                    .table(LeadInteractions::Table)
                    .col(LeadInteractions::LeadId)
                    .col(LeadInteractions::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            LeadInteractions::Table.into_iden(),
            LeadNotes::Table.into_iden(),
            LeadTags::Table.into_iden(),
            Leads::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Leads {
    Table,
    Id,
    OrgId,
    FirstName,
    LastName,
    Email,
    Phone,
    Company,
    Title,
    Website,
    Industry,
    City,
    Region,
    Country,
    Latitude,
    Longitude,
    Source,
    Status,
    Score,
    ScoreReasons,
    CustomFields,
    Provenance,
    OwnerId,
    LastContactedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LeadTags {
    Table,
    LeadId,
    OrgId,
    Tag,
}

#[derive(DeriveIden)]
enum LeadNotes {
    Table,
    Id,
    LeadId,
    OrgId,
    AuthorId,
    Body,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LeadInteractions {
    Table,
    Id,
    LeadId,
    OrgId,
    Kind,
    ActorId,
    Data,
    CreatedAt,
}
