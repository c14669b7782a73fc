//! Typed configuration, read once at start from the environment (and `.env` in development).
//!
//! With no variables set everything runs embedded: SQLite under `DATA_DIR`, the in-process event
//! bus, mail written as `.eml` files, GraphiQL and introspection on. Every variable is listed in
//! `.env.example` and in the README's configuration table.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use ipnet::IpNet;

use crate::platform::{outbound::AllowedHost, storage::StorageConfig};

mod limits;
mod read;
mod security;
#[cfg(test)]
mod tests;

pub use limits::{GraphqlLimits, RateLimits};
use read::Vars;

/// File under `DATA_DIR` holding the generated JWT secret when `JWT_SECRET` is unset.
pub const JWT_SECRET_FILE: &str = "jwt_secret";

/// File under `DATA_DIR` holding the generated secrets key when `SECRETS_KEY` is unset.
pub const SECRETS_KEY_FILE: &str = "secrets_key";

/// The variable that lets production start with settings meant for tests
/// (`OUTBOUND_ALLOW_PRIVATE_NETWORKS`, `OUTBOUND_ALLOW_HOSTS`, `RECORD_SQL`).
pub const ALLOW_UNSAFE_IN_PRODUCTION: &str = "ALLOW_UNSAFE_IN_PRODUCTION";

/// `AI_MONTHLY_TOKEN_BUDGET` when unset in production: 1,000,000 tokens per organization and
/// month (about 2 USD at gpt-4o-mini prices, ~1,000 goal strategies or lead analyses). Set it
/// explicitly (0 = unlimited) to change it.
pub const PRODUCTION_AI_MONTHLY_TOKEN_BUDGET: u64 = 1_000_000;

/// Default `GOOGLE_PLACES_BASE_URL`.
const GOOGLE_PLACES_URL: &str = "https://places.googleapis.com";

/// Deployment environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local development and tests: friendly defaults.
    Development,
    /// Production: refuses unsafe defaults.
    Production,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// All configuration.
