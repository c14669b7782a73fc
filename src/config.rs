//! Typed configuration, read once at start from the environment (and `.env` in development).
//!
//! With no variables set everything runs embedded: SQLite under `DATA_DIR`, the in-process event
//! bus, mail written as `.eml` files, GraphiQL and introspection on. Every variable is listed in
//! `.env.example` and in the README's configuration table.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use ipnet::IpNet;

use crate::platform::outbound::AllowedHost;

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

/// GraphQL execution limits.
#[derive(Debug, Clone)]
pub struct GraphqlLimits {
    /// Maximum selection depth.
    pub max_depth: usize,
    /// Maximum computed complexity.
    pub max_complexity: usize,
    /// Maximum number of aliased fields in one document.
    pub max_aliases: usize,
    /// Maximum operations in one batch request.
    pub max_batch_size: usize,
    /// Maximum HTTP request body in bytes.
    pub max_body_bytes: usize,
    /// Maximum size of one uploaded file (multipart requests).
    pub max_upload_bytes: usize,
    /// Maximum files in one multipart request.
    pub max_upload_files: usize,
}

/// Rate-limit budgets (defaults from the seeds).
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// `login` per client IP per minute.
    pub login_per_minute: u32,
    /// `login` attempts per account (normalised email) per hour, from any IP.
    pub login_per_account_per_hour: u32,
    /// `register` per client IP per hour.
    pub register_per_hour: u32,
    /// `verifyEmail` per token/email per hour.
    pub verify_email_per_hour: u32,
    /// `requestPasswordReset` per email per hour.
    pub password_reset_per_hour: u32,
    /// Every GraphQL request per user or API key per minute.
    pub viewer_per_minute: u32,
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
    /// Answer the plain read queries the SQL compiler covers (`graphql::compiled`) with one
    /// statement on PostgreSQL; off, every query runs through the resolvers.
    pub compiled_reads: bool,
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
}

/// The AI provider behind the `ai` domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AiProviderKind {
    /// Deterministic keyword/regex rules (no network).
    Local,
    /// An OpenAI-compatible chat-completions server.
    OpenAi,
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

