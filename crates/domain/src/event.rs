//! Device events: what a logger reports besides its readings, on the events topic. The
//! alert rules use defrost cycles to mute temperature alerts; the rest is kept for the
//! shipment's record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

coded_enum! {
    /// What a logger reports on its events topic.
    pub enum DeviceEventKind("event") {
        DoorOpen => "door_open",
        DoorClose => "door_close",
        PowerOff => "power_off",
        PowerOn => "power_on",
        DefrostStart => "defrost_start",
        DefrostEnd => "defrost_end",
        Shock => "shock",
    }
}

/// One event at one event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEvent {
    pub ts: DateTime<Utc>,
    pub kind: DeviceEventKind,
}

/// The longest a defrost is taken to last when its end never arrives.
pub const MAX_DEFROST_MINUTES: i64 = 60;

/// Defrost windows `[start, end)` from a logger's events in any order: each start until the
/// next end (or [`MAX_DEFROST_MINUTES`], whichever comes first).
pub fn defrost_windows(events: &[DeviceEvent]) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut sorted: Vec<&DeviceEvent> = events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                DeviceEventKind::DefrostStart | DeviceEventKind::DefrostEnd
            )
        })
        .collect();
    sorted.sort_by_key(|e| (e.ts, e.kind));
    let cap = chrono::Duration::minutes(MAX_DEFROST_MINUTES);
    sorted
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == DeviceEventKind::DefrostStart)
        .map(|(i, start)| {
            let end = sorted[i + 1..]
                .iter()
                .find(|e| e.kind == DeviceEventKind::DefrostEnd)
                .map_or(start.ts + cap, |e| e.ts.min(start.ts + cap));
            (start.ts, end)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn defrost_windows_pair_starts_with_ends_in_any_order() {
        let at = |m: i64| {
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(m)
        };
        let ev = |m, kind| DeviceEvent { ts: at(m), kind };
        let events = [
            ev(130, DeviceEventKind::DefrostEnd),
            ev(0, DeviceEventKind::DoorOpen),
            ev(500, DeviceEventKind::DefrostStart),
            ev(10, DeviceEventKind::DefrostStart),
            ev(25, DeviceEventKind::DefrostEnd),
            ev(120, DeviceEventKind::DefrostStart),
        ];
        assert_eq!(
            defrost_windows(&events),
            vec![(at(10), at(25)), (at(120), at(130)), (at(500), at(560))]
        );
        assert_eq!("defrost_start".parse(), Ok(DeviceEventKind::DefrostStart));
        assert!("melt".parse::<DeviceEventKind>().is_err());
    }
}
