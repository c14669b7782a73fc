//! Outreach: email templates (minijinja, sandboxed), campaigns with an approval gate at launch,
//! exactly-once SMTP delivery through the `campaign.send` job, tracking (open pixel, click
//! redirects, unsubscribe with RFC 8058 one-click), provider and inbound-email webhooks (bounces,
//! complaints, replies), the suppression list and statistics.

pub mod campaign_resolver;
pub mod campaigns;
pub mod gate;
pub mod object;
pub mod recipients;
pub mod render;
pub mod send_job;
pub mod stats;
pub mod template_resolver;
pub mod templates;
pub mod tracking;
pub mod types;
pub mod webhooks;

use async_graphql::{MergedObject, MergedSubscription};

/// Outreach queries.
#[derive(MergedObject, Default)]
pub struct OutreachQuery(
    template_resolver::TemplateQuery,
    campaign_resolver::CampaignQuery,
);

/// Outreach mutations.
#[derive(MergedObject, Default)]
pub struct OutreachMutation(
    template_resolver::TemplateMutation,
    campaign_resolver::CampaignMutation,
);

/// Outreach subscriptions.
#[derive(MergedSubscription, Default)]
pub struct OutreachSubscription(campaign_resolver::CampaignSubscription);