/// A configuration problem found at start-up.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads the process environment (after loading `.env` if present).
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Builds the config from any key lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let environment = match var("LEADGRAPH_ENV").as_deref() {
            None | Some("development") | Some("dev") | Some("test") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                return Err(ConfigError(format!("LEADGRAPH_ENV: unknown value {other}")))
            }
        };
        let dev = environment == Environment::Development;
        let data_dir = PathBuf::from(var("DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = var("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}/leadgraph.db?mode=rwc", data_dir.display()));
        let env_secret = var("JWT_SECRET");
        let jwt_secret_from_env = env_secret.is_some();
        let jwt_secret = match env_secret {
            Some(s) => s,
            None if !dev => {
                return Err(ConfigError(
                    "JWT_SECRET must be set in production (e.g. `openssl rand -hex 32`)".into(),
                ))
            }
            // Replaced by the persisted secret in `resolve_secrets`; random meanwhile, so a
            // config that is never resolved still has no guessable key.
            None => random_secret(),
        };
        if jwt_secret.len() < 32 {
            return Err(ConfigError(
                "JWT_SECRET must be at least 32 characters".into(),
            ));
        }
        let env_secrets_key = var("SECRETS_KEY");
        let secrets_key_from_env = env_secrets_key.is_some();
        let secrets_key = match env_secrets_key {
            Some(k) => k,
            None if !dev => {
                return Err(ConfigError(
                    "SECRETS_KEY must be set in production: 32 bytes as hex or base64 (e.g. \
                     `openssl rand -hex 32`); it encrypts SMTP passwords and provider keys stored \
                     in the database"
                        .into(),
                ))
            }
            None => random_secret(),
        };
        let secrets_key_previous: Vec<String> = var("SECRETS_KEY_PREVIOUS")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        crate::platform::secrets_box::SecretsBox::from_config(&secrets_key, &secrets_key_previous)
            .map_err(|e| ConfigError(e.to_string()))?;
        let listen_addr: SocketAddr = parse(&var, "LISTEN_ADDR", "127.0.0.1:8080".parse().ok())?;
        if !jwt_secret_from_env && !listen_addr.ip().is_loopback() {
            return Err(ConfigError(format!(
                "LISTEN_ADDR {listen_addr} is reachable from other machines: set JWT_SECRET \
                 explicitly (e.g. `openssl rand -hex 32`); the generated development secret is \
                 only used on a loopback address"
            )));
        }
        if parse::<bool>(&var, "TRUST_FORWARDED_FOR", Some(false))? {
            return Err(ConfigError(
                "TRUST_FORWARDED_FOR is no longer supported: list your proxies in TRUSTED_PROXIES \
                 (CIDRs, e.g. 10.0.0.0/8); X-Forwarded-For is read only from those peers"
                    .into(),
            ));
        }
        let trusted_proxies = var("TRUSTED_PROXIES")
            .map(|v| parse_cidrs(&v))
            .transpose()?
            .unwrap_or_default();
        let outbound_allow_private_networks: bool =
            parse(&var, "OUTBOUND_ALLOW_PRIVATE_NETWORKS", Some(false))?;
        let outbound_allow_hosts = var("OUTBOUND_ALLOW_HOSTS")
            .map(|v| AllowedHost::parse_list(&v))
            .transpose()
            .map_err(|e| ConfigError(format!("OUTBOUND_ALLOW_HOSTS: {e}")))?
            .unwrap_or_default();
        let record_sql: bool = parse(&var, "RECORD_SQL", Some(false))?;
        let allow_unsafe: bool = parse(&var, ALLOW_UNSAFE_IN_PRODUCTION, Some(false))?;
        if !dev && !allow_unsafe {
            let unsafe_settings: Vec<&str> = [
                (
                    outbound_allow_private_networks,
                    "OUTBOUND_ALLOW_PRIVATE_NETWORKS=true",
                ),
                (!outbound_allow_hosts.is_empty(), "OUTBOUND_ALLOW_HOSTS"),
                (record_sql, "RECORD_SQL=true"),
            ]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
            if !unsafe_settings.is_empty() {
                return Err(ConfigError(format!(
                    "{} {} meant for tests and refused in production (they open the SSRF guard or \
                     keep every SQL statement in memory); set \
                     {ALLOW_UNSAFE_IN_PRODUCTION}=true to start anyway",
                    unsafe_settings.join(", "),
                    if unsafe_settings.len() == 1 {
                        "is"
                    } else {
                        "are"
                    },
                )));
            }
        }
        let log_format = match var("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(ConfigError(format!("LOG_FORMAT: unknown value {other}"))),
        };
        let public_url = var("PUBLIC_URL")
            .unwrap_or_else(|| "http://localhost:8080".into())
            .trim_end_matches('/')
            .to_string();
        Ok(Config {
            environment,
            listen_addr,
            data_dir,
            database_url,
            database_max_connections: parse(&var, "DATABASE_MAX_CONNECTIONS", Some(10))?,
            database_min_connections: parse(&var, "DATABASE_MIN_CONNECTIONS", Some(4))?,
            auto_migrate: parse(&var, "AUTO_MIGRATE", Some(true))?,
            redis_url: var("REDIS_URL"),
            smtp_url: var("SMTP_URL"),
            mail_from: var("MAIL_FROM").unwrap_or_else(|| "Leadgraph <no-reply@localhost>".into()),
            public_url,
            jwt_secret,
            jwt_secret_from_env,
            secrets_key,
            secrets_key_from_env,
            secrets_key_previous,
            jwt_issuer: var("JWT_ISSUER").unwrap_or_else(|| "leadgraph".into()),
            jwt_audience: var("JWT_AUDIENCE").unwrap_or_else(|| "leadgraph-api".into()),
            rate_limits: RateLimits {
                login_per_minute: parse(&var, "RATE_LIMIT_LOGIN_PER_MINUTE", Some(20))?,
                login_per_account_per_hour: parse(
                    &var,
                    "RATE_LIMIT_LOGIN_PER_ACCOUNT_PER_HOUR",
                    Some(30),
                )?,
                register_per_hour: parse(&var, "RATE_LIMIT_REGISTER_PER_HOUR", Some(10))?,
                verify_email_per_hour: parse(&var, "RATE_LIMIT_VERIFY_EMAIL_PER_HOUR", Some(10))?,
                password_reset_per_hour: parse(
                    &var,
                    "RATE_LIMIT_PASSWORD_RESET_PER_HOUR",
                    Some(5),
                )?,
                viewer_per_minute: parse(&var, "RATE_LIMIT_VIEWER_PER_MINUTE", Some(1200))?,
            },
            trusted_proxies,
            rate_limit_namespace: var("RATE_LIMIT_NAMESPACE").unwrap_or_default(),
            metrics_token: var("METRICS_TOKEN"),
            record_sql,
            compiled_reads: parse(&var, "COMPILED_READS", Some(true))?,
            require_email_verification: parse(&var, "REQUIRE_EMAIL_VERIFICATION", Some(true))?,
            log_format,
            graphiql_enabled: parse(&var, "GRAPHIQL_ENABLED", Some(dev))?,
            introspection_enabled: parse(&var, "INTROSPECTION_ENABLED", Some(dev))?,
            limits: GraphqlLimits {
                max_depth: parse(&var, "MAX_QUERY_DEPTH", Some(15))?,
                max_complexity: parse(
                    &var,
                    "MAX_QUERY_COMPLEXITY",
                    Some(crate::graphql::schema::DEFAULT_MAX_COMPLEXITY),
                )?,
                max_aliases: parse(&var, "MAX_ALIASES", Some(30))?,
                max_batch_size: parse(&var, "MAX_BATCH_SIZE", Some(10))?,
                max_body_bytes: parse(&var, "MAX_BODY_BYTES", Some(1024 * 1024))?,
                max_upload_bytes: parse(&var, "MAX_UPLOAD_BYTES", Some(50 * 1024 * 1024))?,
                max_upload_files: parse(&var, "MAX_UPLOAD_FILES", Some(5))?,
            },
            request_timeout: Duration::from_millis(parse(
                &var,
                "REQUEST_TIMEOUT_MS",
                Some(30_000),
            )?),
            ws_init_timeout: Duration::from_secs(parse(&var, "WS_INIT_TIMEOUT_SECS", Some(10))?),
            ws_send_timeout: Duration::from_millis(parse(&var, "WS_SEND_TIMEOUT_MS", Some(5000))?),
            ws_max_connections_per_viewer: parse(&var, "WS_MAX_CONNECTIONS_PER_VIEWER", Some(20))?,
            ws_max_operations_per_connection: parse(
                &var,
                "WS_MAX_OPERATIONS_PER_CONNECTION",
                Some(50),
            )?,
            event_retention: Duration::from_secs(
                3600 * parse::<u64>(&var, "EVENT_RETENTION_HOURS", Some(72))?,
            ),
            session_check_ttl: Duration::from_millis(parse(
                &var,
                "SESSION_CHECK_TTL_MS",
                Some(5000),
            )?),
            worker_enabled: parse(&var, "WORKER_ENABLED", Some(true))?,
            worker_concurrency: parse(&var, "WORKER_CONCURRENCY", Some(4))?,
            job_lease: Duration::from_secs(parse(&var, "JOB_LEASE_SECS", Some(30))?),
            outbound_allow_private_networks,
            outbound_allow_hosts,
            outbound_timeout: Duration::from_secs(parse(&var, "OUTBOUND_TIMEOUT_SECS", Some(20))?),
            outbound_max_body_bytes: parse(&var, "OUTBOUND_MAX_BODY_BYTES", Some(5 * 1024 * 1024))?,
            cors_allowed_origins: var("CORS_ALLOWED_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            brave_api_key: var("BRAVE_API_KEY"),
            brave_base_url: var("BRAVE_BASE_URL")
                .unwrap_or_else(|| "https://api.search.brave.com".into())
                .trim_end_matches('/')
                .to_string(),
            google_places_api_key: var("GOOGLE_PLACES_API_KEY"),
            google_places_base_url: var("GOOGLE_PLACES_BASE_URL")
                .unwrap_or_else(|| "https://places.googleapis.com".into())
                .trim_end_matches('/')
                .to_string(),
            scrape_cache_ttl: Duration::from_secs(parse(
                &var,
                "SCRAPE_CACHE_TTL_SECS",
                Some(86_400),
            )?),
            scrape_politeness: parse(&var, "SCRAPE_POLITENESS", Some(true))?,
            campaign_send_concurrency: parse(&var, "CAMPAIGN_SEND_CONCURRENCY", Some(4))?,
            sendgrid_webhook_public_key: var("SENDGRID_WEBHOOK_PUBLIC_KEY"),
            mailgun_webhook_signing_key: var("MAILGUN_WEBHOOK_SIGNING_KEY"),
            inbound_email_secret: var("INBOUND_EMAIL_SECRET"),
            approval_expire_hours: parse(&var, "APPROVAL_EXPIRE_HOURS", Some(168))?,
            approval_sla_sweep: Duration::from_secs(parse(
                &var,
                "APPROVAL_SLA_SWEEP_SECS",
                Some(60),
            )?),
            ai_provider: match var("AI_PROVIDER").as_deref() {
                None | Some("local") => AiProviderKind::Local,
                Some("openai") => AiProviderKind::OpenAi,
                Some(other) => {
                    return Err(ConfigError(format!(
                        "AI_PROVIDER: unknown value {other} (local or openai)"
                    )))
                }
            },
            openai_api_key: var("OPENAI_API_KEY"),
            openai_base_url: var("OPENAI_BASE_URL")
                .unwrap_or_else(|| "https://api.openai.com/v1".into())
                .trim_end_matches('/')
                .to_string(),
            openai_model: var("OPENAI_MODEL").unwrap_or_else(|| "gpt-4o-mini".into()),
            openai_fallback_model: var("OPENAI_FALLBACK_MODEL"),
            ai_cache_ttl: Duration::from_secs(parse(&var, "AI_CACHE_TTL_SECS", Some(86_400))?),
            ai_monthly_token_budget: parse(
                &var,
                "AI_MONTHLY_TOKEN_BUDGET",
                Some(if dev {
                    0
                } else {
                    PRODUCTION_AI_MONTHLY_TOKEN_BUDGET
                }),
            )?,
            sending_domains_allow_reserved: parse(
                &var,
                "SENDING_DOMAINS_ALLOW_RESERVED",
                Some(dev),
            )?,
            sources: crate::platform::sources_config::SourcesConfig::from_lookup(&var)?,
        })
    }

    /// True when the database is SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// Replaces a generated JWT secret by the one kept in `DATA_DIR/jwt_secret`, and a
    /// generated secrets key by the one in `DATA_DIR/secrets_key`, creating each file (mode
    /// 0600) with 32 random bytes on first start. Variables that were set win. Called once at
    /// start-up ([`crate::startup::build_state`]).
    pub fn resolve_secrets(&mut self) -> Result<(), ConfigError> {
        if !self.jwt_secret_from_env {
            self.jwt_secret = load_or_create_secret(&self.data_dir.join(JWT_SECRET_FILE))?;
        }
        if !self.secrets_key_from_env {
            self.secrets_key = load_or_create_secret(&self.data_dir.join(SECRETS_KEY_FILE))?;
        }
        Ok(())
    }

    /// The box that encrypts stored secrets (after [`Self::resolve_secrets`]).
    pub fn secrets_box(&self) -> Result<crate::platform::secrets_box::SecretsBox, ConfigError> {
        crate::platform::secrets_box::SecretsBox::from_config(
            &self.secrets_key,
            &self.secrets_key_previous,
        )
        .map_err(|e| {
            ConfigError(format!(
                "{e} ({})",
                self.data_dir.join(SECRETS_KEY_FILE).display()
            ))
        })
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
        ]
        .into_iter()
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

fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Reads the secret in `path`, or writes a new random one there (mode 0600). The new file is
/// written completely under a temporary name and then hard-linked into place, so two processes
/// starting at once agree on one secret and none reads a half-written file.
fn load_or_create_secret(path: &std::path::Path) -> Result<String, ConfigError> {
    let fail =
        |what: &str, e: &dyn fmt::Display| ConfigError(format!("{what} {}: {e}", path.display()));
    let read = |path: &std::path::Path| -> Result<String, ConfigError> {
        let s = std::fs::read_to_string(path).map_err(|e| fail("reading", &e))?;
        let s = s.trim().to_string();
        if s.len() < 32 {
            return Err(ConfigError(format!(
                "{} holds fewer than 32 characters; delete it to generate a new secret",
                path.display()
            )));
        }
        Ok(s)
    };
    if path.exists() {
        return read(path);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail("creating the directory of", &e))?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    {
        use std::io::Write;
        let mut f = opts.open(&tmp).map_err(|e| fail("creating", &e))?;
        f.write_all(random_secret().as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| fail("writing", &e))?;
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => tracing::info!(path = %path.display(), "generated a secret"),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(fail("creating", &e)),
    }
    read(path)
}

fn parse_cidrs(raw: &str) -> Result<Vec<IpNet>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError(format!("TRUSTED_PROXIES: {s:?} is not a CIDR or an IP")))
        })
        .collect()
}

