//! Issue 20 over real sockets, on whichever store the suite runs on: a
//! supervisor's whisper reaches the counsellor and never the visitor (live,
//! on a resume from 0, in intake's transcript, in the report), and every
//! supervisor access is audited once, with actor, conversation and
//! duration, readable by admins with filters.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use tsunagu::model::Role;

use crate::handoff::{book, chat, consent, get, slot, staff_cookie};
use crate::helpers::*;

const MARKER: &str = "WHISPER-MARKER-7f3a 睡眠のことを聞いてみて";

/// Read until a frame of type `t` for `conv`; fails on an error frame.
async fn until(ws: &mut Ws, t: &str) -> Value {
    loop {
        let f = ws.recv().await;
        assert_ne!(f["type"], "error", "{f}");
        if f["type"] == t {
            return f;
        }
    }
}

fn holds_marker(frames: &[Value]) -> bool {
    frames
        .iter()
        .any(|f| f.to_string().contains("WHISPER-MARKER"))
}

async fn audit(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let (status, body) = get(app, &format!("/api/admin/audit?{query}"), Some(admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

#[tokio::test]
async fn a_whisper_reaches_the_counsellor_and_never_the_visitor() {
    let app = spawn_app().await;
    let admin = staff_cookie(&app, "admin-w1", Role::Admin).await;
    let intake = staff_cookie(&app, "intake-w1", Role::Intake).await;
    let slot_id = slot(&app, &admin, 2, 1).await;
    let mut c = chat(&app, "couns-w1").await;
    c.visitor
        .send(json!({"type": "send", "client_id": "m1", "text": "こんにちは"}))
        .await;
    c.visitor.recv_type("sent").await;

    // Refused: a counsellor may not whisper; a supervisor only once they
    // observe or joined; an empty whisper is refused. Nothing is stored.
    c.counsellor
        .ws
        .send(json!({"type": "whisper", "conversation_id": c.id, "text": "x"}))
        .await;
    c.counsellor.ws.expect_error("forbidden").await;
    let mut sup = app.supervisor("sup-w1").await;
    sup.ws
        .send(json!({"type": "whisper", "conversation_id": c.id, "text": MARKER}))
        .await;
    sup.ws.expect_error("not_your_conversation").await;
    sup.ws
        .send(json!({"type": "observe", "conversation_id": c.id}))
        .await;
    until(&mut sup.ws, "supervising").await;
    sup.ws
        .send(json!({"type": "whisper", "conversation_id": c.id, "text": "  "}))
        .await;
    sup.ws.expect_error("text_empty").await;

    sup.ws
        .send(json!({"type": "whisper", "conversation_id": c.id, "text": MARKER}))
        .await;
    let got = until(&mut c.counsellor.ws, "whisper").await;
    assert_eq!(got["conversation_id"], c.id.as_str());
    assert_eq!(got["whisper"]["text"], MARKER);
    assert_eq!(got["whisper"]["supervisor"]["display_name"], "sup-w1-san");
    assert!(got["whisper"]["at"].as_u64().unwrap() > 0);
    // The supervisor sees their own whisper in the log too.
    assert_eq!(
        until(&mut sup.ws, "whisper").await["whisper"]["text"],
        MARKER
    );

    // The visitor's socket: the counsellor writes after it, so everything
    // the whisper could have caused has arrived before that message.
    c.counsellor
        .ws
        .send(json!({"type": "send", "conversation_id": c.id, "client_id": "c1", "text": "どうでしたか"}))
        .await;
    let mut seen = Vec::new();
    loop {
        let f = c.visitor.recv().await;
        let done = f["type"] == "message" && f["text"] == "どうでしたか";
        seen.push(f);
        if done {
            break;
        }
    }
    seen.extend(c.visitor.drain(Duration::from_millis(300)).await);
    assert!(
        !holds_marker(&seen),
        "the visitor's socket got the whisper: {seen:?}"
    );

    // A resume from 0 replays the whole log: not the whisper.
    let mut again = app.visitor().await;
    again
        .send(json!({"type": "resume", "conversation_id": c.id, "token": c.token, "last_seq": 0}))
        .await;
    let mut replay = vec![again.recv_type("welcome").await];
    replay.extend(again.drain(Duration::from_millis(500)).await);
    assert!(
        replay.iter().filter(|f| f["type"] == "message").count() >= 2,
        "the log was replayed: {replay:?}"
    );
    assert!(
        !holds_marker(&replay),
        "a resume replayed the whisper: {replay:?}"
    );

    // The counsellor's console catch-up carries it (staff only), marked
    // with the supervisor.
    let (_ws, welcome) = app
        .reconnect_counsellor(&c.counsellor.cookie, json!({}))
        .await;
    let conv = welcome["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["conversation_id"] == c.id.as_str())
        .unwrap()
        .clone();
    assert_eq!(conv["whispers"][0]["text"], MARKER);
    assert_eq!(
        conv["whispers"][0]["supervisor"]["display_name"],
        "sup-w1-san"
    );

    // Intake's transcript (consented) and the report never contain it.
    consent(&app, &mut c, true, false).await;
    let (status, receipt) = book(&app, &c, &slot_id, json!({"kind": "self"})).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let reference = receipt["booking"]["reference"].as_str().unwrap();
    let (status, lines) = get(
        &app,
        &format!("/api/intake/bookings/{reference}/transcript"),
        Some(&intake),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{lines}");
    assert_eq!(lines[0]["text"], "こんにちは");
    assert!(!lines.to_string().contains("WHISPER-MARKER"), "{lines}");
    let (date, _) = tsunagu::core::hours::jst_date_minute(tsunagu::clock::now_ms());
    let period = format!("{}-{:02}", date.year(), u8::from(date.month()));
    let (status, report) = get(
        &app,
        &format!("/api/admin/report?period={period}"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert!(!report.to_string().contains("WHISPER-MARKER"));

    // One whisper, one audit entry.
    let entries = audit(
        &app,
        &admin,
        &format!("conversation={}&action=whisper", c.id),
    )
    .await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["account"], sup.id.to_string());
}

#[tokio::test]
async fn whispers_are_rate_limited_like_sends() {
    let app = spawn_app_with(|s| {
        s.limits.frames_per_sec = 1;
        s.limits.frames_burst = 3;
    })
    .await;
    let c = chat(&app, "couns-w3").await;
    let mut sup = app.supervisor("sup-w3").await;
    sup.ws
        .send(json!({"type": "observe", "conversation_id": c.id}))
        .await;
    until(&mut sup.ws, "supervising").await;
    for i in 0..6 {
        sup.ws
            .send(json!({"type": "whisper", "conversation_id": c.id, "text": format!("w{i}")}))
            .await;
    }
    let frames = sup.ws.drain(Duration::from_millis(500)).await;
    assert!(
        frames
            .iter()
            .any(|f| f["type"] == "error" && f["code"] == "rate_limited"),
        "{frames:?}"
    );
}

#[tokio::test]
async fn each_supervisor_access_is_audited_once_with_actor_conversation_and_duration() {
    let app = spawn_app().await;
    let admin = staff_cookie(&app, "admin-w2", Role::Admin).await;
    let c = chat(&app, "couns-w2").await;
    let mut sup = app.supervisor("sup-w2").await;
    let conv = c.id.clone();
    for (t, wait) in [("observe", "supervising"), ("join", "supervising")] {
        sup.ws
            .send(json!({"type": t, "conversation_id": conv}))
            .await;
        until(&mut sup.ws, wait).await;
    }
    sup.ws
        .send(json!({"type": "whisper", "conversation_id": conv, "text": "ゆっくりで大丈夫"}))
        .await;
    until(&mut sup.ws, "whisper").await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    sup.ws
        .send(json!({"type": "leave", "conversation_id": conv}))
        .await;
    eventually("the leave is audited", || async {
        !audit(&app, &admin, &format!("conversation={conv}&action=leave"))
            .await
            .is_empty()
    })
    .await;
    sup.ws
        .send(json!({"type": "observe", "conversation_id": conv}))
        .await;
    until(&mut sup.ws, "supervising").await;
    sup.ws
        .send(json!({"type": "take_over", "conversation_id": conv}))
        .await;
    until(&mut sup.ws, "assigned").await;

    let entries = audit(&app, &admin, &format!("conversation={conv}")).await;
    let actions: Vec<&str> = entries
        .iter()
        .rev()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "observe",
            "join",
            "whisper",
            "leave",
            "observe",
            "take_over"
        ],
        "{entries:?}"
    );
    for e in &entries {
        assert_eq!(e["account"], sup.id.to_string());
        assert_eq!(e["display_name"], "sup-w2-san");
        assert_eq!(e["conversation_id"], conv.as_str());
    }
    let leave = &entries[2];
    assert!(leave["duration_ms"].as_u64().unwrap() >= 30, "{leave}");
    assert!(
        entries[0]["duration_ms"].as_u64().is_some(),
        "take-over ends an observation"
    );
    assert!(entries[1].get("duration_ms").is_none());

    // An observation ended by the supervisor's disconnect.
    let other = chat(&app, "couns-w2b").await;
    sup.ws
        .send(json!({"type": "observe", "conversation_id": other.id}))
        .await;
    until(&mut sup.ws, "supervising").await;
    drop(sup);
    eventually("the disconnect is audited", || async {
        audit(&app, &admin, &format!("conversation={}", other.id))
            .await
            .first()
            .is_some_and(|e| e["action"] == "leave_by_disconnect" && e["duration_ms"].is_u64())
    })
    .await;

    // Filters: by action (several), by account; bad filters are typed 400s.
    let two = audit(&app, &admin, "action=observe,take_over&limit=2").await;
    assert_eq!(two.len(), 2);
    assert!(two
        .iter()
        .all(|e| ["observe", "take_over"].contains(&e["action"].as_str().unwrap())));
    for bad in [
        "action=peek",
        "kind=observe",
        "account=nobody",
        "conversation=1",
        "since=yesterday",
        "since=10&until=5",
        "limit=0",
        "limit=1001",
    ] {
        let (status, body) = get(&app, &format!("/api/admin/audit?{bad}"), Some(&admin)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["code"], "invalid_filter", "{bad}");
    }
    let counsellor = c.counsellor.cookie.clone();
    assert_eq!(
        get(&app, "/api/admin/audit?action=observe", Some(&counsellor))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

/// A supervisor still observing or joined when the conversation ends (its
/// counsellor ends it, its visitor erases it) gets exactly one leave, with
/// the duration, written in the end's own step, and nothing more when
/// they leave afterwards or disconnect.
#[tokio::test]
async fn an_access_still_open_when_the_chat_ends_is_closed_once_with_its_duration() {
    let app = spawn_app().await;
    let admin = staff_cookie(&app, "admin-w3", Role::Admin).await;
    let mut sup = app.supervisor("sup-w3").await;

    // Observed, then the counsellor ends it.
    let mut c = chat(&app, "couns-w3").await;
    sup.ws
        .send(json!({"type": "observe", "conversation_id": c.id}))
        .await;
    until(&mut sup.ws, "supervising").await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    c.counsellor
        .ws
        .send(json!({"type": "end", "conversation_id": c.id, "outcome": "listened"}))
        .await;
    c.visitor.recv_type("ended").await;
    let entries = audit(&app, &admin, &format!("conversation={}", c.id)).await;
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["leave_by_end", "observe"], "{entries:?}");
    assert_eq!(entries[0]["account"], sup.id.to_string());
    assert!(
        entries[0]["duration_ms"].as_u64().unwrap() >= 30,
        "{entries:?}"
    );
    // Leaving afterwards audits nothing more.
    sup.ws
        .send(json!({"type": "leave", "conversation_id": c.id}))
        .await;

    // Joined, then the visitor erases the chat.
    let mut e = chat(&app, "couns-w3b").await;
    sup.ws
        .send(json!({"type": "join", "conversation_id": e.id}))
        .await;
    until(&mut sup.ws, "supervising").await;
    e.visitor.send(json!({"type": "erase"})).await;
    e.visitor.recv_type("erased").await;
    // The supervisor's console closes: a disconnect finds nothing open.
    drop(sup);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let entries = audit(&app, &admin, &format!("conversation={}", e.id)).await;
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["leave_by_end", "join"], "{entries:?}");
    assert!(entries[0]["duration_ms"].is_u64(), "{entries:?}");
    assert_eq!(
        audit(&app, &admin, &format!("conversation={}", c.id))
            .await
            .len(),
        2,
        "nothing more for the first chat"
    );
}
