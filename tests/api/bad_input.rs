//! Promise 5: every bad input gets a typed error and changes nothing.

use std::time::Duration;

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use tsunagu::core::ids::ConversationId;
use tsunagu::model::Role;

use crate::helpers::*;

async fn record(app: &TestApp, conv: &str) -> tsunagu::model::ConversationRecord {
    let id: ConversationId = conv.parse().unwrap();
    app.store.conversation(id).await.unwrap().unwrap()
}

async fn queued_visitor(app: &TestApp) -> (Ws, String) {
    let (v, w) = app.start_visitor(json!({"type": "start"})).await;
    (v, w["conversation_id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn malformed_json_unknown_types_and_bad_fields_are_told_apart() {
    let app = spawn_app().await;
    let (mut v, conv) = queued_visitor(&app).await;
    let before = record(&app, &conv).await;
    for (frame, code) in [
        ("{not json", "bad_json"),
        ("[1,2,3]", "bad_json"),
        (r#"{"type":"dance"}"#, "unknown_type"),
        (r#"{"text":"no type"}"#, "unknown_type"),
        (r#"{"type":42}"#, "unknown_type"),
        (
            r#"{"type":"send","text":"no client id"}"#,
            "invalid_message",
        ),
        (
            r#"{"type":"send","client_id":"bad id!","text":"x"}"#,
            "invalid_message",
        ),
        (r#"{"type":"ack","seq":-1}"#, "invalid_message"),
        (r#"{"type":"typing","active":"yes"}"#, "invalid_message"),
    ] {
        v.send_raw(Message::text(frame)).await;
        let e = v.expect_error(code).await;
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    }
    assert_eq!(record(&app, &conv).await, before, "nothing changed");
}

#[tokio::test]
async fn binary_frames_are_refused() {
    let app = spawn_app().await;
    let (mut v, conv) = queued_visitor(&app).await;
    let before = record(&app, &conv).await;
    v.send_raw(Message::binary(vec![1u8, 2, 3])).await;
    v.expect_error("binary_not_supported").await;
    assert_eq!(record(&app, &conv).await, before);
}

#[tokio::test]
async fn an_oversized_frame_is_refused_and_the_socket_closed_with_1009() {
    let app = spawn_app().await;
    let (mut v, conv) = queued_visitor(&app).await;
    let before = record(&app, &conv).await;
    let huge = "あ".repeat(20_000); // 60 KB > 16 KiB limit
    v.send(json!({"type": "send", "client_id": "big", "text": huge}))
        .await;
    v.expect_error("frame_too_large").await;
    assert_eq!(v.closed().await, Some(1009));
    let after = record(&app, &conv).await;
    assert_eq!(after.last_seq, before.last_seq, "nothing stored");
}

#[tokio::test]
async fn text_too_long_or_blank_is_refused_and_nothing_is_stored() {
    let app = spawn_app_with(|s| s.limits.max_text_chars = 10).await;
    let (mut v, conv) = queued_visitor(&app).await;
    v.send(json!({"type": "send", "client_id": "long", "text": "あ".repeat(11)}))
        .await;
    let e = v.expect_error("text_too_long").await;
    assert_eq!(
        e["client_id"], "long",
        "the error names the message it refuses"
    );
    v.send(json!({"type": "send", "client_id": "blank", "text": "  \n "}))
        .await;
    v.expect_error("text_empty").await;
    v.send(json!({"type": "send", "client_id": "ok", "text": "あ".repeat(10)}))
        .await;
    assert_eq!(v.recv_type("sent").await["seq"], 1);
    assert_eq!(
        record(&app, &conv).await.last_seq,
        1,
        "only the valid message"
    );
    // A too-long first message refuses the start itself: nothing is queued.
    let mut v2 = app.visitor().await;
    v2.send(json!({"type": "start", "first_message": "x".repeat(11)}))
        .await;
    v2.expect_error("text_too_long").await;
    assert_eq!(app.store.queue().await.unwrap().len(), 1);
}

#[tokio::test]
async fn acting_before_start_or_starting_twice_is_refused() {
    let app = spawn_app().await;
    let mut v = app.visitor().await;
    for frame in [
        json!({"type": "send", "client_id": "a", "text": "hello"}),
        json!({"type": "end"}),
        json!({"type": "ack", "seq": 1}),
    ] {
        v.send(frame).await;
        v.expect_error("not_started").await;
    }
    assert!(app.store.queue().await.unwrap().is_empty());
    v.send(json!({"type": "start"})).await;
    v.recv_type("welcome").await;
    v.send(json!({"type": "start"})).await;
    v.expect_error("already_started").await;
    assert_eq!(
        app.store.queue().await.unwrap().len(),
        1,
        "one conversation, not two"
    );

    // The counsellor socket likewise needs `hello` first.
    app.add_account("hello", "hello-san", Role::Counsellor)
        .await;
    let cookie = app.login("hello").await;
    let mut c = Ws::connect(&app.addr, "/ws/counsellor", &[("cookie", &cookie)])
        .await
        .unwrap();
    c.send(json!({"type": "set_status", "status": "available"}))
        .await;
    c.expect_error("not_started").await;
    assert!(
        app.store.counsellors().await.unwrap().is_empty(),
        "not even present"
    );
}

#[tokio::test]
async fn guessed_conversation_ids_and_tokens_cannot_resume() {
    let app = spawn_app().await;
    let (_v, w) = app.start_visitor(json!({"type": "start"})).await;
    let conv = w["conversation_id"].as_str().unwrap();
    let token = w["resume_token"].as_str().unwrap();

    let mut attacker = app.visitor().await;
    // Right id, wrong token; random id, right token; both random.
    for (id, tok) in [
        (conv.to_owned(), "A".repeat(43)),
        (ConversationId::new_random().to_string(), token.to_owned()),
        (ConversationId::new_random().to_string(), "guess".to_owned()),
    ] {
        attacker
            .send(json!({"type": "resume", "conversation_id": id, "token": tok}))
            .await;
        let e = attacker.expect_error("resume_failed").await;
        // The same words whether the conversation exists or not.
        assert_eq!(
            e["message"],
            "cannot resume that conversation: the link is wrong, or the conversation expired under the retention period"
        );
    }
    // The attacker's socket is still unbound: it cannot write anywhere.
    attacker
        .send(json!({"type": "send", "client_id": "x", "text": "hi"}))
        .await;
    attacker.expect_error("not_started").await;
    assert_eq!(record(&app, conv).await.last_seq, 0);
}

#[tokio::test]
async fn counsellors_cannot_touch_conversations_that_are_not_theirs() {
    let app = spawn_app().await;
    let mut owner = app.counsellor("owner").await;
    owner.available(1).await;
    let (mut v, w) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut v, &w).await;
    owner.ws.recv_type("assigned").await;
    let conv = w["conversation_id"].as_str().unwrap().to_owned();
    let waiting = queued_visitor(&app).await.1;
    let before = record(&app, &conv).await;

    let mut other = app.counsellor("other").await;
    for target in [
        conv.clone(),
        waiting.clone(),
        ConversationId::new_random().to_string(),
    ] {
        for frame in [
            json!({"type": "send", "conversation_id": target, "client_id": "x", "text": "hi"}),
            json!({"type": "note", "conversation_id": target, "text": "peek"}),
            json!({"type": "end", "conversation_id": target, "outcome": "listened"}),
            json!({"type": "ack", "conversation_id": target, "seq": 1}),
            json!({"type": "typing", "conversation_id": target, "active": true}),
        ] {
            other.ws.send(frame).await;
            let e = other.ws.expect_error("not_your_conversation").await;
            assert_eq!(e["conversation_id"], target.as_str());
        }
    }
    assert_eq!(
        record(&app, &conv).await,
        before,
        "the owner's conversation is untouched"
    );
    assert!(app
        .store
        .notes(conv.parse().unwrap())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(record(&app, &waiting).await.state.name(), "queued");
    // And nothing of it reached the visitor.
    v.send(json!({"type": "ack", "seq": 0})).await;
    assert!(v.recv_within(Duration::from_millis(200)).await.is_none());
}

#[tokio::test]
async fn a_flood_is_throttled_then_the_socket_closed_and_the_server_keeps_serving() {
    let app = spawn_app_with(|s| {
        s.limits.frames_per_sec = 5;
        s.limits.frames_burst = 5;
        s.limits.flood_close_after = 50;
    })
    .await;
    let (mut v, conv) = queued_visitor(&app).await;
    for i in 0..200 {
        v.send_raw(Message::text(
            json!({"type": "send", "client_id": format!("f{i}"), "text": "spam"}).to_string(),
        ))
        .await;
    }
    let (mut sent, mut limited) = (0, 0);
    let mut retry_hint = false;
    loop {
        match v.next().await {
            Some(f) if f["type"] == "sent" => sent += 1,
            Some(f) if f["code"] == "rate_limited" => {
                limited += 1;
                retry_hint |= f["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0);
            }
            Some(_) => {}
            // The flood went on past the limit: the server closed the socket.
            None => break,
        }
    }
    assert!(sent <= 6, "only the burst got through, got {sent}");
    assert!(limited >= 40, "refusals are told, got {limited}");
    assert!(retry_hint, "rate_limited says when to retry");
    assert_eq!(
        record(&app, &conv).await.last_seq as usize,
        sent,
        "refused frames changed nothing"
    );
    // Another visitor is served normally.
    let (_v2, w2) = app.start_visitor(json!({"type": "start"})).await;
    assert_eq!(w2["state"], "queued");
}

#[tokio::test]
async fn foreign_origins_are_refused_before_the_socket_opens() {
    let app = spawn_app_with(|s| s.allowed_origins = vec!["https://chat.example.jp".into()]).await;
    let refused = Ws::connect(
        &app.addr,
        "/ws/visitor",
        &[("origin", "https://evil.example")],
    )
    .await
    .err()
    .expect("refused");
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["code"], "origin_forbidden");
    // The site's own origin and the allowed one are fine.
    let own = format!("http://{}", app.addr);
    assert!(Ws::connect(&app.addr, "/ws/visitor", &[("origin", &own)])
        .await
        .is_ok());
    assert!(Ws::connect(
        &app.addr,
        "/ws/visitor",
        &[("origin", "https://chat.example.jp")]
    )
    .await
    .is_ok());
    // The counsellor socket and login check it too.
    let refused = Ws::connect(
        &app.addr,
        "/ws/counsellor",
        &[("origin", "https://evil.example")],
    )
    .await
    .err()
    .expect("refused");
    assert_eq!(refused.body["code"], "origin_forbidden");
    let r = reqwest::Client::new()
        .post(app.url("/api/login"))
        .header("origin", "https://evil.example")
        .json(&json!({"username": "x", "password": "y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn the_counsellor_socket_needs_a_valid_session_of_a_counselling_role() {
    let app = spawn_app().await;
    let refused = Ws::connect(&app.addr, "/ws/counsellor", &[])
        .await
        .err()
        .expect("refused");
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let forged = "tsunagu_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let refused = Ws::connect(&app.addr, "/ws/counsellor", &[("cookie", forged)])
        .await
        .err()
        .expect("refused");
    assert_eq!(refused.status, 401);
    app.add_account("intake1", "受付", Role::Intake).await;
    let cookie = app.login("intake1").await;
    let refused = Ws::connect(&app.addr, "/ws/counsellor", &[("cookie", &cookie)])
        .await
        .err()
        .expect("refused");
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (403, Some("forbidden"))
    );
    assert!(app.store.counsellors().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_full_queue_answers_busy_with_alternatives_and_queues_nobody() {
    let app = spawn_app_with(|s| {
        s.limits.max_queue = 2;
        s.alternatives = vec![tsunagu::model::Alternative {
            name: "よりそいホットライン".into(),
            contact: "0120-279-338".into(),
            hours: "24時間".into(),
            name_en: Some("Yorisoi Hotline".into()),
            hours_en: Some("24 hours".into()),
            emergency: false,
        }];
    })
    .await;
    let _a = queued_visitor(&app).await;
    let _b = queued_visitor(&app).await;
    let mut v = app.visitor().await;
    v.send(json!({"type": "start"})).await;
    let e = v.expect_error("queue_full").await;
    assert_eq!(e["alternatives"][0]["contact"], "0120-279-338");
    assert_eq!(e["alternatives"][0]["name_en"], "Yorisoi Hotline");
    assert_eq!(app.store.queue().await.unwrap().len(), 2);
    // The socket may try again later; it is not bound to anything.
    v.send(json!({"type": "end"})).await;
    v.expect_error("not_started").await;
}

#[tokio::test]
async fn invalid_capacity_and_picking_in_auto_mode_are_refused() {
    let app = spawn_app().await;
    let mut c = app.counsellor("cap").await;
    let waiting = queued_visitor(&app).await.1;
    for cap in [0, 9, 1000] {
        c.ws.send(json!({"type": "set_capacity", "capacity": cap}))
            .await;
        c.ws.expect_error("invalid_capacity").await;
    }
    c.ws.send(json!({"type": "pick", "conversation_id": waiting}))
        .await;
    c.ws.expect_error("picking_disabled").await;
    let rec = app.store.counsellors().await.unwrap().pop().unwrap();
    assert_eq!((rec.capacity, rec.active), (2, 0));
    assert_eq!(record(&app, &waiting).await.state.name(), "queued");
}

#[tokio::test]
async fn upgrades_and_starts_are_rate_limited_per_address() {
    let app = spawn_app_with(|s| {
        s.limits.starts_per_ip_per_min = 1;
        s.limits.starts_burst = 2;
    })
    .await;
    for _ in 0..2 {
        queued_visitor(&app).await;
    }
    let mut v = app.visitor().await;
    v.send(json!({"type": "start"})).await;
    let e: Value = v.expect_error("rate_limited").await;
    assert!(e["retry_after_ms"].as_u64().unwrap() > 0);
    assert_eq!(app.store.queue().await.unwrap().len(), 2);

    let app = spawn_app_with(|s| {
        s.limits.upgrades_per_ip_per_min = 1;
        s.limits.upgrades_burst = 1;
    })
    .await;
    let _first = app.visitor().await;
    let refused = Ws::connect(&app.addr, "/ws/visitor", &[])
        .await
        .err()
        .expect("refused");
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (429, Some("rate_limited"))
    );
}
