//! SeaORM models, one module per table. No GraphQL or HTTP types here.

pub mod job;
pub mod outbox_event;