#[derive(Clone)]
pub struct Config {
    /// development | production.
    pub environment: Environment,
    /// Address the HTTP server binds.
    pub listen_addr: SocketAddr,
    /// Directory for embedded state (SQLite, outbox mail, files).
    pub data_dir: PathBuf,
    /// SeaORM/sqlx database URL (sqlite:// or postgres://).
    pub database_url: String,
    /// Files and places: object storage, storage quota, geocoder.
    pub places: PlacesSettings,
    /// Pool size.
    pub database_max_connections: u32,
    /// Postgres connections kept open while idle (`DATABASE_MIN_CONNECTIONS`, default
    /// min(4, max)): a burst (the first scrape, a traffic spike) does not wait for new backends.
    pub database_min_connections: u32,
    /// Run migrations when `serve` starts.
    pub auto_migrate: bool,
    /// Redis URL; `None` = in-process event bus and memory rate limiter.
    pub redis_url: Option<String>,
    /// SMTP URL; `None` = `.eml` files in `DATA_DIR/outbox`.
    pub smtp_url: Option<String>,
    /// Default From header.
    pub mail_from: String,
    /// Public base URL used in links sent to users.
    pub public_url: String,
    /// HMAC secret for access tokens. Without `JWT_SECRET` this is a random placeholder until
    /// [`Config::resolve_secrets`] replaces it with the secret kept in `DATA_DIR/jwt_secret`.
    pub jwt_secret: String,
    /// Whether `jwt_secret` came from `JWT_SECRET` (otherwise it is generated and persisted).
    pub jwt_secret_from_env: bool,
    /// Key (32 bytes, hex or base64) that encrypts the secrets stored in the database (SMTP
    /// passwords, provider API keys, webhook URLs; `platform::secrets_box`). Without
    /// `SECRETS_KEY` a random placeholder until [`Config::resolve_secrets`] replaces it with the
    /// key kept in `DATA_DIR/secrets_key`.
    pub secrets_key: String,
    /// Whether `secrets_key` came from `SECRETS_KEY`.
    pub secrets_key_from_env: bool,
    /// Older keys that still decrypt stored values (`SECRETS_KEY_PREVIOUS`, comma-separated),
    /// until `leadgraph rotate-secrets` has re-encrypted everything under `secrets_key`.
    pub secrets_key_previous: Vec<String>,
    /// `iss` claim.
    pub jwt_issuer: String,
    /// `aud` claim.
    pub jwt_audience: String,
    /// Rate limits.
    pub rate_limits: RateLimits,
    /// Proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`, CIDRs; empty = the
    /// socket peer is the client).
    pub trusted_proxies: Vec<IpNet>,
    /// Prefix of this deployment's rate-limit keys in Redis (`RATE_LIMIT_NAMESPACE`; empty by
    /// default). Instances sharing a budget use the same namespace.
    pub rate_limit_namespace: String,
    /// Bearer token `/metrics` requires (`METRICS_TOKEN`; unset = open).
    pub metrics_token: Option<String>,
    /// Refuse login until the email address is verified.
    pub require_email_verification: bool,
    /// Keep executed SQL in memory (tests count statements per request; never in production).
    pub record_sql: bool,
    /// Which fast read paths are on.
    pub reads: ReadPaths,
    /// Log format.
    pub log_format: LogFormat,
    /// Serve GraphiQL at /graphiql.
    pub graphiql_enabled: bool,
    /// Allow introspection queries.
    pub introspection_enabled: bool,
    /// GraphQL limits.
    pub limits: GraphqlLimits,
    /// Every HTTP request is answered within this (`REQUEST_TIMEOUT_MS`, default 30 s): past
    /// it the handler is dropped (a transaction in flight rolls back) and the client gets
    /// 504 with `TIMEOUT`.
    pub request_timeout: Duration,
    /// How long a WebSocket may stay open without `connection_init`.
    pub ws_init_timeout: Duration,
    /// A WebSocket client whose outgoing queue stays full this long is disconnected (1013).
    pub ws_send_timeout: Duration,
    /// Open WebSocket connections one user or API key may hold per process
    /// (`WS_MAX_CONNECTIONS_PER_VIEWER`, default 20); one more is closed with 4429.
    pub ws_max_connections_per_viewer: usize,
    /// Live operations (subscriptions) on one connection (`WS_MAX_OPERATIONS_PER_CONNECTION`,
    /// default 50); one more is answered with a RATE_LIMITED error.
    pub ws_max_operations_per_connection: usize,
    /// How long published events are kept for `events(after:)` replay
    /// (`EVENT_RETENTION_HOURS`, default 72); older outbox rows are pruned.
    pub event_retention: Duration,
    /// How long a session or API-key check is trusted before the database is asked again
    /// (`SESSION_CHECK_TTL_MS`, default 5000; revocations in this process apply at once, in
    /// others when their event arrives over the bus).
    pub session_check_ttl: Duration,
    /// Run the job worker inside `serve`.
    pub worker_enabled: bool,
    /// Concurrent jobs per process.
    pub worker_concurrency: usize,
    /// Job lease length; a job whose worker stops heart-beating is retried after this.
    pub job_lease: Duration,
    /// This instance's stable lease identity (`INSTANCE_ID`; default: host name + a hash of
    /// `DATA_DIR`). A restarted instance reclaims its previous process's leases at once; it must
    /// be unique per live process (`jobs::instance`).
    pub instance_id: Option<String>,
    /// Longest wait for a pooled database connection (`DATABASE_ACQUIRE_TIMEOUT_MS`, default
    /// 2000) and for a new one to connect: with the database down, requests fail with
    /// SERVICE_UNAVAILABLE after this instead of hanging.
    pub database_acquire_timeout: Duration,
    /// Longest wait for a pooled PostgreSQL connection to answer a ping
    /// (`DATABASE_PING_TIMEOUT_MS`, default 1000): on its way back to the pool, and before an
    /// idle one is handed out. Past it the connection is closed, so a peer gone silent (packets
    /// dropped) does not keep connections, and the pool recovers once the network heals.
    pub database_ping_timeout: Duration,
    /// Longest graceful shutdown (`SHUTDOWN_TIMEOUT_MS`, default 4500): in-flight requests,
    /// WebSocket closes (1001), job lease releases and the relay's last flush share it; whatever
    /// is left is dropped so the process exits even with a dependency down.
    pub shutdown_timeout: Duration,
    /// Let the outbound client reach private/loopback networks (tests only).
    pub outbound_allow_private_networks: bool,
    /// `host[:port]` entries the guarded outbound client may reach although they are private
    /// (`OUTBOUND_ALLOW_HOSTS`, tests' fixture servers only).
    pub outbound_allow_hosts: Vec<AllowedHost>,
    /// Outbound request timeout.
    pub outbound_timeout: Duration,
    /// Outbound response body cap.
    pub outbound_max_body_bytes: usize,
    /// Allowed CORS origins; empty = same-origin only.
    pub cors_allowed_origins: Vec<String>,
    /// Brave Search API key (`X-Subscription-Token`); `None` = SEARCH scrapes are unavailable.
    pub brave_api_key: Option<String>,
    /// Brave Search API base URL (tests point it at a local fake).
    pub brave_base_url: String,
    /// Google Places API (New) key; `None` = GOOGLE_MAPS scrapes are unavailable.
    pub google_places_api_key: Option<String>,
    /// Google Places API base URL (tests point it at a local fake).
    pub google_places_base_url: String,
    /// How long search/places API responses are cached (Redis when set, else in process).
    pub scrape_cache_ttl: Duration,
    /// Per-host politeness of the crawler (`requestsPerSecond`). Off only for benchmarks.
    pub scrape_politeness: bool,
    /// Messages a campaign sends at once (SMTP connections in use by one campaign).
    pub campaign_send_concurrency: usize,
    /// SendGrid Signed Event Webhook public key (base64 DER); when set, unsigned or badly signed
    /// SendGrid events are refused.
    pub sendgrid_webhook_public_key: Option<String>,
    /// Mailgun webhook signing key; when set, Mailgun events must carry a valid signature.
    pub mailgun_webhook_signing_key: Option<String>,
    /// Shared secret the inbound-email webhook must present (`?secret=` or `X-Webhook-Secret`).
    pub inbound_email_secret: Option<String>,
    /// Pending approval requests expire this many hours after creation.
    pub approval_expire_hours: i64,
    /// How often the approval SLA sweep runs (marks overdue requests urgent, expires old ones).
    pub approval_sla_sweep: Duration,
    /// Which AI provider answers (`AI_PROVIDER=local|openai`, default local).
    pub ai_provider: AiProviderKind,
    /// Bearer key for the OpenAI-compatible server (required with `AI_PROVIDER=openai`).
    pub openai_api_key: Option<String>,
    /// OpenAI-compatible base URL (OpenAI, OpenRouter, Ollama, vLLM; tests use a local fake).
    pub openai_base_url: String,
    /// Model asked first.
    pub openai_model: String,
    /// Model asked when the first one fails (none = no fallback).
    pub openai_fallback_model: Option<String>,
    /// How long AI results are cached (prompt + model → result).
    pub ai_cache_ttl: Duration,
    /// Tokens an organization may use per calendar month (UTC); 0 = unlimited. Defaults to
    /// [`PRODUCTION_AI_MONTHLY_TOKEN_BUDGET`] in production (one organization cannot run up an
    /// unbounded provider bill), unlimited in development.
    pub ai_monthly_token_budget: u64,
    /// Campaigns may send from RFC 2606/6761 reserved names (`example.com/.net/.org`, `.example`,
    /// `.test`, `.invalid`, `localhost`) without a verified sending domain
    /// (`SENDING_DOMAINS_ALLOW_RESERVED`; default on in development, off in production).
    pub sending_domains_allow_reserved: bool,
    /// CRAIGSLIST / JOB_BOARDS / SOCIAL sources and the email MX check.
    pub sources: crate::platform::sources_config::SourcesConfig,
    /// Outgoing webhooks' retry schedule and failure limit.
    pub webhooks: WebhookSettings,
}

