//! Test harness for coldchain's end-to-end tests: a fresh database per test on a real
//! PostgreSQL, a private Mosquitto per test started with the repository's own configuration,
//! a TCP proxy that can cut the database away, and small helpers to publish and to poll.
//!
//! PostgreSQL: `DATABASE_URL` names the server (any database on it; the harness creates and
//! drops its own), defaulting to the local `postgres://postgres@127.0.0.1:5432/postgres`.
//! Mosquitto: the `mosquitto` binary must be on PATH (Debian: `apt-get install mosquitto`).

pub mod fixtures;
pub mod latency;
pub use fixtures::*;

use std::future::Future;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use coldchain_ingest::{Ingest, IngestConfig, IngestState};
use coldchain_store::{Store, StoreConfig};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free TCP port on 127.0.0.1")
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ------------------------------------------------------------------------------------------
// PostgreSQL

/// A database created for one test and dropped (forcefully) when the value is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
    admin_url: String,
}

fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn with_database(url: &str, db: &str) -> String {
    let mut u = url::Url::parse(url).expect("DATABASE_URL is not a URL");
    u.set_path(&format!("/{db}"));
    u.to_string()
}

impl TestDb {
    pub async fn create() -> TestDb {
        let admin_url = server_url();
        let name = unique("cc_test");
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "cannot reach PostgreSQL at {admin_url} ({e}). Start it \
                 (pg_ctlcluster --skip-systemctl-redirect 15 main start) or set DATABASE_URL; \
                 install it with apt-get install postgresql"
                )
            });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .expect("CREATE DATABASE");
        let url = with_database(&admin_url, &name);
        TestDb {
            name,
            url,
            admin_url,
        }
    }

    /// A migrated store on this database, optionally through another address (a proxy).
    pub async fn store_via(&self, addr: Option<SocketAddr>) -> Store {
        let url = match addr {
            None => self.url.clone(),
            Some(addr) => {
                let mut u = url::Url::parse(&self.url).expect("url");
                u.set_host(Some(&addr.ip().to_string())).expect("host");
                u.set_port(Some(addr.port())).expect("port");
                u.to_string()
            }
        };
        let store = Store::connect_lazy(&StoreConfig {
            acquire_timeout: Duration::from_secs(2),
            ..StoreConfig::new(url)
        })
        .expect("store");
        store.migrate().await.expect("migrations");
        store
    }

    pub async fn store(&self) -> Store {
        self.store_via(None).await
    }

    /// The connection URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs outside async context; a short-lived runtime on its own thread does it.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await?;
                Ok::<_, sqlx::Error>(())
            })
            .map_err(std::io::Error::other)
        })
        .join();
    }
}

// ------------------------------------------------------------------------------------------
// Mosquitto

/// A private Mosquitto on a free port, configured by the repository's `config/mosquitto.conf`
/// (only the listener port and the persistence folder are rewritten).
pub struct Broker {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

impl Broker {
    pub async fn start() -> Broker {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let repo_conf = std::fs::read_to_string(repo_root().join("config/mosquitto.conf"))
            .expect("config/mosquitto.conf");
        let conf: String = repo_conf
            .lines()
            .map(|line| {
                if line.starts_with("listener ") {
                    format!("listener {port} 127.0.0.1")
                } else if line.starts_with("persistence_location ") {
                    format!("persistence_location {}/", dir.path().display())
                } else {
                    line.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let conf_path = dir.path().join("mosquitto.conf");
        std::fs::write(&conf_path, conf).expect("write mosquitto.conf");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start mosquitto ({e}); install it with apt-get install mosquitto")
            });
        let broker = Broker {
            port,
            child,
            _dir: dir,
        };
        eventually("mosquitto to listen", Duration::from_secs(10), || async {
            TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| ())
        })
        .await;
        broker
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Publishes every (topic, payload) at QoS 1 with a fresh client and returns once the
/// broker acknowledged them all.
pub async fn publish_all(broker: &Broker, messages: Vec<(String, Vec<u8>)>) {
    publish_to(broker.port, messages).await
}

/// [`publish_all`] by port, for publishers spawned on their own tasks.
pub async fn publish_to(port: u16, messages: Vec<(String, Vec<u8>)>) {
    let mut options = MqttOptions::new(unique("pub"), "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_inflight(200);
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 100);
    let expected = messages.len();
    let sender = tokio::spawn(async move {
        for (topic, payload) in messages {
            client
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .await
                .expect("queue publish");
        }
        client
    });
    let mut acked = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked < expected {
        assert!(
            Instant::now() < deadline,
            "broker acknowledged {acked} of {expected} publishes"
        );
        match tokio::time::timeout(Duration::from_secs(10), eventloop.poll()).await {
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => acked += 1,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("publisher connection failed: {e}"),
            Err(_) => panic!("publisher stalled after {acked} of {expected} acks"),
        }
    }
    let client = sender.await.expect("sender");
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(1), eventloop.poll()).await;
}

// ------------------------------------------------------------------------------------------
// The ingest under test

/// An ingest running in a task; dropping the handle's task (abort) is a crash.
pub struct RunningIngest {
    pub task: JoinHandle<()>,
    pub shutdown: CancellationToken,
    pub state: Arc<IngestState>,
}

pub fn ingest_config(broker: &Broker, client_id: &str) -> IngestConfig {
    let mut config = IngestConfig::new(broker.url(), client_id);
    config.share_group = Some(unique("g"));
    config.batch_linger = Duration::from_millis(50);
    config
}

pub fn start_ingest(config: IngestConfig, store: Store) -> RunningIngest {
    let ingest = Ingest::new(config, store);
    let state = ingest.state();
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let task = tokio::spawn(async move {
        ingest.run(token).await.expect("ingest config");
    });
    RunningIngest {
        task,
        shutdown,
        state,
    }
}

impl RunningIngest {
    /// Waits until the broker granted the subscription: from then on nothing published is
    /// missed.
    pub async fn wait_connected(&self) {
        let state = self.state.clone();
        eventually("the ingest to subscribe", Duration::from_secs(10), || {
            let state = state.clone();
            async move { state.is_ready().then_some(()) }
        })
        .await;
    }

