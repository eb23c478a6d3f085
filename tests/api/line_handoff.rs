//! Handoff over LINE (issue 12): LINE cannot show the consent and booking
//! screens, so the offer reaches the LINE visitor as a message with a
//! one-time link to the handoff page, and the page's requests carry only
//! that link (`{"link": ..}`). Real server, real sockets, the stand-in
//! Messaging API of `line.rs`; runs on every suite store.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use tsunagu::core::ids::ConversationId;
use tsunagu::model::Role;

use crate::handoff::{post, slot, staff_cookie};
use crate::helpers::{spawn_app_with, Counsellor, TestApp};
use crate::line::{conversation_of, line_settings, say, user_id, StandIn};

const PUBLIC: &str = "https://chat.example.jp";
const PREFIX: &str = "https://chat.example.jp/handoff/#";

async fn line_app_with(tweak: impl FnOnce(&mut tsunagu::config::Settings)) -> (StandIn, TestApp) {
    let line = StandIn::start().await;
    let app = spawn_app_with(|s| {
        line_settings(s, &line.base);
        s.public_url = Some(PUBLIC.into());
        tweak(s);
    })
    .await;
    (line, app)
}

/// A LINE user writes; the counsellor is matched on the console socket.
async fn line_chat(app: &TestApp, c: &mut Counsellor, event: &str) -> (String, ConversationId) {
    let user = user_id();
    assert_eq!(say(app, &user, event, "相談したいです", false).await, 200);
    let assigned = c.ws.recv_type("assigned").await;
    assert_eq!(assigned["conversation"]["channel"], "line");
    let conv = conversation_of(app, &user).await;
    assert_eq!(
        assigned["conversation"]["conversation_id"],
        conv.to_string()
    );
    (user, conv)
}

async fn offer(c: &mut Counsellor, conv: ConversationId, summary: &str) {
    c.ws.send(json!({"type": "offer_handoff", "conversation_id": conv,
        "summary": summary, "include_transcript": false}))
        .await;
    // Earlier steps' frames may come first: wait for this offer's.
    loop {
        let h = c.ws.recv_type("handoff").await;
        if h["handoff"]["state"] == "offered" && h["handoff"]["summary"] == summary {
            break;
        }
    }
}

