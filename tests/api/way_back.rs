//! Issue 19: the way back after a quick exit. A way-back code asked for
//! during a conversation, redeemed with `POST /api/visitor/way-back` for a
//! new resume token (once), then the page resumes as after any drop.
//! Wrong, used, replaced, expired and ended codes are refused the same way;
//! an address that guesses is locked out. On every store of the suite
//! (`TSUNAGU_TEST_STORE`).

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use tsunagu::clock::now_ms;
use tsunagu::config::Settings;
use tsunagu::core::conversation::ConversationState;

use crate::handoff::post;
use crate::helpers::*;

const PATH: &str = "/api/visitor/way-back";

/// Ask for a way-back code on the visitor's socket.
async fn take_code(v: &mut Ws) -> Value {
    v.send(json!({"type": "way_back_code"})).await;
    v.recv_type("way_back_code").await
}

async fn redeem(app: &TestApp, code: &str) -> (StatusCode, Value) {
    post(app, PATH, None, json!({ "code": code })).await
}

/// Quick exit as the page does it: `leave_quickly`, then the page is gone.
async fn quick_exit(mut v: Ws) {
    v.send(json!({"type": "leave_quickly"})).await;
    v.send_raw(Message::Close(None)).await;
    v.closed().await;
}

fn generous(s: &mut Settings) {
    s.limits.way_back_failures = 1_000;
}

#[tokio::test]
async fn a_way_back_code_brings_the_visitor_back_to_the_chat_after_a_quick_exit() {
    let app = spawn_app().await;
    let mut c = app.counsellor("wb-aoki").await;
    c.available(1).await;
    let (mut v, w) = app
        .start_visitor(json!({"type": "start", "first_message": "相談です"}))
        .await;
    wait_matched(&mut v, &w).await;
    c.ws.recv_type("assigned").await;
    let id = w["conversation_id"].as_str().unwrap().to_owned();
    let old_token = w["resume_token"].as_str().unwrap().to_owned();
    c.ws.send(
        json!({"type": "send", "conversation_id": id, "client_id": "c1", "text": "こんにちは"}),
    )
    .await;
    c.ws.recv_type("sent").await;
    assert_eq!(v.recv_type("message").await["text"], "こんにちは");

    let before = now_ms();
    let answer = take_code(&mut v).await;
    let code = answer["code"].as_str().unwrap().to_owned();
    println!(
        "way-back code shown: {} chars, grouped {}",
        code.len(),
        &code[4..5]
    );
    assert_eq!(code.len(), 9, "{code}");
    assert_eq!(&code[4..5], "-");
    assert!(code
        .chars()
        .all(|ch| ch == '-' || "23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(ch)));
    let expires = answer["expires_at_ms"].as_u64().unwrap();
    assert!(
        expires >= before + 1_799_000 && expires <= now_ms() + 1_800_000,
        "{expires}"
    );

    quick_exit(v).await;
    let mut offline = false;
    while !offline {
        let f =
            c.ws.recv_within(Duration::from_secs(5))
                .await
                .expect("presence");
        offline = f["type"] == "presence" && f["visitor_online"] == false;
    }

    // Typed as a person would: lower case, a space instead of the hyphen.
    let typed = format!(" {} {} ", code[..4].to_lowercase(), &code[5..]);
    let (status, back) = redeem(&app, &typed).await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["conversation_id"], id.as_str());
    let token = back["token"].as_str().unwrap().to_owned();
    assert_ne!(token, old_token);

    // The old token no longer resumes; the new one does, with the messages.
    let mut stale = app.visitor().await;
    stale
        .send(json!({"type": "resume", "conversation_id": id, "token": old_token}))
        .await;
    stale.expect_error("resume_failed").await;
    let mut again = app.visitor().await;
    again
        .send(json!({"type": "resume", "conversation_id": id, "token": token, "last_seq": 0}))
        .await;
    assert_eq!(again.recv_type("welcome").await["state"], "active");
    assert_eq!(again.recv_type("message").await["text"], "相談です");
    assert_eq!(again.recv_type("message").await["text"], "こんにちは");

    // The counsellor sees the visitor back online, and the chat goes on.
    let online = loop {
        let f =
            c.ws.recv_within(Duration::from_secs(5))
                .await
                .expect("presence back");
        if f["type"] == "presence" {
            break f;
        }
    };
    assert_eq!(online["visitor_online"], true);
    assert_eq!(online["conversation_id"], id.as_str());
    again
        .send(json!({"type": "send", "client_id": "v2", "text": "戻りました"}))
        .await;
    assert_eq!(again.recv_type("sent").await["seq"], 3);
    assert_eq!(c.ws.recv_type("message").await["text"], "戻りました");

    // Once only.
    let (status, body) = redeem(&app, &code).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "way_back_failed");
}

