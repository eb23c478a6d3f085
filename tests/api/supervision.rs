//! Observe, join, take over and transfer: each keeps the conversation
//! whole (nothing lost, nothing doubled, order kept), over real sockets.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

/// What one socket has seen of one conversation: seq -> (from, name, text).
#[derive(Default)]
struct Transcript {
    seen: BTreeMap<u64, (String, Option<String>, String)>,
}

impl Transcript {
    /// Record a `message` (or a `sent` for our own text); panics on a
    /// message seen twice.
    fn message(&mut self, f: &Value) {
        let seq = f["seq"].as_u64().unwrap();
        let entry = (
            f["from"].as_str().unwrap().to_owned(),
            f["name"].as_str().map(str::to_owned),
            f["text"].as_str().unwrap().to_owned(),
        );
        assert!(
            self.seen.insert(seq, entry).is_none(),
            "message {seq} doubled: {f}"
        );
    }

    fn own(&mut self, seq: u64, from: &str, text: &str) {
        let entry = (from.to_owned(), None, text.to_owned());
        assert!(self.seen.insert(seq, entry).is_none(), "own {seq} doubled");
    }

    /// Every seq from 1 to `last`, no gap.
    fn assert_whole(&self, last: u64) {
        let seqs: Vec<u64> = self.seen.keys().copied().collect();
        assert_eq!(
            seqs,
            (1..=last).collect::<Vec<_>>(),
            "lost or extra messages"
        );
    }
}

/// Read frames until `until` matches one, recording messages for `conv`.
async fn read_until(
    ws: &mut Ws,
    t: &mut Transcript,
    conv: &str,
    until: impl Fn(&Value) -> bool,
) -> Value {
    loop {
        let f = ws.recv().await;
        if f["type"] == "message" && f.get("conversation_id").is_none_or(|c| c == conv) {
            t.message(&f);
        }
        assert_ne!(f["type"], "error", "{f}");
        if until(&f) {
            return f;
        }
    }
}

/// Read for `quiet`, recording messages; returns the other frames.
async fn read_quiet(ws: &mut Ws, t: &mut Transcript, conv: &str, quiet: Duration) -> Vec<Value> {
    let mut other = Vec::new();
    while let Some(f) = ws.recv_within(quiet).await {
        if f["type"] == "message" && f.get("conversation_id").is_none_or(|c| c == conv) {
            t.message(&f);
        } else {
            other.push(f);
        }
    }
    other
}

async fn visitor_says(v: &mut Ws, tv: &mut Transcript, conv: &str, id: &str, text: &str) -> u64 {
    v.send(json!({"type": "send", "client_id": id, "text": text}))
        .await;
    let sent = read_until(v, tv, conv, |f| f["type"] == "sent" && f["client_id"] == id).await;
    let seq = sent["seq"].as_u64().unwrap();
    tv.own(seq, "visitor", text);
    seq
}

async fn staff_says(c: &mut Ws, tc: &mut Transcript, conv: &str, id: &str, text: &str) -> u64 {
    c.send(json!({"type": "send", "conversation_id": conv, "client_id": id, "text": text}))
        .await;
    let sent = read_until(c, tc, conv, |f| f["type"] == "sent" && f["client_id"] == id).await;
    let seq = sent["seq"].as_u64().unwrap();
    tc.own(seq, "counsellor", text);
    seq
}

