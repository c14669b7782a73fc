//! The server under test as a separate process (`leadgraph serve`), its environment, fresh
//! databases, and the signals the scenarios send it.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::gql::Gql;

/// Same secrets for every instance, so a token from one is valid at the other.
const JWT_SECRET: &str = "faults-jwt-secret-0123456789abcdef0123456789abcdef";
const SECRETS_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
pub const PASSWORD: &str = "faults password 123";

/// Where the dependencies and the binaries are.
#[derive(Clone)]
pub struct Env {
    /// `postgres://user@host:port/db` of a server where databases may be created.
    pub postgres_url: String,
    /// `redis://host:port`.
    pub redis_url: String,
    /// `target/release/leadgraph`.
    pub server_bin: PathBuf,
    /// Logs and scratch files.
    pub work_dir: PathBuf,
    /// `FAULTS_LONG=1`: more repetitions, longer outages.
    pub long: bool,
}

/// `host:port` of a `scheme://[user@]host:port[/path]` URL.
pub fn host_port(url: &str) -> anyhow::Result<String> {
    let rest = url.split_once("://").map(|(_, r)| r).context("no scheme")?;
    let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
    let hp = rest.split(['/', '?']).next().unwrap_or(rest);
    if !hp.contains(':') {
        bail!("{url} names no port");
    }
    Ok(hp.to_string())
}

/// `url` with its host:port replaced (to point it at a proxy).
pub fn via(url: &str, addr: std::net::SocketAddr) -> anyhow::Result<String> {
    let hp = host_port(url)?;
    Ok(url.replacen(&hp, &addr.to_string(), 1))
}

/// A free loopback port (bind to 0, read it, release it).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Env {
    /// A fresh, empty database named `faults_<name>_<pid>`; returns its URL.
    pub async fn fresh_db(&self, name: &str) -> anyhow::Result<String> {
        let db = format!("faults_{name}_{}", std::process::id());
        psql(&self.postgres_url, &format!("DROP DATABASE IF EXISTS {db}")).await?;
        psql(&self.postgres_url, &format!("CREATE DATABASE {db}")).await?;
        let base = self.postgres_url.trim_end_matches('/');
        let root = match base.rfind('/') {
            Some(i) if i > base.find("://").map(|j| j + 2).unwrap_or(0) => &base[..i],
            _ => base,
        };
        Ok(format!("{root}/{db}"))
    }
}

