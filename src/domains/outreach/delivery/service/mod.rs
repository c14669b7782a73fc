//! The delivery rules: the `campaign.send` job ([`send_job`]), one recipient's claim, send and
//! record ([`recipient`]), message building ([`message`]) and the A/B steps of a run
//! ([`ab_run`]).

pub mod ab_run;
pub mod message;
pub mod recipient;
pub mod send_job;
