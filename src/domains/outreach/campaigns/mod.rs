//! Campaigns: CRUD (edits only in DRAFT/SCHEDULED/PAUSED), duplicate (settings only),
//! recipients, the lifecycle with its approval gate, A/B winner selection, statistics and the
//! live `campaignEvents`.
//!
//! - Recipients ([`recipients`]): `addCampaignRecipients(campaignId, {leadIds | filter |
//!   audienceId})` skips and counts suppressed addresses, leads without email and leads already
//!   present (`ON CONFLICT DO NOTHING` absorbs races); `removeCampaignRecipient` only before the
//!   email is sent. `Lead.campaigns` loads a page of leads' rows with their campaigns in one
//!   statement ([`LeadCampaign::for_leads`]).
//! - Lifecycle ([`lifecycle`]): DRAFT → RUNNING, SCHEDULED (the `campaign.send` job is enqueued
//!   with `run_at = scheduleAt`: the queue is the scheduler) or PENDING_APPROVAL; RUNNING/
//!   SCHEDULED → PAUSED → RUNNING (a new job; the older one sees another `job_id` and stops);
//!   → STOPPED; the job ends RUNNING in COMPLETED, or FAILED after its last attempt
//!   (resumable). Every change records `campaign.status` with counters in its transaction.
//! - The approval gate ([`gate`]): a launch or schedule from DRAFT asks
//!   `approvals::gate::approval_gate` with the launch facts and a snapshot; every later start or
//!   change passes only when an approval covers the current snapshot. The approval's decision
//!   calls [`launch_approved`] or [`return_to_draft`] (the reviewer's comment in `lastError`).
//! - A/B ([`ab`]): `abTest {testFraction 0.05–0.5, metric, waitMinutes 0–10080}` (2+ variants,
//!   fixed once started). The first launch picks ⌈n × testFraction⌉ PENDING recipients (≥ 1 per
//!   variant, split by weight); the send job sends them, then hands over to a run at
//!   `testSentAt + waitMinutes` that decides the winner (strictly better rate wins, a tie goes
//!   to the first variant), records `abWinner` with a `campaign.status` event, and sends the
//!   rest with the winner.
//! - Statistics ([`stats`]): counters for a page of campaigns in one grouped statement,
//!   `campaignStats` (also per variant), `campaignTimeline(HOUR|DAY)` bucketed in SQL;
//!   `templateUsage`/`templatePerformance` ([`by_template`]).
//! - Live: `campaign.status` (at most once a second while sending) and `campaign.activity` are
//!   visible to ReadOutreach; `campaignEvents(campaignId)` filters `realtime::live`.
//!
//! Sub-domain order: above `tracking` (a campaign lists its email events); imports `types`,
//! `templates`, `settings` and `tracking` through their `mod.rs` API.

mod resolver;
pub mod service;
pub mod types;

pub use resolver::{CampaignMutation, CampaignQuery, CampaignSubscription};
pub use service::{
    ab::{
        decide as decide_ab_test, decision_due, test_of as ab_test_of, variants_of, winner_of,
        with_test_sent_at,
    },
    announce_status, get, launch_approved,
    recipients::{campaigns_of_leads, suppressed},
    record_status, record_status_with, return_to_draft, scoped,
    send_run::{enqueue as enqueue_send, Payload as SendPayload, KIND as SEND_KIND},
    stats::compute as compute_stats,
    status_of, Approved,
};
pub use types::{can_read, Campaign, CampaignStatus, LeadCampaign, RecipientStatus};
