//! A shipment's journey: the events people record about it (departures, arrivals, handovers
//! between custodians, customs holds, delivery), the status that follows from them, and the
//! legs and custody spans the figures and the report attribute time to.
//!
//! Events are recorded in event-time order; each is checked against the state the earlier
//! ones left, so an impossible transition (delivering a shipment that never left, departing
//! while customs hold it, anything after delivery) is refused with the reason.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::shipment::ShipmentStatus;

coded_enum! {
    /// What happened to a shipment, as recorded by an operator or a carrier's system.
    pub enum JourneyEventKind("shipment event") {
        Departed => "departed",
        Arrived => "arrived",
        Handover => "handover",
        CustomsHold => "customs_hold",
        CustomsReleased => "customs_released",
        Delivered => "delivered",
        Cancelled => "cancelled",
    }
}

/// How long goods are taken to be on the dock around a handover when the event does not
/// say: unloading before it and loading after it.
pub const DEFAULT_DOCK_MINUTES: i64 = 30;

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneyEvent {
    pub ts: DateTime<Utc>,
    pub kind: JourneyEventKind,
    /// Where it happened (a port, a cold store, a city).
    #[serde(default)]
    pub location: String,
    /// Handovers: who handed the goods over ...
    #[serde(default)]
    pub from_custodian: Option<String>,
    /// ... and who took them.
    #[serde(default)]
    pub to_custodian: Option<String>,
    /// The temperature of the goods at that moment (measured at the dock or read from the
    /// loggers when the recorder gave none).
    #[serde(default)]
    pub temp_c: Option<f64>,
    /// Handovers: how long the goods are on the dock on each side of the moment (unloading
    /// before, loading after); [`DEFAULT_DOCK_MINUTES`] when absent.
    #[serde(default)]
    pub dock_minutes: Option<i64>,
}

/// Why an event cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("a {status} shipment cannot be {kind}: {hint}")]
    NotAllowed {
        status: ShipmentStatus,
        kind: JourneyEventKind,
        hint: &'static str,
    },
    #[error("customs hold the shipment since {since}; record customs_released first")]
    HeldByCustoms { since: DateTime<Utc> },
    #[error("customs_released without a customs_hold to release")]
    NotHeld,
    #[error(
        "event time {ts} is before the latest recorded event ({latest}); events are recorded in order"
    )]
    OutOfOrder {
        ts: DateTime<Utc>,
        latest: DateTime<Utc>,
    },
    #[error(
        "the goods are with {current:?}, not {claimed:?}; a handover starts from the current custodian"
    )]
    WrongCustodian { current: String, claimed: String },
    #[error("a handover names who takes the goods (to_custodian)")]
    NoNewCustodian,
    #[error("a handover to the custodian who already holds the goods ({0:?}) changes nothing")]
    SameCustodian(String),
}

/// What kind of stretch a leg is.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegKind {
    /// Before the first departure: at the packer or its cold store.
    Origin,
    /// Moving between two places.
    Transit,
    /// Standing at a port, an airport or a cold store between two transits.
    Hub,
}

/// A stretch of the journey. Time before `start` belongs to the previous leg.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct Leg {
    /// 1, 2, 3 ... in journey order.
    pub seq: u32,
    pub kind: LegKind,
    /// Where it starts (the place left, or the hub).
    pub from: String,
    /// Where it ends; empty while it has not ended or the place was not recorded.
    pub to: String,
    /// Absent for the origin leg, which covers everything before the first departure.
    pub start: Option<DateTime<Utc>>,
    /// Absent while the leg goes on.
    pub end: Option<DateTime<Utc>>,
}

/// Who held the goods from `start` until `end`.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct CustodySpan {
    pub custodian: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// Where a shipment stands after its events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Journey {
    pub status: ShipmentStatus,
    /// When customs put the current hold on, if they did.
    pub held_since: Option<DateTime<Utc>>,
    pub legs: Vec<Leg>,
    pub custody: Vec<CustodySpan>,
    pub departed_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    latest: Option<DateTime<Utc>>,
}

