//! docs/openapi.yaml against the server: the routes it lists are the ones
//! the server takes (every other method answers 405 with `Allow`), and the
//! errors the independent client met now come in the documented body.

use std::collections::{BTreeMap, BTreeSet};

use jsonschema::Validator;
use serde_json::{json, Value};
use tsunagu::model::Role;

use super::{docs_path, load_yaml};
use crate::helpers::*;

/// The OpenAPI document's error body schema.
fn error_schema() -> Validator {
    let doc = load_yaml("openapi.yaml");
    assert_eq!(doc["openapi"], "3.1.0");
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": {"schemas": doc["components"]["schemas"]},
        "$ref": "#/components/schemas/Error",
    });
    jsonschema::draft202012::new(&root).expect("a valid schema")
}

/// An HTTP error answer: the status, the documented body (checked against
/// docs/openapi.yaml) and its `code`.
async fn expect_error(r: reqwest::Response, status: u16, code: &str) -> reqwest::header::HeaderMap {
    assert_eq!(r.status().as_u16(), status);
    let headers = r.headers().clone();
    let ct = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    let body: Value = r.json().await.expect("a JSON error body");
    let errors: Vec<String> = error_schema()
        .iter_errors(&body)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{body}: {errors:?}");
    assert_eq!(body["code"], code, "{body}");
    headers
}

/// Path -> methods, from docs/openapi.yaml (upper case, sorted).
fn documented_routes() -> BTreeMap<String, BTreeSet<String>> {
    let doc = load_yaml("openapi.yaml");
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(|k| k.to_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// `{slot_id}` -> `{}`, as in `http::API_ROUTES`.
fn pattern(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn the_documented_api_routes_are_the_servers() {
    let documented: BTreeMap<String, BTreeSet<String>> = documented_routes()
        .into_iter()
        .filter(|(p, _)| p.starts_with("/api/"))
        .map(|(p, m)| (pattern(&p), m))
        .collect();
    let server: BTreeMap<String, BTreeSet<String>> = tsunagu::http::API_ROUTES
        .iter()
        .map(|(p, m)| (p.to_string(), m.split(", ").map(str::to_owned).collect()))
        .collect();
    assert_eq!(documented, server);
    // The two documents share one table of error codes.
    let a = load_yaml("asyncapi.yaml");
    let o = load_yaml("openapi.yaml");
    assert_eq!(
        a["components"]["schemas"]["ErrorCode"]["enum"],
        o["components"]["schemas"]["ErrorCode"]["enum"]
    );
    // And every code is in PROTOCOL.md's table of codes.
    let text = std::fs::read_to_string(docs_path("PROTOCOL.md")).unwrap();
    for code in a["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
    {
        let row = format!("| `{}` |", code.as_str().unwrap());
        assert!(text.contains(&row), "PROTOCOL.md has no row {row}");
    }
}

#[tokio::test]
async fn every_api_path_answers_another_method_with_405_and_allow() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    for (path, methods) in documented_routes() {
        let concrete = path
            .replace("{slot_id}", "3f0c2a9e-6d1b-4c8e-9f2a-7b5d3e1c0a84")
            .replace("{reference}", "K7QP-M3XW");
        for method in [
            reqwest::Method::DELETE,
            reqwest::Method::OPTIONS,
            reqwest::Method::PUT,
        ] {
            let r = http
                .request(method.clone(), app.url(&concrete))
                .send()
                .await
                .unwrap();
            let headers = expect_error(r, 405, "method_not_allowed").await;
            let allow: BTreeSet<String> = headers["allow"]
                .to_str()
                .unwrap()
                .split(", ")
                .map(str::to_owned)
                .collect();
            assert_eq!(allow, methods, "{method} {concrete}");
        }
    }
    // `POST /ws/visitor` too (it used to be a plain-text 405).
    let r = http.post(app.url("/ws/visitor")).send().await.unwrap();
    let h = expect_error(r, 405, "method_not_allowed").await;
    assert_eq!(h["allow"], "GET");
    // An unknown path is still 404.
    let r = http
        .delete(app.url("/api/nothing-here"))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "not_found").await;
}

#[tokio::test]
async fn a_query_string_that_does_not_parse_gets_the_error_body() {
    let app = spawn_app().await;
    app.add_account("admin1", "管理者", Role::Admin).await;
    let cookie = app.login("admin1").await;
    let http = reqwest::Client::new();
    for path in ["/api/admin/audit?limit=abc", "/api/admin/slots?from=-1"] {
        let r = http
            .get(app.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        expect_error(r, 400, "bad_request").await;
    }
    // A good one still works.
    let r = http
        .get(app.url("/api/admin/audit?limit=5"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_body_over_16_kib_gets_413_with_the_error_body() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let big = json!({"username": "x", "password": "p".repeat(17 * 1024)});
    let r = http
        .post(app.url("/api/login"))
        .json(&big)
        .send()
        .await
        .unwrap();
    expect_error(r, 413, "body_too_large").await;
    // A body that is merely wrong is still 400.
    let r = http
        .post(app.url("/api/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "bad_request").await;
}
