//! The temperature report over HTTP against a fresh database: a valid PDF whose text (read
//! back with poppler's `pdftotext`) holds the shipment, its figures, the alerts with their
//! notes and the fingerprint of the readings export, in English and in Chinese; its chart
//! as SVG.

use std::process::Command;

use chrono::Duration;
use coldchain_e2e::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const T: &str = "acme";

async fn fetch(url: String) -> (u16, String, Vec<u8>) {
    let response = reqwest::Client::new()
        .get(url)
        .header("X-Tenant", T)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.bytes().await.unwrap().to_vec())
}

/// The text of a PDF, as a reader's copy and paste would give it.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "pdftotext is needed to read the report back ({e}): apt-get install poppler-utils"
            )
        });
    assert!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `h:mm`, as the report's figures table prints durations.
fn hm(seconds: &Value) -> String {
    let minutes = (seconds.as_i64().unwrap() + 30) / 60;
    format!("{}:{:02}", minutes / 60, minutes % 60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_is_a_pdf_with_the_figures_in_english_and_chinese() {
    let c = cherries_in_a_fresh_database(10).await;
    let (_, list) = call("GET", format!("{}/v1/shipments", c.api), T, None).await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let at = |m: i64| c.start + Duration::minutes(m);
    for event in [
        json!({"kind": "handover", "ts": at(5), "from_custodian": "Orchard Packers",
               "to_custodian": "Qantas Freight", "dock_minutes": 0, "location": "Hobart"}),
        json!({"kind": "departed", "ts": at(10), "location": "Hobart"}),
    ] {
        let (s, body) = call(
            "POST",
            format!("{}/v1/shipments/{id}/events", c.api),
            T,
            Some(event),
        )
        .await;
        assert_eq!(s, 201, "{body}");
    }
    // 3 hours every 5 minutes: 3.5 °C for 30 minutes (an alert that ended), then 4.5 °C
    // from minute 150 to the end (an alert still open).
    let temps: Vec<f64> = (0..37)
        .map(|i| match i {
            12..18 => 3.5,
            30.. => 4.5,
            _ => 1.0,
        })
        .collect();
    c.store
        .write_batch(&readings_batch(T, "logger-1", c.start, 5, &temps))
        .await
        .unwrap();
    let (_, open) = call("GET", format!("{}/v1/alerts?status=open", c.api), T, None).await;
    let alert = open["items"][0]["id"]
        .as_str()
        .expect("an open alert")
        .to_owned();
    let (s, _) = call(
        "POST",
        format!("{}/v1/alerts/{alert}/acknowledge", c.api),
        T,
        Some(json!({"by": "mei", "note": "calling the carrier"})),
    )
    .await;
    assert_eq!(s, 200);

    let (_, figures) = call(
        "GET",
        format!("{}/v1/shipments/{id}/figures", c.api),
        T,
        None,
    )
    .await;
    let overall = &figures["overall"];
    let (s, _, csv) = fetch(format!("{}/v1/shipments/{id}/readings.csv", c.api)).await;
    assert_eq!(s, 200);
    let fingerprint = hex::encode(Sha256::digest(&csv));

    let mut texts = Vec::new();
    for (lang, title, table) in [
        ("en", "Temperature report", "Figures"),
        ("zh", "冷链温度报告", "温度统计"),
    ] {
        let (s, kind, pdf) = fetch(format!("{}/v1/shipments/{id}/report?lang={lang}", c.api)).await;
        assert_eq!(
            (s, kind.as_str()),
            (200, "application/pdf"),
            "{}",
            String::from_utf8_lossy(&pdf)
        );
        assert!(pdf.starts_with(b"%PDF-") && pdf.ends_with(b"%%EOF\n") || pdf.ends_with(b"%%EOF"));
        let text = pdf_text(&pdf);
        for expected in [
            title,
            table,
            "MEL-SHA-1",
            "Orchard Packers",
            "Qantas Freight",
            "calling the carrier",
            "mei",
            "4.5",
            &fingerprint,
            &hm(&overall["in_band_s"]),
            &hm(&overall["above_s"]),
            &format!("{:.1}", overall["mkt_c"].as_f64().unwrap()),
            &format!("{:.1}", overall["mean_c"].as_f64().unwrap()),
        ] {
            assert!(
                text.contains(expected),
                "{lang}: {expected:?} missing from\n{text}"
            );
        }
        texts.push(text);
    }
    assert!(texts[1].contains("温度过高"), "the alert kind in Chinese");
    assert!(texts[0].contains("Temperature high"));

    let (s, kind, svg) = fetch(format!("{}/v1/shipments/{id}/report/chart.svg", c.api)).await;
    assert_eq!((s, kind.as_str()), (200, "image/svg+xml; charset=utf-8"));
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    assert_eq!(
        svg.matches("peak 4.5 °C").count() + svg.matches("peak 3.5 °C").count(),
        2,
        "both alerts marked"
    );
    let (_, _, svg_zh) = fetch(format!(
        "{}/v1/shipments/{id}/report/chart.svg?lang=zh",
        c.api
    ))
    .await;
    assert!(String::from_utf8(svg_zh).unwrap().contains("峰值 4.5 °C"));

    // Another tenant sees no such shipment.
    for path in [
        "report",
        "report/chart.svg",
        "readings.csv",
        "timeline",
        "figures",
    ] {
        let (s, body) = call(
            "GET",
            format!("{}/v1/shipments/{id}/{path}", c.api),
            "rival",
            None,
        )
        .await;
        assert_eq!(s, 404, "{path}: {body}");
    }
    let (s, _, body) = fetch(format!("{}/v1/shipments/{id}/report?lang=fr", c.api)).await;
    assert_eq!(s, 422, "{}", String::from_utf8_lossy(&body));
    let (s, _, _) = fetch(format!(
        "{}/v1/shipments/{}/report",
        c.api,
        uuid::Uuid::new_v4()
    ))
    .await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_font_the_report_says_what_to_install() {
    let c = cherries_in_a_fresh_database(1).await;
    let api = serve_api_with_font(
        c.store.clone(),
        coldchain_api::routes::report::ReportFonts::new("/nonexistent/font.ttc"),
    )
    .await;
    let (_, list) = call("GET", format!("{api}/v1/shipments"), T, None).await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let (s, body) = call("GET", format!("{api}/v1/shipments/{id}/report"), T, None).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (503, Some("not_configured")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("fonts-wqy-microhei")
    );
    // The chart needs no font file: the browser sets its text.
    let (s, _, svg) = fetch(format!("{api}/v1/shipments/{id}/report/chart.svg")).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&svg));
}
