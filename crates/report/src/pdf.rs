//! The report laid out on A4 pages, then drawn with krilla (which embeds the subset of the
//! font the text uses, with the Unicode mapping that lets readers copy and search it).
//!
//! Layout first, drawing second: the layout is a list of pages of simple operations, so
//! page breaks and the "page n of m" footer need no back-tracking.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use coldchain_domain::figures::{Figures, Verdict};
use coldchain_domain::journey::LegKind;
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Size, Transform};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, Stroke};
use krilla::text::TextDirection;
use krilla_svg::{SurfaceExt, SvgSettings};

use crate::chart::{self, trim};
use crate::words::{Lang, Words, duration, term};
use crate::{ReportError, ReportFont, ReportInput};

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 36.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const BOTTOM: f32 = PAGE_H - 48.0;

type Rgb = (u8, u8, u8);
const INK: Rgb = (28, 32, 38);
const MUTED: Rgb = (85, 96, 110);
const ACCENT: Rgb = (31, 95, 168);

enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        colour: Rgb,
        text: String,
    },
    Rule {
        y: f32,
    },
    Chart {
        y: f32,
        height: f32,
    },
}

struct Layout {
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl Layout {
    fn new() -> Self {
        Self {
            pages: vec![Vec::new()],
            y: MARGIN,
        }
    }

    fn push(&mut self, op: Op) {
        self.pages.last_mut().expect("a page").push(op);
    }

    /// Starts a new page unless `height` more fits on this one.
    fn room(&mut self, height: f32) {
        if self.y + height > BOTTOM {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn text(&mut self, x: f32, size: f32, colour: Rgb, text: impl Into<String>) {
        let y = self.y + size;
        self.push(Op::Text {
            x,
            y,
            size,
            colour,
            text: text.into(),
        });
    }

    /// One line of text, wrapped to the content width.
    fn para(&mut self, indent: f32, size: f32, colour: Rgb, text: &str) {
        for line in wrap(text, size, CONTENT_W - indent) {
            self.room(size * 1.45);
            self.text(MARGIN + indent, size, colour, line);
            self.y += size * 1.45;
        }
    }

    fn heading(&mut self, text: &str) {
        self.room(40.0);
        self.y += 10.0;
        self.text(MARGIN, 12.5, ACCENT, text);
        self.y += 17.0;
        self.push(Op::Rule { y: self.y });
        self.y += 6.0;
    }

    /// `label: value` on one line.
    fn field(&mut self, label: &str, value: &str) {
        self.room(14.0);
        self.text(MARGIN, 9.0, MUTED, label);
        let lines = wrap(value, 9.0, CONTENT_W - 110.0);
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                self.room(13.0);
            }
            self.text(MARGIN + 110.0, 9.0, INK, line.clone());
            self.y += 13.0;
        }
    }

    /// Cells at fixed column offsets, each cut to its column.
    fn row(&mut self, size: f32, colour: Rgb, columns: &[f32], cells: &[String]) {
        self.room(size * 1.6);
        for (i, cell) in cells.iter().enumerate() {
            let x = columns[i];
            let width = columns.get(i + 1).map_or(CONTENT_W - x, |next| next - x) - 3.0;
            let text = wrap(cell, size, width)
                .into_iter()
                .next()
                .unwrap_or_default();
            self.text(MARGIN + x, size, colour, text);
        }
        self.y += size * 1.6;
    }
}

/// How wide `text` is at `size`, near enough: CJK glyphs are one em, others about half.
fn width(text: &str, size: f32) -> f32 {
    text.chars()
        .map(|c| if c >= '\u{2E80}' { 1.0 } else { 0.56 })
        .sum::<f32>()
        * size
}

/// Greedy line breaking at spaces (and anywhere inside CJK text).
fn wrap(text: &str, size: f32, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_inclusive(' ') {
        for piece in split_long(word, size, max) {
            if !line.is_empty() && width(&format!("{line}{piece}"), size) > max {
                lines.push(line.trim_end().to_owned());
                line.clear();
            }
            line.push_str(&piece);
        }
    }
    if !line.trim().is_empty() || lines.is_empty() {
        lines.push(line.trim_end().to_owned());
    }
    lines
}

/// A word wider than the line, cut into pieces that fit.
fn split_long(word: &str, size: f32, max: f32) -> Vec<String> {
    let mut pieces = vec![String::new()];
    for c in word.chars() {
        let last = pieces.last_mut().expect("a piece");
        if width(last, size) + width(&c.to_string(), size) > max && !last.is_empty() {
            pieces.push(String::new());
        }
        pieces.last_mut().expect("a piece").push(c);
    }
    pieces
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn span(lang: Lang, start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> String {
    let w = lang.words();
    format!(
        "{} – {}",
        start.map_or("…".to_owned(), when),
        end.map_or(w.ongoing.to_owned(), when)
    )
}

/// `text` after `separator`; nothing when there is no text.
fn after(separator: &str, text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("{separator}{text}")
    }
}

/// `h:mm` for the figures table.
fn hm(seconds: i64) -> String {
    let minutes = (seconds + 30) / 60;
    format!("{}:{:02}", minutes / 60, minutes % 60)
}

fn celsius(v: Option<f64>) -> String {
    v.map_or("–".to_owned(), trim_1)
}

/// One decimal, as loggers report and inspectors read temperatures.
fn trim_1(v: f64) -> String {
    let s = format!("{v:.1}");
    if s == "-0.0" { "0.0".to_owned() } else { s }
}

fn figure_cells(label: String, f: &Figures) -> Vec<String> {
    vec![
        label,
        f.readings.to_string(),
        celsius(f.min_c),
        celsius(f.max_c),
        celsius(f.mean_c),
        celsius(f.mkt_c),
        hm(f.in_band_s),
        hm(f.above_s),
        hm(f.below_s),
        hm(f.unknown_s),
        format!("{} ({})", f.excursions, hm(f.excursion_s)),
        hm(f.budget_used_s),
    ]
}

fn leg_label(lang: Lang, seq: u32, kind: Option<LegKind>, from: &str, to: &str) -> String {
    let kind = kind.map_or(String::new(), |kind| {
        term(
            lang,
            match kind {
                LegKind::Origin => "origin",
                LegKind::Transit => "transit",
                LegKind::Hub => "hub",
            },
        ) + " "
    });
    let place = match (from.is_empty(), to.is_empty()) {
        (false, false) => format!("{from} → {to}"),
        (false, true) => from.to_owned(),
        (true, false) => format!("→ {to}"),
        (true, true) => String::new(),
    };
    match lang {
        Lang::En => format!("{} {seq} {kind}{place}", lang.words().leg),
        Lang::Zh => format!("第{seq}段 {kind}{place}"),
    }
}

fn lay_out(input: &ReportInput, lang: Lang) -> Layout {
    let w: &Words = lang.words();
    let shipment = &input.record.shipment;
    let mut l = Layout::new();

    l.text(MARGIN, 20.0, INK, w.title);
    l.y += 28.0;
    l.text(MARGIN, 11.0, MUTED, shipment.reference.clone());
    l.y += 18.0;

    l.heading(w.shipment);
    l.field(w.reference, &shipment.reference);
    if !shipment.seller.is_empty() {
        l.field(w.seller, &shipment.seller);
    }
    if !(shipment.origin.is_empty() && shipment.destination.is_empty()) {
        l.field(
            w.route,
            &format!("{} → {}", shipment.origin, shipment.destination),
        );
    }
    l.field(w.mode, &term(lang, &shipment.mode));
    l.field(w.status, &term(lang, &shipment.status));
    if let Some(p) = &input.record.profile {
        l.field(
            w.product,
            &format!(
                "{} ({} {}..{} °C)",
                p.name,
                w.band,
                trim(p.min_c),
                trim(p.max_c)
            ),
        );
    }
    let planned_or =
        |actual: Option<DateTime<Utc>>, planned: Option<DateTime<Utc>>| match (actual, planned) {
            (Some(a), _) => when(a),
            (None, Some(p)) => format!("{} ({})", when(p), w.planned),
            (None, None) => "–".to_owned(),
        };
    l.field(
        w.departure,
        &planned_or(shipment.actual_departure, shipment.planned_departure),
    );
    l.field(
        w.arrival,
        &planned_or(shipment.actual_arrival, shipment.planned_arrival),
    );

    l.heading(w.verdict);
    match input.assessment {
        Some(a) => {
            let colour = match a.verdict {
                Verdict::WithinBand => (46, 125, 50),
                Verdict::AtRisk => (184, 110, 0),
                Verdict::Compromised => (176, 31, 31),
            };
            let code = match a.verdict {
                Verdict::WithinBand => "within_band",
                Verdict::AtRisk => "at_risk",
                Verdict::Compromised => "compromised",
            };
            l.room(20.0);
            l.text(MARGIN, 14.0, colour, term(lang, code));
            l.y += 20.0;
            l.para(
                0.0,
                9.0,
                INK,
                &format!(
                    "{}: {} / {}",
                    w.budget_used,
                    duration(lang, a.budget_used_s),
                    duration(lang, a.budget_s)
                ),
            );
            if a.open_alerts > 0 {
                l.para(
                    0.0,
                    9.0,
                    INK,
                    &format!("{}: {}", w.open_alerts, a.open_alerts),
                );
            }
        }
        None => l.para(0.0, 9.0, MUTED, w.not_judged),
    }

    l.heading(w.chart);
    let height = (CONTENT_W * chart::HEIGHT as f32 / chart::WIDTH as f32).round();
    l.room(height);
    let y = l.y;
    l.push(Op::Chart { y, height });
    l.y += height + 4.0;

    if let Some(figures) = input.figures {
        l.heading(w.figures);
        // The stretch's name takes what the eleven figures leave.
        let columns: Vec<f32> = std::iter::once(0.0)
            .chain((0..11).map(|i| CONTENT_W - 33.0 * (11 - i) as f32))
            .collect();
        let header: Vec<String> = w.columns.iter().map(|c| (*c).to_owned()).collect();
        l.row(6.8, MUTED, &columns, &header);
        l.row(
            6.8,
            INK,
            &columns,
            &figure_cells(w.whole_shipment.to_owned(), &figures.overall),
        );
        for d in &figures.devices {
            let label = format!("{} {}", w.logger, d.of.device_id);
            l.row(6.8, INK, &columns, &figure_cells(label, &d.figures));
        }
        for leg in &figures.legs {
            // The kind is in the journey section; here the places.
            let label = leg_label(lang, leg.of.seq, None, &leg.of.from, &leg.of.to);
            l.row(6.8, INK, &columns, &figure_cells(label, &leg.figures));
        }
        for c in &figures.custodians {
            let label = format!("{} {}", w.custodian, c.of.custodian);
            l.row(6.8, INK, &columns, &figure_cells(label, &c.figures));
        }
        l.para(
            0.0,
            7.0,
            MUTED,
            match lang {
                Lang::En => {
                    "Durations in h:mm. MKT: mean kinetic temperature (USP <1079.2>). Budget: \
                     out-of-band time the excursion budget counts (the worst logger's)."
                }
                Lang::Zh => {
                    "时长格式为 小时:分钟。MKT：平均动力学温度（USP <1079.2>）。预算已用：计入超温时间预算的超温时长（取最差的记录仪）。"
                }
            },
        );
    }

    l.heading(w.journey);
    let journey = input.record.journey();
    if input.record.events.is_empty() {
        l.para(0.0, 9.0, MUTED, w.no_journey);
    }
    for leg in &journey.legs {
        let label = leg_label(lang, leg.seq, Some(leg.kind), &leg.from, &leg.to);
        l.para(
            0.0,
            9.0,
            INK,
            &format!("{label}: {}", span(lang, leg.start, leg.end)),
        );
    }
    for c in &journey.custody {
        l.para(
            0.0,
            9.0,
            INK,
            &format!(
                "{} {}: {}",
                w.custodian,
                c.custodian,
                span(lang, c.start, c.end)
            ),
        );
    }
    for e in &input.record.events {
        let label = match e.kind.code() {
            "handover" => format!(
                "{} {} → {}",
                w.handover,
                e.from_custodian.as_deref().unwrap_or("…"),
                e.to_custodian.as_deref().unwrap_or("…")
            ),
            "customs_hold" => w.customs_hold.to_owned(),
            "customs_released" => w.customs_released.to_owned(),
            _ => continue,
        };
        let temp = e
            .temp_c
            .map(|t| format!(", {} °C", trim_1(t)))
            .unwrap_or_default();
        let place = after(", ", &e.location);
        l.para(
            0.0,
            9.0,
            INK,
            &format!("{label}{place}: {}{temp}", when(e.ts)),
        );
    }

    l.heading(w.alerts);
    if input.alerts.is_empty() {
        l.para(0.0, 9.0, MUTED, w.no_alerts);
    }
    for a in input.alerts {
        let peak = a
            .peak_c
            .map(|p| format!(" · {} {} °C", w.peak, trim_1(p)))
            .unwrap_or_default();
        l.para(
            0.0,
            9.0,
            INK,
            &format!(
                "{} · {} · {} · {}{peak} · {}",
                term(lang, &a.kind),
                term(lang, &a.severity),
                a.device_id.as_deref().unwrap_or("–"),
                span(lang, Some(a.started_at), a.ended_at),
                term(lang, &a.status)
            ),
        );
        for m in input.moments.iter().filter(|m| m.alert_id == a.id) {
            let who = m.actor.strip_prefix("operator:").unwrap_or(&m.actor);
            let by = if m.action == "resolved" {
                w.resolved_by
            } else {
                w.acknowledged_by
            };
            let note = after(": ", &m.note);
            l.para(
                14.0,
                8.5,
                MUTED,
                &format!("{by} {who}, {}{note}", when(m.at)),
            );
        }
    }

    l.heading(w.fingerprint);
    l.para(
        0.0,
        8.5,
        INK,
        &format!(
            "{} GET /v1/shipments/{}/readings.csv ({} {}):",
            w.fingerprint_of, shipment.id, input.readings, w.readings
        ),
    );
    l.para(0.0, 9.0, INK, &format!("SHA-256 {}", input.fingerprint));
    l.para(
        0.0,
        8.0,
        MUTED,
        &format!("{} {}", w.generated, when(input.generated_at)),
    );
    l
}

fn fill(colour: Rgb) -> Fill {
    Fill {
        paint: rgb::Color::new(colour.0, colour.1, colour.2).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

pub(crate) fn render(
    input: &ReportInput,
    lang: Lang,
    font: &ReportFont,
) -> Result<Vec<u8>, ReportError> {
    let layout = lay_out(input, lang);
    let svg = chart::svg(input.record, input.alerts, lang);
    let tree = {
        let mut db = usvg::fontdb::Database::new();
        db.load_font_data(font.data.as_ref().clone());
        let options = usvg::Options {
            fontdb: Arc::new(db),
            ..usvg::Options::default()
        };
        usvg::Tree::from_str(&svg, &options).map_err(|e| ReportError::Chart(e.to_string()))?
    };
    let w = lang.words();
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!("{} {}", w.title, input.record.shipment.reference))
            .language(lang.code().to_owned())
            .creator("coldchain".to_owned()),
    );
    let pages = layout.pages.len();
    for (n, ops) in layout.pages.into_iter().enumerate() {
        let settings = PageSettings::new(Size::from_wh(PAGE_W, PAGE_H).expect("A4"));
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        let mut draw = |x: f32, y: f32, size: f32, colour: Rgb, text: &str| {
            surface.set_fill(Some(fill(colour)));
            surface.draw_text(
                Point::from_xy(x, y),
                font.font.clone(),
                size,
                text,
                false,
                TextDirection::Auto,
            );
        };
        for op in &ops {
            if let Op::Text {
                x,
                y,
                size,
                colour,
                text,
            } = op
            {
                draw(*x, *y, *size, *colour, text);
            }
        }
        let footer = match lang {
            Lang::En => format!(
                "{} · {} {} / {pages}",
                input.record.shipment.reference,
                w.page,
                n + 1
            ),
            Lang::Zh => format!(
                "{} · 第 {} / {pages} {}",
                input.record.shipment.reference,
                n + 1,
                w.page
            ),
        };
        draw(MARGIN, PAGE_H - 24.0, 7.5, MUTED, &footer);
        for op in &ops {
            match op {
                Op::Rule { y } => {
                    let mut pb = PathBuilder::new();
                    pb.move_to(MARGIN, *y);
                    pb.line_to(PAGE_W - MARGIN, *y);
                    if let Some(path) = pb.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke {
                            paint: rgb::Color::new(200, 206, 214).into(),
                            width: 0.6,
                            ..Stroke::default()
                        }));
                        surface.draw_path(&path);
                        surface.set_stroke(None);
                    }
                }
                Op::Chart { y, height } => {
                    surface.push_transform(&Transform::from_translate(MARGIN, *y));
                    surface.draw_svg(
                        &tree,
                        Size::from_wh(CONTENT_W, *height).expect("chart size"),
                        SvgSettings::default(),
                    );
                    surface.pop();
                }
                Op::Text { .. } => {}
            }
        }
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| ReportError::Pdf(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_wraps_inside_the_width() {
        let lines = wrap(&"word ".repeat(60), 9.0, 200.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| width(l, 9.0) <= 200.0));
        let cjk = wrap(&"冷链温度报告".repeat(10), 10.0, 100.0);
        assert!(cjk.iter().all(|l| width(l, 10.0) <= 100.0), "{cjk:?}");
        assert_eq!(hm(3 * 3600 + 5 * 60), "3:05");
    }
}