    /// Waits until the ingest has taken at least `n` messages from the broker.
    pub async fn wait_received(&self, n: u64) {
        self.wait_counter("messages received", n, |s| &s.messages_received)
            .await
    }

    /// Waits until the ingest has acknowledged at least `n` messages to the broker.
    pub async fn wait_acked(&self, n: u64) {
        self.wait_counter("messages acknowledged", n, |s| &s.messages_acked)
            .await
    }

    async fn wait_counter(
        &self,
        what: &str,
        n: u64,
        counter: fn(&IngestState) -> &std::sync::atomic::AtomicU64,
    ) {
        let state = self.state.clone();
        eventually(&format!("{n} {what}"), Duration::from_secs(60), || {
            let state = state.clone();
            async move { (counter(&state).load(Ordering::Relaxed) >= n).then_some(()) }
        })
        .await;
    }

    /// A crash: every stage stops at once, nothing more is committed or acknowledged.
    pub async fn crash(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("ingest stops within 30 s")
            .expect("ingest task");
    }
}

// ------------------------------------------------------------------------------------------
// A TCP proxy that can cut the database away

/// Forwards connections to `target`. `cut()` drops every open connection and refuses new
/// ones until `restore()`: the database "goes away" without touching the shared server.
pub struct TcpProxy {
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let cut = Arc::new(AtomicBool::new(false));
        let (generation, _) = watch::channel(0_u64);
        let task = {
            let cut = cut.clone();
            let generation = generation.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    if cut.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let mut cut_rx = generation.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut outbound) = TcpStream::connect(target).await else {
                            return;
                        };
                        let mut inbound = inbound;
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut_rx.changed() => {}
                        }
                    });
                }
            })
        };
        TcpProxy {
            addr,
            cut,
            generation,
            task,
        }
    }

    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The address of the PostgreSQL server the tests use.
pub fn database_addr() -> SocketAddr {
    let url = url::Url::parse(&server_url()).expect("DATABASE_URL");
    let host = url.host_str().unwrap_or("127.0.0.1");
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{}", url.port().unwrap_or(5432))
        .parse()
        .expect("DATABASE_URL host must be an IP address or localhost for the proxy tests")
}

// ------------------------------------------------------------------------------------------
// HTTP API

/// Serves the real router for `store` on a free local port; returns its base URL. The server
/// lives as long as the test's runtime.
pub async fn serve_api(store: Store) -> String {
    serve_api_with_font(store, coldchain_api::routes::report::ReportFonts::default()).await
}

/// [`serve_api`] with the reports set in another font (or a missing one).
pub async fn serve_api_with_font(
    store: Store,
    report_font: coldchain_api::routes::report::ReportFonts,
) -> String {
    let ctx = coldchain_api::ApiContext {
        alert_feed: coldchain_api::live::AlertFeed::listen(&store),
        store,
        metrics: coldchain_api::telemetry::install_recorder(),
        broker_ready: None,
        report_font,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind api");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        axum::serve(
            listener,
            coldchain_api::router(ctx, coldchain_api::DEFAULT_BODY_LIMIT),
        )
        .await
        .expect("serve api");
    });
    base
}