#[tokio::test]
async fn wrong_used_replaced_expired_and_ended_codes_are_refused_the_same_way() {
    let app = spawn_app_with(|s| {
        generous(s);
        s.timing.way_back_code_secs = 1;
    })
    .await;
    let mut refusals: Vec<(String, StatusCode, Value)> = Vec::new();

    // Wrong (well formed), and not a code at all.
    for (what, code) in [("wrong", "2345-6789"), ("malformed", "hello")] {
        let (s, b) = redeem(&app, code).await;
        refusals.push((what.into(), s, b));
    }

    // Used.
    let (mut v, _) = app.start_visitor(json!({"type": "start"})).await;
    let used = take_code(&mut v).await["code"].as_str().unwrap().to_owned();
    assert_eq!(redeem(&app, &used).await.0, StatusCode::OK);
    let (s, b) = redeem(&app, &used).await;
    refusals.push(("used".into(), s, b));

    // Replaced by a newer one (which works).
    let (mut v2, _) = app.start_visitor(json!({"type": "start"})).await;
    let first = take_code(&mut v2).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = take_code(&mut v2).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, b) = redeem(&app, &first).await;
    refusals.push(("replaced".into(), s, b));
    assert_eq!(redeem(&app, &second).await.0, StatusCode::OK);

    // Expired (valid for 1 s here).
    let (mut v3, w3) = app.start_visitor(json!({"type": "start"})).await;
    let expired = take_code(&mut v3).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let (s, b) = redeem(&app, &expired).await;
    refusals.push(("expired".into(), s, b));

    // Ended: the conversation ends, its code with it.
    let (mut v4, w4) = app.start_visitor(json!({"type": "start"})).await;
    let ended = take_code(&mut v4).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    v4.send(json!({"type": "end"})).await;
    v4.recv_type("ended").await;
    let (s, b) = redeem(&app, &ended).await;
    refusals.push(("ended".into(), s, b));
    // And no new code for an ended conversation.
    v4.send(json!({"type": "way_back_code"})).await;
    v4.expect_error("conversation_ended").await;

    let first_body = refusals[0].2.clone();
    for (what, status, body) in &refusals {
        println!("{what}: {status} {body}");
        assert_eq!(*status, StatusCode::NOT_FOUND, "{what}");
        assert_eq!(body["code"], "way_back_failed", "{what}");
        assert_eq!(body, &first_body, "{what}: one answer for every failure");
    }
    // The refused redeems changed nothing.
    let id3 = w3["conversation_id"].as_str().unwrap().parse().unwrap();
    let rec = app.store.conversation(id3).await.unwrap().unwrap();
    assert_eq!(rec.state, ConversationState::Queued);
    let mut r = app.visitor().await;
    r.send(json!({"type": "resume", "conversation_id": w3["conversation_id"], "token": w3["resume_token"]}))
        .await;
    assert_eq!(r.recv_type("welcome").await["state"], "queued");
    let _ = w4;

    // Before a conversation: not started.
    let mut none = app.visitor().await;
    none.send(json!({"type": "way_back_code"})).await;
    none.expect_error("not_started").await;
}

#[tokio::test]
async fn an_address_that_guesses_is_refused_for_a_while_even_with_the_right_code() {
    let app = spawn_app_with(|s| {
        s.limits.way_back_failures = 3;
        s.limits.way_back_lockout_secs = 2;
    })
    .await;
    let (mut v, w) = app.start_visitor(json!({"type": "start"})).await;
    let right = take_code(&mut v).await["code"].as_str().unwrap().to_owned();
    for guess in ["2345-6789", "ABCD-EFGH", "nonsense"] {
        let (s, b) = redeem(&app, guess).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("way_back_failed"))
        );
    }
    let (s, b) = redeem(&app, &right).await;
    println!("after 3 wrong codes: {s} {b}");
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(b["code"], "way_back_locked");
    let retry = b["retry_after_ms"].as_u64().unwrap();
    assert!(retry > 0 && retry <= 2_000, "{retry}");
    // The locked attempt did not use the code: after the window it works.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let (s, b) = redeem(&app, &right).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["conversation_id"], w["conversation_id"]);
}

