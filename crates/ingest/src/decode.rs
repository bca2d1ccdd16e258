//! Decode stage: an MQTT topic and payload become validated readings, or rejections with a
//! reason. Pure: no I/O, the receiver's clock is a parameter.
//!
//! Accepted payloads (see the README's telemetry contract):
//! - one JSON reading object, or a JSON array of them (store-and-forward uploads);
//! - a SenML JSON pack (RFC 8428), whose records are grouped into one reading per time.
//!
//! A payload that cannot be decoded at all is rejected whole. In an array, each element is
//! judged on its own: one bad reading does not cost the others.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use coldchain_domain::{
    DeviceEvent, DeviceEventKind, DeviceId, Reading, ReadingLimits, RejectReason, Rejection,
    TenantId,
};
use coldchain_store::{PendingEvents, PendingReadings, PendingRejection};
use serde::Deserialize;
use serde_json::Value;

/// What a topic says about the message under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub tenant: TenantId,
    pub device: DeviceId,
    pub channel: Channel,
}

/// Which of a device's topics a message came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Telemetry,
    Events,
}

/// Parses `coldchain/v1/{tenant}/{device_id}/telemetry` (or `/events`).
pub fn parse_topic(topic: &str) -> Result<Topic, Rejection> {
    let bad = |why: String| Rejection::new(RejectReason::BadTopic, why);
    let parts: Vec<&str> = topic.split('/').collect();
    let (tenant, device, channel) = match parts.as_slice() {
        ["coldchain", "v1", tenant, device, "telemetry"] => (*tenant, *device, Channel::Telemetry),
        ["coldchain", "v1", tenant, device, "events"] => (*tenant, *device, Channel::Events),
        _ => {
            return Err(bad(format!(
                "topic {topic:?} is not coldchain/v1/{{tenant}}/{{device_id}}/telemetry (or /events)"
            )));
        }
    };
    Ok(Topic {
        tenant: TenantId::parse(tenant).map_err(|e| bad(format!("tenant: {e}")))?,
        device: DeviceId::parse(device).map_err(|e| bad(format!("device_id: {e}")))?,
        channel,
    })
}

/// Limits the decode stage applies besides the per-reading ones.
#[derive(Debug, Clone)]
pub struct DecodeLimits {
    pub reading: ReadingLimits,
    /// Payloads larger than this are rejected unread.
    pub max_payload_bytes: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            reading: ReadingLimits::default(),
            max_payload_bytes: 256 * 1024,
        }
    }
}

/// The outcome of decoding one message: readings or events to store (if any) and
/// rejections.
#[derive(Debug, Default)]
pub struct DecodedMessage {
    pub readings: Option<PendingReadings>,
    pub events: Option<PendingEvents>,
    pub rejections: Vec<PendingRejection>,
}

impl DecodedMessage {
    pub fn item_count(&self) -> usize {
        self.readings.as_ref().map_or(0, |p| p.readings.len())
            + self.events.as_ref().map_or(0, |p| p.events.len())
            + self.rejections.len()
    }
}