#[tokio::test]
async fn observe_join_and_take_over_keep_the_conversation_whole() {
    let app = spawn_app().await;
    let mut c = app.counsellor("nakamura").await;
    c.available(1).await;
    let (mut v, w) = app
        .start_visitor(json!({"type": "start", "first_message": "はじめまして"}))
        .await;
    let conv = w["conversation_id"].as_str().unwrap().to_owned();
    let (mut tv, mut tc, mut ts) = (
        Transcript::default(),
        Transcript::default(),
        Transcript::default(),
    );
    tv.own(1, "visitor", "はじめまして");
    wait_matched(&mut v, &w).await;
    read_until(&mut c.ws, &mut tc, &conv, |f| f["type"] == "assigned").await;
    staff_says(&mut c.ws, &mut tc, &conv, "c1", "こんにちは").await;
    visitor_says(&mut v, &mut tv, &conv, "v1", "よろしくお願いします").await;

    // Observe: the whole history, read-only, the visitor is not told.
    let mut sup = app.supervisor("takahashi").await;
    sup.ws
        .send(json!({"type": "observe", "conversation_id": conv}))
        .await;
    let s = read_until(&mut sup.ws, &mut ts, &conv, |f| f["type"] == "supervising").await;
    // The history follows at once: read it before anything else.
    read_until(&mut sup.ws, &mut ts, &conv, |f| {
        f["type"] == "message" && f["seq"] == 3
    })
    .await;
    assert_eq!(s["conversation"]["supervision"], "observe");
    assert_eq!(
        s["conversation"]["counsellor"]["display_name"],
        "nakamura-san"
    );
    let sv = read_until(&mut c.ws, &mut tc, &conv, |f| f["type"] == "supervision").await;
    assert_eq!(
        (
            sv["mode"].as_str(),
            sv["supervisor"]["display_name"].as_str()
        ),
        (Some("observe"), Some("takahashi-san"))
    );
    sup.ws
        .send(json!({"type": "send", "conversation_id": conv, "client_id": "s0", "text": "x"}))
        .await;
    assert_eq!(
        sup.ws.expect_error("not_your_conversation").await["client_id"],
        "s0"
    );
    sup.ws
        .send(json!({"type": "typing", "conversation_id": conv, "active": true}))
        .await;
    sup.ws.expect_error("not_your_conversation").await;
    sup.ws
        .send(json!({"type": "end", "conversation_id": conv, "outcome": "listened"}))
        .await;
    sup.ws.expect_error("not_your_conversation").await;
    visitor_says(&mut v, &mut tv, &conv, "v2", "実は…").await;
    read_until(&mut sup.ws, &mut ts, &conv, |f| {
        f["type"] == "message" && f["seq"] == 4
    })
    .await;
    for f in read_quiet(&mut v, &mut tv, &conv, Duration::from_millis(150)).await {
        assert!(
            !["observed", "counsellor_joined"].contains(&f["type"].as_str().unwrap()),
            "{f}"
        );
    }

    // A reconnecting observer gets the same view (same authorisation).
    let (mut again, welcome) = app
        .reconnect_counsellor(&sup.cookie, json!({conv.clone(): 4}))
        .await;
    let views = welcome["conversations"].as_array().unwrap();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0]["supervision"], "observe");
    assert!(again
        .recv_within(Duration::from_millis(100))
        .await
        .is_none_or(|f| f["type"] != "message"));
    drop(again);

    // Join: the visitor sees a second name.
    sup.ws
        .send(json!({"type": "join", "conversation_id": conv}))
        .await;
    let s = read_until(&mut sup.ws, &mut ts, &conv, |f| f["type"] == "supervising").await;
    assert_eq!(s["conversation"]["supervision"], "join");
    let j = read_until(&mut v, &mut tv, &conv, |f| f["type"] == "counsellor_joined").await;
    assert_eq!(j["name"], "takahashi-san");
    staff_says(
        &mut sup.ws,
        &mut ts,
        &conv,
        "s1",
        "スーパーバイザーの高橋です",
    )
    .await;
    let m = read_until(&mut v, &mut tv, &conv, |f| {
        f["type"] == "message" && f["seq"] == 5
    })
    .await;
    assert_eq!(m["name"], "takahashi-san");
    let m = read_until(&mut c.ws, &mut tc, &conv, |f| {
        f["type"] == "message" && f["seq"] == 5
    })
    .await;
    assert_eq!(m["name"], "takahashi-san");
    staff_says(&mut c.ws, &mut tc, &conv, "c2", "続けましょう").await;

    // Take over: the counsellor is released, the visitor sees the new name,
    // the conversation goes on by sequence number.
    sup.ws
        .send(json!({"type": "take_over", "conversation_id": conv}))
        .await;
    read_until(&mut sup.ws, &mut ts, &conv, |f| f["type"] == "assigned").await;
    let r = read_until(&mut c.ws, &mut tc, &conv, |f| f["type"] == "released").await;
    assert_eq!(
        (r["reason"].as_str(), r["to"]["display_name"].as_str()),
        (Some("taken_over"), Some("takahashi-san"))
    );
    let m = read_until(&mut v, &mut tv, &conv, |f| f["type"] == "matched").await;
    assert_eq!(m["counsellor"], "takahashi-san");
    c.ws.send(
        json!({"type": "send", "conversation_id": conv, "client_id": "c3", "text": "まだ？"}),
    )
    .await;
    c.ws.expect_error("not_your_conversation").await;
    visitor_says(&mut v, &mut tv, &conv, "v3", "ありがとうございます").await;
    staff_says(&mut sup.ws, &mut ts, &conv, "s2", "どういたしまして").await;
    read_until(&mut v, &mut tv, &conv, |f| {
        f["type"] == "message" && f["seq"] == 8
    })
    .await;
    read_quiet(&mut v, &mut tv, &conv, Duration::from_millis(150)).await;
    read_quiet(&mut sup.ws, &mut ts, &conv, Duration::from_millis(150)).await;

    // 0 lost, 0 doubled, on every side that stayed.
    tv.assert_whole(8);
    ts.assert_whole(8);
    tc.assert_whole(6);
    let store = &app.store;
    let rec = store
        .conversation(conv.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.last_seq, 8);
    assert_eq!(rec.counsellor, Some(sup.id));
    assert!(rec.supervisors.is_empty());
    let load: Vec<(tsunagu::core::ids::AccountId, u32)> = store
        .counsellors()
        .await
        .unwrap()
        .iter()
        .map(|c| (c.id, c.active))
        .collect();
    assert!(
        load.contains(&(c.id, 0)) && load.contains(&(sup.id, 1)),
        "{load:?}"
    );
    // Same text at each seq for everyone.
    for (seq, (_, _, text)) in &tv.seen {
        assert_eq!(&ts.seen[seq].2, text);
    }
}

