//! The protocol contract (docs/asyncapi.yaml, docs/openapi.yaml) as the
//! test suite uses it: every frame `Ws` receives is checked here
//! (`check_received`), and the tests in `contract::docs` check the examples
//! in docs/PROTOCOL.md and that the check bites.
//!
//! A message's schema is found from the document itself: the operations
//! (`action: send` = server to client, `receive` = client to server) of the
//! socket's channel list its messages, each message's payload is a schema
//! whose `type` property is a `const`. Adding a message to the document is
//! all it takes for the suite to know it.

mod docs;
mod http;
mod start_key;
mod wire;

use std::collections::HashMap;
use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Socket {
    Visitor,
    Counsellor,
}

impl Socket {
    pub fn from_path(path: &str) -> Option<Socket> {
        let path = path.split('?').next().unwrap_or(path);
        match path {
            "/ws/visitor" => Some(Socket::Visitor),
            "/ws/counsellor" => Some(Socket::Counsellor),
            _ => None,
        }
    }

    fn channel(self) -> &'static str {
        match self {
            Socket::Visitor => "visitor",
            Socket::Counsellor => "counsellor",
        }
    }
}

/// Which way a frame travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Server to client (the operation's `action: send`).
    ToClient,
    /// Client to server (`action: receive`).
    ToServer,
}

pub struct Contract {
    /// (socket, direction, wire type) -> (schema name, validator).
    messages: HashMap<(Socket, Direction, String), (String, Validator)>,
}

/// The repository's docs/ folder.
pub fn docs_path(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(file)
}

/// A YAML document as JSON.
pub fn load_yaml(file: &str) -> Value {
    let text = std::fs::read_to_string(docs_path(file))
        .unwrap_or_else(|e| panic!("cannot read docs/{file}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("docs/{file} is not YAML: {e}"))
}

/// Follow a local `$ref` ("#/a/b") inside `doc`.
pub fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let target = doc
                .pointer(r.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
            resolve(doc, target)
        }
        None => v,
    }
}

impl Contract {
    pub fn get() -> &'static Contract {
        static C: OnceLock<Contract> = OnceLock::new();
        C.get_or_init(|| Contract::from_doc(&load_yaml("asyncapi.yaml")))
    }

    pub fn from_doc(doc: &Value) -> Contract {
        assert_eq!(doc["asyncapi"], "3.0.0", "an AsyncAPI 3.0 document");
        let schemas = &doc["components"]["schemas"];
        let mut messages = HashMap::new();
        for (op_name, op) in doc["operations"].as_object().expect("operations") {
            let channel_ref = op["channel"]["$ref"].as_str().expect("operation channel");
            let socket = match channel_ref {
                "#/channels/visitor" => Socket::Visitor,
                "#/channels/counsellor" => Socket::Counsellor,
                other => panic!("{op_name}: unknown channel {other}"),
            };
            let direction = match op["action"].as_str() {
                Some("send") => Direction::ToClient,
                Some("receive") => Direction::ToServer,
                other => panic!("{op_name}: action {other:?}"),
            };
            for m in op["messages"].as_array().expect("operation messages") {
                let channel_msg = m["$ref"].as_str().expect("message $ref");
                assert!(
                    channel_msg.starts_with(&format!("{channel_ref}/messages/")),
                    "{op_name}: {channel_msg} is not a message of its channel"
                );
                let message = resolve(doc, m);
                let payload_ref = message["payload"]["$ref"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{channel_msg}: payload is not a $ref"));
                let name = payload_ref
                    .strip_prefix("#/components/schemas/")
                    .expect("payload under components/schemas")
                    .to_owned();
                let schema = resolve(doc, &message["payload"]);
                let wire = schema["properties"]["type"]["const"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: `type` is not a const"))
                    .to_owned();
                assert_eq!(
                    message["name"], wire,
                    "{channel_msg}: message name and payload type differ"
                );
                let root = json!({
                    "$schema": "http://json-schema.org/draft-07/schema#",
                    "components": {"schemas": schemas},
                    "$ref": payload_ref,
                });
                let validator = jsonschema::draft7::new(&root)
                    .unwrap_or_else(|e| panic!("{name}: not a valid schema: {e}"));
                let key = (socket, direction, wire.clone());
                assert!(
                    !messages.contains_key(&key),
                    "two schemas for {wire} ({socket:?}, {direction:?})"
                );
                messages.insert(key, (name, validator));
            }
        }
        Contract { messages }
    }

    /// The wire types known for one socket and direction.
    pub fn types(&self, socket: Socket, direction: Direction) -> Vec<String> {
        let mut t: Vec<String> = self
            .messages
            .keys()
            .filter(|(s, d, _)| *s == socket && *d == direction)
            .map(|(_, _, t)| t.clone())
            .collect();
        t.sort();
        t
    }

    /// Ok, or a message naming the schema and everything wrong.
    pub fn check(&self, socket: Socket, direction: Direction, frame: &Value) -> Result<(), String> {
        let Some(t) = frame.get("type").and_then(Value::as_str) else {
            return Err(format!("no string `type` in {frame}"));
        };
        let Some((name, validator)) = self.messages.get(&(socket, direction, t.to_owned())) else {
            return Err(format!(
                "`{t}` is not a {direction:?} message of the {} socket in docs/asyncapi.yaml",
                socket.channel()
            ));
        };
        check(validator, frame, || {
            format!("schema {name} (docs/asyncapi.yaml)")
        })
    }
}

/// A frame a test client received from the server: it must match the
/// contract. Panics with the frame and the schema's complaint.
pub fn check_received(socket: Socket, frame: &Value) {
    if let Err(e) = Contract::get().check(socket, Direction::ToClient, frame) {
        panic!("a frame the server sent does not match the contract: {e}\nframe: {frame}");
    }
}

/// docs/openapi.yaml as the suite uses it: every answer the suite's HTTP
/// helpers read (`crate::helpers::read_answer`) is checked against the
/// schema its path, method and status document, the way every frame is
/// checked against docs/asyncapi.yaml. A 2xx answer must be documented
/// with its body; any other falls back to the operation's `default` (the
/// one error body).
pub struct HttpContract {
    /// (path template's segments, method) -> the operation's responses.
    operations: Vec<(Vec<String>, String, HttpResponses)>,
    /// The error body, for paths and methods the document does not list.
    error: Validator,
}

struct HttpResponses {
    /// Status (`"200"`, `"default"`) -> its JSON body's validator (`None`
    /// when the answer documents no JSON body: 204, text/calendar), and
    /// whether it documents another content type too (`format=csv`).
    by_status: HashMap<String, (Option<Validator>, bool)>,
}

fn openapi_validator(schemas: &Value, schema: &Value) -> Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": {"schemas": schemas},
        "allOf": [schema],
    });
    jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("not a valid schema: {e}"))
}