/// The API as if it were its own process: its own runtime on its own thread, with its own
/// connections and its own notification listener. `kill` drops the runtime, which ends every
/// task and connection at once, as a killed process would.
pub struct ApiProcess {
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ApiProcess {
    /// Starts on `port` (0 for any free port).
    pub fn start(database_url: &str, port: u16) -> ApiProcess {
        let url = database_url.to_owned();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let store = Store::connect_lazy(&StoreConfig::new(url)).expect("store");
                let alert_feed = coldchain_api::live::AlertFeed::listen(&store);
                // The API process delivers webhooks too, as `coldchain serve` and `api` do.
                coldchain_api::webhooks::spawn(store.clone(), &alert_feed);
                let ctx = coldchain_api::ApiContext {
                    alert_feed,
                    store,
                    metrics: coldchain_api::telemetry::install_recorder(),
                    broker_ready: None,
                    report_font: coldchain_api::routes::report::ReportFonts::default(),
                };
                let listener = TcpListener::bind(("127.0.0.1", port))
                    .await
                    .expect("bind api");
                let base = format!("http://{}", listener.local_addr().expect("addr"));
                ready_tx.send(base).expect("report the address");
                tokio::select! {
                    served = axum::serve(
                        listener,
                        coldchain_api::router(ctx, coldchain_api::DEFAULT_BODY_LIMIT),
                    ) => served.expect("serve api"),
                    _ = stop_rx => {}
                }
            });
            runtime.shutdown_background();
        });
        let base = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the API process started");
        ApiProcess {
            base,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port")
    }

    /// Stops everything at once.
    pub fn kill(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        self.shut();
    }
}

/// A minimal server-sent-events reader over one HTTP response.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl SseReader {
    /// Opens `url` as tenant `tenant`, resuming after `last_event_id` when given.
    pub async fn open(url: &str, tenant: &str, last_event_id: Option<&str>) -> SseReader {
        let mut request = reqwest::Client::new()
            .get(url)
            .header("X-Tenant", tenant)
            .header("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.expect("open the stream");
        assert_eq!(response.status(), 200, "stream status");
        SseReader {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (comments and keep-alives skipped); `None` when the stream ended.
    pub async fn next(&mut self, timeout: Duration) -> Option<SseEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent {
                    id: None,
                    event: None,
                    data: String::new(),
                };
                let mut any = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        event.id = Some(v.trim().to_owned());
                        any = true;
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event.event = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        event.data.push_str(v.trim_start());
                        any = true;
                    }
                }
                if any {
                    return Some(event);
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(_) => return None,
                Err(_) => panic!("no event within {timeout:?}"),
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Simulated fleets

/// Registers `plans` for `tenant` through the API at `api`, then publishes their stream to
/// `broker` as fast as it takes it (quietly) and returns what was sent.
pub async fn play_fleet(
    api: &str,
    broker: &Broker,
    plans: Vec<coldchain_sim::fleet::ShipmentPlan>,
    stream: coldchain_sim::telemetry::StreamOptions,
    seed: u64,
) -> (
    coldchain_sim::register::Registration,
    coldchain_sim::run::Summary,
) {
    use coldchain_sim::run::{Display, Speed, play};
    let registration = coldchain_sim::register::ApiClient::new(api, &stream.tenant)
        .register_fleet(&plans, stream.start)
        .await
        .expect("register the fleet");
    let display = Display {
        quiet: true,
        every: Duration::from_secs(1),
    };
    let summary = play(plans, stream, seed, Speed::Max, &broker.url(), display)
        .await
        .expect("publish the fleet");
    (registration, summary)
}

/// Stream options for a fleet of `plans` published as fast as possible, ending now.
pub fn stream_ending_now(
    tenant: &str,
    plans: &[coldchain_sim::fleet::ShipmentPlan],
) -> coldchain_sim::telemetry::StreamOptions {
    let span = plans.iter().map(|p| p.delivery()).max().unwrap_or(0) + 120;
    coldchain_sim::telemetry::StreamOptions {
        tenant: tenant.to_owned(),
        start: coldchain_sim::run::Speed::Max.start_for(span, chrono::Utc::now()),
        qos: 1,
        gateway_batch: None,
    }
}

/// Waits until the tenant holds exactly `readings` readings.
pub async fn wait_for_readings(store: &Store, tenant: &str, readings: u64, timeout: Duration) {
    let tenant = coldchain_domain::TenantId::parse(tenant.to_owned()).expect("tenant");
    eventually(&format!("{readings} stored readings"), timeout, || async {
        (store.count_readings(&tenant).await.expect("count") == readings as i64).then_some(())
    })
    .await;
}
