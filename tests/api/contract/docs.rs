//! docs/PROTOCOL.md against docs/asyncapi.yaml: every JSON example under a
//! message heading matches its message's schema, every message the server
//! parses has a schema, and the check bites.

use serde_json::{json, Value};

use super::{docs_path, Contract, Direction, Socket};

/// Which socket and direction a PROTOCOL.md section describes.
fn section(heading: &str) -> Option<(Socket, Direction)> {
    if heading.contains("Visitor to server") {
        Some((Socket::Visitor, Direction::ToServer))
    } else if heading.contains("Server to visitor") {
        Some((Socket::Visitor, Direction::ToClient))
    } else if heading.contains("Counsellor to server") {
        Some((Socket::Counsellor, Direction::ToServer))
    } else if heading.contains("Server to counsellor") || heading == "## Supervisors" {
        Some((Socket::Counsellor, Direction::ToClient))
    } else {
        None
    }
}

/// One example: where it is, which socket and way, and the JSON.
struct Example {
    line: usize,
    heading: String,
    socket: Socket,
    direction: Direction,
    frame: Value,
}

/// Every ```json block under a `####` message heading in a socket section,
/// and every `{"type":...}` in the first column-pair of the counsellor's
/// message table (its examples are in the table, not under headings).
fn examples() -> Vec<Example> {
    let text = std::fs::read_to_string(docs_path("PROTOCOL.md")).unwrap();
    let mut out = Vec::new();
    let mut where_: Option<(Socket, Direction)> = None;
    let mut heading = String::new();
    let mut block: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if let Some((start, body)) = block.as_mut() {
            if line.starts_with("```") {
                let (start, body) = (*start, std::mem::take(body));
                block = None;
                if let (Some((socket, direction)), true) = (where_, heading.starts_with("####")) {
                    // A block may show several frames, one after another.
                    for frame in serde_json::Deserializer::from_str(&body).into_iter::<Value>() {
                        let frame = frame.unwrap_or_else(|e| {
                            panic!("PROTOCOL.md:{start} ({heading}): not JSON: {e}")
                        });
                        out.push(Example {
                            line: start,
                            heading: heading.clone(),
                            socket,
                            direction,
                            frame,
                        });
                    }
                }
            } else {
                body.push_str(line);
                body.push('\n');
            }
            continue;
        }
        if line.starts_with("```json") {
            block = Some((n, String::new()));
        } else if line.starts_with("## ") || line.starts_with("### ") {
            where_ = section(line);
            heading = line.to_owned();
        } else if line.starts_with("#### ") {
            heading = line.to_owned();
        } else if where_ == Some((Socket::Counsellor, Direction::ToServer))
            && line.starts_with("| `")
        {
            // | `name` | `{"type":...}` ... | answer |
            let cells: Vec<&str> = line.split(" | ").collect();
            if let Some(cell) = cells.get(1) {
                if let Some(start) = cell.find("`{") {
                    let rest = &cell[start + 1..];
                    let end = rest.find("}`").expect("closing }`") + 1;
                    let frame: Value = serde_json::from_str(&rest[..end]).unwrap_or_else(|e| {
                        panic!("PROTOCOL.md:{n}: table example is not JSON: {e}")
                    });
                    out.push(Example {
                        line: n,
                        heading: heading.clone(),
                        socket: Socket::Counsellor,
                        direction: Direction::ToServer,
                        frame,
                    });
                }
            }
        }
    }
    out
}