impl Default for Journey {
    fn default() -> Self {
        Self {
            status: ShipmentStatus::Planned,
            held_since: None,
            legs: vec![Leg {
                seq: 1,
                kind: LegKind::Origin,
                from: String::new(),
                to: String::new(),
                start: None,
                end: None,
            }],
            custody: Vec::new(),
            departed_at: None,
            delivered_at: None,
            latest: None,
        }
    }
}

impl Journey {
    /// The journey of events already accepted, in the order they were recorded.
    pub fn replay<'a>(
        events: impl IntoIterator<Item = &'a JourneyEvent>,
    ) -> Result<Self, TransitionError> {
        events
            .into_iter()
            .try_fold(Self::default(), |j, e| j.apply(e))
    }

    /// The leg under way (the last one), until delivery or cancellation.
    pub fn current_leg(&self) -> Option<&Leg> {
        self.legs.last().filter(|l| l.end.is_none())
    }

    /// Who holds the goods now, if a handover said so.
    pub fn custodian(&self) -> Option<&str> {
        self.custody.last().map(|c| c.custodian.as_str())
    }

    /// The journey after one more event, or why it cannot happen.
    pub fn apply(&self, event: &JourneyEvent) -> Result<Self, TransitionError> {
        use JourneyEventKind as K;
        use ShipmentStatus as S;
        if let Some(latest) = self.latest
            && event.ts < latest
        {
            return Err(TransitionError::OutOfOrder {
                ts: event.ts,
                latest,
            });
        }
        let not_allowed = |hint| TransitionError::NotAllowed {
            status: self.status,
            kind: event.kind,
            hint,
        };
        if matches!(self.status, S::Delivered | S::Cancelled) {
            return Err(not_allowed("its journey is over"));
        }
        let mut next = self.clone();
        next.latest = Some(event.ts);
        match (event.kind, self.status) {
            (K::Departed, S::Planned | S::AtHub) => {
                if let Some(since) = self.held_since {
                    return Err(TransitionError::HeldByCustoms { since });
                }
                next.status = S::InTransit;
                next.departed_at.get_or_insert(event.ts);
                next.start_leg(LegKind::Transit, event);
            }
            (K::Departed, _) => return Err(not_allowed("it is already moving; record arrived")),
            (K::Arrived, S::InTransit) => {
                next.status = S::AtHub;
                next.start_leg(LegKind::Hub, event);
            }
            (K::Arrived, _) => return Err(not_allowed("only a moving shipment arrives")),
            (K::Handover, _) => next.hand_over(event)?,
            (K::CustomsHold, S::AtHub) => {
                next.held_since = Some(self.held_since.unwrap_or(event.ts));
            }
            (K::CustomsHold, _) => {
                return Err(not_allowed("customs hold goods standing at a hub"));
            }
            (K::CustomsReleased, _) => {
                if self.held_since.is_none() {
                    return Err(TransitionError::NotHeld);
                }
                next.held_since = None;
            }
            (K::Delivered, S::InTransit | S::AtHub) => {
                if let Some(since) = self.held_since {
                    return Err(TransitionError::HeldByCustoms { since });
                }
                next.status = S::Delivered;
                next.delivered_at = Some(event.ts);
                next.end_leg(event);
                if let Some(c) = next.custody.last_mut() {
                    c.end = Some(event.ts);
                }
            }
            (K::Delivered, _) => return Err(not_allowed("it has not departed yet")),
            (K::Cancelled, _) => {
                next.status = S::Cancelled;
                next.end_leg(event);
                if let Some(c) = next.custody.last_mut() {
                    c.end = Some(event.ts);
                }
            }
        }
        Ok(next)
    }

    fn end_leg(&mut self, event: &JourneyEvent) {
        if let Some(leg) = self.legs.last_mut() {
            leg.end = Some(event.ts);
            if leg.kind == LegKind::Transit {
                leg.to.clone_from(&event.location);
            }
        }
    }

    fn start_leg(&mut self, kind: LegKind, event: &JourneyEvent) {
        self.end_leg(event);
        let seq = self.legs.len() as u32 + 1;
        self.legs.push(Leg {
            seq,
            kind,
            from: event.location.clone(),
            to: String::new(),
            start: Some(event.ts),
            end: None,
        });
    }

    fn hand_over(&mut self, event: &JourneyEvent) -> Result<(), TransitionError> {
        let to = event
            .to_custodian
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(TransitionError::NoNewCustodian)?;
        let claimed = event
            .from_custodian
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty());
        match (self.custodian(), claimed) {
            (Some(current), Some(claimed)) if current != claimed => {
                return Err(TransitionError::WrongCustodian {
                    current: current.to_owned(),
                    claimed: claimed.to_owned(),
                });
            }
            (Some(current), _) if current == to => {
                return Err(TransitionError::SameCustodian(to.to_owned()));
            }
            // The first handover names who held the goods before it.
            (None, Some(first)) => {
                if first == to {
                    return Err(TransitionError::SameCustodian(to.to_owned()));
                }
                self.custody.push(CustodySpan {
                    custodian: first.to_owned(),
                    start: None,
                    end: None,
                });
            }
            _ => {}
        }
        if let Some(c) = self.custody.last_mut() {
            c.end = Some(event.ts);
        }
        self.custody.push(CustodySpan {
            custodian: to.to_owned(),
            start: Some(event.ts),
            end: None,
        });
        Ok(())
    }
}

