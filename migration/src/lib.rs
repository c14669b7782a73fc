//! Database migrations. Files are named `mYYYYMMDD_HHMMSS_<verb>_<object>.rs` and are never
//! edited once landed: a change to the schema is a new migration.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_outbox_events;
mod m20261122_000002_create_jobs;
mod m20261122_000003_create_identity;
mod m20261122_000004_create_teams_invitations_audit;
mod m20261122_000005_create_leads;
mod m20261122_000006_add_lead_search;
mod m20261122_000007_add_outbox_position;
mod m20261122_000008_create_notifications;
mod m20261122_000009_create_scraping;
mod m20261122_000010_create_outreach;
mod m20261122_000011_create_approvals;
mod m20261122_000012_create_ai;
mod m20261122_000013_run_search_goals;
mod m20261122_000014_extend_outreach;
mod m20261122_000015_create_scraping_settings;
mod m20261202_000016_scrape_pages_hot_updates;
mod m20261205_000017_create_sending_domains;
mod m20261205_000018_widen_webhook_url;
mod m20261205_000019_create_webhook_receipts;
mod m20261206_000020_create_conversations;
mod m20261206_000021_create_webhook_endpoints;
mod m20261206_000022_create_deals;
mod m20261206_000023_create_validation_cache;
mod m20261206_000024_create_locations;
mod m20261206_000025_index_nested_first_pages;
mod m20261206_000026_create_files;
mod m20261206_000027_create_auto_responder;
mod m20261206_000028_insight_funnel;
mod m20261206_000029_create_schedules_and_incoming_hooks;
mod m20261206_000030_create_enrichment_runs;
mod m20261206_000031_files_dedupe_and_refs;
mod m20261206_000032_create_sequences;
mod m20261206_000033_create_analytics_events;
mod m20261206_000034_create_workflows;
mod m20261206_000035_enrichment_gate_and_duplicates;
mod m20261206_000036_scrape_job_leads_lead_order;
mod m20261206_000037_add_validate_on_write;
mod m20261206_000038_create_storage_usage;
mod m20261206_000039_create_geocode_cache;
mod m20261206_000040_add_sequence_send_clicks;
mod m20261206_000041_add_workflow_execution_completion;
mod m20261206_000043_unique_search_goal_result_rank;
mod m20261206_000046_add_hook_kind_and_integration_test;
mod m20261206_000047_create_reports;
mod m20261206_000048_add_avatar_logo;
mod m20261206_000049_add_place_geocoding;
mod m20261206_000050_add_lead_phone_details;
mod m20261206_000051_fix_lead_earth_index;
mod m20261207_000052_soft_delete_reports;
mod m20261207_000053_schedule_run_error;

/// Runs the migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_outbox_events::Migration),
            Box::new(m20261122_000002_create_jobs::Migration),
            Box::new(m20261122_000003_create_identity::Migration),
            Box::new(m20261122_000004_create_teams_invitations_audit::Migration),
            Box::new(m20261122_000005_create_leads::Migration),
            Box::new(m20261122_000006_add_lead_search::Migration),
            Box::new(m20261122_000007_add_outbox_position::Migration),
            Box::new(m20261122_000008_create_notifications::Migration),
            Box::new(m20261122_000009_create_scraping::Migration),
            Box::new(m20261122_000010_create_outreach::Migration),
            Box::new(m20261122_000011_create_approvals::Migration),
            Box::new(m20261122_000012_create_ai::Migration),
            Box::new(m20261122_000013_run_search_goals::Migration),
            Box::new(m20261122_000014_extend_outreach::Migration),
            Box::new(m20261122_000015_create_scraping_settings::Migration),
            Box::new(m20261202_000016_scrape_pages_hot_updates::Migration),
            Box::new(m20261205_000017_create_sending_domains::Migration),
            Box::new(m20261205_000018_widen_webhook_url::Migration),
            Box::new(m20261205_000019_create_webhook_receipts::Migration),
            Box::new(m20261206_000020_create_conversations::Migration),
            Box::new(m20261206_000021_create_webhook_endpoints::Migration),
            Box::new(m20261206_000022_create_deals::Migration),
            Box::new(m20261206_000023_create_validation_cache::Migration),
            Box::new(m20261206_000024_create_locations::Migration),
            Box::new(m20261206_000025_index_nested_first_pages::Migration),
            Box::new(m20261206_000026_create_files::Migration),
            Box::new(m20261206_000027_create_auto_responder::Migration),
            Box::new(m20261206_000028_insight_funnel::Migration),
            Box::new(m20261206_000029_create_schedules_and_incoming_hooks::Migration),
            Box::new(m20261206_000030_create_enrichment_runs::Migration),
            Box::new(m20261206_000031_files_dedupe_and_refs::Migration),
            Box::new(m20261206_000032_create_sequences::Migration),
            Box::new(m20261206_000033_create_analytics_events::Migration),
            Box::new(m20261206_000034_create_workflows::Migration),
            Box::new(m20261206_000035_enrichment_gate_and_duplicates::Migration),
            Box::new(m20261206_000036_scrape_job_leads_lead_order::Migration),
            Box::new(m20261206_000037_add_validate_on_write::Migration),
            Box::new(m20261206_000038_create_storage_usage::Migration),
            Box::new(m20261206_000039_create_geocode_cache::Migration),
            Box::new(m20261206_000040_add_sequence_send_clicks::Migration),
            Box::new(m20261206_000041_add_workflow_execution_completion::Migration),
            Box::new(m20261206_000043_unique_search_goal_result_rank::Migration),
            Box::new(m20261206_000046_add_hook_kind_and_integration_test::Migration),
            Box::new(m20261206_000047_create_reports::Migration),
            Box::new(m20261206_000048_add_avatar_logo::Migration),
            Box::new(m20261206_000049_add_place_geocoding::Migration),
            Box::new(m20261206_000050_add_lead_phone_details::Migration),
            Box::new(m20261206_000051_fix_lead_earth_index::Migration),
            Box::new(m20261207_000052_soft_delete_reports::Migration),
            Box::new(m20261207_000053_schedule_run_error::Migration),
        ]
    }
}
