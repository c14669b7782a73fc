//! The only place domains meet: one line per domain in each root.

use async_graphql::{MergedObject, MergedSubscription};

use crate::domains::{
    ai, approvals, audit, conversations, enrichment, identity, insight, jobs, leads, notifications,
    outreach, places, realtime, scraping, sequences, webhooks,
};

// The schema names the roots `Query`, `Mutation` and `Subscription`: the GraphQL spec's
// defaults, which clients and codegen expect. (`///` text would become the SDL description.)
/// Root query.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    ai::AiQuery,
    approvals::ApprovalQuery,
    audit::AuditQuery,
    conversations::ConversationQuery,
    enrichment::EnrichmentQuery,
    identity::IdentityQuery,
    insight::InsightQuery,
    jobs::JobQuery,
    leads::LeadQuery,
    notifications::NotificationQuery,
    outreach::OutreachQuery,
    places::PlacesQuery,
    scraping::ScrapingQuery,
    sequences::SequenceQuery,
    webhooks::WebhookQuery,
);

/// Root mutation.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    ai::AiMutation,
    approvals::ApprovalMutation,
    conversations::ConversationMutation,
    enrichment::EnrichmentMutation,
    identity::IdentityMutation,
    insight::InsightMutation,
    jobs::JobMutation,
    leads::LeadMutation,
    notifications::NotificationMutation,
    outreach::OutreachMutation,
    places::PlacesMutation,
    scraping::ScrapingMutation,
    sequences::SequenceMutation,
    webhooks::WebhookMutation,
);

/// Root subscription.
#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(
    realtime::RealtimeSubscription,
    notifications::NotificationSubscription,
    outreach::OutreachSubscription,
    scraping::ScrapingSubscription,
    approvals::ApprovalSubscription,
    conversations::ConversationSubscription,
    insight::InsightSubscription,
);

/// Registers the fields higher domains contribute to lower domains' objects
/// (`graphql::slot`); every schema builder calls it first (idempotent).
pub fn register_slots() {
    outreach::register_lead_fields();
    ai::register_lead_fields();
}
