//! Products and the temperature they must travel at: the preset product profiles coldchain
//! ships with. The simulator runs its reefers at these setpoints and the API serves them as
//! the default profiles, so both speak of the same bands.

use serde::Serialize;

/// A commodity's temperature requirement: the band the goods must stay in and the setpoint
/// a refrigeration unit is set to for it (inside the band, with room for the unit's cycling).
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProductPreset {
    /// Stable identifier, also the product profile id the API serves.
    pub id: &'static str,
    pub name: &'static str,
    pub min_c: f64,
    pub max_c: f64,
    pub setpoint_c: f64,
    /// Relative humidity a reefer holds for this product, in percent.
    pub humidity_pct: f64,
}

impl ProductPreset {
    pub fn contains(&self, temp_c: f64) -> bool {
        (self.min_c..=self.max_c).contains(&temp_c)
    }

    /// Looks a preset up by id.
    pub fn find(id: &str) -> Option<&'static ProductPreset> {
        PRODUCT_PRESETS.iter().find(|p| p.id == id)
    }
}

/// The presets, from the coldest to the warmest band.
pub const PRODUCT_PRESETS: &[ProductPreset] = &[
    ProductPreset {
        id: "frozen",
        name: "Frozen meat and seafood",
        min_c: -60.0,
        max_c: -18.0,
        setpoint_c: -22.0,
        humidity_pct: 70.0,
    },
    ProductPreset {
        id: "chilled-meat",
        name: "Chilled beef and lamb (vacuum packed)",
        min_c: -1.5,
        max_c: 4.0,
        setpoint_c: 0.0,
        humidity_pct: 85.0,
    },
    ProductPreset {
        id: "seafood",
        name: "Live and chilled seafood",
        min_c: 0.0,
        max_c: 4.0,
        setpoint_c: 2.0,
        humidity_pct: 95.0,
    },
    ProductPreset {
        id: "temperate-produce",
        name: "Cherries and other temperate produce",
        min_c: -0.5,
        max_c: 2.0,
        setpoint_c: 0.5,
        humidity_pct: 92.0,
    },
    ProductPreset {
        id: "dairy",
        name: "Dairy (milk, yoghurt, cheese)",
        min_c: 0.0,
        max_c: 5.0,
        setpoint_c: 2.5,
        humidity_pct: 80.0,
    },
    ProductPreset {
        id: "pharma",
        name: "Pharmaceuticals 2-8 °C",
        min_c: 2.0,
        max_c: 8.0,
        setpoint_c: 5.0,
        humidity_pct: 50.0,
    },
    ProductPreset {
        id: "chilling-sensitive-produce",
        name: "Chilling-sensitive produce (mangoes)",
        min_c: 10.0,
        max_c: 13.0,
        setpoint_c: 11.5,
        humidity_pct: 90.0,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setpoint_sits_inside_its_band_with_room_to_cycle() {
        for p in PRODUCT_PRESETS {
            assert!(p.min_c < p.max_c, "{}", p.id);
            assert!(p.setpoint_c - p.min_c >= 0.5, "{}", p.id);
            assert!(p.max_c - p.setpoint_c >= 1.5, "{}", p.id);
        }
    }

    #[test]
    fn ids_are_unique_and_found() {
        for p in PRODUCT_PRESETS {
            assert_eq!(ProductPreset::find(p.id), Some(p));
        }
        assert_eq!(ProductPreset::find("ice-cream"), None);
    }
}
