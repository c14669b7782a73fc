//! Building and running the application: connect, migrate, start relay and workers, serve.

use std::{future::IntoFuture, net::SocketAddr, sync::Arc};

use migration::{Migrator, MigratorTrait};
use tokio::{
    net::TcpListener,
    sync::{watch, Notify},
    task::JoinHandle,
};

use crate::{
    auth::{passwords::Passwords, sessions::SessionChecks, tokens::TokenKeys},
    config::Config,
    db,
    domains::{
        approvals, conversations, enrichment, insight, leads, notifications, outreach, places,
        scraping, sequences, webhooks,
    },
    events::{relay, EventBus, MemoryBus, RedisBus},
    graphql::{build_schema, AppSchema},
    http,
    jobs::{JobRegistry, Worker},
    platform::{
        cache::{Cache, MemoryCache, RedisCache},
        mail_job,
        mailer::Mailer,
        outbound::{OutboundClient, OutboundConfig},
        ratelimit::{MemoryLimiter, RateLimiter, RedisLimiter},
    },
    state::AppState,
};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
#[error("startup: {0}")]
pub struct StartupError(pub String);

fn err(context: &str) -> impl Fn(&dyn std::fmt::Display) -> StartupError + '_ {
    move |e| StartupError(format!("{context}: {e}"))
}

/// Builds the shared state (database, bus, mailer, clients). Does not migrate.
pub async fn build_state(mut config: Config) -> Result<AppState, StartupError> {
    notifications::register();
    approvals::register();
    outreach::register();
    conversations::register();
    sequences::register();
    webhooks::register();
    places::register();
    enrichment::register();
    config.resolve_secrets().map_err(|e| err("secrets")(&e))?;
    let secrets = Arc::new(config.secrets_box().map_err(|e| err("secrets")(&e))?);
    let sql_log = db::StatementLog::new(config.record_sql);
    let db = db::connect(&config, sql_log.clone())
        .await
        .map_err(|e| err("database")(&e))?;
    let bus: Arc<dyn EventBus> = match &config.redis_url {
        Some(url) => Arc::new(RedisBus::connect(url).await.map_err(|e| err("redis")(&e))?),
        None => Arc::new(MemoryBus::new()),
    };
    let limiter: Arc<dyn RateLimiter> = match &config.redis_url {
        Some(url) => Arc::new(
            RedisLimiter::connect(url)
                .await
                .map_err(|e| err("redis")(&e))?
                .with_namespace(&config.rate_limit_namespace),
        ),
        None => Arc::new(MemoryLimiter::default()),
    };
    let cache: Arc<dyn Cache> = match &config.redis_url {
        Some(url) => Arc::new(
            RedisCache::connect(url)
                .await
                .map_err(|e| err("redis")(&e))?,
        ),
        None => Arc::new(MemoryCache::default()),
    };
    let mailer = Mailer::new(
        config.smtp_url.as_deref(),
        config.mail_outbox_dir(),
        &config.mail_from,
    )
    .map_err(|e| err("mailer")(&e))?;
    let outbound = OutboundConfig {
        allow_private_networks: config.outbound_allow_private_networks,
        allowed_hosts: config.outbound_allow_hosts.clone(),
        timeout: config.outbound_timeout,
        max_body_bytes: config.outbound_max_body_bytes,
        ..OutboundConfig::default()
    };
    let mut operator_hosts = config.outbound_allow_hosts.clone();
    operator_hosts.extend(config.operator_hosts());
    let operator_http = OutboundClient::new(OutboundConfig {
        allowed_hosts: operator_hosts,
        ..outbound.clone()
    })
    .map_err(|e| err("outbound http")(&e))?;
    let http = OutboundClient::new(outbound).map_err(|e| err("outbound http")(&e))?;
    let storage = crate::platform::storage::Storage::open(&config.places.storage)
        .map_err(|e| err("storage")(&e))?;
    Ok(AppState {
        tokens: Arc::new(TokenKeys::new(&config)),
        secrets,
        sessions: Arc::new(SessionChecks::new(config.session_check_ttl)),
        passwords: Passwords::new(),
        limiter,
        cache,
        config: Arc::new(config),
        db,
        sql_log,
        bus,
        mailer,
        http,
        operator_http,
        outbox_notify: Arc::new(Notify::new()),
        job_notify: Arc::new(Notify::new()),
        plans: Arc::default(),
        storage,
    })
}

