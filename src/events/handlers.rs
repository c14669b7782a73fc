//! The transactional event-handler registry: how an event reaches other domains inside the
//! transaction that records it, without `events/` naming any domain.
//!
//! A domain implements [`EventHandler`] and registers it once at start-up ([`register`], from its
//! `mod.rs` `register()`, called by `startup.rs`). [`super::outbox::record`] and
//! [`super::outbox::record_many`] run every registered handler that [`EventHandler::wants`] the
//! event, right after storing it and with the same connection, so whatever the handlers write
//! (notifications, their `notification.new` events, mail and webhook jobs) commits or rolls back
//! with the change that caused the event. A handler error aborts the caller's transaction.
//!
//! The registry is process-wide (services record events with only a connection at hand) and
//! registration is idempotent by name: tests build many applications in one process, and each
//! build registers the same handlers again.
//!
//! Handlers get a [`HandlerConn`]: a `ConnectionTrait` over whatever connection the writer used
//! (SeaORM's trait has generic methods, so it cannot be a trait object itself).

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};

use super::EventEnvelope;
use crate::error::AppResult;

/// Reacts to an event inside the transaction that recorded it.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    /// Whether [`EventHandler::handle`] has anything to do for `event`: a cheap match, so events
    /// nobody reacts to (most of them, e.g. the thousands of `lead.created` of an import) cost
    /// no query and no allocation.
    fn wants(&self, event: &EventEnvelope) -> bool;

    /// Handles `event` using `conn`, the writer's transaction.
    async fn handle(&self, conn: &HandlerConn<'_>, event: &EventEnvelope) -> AppResult<()>;

    /// Handles a batch writer's `events` (each one [`EventHandler::wants`], in recording order)
    /// using `conn`. The default handles them one by one; a handler that reads per event (the
    /// webhook fan-out reads the organization's endpoints) overrides it to read once per batch,
    /// so a crawl's group commit of hundreds of leads costs no statement per lead here.
    async fn handle_many(
        &self,
        conn: &HandlerConn<'_>,
        events: &[&EventEnvelope],
    ) -> AppResult<()> {
        for event in events {
            self.handle(conn, event).await?;
        }
        Ok(())
    }
}

type Registered<H = dyn EventHandler> = (&'static str, Arc<H>);

static HANDLERS: RwLock<Vec<Registered>> = RwLock::new(Vec::new());

/// Registers `handler` under `name`; a second registration under the same name is ignored.
/// Handlers run in registration order.
pub fn register(name: &'static str, handler: impl EventHandler) {
    let mut handlers = HANDLERS.write().unwrap_or_else(|e| e.into_inner());
    if handlers.iter().all(|(n, _)| *n != name) {
        handlers.push((name, Arc::new(handler)));
    }
}

/// The names of the registered handlers, in order.
pub fn registered() -> Vec<&'static str> {
    let handlers = HANDLERS.read().unwrap_or_else(|e| e.into_inner());
    handlers.iter().map(|(n, _)| *n).collect()
}

/// The registered handlers that want `event`, in order (no allocation when none does).
pub(super) fn wanted(event: &EventEnvelope) -> Vec<Arc<dyn EventHandler>> {
    let handlers = HANDLERS.read().unwrap_or_else(|e| e.into_inner());
    handlers
        .iter()
        .filter(|(_, h)| h.wants(event))
        .map(|(_, h)| h.clone())
        .collect()
}

/// Runs `handlers` (from [`wanted`]) on `event`, in `conn`.
pub(super) async fn run(
    conn: &impl ConnectionTrait,
    handlers: Vec<Arc<dyn EventHandler>>,
    event: &EventEnvelope,
) -> AppResult<()> {
    let conn = HandlerConn(conn);
    for handler in handlers {
        handler.handle(&conn, event).await?;
    }
    Ok(())
}

/// Runs every registered handler on the events of `events` it wants, one
/// [`EventHandler::handle_many`] per handler, in registration order (handler by handler, not
/// event by event: a handler sees the whole batch at once).
pub(super) async fn run_many(
    conn: &impl ConnectionTrait,
    events: &[EventEnvelope],
) -> AppResult<()> {
    let handlers: Vec<Arc<dyn EventHandler>> = {
        let handlers = HANDLERS.read().unwrap_or_else(|e| e.into_inner());
        handlers.iter().map(|(_, h)| h.clone()).collect()
    };
    let conn = HandlerConn(conn);
    for handler in handlers {
        let wanted: Vec<&EventEnvelope> = events.iter().filter(|e| handler.wants(e)).collect();
        if !wanted.is_empty() {
            handler.handle_many(&conn, &wanted).await?;
        }
    }
    Ok(())
}

