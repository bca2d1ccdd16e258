//! What the fleet publishes: each shipment steps its physics once a simulated minute, its
//! loggers sample on their own intervals, and its gateway turns the samples into MQTT
//! messages on the telemetry contract's topics: live, batched per gateway, or held while
//! the uplink is down and uploaded later in bursts. The stream is a pure function of the
//! plans and options, ordered by publish time, and lazy: a three-week fleet never sits in
//! memory at once.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::Arc;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use coldchain_domain::mqtt;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::Serialize;

use crate::faults::FaultKind;
use crate::fleet::{DAY, HOUR, Handling, MINUTE, ShipmentPlan, SimSeconds, Surroundings};
use crate::physics::{Conditions, Reefer, StepEvents, ambient, sea_ambient};
use crate::rng::{Stream, rng_for};

/// The physics step, and the finest resolution of readings.
pub const STEP: SimSeconds = MINUTE;
/// Air temperature at a refrigerated loading dock.
pub const DOCK_C: f64 = 10.0;
/// Readings per message when a logger uploads its backlog.
pub const BURST_READINGS: usize = 60;

#[derive(Debug, Clone)]
pub struct StreamOptions {
    pub tenant: String,
    /// The wall-clock moment simulated second 0 stands for.
    pub start: DateTime<Utc>,
    /// MQTT QoS of telemetry and events (0 or 1).
    pub qos: u8,
    /// When set, gateways upload each logger's readings as one array per period instead of
    /// one message per reading.
    pub gateway_batch: Option<SimSeconds>,
}

/// What a message carries, for the run's accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum MessageKind {
    Telemetry {
        readings: u32,
        /// Corrupted on the way: the ingest must reject it as malformed.
        malformed: bool,
        /// A second copy of a message already sent.
        duplicate: bool,
    },
    Event,
    Status,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub publish_at: DateTime<Utc>,
    pub shipment: usize,
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    pub kind: MessageKind,
}

/// One reading as the contract spells it.
#[derive(Debug, Clone, Serialize)]
struct ReadingOut {
    ts: String,
    seq: u64,
    temp_c: f64,
    humidity_pct: f64,
    battery_pct: f64,
    door_open: bool,
    lat: f64,
    lon: f64,
}

#[derive(Debug, Clone, Serialize)]
struct EventOut<'a> {
    ts: String,
    event: &'a str,
}

#[derive(Debug, Clone, Serialize)]
struct StatusOut<'a> {
    status: &'a str,
    ts: String,
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10_f64.powi(places);
    (x * f).round() / f
}

/// A logger's running state.
#[derive(Debug, Clone)]
struct LoggerState {
    seq: u64,
    battery_pct: f64,
    next_sample: SimSeconds,
    /// Readings taken while the uplink is down.
    held: Vec<ReadingOut>,
    /// Readings waiting for the gateway's next upload.
    queued: Vec<ReadingOut>,
    was_silent: bool,
}

/// A message waiting for its publish time, ordered by (time, sequence).
#[derive(Debug)]
struct Pending {
    at: SimSeconds,
    seq: u64,
    message: Message,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// One shipment's messages in publish order.
pub struct ShipmentStream {
    plan: Arc<ShipmentPlan>,
    options: Arc<StreamOptions>,
    reefer: Reefer,
    t: SimSeconds,
    weather_c: f64,
    physics: ChaCha8Rng,
    network: ChaCha8Rng,
    loggers: Vec<LoggerState>,
    pending: BinaryHeap<Reverse<Pending>>,
    next_seq: u64,
    door_was_open: bool,
    power_was_lost: bool,
    finished: bool,
}

impl ShipmentStream {
    pub fn new(plan: Arc<ShipmentPlan>, options: Arc<StreamOptions>, seed: u64) -> Self {
        let mut physics = rng_for(seed, plan.index, Stream::Physics);
        let network = rng_for(seed, plan.index, Stream::Network);
        let start = plan.departure();
        let reefer = Reefer::new(
            plan.product.setpoint_c + physics.random_range(-0.2..0.2),
            physics.random_range(0.5..8.0),
        );
        let loggers = plan
            .loggers
            .iter()
            .map(|l| LoggerState {
                seq: 0,
                battery_pct: l.battery_start_pct,
                next_sample: start + l.phase,
                held: Vec::new(),
                queued: Vec::new(),
                was_silent: false,
            })
            .collect();
        Self {
            plan,
            options,
            reefer,
            t: start,
            weather_c: 0.0,
            physics,
            network,
            loggers,
            pending: BinaryHeap::new(),
            next_seq: 0,
            door_was_open: false,
            power_was_lost: false,
            finished: false,
        }
    }

    fn at(&self, t: SimSeconds) -> DateTime<Utc> {
        self.options.start + Duration::seconds(t)
    }

