//! TestApp: the real application on port 0 against a fresh database.

use std::{collections::HashMap, time::Duration};

use futures::{SinkExt, StreamExt};
use leadgraph::{
    auth::Role, jobs::JobRegistry, startup::ShutdownHandle, state::AppState, Application, Config,
};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, Message};
use uuid::Uuid;

/// Which backend this run uses.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

pub fn redis_url() -> Option<String> {
    std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A database URL for a fresh database (or SQLite file) with every migration applied.
///
/// On PostgreSQL the first call of the test process migrates one template database
/// (`leadgraph_tpl_<run id>`), and every call creates its database with
/// `CREATE DATABASE … TEMPLATE` from it: a file copy instead of ~20 migrations per app. The app's
/// own start-up migration then finds nothing pending. On SQLite the same holds with a file:
/// the first call migrates `lg-sqlite-tpl-<run id>.db` and every call copies it.
/// `LG_TEST_PG_TEMPLATE=0` / `LG_TEST_SQLITE_TEMPLATE=0` turn the templates off (an empty
/// database that the app migrates), to compare the two.
pub async fn fresh_database(dir: &std::path::Path) -> String {
    match postgres_url() {
        Some(admin) => {
            let template = match std::env::var("LG_TEST_PG_TEMPLATE").as_deref() {
                Ok("0") => None,
                _ => Some(postgres_template(&admin).await),
            };
            let name = format!("lg_test_{}", Uuid::now_v7().simple());
            let conn = Database::connect(admin.clone())
                .await
                .expect("connect admin postgres");
            create_database(&conn, &name, template).await;
            conn.close().await.ok();
            database_url(&admin, &name)
        }
        None => {
            let path = dir.join("test.db");
            if std::env::var("LG_TEST_SQLITE_TEMPLATE").as_deref() != Ok("0") {
                std::fs::copy(sqlite_template().await, &path).expect("copy the SQLite template");
            }
            format!("sqlite://{}?mode=rwc", path.display())
        }
    }
}

/// Removes SQLite templates that earlier test runs left over a day ago.
fn remove_stale_templates(dir: &std::path::Path) {
    let day = Duration::from_secs(24 * 3600);
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > day));
        if old
            && entry
                .file_name()
                .to_string_lossy()
                .starts_with("lg-sqlite-tpl-")
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The migrated SQLite template file of this test process, made by the first caller with the
/// app's own connection settings (one connection, WAL, foreign keys on), then switched to
/// rollback-journal mode so that the one file holds everything (the app turns WAL back on).
async fn sqlite_template() -> &'static std::path::Path {
    static TEMPLATE: tokio::sync::OnceCell<std::path::PathBuf> = tokio::sync::OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            use migration::MigratorTrait;
            let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("lg-sqlite-tpl-{}.db", std::process::id()));
            remove_stale_templates(path.parent().unwrap());
            let _ = std::fs::remove_file(&path);
            let mut opts =
                sea_orm::ConnectOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
            opts.max_connections(1)
                .min_connections(1)
                .sqlx_logging(false);
            let db = Database::connect(opts)
                .await
                .expect("open the SQLite template");
            for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON"] {
                db.execute_unprepared(pragma).await.expect(pragma);
            }
            migration::Migrator::up(&db, None)
                .await
                .expect("migrate the SQLite template");
            db.execute_unprepared("PRAGMA journal_mode=DELETE")
                .await
                .expect("checkpoint the SQLite template");
            db.close().await.expect("close the SQLite template");
            path
        })
        .await
}

/// `admin` with the database name replaced by `name`.
fn database_url(admin: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin).unwrap();
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// The migrated template database of this test process, made by the first caller.
async fn postgres_template(admin: &str) -> &'static str {
    static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            use migration::MigratorTrait;
            let name = format!("leadgraph_tpl_{}", Uuid::now_v7().simple());
            let conn = Database::connect(admin.to_string())
                .await
                .expect("connect admin postgres");
            create_database(&conn, &name, None).await;
            conn.close().await.ok();
            let tpl = Database::connect(database_url(admin, &name))
                .await
                .expect("connect template database");
            migration::Migrator::up(&tpl, None)
                .await
                .expect("migrate the template database");
            // CREATE DATABASE … TEMPLATE refuses a template that has other sessions.
            tpl.close().await.expect("close the template database");
            name
        })
        .await
}

/// `CREATE DATABASE name [TEMPLATE template]`. PostgreSQL refuses a copy while another session
/// is connected to the template (a just-closed pool's backends may still be exiting): retry.
async fn create_database(conn: &sea_orm::DatabaseConnection, name: &str, template: Option<&str>) {
    let sql = match template {
        Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
        None => format!("CREATE DATABASE {name}"),
    };
    for attempt in 0.. {
        match conn.execute_unprepared(&sql).await {
            Ok(_) => return,
            Err(e) if attempt < 50 && e.to_string().contains("being accessed by other users") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{sql}: {e}"),
        }
    }
}

