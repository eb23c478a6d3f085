//! Issue 19: the quick exit that protects (the conversation is marked
//! "left quickly", not ended, and can be resumed within the grace period),
//! erasing shown to the counsellor as such, triage mid-chat (the
//! counsellor and the supervisors are alerted, the visitor's page is sent
//! the safety information and never a diagnosis), and the statistics'
//! `exit` table. On every store of the suite (`TSUNAGU_TEST_STORE`).

use std::time::Duration;

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use tsunagu::clock::now_ms;
use tsunagu::core::conversation::{ConversationState, EndedBy};
use tsunagu::core::hours::jst_date_minute;
use tsunagu::core::ids::ConversationId;
use tsunagu::model::Role;

use crate::handoff::{get, staff_cookie};
use crate::helpers::*;

fn id_of(welcome: &Value) -> ConversationId {
    welcome["conversation_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Close the socket as a page that navigates away does: the browser sends
/// a close frame after what was queued and completes the closing
/// handshake on its own (the page itself waits for nothing). A bare TCP
/// drop, which no browser does, could lose the frame unread.
async fn leave(mut v: Ws) {
    v.send_raw(Message::Close(None)).await;
    v.closed().await;
}

#[tokio::test]
async fn leaving_quickly_mid_chat_keeps_the_conversation_open_and_resumable() {
    let app = spawn_app().await;
    let mut c = app.counsellor("exit-aoki").await;
    c.available(1).await;
    let (mut v, w) = app
        .start_visitor(json!({"type": "start", "first_message": "相談です"}))
        .await;
    wait_matched(&mut v, &w).await;
    c.ws.recv_type("assigned").await;
    let id = id_of(&w);
    let token = w["resume_token"].as_str().unwrap().to_owned();

    // The page sends `leave_quickly` and leaves without waiting.
    v.send(json!({"type": "leave_quickly"})).await;
    leave(v).await;

    // The counsellor hears "left quickly" and that the visitor is offline
    // (in either order), and never that it ended.
    let mut lq = Value::Null;
    let mut offline = false;
    let mut seen = Vec::new();
    while lq.is_null() || !offline {
        let f =
            c.ws.recv_within(Duration::from_secs(5))
                .await
                .unwrap_or_else(|| panic!("left_quickly and presence within 5 s; got {seen:?}"));
        seen.push(f["type"].clone());
        assert_ne!(f["type"], "ended", "{f}");
        if f["type"] == "left_quickly" {
            lq = f;
        } else if f["type"] == "presence" && f["visitor_online"] == false {
            offline = true;
        }
    }
    assert_eq!(lq["conversation_id"], id.to_string());
    assert!(lq["at"].as_u64().unwrap() > 0);
    for f in c.ws.drain(Duration::from_millis(200)).await {
        assert_ne!(f["type"], "ended", "{f}");
    }
    let rec = app.store.conversation(id).await.unwrap().unwrap();
    assert_eq!(rec.state, ConversationState::Active { counsellor: c.id });
    assert!(rec.left_quickly_at_ms.is_some());
    assert_eq!(rec.ended_at_ms, None);

    // A reconnecting console shows it in the conversation view.
    let (_again, welcome) = app.reconnect_counsellor(&c.cookie, json!({})).await;
    let view = &welcome["conversations"][0];
    assert_eq!(view["conversation_id"], id.to_string());
    assert_eq!(view["state"], "active");
    assert_eq!(view["visitor_online"], false);
    assert_eq!(view["left_quickly_at"], lq["at"]);

    // The visitor comes back with the resume token: the chat goes on.
    let mut back = app.visitor().await;
    back.send(
        json!({"type": "resume", "conversation_id": id.to_string(), "token": token, "last_seq": 0}),
    )
    .await;
    let wb = back.recv_type("welcome").await;
    assert_eq!(wb["state"], "active");
    assert_eq!(back.recv_type("message").await["text"], "相談です");
    back.send(json!({"type": "send", "client_id": "after-exit", "text": "戻りました"}))
        .await;
    assert_eq!(back.recv_type("sent").await["seq"], 2);
    assert_eq!(c.ws.recv_type("message").await["text"], "戻りました");
}

#[tokio::test]
async fn leaving_quickly_while_waiting_keeps_the_place_until_the_grace_period_ends() {
    let app = spawn_app_with(|s| s.timing.visitor_grace_secs = 1).await;
    let mut sup = app.supervisor("exit-kudo").await;
    let (mut v, w) = app.start_visitor(json!({"type": "start"})).await;
    let (_other, _) = app.start_visitor(json!({"type": "start"})).await;
    let id = id_of(&w);
    let token = w["resume_token"].as_str().unwrap().to_owned();
    v.send(json!({"type": "leave_quickly"})).await;
    // A page still there reads the answer (the real page has gone).
    v.recv_type("left_quickly").await;
    v.drop_connection();
    let rec = app.store.conversation(id).await.unwrap().unwrap();
    assert_eq!(rec.state, ConversationState::Queued);
    assert!(rec.left_quickly_at_ms.is_some());

    // Back within the grace period: the same place.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut back = app.visitor().await;
    back.send(json!({"type": "resume", "conversation_id": id.to_string(), "token": token}))
        .await;
    assert_eq!(back.recv_type("welcome").await["state"], "queued");
    assert_eq!(back.recv_type("queue").await["position"], 1);

    // Gone again past the grace period: ended as a visitor who went away,
    // the fact that they left quickly kept.
    back.send(json!({"type": "leave_quickly"})).await;
    back.recv_type("left_quickly").await;
    back.drop_connection();
    let store = app.store.clone();
    eventually("the conversation ends after the grace period", || async {
        store.conversation(id).await.unwrap().unwrap().state == ConversationState::Ended
    })
    .await;
    let rec = store.conversation(id).await.unwrap().unwrap();
    assert_eq!(rec.ended_by, Some(EndedBy::System));
    assert!(rec.left_quickly_at_ms.is_some());
    // No alert, nothing for the supervisor but the floor.
    for f in sup.ws.drain(Duration::from_millis(100)).await {
        assert_ne!(f["type"], "alert", "{f}");
    }
}

#[tokio::test]
async fn leave_quickly_before_start_and_after_the_end_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let mut v = app.visitor().await;
    v.send(json!({"type": "leave_quickly"})).await;
    v.expect_error("not_started").await;
    let (mut v, w) = app.start_visitor(json!({"type": "start"})).await;
    v.send(json!({"type": "end"})).await;
    v.recv_type("ended").await;
    v.send(json!({"type": "leave_quickly"})).await;
    v.expect_error("conversation_ended").await;
    let rec = app.store.conversation(id_of(&w)).await.unwrap().unwrap();
    assert_eq!(rec.left_quickly_at_ms, None);
}

#[tokio::test]
async fn erasing_is_shown_to_the_counsellor_as_erased_not_as_an_ordinary_end() {
    let app = spawn_app().await;
    let mut c = app.counsellor("exit-baba").await;
    c.available(2).await;
    let (mut v, w) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut v, &w).await;
    c.ws.recv_type("assigned").await;
    v.send(json!({"type": "erase"})).await;
    v.recv_type("erased").await;
    let e = c.ws.recv_type("ended").await;
    assert_eq!(e["conversation_id"], w["conversation_id"]);
    assert_eq!(e["by"], "visitor");
    assert_eq!(e["erased"], true);

    // An ordinary end carries no `erased`.
    let (mut v2, w2) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut v2, &w2).await;
    c.ws.recv_type("assigned").await;
    v2.send(json!({"type": "end"})).await;
    let e = c.ws.recv_type("ended").await;
    assert_eq!(e["conversation_id"], w2["conversation_id"]);
    assert!(e.get("erased").is_none(), "{e}");
}

