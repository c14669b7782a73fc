//! Outgoing webhooks' rules: endpoints and their secrets, the fan-out from the outbox, the
//! delivery job, and what the API shows of deliveries; schedules (cron, the ticker) and
//! incoming lead hooks.

pub mod cron;
pub mod deliver;
pub mod deliveries;
pub mod endpoints;
pub mod fanout;
pub mod incoming;
pub mod schedule_report;
pub mod schedules;
pub mod signing;