    fn timestamp(&self, t: SimSeconds) -> String {
        self.at(t).to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    fn push(&mut self, at: SimSeconds, message: Message) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending.push(Reverse(Pending { at, seq, message }));
    }

    fn status(&mut self, t: SimSeconds, status: &str) {
        let payload = serde_json::to_vec(&StatusOut {
            status,
            ts: self.timestamp(t),
        })
        .expect("a status serialises");
        let message = Message {
            publish_at: self.at(t),
            shipment: self.plan.index,
            topic: mqtt::status_topic(&self.options.tenant, &self.plan.gateway_id),
            payload,
            qos: 1,
            retain: true,
            kind: MessageKind::Status,
        };
        self.push(t, message);
    }

    /// When a logger's uplink is back: now, or the end of the silence it is in.
    fn uplink_at(&self, logger: usize, t: SimSeconds) -> SimSeconds {
        self.plan
            .active(FaultKind::SensorSilent, t, Some(logger))
            .map_or(t, |f| f.start + f.duration)
    }

    fn event(&mut self, t: SimSeconds, event: &str) {
        let Some(logger) = self.plan.loggers.first() else {
            return;
        };
        let payload = serde_json::to_vec(&EventOut {
            ts: self.timestamp(t),
            event,
        })
        .expect("an event serialises");
        let at = self.uplink_at(0, t) + self.network.random_range(1..=15);
        let message = Message {
            publish_at: self.at(at),
            shipment: self.plan.index,
            topic: mqtt::events_topic(&self.options.tenant, &logger.device_id),
            payload,
            qos: self.options.qos,
            retain: false,
            kind: MessageKind::Event,
        };
        self.push(at, message);
    }

    /// Publishes readings of one logger as one message (an object for one reading, an array
    /// for several), corrupting or duplicating it as the shipment's faults say.
    fn telemetry(&mut self, logger: usize, readings: Vec<ReadingOut>, at: SimSeconds) {
        if readings.is_empty() {
            return;
        }
        let count = readings.len() as u32;
        let mut payload = if readings.len() == 1 {
            serde_json::to_vec(&readings[0])
        } else {
            serde_json::to_vec(&readings)
        }
        .expect("readings serialise");
        let now = self.t;
        let corrupt = self
            .plan
            .active(FaultKind::MalformedPayloads, now, None)
            .map(|f| f.amount);
        let duplicate = self
            .plan
            .active(FaultKind::DuplicatePublishes, now, None)
            .map(|f| f.amount);
        let malformed = corrupt.is_some_and(|rate| self.network.random_bool(rate));
        if malformed {
            payload = corrupted(payload, &mut self.network);
        }
        let topic =
            mqtt::telemetry_topic(&self.options.tenant, &self.plan.loggers[logger].device_id);
        let message = Message {
            publish_at: self.at(at),
            shipment: self.plan.index,
            topic,
            payload,
            qos: self.options.qos,
            retain: false,
            kind: MessageKind::Telemetry {
                readings: count,
                malformed,
                duplicate: false,
            },
        };
        if !malformed && duplicate.is_some_and(|rate| self.network.random_bool(rate)) {
            let again = at + self.network.random_range(1..=120);
            let mut copy = message.clone();
            copy.publish_at = self.at(again);
            copy.kind = MessageKind::Telemetry {
                readings: count,
                malformed: false,
                duplicate: true,
            };
            self.push(again, copy);
        }
        self.push(at, message);
    }

    /// The air outside the enclosure at `t`.
    fn ambient_c(&self, t: SimSeconds) -> f64 {
        let plan = &self.plan;
        let Some(leg) = plan.leg_at(t) else {
            return plan.destination.climate.annual_mean_c;
        };
        let at = self.at(t);
        let here = leg.position(t);
        let base = match leg.surroundings {
            Surroundings::Origin => ambient(&plan.origin.climate, here.lon, at),
            Surroundings::Destination => ambient(&plan.destination.climate, here.lon, at),
            Surroundings::Tarmac { destination } => {
                let city = if destination {
                    plan.destination
                } else {
                    plan.origin
                };
                ambient(&city.climate, here.lon, at) + 3.0
            }
            Surroundings::Sea => sea_ambient(
                &plan.origin.climate,
                &plan.destination.climate,
                leg.fraction(t),
                here.lon,
                at,
            ),
            Surroundings::Hold => 12.0,
        };
        base + self.weather_c
    }

