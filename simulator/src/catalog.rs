//! The world the fleet moves through: Australian origins, Chinese destinations, their ports,
//! airports and climates, and who holds the goods on each leg. Figures are rounded public
//! climate normals and typical transit times, good enough for an operator to recognise.

use serde::{Deserialize, Serialize};

/// A point on the map, in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

const fn at(lat: f64, lon: f64) -> LatLon {
    LatLon { lat, lon }
}

impl LatLon {
    /// Straight-line interpolation; legs are short enough, and the sea route goes through
    /// waypoints, so the track looks right on a map.
    pub fn lerp(self, to: LatLon, f: f64) -> LatLon {
        LatLon {
            lat: self.lat + (to.lat - self.lat) * f,
            lon: self.lon + (to.lon - self.lon) * f,
        }
    }
}

/// Air temperature of a place over the year and the day (°C).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Climate {
    pub annual_mean_c: f64,
    /// Half the difference between the warmest and the coldest month.
    pub seasonal_amplitude_c: f64,
    /// Half the difference between afternoon and night.
    pub daily_amplitude_c: f64,
    /// Day of the year of the warmest weather (about 20 January south, 25 July north).
    pub warmest_day: f64,
}

const fn south(annual_mean_c: f64, seasonal: f64, daily: f64) -> Climate {
    Climate {
        annual_mean_c,
        seasonal_amplitude_c: seasonal,
        daily_amplitude_c: daily,
        warmest_day: 20.0,
    }
}

const fn north(annual_mean_c: f64, seasonal: f64, daily: f64) -> Climate {
    Climate {
        annual_mean_c,
        seasonal_amplitude_c: seasonal,
        daily_amplitude_c: daily,
        warmest_day: 206.0,
    }
}

/// A city at one end of a lane, with where goods enter or leave it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct City {
    pub id: &'static str,
    pub name: &'static str,
    /// Three letters used in shipment references.
    pub code: &'static str,
    pub city: LatLon,
    pub seaport_name: &'static str,
    pub seaport: LatLon,
    pub airport_name: &'static str,
    pub airport: LatLon,
    pub climate: Climate,
    /// Farms, packers, cold stores, hauliers and couriers working here.
    pub hinterland: LatLon,
    pub packer: &'static str,
    pub cold_store: &'static str,
    pub haulier: &'static str,
    pub terminal: &'static str,
    pub ground_handler: &'static str,
    pub courier: &'static str,
}

pub const ORIGINS: &[City] = &[
    City {
        id: "melbourne",
        name: "Melbourne",
        code: "MEL",
        city: at(-37.81, 144.96),
        seaport_name: "Port of Melbourne (Swanson Dock)",
        seaport: at(-37.81, 144.92),
        airport_name: "Melbourne Airport (MEL)",
        airport: at(-37.67, 144.84),
        climate: south(15.5, 5.0, 5.0),
        hinterland: at(-38.20, 146.50),
        packer: "Gippsland Prime Packers",
        cold_store: "Yarra Cold Storage",
        haulier: "Southern Reefer Haulage",
        terminal: "Swanson Reefer Terminal",
        ground_handler: "Tullamarine Perishables Centre",
        courier: "Bayside Chilled Couriers",
    },
    City {
        id: "sydney",
        name: "Sydney",
        code: "SYD",
        city: at(-33.87, 151.21),
        seaport_name: "Port Botany",
        seaport: at(-33.97, 151.22),
        airport_name: "Sydney Airport (SYD)",
        airport: at(-33.94, 151.18),
        climate: south(18.0, 4.5, 4.0),
        hinterland: at(-34.31, 148.30),
        packer: "Hilltops Orchard Packers",
        cold_store: "Botany Cold Logistics",
        haulier: "Hume Refrigerated Transport",
        terminal: "Botany Reefer Terminal",
        ground_handler: "Mascot Cool Chain Handling",
        courier: "Harbour Fresh Couriers",
    },
    City {
        id: "brisbane",
        name: "Brisbane",
        code: "BNE",
        city: at(-27.47, 153.03),
        seaport_name: "Port of Brisbane",
        seaport: at(-27.38, 153.17),
        airport_name: "Brisbane Airport (BNE)",
        airport: at(-27.38, 153.12),
        climate: south(21.0, 4.0, 5.0),
        hinterland: at(-27.56, 151.95),
        packer: "Darling Downs Meat Exporters",
        cold_store: "Moreton Cold Stores",
        haulier: "Warrego Reefer Lines",
        terminal: "Fisherman Islands Reefer Terminal",
        ground_handler: "Brisbane Airport Perishables",
        courier: "Sunshine Chilled Express",
    },
    City {
        id: "perth",
        name: "Perth",
        code: "PER",
        city: at(-31.95, 115.86),
        seaport_name: "Fremantle Port",
        seaport: at(-32.05, 115.74),
        airport_name: "Perth Airport (PER)",
        airport: at(-31.94, 115.97),
        climate: south(19.0, 5.5, 6.0),
        hinterland: at(-35.02, 117.88),
        packer: "Great Southern Seafood and Lamb",
        cold_store: "Swan Cold Chain",
        haulier: "Albany Highway Reefers",
        terminal: "Fremantle Reefer Terminal",
        ground_handler: "Perth Perishables Handling",
        courier: "Swan River Cold Couriers",
    },
];

