//! The `coldchain` binary: configuration, wiring and lifecycle. Thin on purpose: the
//! behaviour lives in the `store`, `ingest` and `api` crates.

mod config;

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use coldchain_api::routes::report::ReportFonts;
use coldchain_api::{ApiContext, BrokerReadiness};
use coldchain_ingest::Ingest;
use coldchain_store::{Store, StoreConfig, migrate};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{Cli, Command, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into()),
        )
        .init();
    let config = cli.config;
    info!(command = ?cli.command, config = %config.masked(), "coldchain starting");

    let store = prepare_database(&config).await?;
    if matches!(cli.command, Command::Migrate) {
        info!("migrations applied");
        return Ok(());
    }

    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    coldchain_ingest::metrics::describe();
    let metrics = coldchain_api::telemetry::install_recorder();

    let mut ingest_task = None;
    let mut broker_ready: Option<BrokerReadiness> = None;
    if matches!(cli.command, Command::Serve | Command::Ingest) {
        let ingest = Ingest::new(config.ingest(), store.clone());
        let state = ingest.state();
        broker_ready = Some(Arc::new(move || state.is_ready()));
        let shutdown = shutdown.clone();
        ingest_task = Some(tokio::spawn(async move { ingest.run(shutdown).await }));
        tokio::spawn(sweep_offline(store.clone()));
    }
    let mut api_task = None;
    if matches!(cli.command, Command::Serve | Command::Api) {
        let alert_feed = coldchain_api::live::AlertFeed::listen(&store);
        coldchain_api::webhooks::spawn(store.clone(), &alert_feed);
        let report_font = ReportFonts::new(&config.report_font);
        if let Err(e) = report_font.get() {
            warn!(error = %e, "PDF reports will answer 503 until the font is installed");
        }
        let ctx = ApiContext {
            store: store.clone(),
            metrics,
            broker_ready,
            alert_feed,
            report_font,
        };
        let app = coldchain_api::router(ctx, config.max_body_bytes);
        let listener = tokio::net::TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.http_addr))?;
        info!(addr = %config.http_addr, "HTTP API listening");
        let shutdown = shutdown.clone();
        api_task = Some(tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
        }));
    }

    if let Some(task) = ingest_task {
        task.await
            .context("ingest task failed")?
            .context("ingest failed")?;
        // The ingest stops only on shutdown; make sure the API follows.
        shutdown.cancel();
    }
    if let Some(task) = api_task {
        task.await
            .context("API task failed")?
            .context("HTTP server failed")?;
    }
    info!("coldchain stopped");
    Ok(())
}

/// Creates the database if needed and applies migrations, waiting for PostgreSQL to come up.
async fn prepare_database(config: &Config) -> anyhow::Result<Store> {
    let mut delay = std::time::Duration::from_millis(200);
    for attempt in 1.. {
        match migrate::ensure_database(&config.database_url).await {
            Ok(created) => {
                if created {
                    info!("created the database");
                }
                break;
            }
            Err(e) if attempt < 30 => {
                tracing::warn!(error = %e, attempt, "database not reachable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(5));
            }
            Err(e) => {
                return Err(e).context(
                    "cannot reach PostgreSQL; check DATABASE_URL and that the server is running",
                );
            }
        }
    }
    let store = Store::connect_lazy(&StoreConfig {
        max_connections: config.db_max_connections,
        ..StoreConfig::new(&config.database_url)
    })
    .context("DATABASE_URL is not a valid PostgreSQL URL")?;
    store.migrate().await.context("applying migrations")?;
    let timescale = store.timescaledb_enabled().await.unwrap_or(false);
    info!(timescaledb = timescale, "database schema up to date");
    Ok(store)
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    info!("signal received: shutting down");
    shutdown.cancel();
}

/// Every 30 s, reports loggers of shipments under way that have sent nothing for their
/// profile's `offline_after` (the wall-clock side of the offline rule). Several ingest
/// instances may all sweep: alerts are keyed, so a silence is reported once.
async fn sweep_offline(store: coldchain_store::Store) {
    let mut ticker = tokio::time::interval(std::time::Duration::from_secs(30));
    loop {
        ticker.tick().await;
        match store.sweep_offline(chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(opened = n, "loggers gone silent"),
            Err(error) => tracing::warn!(%error, "offline sweep failed"),
        }
    }
}
