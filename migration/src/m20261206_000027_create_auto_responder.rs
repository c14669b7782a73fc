use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Auto-responder rules of an organization: keywords, an action, a cooldown, an order.
        manager
            .create_table(
                Table::create()
                    .table(AutoResponderRules::Table)
                    .if_not_exists()
                    .col(uuid(AutoResponderRules::Id).primary_key())
                    .col(uuid(AutoResponderRules::OrgId))
                    .col(text(AutoResponderRules::Name))
                    .col(json_binary(AutoResponderRules::Keywords))
                    .col(text(AutoResponderRules::Action))
                    .col(uuid_null(AutoResponderRules::TemplateId))
                    .col(integer(AutoResponderRules::CooldownMinutes))
                    .col(boolean(AutoResponderRules::Enabled).default(true))
                    .col(integer(AutoResponderRules::Priority).default(0))
                    .col(uuid_null(AutoResponderRules::CreatedBy))
                    .col(timestamp_with_time_zone(AutoResponderRules::CreatedAt))
                    .col(timestamp_with_time_zone(AutoResponderRules::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_auto_responder_rules_org_id")
                    .table(AutoResponderRules::Table)
                    .col(AutoResponderRules::OrgId)
                    .col(AutoResponderRules::Id)
                    .to_owned(),
            )
            .await?;
        // What a rule did about one inbound message (at most one row per message): a queued
        // template reply, or an AI draft waiting for its approval.
        manager
            .create_table(
                Table::create()
                    .table(AutoReplies::Table)
                    .if_not_exists()
                    .col(uuid(AutoReplies::Id).primary_key())
                    .col(uuid(AutoReplies::OrgId))
                    .col(uuid_null(AutoReplies::RuleId))
                    .col(uuid(AutoReplies::ConversationId))
                    .col(uuid(AutoReplies::TriggerMessageId))
                    .col(text(AutoReplies::Action))
                    .col(text(AutoReplies::Status))
                    .col(text(AutoReplies::Subject))
                    .col(text(AutoReplies::BodyText))
                    .col(uuid_null(AutoReplies::ApprovalRequestId))
                    .col(uuid_null(AutoReplies::ReplyMessageId))
                    .col(text(AutoReplies::ReplyMid))
                    .col(timestamp_with_time_zone(AutoReplies::CreatedAt))
                    .col(timestamp_with_time_zone(AutoReplies::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_auto_replies_trigger")
                    .table(AutoReplies::Table)
                    .col(AutoReplies::TriggerMessageId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_auto_replies_org_conversation")
                    .table(AutoReplies::Table)
                    .col(AutoReplies::OrgId)
                    .col(AutoReplies::ConversationId)
                    .to_owned(),
            )
            .await?;
        // The cooldown claim: one row per conversation, moved forward by a conditional upsert
        // only when the previous automatic reply is older than the rule's cooldown.
        manager
            .create_table(
                Table::create()
                    .table(AutoReplyCooldowns::Table)
                    .if_not_exists()
                    .col(uuid(AutoReplyCooldowns::ConversationId).primary_key())
                    .col(uuid(AutoReplyCooldowns::OrgId))
                    .col(timestamp_with_time_zone(AutoReplyCooldowns::RepliedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AutoReplyCooldowns::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AutoReplies::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AutoResponderRules::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AutoResponderRules {
    Table,
    Id,
    OrgId,
    Name,
    Keywords,
    Action,
    TemplateId,
    CooldownMinutes,
    Enabled,
    Priority,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AutoReplies {
    Table,
    Id,
    OrgId,
    RuleId,
    ConversationId,
    TriggerMessageId,
    Action,
    Status,
    Subject,
    BodyText,
    ApprovalRequestId,
    ReplyMessageId,
    ReplyMid,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AutoReplyCooldowns {
    Table,
    ConversationId,
    OrgId,
    RepliedAt,
}
