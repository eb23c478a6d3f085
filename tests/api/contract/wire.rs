//! What the independent client met on the sockets (issue 27): the frame
//! limits in `welcome`, which `send` a `rate_limited` refused, close frames
//! with a code, and a fragmented message over the limit.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

#[tokio::test]
async fn both_welcomes_carry_the_frame_limits_in_force() {
    let app = spawn_app_with(|s| {
        s.limits.max_frame_bytes = 20_000;
        s.limits.frames_per_sec = 7;
        s.limits.frames_burst = 9;
    })
    .await;
    let (_v, welcome) = app.start_visitor(json!({"type": "start"})).await;
    let c = app.counsellor("aoki").await;
    for w in [&welcome, &c.welcome] {
        assert_eq!(w["max_frame_bytes"], 20_000, "{w}");
        assert_eq!(w["frames_per_sec"], 7, "{w}");
        assert_eq!(w["frames_burst"], 9, "{w}");
    }
}

/// Every frame received until `quiet` passes without one (or the socket closes).
async fn drain(ws: &mut Ws, quiet: Duration) -> Vec<Value> {
    let mut out = Vec::new();
    while let Ok(Some(f)) = ws.next_within(quiet).await {
        out.push(f);
    }
    out
}

#[tokio::test]
async fn rate_limited_names_the_refused_send_so_the_client_resends_that_one() {
    let app = spawn_app_with(|s| {
        s.limits.frames_per_sec = 1;
        s.limits.frames_burst = 3;
    })
    .await;
    let (mut v, _) = app.start_visitor(json!({"type": "start"})).await;
    let ids: Vec<String> = (0..6).map(|i| format!("r{i}")).collect();
    for id in &ids {
        v.send_raw(Message::text(
            json!({"type": "send", "client_id": id, "text": "こんにちは"}).to_string(),
        ))
        .await;
    }
    // A refused frame that is not a `send` names nothing.
    v.send_raw(Message::text(
        json!({"type": "typing", "active": true}).to_string(),
    ))
    .await;
    let frames = drain(&mut v, Duration::from_millis(700)).await;
    let sent: HashSet<String> = frames
        .iter()
        .filter(|f| f["type"] == "sent")
        .map(|f| f["client_id"].as_str().unwrap().to_owned())
        .collect();
    let refusals: Vec<&Value> = frames
        .iter()
        .filter(|f| f["code"] == "rate_limited")
        .collect();
    let refused: HashSet<String> = refusals
        .iter()
        .filter_map(|f| f["client_id"].as_str().map(str::to_owned))
        .collect();
    assert!(!refused.is_empty(), "some sends were refused: {frames:?}");
    assert_eq!(
        refusals.len(),
        refused.len() + 1,
        "every refusal but the typing one names its send: {frames:?}"
    );
    assert!(sent.is_disjoint(&refused), "{sent:?} {refused:?}");
    let all: HashSet<String> = sent.union(&refused).cloned().collect();
    assert_eq!(all, ids.iter().cloned().collect::<HashSet<_>>());
}

#[tokio::test]
async fn a_counsellors_refused_send_names_its_conversation_too() {
    let app = spawn_app_with(|s| {
        s.limits.frames_per_sec = 1;
        s.limits.frames_burst = 2;
    })
    .await;
    let mut c = app.counsellor("aoki").await;
    // `hello` took one; the burst allows one more, the rest are refused.
    let conv = "07011863-1bbc-4bd8-afb0-52a3f3d2da07";
    for i in 0..4 {
        c.ws.send_raw(Message::text(
            json!({"type": "send", "conversation_id": conv, "client_id": format!("c{i}"), "text": "x"})
                .to_string(),
        ))
        .await;
    }
    let frames = drain(&mut c.ws, Duration::from_millis(700)).await;
    let limited: Vec<&Value> = frames
        .iter()
        .filter(|f| f["code"] == "rate_limited")
        .collect();
    assert!(!limited.is_empty(), "{frames:?}");
    for f in limited {
        assert_eq!(f["conversation_id"], conv, "{f}");
        assert!(f["client_id"].as_str().unwrap().starts_with('c'), "{f}");
    }
}

#[tokio::test]
async fn the_servers_close_frame_always_carries_a_code() {
    let app = spawn_app().await;
    // The client closes with a code: the server answers with the same one.
    let (mut v, _) = app.start_visitor(json!({"type": "start"})).await;
    v.send_raw(Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    })))
    .await;
    assert_eq!(v.closed().await, Some(1000));
    // The client closes without a code (an empty close frame): the server
    // still says 1000, where clients used to see 1005 ("no status").
    let (mut v, _) = app.start_visitor(json!({"type": "start"})).await;
    v.send_raw(Message::Close(None)).await;
    assert_eq!(v.closed().await, Some(1000));
    let mut c = app.counsellor("aoki").await;
    c.ws.send_raw(Message::Close(Some(CloseFrame {
        code: CloseCode::Away,
        reason: "".into(),
    })))
    .await;
    assert_eq!(c.ws.closed().await, Some(1001));
}

