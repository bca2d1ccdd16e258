//! Load mode, for benchmarks: as many readings per second as asked, spread over many devices
//! and several connections, and a report of what was actually published each second.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use coldchain_domain::mqtt;
use serde::Serialize;

use crate::publish::{Gateway, Publisher};

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub tenant: String,
    pub devices: usize,
    /// Messages (one reading each) per second, over all devices.
    pub rate: f64,
    pub duration: Duration,
    pub qos: u8,
    /// MQTT connections the devices are spread over.
    pub connections: usize,
    /// Distinguishes this run's client ids and device ids from another's.
    pub run_id: String,
}

impl LoadOptions {
    pub fn device_id(&self, i: usize) -> String {
        format!("load-{}-{i:05}", self.run_id)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub requested_per_s: f64,
    pub published: u64,
    pub acked: u64,
    pub elapsed_s: f64,
    pub published_per_s: f64,
    /// Messages published in each whole second of the run.
    pub per_second: Vec<u64>,
}

impl LoadReport {
    pub fn print(&self) {
        println!(
            "coldchain-sim load: published {} messages in {:.2} s = {:.0} msg/s (asked {:.0}/s); \
             the broker acknowledged {}",
            self.published, self.elapsed_s, self.published_per_s, self.requested_per_s, self.acked
        );
    }
}

#[derive(Serialize)]
struct LoadReading {
    ts: String,
    seq: u64,
    temp_c: f64,
}

/// Publishes for `options.duration` at up to `options.rate` messages a second.
pub async fn load(
    options: &LoadOptions,
    mqtt_url: &str,
    quiet: bool,
) -> anyhow::Result<LoadReport> {
    let mut publisher = Publisher::new(mqtt_url)?;
    let connections: Vec<String> = (0..options.connections.max(1))
        .map(|k| format!("coldchain-sim-load-{}-{k}", options.run_id))
        .collect();
    let topics: Vec<String> = (0..options.devices.max(1))
        .map(|i| mqtt::telemetry_topic(&options.tenant, &options.device_id(i)))
        .collect();
    // Event times step a microsecond per message from a moment far enough back that none
    // is ever in the future, so every (device, time) is new.
    let total = (options.rate * options.duration.as_secs_f64()).ceil() as i64;
    let first_ts: DateTime<Utc> =
        Utc::now() - chrono::Duration::microseconds(total) - chrono::Duration::seconds(1);

    let began = Instant::now();
    let mut per_second = Vec::new();
    let mut this_second = 0_u64;
    let mut sent = 0_u64;
    let mut ticker = tokio::time::interval(Duration::from_millis(5));
    'run: loop {
        ticker.tick().await;
        let elapsed = began.elapsed();
        let due = ((options.rate * elapsed.as_secs_f64()) as u64).min(total as u64);
        while sent < due {
            // Behind the asked rate: stop on time all the same, and report what was done.
            if sent.is_multiple_of(1024) && began.elapsed() >= options.duration {
                break 'run;
            }
            let device = sent as usize % topics.len();
            let payload = serde_json::to_vec(&LoadReading {
                ts: (first_ts + chrono::Duration::microseconds(sent as i64))
                    .to_rfc3339_opts(SecondsFormat::Micros, true),
                seq: sent / topics.len() as u64,
                temp_c: 2.0 + (sent % 17) as f64 * 0.1,
            })?;
            let gateway = Gateway {
                client_id: &connections[device % connections.len()],
                will: None,
            };
            publisher
                .publish(&gateway, &topics[device], payload, options.qos, false)
                .await?;
            sent += 1;
            this_second += 1;
            let second = began.elapsed().as_secs() as usize;
            if second > per_second.len() {
                per_second.push(this_second);
                if !quiet {
                    eprintln!("[load {second:>4} s] {this_second} msg/s");
                }
                this_second = 0;
            }
        }
        if elapsed >= options.duration || sent >= total as u64 {
            break 'run;
        }
    }
    let elapsed_s = began.elapsed().as_secs_f64();
    if this_second > 0 {
        per_second.push(this_second);
    }
    let counters = std::sync::Arc::clone(&publisher.counters);
    publisher.finish(Duration::from_secs(120)).await?;
    Ok(LoadReport {
        requested_per_s: options.rate,
        published: sent,
        acked: counters.acked.load(Ordering::Relaxed),
        elapsed_s,
        published_per_s: sent as f64 / elapsed_s.max(1e-9),
        per_second,
    })
}
