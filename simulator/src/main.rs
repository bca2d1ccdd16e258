//! `coldchain-sim`: a fleet of refrigerated shipments publishing over MQTT.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use coldchain_sim::faults::{FaultConfig, FaultKind};
use coldchain_sim::fleet::{FleetOptions, ShipmentPlan, plan_fleet, reading_interval};
use coldchain_sim::load::{LoadOptions, load};
use coldchain_sim::register::ApiClient;
use coldchain_sim::run::{Display, Speed, Summary, play};
use coldchain_sim::scenario::Scenario;
use coldchain_sim::telemetry::{FleetStream, StreamOptions};

#[derive(Parser)]
#[command(
    name = "coldchain-sim",
    version,
    about = "A fleet of refrigerated shipments from Australia to China, publishing over MQTT"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register a seeded fleet through the API, then publish its readings on the simulated clock.
    Run {
        #[command(flatten)]
        fleet: FleetArgs,
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        output: Output,
    },
    /// Play a scripted scenario file (TOML): given shipments, faults and expected alerts.
    Scenario {
        file: PathBuf,
        /// Simulated time as a multiple of real time, or "max".
        #[arg(long, default_value = "max")]
        speed: Speed,
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        output: Output,
    },
    /// Publish readings as fast as asked, for benchmarks, and report the rate achieved.
    Load {
        #[arg(long, default_value_t = 1000)]
        devices: usize,
        /// Messages per second over all devices.
        #[arg(long, default_value_t = 5000.0)]
        rate: f64,
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        duration: Duration,
        #[arg(long, default_value_t = 1)]
        qos: u8,
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Register the devices through the API first (the ingest rejects unknown devices).
        #[arg(long)]
        register: bool,
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        output: Output,
    },
    /// Print the fleet's message stream (publish time, topic, payload) without publishing.
    Dump {
        #[command(flatten)]
        fleet: FleetArgs,
        #[arg(long, env = "COLDCHAIN_TENANT", default_value = "demo")]
        tenant: String,
    },
}

#[derive(Args, Clone)]
struct FleetArgs {
    #[arg(long, default_value_t = 50)]
    shipments: usize,
    /// Simulated time as a multiple of real time, or "max".
    #[arg(long, default_value = "600")]
    speed: Speed,
    /// Same seed, same fleet, same readings, same faults.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Between a logger's readings: whole minutes, 1m to 15m is typical.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// The moment the simulation starts (RFC 3339); by default it ends now.
    #[arg(long)]
    start: Option<DateTime<Utc>>,
    /// "all", "none", or a comma-separated list of fault kinds.
    #[arg(long, default_value = "all")]
    faults: String,
    /// Chance that a shipment gets each enabled fault kind.
    #[arg(long, default_value_t = 0.15)]
    fault_rate: f64,
    #[arg(long, default_value_t = 0.05)]
    duplicate_rate: f64,
    #[arg(long, default_value_t = 0.02)]
    malformed_rate: f64,
    /// Share of shipments going by sea (the rest by air).
    #[arg(long, default_value_t = 0.7)]
    sea_share: f64,
    /// Departures spread over this long.
    #[arg(long, default_value = "3d", value_parser = humantime::parse_duration)]
    stagger: Duration,
    /// QoS of telemetry and events.
    #[arg(long, default_value_t = 1)]
    qos: u8,
    /// Upload each logger's readings as one array per period instead of one per message.
    #[arg(long, value_parser = humantime::parse_duration)]
    gateway_batch: Option<Duration>,
}

#[derive(Args, Clone)]
struct Target {
    #[arg(
        long = "mqtt",
        env = "MQTT_URL",
        default_value = "mqtt://127.0.0.1:1883"
    )]
    mqtt_url: String,
    #[arg(
        long = "api",
        env = "COLDCHAIN_API_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    api_url: String,
    #[arg(long, env = "COLDCHAIN_TENANT", default_value = "demo")]
    tenant: String,
    /// Skip registering devices and shipments (they exist already).
    #[arg(long)]
    no_register: bool,
    /// Do not record the shipments' journeys (handovers, departures, arrivals, customs,
    /// delivery) through the API while publishing.
    #[arg(long)]
    no_journey: bool,
}

#[derive(Args, Clone)]
struct Output {
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    progress_every: Duration,
    /// Also write the summary as JSON to this file.
    #[arg(long)]
    summary_json: Option<PathBuf>,
}

fn seconds(d: Duration) -> i64 {
    d.as_secs() as i64
}

impl FleetArgs {
    fn options(&self) -> anyhow::Result<FleetOptions> {
        if self.qos > 1 {
            bail!("--qos must be 0 or 1");
        }
        let mut faults = match self.faults.as_str() {
            "all" => FaultConfig::all(),
            "none" => FaultConfig::none(),
            list => FaultConfig {
                enabled: list
                    .split(',')
                    .map(|k| k.trim().parse::<FaultKind>())
                    .collect::<Result<_, _>>()
                    .map_err(anyhow::Error::msg)?,
                ..FaultConfig::none()
            },
        };
        faults.per_shipment = self.fault_rate;
        faults.duplicate_rate = self.duplicate_rate;
        faults.malformed_rate = self.malformed_rate;
        Ok(FleetOptions {
            seed: self.seed,
            interval: reading_interval(self.interval).map_err(anyhow::Error::msg)?,
            sea_share: self.sea_share,
            stagger: seconds(self.stagger),
            faults,
        })
    }