/// Applies pending migrations.
pub async fn migrate(state: &AppState) -> Result<(), StartupError> {
    Migrator::up(&state.db, None)
        .await
        .map_err(|e| err("migrations")(&e))
}

/// The job handlers of every domain.
pub fn job_registry(state: &AppState) -> JobRegistry {
    let mut registry = JobRegistry::new();
    registry.register(mail_job::KIND, mail_job::SendMail(state.mailer.clone()));
    registry.register(
        notifications::WEBHOOK_KIND,
        notifications::PostWebhook(state.http.clone(), state.secrets.clone()),
    );
    registry.register(leads::IMPORT_KIND, leads::ImportLeads(state.clone()));
    registry.register(scraping::RUN_KIND, scraping::ScrapeRun(state.clone()));
    registry.register(
        crate::domains::ai::SEARCH_GOAL_KIND,
        crate::domains::ai::SearchGoalRun(state.clone()),
    );
    registry.register(
        outreach::delivery::KIND,
        outreach::delivery::SendCampaign(state.clone()),
    );
    registry.register(
        conversations::SEND_KIND,
        conversations::SendConversationMessage(state.clone()),
    );
    registry.register(
        conversations::AUTO_REPLY_KIND,
        conversations::AutoReply(state.clone()),
    );
    registry.register(
        sequences::STEP_KIND,
        sequences::RunSequenceStep(state.clone()),
    );
    registry.register(
        webhooks::DELIVER_KIND,
        webhooks::DeliverWebhook::new(state.clone()),
    );
    registry.register(
        webhooks::workflows::POLL_KIND,
        webhooks::workflows::PollWorkflowExecution(state.clone()),
    );
    registry.register(
        enrichment::RUN_KIND,
        enrichment::EnrichLeadsJob(state.clone()),
    );
    registry.register(
        places::GEOCODE_LEAD_KIND,
        places::GeocodeLead(state.clone()),
    );
    registry.register(
        places::GEOCODE_SWEEP_KIND,
        places::GeocodeSweep(state.clone()),
    );
    registry.register(
        enrichment::VALIDATE_KIND,
        enrichment::ValidateLeadJob(state.clone()),
    );
    registry.register(
        insight::GENERATE_REPORT_KIND,
        insight::GenerateReport(state.clone()),
    );
    registry
}

/// A built application, bound to its port and ready to serve.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    schema: AppSchema,
    shutdown_tx: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Stops a running application.
#[derive(Clone)]
pub struct ShutdownHandle(watch::Sender<bool>);

impl ShutdownHandle {
    /// Asks the server, relay and workers to stop.
    pub fn shutdown(&self) {
        let _ = self.0.send(true);
    }
}