/// The texts with a handoff link pushed (and taken) to `user`, in order.
fn link_texts(line: &StandIn, user: &str) -> Vec<String> {
    line.received()
        .iter()
        .filter(|r| r.accepted && r.kind == "push" && r.body["to"] == user)
        .flat_map(|r| r.body["messages"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| m["text"].as_str().map(str::to_owned))
        .filter(|t| t.contains(PREFIX))
        .collect()
}

/// Wait for the `n`-th link pushed to `user`; returns its token.
async fn nth_link(line: &StandIn, user: &str, n: usize) -> String {
    for _ in 0..200 {
        let texts = link_texts(line, user);
        if texts.len() >= n {
            let t = &texts[n - 1];
            // Japanese first, then English, like every LINE text.
            let ja = t.find("初回相談").expect("a Japanese text");
            let en = t.find("first consultation").expect("an English text");
            assert!(ja < en, "{t}");
            let at = t.find(PREFIX).unwrap() + PREFIX.len();
            let token: String = t[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            assert!(token.len() >= 22, "at least 128 random bits: {token}");
            return token;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no handoff link number {n} reached the LINE user");
}

async fn show(app: &TestApp, link: &str) -> (StatusCode, Value) {
    post(app, "/api/handoff", None, json!({ "link": link })).await
}

async fn answer(app: &TestApp, link: &str, view: &Value, answer: &str) -> (StatusCode, Value) {
    post(
        app,
        "/api/handoff/answer",
        None,
        json!({"link": link, "version": view["version"],
            "wording_version": view["terms"]["wording_version"], "lang": "ja",
            "answer": answer, "contact": true}),
    )
    .await
}

async fn book(app: &TestApp, link: &str, slot_id: &str) -> (StatusCode, Value) {
    post(
        app,
        "/api/handoff/book",
        None,
        json!({"link": link, "slot_id": slot_id, "name": "みどり",
            "contact": {"kind": "phone", "value": "090-1234-5678"}}),
    )
    .await
}

#[tokio::test]
async fn a_line_visitor_consents_and_books_through_the_one_time_link_and_it_is_spent() {
    let (line, app) = line_app_with(|_| {}).await;
    let admin = staff_cookie(&app, "lh-admin", Role::Admin).await;
    let slot_id = slot(&app, &admin, 2, 3).await;
    let mut c = app.counsellor("lh-couns").await;
    c.available(2).await;
    let (user, conv) = line_chat(&app, &mut c, "01LH1").await;
    offer(&mut c, conv, "学校に行けていない。母と相談したい。").await;
    let link = nth_link(&line, &user, 1).await;

    // The page: the summary word for word, then consent and booking.
    let (status, body) = show(&app, &link).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view = body["handoff"].clone();
    assert_eq!(view["state"], "offered");
    assert_eq!(view["summary"], "学校に行けていない。母と相談したい。");
    let (status, body) = answer(&app, &link, &view, "consent").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["handoff"]["state"], "consented");
    let (status, receipt) = book(&app, &link, &slot_id).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["pin"].as_str().unwrap().len(), 6);
    let reference = receipt["booking"]["reference"].as_str().unwrap();
    // The counsellor sees the booking of their LINE visitor.
    let h = c.ws.recv_type("handoff").await;
    assert_eq!(h["conversation_id"], conv.to_string());
    let store = &app.store;
    let rec = store.handoff(conv).await.unwrap().unwrap();
    assert_eq!(rec.booking.as_ref().map(|b| b.as_str()), Some(reference));
    let stored = store.handoff_link_of(conv).await.unwrap().unwrap();
    assert!(stored.sent, "the push was confirmed");
    assert_eq!(
        stored.token_hash,
        tsunagu::model::hash_token(&link),
        "only the hash is stored"
    );

    // Spent: a second booking, an answer, a look, a withdrawal.
    let slot2 = slot(&app, &admin, 3, 3).await;
    let (status, body) = book(&app, &link, &slot2).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(body["code"], "link_spent");
    let (status, body) = answer(&app, &link, &view, "decline").await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::GONE, json!("link_spent"))
    );
    let (status, body) = show(&app, &link).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::GONE, json!("link_spent"))
    );
    let (status, body) = post(&app, "/api/handoff/withdraw", None, json!({ "link": link })).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::GONE, json!("link_spent"))
    );
    // One booking, still in force.
    let rec = store.handoff(conv).await.unwrap().unwrap();
    assert_eq!(rec.bookings_made, 1);
    assert_eq!(rec.state.name(), "consented");

    // A guessed link gets exactly what a wrong resume token gets.
    let (status, guessed) = show(&app, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await;
    let (status2, wrong_token) = post(
        &app,
        "/api/handoff",
        None,
        json!({"conversation_id": conv, "token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!((status, &guessed), (status2, &wrong_token));
    assert_eq!(guessed["code"], "resume_failed");
    // Nothing in the texts names the LINE user or the link to anyone else.
    let (_, slots) = crate::handoff::get(&app, "/api/slots", None).await;
    assert!(!slots.to_string().contains(&link));
}

#[tokio::test]
async fn a_link_opens_only_its_own_conversation() {
    let (line, app) = line_app_with(|_| {}).await;
    let mut c = app.counsellor("lh-two").await;
    c.available(2).await;
    let (user_a, conv_a) = line_chat(&app, &mut c, "01LA1").await;
    let (user_b, conv_b) = line_chat(&app, &mut c, "01LB1").await;
    offer(&mut c, conv_a, "Aさんのまとめ").await;
    offer(&mut c, conv_b, "Bさんのまとめ").await;
    let link_a = nth_link(&line, &user_a, 1).await;
    let link_b = nth_link(&line, &user_b, 1).await;
    assert_ne!(link_a, link_b);
    let (_, a) = show(&app, &link_a).await;
    let (_, b) = show(&app, &link_b).await;
    assert_eq!(a["handoff"]["summary"], "Aさんのまとめ");
    assert_eq!(b["handoff"]["summary"], "Bさんのまとめ");

    // A's link with B's conversation id beside it still acts on A only:
    // the link names no conversation, the store does.
    let view_b = b["handoff"].clone();
    let (status, body) = post(
        &app,
        "/api/handoff/answer",
        None,
        json!({"link": link_a, "conversation_id": conv_b, "version": view_b["version"],
            "wording_version": view_b["terms"]["wording_version"], "lang": "ja",
            "answer": "decline"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["handoff"]["summary"], "Aさんのまとめ");
    let store = &app.store;
    assert_eq!(
        store.handoff(conv_a).await.unwrap().unwrap().state.name(),
        "declined"
    );
    assert_eq!(
        store.handoff(conv_b).await.unwrap().unwrap().state.name(),
        "offered",
        "B is untouched"
    );
    // Declining ends A's link; B's still works.
    let (status, body) = show(&app, &link_a).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::GONE, json!("link_spent"))
    );
    let (status, _) = show(&app, &link_b).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_revised_offer_sends_a_fresh_link_and_the_earlier_one_stops_working() {
    let (line, app) = line_app_with(|_| {}).await;
    let mut c = app.counsellor("lh-rev").await;
    c.available(1).await;
    let (user, conv) = line_chat(&app, &mut c, "01LR1").await;
    offer(&mut c, conv, "一回目").await;
    let first = nth_link(&line, &user, 1).await;
    let (_, body) = show(&app, &first).await;
    let (status, body) = answer(&app, &first, &body["handoff"], "change").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["handoff"]["state"], "change_requested");
    offer(&mut c, conv, "直した二回目").await;
    let second = nth_link(&line, &user, 2).await;
    assert_ne!(first, second);
    let (status, body) = show(&app, &first).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::FORBIDDEN, json!("resume_failed"))
    );
    let (status, body) = show(&app, &second).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["handoff"]["summary"], "直した二回目");
    assert_eq!(body["handoff"]["version"], 2);
}

