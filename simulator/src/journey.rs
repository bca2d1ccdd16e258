//! A shipment's journey as its operators and carriers record it with coldchain: the
//! handovers between custodians, departures and arrivals, the customs hold at destination,
//! delivery. Derived from the plan's legs, so the recorded legs and custody line up with
//! the readings the loggers publish (the dock time around each handover included).

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::fleet::{LegKind, ShipmentPlan, SimSeconds};

/// How long before leaving the destination terminal or airport customs release the goods.
const CUSTOMS_RELEASE_BEFORE_S: SimSeconds = 30 * 60;

/// One event to record, at simulated second `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct JourneyStep {
    pub at: SimSeconds,
    /// departed, arrived, handover, customs_hold, customs_released or delivered.
    pub kind: &'static str,
    pub location: String,
    pub from_custodian: Option<String>,
    pub to_custodian: Option<String>,
}

impl JourneyStep {
    /// The body of `POST /v1/shipments/{id}/events`, with simulated second 0 at `start`.
    pub fn body(&self, start: DateTime<Utc>) -> Value {
        let mut body = json!({
            "kind": self.kind,
            "ts": start + Duration::seconds(self.at),
            "location": self.location,
            "recorded_by": "coldchain-sim",
        });
        if let Some(from) = &self.from_custodian {
            body["from_custodian"] = json!(from);
        }
        if let Some(to) = &self.to_custodian {
            body["to_custodian"] = json!(to);
        }
        body
    }
}

/// Where a leg of the plan takes place.
fn place(plan: &ShipmentPlan, kind: LegKind) -> &'static str {
    let (o, d) = (plan.origin, plan.destination);
    match kind {
        LegKind::Packing | LegKind::OriginColdStore | LegKind::Haulage => o.name,
        LegKind::OriginTerminal | LegKind::Voyage => o.seaport_name,
        LegKind::OriginAirport | LegKind::Flight => o.airport_name,
        LegKind::DestinationTerminal => d.seaport_name,
        LegKind::DestinationAirport => d.airport_name,
        LegKind::DestinationColdStore | LegKind::LastMile => d.name,
    }
}

/// The events of the plan's journey, in event-time order.
pub fn journey(plan: &ShipmentPlan) -> Vec<JourneyStep> {
    let mut steps = Vec::new();
    let step = |at, kind, location: &str| JourneyStep {
        at,
        kind,
        location: location.to_owned(),
        from_custodian: None,
        to_custodian: None,
    };
    for pair in plan.legs.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        let at = after.start;
        let here = place(plan, after.kind);
        if before.kind.moving() {
            steps.push(step(at, "arrived", here));
        }
        if before.custodian != after.custodian {
            steps.push(JourneyStep {
                from_custodian: Some(before.custodian.clone()),
                to_custodian: Some(after.custodian.clone()),
                ..step(at, "handover", here)
            });
        }
        if matches!(
            after.kind,
            LegKind::DestinationTerminal | LegKind::DestinationAirport
        ) {
            steps.push(step(at, "customs_hold", here));
            let release = (after.end - CUSTOMS_RELEASE_BEFORE_S).max(at);
            steps.push(step(release, "customs_released", here));
        }
        if after.kind.moving() {
            steps.push(step(at, "departed", place(plan, before.kind)));
        }
    }
    if let Some(last) = plan.legs.last() {
        steps.push(step(last.end, "delivered", plan.destination.name));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::{FleetOptions, plan_fleet};
    use coldchain_domain::ShipmentStatus;
    use coldchain_domain::journey::{Journey, JourneyEvent, JourneyEventKind};

    fn events(plan: &ShipmentPlan) -> Vec<JourneyEvent> {
        let start = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        journey(plan)
            .iter()
            .map(|s| JourneyEvent {
                ts: start + Duration::seconds(s.at),
                kind: s.kind.parse::<JourneyEventKind>().unwrap(),
                location: s.location.clone(),
                from_custodian: s.from_custodian.clone(),
                to_custodian: s.to_custodian.clone(),
                temp_c: None,
                dock_minutes: None,
            })
            .collect()
    }

    #[test]
    fn every_planned_journey_is_one_coldchain_accepts_and_ends_delivered() {
        let plans = plan_fleet(
            40,
            &FleetOptions {
                sea_share: 0.5,
                ..FleetOptions::default()
            },
        );
        for plan in &plans {
            let journey = Journey::replay(&events(plan))
                .unwrap_or_else(|e| panic!("{}: {e}\n{:#?}", plan.reference, journey(plan)));
            assert_eq!(
                journey.status,
                ShipmentStatus::Delivered,
                "{}",
                plan.reference
            );
            // Custody follows the legs' custodians, one span per change.
            let mut custodians: Vec<&str> =
                plan.legs.iter().map(|l| l.custodian.as_str()).collect();
            custodians.dedup();
            let recorded: Vec<&str> = journey
                .custody
                .iter()
                .map(|c| c.custodian.as_str())
                .collect();
            assert_eq!(recorded, custodians, "{}", plan.reference);
            // Each moving leg of the plan is a transit leg of the journey.
            let moving = plan.legs.iter().filter(|l| l.kind.moving()).count();
            let transits = journey
                .legs
                .iter()
                .filter(|l| l.kind == coldchain_domain::journey::LegKind::Transit)
                .count();
            assert_eq!(transits, moving, "{}", plan.reference);
            assert_eq!(journey.held_since, None, "customs released");
        }
    }
}
