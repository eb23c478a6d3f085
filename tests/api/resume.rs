//! Promise 2: no message lost, none doubled, order kept, across drops.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::helpers::*;

/// A matched pair: (counsellor, visitor socket, conversation id, token).
async fn matched_pair(app: &TestApp) -> (Counsellor, Ws, String, String) {
    let mut c = app.counsellor("kato").await;
    c.available(1).await;
    let (mut v, welcome) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut v, &welcome).await;
    c.ws.recv_type("assigned").await;
    let conv = welcome["conversation_id"].as_str().unwrap().to_owned();
    let token = welcome["resume_token"].as_str().unwrap().to_owned();
    (c, v, conv, token)
}

/// Collect `message` frames until `n` have arrived; returns them.
async fn take_messages(ws: &mut Ws, n: usize) -> Vec<Value> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let f = ws.recv().await;
        if f["type"] == "message" {
            out.push(f);
        }
    }
    out
}

fn texts(ms: &[Value]) -> Vec<String> {
    ms.iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_strictly_increasing(ms: &[Value]) {
    for w in ms.windows(2) {
        assert!(
            w[0]["seq"].as_u64() < w[1]["seq"].as_u64(),
            "order broken: {} then {}",
            w[0],
            w[1]
        );
    }
}

#[tokio::test]
async fn visitor_drop_and_resume_loses_nothing_and_doubles_nothing() {
    let app = spawn_app().await;
    let (mut c, mut v, conv, token) = matched_pair(&app).await;
    const N: usize = 300;

    // The counsellor writes 150; the visitor reads 60 of them and drops.
    for i in 0..150 {
        c.ws.send(json!({"type": "send", "conversation_id": conv, "client_id": format!("c{i}"), "text": format!("c{i}")})).await;
    }
    let mut got = take_messages(&mut v, 60).await;
    let last = got.last().unwrap()["seq"].as_u64().unwrap();
    v.drop_connection();

    // While the visitor is away the counsellor writes 150 more.
    for i in 150..N {
        c.ws.send(json!({"type": "send", "conversation_id": conv, "client_id": format!("c{i}"), "text": format!("c{i}")})).await;
    }
    let mut confirmed = 0;
    while confirmed < N {
        if c.ws.recv().await["type"] == "sent" {
            confirmed += 1;
        }
    }

    // Resume from the last sequence seen.
    let mut v = app.visitor().await;
    v.send(json!({"type": "resume", "conversation_id": conv, "token": token, "last_seq": last}))
        .await;
    let w = v.recv_type("welcome").await;
    assert_eq!(w["state"], "active");
    assert!(
        w.get("resume_token").is_none(),
        "the token is never sent again"
    );
    got.extend(take_messages(&mut v, N - 60).await);

    let expected: Vec<String> = (0..N).map(|i| format!("c{i}")).collect();
    assert_eq!(texts(&got), expected, "lost, doubled or reordered");
    assert_strictly_increasing(&got);
    // And nothing more arrives.
    v.send(json!({"type": "typing", "active": false})).await;
    c.ws.send(
        json!({"type": "send", "conversation_id": conv, "client_id": "final", "text": "final"}),
    )
    .await;
    let next = take_messages(&mut v, 1).await;
    assert_eq!(next[0]["text"], "final");
}

#[tokio::test]
async fn resending_unconfirmed_messages_after_a_drop_stores_each_once() {
    let app = spawn_app().await;
    let (mut c, mut v, conv, token) = matched_pair(&app).await;
    const N: usize = 200;

    for i in 0..N {
        v.send(json!({"type": "send", "client_id": format!("v{i}"), "text": format!("v{i}")}))
            .await;
    }
    // Read only some confirmations, then the network drops.
    let mut confirmed: HashMap<String, u64> = HashMap::new();
    while confirmed.len() < 50 {
        let f = v.recv().await;
        if f["type"] == "sent" {
            confirmed.insert(
                f["client_id"].as_str().unwrap().to_owned(),
                f["seq"].as_u64().unwrap(),
            );
        }
    }
    v.drop_connection();

    // The client resends everything it has no `sent` for, same client ids.
    let mut v = app.visitor().await;
    v.send(json!({"type": "resume", "conversation_id": conv, "token": token, "last_seq": 0}))
        .await;
    v.recv_type("welcome").await;
    for i in 0..N {
        let id = format!("v{i}");
        if !confirmed.contains_key(&id) {
            v.send(json!({"type": "send", "client_id": id, "text": id}))
                .await;
        }
    }
    // A resend of an already confirmed one answers with the same seq.
    v.send(json!({"type": "send", "client_id": "v0", "text": "v0"}))
        .await;

    let got = take_messages(&mut c.ws, N).await;
    let expected: Vec<String> = (0..N).map(|i| format!("v{i}")).collect();
    assert_eq!(
        texts(&got),
        expected,
        "the counsellor must see each message once, in order"
    );
    assert_strictly_increasing(&got);
    loop {
        let f = v.recv().await;
        if f["type"] == "sent" && f["client_id"] == "v0" {
            assert_eq!(f["seq"].as_u64(), confirmed.get("v0").copied());
            break;
        }
    }
    let rec = app
        .store
        .conversation(conv.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.last_seq, N as u64, "exactly N messages stored");
}

#[tokio::test]
async fn counsellor_drop_and_resume_loses_nothing_and_doubles_nothing() {
    let app = spawn_app().await;
    let (c, mut v, conv, _token) = matched_pair(&app).await;
    let Counsellor { cookie, mut ws, .. } = c;
    const N: usize = 300;

    for i in 0..100 {
        v.send(json!({"type": "send", "client_id": format!("v{i}"), "text": format!("v{i}")}))
            .await;
    }
    let mut got = take_messages(&mut ws, 40).await;
    let last = got.last().unwrap()["seq"].as_u64().unwrap();
    ws.drop_connection();

    // The counsellor's laptop sleeps; the visitor keeps writing.
    for i in 100..N {
        v.send(json!({"type": "send", "client_id": format!("v{i}"), "text": format!("v{i}")}))
            .await;
    }
    let mut confirmed = 0;
    while confirmed < N {
        if v.recv().await["type"] == "sent" {
            confirmed += 1;
        }
    }

    let (mut ws, welcome) = app
        .reconnect_counsellor(&cookie, json!({ conv.clone(): last }))
        .await;
    let convs = welcome["conversations"].as_array().unwrap();
    assert_eq!(convs.len(), 1, "the conversation is still theirs");
    assert_eq!(convs[0]["conversation_id"], conv);
    got.extend(take_messages(&mut ws, N - 40).await);
    let expected: Vec<String> = (0..N).map(|i| format!("v{i}")).collect();
    assert_eq!(texts(&got), expected);
    assert_strictly_increasing(&got);
}

#[tokio::test]
async fn a_reload_replays_the_whole_history_including_own_messages() {
    let app = spawn_app().await;
    let (mut c, mut v, conv, token) = matched_pair(&app).await;
    v.send(json!({"type": "send", "client_id": "a", "text": "はじめまして"}))
        .await;
    v.recv_type("sent").await;
    c.ws.send(
        json!({"type": "send", "conversation_id": conv, "client_id": "b", "text": "こんにちは"}),
    )
    .await;
    v.recv_type("message").await;
    drop(v);

    let mut v = app.visitor().await;
    v.send(json!({"type": "resume", "conversation_id": conv, "token": token}))
        .await;
    let w = v.recv_type("welcome").await;
    assert_eq!(w["counsellor"], "kato-san");
    let ms = take_messages(&mut v, 2).await;
    assert_eq!(texts(&ms), vec!["はじめまして", "こんにちは"]);
    assert_eq!(
        ms[0]["client_id"], "a",
        "own messages carry their client id"
    );
    assert!(ms[1].get("client_id").is_none());
}

#[tokio::test]
async fn a_new_counsellor_reusing_a_client_id_after_a_requeue_is_not_mistaken_for_a_resend() {
    let app = spawn_app_with(|s| s.timing.counsellor_grace_secs = 1).await;
    let mut first = app.counsellor("first").await;
    first.available(1).await;
    let (mut v, w) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut v, &w).await;
    first.ws.recv_type("assigned").await;
    let conv = w["conversation_id"].as_str().unwrap().to_owned();
    first.ws.send(json!({"type": "send", "conversation_id": conv, "client_id": "m1", "text": "from first"})).await;
    assert_eq!(first.ws.recv_type("sent").await["seq"], 1);
    first.ws.drop_connection();
    v.recv_type("requeued").await;

    let mut second = app.counsellor("second").await;
    second.available(1).await;
    second.ws.recv_type("assigned").await;
    // Clients number their own messages: the second counsellor's "m1" is new.
    second.ws.send(json!({"type": "send", "conversation_id": conv, "client_id": "m1", "text": "from second"})).await;
    assert_eq!(second.ws.recv_type("sent").await["seq"], 2);
    let texts: Vec<String> = app
        .store
        .messages_after(conv.parse().unwrap(), 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|m| m.text.clone())
        .collect();
    assert_eq!(texts, vec!["from first", "from second"]);
}