#[tokio::test]
async fn an_expired_link_is_refused() {
    let (line, app) = line_app_with(|s| s.handoff.link_valid_secs = 1).await;
    let mut c = app.counsellor("lh-exp").await;
    c.available(1).await;
    let (user, conv) = line_chat(&app, &mut c, "01LE1").await;
    offer(&mut c, conv, "期限のテスト").await;
    let link = nth_link(&line, &user, 1).await;
    let link_rec = app.store.handoff_link_of(conv).await.unwrap().unwrap();
    let left = link_rec
        .expires_at_ms
        .saturating_sub(tsunagu::clock::now_ms());
    tokio::time::sleep(Duration::from_millis(left + 50)).await;
    let (status, body) = show(&app, &link).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(body["code"], "link_expired");
    let (status, body) = answer(
        &app,
        &link,
        &json!({"version": 1, "terms": {"wording_version": "2026-12"}}),
        "consent",
    )
    .await;
    assert_eq!(body["code"], "link_expired", "{status}");
    assert_eq!(
        app.store.handoff(conv).await.unwrap().unwrap().state.name(),
        "offered",
        "nothing changed"
    );
}

#[tokio::test]
async fn without_public_url_a_line_handoff_is_refused_and_nothing_is_offered() {
    let line = StandIn::start().await;
    let app = spawn_app_with(|s| line_settings(s, &line.base)).await;
    let mut c = app.counsellor("lh-nourl").await;
    c.available(1).await;
    let (_user, conv) = line_chat(&app, &mut c, "01LN1").await;
    c.ws.send(json!({"type": "offer_handoff", "conversation_id": conv, "summary": "まとめ"}))
        .await;
    let e = c.ws.expect_error("handoff_link_unavailable").await;
    assert_eq!(e["conversation_id"], conv.to_string(), "{e}");
    assert!(app.store.handoff(conv).await.unwrap().is_none());
}

#[tokio::test]
async fn link_requests_are_rate_limited_per_address() {
    let (_line, app) = line_app_with(|s| {
        s.limits.handoff_links_per_ip_per_min = 1;
        s.limits.handoff_links_burst = 2;
    })
    .await;
    for _ in 0..2 {
        let (status, _) = show(&app, "guess-guess-guess-guess-guess").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, body) = show(&app, "guess-guess-guess-guess-guess").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "rate_limited");
}
