//! Product profiles: what "stayed cold" means for a commodity. The band comes from the
//! product presets; the rest says how patient the alerting is (how long out of band before an
//! alert, how far and how long back inside before it clears), how much time out of band the
//! whole trip may spend, and when a logger counts as silent, a door as open too long, a
//! battery as low.

use chrono::Duration;
use serde::Serialize;

use crate::product::{PRODUCT_PRESETS, ProductPreset};

/// The default activation energy for mean kinetic temperature (USP <1079.2>), kJ/mol.
pub const DEFAULT_DELTA_H_KJ_PER_MOL: f64 = 83.144;

#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct ProductProfile {
    pub id: String,
    pub name: String,
    pub min_c: f64,
    pub max_c: f64,
    /// An excursion must last this long before it raises an alert.
    #[serde(with = "seconds")]
    #[schema(value_type = i64)]
    pub alert_delay: Duration,
    /// To clear, readings must be back inside the band by this margin ...
    pub clear_margin_c: f64,
    /// ... for this long.
    #[serde(with = "seconds")]
    #[schema(value_type = i64)]
    pub clear_delay: Duration,
    /// Total time out of band the whole trip may spend before the goods are compromised.
    #[serde(with = "seconds")]
    #[schema(value_type = i64)]
    pub excursion_budget: Duration,
    /// Mean kinetic temperature limit, when the commodity has one.
    pub mkt_limit_c: Option<f64>,
    pub mkt_delta_h_kj_per_mol: f64,
    /// A device of an in-transit shipment silent this long is offline.
    #[serde(with = "seconds")]
    #[schema(value_type = i64)]
    pub offline_after: Duration,
    #[serde(with = "seconds")]
    #[schema(value_type = i64)]
    pub door_open_limit: Duration,
    pub battery_low_pct: f64,
    /// A reading stands for at most this long; beyond it the time is unknown (a gap). When
    /// absent, twice the device's reading interval.
    #[serde(with = "seconds_opt")]
    #[schema(value_type = Option<i64>)]
    pub max_gap: Option<Duration>,
    /// Mute temperature alerts while goods are loaded or unloaded at a handover, and while a
    /// device reports a defrost cycle.
    pub mute_handovers: bool,
    pub mute_defrost: bool,
}

mod seconds {
    use chrono::Duration;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_seconds())
    }
}

mod seconds_opt {
    use chrono::Duration;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.num_seconds()),
            None => s.serialize_none(),
        }
    }
}

impl ProductProfile {
    /// The preset profile of a product, with the defaults below.
    pub fn preset(product: &ProductPreset) -> Self {
        let (budget_h, mkt_limit_c, clear_margin_c) = match product.id {
            "frozen" => (2, Some(-18.0), 1.0),
            "chilled-meat" => (6, None, 0.5),
            "seafood" => (2, None, 0.3),
            "temperate-produce" => (4, None, 0.3),
            "dairy" => (4, Some(5.0), 0.5),
            "pharma" => (1, Some(8.0), 0.5),
            _ => (6, None, 0.3),
        };
        Self {
            id: product.id.to_owned(),
            name: product.name.to_owned(),
            min_c: product.min_c,
            max_c: product.max_c,
            alert_delay: Duration::minutes(15),
            clear_margin_c,
            clear_delay: Duration::minutes(10),
            excursion_budget: Duration::hours(budget_h),
            mkt_limit_c,
            mkt_delta_h_kj_per_mol: DEFAULT_DELTA_H_KJ_PER_MOL,
            offline_after: Duration::hours(1),
            door_open_limit: Duration::minutes(15),
            battery_low_pct: 20.0,
            max_gap: None,
            mute_handovers: true,
            mute_defrost: true,
        }
    }

    /// Every preset profile, in the order of the product presets.
    pub fn presets() -> Vec<ProductProfile> {
        PRODUCT_PRESETS.iter().map(Self::preset).collect()
    }

    /// How long one reading stands for, given the device's reading interval.
    pub fn max_gap_for(&self, reading_interval: Duration) -> Duration {
        self.max_gap.unwrap_or(reading_interval * 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_product_has_a_preset_profile_with_its_band() {
        let presets = ProductProfile::presets();
        assert_eq!(presets.len(), PRODUCT_PRESETS.len());
        for (profile, product) in presets.iter().zip(PRODUCT_PRESETS) {
            assert_eq!(profile.id, product.id);
            assert_eq!(
                (profile.min_c, profile.max_c),
                (product.min_c, product.max_c)
            );
            assert!(profile.clear_margin_c < (profile.max_c - profile.min_c) / 2.0);
            assert!(profile.excursion_budget > profile.alert_delay);
        }
        let json = serde_json::to_value(&presets[0]).unwrap();
        assert_eq!(json["alert_delay"], 900);
        assert_eq!(json["max_gap"], serde_json::Value::Null);
    }
}
