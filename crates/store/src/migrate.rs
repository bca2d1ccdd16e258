//! Schema migrations, embedded from the repository's `migrations/` folder, and the one-time
//! creation of the database itself so `coldchain serve` works on a fresh PostgreSQL.

use sqlx::Postgres;
use sqlx::migrate::{MigrateDatabase, Migrator};

use crate::{Store, StoreError};

/// The ordered SQL files in `migrations/`, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// Creates the database named in `url` when it does not exist yet.
pub async fn ensure_database(url: &str) -> Result<bool, StoreError> {
    if Postgres::database_exists(url).await? {
        return Ok(false);
    }
    match Postgres::create_database(url).await {
        Ok(()) => Ok(true),
        // Another process won the race to create it.
        Err(_) if Postgres::database_exists(url).await? => Ok(false),
        Err(e) => Err(e.into()),
    }
}

impl Store {
    /// Applies every migration not yet applied. Safe to run from several processes at once:
    /// sqlx serialises them with an advisory lock.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Whether TimescaleDB is installed, so `readings` is a hypertable (decided when the
    /// migrations ran); asked once per store.
    pub async fn timescaledb_enabled(&self) -> Result<bool, StoreError> {
        let enabled = self
            .timescaledb
            .get_or_try_init(|| {
                sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')",
                )
                .fetch_one(&self.pool)
            })
            .await?;
        Ok(*enabled)
    }
}
