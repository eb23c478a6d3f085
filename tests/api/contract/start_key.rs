//! Issue 27, point 7: `start` with an `idempotency_key`. A client whose
//! `welcome` was lost sends the same `start` again and gets the same
//! conversation and the same resume token, never a second queue entry,
//! while that conversation waits for its first counsellor.

use serde_json::{json, Value};

use crate::helpers::*;

fn keyed(key: &str) -> Value {
    json!({"type": "start", "idempotency_key": key, "first_message": "はじめまして"})
}

/// The first frame that is a `welcome` or an `error`.
async fn answer(ws: &mut Ws) -> Value {
    loop {
        let v = ws.recv().await;
        if v["type"] == "welcome" || v["type"] == "error" {
            return v;
        }
    }
}

async fn queue_len(app: &TestApp) -> usize {
    app.store.queue().await.unwrap().len()
}

#[tokio::test]
async fn the_same_start_again_takes_up_the_same_conversation_and_token() {
    let app = spawn_app().await;
    let key = "k-0123456789abcdefghijAB";
    let (first, w1) = app.start_visitor(keyed(key)).await;
    // The welcome is lost with the connection.
    first.drop_connection();
    let (mut again, w2) = app
        .start_visitor(json!({"type": "start", "idempotency_key": key, "first_message": "別の文"}))
        .await;
    assert_eq!(w2["conversation_id"], w1["conversation_id"]);
    assert_eq!(
        w2["resume_token"], w1["resume_token"],
        "the same token: the first stays valid"
    );
    assert_eq!(
        w2["last_seq"], 1,
        "the first message only; the second start's is ignored"
    );
    assert_eq!(queue_len(&app).await, 1, "one queue entry");
    again.recv_type("queue").await;
    // The token works for `resume`.
    let mut r = app.visitor().await;
    r.send(json!({"type": "resume", "conversation_id": w1["conversation_id"], "token": w1["resume_token"]}))
        .await;
    assert_eq!(
        r.recv_type("welcome").await["conversation_id"],
        w1["conversation_id"]
    );
    // Another key, or none, is another conversation.
    let (_o, w3) = app.start_visitor(keyed("k-another-key-0123456789")).await;
    let (_n, w4) = app.start_visitor(json!({"type": "start"})).await;
    assert_ne!(w3["conversation_id"], w1["conversation_id"]);
    assert_ne!(w4["conversation_id"], w1["conversation_id"]);
    assert_eq!(queue_len(&app).await, 3);
}

#[tokio::test]
async fn two_starts_with_one_key_at_once_make_one_conversation() {
    let app = spawn_app().await;
    let key = "race-race-race-race-race-1";
    let mut sockets = Vec::new();
    for _ in 0..6 {
        sockets.push(app.visitor().await);
    }
    for ws in sockets.iter_mut() {
        ws.send(keyed(key)).await;
    }
    let mut ids = Vec::new();
    for ws in sockets.iter_mut() {
        let w = answer(ws).await;
        assert_eq!(w["type"], "welcome", "{w}");
        ids.push((w["conversation_id"].clone(), w["resume_token"].clone()));
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(queue_len(&app).await, 1);
}

#[tokio::test]
async fn a_retry_needs_no_second_waiting_place_of_its_address() {
    let app = spawn_app_with(|s| {
        s.trust_forwarded_for = true;
        s.limits.waiting_per_address = 1;
    })
    .await;
    let from = [("x-forwarded-for", "10.27.0.1")];
    let key = "cap-cap-cap-cap-cap-cap-1";
    let mut a = Ws::connect(&app.addr, "/ws/visitor", &from).await.unwrap();
    a.send(keyed(key)).await;
    let w1 = answer(&mut a).await;
    assert_eq!(w1["type"], "welcome", "{w1}");
    let mut b = Ws::connect(&app.addr, "/ws/visitor", &from).await.unwrap();
    b.send(keyed(key)).await;
    let w2 = answer(&mut b).await;
    assert_eq!(w2["conversation_id"], w1["conversation_id"], "{w2}");
    // A new conversation from that address is still over its cap.
    let mut c = Ws::connect(&app.addr, "/ws/visitor", &from).await.unwrap();
    c.send(keyed("cap-other-other-other-1")).await;
    assert_eq!(answer(&mut c).await["code"], "too_many_waiting");
    assert_eq!(queue_len(&app).await, 1);
}

#[tokio::test]
async fn the_key_is_spent_once_a_counsellor_has_the_conversation() {
    let app = spawn_app().await;
    let key = "spent-spent-spent-spent-1";
    let (mut v, w1) = app.start_visitor(keyed(key)).await;
    let mut c = app.counsellor("tanabe").await;
    c.available(1).await;
    wait_matched(&mut v, &w1).await;
    let (_again, w2) = app.start_visitor(keyed(key)).await;
    assert_ne!(
        w2["conversation_id"], w1["conversation_id"],
        "a new conversation"
    );
    assert_eq!(w2["state"], "queued");
}

#[tokio::test]
async fn a_key_of_the_wrong_shape_is_invalid_message_and_creates_nothing() {
    let app = spawn_app().await;
    for bad in [
        json!("short"),
        json!("has space in it 0123456789"),
        json!("x".repeat(65)),
        json!(12),
    ] {
        let mut v = app.visitor().await;
        v.send(json!({"type": "start", "idempotency_key": bad}))
            .await;
        assert_eq!(answer(&mut v).await["code"], "invalid_message", "{bad}");
    }
    assert_eq!(queue_len(&app).await, 0);
}
