//! PostgreSQL storage for coldchain (TimescaleDB when the extension is present): the
//! migrations runner, one repository module per concept, and the batch writer the ingest
//! commits through. SQL lives here in plain sight; nothing above this crate writes SQL.

pub mod alerts;
pub mod batch;
pub mod devices;
pub mod error;
pub mod journey;
pub mod migrate;
pub mod profiles;
#[macro_use]
pub mod readings;
pub mod rejected;
pub mod timeline;
// `shipments` and `readings` before `record`, which reads shipments with the same columns
// and readings with the same join.
#[macro_use]
pub mod shipments;
pub mod record;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::OnceCell;

pub use batch::{Batch, BatchOutcome, PendingEvents, PendingReadings, PendingRejection};
pub use error::StoreError;

/// A handle on the database. Cheap to clone: it is a connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
    /// Whether TimescaleDB is installed, asked once and kept.
    timescaledb: Arc<OnceCell<bool>>,
}

/// How to reach the database and how many connections to hold.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub url: String,
    pub max_connections: u32,
    /// How long a caller waits for a connection before getting an error; short, so the API
    /// answers 503 and the ingest backs off instead of hanging while the database is away.
    pub acquire_timeout: Duration,
}

impl StoreConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl Store {
    /// Opens a pool lazily: no connection is made until the first query, so a process can
    /// start while the database is still coming up and retry on its own schedule.
    pub fn connect_lazy(config: &StoreConfig) -> Result<Self, StoreError> {
        let options: PgConnectOptions = config.url.parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(config.acquire_timeout)
            .test_before_acquire(true)
            .connect_lazy_with(options.application_name("coldchain"));
        Ok(Self::from_pool(pool))
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            timescaledb: Arc::default(),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// True when a trivial query succeeds; used by readiness checks.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Creates the tenant row, with the preset product profiles, if it does not exist yet.
    /// Tenants are implicit until API keys exist: the first write that names a tenant brings
    /// it into being.
    pub(crate) async fn ensure_tenant(
        tx: &mut sqlx::PgConnection,
        tenant: &coldchain_domain::TenantId,
    ) -> Result<(), StoreError> {
        let created =
            sqlx::query("INSERT INTO tenants (id) VALUES ($1) ON CONFLICT (id) DO NOTHING")
                .bind(tenant.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if created > 0 {
            Self::ensure_presets(tx, tenant).await?;
        }
        Ok(())
    }
}
