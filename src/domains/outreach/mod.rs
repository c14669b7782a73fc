//! Outreach: email templates (minijinja, sandboxed), campaigns with an approval gate at launch,
//! exactly-once SMTP delivery through the `campaign.send` job, tracking (open pixel, click
//! redirects, unsubscribe with RFC 8058 one-click), provider and inbound-email webhooks (bounces,
//! complaints, replies), the suppression list and statistics.

pub mod ab;
pub mod ab_run;
mod approval_subject;
pub mod campaign_resolver;
pub mod campaigns;
pub mod email_events;
pub mod gate;
mod lead_fields;
pub mod lifecycle;
pub mod message;
pub mod notify;
pub mod object;
pub mod recipients;
pub mod render;
pub mod send_job;
pub mod sending_domains;
pub mod settings_resolver;
pub mod smtp;
pub mod stats;
pub mod suppressions;
pub mod template_resolver;
pub mod templates;
pub mod tracking;
pub mod types;
pub mod webhooks;

use async_graphql::{MergedObject, MergedSubscription};

/// Registers outreach's start-up handlers: the CAMPAIGN approval subject and the notification
/// rules.
pub fn register() {
    approval_subject::register();
    notify::register();
}

/// Outreach queries.
#[derive(MergedObject, Default)]
pub struct OutreachQuery(
    template_resolver::TemplateQuery,
    campaign_resolver::CampaignQuery,
    settings_resolver::OutreachSettingsQuery,
);

/// Outreach mutations.
#[derive(MergedObject, Default)]
pub struct OutreachMutation(
    template_resolver::TemplateMutation,
    campaign_resolver::CampaignMutation,
    settings_resolver::OutreachSettingsMutation,
);

/// Outreach subscriptions.
#[derive(MergedSubscription, Default)]
pub struct OutreachSubscription(campaign_resolver::CampaignSubscription);

/// Contributes `Lead.campaigns` to the leads domain (`graphql::slot`); called before any
/// schema is built.
pub fn register_lead_fields() {
    lead_fields::register();
}
