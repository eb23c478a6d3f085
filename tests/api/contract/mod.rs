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
        let errors: Vec<String> = validator
            .iter_errors(frame)
            .map(|e| format!("{} at `{}`", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "schema {name} (docs/asyncapi.yaml): {}",
                errors.join("; ")
            ))
        }
    }
}

/// A frame a test client received from the server: it must match the
/// contract. Panics with the frame and the schema's complaint.
pub fn check_received(socket: Socket, frame: &Value) {
    if let Err(e) = Contract::get().check(socket, Direction::ToClient, frame) {
        panic!("a frame the server sent does not match the contract: {e}\nframe: {frame}");
    }
}
