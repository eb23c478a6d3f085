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
            .replace("{reference}", "K7QP-M3XW")
            .replace("{canned_reply_id}", "0b6f0c8e-2a53-4a4e-9a57-5a2b1f0f5c11");
        for method in [
            reqwest::Method::DELETE,
            reqwest::Method::OPTIONS,
            reqwest::Method::PUT,
            reqwest::Method::POST,
        ] {
            // Only the methods the path does not take.
            if methods.contains(method.as_str()) {
                continue;
            }
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
    for (path, code) in [
        ("/api/admin/audit?limit=abc", "invalid_filter"),
        ("/api/admin/slots?from=-1", "bad_request"),
    ] {
        let r = http
            .get(app.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        expect_error(r, 400, code).await;
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

/// The schemas both documents name (the handoff, the opening hours, a
/// slot...) are the same in both, descriptions aside: one name, one thing.
#[test]
fn the_schemas_both_documents_share_are_the_same() {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, _)| k.as_str() != "description")
                    .map(|(k, v)| (k.clone(), strip(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    let a = load_yaml("asyncapi.yaml");
    let o = load_yaml("openapi.yaml");
    let a = a["components"]["schemas"].as_object().unwrap();
    let mut shared = Vec::new();
    for (name, schema) in o["components"]["schemas"].as_object().unwrap() {
        if let Some(other) = a.get(name) {
            assert_eq!(strip(schema), strip(other), "schema {name} differs");
            shared.push(name.as_str());
        }
    }
    for name in ["HandoffView", "SlotView", "HoursView", "ErrorCode"] {
        assert!(shared.contains(&name), "{name} is shared: {shared:?}");
    }
}

/// No 2xx answer is documented as a bare `{type: object}`: every success
/// body has its fields written down.
#[test]
fn every_success_body_has_a_real_schema() {
    let doc = load_yaml("openapi.yaml");
    let mut loose = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(responses) = op.get("responses").and_then(Value::as_object) else {
                continue;
            };
            for (status, response) in responses {
                if !status.starts_with('2') {
                    continue;
                }
                let response = super::resolve(&doc, response);
                let Some(schema) = response["content"]
                    .get("application/json")
                    .map(|c| &c["schema"])
                else {
                    continue;
                };
                let schema = super::resolve(&doc, schema);
                let items = super::resolve(&doc, &schema["items"]);
                let bare = |s: &Value| {
                    s["type"] == "object"
                        && s.get("properties").is_none()
                        && s.get("additionalProperties").is_none()
                };
                if bare(schema) || (schema["type"] == "array" && bare(items)) {
                    loose.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    assert!(
        loose.is_empty(),
        "success bodies without a schema: {loose:?}"
    );
}

/// The HTTP check bites: a body as the server sends it passes, the same
/// body with a field renamed (as after renaming a struct's field in the
/// server but not in the document) or missing fails, and an undocumented
/// success fails.
#[test]
fn the_http_check_refuses_a_renamed_field() {
    let c = super::HttpContract::get();
    let account = json!({
        "id": "0b7e7c1e-3d1f-4a39-9a57-5d2f0c1e9b11",
        "username": "tanaka",
        "display_name": "田中",
        "role": "counsellor",
        "active": true,
        "last_login_at": null,
        "second_factor": false,
    });
    c.check("GET", "/api/me", 200, Some(&account)).unwrap();
    let mut renamed = account.clone();
    let v = renamed
        .as_object_mut()
        .unwrap()
        .remove("display_name")
        .unwrap();
    renamed["displayName"] = v;
    let e = c.check("GET", "/api/me", 200, Some(&renamed)).unwrap_err();
    assert!(
        e.contains("display_name") && e.contains("displayName"),
        "{e}"
    );
    // A path parameter is matched: an account's second factor reset.
    let path = "/api/accounts/0b7e7c1e-3d1f-4a39-9a57-5d2f0c1e9b11/second-factor/reset";
    c.check("POST", path, 200, Some(&json!({"had_second_factor": true})))
        .unwrap();
    c.check("POST", path, 200, Some(&json!({"had_2fa": true})))
        .unwrap_err();
    // Errors are the error body; a 204 has no body; an undocumented
    // success is refused.
    let err = json!({"code": "forbidden", "message": "no"});
    c.check("GET", "/api/me", 403, Some(&err)).unwrap();
    c.check("GET", "/api/me", 403, Some(&json!({"error": "no"})))
        .unwrap_err();
    c.check("POST", "/api/logout", 204, None).unwrap();
    c.check("POST", "/api/logout", 200, Some(&json!({})))
        .unwrap_err();
    c.check("GET", "/api/nothing", 200, Some(&json!({})))
        .unwrap_err();
}