#[tokio::test]
async fn a_flagged_word_mid_chat_alerts_the_counsellor_and_supervisors_and_shows_help_only() {
    let app = spawn_app().await;
    let mut sup = app.supervisor("exit-kimura").await;
    let mut c = app.counsellor("exit-chiba").await;
    c.available(1).await;
    let (mut v, w) = app
        .start_visitor(json!({"type": "start", "first_message": "こんにちは"}))
        .await;
    wait_matched(&mut v, &w).await;
    c.ws.recv_type("assigned").await;
    let id = w["conversation_id"].as_str().unwrap().to_owned();

    v.send(json!({"type": "send", "client_id": "m1", "text": "もう消えたい。死にたい"}))
        .await;
    // `sent` and `safety_info` come in either order: the event may reach
    // the socket before its own write's confirmation does.
    let (mut sent, mut info) = (None, None);
    while sent.is_none() || info.is_none() {
        let f = v.recv().await;
        match f["type"].as_str() {
            Some("sent") => sent = Some(f),
            Some("safety_info") => info = Some(f),
            Some("error") => panic!("{f}"),
            _ => {}
        }
    }
    assert_eq!(sent.unwrap()["seq"], 2);
    // The visitor's page gets the services to show, and nothing else.
    let info = info.unwrap();
    let services = info["services"].as_array().unwrap();
    let contacts: Vec<&str> = services
        .iter()
        .map(|s| s["contact"].as_str().unwrap())
        .collect();
    assert!(
        contacts.contains(&"119") && contacts.contains(&"0120-279-338"),
        "{contacts:?}"
    );
    let s = info.to_string();
    assert!(
        !s.contains("urgent") && !s.contains("risk") && !s.contains("rule"),
        "{s}"
    );

    // The counsellor who has it: the new level with the rule.
    let risk = c.ws.recv_type("risk").await;
    assert_eq!(risk["conversation_id"], id);
    assert_eq!(risk["level"], "urgent");
    assert_eq!(risk["reasons"][0]["source"], "triage");
    // The supervisors: an alert, never the words.
    let alert = sup.ws.recv_type("alert").await;
    assert_eq!(alert["alert"]["conversation_id"], id);
    assert_eq!(alert["alert"]["level"], "urgent");
    assert!(!alert.to_string().contains("死にたい"));
    let rec = app
        .store
        .conversation(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(rec.state, ConversationState::Active { .. }));

    // A reload shows the safety information again, unasked.
    let token = w["resume_token"].as_str().unwrap();
    let mut again = app.visitor().await;
    again
        .send(json!({"type": "resume", "conversation_id": id, "token": token, "last_seq": 2}))
        .await;
    again.recv_type("welcome").await;
    again.recv_type("safety_info").await;

    // The same rule again: no second alert, no second panel.
    v.send(json!({"type": "send", "client_id": "m2", "text": "死にたい"}))
        .await;
    loop {
        let f = v.recv().await;
        assert_ne!(f["type"], "safety_info", "{f}");
        if f["type"] == "sent" {
            break;
        }
    }
    for f in v.drain(Duration::from_millis(200)).await {
        assert_ne!(f["type"], "safety_info", "{f}");
    }
    for f in sup.ws.drain(Duration::from_millis(100)).await {
        assert_ne!(f["type"], "alert", "{f}");
    }
}