/// Decodes and validates one MQTT message received at `now`.
pub fn decode_message(
    topic: &str,
    payload: &[u8],
    now: DateTime<Utc>,
    limits: &DecodeLimits,
) -> DecodedMessage {
    let reject_whole =
        |tenant: Option<String>, device: Option<String>, rejection: Rejection| DecodedMessage {
            readings: None,
            events: None,
            rejections: vec![PendingRejection {
                tenant,
                device,
                topic: topic.to_owned(),
                payload: payload.to_vec(),
                reason: rejection.reason,
                detail: rejection.detail,
                received_at: now,
            }],
        };
    let parsed = match parse_topic(topic) {
        Ok(t) => t,
        Err(rejection) => return reject_whole(None, None, rejection),
    };
    let tenant = Some(parsed.tenant.to_string());
    let device = Some(parsed.device.to_string());
    if payload.len() > limits.max_payload_bytes {
        let rejection = Rejection::new(
            RejectReason::Oversize,
            format!(
                "payload is {} bytes; the limit is {} (split the upload into several messages)",
                payload.len(),
                limits.max_payload_bytes
            ),
        );
        return reject_whole(tenant, device, rejection);
    }
    if parsed.channel == Channel::Events {
        return decode_events(topic, payload, parsed, now, limits);
    }
    let elements = match decode_payload(&parsed.device, payload, now) {
        Ok(elements) => elements,
        Err(rejection) => return reject_whole(tenant, device, rejection),
    };

    let mut readings = Vec::with_capacity(elements.len());
    let mut rejections = Vec::new();
    for (raw, decoded) in elements {
        match decoded.and_then(|r| limits.reading.check(&r, now).map(|()| r)) {
            Ok(reading) => readings.push(reading),
            Err(rejection) => rejections.push(PendingRejection {
                tenant: tenant.clone(),
                device: device.clone(),
                topic: topic.to_owned(),
                payload: raw,
                reason: rejection.reason,
                detail: rejection.detail,
                received_at: now,
            }),
        }
    }
    DecodedMessage {
        readings: (!readings.is_empty()).then(|| PendingReadings {
            tenant: parsed.tenant,
            device: parsed.device,
            topic: topic.to_owned(),
            payload: payload.to_vec(),
            readings,
            received_at: now,
        }),
        events: None,
        rejections,
    }
}

/// An event as loggers send it: `{"ts": ..., "event": "defrost_start"}`, alone or in an
/// array. Unknown fields are ignored.
#[derive(Deserialize)]
struct EventWire {
    ts: Value,
    event: String,
}

/// Decodes an events message; each element judged alone, like readings.
fn decode_events(
    topic: &str,
    payload: &[u8],
    parsed: Topic,
    now: DateTime<Utc>,
    limits: &DecodeLimits,
) -> DecodedMessage {
    let reject = |raw: Vec<u8>, rejection: Rejection| PendingRejection {
        tenant: Some(parsed.tenant.to_string()),
        device: Some(parsed.device.to_string()),
        topic: topic.to_owned(),
        payload: raw,
        reason: rejection.reason,
        detail: rejection.detail,
        received_at: now,
    };
    let items = match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Array(items)) if !items.is_empty() => items,
        Ok(item @ Value::Object(_)) => vec![item],
        Ok(other) => {
            let why = malformed(format!(
                "an events payload is an object or a non-empty array, got {}",
                kind_of(&other)
            ));
            return DecodedMessage {
                rejections: vec![reject(payload.to_vec(), why)],
                ..Default::default()
            };
        }
        Err(e) => {
            let why = malformed(format!("payload is not valid JSON: {e}"));
            return DecodedMessage {
                rejections: vec![reject(payload.to_vec(), why)],
                ..Default::default()
            };
        }
    };
    let mut events = Vec::new();
    let mut rejections = Vec::new();
    for item in items {
        let raw = serde_json::to_vec(&item).unwrap_or_default();
        let event = serde_json::from_value::<EventWire>(item)
            .map_err(|e| malformed(format!("event: {e}")))
            .and_then(|w| {
                let kind = w
                    .event
                    .parse::<DeviceEventKind>()
                    .map_err(|e| malformed(e.to_string()))?;
                let ts = parse_time(&w.ts)?;
                limits.reading.check_time(ts, now)?;
                Ok(DeviceEvent { ts, kind })
            });
        match event {
            Ok(e) => events.push(e),
            Err(why) => rejections.push(reject(raw, why)),
        }
    }
    DecodedMessage {
        readings: None,
        events: (!events.is_empty()).then(|| PendingEvents {
            tenant: parsed.tenant,
            device: parsed.device,
            topic: topic.to_owned(),
            payload: payload.to_vec(),
            events,
            received_at: now,
        }),
        rejections,
    }
}

/// One element of a payload: its raw bytes (kept if it is rejected) and what it decoded to.
type Element = (Vec<u8>, Result<Reading, Rejection>);

fn malformed(detail: impl Into<String>) -> Rejection {
    Rejection::new(RejectReason::Malformed, detail)
}