    fn stream_options(&self, tenant: &str, plans: &[ShipmentPlan], speed: Speed) -> StreamOptions {
        let span = plans.iter().map(|p| p.delivery()).max().unwrap_or(0) + 120;
        StreamOptions {
            tenant: tenant.to_owned(),
            start: self
                .start
                .unwrap_or_else(|| speed.start_for(span, Utc::now())),
            qos: self.qos,
            gateway_batch: self.gateway_batch.map(seconds),
        }
    }
}

fn write_json(path: &Option<PathBuf>, value: &impl Serialize) -> anyhow::Result<()> {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_vec_pretty(value)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

async fn register(
    target: &Target,
    plans: &[ShipmentPlan],
    start: DateTime<Utc>,
    quiet: bool,
) -> anyhow::Result<Option<coldchain_sim::register::Registration>> {
    if target.no_register {
        return Ok(None);
    }
    let done = ApiClient::new(&target.api_url, &target.tenant)
        .register_fleet(plans, start)
        .await?;
    if !quiet {
        eprintln!(
            "registered through {}: {} devices, {} shipments, {} assignments ({} already there)",
            target.api_url,
            done.devices_created,
            done.shipments_created,
            done.assignments_created,
            done.already_registered
        );
    }
    Ok(Some(done))
}

fn display(output: &Output) -> Display {
    Display {
        quiet: output.quiet,
        every: output.progress_every,
    }
}

fn finish(
    mut summary: Summary,
    registration: Option<coldchain_sim::register::Registration>,
    output: &Output,
) -> anyhow::Result<()> {
    summary.registration = registration;
    summary.print();
    write_json(&output.summary_json, &summary)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Run {
            fleet,
            target,
            output,
        } => {
            let options = fleet.options()?;
            let plans = plan_fleet(fleet.shipments, &options);
            let stream = fleet.stream_options(&target.tenant, &plans, fleet.speed);
            let registration = register(&target, &plans, stream.start, output.quiet).await?;
            let client = ApiClient::new(&target.api_url, &target.tenant);
            let journeys = async {
                if target.no_register || target.no_journey {
                    return Ok(None);
                }
                client
                    .record_journeys(&plans, stream.start, fleet.speed)
                    .await
                    .map(Some)
            };
            let publishing = play(
                plans.clone(),
                stream.clone(),
                options.seed,
                fleet.speed,
                &target.mqtt_url,
                display(&output),
            );
            let (summary, journeys) = tokio::join!(publishing, journeys);
            let (summary, journeys) = (summary?, journeys?);
            if let Some(j) = journeys
                && !output.quiet
            {
                eprintln!(
                    "journeys recorded through {}: {} events ({} already there)",
                    target.api_url, j.recorded, j.already_recorded
                );
            }
            finish(summary, registration, &output)
        }
        Command::Scenario {
            file,
            speed,
            target,
            output,
        } => {
            let scenario = Scenario::load(&file)?;
            let start = scenario
                .start
                .unwrap_or_else(|| speed.start_for(scenario.span() + 120, Utc::now()));
            if !output.quiet {
                eprintln!(
                    "scenario {}: {}",
                    scenario.name,
                    scenario.description.trim()
                );
            }
            let registration = register(&target, &scenario.plans, start, output.quiet).await?;
            let stream = StreamOptions {
                tenant: target.tenant.clone(),
                start,
                qos: 1,
                gateway_batch: None,
            };
            let expected = scenario.expected_alerts(start);
            let summary = play(
                scenario.plans,
                stream,
                scenario.seed,
                speed,
                &target.mqtt_url,
                display(&output),
            )
            .await?;
            finish(
                summary.clone(),
                registration,
                &Output {
                    summary_json: None,
                    ..output.clone()
                },
            )?;
            println!("  expected alerts (what a correct backend raises):");
            for e in &expected {
                println!("    {} x{} on {} ({})", e.kind, e.count, e.shipment, e.note);
            }
            #[derive(Serialize)]
            struct ScenarioSummary {
                #[serde(flatten)]
                summary: Summary,
                expected_alerts: Vec<coldchain_sim::scenario::ExpectedAlert>,
            }
            write_json(
                &output.summary_json,
                &ScenarioSummary {
                    summary: Summary {
                        registration,
                        ..summary
                    },
                    expected_alerts: expected,
                },
            )
        }
        Command::Load {
            devices,
            rate,
            duration,
            qos,
            connections,
            register: with_registration,
            target,
            output,
        } => {
            let options = LoadOptions {
                tenant: target.tenant.clone(),
                devices,
                rate,
                duration,
                qos,
                connections,
                run_id: format!("{:x}", std::process::id()),
            };
            if with_registration {
                ApiClient::new(&target.api_url, &target.tenant)
                    .register_devices((0..devices).map(|i| options.device_id(i)), 60)
                    .await?;
            }
            let report = load(&options, &target.mqtt_url, output.quiet).await?;
            report.print();
            write_json(&output.summary_json, &report)
        }
        Command::Dump { fleet, tenant } => {
            let options = fleet.options()?;
            let plans = plan_fleet(fleet.shipments, &options);
            let stream = fleet.stream_options(&tenant, &plans, fleet.speed);
            use std::io::Write;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for m in FleetStream::new(&plans, stream, options.seed) {
                writeln!(
                    out,
                    "{}\t{}\t{}",
                    m.publish_at.to_rfc3339(),
                    m.topic,
                    String::from_utf8_lossy(&m.payload)
                )?;
            }
            Ok(())
        }
    }
}
