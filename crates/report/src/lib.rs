//! A shipment's temperature report, the document a seller hands to a buyer, an importer or
//! an inspector: the shipment and its product, the lane with its legs and custodians, the
//! temperature chart with the band and the excursions, the figures overall and per logger,
//! leg and custodian, the alerts with who acknowledged and resolved them and why, and the
//! SHA-256 fingerprint of the readings it is based on. English or Simplified Chinese, in one
//! font embedded (subset) in the PDF so it reads the same everywhere.
//!
//! Everything here is computed from what the caller read in one snapshot; nothing is
//! fetched. The figures are the domain's, the same the API serves.

mod chart;
mod pdf;
mod words;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use coldchain_domain::figures::{Assessment, ShipmentFigures};
use coldchain_store::alerts::Alert;
use coldchain_store::record::ShipmentRecord;
use coldchain_store::timeline::AlertMoment;

pub use words::Lang;

/// The font family the chart names; the report's font must be this one.
pub const FONT_FAMILY: &str = "WenQuanYi Micro Hei";

/// Where Debian's `fonts-wqy-microhei` package puts the font.
pub const DEFAULT_FONT_PATH: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "the report font {path} cannot be read ({reason}); install Debian's fonts-wqy-microhei \
         package or point COLDCHAIN_REPORT_FONT at a TrueType font with Latin and CJK glyphs"
    )]
    Font { path: String, reason: String },
    #[error("the chart could not be drawn: {0}")]
    Chart(String),
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
}

/// The report's font: WenQuanYi Micro Hei covers Latin and CJK in one face.
#[derive(Clone)]
pub struct ReportFont {
    data: Arc<Vec<u8>>,
    pub(crate) font: krilla::text::Font,
}

impl std::fmt::Debug for ReportFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportFont")
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl ReportFont {
    /// Reads the font file (first face of a collection).
    pub fn load(path: &Path) -> Result<Self, ReportError> {
        let fail = |reason: String| ReportError::Font {
            path: path.display().to_string(),
            reason,
        };
        let data = Arc::new(std::fs::read(path).map_err(|e| fail(e.to_string()))?);
        let font = krilla::text::Font::new(data.clone().into(), 0)
            .ok_or_else(|| fail("not a font krilla can read".into()))?;
        Ok(Self { data, font })
    }
}

/// What a report is made of, read by the caller in one snapshot.
pub struct ReportInput<'a> {
    pub record: &'a ShipmentRecord,
    /// Absent without a product profile.
    pub figures: Option<&'a ShipmentFigures>,
    pub assessment: Option<&'a Assessment>,
    /// The shipment's alerts, retracted ones left out.
    pub alerts: &'a [Alert],
    /// Their acknowledgements and resolutions by people, with notes.
    pub moments: &'a [AlertMoment],
    /// SHA-256 (hex) of the readings export the figures were computed from.
    pub fingerprint: &'a str,
    pub readings: u64,
    pub generated_at: DateTime<Utc>,
}

/// The temperature chart of the record's readings with its alerts marked (retracted ones
/// and other kinds are left out), an SVG document.
pub fn chart_svg(record: &ShipmentRecord, alerts: &[Alert], lang: Lang) -> String {
    chart::svg(record, alerts, lang)
}

/// The report as a PDF document.
pub fn pdf(input: &ReportInput, lang: Lang, font: &ReportFont) -> Result<Vec<u8>, ReportError> {
    pdf::render(input, lang, font)
}
