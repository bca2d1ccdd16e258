//! Registers the fleet with coldchain through its HTTP API, as an operator's system would:
//! the loggers as devices, the shipments, and each logger's assignment to its shipment for
//! the trip. Running the same fleet again finds what is already there and carries on.

use std::collections::HashMap;

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::fleet::ShipmentPlan;
use crate::journey::journey;
use crate::run::Speed;

/// A client of the coldchain API acting for one tenant.
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    tenant: String,
}

#[derive(Debug, Deserialize)]
struct Created {
    id: String,
}

#[derive(Debug, Deserialize)]
struct ShipmentPage {
    items: Vec<ListedShipment>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ListedShipment {
    id: String,
    reference: String,
}

/// What recording the journeys did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct JourneyTally {
    pub recorded: usize,
    /// Refused as already recorded by an earlier run of the same fleet.
    pub already_recorded: usize,
}

/// What registration did, for the summary.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Registration {
    pub devices_created: usize,
    pub shipments_created: usize,
    pub assignments_created: usize,
    /// Already there from an earlier run of the same fleet.
    pub already_registered: usize,
}

impl ApiClient {
    pub fn new(base: &str, tenant: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            tenant: tenant.to_owned(),
        }
    }

    async fn post(&self, path: &str, body: serde_json::Value) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}{path}", self.base);
        self.http
            .post(&url)
            .header("X-Tenant", &self.tenant)
            .json(&body)
            .send()
            .await
            .with_context(|| {
                format!(
                    "cannot reach the coldchain API at {}: start it (`coldchain serve`) or point \
                     --api at it",
                    self.base
                )
            })
    }

    /// Registers every logger, shipment and assignment. `start` is the moment simulated
    /// second 0 stands for.
    pub async fn register_fleet(
        &self,
        plans: &[ShipmentPlan],
        start: DateTime<Utc>,
    ) -> anyhow::Result<Registration> {
        let mut done = Registration::default();
        let mut existing: Option<HashMap<String, String>> = None;
        let at = |t: i64| start + Duration::seconds(t);
        for plan in plans {
            for logger in &plan.loggers {
                let name = format!("{} logger", plan.reference);
                if self
                    .register_device(&logger.device_id, &name, logger.interval)
                    .await?
                {
                    done.devices_created += 1;
                } else {
                    done.already_registered += 1;
                }
            }

            let response = self
                .post(
                    "/v1/shipments",
                    json!({
                        "reference": plan.reference,
                        "seller": plan.seller,
                        "origin": plan.origin.name,
                        "destination": plan.destination.name,
                        "mode": coldchain_domain::TransportMode::from(plan.mode).code(),
                        // The preset profile of the product: every tenant has the presets.
                        "profile_id": plan.product.id,
                        "planned_departure": at(plan.departure()),
                        "planned_arrival": at(plan.delivery()),
                    }),
                )
                .await?;
            let shipment_id = match response.status() {
                StatusCode::CREATED => {
                    done.shipments_created += 1;
                    response.json::<Created>().await?.id
                }
                StatusCode::CONFLICT => {
                    done.already_registered += 1;
                    if existing.is_none() {
                        existing = Some(self.shipment_ids().await?);
                    }
                    existing
                        .as_ref()
                        .and_then(|m| m.get(&plan.reference).cloned())
                        .with_context(|| {
                            format!("shipment {} exists but is not listed", plan.reference)
                        })?
                }
                _ => bail!(
                    "registering shipment {}: {}",
                    plan.reference,
                    describe(response).await
                ),
            };

            for logger in &plan.loggers {
                let response = self
                    .post(
                        &format!("/v1/shipments/{shipment_id}/devices"),
                        json!({
                            "device_id": logger.device_id,
                            "from": at(plan.departure()),
                            "to": at(plan.delivery()),
                        }),
                    )
                    .await?;
                match response.status() {
                    StatusCode::CREATED => done.assignments_created += 1,
                    StatusCode::CONFLICT => done.already_registered += 1,
                    _ => bail!(
                        "assigning {} to {}: {}",
                        logger.device_id,
                        plan.reference,
                        describe(response).await
                    ),
                }
            }
        }
        Ok(done)
    }

    /// Records each shipment's journey (handovers, departures, arrivals, customs, delivery)
    /// as the simulated clock passes each event, as carriers' and operators' systems would;
    /// all at once at `Speed::Max`. Start it with the publishing, so both keep the same clock.
    pub async fn record_journeys(
        &self,
        plans: &[ShipmentPlan],
        start: DateTime<Utc>,
        speed: Speed,
    ) -> anyhow::Result<JourneyTally> {
        let began = std::time::Instant::now();
        let ids = self.shipment_ids().await?;
        let mut steps = Vec::new();
        for plan in plans {
            let id = ids
                .get(&plan.reference)
                .with_context(|| format!("shipment {} is not registered", plan.reference))?;
            steps.extend(journey(plan).into_iter().map(|s| (s.at, id.as_str(), s)));
        }
        // Stable: each shipment's events keep their order at equal times.
        steps.sort_by_key(|(at, _, _)| *at);
        let mut tally = JourneyTally::default();
        for (at, id, step) in steps {
            if let Speed::Times(x) = speed {
                let due = std::time::Duration::from_secs_f64(at.max(0) as f64 / x);
                if let Some(ahead) = due.checked_sub(began.elapsed()) {
                    tokio::time::sleep(ahead).await;
                }
            }
            let response = self
                .post(&format!("/v1/shipments/{id}/events"), step.body(start))
                .await?;
            match response.status() {
                StatusCode::CREATED => tally.recorded += 1,
                StatusCode::CONFLICT => tally.already_recorded += 1,
                _ => bail!(
                    "recording {} of shipment {id}: {}",
                    step.kind,
                    describe(response).await
                ),
            }
        }
        Ok(tally)
    }

    /// Registers one logger; false when it was already registered.
    async fn register_device(&self, id: &str, name: &str, interval_s: i64) -> anyhow::Result<bool> {
        let response = self
            .post(
                "/v1/devices",
                json!({
                    "id": id,
                    "name": name,
                    "model": "coldchain-sim logger",
                    "reading_interval_s": interval_s,
                }),
            )
            .await?;
        match response.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::CONFLICT => Ok(false),
            _ => bail!("registering device {id}: {}", describe(response).await),
        }
    }

    /// Registers loggers that belong to no shipment (load mode).
    pub async fn register_devices(
        &self,
        ids: impl IntoIterator<Item = String>,
        interval_s: i64,
    ) -> anyhow::Result<usize> {
        let mut created = 0;
        for id in ids {
            created += usize::from(
                self.register_device(&id, "load generator", interval_s)
                    .await?,
            );
        }
        Ok(created)
    }

    /// Every shipment of the tenant, by reference.
    async fn shipment_ids(&self) -> anyhow::Result<HashMap<String, String>> {
        let mut ids = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{}/v1/shipments?limit=1000", self.base);
            if let Some(c) = &cursor {
                url.push_str("&cursor=");
                url.push_str(c);
            }
            let page: ShipmentPage = self
                .http
                .get(&url)
                .header("X-Tenant", &self.tenant)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            ids.extend(page.items.into_iter().map(|s| (s.reference, s.id)));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(ids),
            }
        }
    }
}

async fn describe(response: reqwest::Response) -> String {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    format!("HTTP {status}: {body}")
}