#[tokio::test]
async fn concurrent_redeems_of_one_code_give_exactly_one_token() {
    let app = spawn_app_with(generous).await;
    let (mut v, w) = app.start_visitor(json!({"type": "start"})).await;
    let code = take_code(&mut v).await["code"].as_str().unwrap().to_owned();
    let results = join_all((0..20).map(|_| redeem(&app, &code))).await;
    let ok: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .map(|(_, b)| b)
        .collect();
    println!(
        "20 concurrent redeems: {} succeeded, {} refused",
        ok.len(),
        results.len() - ok.len()
    );
    assert_eq!(ok.len(), 1);
    for (s, b) in &results {
        if *s != StatusCode::OK {
            assert_eq!(
                (*s, b["code"].as_str()),
                (StatusCode::NOT_FOUND, Some("way_back_failed"))
            );
        }
    }
    // The one token given is the one that resumes.
    let mut r = app.visitor().await;
    r.send(
        json!({"type": "resume", "conversation_id": w["conversation_id"], "token": ok[0]["token"]}),
    )
    .await;
    assert_eq!(r.recv_type("welcome").await["state"], "queued");
}

#[tokio::test]
async fn a_foreign_origin_cannot_redeem_and_a_bad_body_is_typed() {
    let app = spawn_app().await;
    let (mut v, _) = app.start_visitor(json!({"type": "start"})).await;
    let code = take_code(&mut v).await["code"].as_str().unwrap().to_owned();
    let res = reqwest::Client::new()
        .post(app.url(PATH))
        .header("origin", "https://evil.example")
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (_, body) = read_answer(&reqwest::Method::POST, res).await;
    assert_eq!(body["code"], "origin_forbidden");
    // Missing field: a typed 400, the code untouched.
    let (s, b) = post(&app, PATH, None, json!({"kode": code})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(b["code"].is_string(), "{b}");
    assert_eq!(redeem(&app, &code).await.0, StatusCode::OK);
}

/// On the embedded store the codes are not journaled (a restart forgets
/// them, documented), but the token a code gave is: after a restart the
/// new token resumes and the old one does not.
#[tokio::test]
async fn the_token_a_code_gave_survives_a_restart_of_the_durable_store_and_the_code_does_not() {
    use tsunagu::core::ids::ConversationId;
    use tsunagu::core::prechat::PreChat;
    use tsunagu::core::queue::QueuePolicy;
    use tsunagu::model::NewConversation;
    use tsunagu::store::{ConversationStore, NodeStore, WayBackStore};

    let dir = std::env::temp_dir().join(format!("tsunagu-way-back-{}", uuid::Uuid::new_v4()));
    let open = |dir: &std::path::Path| {
        tsunagu::store::embedded::open(dir, now_ms(), QueuePolicy::default())
            .unwrap()
            .0
    };
    let id = ConversationId::new_random();
    let now = now_ms();
    {
        let s = open(&dir);
        s.create_conversation(
            NewConversation {
                lang: Default::default(),
                channel: Default::default(),
                id,
                token_hash: [1; 32],
                pre_chat: PreChat::default(),
                risk: Default::default(),
                risk_reasons: Vec::new(),
                alert: None,
                first_message: None,
                now_ms: now,
                start_key: None,
                prefers: None,
            },
            100,
        )
        .await
        .unwrap();
        s.set_way_back(id, [8; 32], now + 60_000).await.unwrap();
        s.set_way_back(id, [9; 32], now + 60_000).await.unwrap();
        s.redeem_way_back(&[9; 32], [2; 32], now).await.unwrap();
        s.close().await.unwrap();
    }
    let s = open(&dir);
    assert_eq!(
        s.conversation(id).await.unwrap().unwrap().token_hash,
        [2; 32]
    );
    assert!(s.redeem_way_back(&[8; 32], [3; 32], now).await.is_err());
    s.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