/// The windows `[from, to)` around handovers when goods are on the dock (unloading before
/// the moment, loading after), in which a profile may mute temperature alerts.
pub fn dock_windows(events: &[JourneyEvent]) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    events
        .iter()
        .filter(|e| e.kind == JourneyEventKind::Handover)
        .map(|e| {
            let dock = Duration::minutes(e.dock_minutes.unwrap_or(DEFAULT_DOCK_MINUTES).max(0));
            (e.ts - dock, e.ts + dock)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    fn event(h: i64, kind: JourneyEventKind, location: &str) -> JourneyEvent {
        JourneyEvent {
            ts: at(h),
            kind,
            location: location.into(),
            from_custodian: None,
            to_custodian: None,
            temp_c: None,
            dock_minutes: None,
        }
    }

    fn handover(h: i64, from: Option<&str>, to: &str) -> JourneyEvent {
        JourneyEvent {
            from_custodian: from.map(Into::into),
            to_custodian: Some(to.into()),
            ..event(h, JourneyEventKind::Handover, "dock")
        }
    }

    use JourneyEventKind as K;

    #[test]
    fn a_sea_journey_moves_through_its_statuses_legs_and_custodians() {
        let events = [
            handover(0, Some("Packer"), "Cold store"),
            event(10, K::Departed, "Melbourne"),
            handover(10, None, "Ocean carrier"),
            event(300, K::Arrived, "Shanghai"),
            event(301, K::CustomsHold, "Shanghai"),
            event(320, K::CustomsReleased, "Shanghai"),
            handover(321, Some("Ocean carrier"), "Van"),
            event(322, K::Departed, "Shanghai"),
            event(330, K::Delivered, "Buyer"),
        ];
        let j = Journey::replay(&events).unwrap();
        assert_eq!(j.status, ShipmentStatus::Delivered);
        assert_eq!(j.departed_at, Some(at(10)));
        assert_eq!(j.delivered_at, Some(at(330)));
        let legs: Vec<_> = j
            .legs
            .iter()
            .map(|l| {
                (
                    l.seq,
                    l.kind,
                    l.from.as_str(),
                    l.to.as_str(),
                    l.start,
                    l.end,
                )
            })
            .collect();
        assert_eq!(
            legs,
            vec![
                (1, LegKind::Origin, "", "", None, Some(at(10))),
                (
                    2,
                    LegKind::Transit,
                    "Melbourne",
                    "Shanghai",
                    Some(at(10)),
                    Some(at(300))
                ),
                (
                    3,
                    LegKind::Hub,
                    "Shanghai",
                    "",
                    Some(at(300)),
                    Some(at(322))
                ),
                (
                    4,
                    LegKind::Transit,
                    "Shanghai",
                    "Buyer",
                    Some(at(322)),
                    Some(at(330))
                ),
            ]
        );
        let custody: Vec<_> = j
            .custody
            .iter()
            .map(|c| (c.custodian.as_str(), c.start, c.end))
            .collect();
        assert_eq!(
            custody,
            vec![
                ("Packer", None, Some(at(0))),
                ("Cold store", Some(at(0)), Some(at(10))),
                ("Ocean carrier", Some(at(10)), Some(at(321))),
                ("Van", Some(at(321)), Some(at(330))),
            ]
        );
        assert!(j.current_leg().is_none());
    }

    #[test]
    fn impossible_transitions_are_refused_with_the_reason() {
        let planned = Journey::default();
        let err = planned.apply(&event(1, K::Delivered, "x")).unwrap_err();
        assert!(err.to_string().contains("has not departed"), "{err}");
        assert!(planned.apply(&event(1, K::Arrived, "x")).is_err());
        assert!(planned.apply(&event(1, K::CustomsHold, "x")).is_err());
        assert_eq!(
            planned.apply(&event(1, K::CustomsReleased, "x")),
            Err(TransitionError::NotHeld)
        );

        let moving = planned.apply(&event(1, K::Departed, "a")).unwrap();
        assert_eq!(moving.status, ShipmentStatus::InTransit);
        assert!(moving.apply(&event(2, K::Departed, "a")).is_err());
        assert!(matches!(
            moving.apply(&event(0, K::Arrived, "b")),
            Err(TransitionError::OutOfOrder { .. })
        ));

        let held = moving
            .apply(&event(2, K::Arrived, "b"))
            .and_then(|j| j.apply(&event(3, K::CustomsHold, "b")))
            .unwrap();
        assert_eq!(
            held.apply(&event(4, K::Departed, "b")),
            Err(TransitionError::HeldByCustoms { since: at(3) })
        );
        assert!(held.apply(&event(4, K::Delivered, "b")).is_err());

        let done = held
            .apply(&event(4, K::CustomsReleased, "b"))
            .and_then(|j| j.apply(&event(5, K::Delivered, "b")))
            .unwrap();
        for kind in JourneyEventKind::ALL {
            let err = done.apply(&event(6, *kind, "c")).unwrap_err();
            assert!(err.to_string().contains("journey is over"), "{err}");
        }
        let cancelled = Journey::default()
            .apply(&event(1, K::Cancelled, ""))
            .unwrap();
        assert_eq!(cancelled.status, ShipmentStatus::Cancelled);
        assert!(cancelled.apply(&event(2, K::Departed, "a")).is_err());
    }

    #[test]
    fn handovers_must_start_from_whoever_holds_the_goods() {
        let j = Journey::default()
            .apply(&handover(1, Some("Packer"), "Trucker"))
            .unwrap();
        assert_eq!(j.custodian(), Some("Trucker"));
        assert_eq!(
            j.apply(&handover(2, Some("Packer"), "Port")),
            Err(TransitionError::WrongCustodian {
                current: "Trucker".into(),
                claimed: "Packer".into()
            })
        );
        assert_eq!(
            j.apply(&handover(2, None, "Trucker")),
            Err(TransitionError::SameCustodian("Trucker".into()))
        );
        let mut nobody = handover(2, None, "");
        nobody.to_custodian = None;
        assert_eq!(j.apply(&nobody), Err(TransitionError::NoNewCustodian));
        assert_eq!(
            j.apply(&handover(2, None, "Port")).unwrap().custody.len(),
            3
        );
    }

    #[test]
    fn dock_windows_surround_each_handover() {
        let mut short = handover(5, None, "b");
        short.dock_minutes = Some(10);
        let events = [
            handover(1, Some("a"), "b"),
            event(2, K::Departed, "x"),
            short,
        ];
        assert_eq!(
            dock_windows(&events),
            vec![
                (at(1) - Duration::minutes(30), at(1) + Duration::minutes(30)),
                (at(5) - Duration::minutes(10), at(5) + Duration::minutes(10)),
            ]
        );
    }
}