pub struct TestApp {
    pub addr: String,
    pub state: AppState,
    pub dir: std::path::PathBuf,
    pub db_url: String,
    shutdown: ShutdownHandle,
    pub http: reqwest::Client,
}

pub type RegistryFn = Box<dyn FnOnce(&mut JobRegistry) + Send>;

#[derive(Default)]
pub struct Options {
    pub env: HashMap<String, String>,
    pub db_url: Option<String>,
    pub registry: Option<RegistryFn>,
    /// `host:port` of loopback fixture servers the app's guarded outbound client may reach
    /// (`OUTBOUND_ALLOW_HOSTS`); everything else private stays refused, as in production.
    pub allow_hosts: Vec<String>,
}

impl Options {
    /// Default options with these environment variables set for the app.
    pub fn with_env(pairs: &[(&str, &str)]) -> Options {
        Options {
            env: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    /// Default options that open exactly these fixture addresses to the outbound client.
    pub fn allowing<S: ToString>(hosts: &[S]) -> Options {
        Options {
            allow_hosts: hosts.iter().map(ToString::to_string).collect(),
            ..Default::default()
        }
    }
}

/// `host:port` of a URL such as a wiremock server's `uri()`.
pub fn host_of(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    format!(
        "{}:{}",
        u.host_str().unwrap(),
        u.port_or_known_default().unwrap()
    )
}

/// A rate-limit namespace per deployment: apps on one database share it (they are instances of
/// one deployment and must share budgets through Redis); apps on different databases never do,
/// so tests running in parallel cannot spend each other's per-IP budgets.
fn rate_limit_namespace(db_url: &str) -> String {
    let clean: String = db_url.chars().filter(char::is_ascii_alphanumeric).collect();
    let tail = clean.len().saturating_sub(48);
    format!("t{}", &clean[tail..])
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(opts: Options) -> TestApp {
        let started = std::time::Instant::now();
        let dir = std::env::temp_dir().join(format!("lg-test-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let db_url = match opts.db_url {
            Some(u) => u,
            None => fresh_database(&dir).await,
        };
        let database_ms = started.elapsed().as_millis();
        let mut env: HashMap<String, String> = HashMap::from([
            ("LISTEN_ADDR".into(), "127.0.0.1:0".into()),
            ("DATA_DIR".into(), dir.display().to_string()),
            ("DATABASE_URL".into(), db_url.clone()),
            ("WORKER_CONCURRENCY".into(), "2".into()),
            // Hundreds of apps share the test PostgreSQL: no idle connections kept warm.
            ("DATABASE_MIN_CONNECTIONS".into(), "1".into()),
            // Every client of every app is 127.0.0.1 (no X-Forwarded-For is trusted): per-IP
            // budgets shared through Redis stay apart through the key namespace instead.
            ("RATE_LIMIT_NAMESPACE".into(), rate_limit_namespace(&db_url)),
        ]);
        if !opts.allow_hosts.is_empty() {
            env.insert("OUTBOUND_ALLOW_HOSTS".into(), opts.allow_hosts.join(","));
        }
        if let Some(r) = redis_url() {
            env.insert("REDIS_URL".into(), r);
        }
        if let Ok(s) = std::env::var("TEST_SMTP_URL") {
            env.insert("SMTP_URL".into(), s);
        }
        env.extend(opts.env);
        let config = Config::from_lookup(|k| env.get(k).cloned()).expect("config");
        let registry_fn = opts.registry;
        let app = Application::build_with(config, move |_state, registry| {
            if let Some(f) = registry_fn {
                f(registry);
            }
        })
        .await
        .expect("build app");
        // `LG_TEST_SPAWN_TIMING=1` (with --nocapture) prints what each spawn spent on its
        // database: creating it and the app's build including its start-up migration.
        if std::env::var_os("LG_TEST_SPAWN_TIMING").is_some() {
            eprintln!(
                "lg-spawn-timing: database {database_ms} ms, build+migrate {} ms",
                started.elapsed().as_millis() - database_ms
            );
        }
        let addr = format!("127.0.0.1:{}", app.port());
        let state = app.state().clone();
        let shutdown = app.shutdown_handle();
        tokio::spawn(app.run(false));
        let http = reqwest::Client::new();
        TestApp {
            addr,
            state,
            dir,
            db_url,
            shutdown,
            http,
        }
    }

    /// Asks the application to shut down (as SIGTERM would).
    pub fn shutdown(&self) {
        self.shutdown.shutdown();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A token for a new user who is a member of `org` (created when missing) with `role`.
    pub async fn token(&self, org: Uuid, role: Role) -> String {
        self.ensure_org(org).await;
        self.member(org, role, "Tess").await.1
    }

    /// Creates organization `org` unless it exists.
    pub async fn ensure_org(&self, org: Uuid) {
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};
        let exists = entity::organization::Entity::find_by_id(org)
            .one(&self.state.db)
            .await
            .unwrap()
            .is_some();
        if !exists {
            let now = chrono::Utc::now();
            entity::organization::ActiveModel {
                id: Set(org),
                name: Set("Test Org".into()),
                slug: Set(format!("test-{}", org.simple())),
                timezone: Set("UTC".into()),
                logo_file_id: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&self.state.db)
            .await
            .unwrap();
        }
    }

    /// A new user named `name`, member of the existing organization `org` with `role`, and an
    /// access token of a live session of theirs: `(user id, token)`.
    pub async fn member(&self, org: Uuid, role: Role, name: &str) -> (Uuid, String) {
        use sea_orm::{ActiveModelTrait, Set};
        let now = chrono::Utc::now();
        let id = Uuid::now_v7();
        entity::user::ActiveModel {
            id: Set(id),
            email: Set(member_email(name, id)),
            name: Set(name.to_string()),
            password_hash: Set("not-a-hash".into()),
            email_verified_at: Set(Some(now)),
            avatar_file_id: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&self.state.db)
        .await
        .unwrap();
        entity::membership::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org),
            user_id: Set(id),
            role: Set(role.as_str().to_string()),
            created_at: Set(now),
        }
        .insert(&self.state.db)
        .await
        .unwrap();
        (id, self.session_token(id, org, role).await)
    }

    /// An access token of a new live session (refresh-token family) of `user` in `org`: the
    /// server accepts only tokens whose session is live and whose role is the member's.
    pub async fn session_token(&self, user: Uuid, org: Uuid, role: Role) -> String {
        self.session_token_for(user, org, role, leadgraph::auth::tokens::ACCESS_TOKEN_TTL)
            .await
    }

    /// [`TestApp::session_token`] with another token lifetime.
    pub async fn session_token_for(
        &self,
        user: Uuid,
        org: Uuid,
        role: Role,
        ttl: chrono::Duration,
    ) -> String {
        use sea_orm::{ActiveModelTrait, Set};
        let now = chrono::Utc::now();
        let family = Uuid::now_v7();
        entity::refresh_token::ActiveModel {
            id: Set(Uuid::now_v7()),
            family_id: Set(family),
            user_id: Set(user),
            org_id: Set(org),
            token_hash: Set(leadgraph::auth::secrets::digest(
                &Uuid::now_v7().to_string(),
            )),
            replaced_by: Set(None),
            expires_at: Set(now + chrono::Duration::days(30)),
            revoked_at: Set(None),
            created_at: Set(now),
        }
        .insert(&self.state.db)
        .await
        .unwrap();
        self.state
            .tokens
            .issue_for(user, org, role, Some(family), ttl)
            .unwrap()
            .0
    }

    pub async fn gql_raw(&self, token: Option<&str>, body: Value) -> reqwest::Response {
        let mut req = self.http.post(self.url("/graphql")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// Statements recorded (`RECORD_SQL=true`) since the last call, without the outbox relay's,
    /// job runners' and schedule ticker's own: those of the requests made meanwhile.
    pub fn request_statements(&self) -> Vec<String> {
        self.state
            .sql_log
            .take()
            .into_iter()
            .filter(|s| {
                // The per-request session check (`auth::sessions`) runs only when its cache
                // misses; `security_sessions::session_checks_are_cached` asserts its cost.
                !s.starts_with(r#"SELECT "refresh_tokens"."user_id", "refresh_tokens"."org_id""#)
                    && !s.starts_with(r#"SELECT "memberships"."role" FROM "memberships""#)
                    && !s.contains("outbox_events")
                    && !s.contains("\"jobs\"")
                    && !s.contains("FROM jobs")
                    && !s.contains("UPDATE jobs")
                    // The schedule ticker's poll (`webhooks::schedules::tick`, every 5 s).
                    && !(s.contains("FROM \"schedules\"") && s.contains("\"next_run_at\" <="))
            })
            .collect()
    }

    /// POSTs a query; returns the JSON body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        self.gql_raw(token, json!({"query": query, "variables": variables}))
            .await
            .json()
            .await
            .unwrap()
    }

    pub async fn ws(&self, protocol: &str) -> Ws {
        let mut req = format!("ws://{}/graphql/ws", self.addr)
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().unwrap());
        let (stream, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
        assert_eq!(
            resp.headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some(protocol)
        );
        Ws { stream }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.shutdown();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The email address [`TestApp::member`] gives a member named `name` with id `id`.
pub fn member_email(name: &str, id: Uuid) -> String {
    let local: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("{local}+{}@example.com", id.simple())
}

pub fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Ws {
    pub stream: WsStream,
}

pub enum Frame {
    Json(Value),
    Closed(Option<u16>, String),
}

impl Ws {
    pub async fn send(&mut self, v: Value) {
        self.stream
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_text(&mut self, t: &str) {
        self.stream
            .send(Message::Text(t.to_string().into()))
            .await
            .unwrap();
    }

    /// Next JSON message or the close frame, within `secs`.
    pub async fn next_frame(&mut self, secs: u64) -> Option<Frame> {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(secs), self.stream.next())
                .await
                .ok()?;
            match msg {
                Some(Ok(Message::Text(t))) => {
                    return Some(Frame::Json(serde_json::from_str(&t).unwrap()))
                }
                Some(Ok(Message::Close(f))) => {
                    return Some(Frame::Closed(
                        f.as_ref().map(|f| u16::from(f.code)),
                        f.map(|f| f.reason.to_string()).unwrap_or_default(),
                    ))
                }
                Some(Ok(_)) => continue,
                Some(Err(tungstenite::Error::ConnectionClosed)) | None => {
                    return Some(Frame::Closed(None, String::new()))
                }
                Some(Err(e)) => panic!("ws error: {e}"),
            }
        }
    }

    /// Next JSON message, skipping keep-alives.
    pub async fn next_json(&mut self, secs: u64) -> Value {
        loop {
            match self.next_frame(secs).await {
                Some(Frame::Json(v)) if v["type"] == "ping" || v["type"] == "ka" => continue,
                Some(Frame::Json(v)) => return v,
                Some(Frame::Closed(c, r)) => panic!("closed {c:?} {r}"),
                None => panic!("timed out waiting for a message"),
            }
        }
    }

    pub async fn expect_close(&mut self, secs: u64) -> u16 {
        loop {
            match self.next_frame(secs).await {
                Some(Frame::Json(_)) => continue,
                Some(Frame::Closed(Some(c), _)) => return c,
                Some(Frame::Closed(None, _)) => panic!("closed without a code"),
                None => panic!("timed out waiting for close"),
            }
        }
    }

    pub async fn init(&mut self, token: &str) {
        self.send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}})).await;
        let ack = self.next_json(5).await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
    }
}

/// Waits for an email to `to` (outbox dir in the embedded run, the SMTP sink's Maildir in the
/// production run) and returns its raw text with quoted-printable soft breaks undone.
pub async fn wait_for_mail(app: &TestApp, to: &str) -> String {
    wait_for_mail_containing(app, to, "").await
}

/// Like [`wait_for_mail`], for the first message to `to` that contains `needle`.
pub async fn wait_for_mail_containing(app: &TestApp, to: &str, needle: &str) -> String {
    let dir = match std::env::var("TEST_SMTP_MAILDIR") {
        Ok(d) if !d.is_empty() => std::path::PathBuf::from(d).join("new"),
        _ => app.dir.join("outbox"),
    };
    for _ in 0..200 {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let raw = std::fs::read_to_string(e.path()).unwrap_or_default();
                let raw = raw
                    .replace("=\r\n", "")
                    .replace("=\n", "")
                    .replace("=3D", "=");
                if raw.contains(to) && raw.contains(needle) {
                    return raw;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no mail to {to} in {}", dir.display());
}

/// The value after `marker` up to the next whitespace.
pub fn extract_after(raw: &str, marker: &str) -> String {
    let start = raw
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in {raw}"))
        + marker.len();
    raw[start..].split_whitespace().next().unwrap().to_string()
}

/// Writes `bytes` (a request head and as much of its body as the test wants to send) on a
/// new connection and reads one response without sending more. `None` when no complete
/// response arrives within `secs`: the server was waiting for the rest of the body.
pub async fn raw_exchange(addr: &str, bytes: &[u8], secs: u64) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(bytes).await.unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 8192];
    let done = tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => return !got.is_empty(),
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .and_then(|v| v.trim().parse::<usize>().ok())
                            })
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len {
                            return true;
                        }
                    }
                }
            }
        }
    })
    .await;
    matches!(done, Ok(true)).then(|| String::from_utf8_lossy(&got).to_string())
}

/// Postgres-only tests are `#[ignore = "postgres-only: …"]` and named `pg_only_…`: the
/// embedded run lists them as ignored (never as a vacuous pass) and scripts/test's production
/// run passes `--include-ignored`. Run without TEST_POSTGRES_URL they fail here.
pub fn require_postgres() -> String {
    postgres_url().expect(
        "postgres-only test: set TEST_POSTGRES_URL (scripts/test's production run does) \
         or run without --include-ignored",
    )
}

/// Like [`require_postgres`], for tests that also need TEST_REDIS_URL.
pub fn require_postgres_and_redis() -> (String, String) {
    (
        require_postgres(),
        redis_url().expect("postgres+redis-only test: set TEST_REDIS_URL as well"),
    )
}
