use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A thread with one lead's address in an organization (the inbox).
        manager
            .create_table(
                Table::create()
                    .table(Conversations::Table)
                    .if_not_exists()
                    .col(uuid(Conversations::Id).primary_key())
                    .col(uuid(Conversations::OrgId))
                    .col(uuid_null(Conversations::LeadId))
                    .col(text(Conversations::Email))
                    .col(text(Conversations::Subject))
                    .col(text(Conversations::Status))
                    .col(text(Conversations::Channel))
                    .col(uuid_null(Conversations::AssigneeId))
                    .col(json_binary(Conversations::Labels))
                    .col(integer(Conversations::UnreadCount).default(0))
                    .col(text_null(Conversations::Mailbox))
                    .col(text_null(Conversations::MailboxName))
                    .col(timestamp_with_time_zone_null(Conversations::LastMessageAt))
                    .col(uuid_null(Conversations::CreatedBy))
                    .col(timestamp_with_time_zone(Conversations::CreatedAt))
                    .col(timestamp_with_time_zone(Conversations::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_conversations_org_id",
                vec![Conversations::OrgId, Conversations::Id],
            ),
            (
                "idx_conversations_org_lead",
                vec![Conversations::OrgId, Conversations::LeadId],
            ),
            (
                "idx_conversations_org_email",
                vec![Conversations::OrgId, Conversations::Email],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Conversations::Table);
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        // The messages of a conversation: inbound mail, replies sent from the inbox, the
        // campaign email a thread started from, and private notes (never sent).
        manager
            .create_table(
                Table::create()
                    .table(ConversationMessages::Table)
                    .if_not_exists()
                    .col(uuid(ConversationMessages::Id).primary_key())
                    .col(uuid(ConversationMessages::ConversationId))
                    .col(uuid(ConversationMessages::OrgId))
                    .col(text(ConversationMessages::Direction))
                    .col(text(ConversationMessages::AuthorKind))
                    .col(uuid_null(ConversationMessages::AuthorId))
                    .col(boolean(ConversationMessages::Private).default(false))
                    .col(text(ConversationMessages::Subject))
                    .col(text(ConversationMessages::BodyText))
                    .col(text_null(ConversationMessages::BodyHtml))
                    .col(json_binary(ConversationMessages::Attachments))
                    .col(text_null(ConversationMessages::MessageId))
                    .col(text_null(ConversationMessages::InReplyTo))
                    .col(text_null(ConversationMessages::ReferenceIds))
                    .col(uuid_null(ConversationMessages::CampaignId))
                    .col(text(ConversationMessages::Status))
                    .col(text_null(ConversationMessages::Error))
                    .col(json_binary(ConversationMessages::Reactions))
                    .col(json_binary(ConversationMessages::Edits))
                    .col(timestamp_with_time_zone_null(
                        ConversationMessages::EditedAt,
                    ))
                    .col(timestamp_with_time_zone_null(ConversationMessages::SentAt))
                    .col(timestamp_with_time_zone(ConversationMessages::CreatedAt))
                    .col(timestamp_with_time_zone(ConversationMessages::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_conversation_messages_conversation")
                    .table(ConversationMessages::Table)
                    .col(ConversationMessages::ConversationId)
                    .col(ConversationMessages::Id)
                    .to_owned(),
            )
            .await?;
        // One row per Message-ID and organization: an inbound message posted twice is stored
        // once, and threads are found by the ids in In-Reply-To/References.
        manager
            .create_index(
                Index::create()
                    .name("idx_conversation_messages_org_message_id")
                    .table(ConversationMessages::Table)
                    .col(ConversationMessages::OrgId)
                    .col(ConversationMessages::MessageId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_conversation_messages_message_id")
                    .table(ConversationMessages::Table)
                    .col(ConversationMessages::MessageId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ConversationMessages::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Conversations::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Conversations {
    Table,
    Id,
    OrgId,
    LeadId,
    Email,
    Subject,
    Status,
    Channel,
    AssigneeId,
    Labels,
    UnreadCount,
    Mailbox,
    MailboxName,
    LastMessageAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ConversationMessages {
    Table,
    Id,
    ConversationId,
    OrgId,
    Direction,
    AuthorKind,
    AuthorId,
    Private,
    Subject,
    BodyText,
    BodyHtml,
    Attachments,
    MessageId,
    InReplyTo,
    ReferenceIds,
    CampaignId,
    Status,
    Error,
    Reactions,
    Edits,
    EditedAt,
    SentAt,
    CreatedAt,
    UpdatedAt,
}