/// The default webhook retry schedule in milliseconds (about 24 h in all).
const DEFAULT_RETRY_MS: &[u64] = &[
    5_000, 60_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 28_800_000, 28_800_000,
];

/// Outgoing webhook delivery settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Waits between attempts of a delivery (`WEBHOOK_RETRY_SCHEDULE_MS`, comma-separated;
    /// default 5 s, 1 min, 5 min, 30 min, 2 h, 5 h, 8 h, 8 h: about 24 h).
    pub retry_schedule: Vec<Duration>,
    /// An endpoint failing this long since its last success is disabled
    /// (`WEBHOOK_DISABLE_AFTER_SECS`, default 5 days).
    pub disable_after: Duration,
}

impl WebhookSettings {
    fn read(v: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(WebhookSettings {
            retry_schedule: v.millis_list("WEBHOOK_RETRY_SCHEDULE_MS", DEFAULT_RETRY_MS)?,
            disable_after: v.secs("WEBHOOK_DISABLE_AFTER_SECS", 5 * 86_400)?,
        })
    }
}

/// The AI provider behind the `ai` domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AiProviderKind {
    /// Deterministic keyword/regex rules (no network).
    Local,
    /// An OpenAI-compatible chat-completions server.
    OpenAi,
}

/// Settings of the places domain and its files.
#[derive(Clone)]
pub struct PlacesSettings {
    /// Object storage for files (`STORAGE_URL`: `DATA_DIR/files` when unset, or `s3://…`).
    pub storage: StorageConfig,
    /// Bytes each organization may store (`STORAGE_QUOTA_BYTES`, default 10 GiB); an
    /// organization's own limit (`storage_usage.quota_bytes`) overrides it.
    pub storage_quota_bytes: i64,
    /// Nominatim-compatible geocoder (`GEOCODER_URL`, e.g. `https://nominatim.openstreetmap.org`);
    /// unset: the offline gazetteer embedded in the binary (city precision).
    pub geocoder_url: Option<String>,
}