#[tokio::test]
async fn a_fragmented_message_over_the_limit_gets_frame_too_large_then_1009() {
    let app = spawn_app().await;
    let (mut v, welcome) = app.start_visitor(json!({"type": "start"})).await;
    let limit = welcome["max_frame_bytes"].as_u64().unwrap() as usize;
    // Each fragment is under the limit; together they are over it (the
    // independent client's 8,000 + 8,385 bytes).
    let text = format!(
        r#"{{"type":"send","client_id":"frag","text":"{}"}}"#,
        "a".repeat(limit)
    );
    let (first, rest) = text.as_bytes().split_at(text.len() / 2);
    assert!(first.len() < limit && rest.len() < limit);
    v.send_raw(Message::Frame(Frame::message(
        first.to_vec(),
        OpCode::Data(Data::Text),
        false,
    )))
    .await;
    v.send_raw(Message::Frame(Frame::message(
        rest.to_vec(),
        OpCode::Data(Data::Continue),
        true,
    )))
    .await;
    v.expect_error("frame_too_large").await;
    assert_eq!(v.closed().await, Some(1009));
    // A fragmented message under the limit is read as one frame.
    let (mut v, _) = app.start_visitor(json!({"type": "start"})).await;
    let text = r#"{"type":"send","client_id":"split","text":"分けて送る"}"#;
    let (first, rest) = text.as_bytes().split_at(20);
    v.send_raw(Message::Frame(Frame::message(
        first.to_vec(),
        OpCode::Data(Data::Text),
        false,
    )))
    .await;
    v.send_raw(Message::Frame(Frame::message(
        rest.to_vec(),
        OpCode::Data(Data::Continue),
        true,
    )))
    .await;
    assert_eq!(v.recv_type("sent").await["client_id"], "split");
}

/// Issue 27: every close the server starts (PROTOCOL.md, "close codes")
/// reaches a client with its code, never as 1005 ("no status") or a reset
/// without one: the server waits for the client's close after its own.
#[tokio::test]
async fn every_close_the_server_starts_reaches_the_client_with_its_code() {
    let app = spawn_app_with(|s| {
        s.timing.start_timeout_ms = 400;
        s.timing.heartbeat_interval_ms = 100;
        s.timing.client_timeout_ms = 600;
        s.limits.flood_close_after = 5;
        s.limits.frames_per_sec = 1;
        s.limits.frames_burst = 1;
    })
    .await;
    // 1008: no `start` or `resume` within start_timeout.
    let mut v = app.visitor().await;
    assert_eq!(
        v.closed_with_reason().await,
        Some((1008, "start_timeout".into()))
    );
    // 1001: the client stopped answering pings (it reads nothing for a
    // while, then finds the close).
    let (mut v, _) = app.start_visitor(json!({"type": "start"})).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(v.closed().await, Some(1001));
    // 1008: a flood of frames past the rate limit.
    let (mut v, _) = app.start_visitor(json!({"type": "start"})).await;
    for i in 0..20 {
        v.send(json!({"type": "typing", "active": i % 2 == 0}))
            .await;
    }
    assert_eq!(v.closed().await, Some(1008));
    // 1002: a frame with a reserved opcode.
    let (mut v, _) = app.start_visitor(json!({"type": "start"})).await;
    v.send_raw(Message::Frame(Frame::message(
        b"?".to_vec(),
        OpCode::Data(Data::Reserved(3)),
        true,
    )))
    .await;
    assert_eq!(v.closed().await, Some(1002));
    // 1012: the node drains (as on SIGTERM, or when its presence lapsed).
    let (mut v, _) = app.start_visitor(json!({"type": "start"})).await;
    app.state.hub.dispatch(tsunagu::model::Event::Reconnect);
    assert_eq!(v.closed().await, Some(1012));
}

/// 1013 (try again later): a socket whose outgoing queue fills up, because
/// its client reads more slowly than the server writes, is closed with
/// the code and reason PROTOCOL.md gives, and the client loses nothing by
/// reconnecting and resuming, as the table says to.
#[tokio::test]
async fn a_socket_too_slow_to_read_is_closed_with_1013_and_resumes_without_loss() {
    use tsunagu::core::ids::{ConversationId, Party};
    let app = spawn_app_with(|s| s.limits.outbox_messages = 16).await;
    let mut c = app.counsellor("aoki").await;
    c.available(1).await;
    let (mut v, welcome) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut v, &welcome).await;
    let conv = welcome["conversation_id"].as_str().unwrap().to_owned();
    let token = welcome["resume_token"].as_str().unwrap().to_owned();
    c.ws.recv_type("assigned").await;
    for i in 0..3 {
        c.ws.send(json!({"type": "send", "conversation_id": conv, "client_id": format!("m{i}"), "text": format!("メッセージ{i}")}))
            .await;
        c.ws.recv_type("sent").await;
    }
    // Many events for the conversation at once, faster than its visitor
    // socket can take them from its queue of 16 (the hub puts them there
    // without waiting, as it does for every event).
    let id: ConversationId = conv.parse().unwrap();
    for i in 0..1_000 {
        app.state.hub.dispatch(tsunagu::model::Event::Typing {
            conversation: id,
            from: Party::Counsellor,
            active: i % 2 == 0,
        });
    }
    assert_eq!(
        v.closed_with_reason().await,
        Some((1013, "too slow; reconnect and resume".into()))
    );
    // Reconnect and resume: every message is there, once, in order.
    let mut v = app.visitor().await;
    v.send(json!({"type": "resume", "conversation_id": conv, "token": token, "last_seq": 0}))
        .await;
    assert_eq!(v.recv_type("welcome").await["state"], "active");
    let mut texts = Vec::new();
    while texts.len() < 3 {
        let f = v.recv().await;
        if f["type"] == "message" {
            texts.push(f["text"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(texts, ["メッセージ0", "メッセージ1", "メッセージ2"]);
}
