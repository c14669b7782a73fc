//! The outreach root objects, merged from the sub-domains' roots (one line each in
//! `graphql/roots.rs` stays `outreach::OutreachQuery` etc.).

use async_graphql::{MergedObject, MergedSubscription};

use super::{campaigns, settings, templates};

/// Outreach queries.
#[derive(MergedObject, Default)]
pub struct OutreachQuery(
    templates::TemplateQuery,
    campaigns::CampaignQuery,
    settings::OutreachSettingsQuery,
);

/// Outreach mutations.
#[derive(MergedObject, Default)]
pub struct OutreachMutation(
    templates::TemplateMutation,
    campaigns::CampaignMutation,
    settings::OutreachSettingsMutation,
);

/// Outreach subscriptions.
#[derive(MergedSubscription, Default)]
pub struct OutreachSubscription(campaigns::CampaignSubscription);