impl Application {
    /// Builds with the handlers of every domain.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Self::build_with(config, |_, _| {}).await
    }

    /// Builds, letting the caller add job handlers to those of every domain (tests use this).
    pub async fn build_with(
        config: Config,
        configure: impl FnOnce(&AppState, &mut JobRegistry),
    ) -> Result<Self, StartupError> {
        let listen = config.listen_addr;
        let auto_migrate = config.auto_migrate;
        let state = build_state(config).await?;
        if auto_migrate {
            migrate(&state).await?;
        }
        crate::telemetry::prometheus();
        // Loads lazily built parsers off the request path (the phone metadata alone takes ~90 ms
        // on first use: the first scrape or the first lead with a phone would pay it).
        tokio::task::spawn_blocking(crate::domains::scraping::warm_up);
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| err("bind")(&e))?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut tasks = vec![
            relay::spawn(
                state.db.clone(),
                state.bus.clone(),
                state.outbox_notify.clone(),
                shutdown_rx.clone(),
            ),
            crate::events::outbox::spawn_pruner(
                state.db.clone(),
                state.config.event_retention,
                shutdown_rx.clone(),
            ),
            SessionChecks::spawn_listener(
                state.sessions.clone(),
                state.bus.clone(),
                shutdown_rx.clone(),
            ),
        ];
        let mut registry = job_registry(&state);
        configure(&state, &mut registry);
        if state.config.worker_enabled && !registry.kinds().is_empty() {
            let identity = crate::jobs::Identity::claim(
                state.config.instance_id.as_deref(),
                &state.config.data_dir,
            );
            let worker = Worker::new(state.db.clone(), registry, state.config.job_lease)
                .with_identity(identity)
                .with_notifier(state.job_notify.clone())
                .with_event_notifier(state.outbox_notify.clone());
            // A crash of this instance's previous process left its leases running: take them
            // back now instead of after they expire.
            if let Err(e) = worker.reclaim_previous().await {
                tracing::warn!(error = ?e, "reclaiming this instance's previous leases failed");
            }
            tasks.extend(worker.spawn(state.config.worker_concurrency, shutdown_rx.clone()));
            tasks.push(approvals::sla::spawn(state.clone(), shutdown_rx.clone()));
            tasks.push(webhooks::spawn_schedule_ticker(state.clone(), shutdown_rx));
        }
        let schema = build_schema(state.clone());
        Ok(Application {
            listener,
            state,
            schema,
            shutdown_tx,
            tasks,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr, StartupError> {
        self.listener
            .local_addr()
            .map_err(|e| err("local_addr")(&e))
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// A handle that stops the application.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shutdown_tx.clone())
    }

    /// Serves until the shutdown handle fires or (with `ctrl_c`) the process gets SIGINT or
    /// SIGTERM. Shutdown is bounded by `SHUTDOWN_TIMEOUT_MS` from the signal: new connections are
    /// refused, in-flight requests finish, WebSockets close with 1001, job runners stop their
    /// handlers and release their leases and the relay flushes, all at once; whatever is still
    /// running at the deadline is dropped (a dependency that hangs cannot hold the exit).
    pub async fn run(self, ctrl_c: bool) -> Result<(), StartupError> {
        let total = self.state.config.shutdown_timeout;
        let router = http::router(
            self.state.clone(),
            self.schema.clone(),
            self.shutdown_tx.subscribe(),
        );
        let mut shutdown_rx = self.shutdown_tx.subscribe();
        let shutdown_tx = self.shutdown_tx.clone();
        let signal = async move {
            tokio::select! {
                _ = shutdown_rx.changed() => {}
                _ = wait_for_signal(), if ctrl_c => {}
            }
            tracing::info!("shutting down");
            let _ = shutdown_tx.send(true);
        };
        let mut stopped = self.shutdown_tx.subscribe();
        let signalled = async move {
            while !*stopped.borrow_and_update() {
                if stopped.changed().await.is_err() {
                    break;
                }
            }
            tokio::time::Instant::now()
        };
        tokio::pin!(signalled);
        let serve = axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(signal)
        .into_future();
        tokio::pin!(serve);
        // Requests get the budget less a margin for the tasks' last steps.
        let drain = total.saturating_sub(std::time::Duration::from_millis(500));
        let mut at = None;
        tokio::select! {
            r = &mut serve => r.map_err(|e| err("serve")(&e))?,
            t = &mut signalled => {
                at = Some(t);
                if tokio::time::timeout(drain, &mut serve).await.is_err() {
                    tracing::warn!("requests still running at the shutdown deadline; dropped");
                }
            }
        }
        let deadline = at.unwrap_or_else(tokio::time::Instant::now) + total;
        for t in self.tasks {
            let abort = t.abort_handle();
            if tokio::time::timeout_at(deadline, t).await.is_err() {
                abort.abort();
            }
        }
        Ok(())
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