/// Reacts to events after the transaction that recorded them committed: the outbox relay hands
/// it each batch it published ([`super::relay::publish_pending`]), after the relay's own commit,
/// with the database (not in any transaction). An event whose writer rolled back never reaches
/// it, unlike an [`EventHandler`]'s, which runs in the writer's transaction before its outcome is
/// known. Delivery is **at most once**, in publication order within one relay round: the events
/// are marked published before the handlers run, so a crash in between, or a handler error
/// (logged, never holding back publication), loses that reaction. Use it only for reactions a
/// later event makes good (places' sweep: the organization's next `lead.created` queues
/// another); anything that must happen belongs in an [`EventHandler`] or a job.
#[async_trait]
pub trait PublishedHandler: Send + Sync + 'static {
    /// Whether [`PublishedHandler::handle`] has anything to do for `event` (a cheap match).
    fn wants(&self, event: &EventEnvelope) -> bool;

    /// Handles the published `events` it wants, in publication order.
    async fn handle(&self, db: &DatabaseConnection, events: &[&EventEnvelope]) -> AppResult<()>;
}

static PUBLISHED: RwLock<Vec<Registered<dyn PublishedHandler>>> = RwLock::new(Vec::new());

/// Registers an after-commit `handler` under `name` (idempotent by name, like [`register`]).
pub fn register_published(name: &'static str, handler: impl PublishedHandler) {
    let mut handlers = PUBLISHED.write().unwrap_or_else(|e| e.into_inner());
    if handlers.iter().all(|(n, _)| *n != name) {
        handlers.push((name, Arc::new(handler)));
    }
}

/// Runs every registered [`PublishedHandler`] on the events of `events` it wants; errors are
/// logged.
pub(super) async fn run_published(db: &DatabaseConnection, events: &[EventEnvelope]) {
    let handlers: Vec<Registered<dyn PublishedHandler>> = {
        let handlers = PUBLISHED.read().unwrap_or_else(|e| e.into_inner());
        handlers.iter().map(|(n, h)| (*n, h.clone())).collect()
    };
    for (name, handler) in handlers {
        let wanted: Vec<&EventEnvelope> = events.iter().filter(|e| handler.wants(e)).collect();
        if wanted.is_empty() {
            continue;
        }
        if let Err(e) = handler.handle(db, &wanted).await {
            tracing::warn!(handler = name, error = ?e, "after-commit event handler failed");
        }
    }
}

/// The object-safe part of [`ConnectionTrait`], implemented for every connection.
#[async_trait]
trait RawConnection: Sync {
    fn backend(&self) -> DbBackend;
    async fn exec_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr>;
    async fn exec_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr>;
    async fn one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr>;
    async fn all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr>;
    fn returning(&self) -> bool;
    fn mock(&self) -> bool;
}

#[async_trait]
impl<C: ConnectionTrait> RawConnection for C {
    fn backend(&self) -> DbBackend {
        ConnectionTrait::get_database_backend(self)
    }
    async fn exec_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        ConnectionTrait::execute_raw(self, stmt).await
    }
    async fn exec_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        ConnectionTrait::execute_unprepared(self, sql).await
    }
    async fn one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        ConnectionTrait::query_one_raw(self, stmt).await
    }
    async fn all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        ConnectionTrait::query_all_raw(self, stmt).await
    }
    fn returning(&self) -> bool {
        ConnectionTrait::support_returning(self)
    }
    fn mock(&self) -> bool {
        ConnectionTrait::is_mock_connection(self)
    }
}

/// The connection a handler runs in (the writer's transaction), usable wherever an
/// `impl ConnectionTrait` is.
pub struct HandlerConn<'a>(&'a dyn RawConnection);

#[async_trait]
impl ConnectionTrait for HandlerConn<'_> {
    fn get_database_backend(&self) -> DbBackend {
        self.0.backend()
    }
    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.0.exec_raw(stmt).await
    }
    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.0.exec_unprepared(sql).await
    }
    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.0.one_raw(stmt).await
    }
    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.0.all_raw(stmt).await
    }
    fn support_returning(&self) -> bool {
        self.0.returning()
    }
    fn is_mock_connection(&self) -> bool {
        self.0.mock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nobody;

    #[async_trait]
    impl EventHandler for Nobody {
        fn wants(&self, _: &EventEnvelope) -> bool {
            false
        }
        async fn handle(&self, _: &HandlerConn<'_>, _: &EventEnvelope) -> AppResult<()> {
            Ok(())
        }
    }

    #[test]
    fn registering_twice_under_one_name_keeps_one_handler() {
        register("test.nobody", Nobody);
        register("test.nobody", Nobody);
        let names = registered();
        assert_eq!(names.iter().filter(|n| **n == "test.nobody").count(), 1);
    }
}