#[tokio::test]
async fn a_flagged_first_message_shows_the_safety_information_at_once_and_a_plain_one_does_not() {
    let app = spawn_app().await;
    let (mut v, _) = app
        .start_visitor(json!({"type": "start", "first_message": "死にたい"}))
        .await;
    v.recv_type("safety_info").await;
    let (mut plain, _) = app
        .start_visitor(json!({"type": "start", "first_message": "相談したいです"}))
        .await;
    for f in plain.drain(Duration::from_millis(200)).await {
        assert_ne!(f["type"], "safety_info", "{f}");
    }
    // Written while waiting: the panel comes with the message.
    plain
        .send(json!({"type": "send", "client_id": "w1", "text": "I want to die"}))
        .await;
    plain.recv_type("safety_info").await;
}

#[tokio::test]
async fn the_report_counts_left_quickly_and_erased_as_exits_of_their_own() {
    let app = spawn_app_with(|s| s.report.min_cell = 1).await;
    let admin = staff_cookie(&app, "exit-admin", Role::Admin).await;
    // One left quickly (and never came back), one erased, one ended.
    let (mut a, _) = app.start_visitor(json!({"type": "start"})).await;
    a.send(json!({"type": "leave_quickly"})).await;
    a.recv_type("left_quickly").await;
    let (mut b, _) = app.start_visitor(json!({"type": "start"})).await;
    b.send(json!({"type": "erase"})).await;
    b.recv_type("erased").await;
    let (mut d, _) = app.start_visitor(json!({"type": "start"})).await;
    d.send(json!({"type": "end"})).await;
    d.recv_type("ended").await;

    let (date, _) = jst_date_minute(now_ms());
    let period = format!("{}-{:02}", date.year(), u8::from(date.month()));
    let (status, r) = get(
        &app,
        &format!("/api/admin/report?period={period}"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["started"], 3);
    assert_eq!(
        r["tables"]["exit"],
        json!({"left_quickly": 1, "erased": 1, "other": 1})
    );
    let res = reqwest::Client::new()
        .get(app.url(&format!("/api/admin/report?period={period}&format=csv")))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap();
    let csv = res.text().await.unwrap();
    assert!(csv.contains("exit,left_quickly,1\r\n"), "{csv}");
    assert!(csv.contains("exit,erased,1\r\n"), "{csv}");
}

/// Triage flagged the conversation but its `safety_info` event never
/// reached the visitor (an event lost while the node's event link was
/// down, or a lagging hub). The resync that follows re-reads the record
/// and shows the safety information after all, once: a second resync
/// does not show it again.
#[tokio::test]
async fn a_resync_shows_the_safety_information_whose_event_was_lost() {
    use tsunagu::model::{Event, RiskChange, RiskReason, RiskSource};
    let app = spawn_app().await;
    let mut c = app.counsellor("exit-resync").await;
    c.available(1).await;
    let (mut v, w) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut v, &w).await;
    c.ws.recv_type("assigned").await;
    let id: ConversationId = w["conversation_id"].as_str().unwrap().parse().unwrap();

    // Flagged in the store only: no event is published.
    let hit = RiskReason {
        level: tsunagu::core::triage::RiskLevel::Urgent,
        source: RiskSource::Triage {
            rule: "self_harm.die".into(),
            category: "self_harm".into(),
        },
        at_ms: now_ms(),
    };
    app.store
        .set_risk(
            id,
            RiskChange::Triage {
                hits: vec![hit],
                alert: tsunagu::core::ids::AlertId::new_random(),
            },
            now_ms(),
        )
        .await
        .unwrap();
    app.store.publish(Event::Resync).await.unwrap();
    let info = v.recv_type("safety_info").await;
    assert!(info["services"].as_array().is_some_and(|s| !s.is_empty()));

    // Shown already: another resync sends nothing new before the next
    // message.
    app.store.publish(Event::Resync).await.unwrap();
    let conv = id.to_string();
    c.ws.send(
        json!({"type": "send", "conversation_id": conv, "client_id": "after", "text": "after"}),
    )
    .await;
    loop {
        let f = v.recv().await;
        assert_ne!(f["type"], "safety_info", "shown twice: {f}");
        if f["type"] == "message" && f["text"] == "after" {
            break;
        }
    }
}