#[test]
fn every_protocol_md_example_matches_its_schema() {
    let contract = Contract::get();
    let examples = examples();
    let mut failures = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for ex in &examples {
        let t = ex.frame["type"].as_str().unwrap_or("").to_owned();
        // The example belongs to its heading: `#### `welcome`` shows a welcome.
        if ex.heading.starts_with("####") && !ex.heading.contains(&format!("`{t}`")) {
            failures.push(format!(
                "PROTOCOL.md:{} ({}): example of type `{t}` under another heading",
                ex.line, ex.heading
            ));
        }
        if let Err(e) = contract.check(ex.socket, ex.direction, &ex.frame) {
            failures.push(format!("PROTOCOL.md:{} ({}): {e}", ex.line, ex.heading));
        }
        seen.insert((ex.socket, ex.direction, t));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The parser found the examples it should (a heading renamed in the
    // document must not silently empty this test).
    assert!(
        examples.len() >= 40,
        "only {} examples found",
        examples.len()
    );
    for (socket, direction, t) in [
        (Socket::Visitor, Direction::ToServer, "start"),
        (Socket::Visitor, Direction::ToClient, "welcome"),
        (Socket::Counsellor, Direction::ToServer, "offer_handoff"),
        (Socket::Counsellor, Direction::ToClient, "floor"),
    ] {
        assert!(
            seen.contains(&(socket, direction, t.to_owned())),
            "no example of {t} ({socket:?}, {direction:?}) found"
        );
    }
}

#[test]
fn every_message_the_server_parses_has_a_schema() {
    let contract = Contract::get();
    let mut visitor: Vec<String> = tsunagu::protocol::VisitorIn::TYPES
        .iter()
        .map(|s| s.to_string())
        .collect();
    visitor.sort();
    assert_eq!(
        contract.types(Socket::Visitor, Direction::ToServer),
        visitor
    );
    let mut counsellor: Vec<String> = tsunagu::protocol::CounsellorIn::TYPES
        .iter()
        .map(|s| s.to_string())
        .collect();
    counsellor.sort();
    assert_eq!(
        contract.types(Socket::Counsellor, Direction::ToServer),
        counsellor
    );
}

/// The check bites: a valid frame passes; the same frame with one field
/// renamed (as a server change the schema did not follow would send it)
/// fails, and so do a wrong enum value, a missing field and an unknown type.
#[test]
fn the_check_fails_a_renamed_field() {
    let contract = Contract::get();
    let welcome = json!({
        "type": "welcome", "protocol": 1,
        "conversation_id": "07011863-1bbc-4bd8-afb0-52a3f3d2da07",
        "state": "queued", "last_seq": 0, "delivered_seq": 0, "max_text_chars": 2000,
        "max_frame_bytes": 16384, "frames_per_sec": 10, "frames_burst": 40
    });
    contract
        .check(Socket::Visitor, Direction::ToClient, &welcome)
        .expect("the valid frame passes");

    let mut renamed = welcome.clone();
    let v = renamed
        .as_object_mut()
        .unwrap()
        .remove("delivered_seq")
        .unwrap();
    renamed["delivered_up_to"] = v;
    let err = contract
        .check(Socket::Visitor, Direction::ToClient, &renamed)
        .expect_err("a renamed field must fail");
    assert!(err.contains("delivered_seq"), "{err}");
    assert!(err.contains("delivered_up_to"), "{err}");

    let mut bad_enum = welcome.clone();
    bad_enum["state"] = json!("waiting");
    assert!(contract
        .check(Socket::Visitor, Direction::ToClient, &bad_enum)
        .is_err());

    let sent = json!({"type": "sent", "conversation_id": "07011863-1bbc-4bd8-afb0-52a3f3d2da07", "client_id": "c-1", "seq": 3});
    contract
        .check(Socket::Counsellor, Direction::ToClient, &sent)
        .unwrap();
    let mut missing = sent.clone();
    missing.as_object_mut().unwrap().remove("conversation_id");
    assert!(contract
        .check(Socket::Counsellor, Direction::ToClient, &missing)
        .is_err());

    assert!(contract
        .check(
            Socket::Visitor,
            Direction::ToClient,
            &json!({"type": "welcomed"})
        )
        .is_err());
    // A client message is not a server message.
    assert!(contract
        .check(
            Socket::Visitor,
            Direction::ToClient,
            &json!({"type": "start"})
        )
        .is_err());
}

/// The same bite through the harness: `check_received`, which `Ws` calls on
/// every frame, panics on the renamed frame.
#[test]
fn the_harness_panics_on_a_frame_off_the_contract() {
    let frame = json!({"type": "delivered", "sequence": 3});
    let caught = std::panic::catch_unwind(|| super::check_received(Socket::Visitor, &frame));
    let msg = caught.expect_err("must panic");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("does not match the contract"), "{msg}");
    assert!(msg.contains("\"sequence\":3"), "the frame is shown: {msg}");
}
