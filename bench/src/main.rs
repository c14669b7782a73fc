//! `lg-bench`: measurements behind docs/BENCHMARKS.md. Every subcommand prints one JSON object
//! so the driver scripts in bench/ can compute ratios per round.

mod faults;
mod gql;
mod identity;
mod proxy;
mod redis_hop;
mod smtp_sink;
mod soak;
mod upload;
mod validate;
mod ws;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "lg-bench", about = "Leadgraph benchmark tool")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The fault-injection suite (issue 23): starts the release server as separate processes
    /// behind fault proxies and prints PASS/FAIL per scenario; exits 1 when any failed. Needs
    /// TEST_POSTGRES_URL and TEST_REDIS_URL (`scripts/faults` provides everything).
    Faults {
        /// Scenarios: redis, sigterm, postgres, smtp, crash, crash-scrape, crash-import, or all.
        #[arg(default_value = "all")]
        scenarios: Vec<String>,
        #[arg(long, default_value = "target/release/leadgraph")]
        server_bin: String,
        /// Server logs and data go here (kept for inspection).
        #[arg(long)]
        work_dir: String,
        /// More repetitions and longer outages (FAULTS_LONG=1).
        #[arg(long)]
        long: bool,
    },
    /// A standalone TCP fault proxy with a line-based control port
    /// (`echo 'latency 500' | nc HOST CONTROL`; modes: pass, latency MS, bandwidth BPS,
    /// stall, blackhole, down; action: reset). Runs until killed.
    Proxy {
        #[arg(long)]
        listen: String,
        #[arg(long)]
        upstream: String,
        #[arg(long)]
        control: String,
    },
    /// The soak (issue 23, not in CI): 200 subscribers, 50 HTTP clients and a paced campaign
    /// against one release server for `minutes`; samples RSS, open fds, threads, WebSocket and
    /// database connections every `every_secs` to `csv`, and judges the growth.
    Soak {
        #[arg(long, default_value = "target/release/leadgraph")]
        server_bin: String,
        #[arg(long)]
        work_dir: String,
        #[arg(long, default_value_t = 30.0)]
        minutes: f64,
        #[arg(long, default_value_t = 10)]
        every_secs: u64,
        #[arg(long)]
        csv: String,
    },
    /// A fast SMTP sink that counts accepted messages (send benchmark, figure h); writes
    /// `{count, first, last}` to `status` every 100 ms; runs until killed.
    SmtpSink {
        #[arg(long, default_value = "127.0.0.1:2525")]
        listen: String,
        #[arg(long)]
        status: String,
    },
    /// Time one Argon2id hash with the server's parameters; the machine's login limit is
    /// cores ÷ that time.
    Argon2 {
        /// Hashes to time (the median is reported).
        #[arg(long, default_value_t = 30)]
        samples: usize,
    },
    /// Register `count` users (the server must run with REQUIRE_EMAIL_VERIFICATION=false).
    SetupUsers {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 64)]
        count: usize,
        #[arg(long, default_value = "bench password 123")]
        password: String,
    },
    /// Closed-loop login saturation, with a `{ __typename }` probe at a fixed rate alongside.
    LoginSaturation {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 64)]
        users: usize,
        #[arg(long, default_value = "bench password 123")]
        password: String,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Probe requests per second (0 = no probe).
        #[arg(long, default_value_t = 20.0)]
        probe_rate: f64,
    },
    /// Open-loop logins at a fixed rate; latency counted from the intended send time.
    LoginOpen {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 64)]
        users: usize,
        #[arg(long, default_value = "bench password 123")]
        password: String,
        #[arg(long)]
        rate: f64,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// Closed-loop saturation with one GraphQL query (every response checked for errors).
    Query {
        #[arg(long)]
        url: String,
        #[arg(long)]
        token: String,
        #[arg(long)]
        query: String,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// Subscription fan-out (figure c): N graphql-transport-ws subscribers of
    /// `events(types: [LEAD_CREATED])`, M createLead mutations at a fixed rate; delivery ratio,
    /// latency (arrival − intended send time), server RSS per subscribed connection.
    /// Needs `ulimit -n` above N.
    Ws {
        /// Server base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: String,
        #[arg(long)]
        token: String,
        #[arg(long, default_value_t = 1000)]
        subscribers: usize,
        /// Handshakes in flight at once while connecting.
        #[arg(long, default_value_t = 200)]
        handshake_concurrency: usize,
        #[arg(long, default_value_t = 100)]
        mutations: usize,
        /// Mutations per second (open loop).
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        /// The server's pid (RSS from /proc/<pid>/status, CPU from /proc/<pid>/stat).
        #[arg(long)]
        server_pid: Option<u32>,
        /// Seconds to wait after the last mutation for outstanding deliveries.
        #[arg(long, default_value_t = 30.0)]
        drain_secs: f64,
    },
    /// Raw Redis PUBLISH → pattern-subscriber latency (one subscriber connection).
    RedisHop {
        #[arg(long)]
        redis_url: String,
        #[arg(long, default_value_t = 1000)]
        messages: usize,
        /// Messages per second (open loop).
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
        /// Payload padding, about the size of a published event envelope.
        #[arg(long, default_value_t = 300)]
        payload_bytes: usize,
    },
    /// Contact validation at volume (issue 27): `validateContacts` of `addresses` emails over
    /// `domains` domains against a fake DNS this command runs on `dns_listen` (the server's
    /// `DNS_NAMESERVER`), against a bare loop of the same MX lookups; the fake's query count.
    Validate {
        #[arg(long)]
        url: String,
        #[arg(long)]
        token: String,
        #[arg(long)]
        dns_listen: String,
        #[arg(long, default_value_t = 10_000)]
        addresses: usize,
        #[arg(long, default_value_t = 500)]
        domains: usize,
        #[arg(long, default_value_t = 200)]
        batch: usize,
    },
    /// `count` uploads of `size_mb` MiB through the server's `uploadFile` (ATTACHMENT),
    /// `concurrency` at once (bench/places.sh).
    Upload {
        #[arg(long)]
        url: String,
        #[arg(long)]
        token: String,
        #[arg(long, default_value_t = 100)]
        count: usize,
        #[arg(long, default_value_t = 10)]
        size_mb: usize,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// The same files written straight to an S3-compatible server with `object_store`, as the
    /// server's storage writes them (credentials from the AWS variables).
    RawPut {
        /// e.g. http://127.0.0.1:5000
        #[arg(long)]
        endpoint: String,
        #[arg(long)]
        bucket: String,
        #[arg(long, default_value_t = 100)]
        count: usize,
        #[arg(long, default_value_t = 10)]
        size_mb: usize,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Sequential refresh-token rotations; reports latency percentiles.
    Refresh {
        #[arg(long)]
        url: String,
        #[arg(long, default_value = "bench password 123")]
        password: String,
        #[arg(long, default_value_t = 500)]
        iterations: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let out = match Cli::parse().command {
        Command::Faults {
            scenarios,
            server_bin,
            work_dir,
            long,
        } => {
            let env = faults::Env::from_process(&server_bin, &work_dir, long)?;
            let ok = faults::run(&scenarios, env).await?;
            std::process::exit(if ok { 0 } else { 1 });
        }
        Command::Proxy {
            listen,
            upstream,
            control,
        } => {
            proxy::run(&listen, &upstream, &control).await?;
            return Ok(());
        }
        Command::Soak {
            server_bin,
            work_dir,
            minutes,
            every_secs,
            csv,
        } => {
            let env = faults::Env::from_process(&server_bin, &work_dir, true)?;
            soak::run(env, minutes, every_secs, &csv).await?
        }
        Command::Argon2 { samples } => identity::argon2_limit(samples).await?,
        Command::SmtpSink { listen, status } => smtp_sink::run(&listen, &status).await?,
        Command::Query {
            url,
            token,
            query,
            concurrency,
            seconds,
        } => gql::saturate(&url, &token, &query, concurrency, seconds).await?,
        Command::SetupUsers {
            url,
            count,
            password,
        } => identity::setup_users(&url, count, &password).await?,
        Command::LoginSaturation {
            url,
            users,
            password,
            concurrency,
            seconds,
            probe_rate,
        } => {
            identity::login_saturation(&url, users, &password, concurrency, seconds, probe_rate)
                .await?
        }
        Command::LoginOpen {
            url,
            users,
            password,
            rate,
            seconds,
        } => identity::login_open(&url, users, &password, rate, seconds).await?,
        Command::Ws {
            url,
            token,
            subscribers,
            handshake_concurrency,
            mutations,
            rate,
            server_pid,
            drain_secs,
        } => {
            ws::fanout(ws::WsRun {
                url,
                token,
                subscribers,
                handshake_concurrency,
                mutations,
                rate,
                server_pid,
                drain_secs,
            })
            .await?
        }
        Command::RedisHop {
            redis_url,
            messages,
            rate,
            payload_bytes,
        } => redis_hop::hop(&redis_url, messages, rate, payload_bytes).await?,
        Command::Refresh {
            url,
            password,
            iterations,
        } => identity::refresh(&url, &password, iterations).await?,
        Command::Validate {
            url,
            token,
            dns_listen,
            addresses,
            domains,
            batch,
        } => {
            validate::run(validate::Run {
                url,
                token,
                dns_listen,
                addresses,
                domains,
                batch,
            })
            .await?
        }
        Command::Upload {
            url,
            token,
            count,
            size_mb,
            concurrency,
        } => upload::through_server(&url, &token, count, size_mb, concurrency).await?,
        Command::RawPut {
            endpoint,
            bucket,
            count,
            size_mb,
            concurrency,
        } => upload::raw_puts(&endpoint, &bucket, count, size_mb, concurrency).await?,
    };
    println!("{out}");
    Ok(())
}