pub const DESTINATIONS: &[City] = &[
    City {
        id: "shanghai",
        name: "Shanghai",
        code: "SHA",
        city: at(31.23, 121.47),
        seaport_name: "Port of Shanghai (Yangshan)",
        seaport: at(30.63, 122.07),
        airport_name: "Shanghai Pudong (PVG)",
        airport: at(31.14, 121.81),
        climate: north(17.0, 11.5, 4.0),
        hinterland: at(31.05, 121.75),
        packer: "",
        cold_store: "Lingang Cold Chain Park",
        haulier: "Huangpu Reefer Trucking",
        terminal: "Yangshan Reefer Terminal",
        ground_handler: "Pudong Cargo Cool Centre",
        courier: "Hu Fresh Last-Mile",
    },
    City {
        id: "guangzhou",
        name: "Guangzhou / Shenzhen",
        code: "CAN",
        city: at(23.13, 113.26),
        seaport_name: "Port of Shenzhen (Yantian)",
        seaport: at(22.57, 114.27),
        airport_name: "Guangzhou Baiyun (CAN)",
        airport: at(23.39, 113.30),
        climate: north(22.5, 7.5, 4.0),
        hinterland: at(22.95, 113.60),
        packer: "",
        cold_store: "Pearl River Cold Storage",
        haulier: "Lingnan Refrigerated Freight",
        terminal: "Yantian Reefer Terminal",
        ground_handler: "Baiyun Perishables Centre",
        courier: "Yue Chilled Delivery",
    },
    City {
        id: "hangzhou",
        name: "Hangzhou",
        code: "HGH",
        city: at(30.27, 120.16),
        seaport_name: "Port of Ningbo-Zhoushan",
        seaport: at(29.93, 121.86),
        airport_name: "Hangzhou Xiaoshan (HGH)",
        airport: at(30.23, 120.43),
        climate: north(17.5, 12.0, 5.0),
        hinterland: at(30.30, 120.40),
        packer: "",
        cold_store: "Qiantang Cold Logistics",
        haulier: "Zhejiang Reefer Haulage",
        terminal: "Beilun Reefer Terminal",
        ground_handler: "Xiaoshan Cool Cargo",
        courier: "West Lake Fresh Couriers",
    },
    City {
        id: "beijing",
        name: "Beijing",
        code: "PEK",
        city: at(39.90, 116.40),
        seaport_name: "Port of Tianjin",
        seaport: at(38.98, 117.78),
        airport_name: "Beijing Capital (PEK)",
        airport: at(40.08, 116.58),
        climate: north(12.5, 15.0, 6.0),
        hinterland: at(39.80, 116.60),
        packer: "",
        cold_store: "Capital Cold Chain Hub",
        haulier: "Jing-Jin Reefer Transport",
        terminal: "Tianjin Reefer Terminal",
        ground_handler: "Capital Airport Cool Centre",
        courier: "Jingcheng Chilled Express",
    },
];

/// How the long-haul leg travels: by sea or by air (no road reaches China from Australia).
/// The shipment's transport mode in the API is the domain's `TransportMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LongHaul {
    Sea,
    Air,
}

impl LongHaul {
    pub fn code(self) -> &'static str {
        match self {
            LongHaul::Sea => "sea",
            LongHaul::Air => "air",
        }
    }
}

impl From<LongHaul> for coldchain_domain::TransportMode {
    fn from(mode: LongHaul) -> Self {
        match mode {
            LongHaul::Sea => coldchain_domain::TransportMode::Sea,
            LongHaul::Air => coldchain_domain::TransportMode::Air,
        }
    }
}

/// Finds a city by id among origins or destinations.
pub fn city(list: &'static [City], id: &str) -> Option<&'static City> {
    list.iter().find(|c| c.id == id)
}

/// Sea route waypoints between an Australian port and a Chinese one: up the east coast and
/// through the Coral and Philippine Seas, or from Fremantle north past Indonesia.
pub fn sea_waypoints(origin: &City, destination: &City) -> Vec<LatLon> {
    let mut points = vec![origin.seaport];
    if origin.id == "perth" {
        points.extend([
            at(-22.0, 112.5),
            at(-8.5, 116.0),
            at(5.0, 119.5),
            at(15.0, 118.5),
        ]);
    } else {
        if origin.id == "melbourne" {
            points.push(at(-39.2, 147.5));
        }
        points.extend([
            at(-24.0, 154.5),
            at(-10.5, 142.0),
            at(-2.0, 135.0),
            at(12.0, 127.0),
        ]);
    }
    if destination.id == "beijing" {
        points.push(at(34.0, 124.0));
    } else if destination.id == "guangzhou" {
        points.push(at(20.0, 117.0));
    } else {
        points.push(at(25.0, 124.0));
    }
    points.push(destination.seaport);
    points
}

/// Position along a polyline, `f` from 0 (start) to 1 (end), spaced by segment length.
pub fn along(points: &[LatLon], f: f64) -> LatLon {
    let lengths: Vec<f64> = points
        .windows(2)
        .map(|w| ((w[1].lat - w[0].lat).powi(2) + (w[1].lon - w[0].lon).powi(2)).sqrt())
        .collect();
    let total: f64 = lengths.iter().sum();
    if f >= 1.0 {
        return *points.last().unwrap_or(&at(0.0, 0.0));
    }
    let mut remaining = f.max(0.0) * total;
    for (w, len) in points.windows(2).zip(&lengths) {
        if remaining <= *len && *len > 0.0 {
            return w[0].lerp(w[1], remaining / len);
        }
        remaining -= len;
    }
    *points.last().unwrap_or(&at(0.0, 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_starts_and_ends_at_its_ports() {
        for o in ORIGINS {
            for d in DESTINATIONS {
                let route = sea_waypoints(o, d);
                assert_eq!(along(&route, 0.0), o.seaport);
                assert_eq!(along(&route, 1.0), d.seaport);
                let mid = along(&route, 0.5);
                assert!(mid.lat > o.seaport.lat && mid.lat < d.seaport.lat);
            }
        }
    }
}
