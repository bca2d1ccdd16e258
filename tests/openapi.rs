//! The API describes itself: `/openapi.json` covers every route the server answers, and
//! `/docs` shows it. A route added without its description fails here.

use std::path::Path;

use coldchain_e2e::*;
use serde_json::Value;

const METHODS: [&str; 4] = ["get", "post", "put", "delete"];

/// The router's source may only add routes through utoipa-axum's `routes!`, which needs the
/// handler's `#[utoipa::path]`: plain axum routing would serve an undocumented route.
#[test]
fn routes_are_only_added_with_their_description() {
    fn scan(dir: &Path, offenders: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scan(&path, offenders);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                for plain in [
                    ".route(",
                    ".route_service(",
                    ".nest(",
                    ".nest_service(",
                    "Router::new()",
                    "MethodRouter",
                ] {
                    let code = line.split("//").next().unwrap_or_default();
                    if code.contains(plain) && !code.contains("OpenApiRouter::new()") {
                        offenders.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    let mut offenders = Vec::new();
    scan(&repo_root().join("crates/api/src"), &mut offenders);
    assert!(
        offenders.is_empty(),
        "routes added without an OpenAPI description:\n{}",
        offenders.join("\n")
    );
}

/// Every documented operation is served (not the router's 404 or 405), every method the
/// document leaves out of a path is refused with 405, and every schema it refers to exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_in_the_openapi_document() {
    init_tracing();
    let db = TestDb::create().await;
    let api = serve_api(db.store().await).await;
    let http = reqwest::Client::new();
    let (_, doc) = call("GET", format!("{api}/openapi.json"), "acme", None).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 25, "{} paths", paths.len());

    for (path, item) in paths {
        let url = format!(
            "{api}{}",
            path.replace("{id}", &uuid::Uuid::new_v4().to_string())
        );
        for method in METHODS {
            let request = match method {
                "get" => http.get(&url),
                "post" => http.post(&url).json(&serde_json::json!({})),
                "put" => http.put(&url).json(&serde_json::json!({})),
                _ => http.delete(&url),
            }
            .header("X-Tenant", "acme");
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body = if path == "/v1/alerts/stream" {
                // A live stream: the status is all there is to see.
                String::new()
            } else {
                response.text().await.unwrap()
            };
            match item.get(method) {
                Some(op) => {
                    assert!(
                        status != 405 && !body.contains("route not found"),
                        "{method} {path} is documented but not served: {status} {body}"
                    );
                    assert!(
                        op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                        "{method} {path} documents no response"
                    );
                    if path.starts_with("/v1/") {
                        assert!(
                            op["parameters"]
                                .as_array()
                                .is_some_and(|p| p.iter().any(|p| p["name"] == "X-Tenant")),
                            "{method} {path} does not document X-Tenant"
                        );
                    }
                    for param in path.split('{').skip(1) {
                        let name = param.split('}').next().unwrap();
                        assert!(
                            op["parameters"]
                                .as_array()
                                .is_some_and(|p| p.iter().any(|p| p["name"] == name)),
                            "{method} {path} does not document its {name} parameter"
                        );
                    }
                }
                None => assert_eq!(
                    status, 405,
                    "{method} {path} is served ({status}) but not documented: {body}"
                ),
            }
        }
    }

    // Every $ref points at a schema the document holds.
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(
            schemas.contains_key(name),
            "{r} is referred to but not defined"
        );
    }

    let page = http.get(format!("{api}/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().await.unwrap().contains("coldchain"));
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}
