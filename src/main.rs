//! The `leadgraph` command: serve (default), migrate, rotate-secrets, export-schema,
//! compile-query.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use leadgraph::{config::Config, startup, telemetry, Application};

/// glibc malloc showed up as a quarter of the server's CPU profile under the nested-query load
/// (docs/BENCHMARKS.md); mimalloc is built for many small, short-lived, cross-thread allocations.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "leadgraph",
    version,
    about = "GraphQL backend for lead generation and outreach"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP, GraphQL, WebSocket subscriptions, the outbox relay and job workers (default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the SQL a query document compiles to on PostgreSQL (values inlined, one statement
    /// per line), as an owner of ORG; exits with an error when the resolvers would run it.
    CompileQuery {
        /// Organization id the viewer belongs to.
        #[arg(long)]
        org: uuid::Uuid,
        /// The GraphQL document.
        #[arg(long)]
        query: String,
        /// Variables (JSON object).
        #[arg(long, default_value = "{}")]
        variables: String,
    },
    /// Re-encrypt every secret stored in the database (SMTP passwords, provider API keys,
    /// webhook URLs) under the current SECRETS_KEY: values under a key of SECRETS_KEY_PREVIOUS
    /// and plain text from before encryption. Safe to run while servers run.
    RotateSecrets,
    /// Print the sorted GraphQL SDL, or write it to PATH.
    ExportSchema {
        /// Output file; stdout when omitted.
        path: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::ExportSchema { path }) => return export_schema(path.as_deref()),
        Some(Command::CompileQuery {
            org,
            query,
            variables,
        }) => return compile_query(*org, query, variables),
        _ => {}
    }
    let config = Config::from_env()?;
    telemetry::init_tracing(config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            let state = startup::build_state(config).await?;
            startup::migrate(&state).await?;
            tracing::info!("migrations applied");
        }
        Command::Serve => {
            tracing::info!(config = ?config, "starting");
            let app = Application::build(config).await?;
            let addr = app.local_addr()?;
            tracing::info!(addr = %addr, "listening");
            if app.state().config.graphiql_enabled {
                tracing::info!("GraphiQL at http://{addr}/graphiql");
            }
            app.run(true).await?;
            tracing::info!("stopped");
        }
        Command::RotateSecrets => rotate_secrets(config).await?,
        Command::ExportSchema { .. } | Command::CompileQuery { .. } => {}
    }
    Ok(())
}

/// `export-schema [PATH]`: the sorted SDL to PATH or stdout.
fn export_schema(path: Option<&std::path::Path>) -> anyhow::Result<()> {
    let sdl = leadgraph::graphql::export_sdl();
    match path {
        Some(p) => std::fs::write(p, sdl).with_context(|| format!("writing {}", p.display()))?,
        None => print!("{sdl}"),
    }
    Ok(())
}

/// `compile-query`: prints the SQL the compiled read path would run for a document.
fn compile_query(org: uuid::Uuid, query: &str, variables: &str) -> anyhow::Result<()> {
    let variables: serde_json::Value =
        serde_json::from_str(variables).context("--variables is not JSON")?;
    let mut request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables));
    let viewer = leadgraph::auth::Viewer {
        user_id: uuid::Uuid::nil(),
        org_id: org,
        role: leadgraph::auth::Role::Owner,
        via: leadgraph::auth::ViewerVia::Jwt,
        session_id: None,
    };
    let limits = Config::from_env()?.limits;
    let plan = leadgraph::graphql::compiled::plan_for(&limits, &mut request, &viewer)
        .context("not compiled: this document runs through the resolvers")?;
    for sql in plan.statements() {
        println!("{sql};");
    }
    Ok(())
}

/// `rotate-secrets`: re-encrypts every stored secret under `SECRETS_KEY`.
async fn rotate_secrets(config: Config) -> anyhow::Result<()> {
    let state = startup::build_state(config).await?;
    startup::migrate(&state).await?;
    let report = leadgraph::rotate_secrets::rotate_all(&state.db, &state.secrets).await?;
    tracing::info!(
        key_id = state.secrets.current_key_id(),
        resealed = report.resealed,
        already_current = report.current,
        failed = report.failed.len(),
        "secrets rotated"
    );
    for f in &report.failed {
        tracing::error!("{f}");
    }
    if !report.failed.is_empty() {
        anyhow::bail!(
            "{} stored secrets could not be decrypted with SECRETS_KEY or \
             SECRETS_KEY_PREVIOUS (left unchanged)",
            report.failed.len()
        );
    }
    Ok(())
}
