//! The delivery rules: the `campaign.send` job ([`send_job`]), one recipient's claim, send and
//! record ([`recipient`]), message building ([`message`]), the A/B steps of a run
//! ([`ab_run`]) and one message outside a campaign ([`single`], for sequences).

pub mod ab_run;
pub mod message;
pub mod recipient;
pub mod send_job;
pub mod single;