/// Runs one statement with `psql`; returns its unaligned, tuples-only output.
pub async fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        .stdin(Stdio::null())
        .output()
        .await
        .context("run psql")?;
    if !out.status.success() {
        bail!(
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// How to start one server process.
#[derive(Clone)]
pub struct ServerSpec {
    pub name: String,
    pub port: u16,
    pub database_url: String,
    pub redis_url: Option<String>,
    pub smtp_url: Option<String>,
    /// Extra or overriding variables.
    pub extra: BTreeMap<String, String>,
}

impl ServerSpec {
    pub fn new(name: &str, database_url: &str) -> anyhow::Result<ServerSpec> {
        Ok(ServerSpec {
            name: name.to_string(),
            port: free_port()?,
            database_url: database_url.to_string(),
            redis_url: None,
            smtp_url: None,
            extra: BTreeMap::new(),
        })
    }

    pub fn set(mut self, k: &str, v: impl ToString) -> Self {
        self.extra.insert(k.to_string(), v.to_string());
        self
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A running server process.
pub struct Server {
    pub spec: ServerSpec,
    child: Child,
    pub pid: u32,
    /// Starts so far (the log of start n is `server-<name>-<n>.log`).
    starts: u32,
}

impl Server {
    /// Starts the process and waits until `/livez` answers (at most 60 s: the first start
    /// migrates the database).
    pub async fn start(env: &Env, spec: ServerSpec) -> anyhow::Result<Server> {
        let (child, pid) = spawn(env, &spec, 1)?;
        let mut s = Server {
            spec,
            child,
            pid,
            starts: 1,
        };
        s.wait_live(Duration::from_secs(60)).await?;
        Ok(s)
    }

    /// Starts the same spec again after the process ended (crash scenarios).
    pub async fn restart(&mut self, env: &Env) -> anyhow::Result<()> {
        self.starts += 1;
        let (child, pid) = spawn(env, &self.spec, self.starts)?;
        self.child = child;
        self.pid = pid;
        self.wait_live(Duration::from_secs(30)).await
    }

    pub fn url(&self) -> String {
        self.spec.url()
    }

    async fn wait_live(&mut self, within: Duration) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + within;
        let url = format!("{}/livez", self.url());
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!("server {} exited during start-up: {status}", self.spec.name);
            }
            if matches!(http.get(&url).send().await, Ok(r) if r.status().is_success()) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("server {} not live within {within:?}", self.spec.name)
    }

    /// Sends a signal by name (`TERM`, `KILL`).
    pub async fn signal(&self, sig: &str) -> anyhow::Result<()> {
        let st = Command::new("kill")
            .args([format!("-{sig}"), self.pid.to_string()])
            .status()
            .await?;
        if !st.success() {
            bail!("kill -{sig} {} failed", self.pid);
        }
        Ok(())
    }

    /// Waits for the process to exit; its exit time, or None past `within`.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<Duration> {
        let t = Instant::now();
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(_) => Some(t.elapsed()),
            Err(_) => None,
        }
    }

    /// SIGKILL and reap.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

fn spawn(env: &Env, spec: &ServerSpec, start: u32) -> anyhow::Result<(Child, u32)> {
    let data_dir = env.work_dir.join(format!("data-{}", spec.name));
    std::fs::create_dir_all(&data_dir)?;
    let log = std::fs::File::create(
        env.work_dir
            .join(format!("server-{}-{start}.log", spec.name)),
    )?;
    let mut vars: BTreeMap<String, String> = [
        ("LISTEN_ADDR", format!("127.0.0.1:{}", spec.port)),
        ("PUBLIC_URL", spec.url()),
        ("DATA_DIR", data_dir.display().to_string()),
        ("DATABASE_URL", spec.database_url.clone()),
        ("REQUIRE_EMAIL_VERIFICATION", "false".into()),
        ("RATE_LIMIT_VIEWER_PER_MINUTE", "100000000".into()),
        ("RATE_LIMIT_LOGIN_PER_MINUTE", "100000000".into()),
        ("RATE_LIMIT_LOGIN_PER_ACCOUNT_PER_HOUR", "100000000".into()),
        ("RATE_LIMIT_REGISTER_PER_HOUR", "100000000".into()),
        ("WS_MAX_CONNECTIONS_PER_VIEWER", "20000".into()),
        ("DATABASE_MAX_CONNECTIONS", "20".into()),
        ("JWT_SECRET", JWT_SECRET.into()),
        ("SECRETS_KEY", SECRETS_KEY.into()),
        ("SENDING_DOMAINS_ALLOW_RESERVED", "true".into()),
        ("RUST_LOG", "warn,leadgraph=info".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(r) = &spec.redis_url {
        vars.insert("REDIS_URL".into(), r.clone());
    }
    if let Some(s) = &spec.smtp_url {
        vars.insert("SMTP_URL".into(), s.clone());
    }
    vars.extend(spec.extra.clone());
    let mut cmd = Command::new(&env.server_bin);
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .envs(&vars)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    let child = cmd.spawn().context("spawn the server")?;
    let pid = child.id().context("server pid")?;
    Ok((child, pid))
}

/// Registers a user with its own organization (idempotent) and logs in; returns the token.
pub async fn user(url: &str, email: &str) -> anyhow::Result<String> {
    let g = Gql::new(url)?;
    let r = g
        .run(
            "mutation($i: RegisterInput!) { register(input: $i) { user { id } } }",
            json!({"i": {"email": email, "password": PASSWORD, "name": "Faults", "organizationName": format!("Org of {email}")}}),
        )
        .await;
    if let Err(e) = r {
        if !e.to_string().contains("CONFLICT") {
            return Err(e.context("register"));
        }
    }
    let data = g
        .run(
            "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }",
            json!({"e": email, "p": PASSWORD}),
        )
        .await
        .context("login")?;
    data["login"]["accessToken"]
        .as_str()
        .map(str::to_string)
        .context("no accessToken")
}

/// Resident memory, open fds and threads of a process (for the soak).
pub fn proc_figures(pid: u32) -> Value {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(':'))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .ok();
    json!({"rss_kb": field("VmRSS"), "threads": field("Threads"), "fds": fds})
}

impl Env {
    /// From TEST_POSTGRES_URL and TEST_REDIS_URL (scripts/test --with-services).
    pub fn from_process(server_bin: &str, work_dir: &str, long: bool) -> anyhow::Result<Env> {
        let var = |k: &str| {
            std::env::var(k).with_context(|| format!("{k} is not set: run through scripts/faults"))
        };
        std::fs::create_dir_all(work_dir)?;
        Ok(Env {
            postgres_url: var("TEST_POSTGRES_URL")?,
            redis_url: var("TEST_REDIS_URL")?,
            server_bin: PathBuf::from(server_bin),
            work_dir: PathBuf::from(work_dir),
            long,
        })
    }
}