impl HttpContract {
    pub fn get() -> &'static HttpContract {
        static C: OnceLock<HttpContract> = OnceLock::new();
        C.get_or_init(|| HttpContract::from_doc(&load_yaml("openapi.yaml")))
    }

    pub fn from_doc(doc: &Value) -> HttpContract {
        assert_eq!(doc["openapi"], "3.1.0");
        let schemas = &doc["components"]["schemas"];
        let mut operations = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            let segments: Vec<String> = path.split('/').map(str::to_owned).collect();
            for (method, op) in item.as_object().unwrap() {
                if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    continue;
                }
                let mut by_status = HashMap::new();
                for (status, response) in op["responses"].as_object().expect("responses") {
                    let response = resolve(doc, response);
                    let validator = response["content"]
                        .get("application/json")
                        .map(|c| openapi_validator(schemas, &c["schema"]));
                    let other = response["content"]
                        .as_object()
                        .is_some_and(|c| c.keys().any(|k| k != "application/json"));
                    by_status.insert(status.clone(), (validator, other));
                }
                operations.push((
                    segments.clone(),
                    method.to_uppercase(),
                    HttpResponses { by_status },
                ));
            }
        }
        let error = openapi_validator(schemas, &json!({"$ref": "#/components/schemas/Error"}));
        HttpContract { operations, error }
    }

    /// The operation for a concrete path (`/api/accounts/<uuid>`): the
    /// template with the most literal segments that fits.
    fn operation(&self, method: &str, path: &str) -> Option<&HttpResponses> {
        let path = path.split('?').next().unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        self.operations
            .iter()
            .filter(|(t, m, _)| {
                m == method
                    && t.len() == segments.len()
                    && t.iter().zip(&segments).all(|(a, b)| {
                        a == b || (a.starts_with('{') && a.ends_with('}') && !b.is_empty())
                    })
            })
            .max_by_key(|(t, _, _)| t.iter().filter(|s| !s.starts_with('{')).count())
            .map(|(_, _, r)| r)
    }

    /// Ok, or what is wrong. `body` is the parsed JSON body, `None` when
    /// the answer had none or was not JSON.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: Option<&Value>,
    ) -> Result<(), String> {
        let success = (200..300).contains(&status);
        let (validator, other) = match self.operation(method, path) {
            None if success => {
                return Err(format!(
                    "{method} {path} answered {status}, but docs/openapi.yaml has no such operation"
                ))
            }
            None => (Some(&self.error), false),
            Some(op) => match op
                .by_status
                .get(&status.to_string())
                .or_else(|| (!success).then(|| op.by_status.get("default")).flatten())
            {
                None => {
                    return Err(format!(
                        "{method} {path}: status {status} is not documented in docs/openapi.yaml"
                    ))
                }
                Some((v, other)) => (v.as_ref(), *other),
            },
        };
        match (validator, body) {
            (Some(v), Some(body)) => check(v, body, || {
                format!("{method} {path} {status} (docs/openapi.yaml)")
            }),
            (Some(_), None) if other => Ok(()),
            (Some(_), None) => Err(format!(
                "{method} {path} {status}: docs/openapi.yaml documents a JSON body, none came"
            )),
            (None, Some(body)) => Err(format!(
                "{method} {path} {status}: a JSON body the document does not describe: {body}"
            )),
            (None, None) => Ok(()),
        }
    }
}

/// An HTTP answer a test read through the suite's helpers: it must match
/// docs/openapi.yaml. Panics with the body and the schema's complaint.
pub fn check_http_answer(method: &str, path: &str, status: u16, body: Option<&Value>) {
    if let Err(e) = HttpContract::get().check(method, path, status, body) {
        panic!("an HTTP answer does not match the contract: {e}");
    }
}

/// `value` against `schema`: every error with where it is, after `what`.
fn check(schema: &Validator, value: &Value, what: impl FnOnce() -> String) -> Result<(), String> {
    let errors: Vec<String> = schema
        .iter_errors(value)
        .map(|e| format!("{} at `{}`", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}", what(), errors.join("; ")))
    }
}
