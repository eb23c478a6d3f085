//! A socket does not wait for its own store writes before it reads the
//! next frame or delivers the next event (see `src/ws/mod.rs`). What must
//! still hold: a sender's messages are stored in the order sent, each is
//! confirmed once and never echoed back, and a command after them (`end`)
//! sees them all. Run on every store of the suite; the durable and Redis
//! stores are the ones where writes take long enough to overlap.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::helpers::*;

/// Frames for one side until `until` arrives; panics on an error frame.
async fn frames_until(ws: &mut Ws, until: &str) -> Vec<Value> {
    let mut got = Vec::new();
    loop {
        let f = ws.recv().await;
        assert_ne!(f["type"], "error", "unexpected error: {f}");
        let done = f["type"] == until;
        got.push(f);
        if done {
            return got;
        }
    }
}

fn of_type<'a>(frames: &'a [Value], t: &str) -> Vec<&'a Value> {
    frames.iter().filter(|f| f["type"] == t).collect()
}

#[tokio::test]
async fn a_burst_of_messages_then_end_is_stored_in_order_confirmed_once_and_not_echoed() {
    const N: usize = 60;
    let app = spawn_app().await;
    let mut c = app.counsellor("aoki").await;
    c.available(1).await;
    let (mut v, welcome) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut v, &welcome).await;
    c.ws.recv_type("assigned").await;

    // Everything at once, without waiting for a single answer.
    for i in 0..N {
        v.send(
            json!({"type": "send", "client_id": format!("v{i}"), "text": format!("message {i}")}),
        )
        .await;
    }
    v.send(json!({"type": "end"})).await;

    let frames = frames_until(&mut v, "ended").await;
    let sent = of_type(&frames, "sent");
    let confirmed: Vec<(String, u64)> = sent
        .iter()
        .map(|f| {
            (
                f["client_id"].as_str().unwrap().to_owned(),
                f["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> = (0..N).map(|i| (format!("v{i}"), i as u64 + 1)).collect();
    assert_eq!(
        confirmed, expected,
        "each message confirmed once, in the order sent, before the end"
    );
    assert!(
        of_type(&frames, "message").is_empty(),
        "the visitor's own messages are not echoed"
    );

    let frames = frames_until(&mut c.ws, "ended").await;
    let texts: Vec<&str> = of_type(&frames, "message")
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    let want: Vec<String> = (0..N).map(|i| format!("message {i}")).collect();
    assert_eq!(texts, want, "the counsellor got every message, in order");
}

#[tokio::test]
async fn a_counsellor_writing_to_several_conversations_at_once_keeps_each_in_order() {
    const CHATS: usize = 4;
    const N: usize = 25;
    let app = spawn_app().await;
    let mut c = app.counsellor("aoki").await;
    c.available(CHATS as u32).await;
    let mut visitors = Vec::new();
    for _ in 0..CHATS {
        let (mut v, welcome) = app.start_visitor(json!({"type": "start"})).await;
        wait_matched(&mut v, &welcome).await;
        let id = c.ws.recv_type("assigned").await["conversation"]["conversation_id"]
            .as_str()
            .unwrap()
            .to_owned();
        visitors.push((id, v));
    }

    // Interleaved over the conversations, nothing awaited in between.
    for i in 0..N {
        for (id, _) in &visitors {
            c.ws.send(json!({"type": "send", "conversation_id": id, "client_id": format!("c{i}"), "text": format!("{id} {i}")}))
                .await;
        }
    }
    let mut seqs: HashMap<String, Vec<(String, u64)>> = HashMap::new();
    let mut confirmed = 0;
    while confirmed < CHATS * N {
        let f = c.ws.recv().await;
        assert_ne!(f["type"], "error", "unexpected error: {f}");
        assert_ne!(f["type"], "message", "no echo of our own messages: {f}");
        if f["type"] == "sent" {
            confirmed += 1;
            seqs.entry(f["conversation_id"].as_str().unwrap().to_owned())
                .or_default()
                .push((
                    f["client_id"].as_str().unwrap().to_owned(),
                    f["seq"].as_u64().unwrap(),
                ));
        }
    }
    for (id, v) in &mut visitors {
        let expected: Vec<(String, u64)> =
            (0..N).map(|i| (format!("c{i}"), i as u64 + 1)).collect();
        assert_eq!(seqs[id.as_str()], expected, "confirmations of {id}");
        for i in 0..N {
            let m = v.recv_type("message").await;
            assert_eq!(
                (m["seq"].as_u64(), m["text"].as_str()),
                (Some(i as u64 + 1), Some(format!("{id} {i}").as_str()))
            );
        }
    }
}