    /// One simulated minute.
    fn step(&mut self) {
        let t = self.t;
        let plan = Arc::clone(&self.plan);
        if t == plan.departure() {
            self.status(t, "online");
        }
        if t >= plan.delivery() {
            self.finish();
            return;
        }
        let leg = plan.leg_at(t).expect("t is inside the trip");
        let thermal = leg.enclosure.thermal();

        // Weather: a slow random wander around the climate normal (12 h memory, ±1.5 °C).
        let keep = (-(STEP as f64) / (12.0 * HOUR as f64)).exp();
        let weather = Normal::new(0.0, 1.5 * (1.0 - keep * keep).sqrt()).expect("valid sigma");
        self.weather_c = self.weather_c * keep + weather.sample(&mut self.physics);

        let power_lost = plan.active(FaultKind::PowerLoss, t, None).is_some();
        let failed = plan
            .active(FaultKind::RefrigerationFailure, t, None)
            .is_some();
        let ambient_c = self.ambient_c(t);
        let door_air_c = if plan.active(FaultKind::DoorLeftOpen, t, None).is_some() {
            Some(ambient_c)
        } else {
            plan.handling_at(t).map(|handling| match handling {
                Handling::Dock => ambient_c.min(DOCK_C),
                Handling::Delivery => ambient_c,
            })
        };
        let door_open = door_air_c.is_some();
        let conditions = Conditions {
            ambient_c,
            setpoint_c: plan.product.setpoint_c,
            unit_working: !(power_lost || failed),
            door_open: door_air_c,
        };
        if door_open != self.door_was_open {
            self.event(t, if door_open { "door_open" } else { "door_close" });
            self.door_was_open = door_open;
        }
        if power_lost != self.power_was_lost {
            self.event(t, if power_lost { "power_off" } else { "power_on" });
            self.power_was_lost = power_lost;
        }

        for k in 0..self.loggers.len() {
            self.sample(k, t, door_open);
        }
        if let Some(period) = self.options.gateway_batch
            && (t - plan.departure()) % period == 0
        {
            for k in 0..self.loggers.len() {
                let queued = std::mem::take(&mut self.loggers[k].queued);
                let at = t + self.network.random_range(1..=15);
                self.telemetry(k, queued, at);
            }
        }

        let StepEvents {
            defrost_started,
            defrost_ended,
        } = self.reefer.step(&thermal, &conditions, STEP as f64);
        if defrost_started {
            self.event(t, "defrost_start");
        }
        if defrost_ended {
            self.event(t, "defrost_end");
        }
        self.t += STEP;
    }

    /// A logger's work at `t`: drain its battery, take a reading when due, and send it on
    /// (or hold it while its uplink is down, uploading the backlog once it is back).
    fn sample(&mut self, k: usize, t: SimSeconds, door_open: bool) {
        let plan = Arc::clone(&self.plan);
        let logger = &plan.loggers[k];
        let drain_per_day = plan
            .active(FaultKind::BatteryDrain, t, Some(k))
            .map_or(0.3, |f| f.amount);
        let state = &mut self.loggers[k];
        state.battery_pct -= drain_per_day * STEP as f64 / DAY as f64;
        let silent = plan.active(FaultKind::SensorSilent, t, Some(k)).is_some();
        if state.was_silent && !silent {
            self.upload_backlog(k, t);
        }
        self.loggers[k].was_silent = silent;
        let state = &mut self.loggers[k];
        if t < state.next_sample {
            return;
        }
        state.next_sample += logger.interval;
        if state.battery_pct <= 0.0 {
            return; // flat: the logger is dead
        }
        state.seq += 1;
        let seq = state.seq;
        let battery_pct = round(state.battery_pct, 1);
        let skew = plan
            .active(FaultKind::ClockSkew, t, Some(k))
            .map_or(0, |f| f.amount as SimSeconds);
        let noise = Normal::new(0.0, 0.05).expect("valid sigma");
        let temp_c = round(
            self.reefer.temp_c + logger.bias_c + noise.sample(&mut self.physics),
            2,
        );
        let humidity = Normal::new(plan.product.humidity_pct, 1.5).expect("valid sigma");
        let humidity_pct = round(
            humidity.sample(&mut self.physics).clamp(0.0, 100.0)
                - if door_open { 8.0 } else { 0.0 },
            1,
        );
        let here = plan.leg_at(t).map(|l| l.position(t));
        let reading = ReadingOut {
            ts: self.timestamp(t + skew),
            seq,
            temp_c,
            humidity_pct: humidity_pct.max(0.0),
            battery_pct,
            door_open,
            lat: here.map_or(0.0, |p| round(p.lat, 4)),
            lon: here.map_or(0.0, |p| round(p.lon, 4)),
        };
        if silent {
            self.loggers[k].held.push(reading);
        } else if self.options.gateway_batch.is_some() {
            self.loggers[k].queued.push(reading);
        } else {
            let at = t + self.network.random_range(1..=15);
            self.telemetry(k, vec![reading], at);
        }
    }