fn parse<T: std::str::FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: Option<T>,
) -> Result<T, ConfigError> {
    match var(key) {
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|_| ConfigError(format!("{key}: cannot parse {raw:?}"))),
        None => default.ok_or_else(|| ConfigError(format!("{key} is required"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(move |k| map.get(k).cloned())
    }

    #[test]
    fn embedded_defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.environment, Environment::Development);
        assert_eq!(c.listen_addr.to_string(), "127.0.0.1:8080");
        assert!(c.database_url.starts_with("sqlite://./data/"));
        assert!(c.redis_url.is_none() && c.smtp_url.is_none());
        assert!(c.graphiql_enabled && c.introspection_enabled);
        assert!(c.sending_domains_allow_reserved);
    }

    #[test]
    fn production_refuses_dev_secret() {
        let err = cfg(&[("LEADGRAPH_ENV", "production")]).unwrap_err();
        assert!(err.0.contains("JWT_SECRET"));
        let err = cfg(&[
            ("LEADGRAPH_ENV", "production"),
            ("JWT_SECRET", &"x".repeat(40)),
        ])
        .unwrap_err();
        assert!(err.0.contains("SECRETS_KEY"), "{}", err.0);
        let ok = cfg(&[
            ("LEADGRAPH_ENV", "production"),
            ("JWT_SECRET", &"x".repeat(40)),
            ("SECRETS_KEY", &"ab".repeat(32)),
        ])
        .unwrap();
        assert!(!ok.graphiql_enabled && !ok.introspection_enabled);
        assert!(
            !ok.sending_domains_allow_reserved,
            "production sends only from verified domains"
        );
    }

    #[test]
    fn production_has_an_ai_budget_by_default() {
        let secret = "x".repeat(40);
        let key = "ab".repeat(32);
        let prod = cfg(&[
            ("LEADGRAPH_ENV", "production"),
            ("JWT_SECRET", &secret),
            ("SECRETS_KEY", &key),
        ])
        .unwrap();
        assert_eq!(
            prod.ai_monthly_token_budget,
            PRODUCTION_AI_MONTHLY_TOKEN_BUDGET
        );
        const { assert!(PRODUCTION_AI_MONTHLY_TOKEN_BUDGET > 0) };
        // Explicit values win, 0 (unlimited) included.
        let unlimited = cfg(&[
            ("LEADGRAPH_ENV", "production"),
            ("JWT_SECRET", &secret),
            ("SECRETS_KEY", &key),
            ("AI_MONTHLY_TOKEN_BUDGET", "0"),
        ])
        .unwrap();
        assert_eq!(unlimited.ai_monthly_token_budget, 0);
        // Development stays unlimited.
        assert_eq!(cfg(&[]).unwrap().ai_monthly_token_budget, 0);
    }

    #[test]
    fn request_timeout_and_complexity_defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert_eq!(c.limits.max_complexity, 50_000);
        let c = cfg(&[("REQUEST_TIMEOUT_MS", "250")]).unwrap();
        assert_eq!(c.request_timeout, Duration::from_millis(250));
    }

    #[test]
    fn bad_numbers_are_reported_by_name() {
        let err = cfg(&[("MAX_QUERY_DEPTH", "deep")]).unwrap_err();
        assert!(err.0.contains("MAX_QUERY_DEPTH"));
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = cfg(&[("DATABASE_URL", "postgres://u:hunter2@db/x")]).unwrap();
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2") && !s.contains(&c.jwt_secret));
    }

    const SECRETS_KEY_HEX: &str =
        "0101010101010101010101010101010101010101010101010101010101010101";

    #[test]
    fn secrets_key_is_parsed_generated_into_data_dir_and_kept() {
        assert!(cfg(&[("SECRETS_KEY", "too-short")])
            .unwrap_err()
            .0
            .contains("SECRETS_KEY"));
        assert!(cfg(&[
            ("SECRETS_KEY", SECRETS_KEY_HEX),
            ("SECRETS_KEY_PREVIOUS", "nope")
        ])
        .unwrap_err()
        .0
        .contains("SECRETS_KEY_PREVIOUS"));
        let c = cfg(&[
            ("SECRETS_KEY", SECRETS_KEY_HEX),
            ("SECRETS_KEY_PREVIOUS", &format!(" {}, ", "02".repeat(32))),
        ])
        .unwrap();
        assert_eq!(c.secrets_key_previous.len(), 1);
        assert!(!format!("{c:?}").contains(SECRETS_KEY_HEX));

        let dir = std::env::temp_dir().join(format!("lg-skey-{}", uuid::Uuid::now_v7()));
        let dir_s = dir.display().to_string();
        let mut first = cfg(&[("DATA_DIR", &dir_s)]).unwrap();
        first.resolve_secrets().unwrap();
        let file = dir.join(SECRETS_KEY_FILE);
        assert_eq!(
            std::fs::read_to_string(&file).unwrap().trim(),
            first.secrets_key
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        let sealed = first.secrets_box().unwrap().seal("pw", "ctx");
        let mut second = cfg(&[("DATA_DIR", &dir_s)]).unwrap();
        second.resolve_secrets().unwrap();
        assert_eq!(
            second.secrets_box().unwrap().open(&sealed, "ctx").unwrap(),
            "pw"
        );
        // An explicit key wins over the file.
        let mut third = cfg(&[("DATA_DIR", &dir_s), ("SECRETS_KEY", SECRETS_KEY_HEX)]).unwrap();
        third.resolve_secrets().unwrap();
        assert_eq!(third.secrets_key, SECRETS_KEY_HEX);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The constant every install used to sign with when `JWT_SECRET` was unset.
    const OLD_PUBLIC_SECRET: &str = "leadgraph-dev-secret-change-me-0123456789abcdef";

    #[test]
    fn without_jwt_secret_development_gets_a_random_secret_never_the_old_constant() {
        let a = cfg(&[]).unwrap();
        let b = cfg(&[]).unwrap();
        assert!(!a.jwt_secret_from_env);
        assert_ne!(a.jwt_secret, OLD_PUBLIC_SECRET);
        assert_ne!(a.jwt_secret, b.jwt_secret);
        assert!(a.jwt_secret.len() >= 32);
    }

    #[test]
    fn resolve_secrets_persists_a_private_secret_in_data_dir_and_reuses_it() {
        let dir = std::env::temp_dir().join(format!("lg-secret-{}", uuid::Uuid::now_v7()));
        let dir_s = dir.display().to_string();
        let mut first = cfg(&[("DATA_DIR", &dir_s)]).unwrap();
        first.resolve_secrets().unwrap();
        let file = dir.join(JWT_SECRET_FILE);
        let stored = std::fs::read_to_string(&file).unwrap();
        assert_eq!(stored.trim(), first.jwt_secret);
        assert_ne!(first.jwt_secret, OLD_PUBLIC_SECRET);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        // The next start reuses it.
        let mut second = cfg(&[("DATA_DIR", &dir_s)]).unwrap();
        second.resolve_secrets().unwrap();
        assert_eq!(second.jwt_secret, first.jwt_secret);
        // An explicit JWT_SECRET wins and the file is not consulted.
        let explicit = "e".repeat(40);
        let mut third = cfg(&[("DATA_DIR", &dir_s), ("JWT_SECRET", &explicit)]).unwrap();
        third.resolve_secrets().unwrap();
        assert_eq!(third.jwt_secret, explicit);
        // A truncated file is an error, not a weak key.
        std::fs::write(&file, "short").unwrap();
        let mut fourth = cfg(&[("DATA_DIR", &dir_s)]).unwrap();
        assert!(fourth.resolve_secrets().unwrap_err().0.contains("32"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn development_refuses_a_public_listen_address_without_an_explicit_secret() {
        let err = cfg(&[("LISTEN_ADDR", "0.0.0.0:8080")]).unwrap_err();
        assert!(
            err.0.contains("JWT_SECRET") && err.0.contains("0.0.0.0:8080"),
            "{}",
            err.0
        );
        assert!(cfg(&[("LISTEN_ADDR", "192.168.1.5:8080")]).is_err());
        let secret = "s".repeat(40);
        assert!(cfg(&[("LISTEN_ADDR", "0.0.0.0:8080"), ("JWT_SECRET", &secret)]).is_ok());
        assert!(cfg(&[("LISTEN_ADDR", "127.0.0.1:9000")]).is_ok());
        assert!(cfg(&[("LISTEN_ADDR", "[::1]:9000")]).is_ok());
    }

    #[test]
    fn production_refuses_test_only_settings_unless_overridden() {
        let secret = "p".repeat(40);
        let prod = |extra: &[(&str, &str)]| {
            let mut pairs = vec![
                ("LEADGRAPH_ENV", "production"),
                ("JWT_SECRET", secret.as_str()),
                ("SECRETS_KEY", SECRETS_KEY_HEX),
            ];
            pairs.extend_from_slice(extra);
            cfg(&pairs)
        };
        for (key, value) in [
            ("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true"),
            ("RECORD_SQL", "true"),
            ("OUTBOUND_ALLOW_HOSTS", "127.0.0.1:9000"),
        ] {
            let err = prod(&[(key, value)]).unwrap_err();
            assert!(
                err.0.contains(key) && err.0.contains(ALLOW_UNSAFE_IN_PRODUCTION),
                "{}",
                err.0
            );
            let ok = prod(&[(key, value), (ALLOW_UNSAFE_IN_PRODUCTION, "true")]).unwrap();
            assert!(
                ok.outbound_allow_private_networks
                    || ok.record_sql
                    || !ok.outbound_allow_hosts.is_empty()
            );
        }
        // Off is fine, and development allows them.
        assert!(prod(&[
            ("RECORD_SQL", "false"),
            ("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "false")
        ])
        .is_ok());
        assert!(cfg(&[
            ("RECORD_SQL", "true"),
            ("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true")
        ])
        .is_ok());
    }

    #[test]
    fn trust_forwarded_for_is_refused_in_favour_of_trusted_proxies() {
        let err = cfg(&[("TRUST_FORWARDED_FOR", "true")]).unwrap_err();
        assert!(err.0.contains("TRUSTED_PROXIES"), "{}", err.0);
        // An old .env saying `false` still starts.
        assert!(cfg(&[("TRUST_FORWARDED_FOR", "false")]).is_ok());
        let c = cfg(&[("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1 ,::1/128")]).unwrap();
        assert_eq!(c.trusted_proxies.len(), 3);
        assert!(cfg(&[]).unwrap().trusted_proxies.is_empty());
        let err = cfg(&[("TRUSTED_PROXIES", "proxy.internal")]).unwrap_err();
        assert!(err.0.contains("TRUSTED_PROXIES"));
    }

    #[test]
    fn operator_hosts_are_the_configured_endpoints() {
        let c = cfg(&[("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")]).unwrap();
        let hosts = c.operator_hosts();
        assert!(hosts.contains(&AllowedHost {
            host: "127.0.0.1".into(),
            port: Some(11434)
        }));
        assert!(hosts.contains(&AllowedHost {
            host: "api.search.brave.com".into(),
            port: Some(443)
        }));
    }
}
