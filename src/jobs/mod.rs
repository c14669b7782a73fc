//! The durable job queue: long work (scrapes, sends, webhooks) runs here, never in a request.
//!
//! A job is leased by one worker at a time (`lease_until_ms`); the worker heart-beats while it
//! runs. If the worker dies the lease expires and another worker takes the job again, so work is
//! never lost. Every state change is fenced on `locked_by` + `attempts`, so a worker whose lease
//! was taken over cannot complete the job twice. Handlers must make their effects idempotent
//! (e.g. one row per recipient keyed by a unique message id).
//!
//! A lease names its holder as `<instance id>/<incarnation>` ([`instance`]): a restarted instance
//! takes back the leases its crashed predecessor held at once ([`Worker::reclaim_previous`],
//! called at start-up), without waiting for them to expire; other instances' leases are left
//! alone. On shutdown the runners stop their handlers and release their leases
//! ([`Worker::release_all`]), so another instance can take the jobs straight away.

pub mod instance;
pub mod queue;
pub mod worker;

pub use instance::Identity;
pub use queue::{JobState, NewJob};
pub use worker::{JobContext, JobError, JobHandler, JobRegistry, Worker};