impl PlacesSettings {
    fn read(v: &Vars<'_>, data_dir: &std::path::Path) -> Result<Self, ConfigError> {
        Ok(PlacesSettings {
            storage: StorageConfig::read(v.0, data_dir).map_err(ConfigError)?,
            storage_quota_bytes: v.or("STORAGE_QUOTA_BYTES", 10 * 1024 * 1024 * 1024)?,
            geocoder_url: v.opt("GEOCODER_URL").filter(|u| !u.trim().is_empty()),
        })
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("environment", &self.environment)
            .field("listen_addr", &self.listen_addr)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("public_url", &self.public_url)
            .field("jwt_secret", &"<redacted>")
            .field("secrets_key", &"<redacted>")
            .field("log_format", &self.log_format)
            .field("limits", &self.limits)
            .field("worker_enabled", &self.worker_enabled)
            .field("instance_id", &self.instance_id)
            .finish_non_exhaustive()
    }
}

/// Removes the password from a URL for logging.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => raw.to_string(),
    }
}

/// The default monthly AI token budget: unlimited (0) in development.
/// `DATABASE_URL` when unset: a SQLite file under `DATA_DIR`.
fn default_database_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}/leadgraph.db?mode=rwc", data_dir.display())
}

fn default_ai_budget(dev: bool) -> u64 {
    PRODUCTION_AI_MONTHLY_TOKEN_BUDGET * u64::from(!dev)
}

/// A configuration problem found at start-up.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// The fast read paths, each checked against the slow one by a differential test
/// (`COMPILED_READS=false` / `NESTED_BATCHES=false` turn them off for it).
#[derive(Debug, Clone)]
pub struct ReadPaths {
    /// Answer the plain read queries the SQL compiler covers (`graphql::compiled`) with one
    /// statement on PostgreSQL; off, every query runs through the resolvers.
    pub compiled: bool,
    /// Load the first page of a nested connection for all the parents of a page in one
    /// statement (`graphql::siblings`); off, each parent reads its own.
    pub nested_batches: bool,
}

impl ReadPaths {
    fn read(v: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(ReadPaths {
            compiled: v.or("COMPILED_READS", true)?,
            nested_batches: v.or("NESTED_BATCHES", true)?,
        })
    }
}