/// The quick exit as the page sends it: a beacon to
/// `POST /api/visitor/leave-quickly` with a `text/plain` body (what
/// `navigator.sendBeacon` sends for a string), which arrives even when the
/// navigation closed the socket before its last frame was read. Here the
/// socket is dropped first, as the worst case.
#[tokio::test]
async fn the_beacon_leaves_quickly_after_the_socket_is_gone() {
    let app = spawn_app().await;
    let mut c = app.counsellor("beacon-aoki").await;
    c.available(1).await;
    let (mut v, w) = app
        .start_visitor(json!({"type": "start", "first_message": "相談です"}))
        .await;
    wait_matched(&mut v, &w).await;
    c.ws.recv_type("assigned").await;
    let id = id_of(&w);
    let token = w["resume_token"].as_str().unwrap().to_owned();
    v.drop_connection();

    let beacon = |body: String, origin: Option<String>| {
        let mut r = reqwest::Client::new()
            .post(app.url("/api/visitor/leave-quickly"))
            .header("content-type", "text/plain;charset=UTF-8")
            .body(body);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        async move { read_answer(&reqwest::Method::POST, r.send().await.unwrap()).await }
    };
    let body = |token: &str| json!({"conversation_id": id, "token": token}).to_string();

    // Refused, and nothing marked: a wrong token, a foreign page, a body
    // that is not the two fields, a guessed conversation.
    let guessed =
        json!({"conversation_id": ConversationId::new_random(), "token": token}).to_string();
    let refusals = [
        (body("wrong"), None, "resume_failed"),
        (
            body(&token),
            Some("https://evil.example".to_owned()),
            "origin_forbidden",
        ),
        ("{\"conversation_id\":".to_owned(), None, "bad_request"),
        (
            format!("{{\"conversation_id\":\"{id}\",\"token\":\"{token}\",\"x\":1}}"),
            None,
            "bad_request",
        ),
        (guessed, None, "resume_failed"),
    ];
    for (b, origin, code) in refusals {
        let (status, answer) = beacon(b, origin).await;
        assert_eq!(answer["code"], code, "{status} {answer}");
        let rec = app.store.conversation(id).await.unwrap().unwrap();
        assert_eq!(rec.left_quickly_at_ms, None, "after {code}");
    }

    // The page's own beacon, from its own origin.
    let own = app.url("").trim_end_matches('/').to_owned();
    let (status, answer) = beacon(body(&token), Some(own)).await;
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT, "{answer}");
    let lq = loop {
        let f =
            c.ws.recv_within(Duration::from_secs(5))
                .await
                .expect("left_quickly within 5 s");
        assert_ne!(f["type"], "ended", "{f}");
        if f["type"] == "left_quickly" {
            break f;
        }
    };
    assert_eq!(lq["conversation_id"], id.to_string());
    let rec = app.store.conversation(id).await.unwrap().unwrap();
    assert_eq!(rec.state, ConversationState::Active { counsellor: c.id });
    assert!(rec.left_quickly_at_ms.is_some());

    // After the end: refused, as on the socket.
    c.ws.send(json!({"type": "end", "conversation_id": id, "outcome": "listened"}))
        .await;
    c.ws.recv_type("ended").await;
    let (_, answer) = beacon(body(&token), None).await;
    assert_eq!(answer["code"], "conversation_ended", "{answer}");
}
