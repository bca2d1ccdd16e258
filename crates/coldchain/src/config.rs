//! The one typed configuration, from flags and environment variables.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use coldchain_ingest::IngestConfig;

#[derive(Debug, Parser)]
#[command(
    name = "coldchain",
    version,
    about = "Cold-chain telemetry: MQTT in, PostgreSQL, HTTP API out"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum Command {
    /// Ingest and HTTP API in one process.
    Serve,
    /// Only the MQTT ingest (run several behind one shared subscription to scale).
    Ingest,
    /// Only the HTTP API.
    Api,
    /// Create the database if needed, apply migrations, exit.
    Migrate,
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// PostgreSQL URL; the database is created if it does not exist.
    #[arg(
        long,
        env = "DATABASE_URL",
        global = true,
        default_value = "postgres://postgres@127.0.0.1:5432/coldchain"
    )]
    pub database_url: String,
    #[arg(
        long,
        env = "COLDCHAIN_DB_MAX_CONNECTIONS",
        global = true,
        default_value_t = 10
    )]
    pub db_max_connections: u32,
    /// Broker URL: mqtt://[user:password@]host[:port].
    #[arg(
        long,
        env = "MQTT_URL",
        global = true,
        default_value = "mqtt://127.0.0.1:1883"
    )]
    pub mqtt_url: String,
    /// MQTT client id; keep it stable per instance so the broker keeps its session.
    #[arg(
        long,
        env = "COLDCHAIN_MQTT_CLIENT_ID",
        global = true,
        default_value = "coldchain-ingest-1"
    )]
    pub mqtt_client_id: String,
    /// Shared-subscription group; empty for an unshared subscription.
    #[arg(
        long,
        env = "COLDCHAIN_SHARE_GROUP",
        global = true,
        default_value = "coldchain"
    )]
    pub share_group: String,
    /// Readings (and rejections) per batch.
    #[arg(
        long,
        env = "COLDCHAIN_BATCH_SIZE",
        global = true,
        default_value_t = 500
    )]
    pub batch_size: usize,
    /// Milliseconds a batch waits for more messages before it is written anyway.
    #[arg(
        long,
        env = "COLDCHAIN_BATCH_LINGER_MS",
        global = true,
        default_value_t = 200
    )]
    pub batch_linger_ms: u64,
    /// Largest telemetry payload accepted, in bytes.
    #[arg(long, env = "COLDCHAIN_MAX_PAYLOAD_BYTES", global = true, default_value_t = 256 * 1024)]
    pub max_payload_bytes: usize,
    /// HTTP listen address.
    #[arg(
        long,
        env = "COLDCHAIN_HTTP_ADDR",
        global = true,
        default_value = "127.0.0.1:8080"
    )]
    pub http_addr: SocketAddr,
    /// Largest HTTP request body accepted, in bytes.
    #[arg(long, env = "COLDCHAIN_MAX_BODY_BYTES", global = true, default_value_t = coldchain_api::DEFAULT_BODY_LIMIT)]
    pub max_body_bytes: usize,
    /// The font PDF reports are set in: one face with Latin and CJK glyphs (English and
    /// Chinese reports), embedded in each report.
    #[arg(
        long,
        env = "COLDCHAIN_REPORT_FONT",
        global = true,
        default_value = coldchain_api::routes::report::DEFAULT_FONT_PATH
    )]
    pub report_font: std::path::PathBuf,
}

impl Config {
    pub fn ingest(&self) -> IngestConfig {
        let mut c = IngestConfig::new(&self.mqtt_url, &self.mqtt_client_id);
        c.share_group = (!self.share_group.is_empty()).then(|| self.share_group.clone());
        c.batch_size = self.batch_size;
        c.batch_linger = Duration::from_millis(self.batch_linger_ms);
        c.max_payload_bytes = self.max_payload_bytes;
        c
    }

    /// The configuration with passwords in URLs replaced by `***`, for the start-up log.
    pub fn masked(&self) -> MaskedConfig<'_> {
        MaskedConfig(self)
    }
}

pub struct MaskedConfig<'a>(&'a Config);

fn mask_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => raw.to_owned(),
        Err(_) => "<unparseable URL>".to_owned(),
    }
}

impl fmt::Display for MaskedConfig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        write!(
            f,
            "database_url={} db_max_connections={} mqtt_url={} mqtt_client_id={} share_group={:?} \
             batch_size={} batch_linger_ms={} max_payload_bytes={} http_addr={} max_body_bytes={} \
             report_font={}",
            mask_url(&c.database_url),
            c.db_max_connections,
            mask_url(&c.mqtt_url),
            c.mqtt_client_id,
            c.share_group,
            c.batch_size,
            c.batch_linger_ms,
            c.max_payload_bytes,
            c.http_addr,
            c.max_body_bytes,
            c.report_font.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_in_the_startup_line() {
        let cli = Cli::parse_from([
            "coldchain",
            "serve",
            "--database-url",
            "postgres://app:hunter2@db/coldchain",
            "--mqtt-url",
            "mqtt://ingest:s3cret@broker:1883",
        ]);
        let shown = cli.config.masked().to_string();
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cret"),
            "{shown}"
        );
        assert!(shown.contains("app:***@db"), "{shown}");
    }
}
