//! Sequences (multi-step follow-ups): `sequences` (ordered steps as JSON), `sequence_enrollments`
//! (one lead in one sequence: next step, when it is due, why it stopped) and `sequence_sends` (the
//! claim of one step for one enrollment, unique per (enrollment, step): exactly once per step).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A sequence: its ordered steps (JSON: template, wait in days, only if not opened).
        manager
            .create_table(
                Table::create()
                    .table(Sequences::Table)
                    .if_not_exists()
                    .col(uuid(Sequences::Id).primary_key())
                    .col(uuid(Sequences::OrgId))
                    .col(text(Sequences::Name))
                    .col(text(Sequences::Status))
                    .col(json_binary(Sequences::Steps))
                    .col(uuid_null(Sequences::CreatedBy))
                    .col(timestamp_with_time_zone(Sequences::CreatedAt))
                    .col(timestamp_with_time_zone(Sequences::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sequences_org_id")
                    .table(Sequences::Table)
                    .col(Sequences::OrgId)
                    .col(Sequences::Id)
                    .to_owned(),
            )
            .await?;
        // One lead in one sequence: the next step to send and when it is due.
        manager
            .create_table(
                Table::create()
                    .table(SequenceEnrollments::Table)
                    .if_not_exists()
                    .col(uuid(SequenceEnrollments::Id).primary_key())
                    .col(uuid(SequenceEnrollments::OrgId))
                    .col(uuid(SequenceEnrollments::SequenceId))
                    .col(uuid(SequenceEnrollments::LeadId))
                    .col(text(SequenceEnrollments::Status))
                    .col(integer(SequenceEnrollments::CurrentStep))
                    .col(timestamp_with_time_zone_null(
                        SequenceEnrollments::NextStepAt,
                    ))
                    .col(text_null(SequenceEnrollments::StopReason))
                    .col(timestamp_with_time_zone_null(
                        SequenceEnrollments::StoppedAt,
                    ))
                    .col(timestamp_with_time_zone(SequenceEnrollments::CreatedAt))
                    .col(timestamp_with_time_zone(SequenceEnrollments::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sequence_enrollments_sequence_lead")
                    .table(SequenceEnrollments::Table)
                    .col(SequenceEnrollments::SequenceId)
                    .col(SequenceEnrollments::LeadId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sequence_enrollments_due")
                    .table(SequenceEnrollments::Table)
                    .col(SequenceEnrollments::Status)
                    .col(SequenceEnrollments::NextStepAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sequence_enrollments_org_lead")
                    .table(SequenceEnrollments::Table)
                    .col(SequenceEnrollments::OrgId)
                    .col(SequenceEnrollments::LeadId)
                    .to_owned(),
            )
            .await?;
        // One step's send to one enrollment: the claim (unique per enrollment and step),
        // committed before the SMTP transaction.
        manager
            .create_table(
                Table::create()
                    .table(SequenceSends::Table)
                    .if_not_exists()
                    .col(uuid(SequenceSends::Id).primary_key())
                    .col(uuid(SequenceSends::OrgId))
                    .col(uuid(SequenceSends::SequenceId))
                    .col(uuid(SequenceSends::EnrollmentId))
                    .col(integer(SequenceSends::Step))
                    .col(text(SequenceSends::Status))
                    .col(text(SequenceSends::MessageId))
                    .col(text_null(SequenceSends::Error))
                    .col(timestamp_with_time_zone_null(SequenceSends::SentAt))
                    .col(timestamp_with_time_zone_null(SequenceSends::OpenedAt))
                    .col(timestamp_with_time_zone(SequenceSends::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sequence_sends_enrollment_step")
                    .table(SequenceSends::Table)
                    .col(SequenceSends::EnrollmentId)
                    .col(SequenceSends::Step)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sequence_sends_sequence_step")
                    .table(SequenceSends::Table)
                    .col(SequenceSends::SequenceId)
                    .col(SequenceSends::Step)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SequenceSends::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(SequenceEnrollments::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Sequences::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Sequences {
    Table,
    Id,
    OrgId,
    Name,
    Status,
    Steps,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SequenceEnrollments {
    Table,
    Id,
    OrgId,
    SequenceId,
    LeadId,
    Status,
    CurrentStep,
    NextStepAt,
    StopReason,
    StoppedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SequenceSends {
    Table,
    Id,
    OrgId,
    SequenceId,
    EnrollmentId,
    Step,
    Status,
    MessageId,
    Error,
    SentAt,
    OpenedAt,
    CreatedAt,
}