#[tokio::test]
async fn only_supervisors_supervise() {
    let app = spawn_app().await;
    let mut c = app.counsellor("plain").await;
    let (_v, w) = app.start_visitor(json!({"type": "start"})).await;
    let conv = w["conversation_id"].as_str().unwrap().to_owned();
    for t in ["observe", "join", "leave", "take_over"] {
        c.ws.send(json!({"type": t, "conversation_id": conv})).await;
        let e = c.ws.expect_error("forbidden").await;
        assert_eq!(e["conversation_id"], conv);
    }
    // A waiting visitor can be observed, not joined; taking over assigns.
    let mut sup = app.supervisor("boss").await;
    sup.ws
        .send(json!({"type": "join", "conversation_id": conv}))
        .await;
    sup.ws.expect_error("not_active").await;
    sup.ws
        .send(json!({"type": "take_over", "conversation_id": conv}))
        .await;
    let a = sup.ws.recv_type("assigned").await;
    assert_eq!(a["conversation"]["conversation_id"], conv);
}

#[tokio::test]
async fn transfers_to_a_colleague_and_back_to_the_queue_lose_nothing_and_carry_the_notes() {
    let app = spawn_app().await;
    let mut a = app.counsellor("aoyama").await;
    a.available(1).await;
    let (mut v, w) = app
        .start_visitor(json!({"type": "start", "first_message": "仕事のことで"}))
        .await;
    let conv = w["conversation_id"].as_str().unwrap().to_owned();
    let (mut tv, mut ta, mut tb) = (
        Transcript::default(),
        Transcript::default(),
        Transcript::default(),
    );
    tv.own(1, "visitor", "仕事のことで");
    wait_matched(&mut v, &w).await;
    read_until(&mut a.ws, &mut ta, &conv, |f| f["type"] == "assigned").await;
    staff_says(&mut a.ws, &mut ta, &conv, "a1", "お話を聞かせてください").await;
    visitor_says(&mut v, &mut tv, &conv, "v1", "職場の人間関係です").await;

    let mut b = app.counsellor("baba").await;
    // Not available yet: refused, nothing changes.
    a.ws.send(json!({"type": "transfer", "conversation_id": conv, "to": b.id.to_string(), "note": "引き継ぎ"})).await;
    a.ws.expect_error("not_available").await;
    // Transfer to yourself is refused.
    a.ws.send(json!({"type": "transfer", "conversation_id": conv, "to": a.id.to_string()}))
        .await;
    a.ws.expect_error("invalid_message").await;
    b.available(1).await;
    a.ws.send(json!({"type": "transfer", "conversation_id": conv, "to": b.id.to_string(), "note": "職場の人間関係。就労支援の話に進めたい"})).await;
    let r = read_until(&mut a.ws, &mut ta, &conv, |f| f["type"] == "released").await;
    assert_eq!(
        (r["reason"].as_str(), r["to"]["display_name"].as_str()),
        (Some("transferred"), Some("baba-san"))
    );
    // The console drops a released conversation; if it comes back, it
    // comes back whole with `assigned`.
    ta = Transcript::default();
    let assigned = read_until(&mut b.ws, &mut tb, &conv, |f| f["type"] == "assigned").await;
    assert_eq!(
        assigned["conversation"]["notes"][0]["text"],
        "職場の人間関係。就労支援の話に進めたい"
    );
    assert_eq!(assigned["conversation"]["transfers"], 1);
    let m = read_until(&mut v, &mut tv, &conv, |f| f["type"] == "matched").await;
    assert_eq!(m["counsellor"], "baba-san");
    // The receiving counsellor has the history, the visitor writes on.
    read_until(&mut b.ws, &mut tb, &conv, |f| {
        f["type"] == "message" && f["seq"] == 3
    })
    .await;
    visitor_says(&mut v, &mut tv, &conv, "v2", "よろしくお願いします").await;
    read_until(&mut b.ws, &mut tb, &conv, |f| {
        f["type"] == "message" && f["seq"] == 4
    })
    .await;
    staff_says(&mut b.ws, &mut tb, &conv, "b1", "馬場です。続きを伺います").await;

    // Back to the queue (front), then the next free counsellor: `a`.
    b.ws.send(json!({"type": "transfer", "conversation_id": conv, "note": "女性の相談員を希望"}))
        .await;
    let r = read_until(&mut b.ws, &mut tb, &conv, |f| f["type"] == "released").await;
    assert_eq!(r["reason"], "returned_to_queue");
    read_until(&mut v, &mut tv, &conv, |f| f["type"] == "requeued").await;
    let m = read_until(&mut v, &mut tv, &conv, |f| f["type"] == "matched").await;
    assert_eq!(m["counsellor"], "aoyama-san");
    let again = read_until(&mut a.ws, &mut ta, &conv, |f| f["type"] == "assigned").await;
    let notes: Vec<&str> = again["conversation"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        notes,
        vec![
            "職場の人間関係。就労支援の話に進めたい",
            "女性の相談員を希望"
        ]
    );
    visitor_says(&mut v, &mut tv, &conv, "v3", "はい").await;
    read_until(&mut a.ws, &mut ta, &conv, |f| {
        f["type"] == "message" && f["seq"] == 6
    })
    .await;
    read_quiet(&mut v, &mut tv, &conv, Duration::from_millis(150)).await;
    read_quiet(&mut a.ws, &mut ta, &conv, Duration::from_millis(150)).await;

    tv.assert_whole(6);
    ta.assert_whole(6);
    tb.assert_whole(5);
    for (seq, (_, _, text)) in &tv.seen {
        assert_eq!(&ta.seen[seq].2, text);
    }
    let store = &app.store;
    let loads: Vec<u32> = store
        .counsellors()
        .await
        .unwrap()
        .iter()
        .map(|c| c.active)
        .collect();
    assert_eq!(loads.iter().sum::<u32>(), 1);
    let rec = store
        .conversation(conv.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((rec.transfers, rec.counsellor), (2, Some(a.id)));
}