impl Config {
    /// Reads the process environment (after loading `.env` if present).
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Builds the config from any key lookup (tests pass a map). Each concern reads its own
    /// variables: [`security`] (secrets, listen address, proxies, test-only switches),
    /// [`limits`] (GraphQL and rate limits); the rest are one line each below.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_vars(&|k: &str| get(k).filter(|v| !v.trim().is_empty()))
    }

    /// [`Self::from_lookup`] once empty values are dropped.
    fn from_vars(var: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let v = Vars(var);
        let (env, dev) = Environment::read(&v).map(|e| (e, e == Environment::Development))?;
        let data_dir = PathBuf::from(v.str("DATA_DIR", "./data"));
        let secrets = security::Secrets::read(&v, dev)?;
        let net = security::Network::read(&v, dev, secrets.jwt_secret_from_env)?;
        Ok(Config {
            environment: env,
            listen_addr: net.listen_addr,
            database_url: v.str("DATABASE_URL", &default_database_url(&data_dir)),
            places: PlacesSettings::read(&v, &data_dir)?,
            data_dir,
            database_max_connections: v.or("DATABASE_MAX_CONNECTIONS", 10)?,
            database_min_connections: v.or("DATABASE_MIN_CONNECTIONS", 4)?,
            auto_migrate: v.or("AUTO_MIGRATE", true)?,
            redis_url: v.opt("REDIS_URL"),
            smtp_url: v.opt("SMTP_URL"),
            mail_from: v.str("MAIL_FROM", "Leadgraph <no-reply@localhost>"),
            public_url: v.url("PUBLIC_URL", "http://localhost:8080"),
            jwt_secret: secrets.jwt_secret,
            jwt_secret_from_env: secrets.jwt_secret_from_env,
            secrets_key: secrets.secrets_key,
            secrets_key_from_env: secrets.secrets_key_from_env,
            secrets_key_previous: secrets.secrets_key_previous,
            jwt_issuer: v.str("JWT_ISSUER", "leadgraph"),
            jwt_audience: v.str("JWT_AUDIENCE", "leadgraph-api"),
            rate_limits: RateLimits::read(&v)?,
            trusted_proxies: net.trusted_proxies,
            rate_limit_namespace: v.str("RATE_LIMIT_NAMESPACE", ""),
            metrics_token: v.opt("METRICS_TOKEN"),
            record_sql: net.record_sql,
            reads: ReadPaths::read(&v)?,
            require_email_verification: v.or("REQUIRE_EMAIL_VERIFICATION", true)?,
            log_format: LogFormat::read(&v)?,
            graphiql_enabled: v.or("GRAPHIQL_ENABLED", dev)?,
            introspection_enabled: v.or("INTROSPECTION_ENABLED", dev)?,
            limits: GraphqlLimits::read(&v)?,
            request_timeout: v.millis("REQUEST_TIMEOUT_MS", 30_000)?,
            ws_init_timeout: v.secs("WS_INIT_TIMEOUT_SECS", 10)?,
            ws_send_timeout: v.millis("WS_SEND_TIMEOUT_MS", 5000)?,
            ws_max_connections_per_viewer: v.or("WS_MAX_CONNECTIONS_PER_VIEWER", 20)?,
            ws_max_operations_per_connection: v.or("WS_MAX_OPERATIONS_PER_CONNECTION", 50)?,
            event_retention: v.secs("EVENT_RETENTION_HOURS", 72)? * 3600,
            session_check_ttl: v.millis("SESSION_CHECK_TTL_MS", 5000)?,
            worker_enabled: v.or("WORKER_ENABLED", true)?,
            worker_concurrency: v.or("WORKER_CONCURRENCY", 4)?,
            job_lease: v.secs("JOB_LEASE_SECS", 30)?,
            instance_id: v.opt("INSTANCE_ID"),
            database_acquire_timeout: v.millis("DATABASE_ACQUIRE_TIMEOUT_MS", 2000)?,
            database_ping_timeout: v.millis("DATABASE_PING_TIMEOUT_MS", 1000)?,
            shutdown_timeout: v.millis("SHUTDOWN_TIMEOUT_MS", 4500)?,
            outbound_allow_private_networks: net.outbound_allow_private_networks,
            outbound_allow_hosts: net.outbound_allow_hosts,
            outbound_timeout: v.secs("OUTBOUND_TIMEOUT_SECS", 20)?,
            outbound_max_body_bytes: v.or("OUTBOUND_MAX_BODY_BYTES", 5 * 1024 * 1024)?,
            cors_allowed_origins: v.list("CORS_ALLOWED_ORIGINS"),
            brave_api_key: v.opt("BRAVE_API_KEY"),
            brave_base_url: v.url("BRAVE_BASE_URL", "https://api.search.brave.com"),
            google_places_api_key: v.opt("GOOGLE_PLACES_API_KEY"),
            google_places_base_url: v.url("GOOGLE_PLACES_BASE_URL", GOOGLE_PLACES_URL),
            scrape_cache_ttl: v.secs("SCRAPE_CACHE_TTL_SECS", 86_400)?,
            scrape_politeness: v.or("SCRAPE_POLITENESS", true)?,
            campaign_send_concurrency: v.or("CAMPAIGN_SEND_CONCURRENCY", 4)?,
            sendgrid_webhook_public_key: v.opt("SENDGRID_WEBHOOK_PUBLIC_KEY"),
            mailgun_webhook_signing_key: v.opt("MAILGUN_WEBHOOK_SIGNING_KEY"),
            inbound_email_secret: v.opt("INBOUND_EMAIL_SECRET"),
            approval_expire_hours: v.or("APPROVAL_EXPIRE_HOURS", 168)?,
            approval_sla_sweep: v.secs("APPROVAL_SLA_SWEEP_SECS", 60)?,
            ai_provider: AiProviderKind::read(&v)?,
            openai_api_key: v.opt("OPENAI_API_KEY"),
            openai_base_url: v.url("OPENAI_BASE_URL", "https://api.openai.com/v1"),
            openai_model: v.str("OPENAI_MODEL", "gpt-4o-mini"),
            openai_fallback_model: v.opt("OPENAI_FALLBACK_MODEL"),
            ai_cache_ttl: v.secs("AI_CACHE_TTL_SECS", 86_400)?,
            ai_monthly_token_budget: v.or("AI_MONTHLY_TOKEN_BUDGET", default_ai_budget(dev))?,
            sending_domains_allow_reserved: v.or("SENDING_DOMAINS_ALLOW_RESERVED", dev)?,
            sources: crate::platform::sources_config::SourcesConfig::from_lookup(var)?,
            webhooks: WebhookSettings::read(&v)?,
        })
    }

    /// True when the database is SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// Hosts of the endpoints the operator configured (AI server, scraping APIs): trusted by
    /// `AppState::operator_http` although they may be private (e.g. Ollama on 127.0.0.1).
    pub fn operator_hosts(&self) -> Vec<AllowedHost> {
        let s = &self.sources;
        [
            &self.openai_base_url,
            &self.brave_base_url,
            &self.google_places_base_url,
            &s.greenhouse_base_url,
            &s.lever_base_url,
            &s.social_base_url,
            &s.hunter_base_url,
            &s.apollo_base_url,
            &s.numverify_base_url,
        ]
        .into_iter()
        .chain(&self.places.geocoder_url)
        .filter_map(|u| url::Url::parse(u).ok())
        .filter_map(|u| AllowedHost::of_url(&u))
        .collect()
    }

    /// Vets a user-supplied URL as the guarded outbound client (`AppState::http`) would: private
    /// addresses are refused unless `OUTBOUND_ALLOW_PRIVATE_NETWORKS` or `OUTBOUND_ALLOW_HOSTS`
    /// open them.
    pub fn check_user_url(
        &self,
        raw: &str,
    ) -> Result<url::Url, crate::platform::outbound::OutboundError> {
        crate::platform::outbound::check_url_allowing(
            raw,
            self.outbound_allow_private_networks,
            &self.outbound_allow_hosts,
        )
    }

    /// Directory where `.eml` files go when no SMTP server is configured.
    pub fn mail_outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }
}
