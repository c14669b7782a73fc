//! Approvals: rules that decide when a risky action needs a human decision, the requests they
//! create (or people create by hand), and the history of every action on a request.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApprovalRules::Table)
                    .if_not_exists()
                    .col(pk_uuid(ApprovalRules::Id))
                    .col(uuid(ApprovalRules::OrgId))
                    .col(string_len(ApprovalRules::Name, 200))
                    .col(string_len(ApprovalRules::ResourceType, 32))
                    // `{all: [...]}` / `{any: [...]}` / `{field, operator, value}`, validated on save.
                    .col(json_binary(ApprovalRules::Condition))
                    // Either a minimum role (anyone at or above it may approve) ...
                    .col(string_len_null(ApprovalRules::ApproverRole, 16))
                    // ... or named members (`[uuid, ...]`).
                    .col(json_binary(ApprovalRules::ApproverIds))
                    .col(integer(ApprovalRules::RequiredApprovals).default(1))
                    .col(integer_null(ApprovalRules::SlaHours))
                    .col(boolean(ApprovalRules::Enabled).default(true))
                    .col(uuid_null(ApprovalRules::CreatedBy))
                    .col(timestamp_with_time_zone(ApprovalRules::CreatedAt))
                    .col(timestamp_with_time_zone(ApprovalRules::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApprovalRules::Table, ApprovalRules::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The gate: enabled rules of one organization for one resource type.
        manager
            .create_index(
                Index::create()
                    .name("idx_approval_rules_org_type")
                    .table(ApprovalRules::Table)
                    .col(ApprovalRules::OrgId)
                    .col(ApprovalRules::ResourceType)
                    .col(ApprovalRules::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApprovalRequests::Table)
                    .if_not_exists()
                    .col(pk_uuid(ApprovalRequests::Id))
                    .col(uuid(ApprovalRequests::OrgId))
                    .col(uuid_null(ApprovalRequests::RuleId))
                    .col(string_len(ApprovalRequests::ResourceType, 32))
                    .col(string_len(ApprovalRequests::ResourceId, 64))
                    .col(string_len(ApprovalRequests::Title, 200))
                    .col(text_null(ApprovalRequests::Description))
                    .col(uuid_null(ApprovalRequests::RequestedBy))
                    // Named assignees (`[uuid, ...]`) ...
                    .col(json_binary(ApprovalRequests::AssigneeIds))
                    // ... and/or everybody at or above this role.
                    .col(string_len_null(ApprovalRequests::AssigneeRole, 16))
                    .col(integer(ApprovalRequests::RequiredApprovals).default(1))
                    .col(integer(ApprovalRequests::ApprovalCount).default(0))
                    .col(string_len(ApprovalRequests::Status, 24))
                    .col(string_len(ApprovalRequests::Priority, 16))
                    .col(timestamp_with_time_zone_null(ApprovalRequests::DueAt))
                    .col(boolean(ApprovalRequests::Urgent).default(false))
                    .col(timestamp_with_time_zone_null(ApprovalRequests::EscalatedAt))
                    .col(timestamp_with_time_zone_null(ApprovalRequests::ResolvedAt))
                    .col(text_null(ApprovalRequests::ResolutionComment))
                    // Created by a domain's gate: approval resumes the gated action.
                    .col(boolean(ApprovalRequests::Gated).default(false))
                    // The facts the rule saw (and anything else worth keeping) at creation.
                    .col(json_binary(ApprovalRequests::Payload))
                    .col(timestamp_with_time_zone(ApprovalRequests::CreatedAt))
                    .col(timestamp_with_time_zone(ApprovalRequests::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApprovalRequests::Table, ApprovalRequests::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApprovalRequests::Table, ApprovalRequests::RuleId)
                            .to(ApprovalRules::Table, ApprovalRules::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            // Lists, newest first (UUID v7 ids).
            (
                "idx_approval_requests_org_id",
                vec![ApprovalRequests::OrgId, ApprovalRequests::Id],
            ),
            (
                "idx_approval_requests_org_status",
                vec![
                    ApprovalRequests::OrgId,
                    ApprovalRequests::Status,
                    ApprovalRequests::Id,
                ],
            ),
            // The SLA sweep: pending requests by due time / age.
            (
                "idx_approval_requests_status_due",
                vec![ApprovalRequests::Status, ApprovalRequests::DueAt],
            ),
            (
                "idx_approval_requests_status_created",
                vec![ApprovalRequests::Status, ApprovalRequests::CreatedAt],
            ),
            (
                "idx_approval_requests_resource",
                vec![
                    ApprovalRequests::OrgId,
                    ApprovalRequests::ResourceType,
                    ApprovalRequests::ResourceId,
                ],
            ),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(ApprovalRequests::Table);
            for c in cols {
                idx.col(c);
            }
            manager.create_index(idx.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ApprovalActions::Table)
                    .if_not_exists()
                    .col(pk_uuid(ApprovalActions::Id))
                    .col(uuid(ApprovalActions::RequestId))
                    .col(uuid(ApprovalActions::OrgId))
                    // NULL for the system (ESCALATE, EXPIRE).
                    .col(uuid_null(ApprovalActions::ActorId))
                    .col(string_len(ApprovalActions::Action, 24))
                    .col(text_null(ApprovalActions::Comment))
                    .col(uuid_null(ApprovalActions::ToUserId))
                    .col(timestamp_with_time_zone(ApprovalActions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApprovalActions::Table, ApprovalActions::RequestId)
                            .to(ApprovalRequests::Table, ApprovalRequests::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_approval_actions_request",
                vec![ApprovalActions::RequestId, ApprovalActions::Id],
            ),
            (
                "idx_approval_actions_org_id",
                vec![ApprovalActions::OrgId, ApprovalActions::Id],
            ),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(ApprovalActions::Table);
            for c in cols {
                idx.col(c);
            }
            manager.create_index(idx.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            ApprovalActions::Table.into_iden(),
            ApprovalRequests::Table.into_iden(),
            ApprovalRules::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
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
enum ApprovalRules {
    Table,
    Id,
    OrgId,
    Name,
    ResourceType,
    Condition,
    ApproverRole,
    ApproverIds,
    RequiredApprovals,
    SlaHours,
    Enabled,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApprovalRequests {
    Table,
    Id,
    OrgId,
    RuleId,
    ResourceType,
    ResourceId,
    Title,
    Description,
    RequestedBy,
    AssigneeIds,
    AssigneeRole,
    RequiredApprovals,
    ApprovalCount,
    Status,
    Priority,
    DueAt,
    Urgent,
    EscalatedAt,
    ResolvedAt,
    ResolutionComment,
    Gated,
    Payload,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApprovalActions {
    Table,
    Id,
    RequestId,
    OrgId,
    ActorId,
    Action,
    Comment,
    ToUserId,
    CreatedAt,
}