/// Splits a payload into readings. `Err` means nothing in it could be read.
fn decode_payload(
    device: &DeviceId,
    payload: &[u8],
    now: DateTime<Utc>,
) -> Result<Vec<Element>, Rejection> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| malformed(format!("payload is not valid JSON: {e}")))?;
    match value {
        Value::Object(_) => {
            let raw = payload.to_vec();
            Ok(vec![(raw, decode_reading(device, value))])
        }
        Value::Array(items) if items.is_empty() => Err(malformed("payload is an empty array")),
        Value::Array(items) if is_senml(&items) => decode_senml(&items, now),
        Value::Array(items) => Ok(items
            .into_iter()
            .map(|item| {
                let raw = serde_json::to_vec(&item).unwrap_or_default();
                (raw, decode_reading(device, item))
            })
            .collect()),
        other => Err(malformed(format!(
            "payload must be a JSON object or array, got {}",
            kind_of(&other)
        ))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A reading as gateways send it. Unknown fields are ignored so gateways can add their own.
#[derive(Deserialize)]
struct ReadingWire {
    device_id: Option<String>,
    ts: Value,
    seq: Option<i64>,
    temp_c: f64,
    humidity_pct: Option<f64>,
    door_open: Option<bool>,
    battery_pct: Option<f64>,
    lat: Option<f64>,
    lon: Option<f64>,
}

fn decode_reading(device: &DeviceId, value: Value) -> Result<Reading, Rejection> {
    if !value.is_object() {
        return Err(malformed(format!(
            "each reading must be a JSON object, got {}",
            kind_of(&value)
        )));
    }
    let wire: ReadingWire =
        serde_json::from_value(value).map_err(|e| malformed(format!("reading: {e}")))?;
    if let Some(claimed) = &wire.device_id
        && claimed != device.as_str()
    {
        return Err(Rejection::new(
            RejectReason::DeviceMismatch,
            format!(
                "payload device_id {claimed:?} differs from the topic's {:?}",
                device.as_str()
            ),
        ));
    }
    Ok(Reading {
        ts: parse_time(&wire.ts)?,
        seq: wire.seq,
        temp_c: wire.temp_c,
        humidity_pct: wire.humidity_pct,
        door_open: wire.door_open,
        battery_pct: wire.battery_pct,
        lat: wire.lat,
        lon: wire.lon,
    })
}

/// Epoch numbers at or above this are milliseconds, below it seconds (1e11 s is year 5138).
const EPOCH_MILLIS_THRESHOLD: f64 = 1e11;

/// `ts` as RFC 3339 text or a number of seconds (or milliseconds) since the Unix epoch.
pub fn parse_time(value: &Value) -> Result<DateTime<Utc>, Rejection> {
    match value {
        // PostgreSQL keeps microseconds: truncate here so the reading the rules see is the
        // reading that is stored (and two readings one nanosecond apart are one reading).
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .and_then(|t| DateTime::from_timestamp_micros(t.timestamp_micros()))
            .ok_or_else(|| malformed(format!("ts {s:?} is not RFC 3339"))),
        Value::Number(n) => {
            let n = n.as_f64().unwrap_or(f64::NAN);
            let seconds = if n.abs() >= EPOCH_MILLIS_THRESHOLD {
                n / 1000.0
            } else {
                n
            };
            epoch_seconds(seconds)
                .ok_or_else(|| malformed(format!("ts {n} is not a usable epoch time")))
        }
        Value::Null => Err(malformed("reading: missing field `ts`")),
        other => Err(malformed(format!(
            "ts must be RFC 3339 text or epoch seconds, got {}",
            kind_of(other)
        ))),
    }
}

fn epoch_seconds(seconds: f64) -> Option<DateTime<Utc>> {
    if !seconds.is_finite() || seconds.abs() > 1e13 {
        return None;
    }
    // Bounded above, so the cast cannot overflow.
    DateTime::from_timestamp_micros((seconds * 1e6).round() as i64)
}

// ---------------------------------------------------------------------------------------------
// SenML (RFC 8428)

/// SenML records carry `n`/`bn` names and `v`/`vb` values; our own readings carry `temp_c`.
fn is_senml(items: &[Value]) -> bool {
    items.iter().any(|item| {
        item.get("temp_c").is_none()
            && (item.get("bn").is_some() || item.get("n").is_some() || item.get("bt").is_some())
    })
}

/// SenML times below 2^28 are relative to the receiver's clock (RFC 8428 section 4.5.3).
const SENML_RELATIVE_LIMIT: f64 = 268_435_456.0;

#[derive(Default)]
struct PartialReading {
    seq: Option<i64>,
    temp_c: Option<f64>,
    humidity_pct: Option<f64>,
    door_open: Option<bool>,
    battery_pct: Option<f64>,
    lat: Option<f64>,
    lon: Option<f64>,
    records: Vec<Value>,
}

fn decode_senml(items: &[Value], now: DateTime<Utc>) -> Result<Vec<Element>, Rejection> {
    let mut base_name = String::new();
    let mut base_time = 0.0_f64;
    let mut by_time: BTreeMap<DateTime<Utc>, PartialReading> = BTreeMap::new();
    for (i, record) in items.iter().enumerate() {
        let obj = record
            .as_object()
            .ok_or_else(|| malformed(format!("SenML record {i} is not an object")))?;
        if let Some(bn) = obj.get("bn") {
            base_name = bn
                .as_str()
                .ok_or_else(|| malformed(format!("SenML record {i}: bn must be a string")))?
                .to_owned();
        }
        if let Some(bt) = obj.get("bt") {
            base_time = bt
                .as_f64()
                .ok_or_else(|| malformed(format!("SenML record {i}: bt must be a number")))?;
        }
        let name = format!(
            "{base_name}{}",
            obj.get("n").and_then(Value::as_str).unwrap_or_default()
        );
        let field = name
            .rsplit([':', '/'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let offset = match obj.get("t") {
            None => 0.0,
            Some(t) => t
                .as_f64()
                .ok_or_else(|| malformed(format!("SenML record {i}: t must be a number")))?,
        };
        let t = base_time + offset;
        let ts = if t.abs() < SENML_RELATIVE_LIMIT {
            now + Duration::microseconds((t * 1e6).round() as i64)
        } else {
            epoch_seconds(t)
                .ok_or_else(|| malformed(format!("SenML record {i}: time {t} is not usable")))?
        };
        let value = obj.get("v").and_then(Value::as_f64);
        let unit = obj.get("u").and_then(Value::as_str).unwrap_or_default();
        let entry = by_time.entry(ts).or_default();
        entry.records.push(record.clone());
        let need = |v: Option<f64>| {
            v.ok_or_else(|| malformed(format!("SenML record {i} ({field}): v must be a number")))
        };
        match field.as_str() {
            "temp" | "temperature" | "temp_c" => {
                let v = need(value)?;
                entry.temp_c = Some(match unit {
                    "" | "Cel" => v,
                    "K" => v - 273.15,
                    other => {
                        return Err(malformed(format!(
                            "SenML record {i}: temperature unit {other:?} is not Cel or K"
                        )));
                    }
                });
            }
            "humidity" | "rh" | "humidity_pct" => entry.humidity_pct = Some(need(value)?),
            "battery" | "bat" | "battery_pct" => entry.battery_pct = Some(need(value)?),
            "lat" | "latitude" => entry.lat = Some(need(value)?),
            "lon" | "longitude" => entry.lon = Some(need(value)?),
            "seq" => entry.seq = Some(need(value)? as i64),
            "door" | "door_open" => {
                entry.door_open = Some(
                    obj.get("vb")
                        .and_then(Value::as_bool)
                        .or(value.map(|v| v != 0.0))
                        .ok_or_else(|| {
                            malformed(format!("SenML record {i} (door): vb must be a boolean"))
                        })?,
                );
            }
            // Other measurements are not part of the contract; ignore them.
            _ => {}
        }
    }
    Ok(by_time
        .into_iter()
        .map(|(ts, p)| {
            let raw = serde_json::to_vec(&p.records).unwrap_or_default();
            let reading = match p.temp_c {
                Some(temp_c) => Ok(Reading {
                    ts,
                    seq: p.seq,
                    temp_c,
                    humidity_pct: p.humidity_pct,
                    door_open: p.door_open,
                    battery_pct: p.battery_pct,
                    lat: p.lat,
                    lon: p.lon,
                }),
                None => Err(malformed(format!(
                    "SenML records at {} carry no temperature",
                    ts.to_rfc3339()
                ))),
            };
            (raw, reading)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const TOPIC: &str = "coldchain/v1/acme/logger-1/telemetry";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    fn decode(payload: &str) -> DecodedMessage {
        decode_message(TOPIC, payload.as_bytes(), now(), &DecodeLimits::default())
    }

    fn reasons(m: &DecodedMessage) -> Vec<RejectReason> {
        m.rejections.iter().map(|r| r.reason).collect()
    }

    #[test]
    fn one_reading_object_decodes() {
        let m = decode(
            r#"{"ts":"2026-11-25T11:59:00Z","seq":7,"temp_c":2.5,"humidity_pct":88,
                "door_open":false,"battery_pct":97,"lat":-37.81,"lon":144.96,"extra":"ok"}"#,
        );
        assert!(m.rejections.is_empty(), "{:?}", m.rejections);
        let p = m.readings.unwrap();
        assert_eq!(p.tenant.as_str(), "acme");
        assert_eq!(p.device.as_str(), "logger-1");
        assert_eq!(p.readings.len(), 1);
        let r = &p.readings[0];
        assert_eq!(r.ts, Utc.with_ymd_and_hms(2026, 11, 25, 11, 59, 0).unwrap());
        assert_eq!((r.seq, r.temp_c, r.lat), (Some(7), 2.5, Some(-37.81)));
    }

    #[test]
    fn epoch_seconds_and_milliseconds_are_both_understood() {
        let secs = now().timestamp() - 60;
        let m = decode(&format!(
            r#"[{{"ts":{secs},"temp_c":1}},{{"ts":{},"temp_c":1}},{{"ts":{}.5,"temp_c":1}}]"#,
            (secs - 60) * 1000,
            secs - 120
        ));
        let ts: Vec<_> = m.readings.unwrap().readings.iter().map(|r| r.ts).collect();
        assert_eq!(ts[0], now() - Duration::seconds(60));
        assert_eq!(ts[1], now() - Duration::seconds(120));
        assert_eq!(
            ts[2],
            now() - Duration::seconds(180) + Duration::milliseconds(500)
        );
    }

    #[test]
    fn a_bad_element_costs_only_itself() {
        let m = decode(
            r#"[{"ts":"2026-11-25T11:00:00Z","temp_c":3},
                {"ts":"2026-11-25T11:01:00Z","temp_c":180},
                {"ts":"2026-11-25T13:00:00Z","temp_c":3},
                {"ts":"2026-11-25T11:02:00Z","temp_c":"warm"},
                {"ts":"2026-11-25T11:03:00Z","temp_c":3,"device_id":"other"},
                {"ts":"2026-11-25T11:04:00Z","temp_c":4}]"#,
        );
        assert_eq!(m.readings.as_ref().unwrap().readings.len(), 2);
        assert_eq!(
            reasons(&m),
            vec![
                RejectReason::OutOfRange,
                RejectReason::FutureTimestamp,
                RejectReason::Malformed,
                RejectReason::DeviceMismatch
            ]
        );
        assert!(String::from_utf8_lossy(&m.rejections[0].payload).contains("180"));
    }

    #[test]
    fn undecodable_payloads_are_rejected_whole_with_the_reason() {
        for (payload, why) in [
            ("{not json", "not valid JSON"),
            ("[]", "empty array"),
            ("42", "got a number"),
            (r#"{"temp_c":3}"#, "missing field `ts`"),
            (r#"{"ts":"yesterday","temp_c":3}"#, "not RFC 3339"),
        ] {
            let m = decode(payload);
            assert!(m.readings.is_none(), "{payload}");
            assert_eq!(reasons(&m), vec![RejectReason::Malformed], "{payload}");
            assert!(
                m.rejections[0].detail.contains(why),
                "{payload}: {}",
                m.rejections[0].detail
            );
            assert_eq!(m.rejections[0].payload, payload.as_bytes());
        }
    }

    #[test]
    fn oversize_payloads_are_rejected_unread() {
        let limits = DecodeLimits {
            max_payload_bytes: 10,
            ..DecodeLimits::default()
        };
        let m = decode_message(TOPIC, br#"{"ts":1,"temp_c":1}"#, now(), &limits);
        assert_eq!(reasons(&m), vec![RejectReason::Oversize]);
    }

    #[test]
    fn topics_outside_the_contract_are_bad_topics() {
        for topic in [
            "coldchain/v1/acme/logger-1/status",
            "coldchain/v2/acme/logger-1/telemetry",
            "coldchain/v1/acme/logger 1/telemetry",
            "coldchain/v1/acme/telemetry",
        ] {
            let m = decode_message(topic, b"{}", now(), &DecodeLimits::default());
            assert_eq!(reasons(&m), vec![RejectReason::BadTopic], "{topic}");
        }
    }

    #[test]
    fn senml_packs_become_one_reading_per_time() {
        let bt = now().timestamp() - 120;
        let m = decode(&format!(
            r#"[{{"bn":"urn:dev:logger-1:","bt":{bt},"n":"temp","u":"Cel","v":3.5}},
                {{"n":"humidity","u":"%RH","v":80}},
                {{"n":"door","vb":true}},
                {{"n":"temp","u":"K","v":277.15,"t":60}},
                {{"n":"battery","u":"%EL","v":90,"t":60}}]"#
        ));
        assert!(m.rejections.is_empty(), "{:?}", m.rejections);
        let readings = m.readings.unwrap().readings;
        assert_eq!(readings.len(), 2);
        assert_eq!(readings[0].ts, now() - Duration::seconds(120));
        assert_eq!(
            (
                readings[0].temp_c,
                readings[0].humidity_pct,
                readings[0].door_open
            ),
            (3.5, Some(80.0), Some(true))
        );
        assert!((readings[1].temp_c - 4.0).abs() < 1e-9);
        assert_eq!(readings[1].battery_pct, Some(90.0));
    }

    #[test]
    fn senml_relative_times_count_from_the_receiver_clock() {
        let m = decode(r#"[{"n":"temp","v":2,"t":-30}]"#);
        assert_eq!(
            m.readings.unwrap().readings[0].ts,
            now() - Duration::seconds(30)
        );
    }

    #[test]
    fn senml_time_without_temperature_is_rejected() {
        let m = decode(r#"[{"n":"temp","v":2,"t":-30},{"n":"humidity","v":50,"t":-10}]"#);
        assert_eq!(m.readings.as_ref().unwrap().readings.len(), 1);
        assert_eq!(reasons(&m), vec![RejectReason::Malformed]);
    }

    #[test]
    fn events_are_decoded_one_by_one_and_unknown_ones_rejected() {
        let now = Utc::now();
        let ts = (now - Duration::minutes(3)).to_rfc3339();
        let payload = format!(
            r#"[{{"ts":"{ts}","event":"defrost_start"}},{{"ts":"{ts}","event":"melting"}},{{"ts":"{ts}","event":"door_open","extra":1}}]"#
        );
        let decoded = decode_message(
            "coldchain/v1/acme/logger-1/events",
            payload.as_bytes(),
            now,
            &DecodeLimits::default(),
        );
        let events = decoded.events.expect("events");
        let kinds: Vec<_> = events.events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [DeviceEventKind::DefrostStart, DeviceEventKind::DoorOpen]
        );
        assert_eq!(decoded.rejections.len(), 1);
        assert_eq!(decoded.rejections[0].reason, RejectReason::Malformed);
        assert!(decoded.rejections[0].detail.contains("melting"));
        assert!(decoded.readings.is_none());

        let topic = parse_topic("coldchain/v1/acme/logger-1/events").unwrap();
        assert_eq!(topic.channel, Channel::Events);
        assert!(parse_topic("coldchain/v1/acme/logger-1/status").is_err());
    }
}