    /// Uploads what a logger held while offline: newest first, in bursts a few seconds
    /// apart, so the readings arrive late and out of order.
    fn upload_backlog(&mut self, k: usize, t: SimSeconds) {
        let mut held = std::mem::take(&mut self.loggers[k].held);
        held.extend(std::mem::take(&mut self.loggers[k].queued));
        let chunks: Vec<Vec<ReadingOut>> = held
            .chunks(BURST_READINGS)
            .rev()
            .map(<[ReadingOut]>::to_vec)
            .collect();
        for (i, chunk) in chunks.into_iter().enumerate() {
            self.telemetry(k, chunk, t + 20 + 3 * i as SimSeconds);
        }
    }

    /// Delivered: whatever is still held goes up, and the gateway says goodbye.
    fn finish(&mut self) {
        let t = self.t;
        if self.door_was_open {
            // The buyer has unloaded the van.
            self.event(t, "door_close");
        }
        for k in 0..self.loggers.len() {
            self.upload_backlog(k, t);
        }
        self.status(t + 60, "offline");
        self.finished = true;
    }
}

/// A payload mangled the ways real uplinks mangle them.
fn corrupted(mut payload: Vec<u8>, rng: &mut ChaCha8Rng) -> Vec<u8> {
    match rng.random_range(0..3) {
        // Cut off mid-way.
        0 => {
            payload.truncate(payload.len() / 2);
            payload
        }
        // A number turned into text.
        1 => String::from_utf8_lossy(&payload)
            .replacen("\"temp_c\":", "\"temp_c\":\"", 1)
            .replacen(",\"humidity_pct\"", "\",\"humidity_pct\"", 1)
            .into_bytes(),
        // Line noise.
        _ => payload.iter().map(|b| b ^ 0x5a).collect(),
    }
}

impl Iterator for ShipmentStream {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        loop {
            // Later steps only add messages due at or after their own time, so anything due
            // before the current step is final.
            if let Some(Reverse(top)) = self.pending.peek()
                && (top.at < self.t || self.finished)
            {
                return self.pending.pop().map(|Reverse(p)| p.message);
            }
            if self.finished {
                return None;
            }
            self.step();
        }
    }
}

/// The whole fleet's messages in publish order (ties broken by shipment, then by the order
/// the shipment produced them), so the stream is the same on every run.
pub struct FleetStream {
    streams: Vec<ShipmentStream>,
    heads: BinaryHeap<Reverse<(DateTime<Utc>, usize, u64)>>,
    buffered: Vec<Option<Message>>,
    counter: u64,
}

impl FleetStream {
    pub fn new(plans: &[ShipmentPlan], options: StreamOptions, seed: u64) -> Self {
        let options = Arc::new(options);
        let mut stream = Self {
            streams: plans
                .iter()
                .map(|p| ShipmentStream::new(Arc::new(p.clone()), Arc::clone(&options), seed))
                .collect(),
            heads: BinaryHeap::new(),
            buffered: Vec::new(),
            counter: 0,
        };
        stream.buffered = (0..stream.streams.len()).map(|_| None).collect();
        for i in 0..stream.streams.len() {
            stream.refill(i);
        }
        stream
    }

    fn refill(&mut self, i: usize) {
        if let Some(m) = self.streams[i].next() {
            self.heads.push(Reverse((m.publish_at, i, self.counter)));
            self.counter += 1;
            self.buffered[i] = Some(m);
        }
    }
}

impl Iterator for FleetStream {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        let Reverse((_, i, _)) = self.heads.pop()?;
        let message = self.buffered[i].take();
        self.refill(i);
        message
    }
}

/// A reading as it went out, read back from a message: for checking what the fleet sent.
#[derive(Debug, Clone, PartialEq)]
pub struct SentReading {
    pub device_id: String,
    pub ts: DateTime<Utc>,
    pub temp_c: f64,
    pub door_open: bool,
    pub battery_pct: f64,
    pub published_at: DateTime<Utc>,
}

impl Message {
    /// The readings of a well-formed telemetry message (none for anything else).
    pub fn readings(&self) -> Vec<SentReading> {
        let MessageKind::Telemetry {
            malformed: false, ..
        } = self.kind
        else {
            return Vec::new();
        };
        let device_id = self.topic.split('/').nth(3).unwrap_or_default().to_owned();
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&self.payload) else {
            return Vec::new();
        };
        let items = match value {
            serde_json::Value::Array(items) => items,
            one => vec![one],
        };
        items
            .iter()
            .filter_map(|r| {
                Some(SentReading {
                    device_id: device_id.clone(),
                    ts: r["ts"].as_str()?.parse().ok()?,
                    temp_c: r["temp_c"].as_f64()?,
                    door_open: r["door_open"].as_bool()?,
                    battery_pct: r["battery_pct"].as_f64()?,
                    published_at: self.publish_at,
                })
            })
            .collect()
    }
}
