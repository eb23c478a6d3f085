//! Issue 22: the return code and the anonymous case. A visitor takes a
//! code, ends, comes back with it later: the new conversation joins the
//! case, matching prefers the counsellor they last talked with (within
//! `timing.return_preference_max_wait_secs`), and that counsellor reads
//! the earlier conversation. A wrong code is refused like a wrong resume
//! token and rate-limited. On every store of the suite
//! (`TSUNAGU_TEST_STORE`).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use tsunagu::clock::now_ms;

use crate::helpers::*;

const DAY_MS: u64 = 86_400_000;

/// Ask for a return code on the visitor's socket.
async fn take_code(v: &mut Ws) -> Value {
    v.send(json!({"type": "return_code"})).await;
    v.recv_type("return_code").await
}

/// `GET /api/counsellor/conversations/{id}/case` as `cookie`.
pub(crate) async fn case_of(app: &TestApp, cookie: &str, conv: &str) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .get(app.url(&format!("/api/counsellor/conversations/{conv}/case")))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    read_answer(&reqwest::Method::GET, res).await
}

/// The texts of an earlier conversation in a case view, in order.
pub(crate) fn texts_of(earlier: &Value) -> Vec<&str> {
    earlier["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect()
}

/// Wait for `assigned` on a counsellor's socket; the conversation id.
pub(crate) async fn assigned(c: &mut Counsellor) -> String {
    c.ws.recv_type("assigned").await["conversation"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_returning_visitor_is_matched_to_the_same_counsellor_who_reads_the_earlier_conversation()
{
    // The purge below runs days ahead; the staff's sessions must outlive
    // it (the purge removes expired sessions).
    let app = spawn_app_with(|s| s.session_ttl_secs = 400 * 86_400).await;
    let mut x = app.counsellor("rc-aoki").await;
    x.available(1).await;

    // First visit: a conversation with Aoki, a note, a code, the end.
    let (mut v, w) = app
        .start_visitor(json!({"type": "start", "first_message": "眠れない日が続いています"}))
        .await;
    wait_matched(&mut v, &w).await;
    let first = assigned(&mut x).await;
    x.ws.send(json!({"type": "send", "conversation_id": first, "client_id": "x1", "text": "お話を聞かせてください"}))
        .await;
    x.ws.recv_type("sent").await;
    x.ws.send(
        json!({"type": "note", "conversation_id": first, "text": "睡眠の相談。次回も継続。"}),
    )
    .await;
    x.ws.recv_type("note_saved").await;
    let answer = take_code(&mut v).await;
    let code = answer["code"].as_str().unwrap().to_owned();
    println!("return code shown: {} chars in groups", code.len());
    assert_eq!(code.len(), 24, "{code}");
    assert_eq!(code.split('-').count(), 5, "{code}");
    assert!(code
        .chars()
        .all(|ch| ch == '-' || "23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(ch)));
    assert_eq!(answer["retention_days"], 30);
    v.send(json!({"type": "end"})).await;
    v.recv_type("ended").await;
    drop(v);

    // Another counsellor who has been idle longest: without the
    // preference, matching would give the next visitor to Baba.
    let mut y = app.counsellor("rc-baba").await;
    y.available(1).await;

    // A week later: the retention period (30 days) has not removed it.
    let purged = app
        .state
        .service
        .purge(now_ms() + 7 * DAY_MS)
        .await
        .unwrap();
    assert!(
        !purged.conversations.iter().any(|c| c.to_string() == first),
        "purged after a week"
    );

    // Back with the code, typed as a person would (lower case, spaces).
    let typed = code.to_lowercase().replace('-', " ");
    let (mut back, wb) = app
        .start_visitor(
            json!({"type": "start", "return_code": typed, "first_message": "また来ました"}),
        )
        .await;
    let name = wait_matched(&mut back, &wb).await;
    assert_eq!(
        name, "rc-aoki-san",
        "matched to the counsellor they last talked with"
    );
    let second = assigned(&mut x).await;
    assert_eq!(second, wb["conversation_id"].as_str().unwrap());

    // Aoki reads the earlier conversation: messages, note, risk history.
    let (status, body) = case_of(&app, &x.cookie, &second).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let case = &body["case"];
    let earlier = case["earlier"].as_array().unwrap();
    assert_eq!(earlier.len(), 1, "{case}");
    assert_eq!(earlier[0]["conversation_id"], first.as_str());
    assert_eq!(earlier[0]["counsellor"]["display_name"], "rc-aoki-san");
    assert_eq!(
        texts_of(&earlier[0]),
        ["眠れない日が続いています", "お話を聞かせてください"]
    );
    assert_eq!(earlier[0]["notes"][0]["text"], "睡眠の相談。次回も継続。");
    assert!(earlier[0]["risk_reasons"].is_array());
    assert_eq!(case["last_counsellor"]["display_name"], "rc-aoki-san");

    // Baba holds nothing of the case: refused, as any guessed id is.
    let (status, body) = case_of(&app, &y.cookie, &second).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "not_your_conversation");
    // A conversation of no case has none.
    let (mut plain, wp) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut plain, &wp).await;
    let third = assigned(&mut y).await;
    let (status, body) = case_of(&app, &y.cookie, &third).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["case"], Value::Null);

    // The store has one case with both conversations.
    let stored = app
        .store
        .case_of(second.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.conversations.len(), 2);
    assert_eq!(stored.conversations[0].to_string(), first);
}

#[tokio::test]
async fn with_their_counsellor_busy_a_returning_visitor_goes_to_another_within_the_bound() {
    let bound_secs = 2;
    let app = spawn_app_with(|s| s.timing.return_preference_max_wait_secs = bound_secs).await;
    let mut x = app.counsellor("rc-chiba").await;
    x.available(1).await;
    let (mut v, w) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut v, &w).await;
    assigned(&mut x).await;
    let code = take_code(&mut v).await["code"].as_str().unwrap().to_owned();
    v.send(json!({"type": "end"})).await;
    v.recv_type("ended").await;

    // Chiba is busy with someone else; Doi has room.
    let (mut busy, wbusy) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut busy, &wbusy).await;
    assigned(&mut x).await;
    let mut y = app.counsellor("rc-doi").await;
    y.available(2).await;

    let asked = Instant::now();
    let (mut back, wb) = app
        .start_visitor(json!({"type": "start", "return_code": code}))
        .await;
    assert_eq!(wb["state"], "queued");
    // Someone arriving after them is not held up by their wait.
    let (mut later, wl) = app.start_visitor(json!({"type": "start"})).await;
    assert_eq!(wait_matched(&mut later, &wl).await, "rc-doi-san");
    assert!(
        asked.elapsed() < Duration::from_secs(bound_secs),
        "the later visitor waited for the bound"
    );
    // They wait for Chiba up to the bound, then go to Doi.
    let name = wait_matched(&mut back, &wb).await;
    let waited = asked.elapsed();
    assert_eq!(name, "rc-doi-san");
    println!("returning visitor matched to another after {waited:?} (bound {bound_secs} s)");
    assert!(
        waited >= Duration::from_millis(bound_secs * 1000 - 200),
        "matched before the bound: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(bound_secs + 3),
        "waited past the bound: {waited:?}"
    );
}

#[tokio::test]
async fn a_wrong_return_code_is_refused_like_a_wrong_token_and_rate_limited() {
    let app = spawn_app_with(|s| s.limits.return_code_failures = 4).await;
    // The right code, to show that a locked-out address is refused it too.
    let (mut v, _) = app.start_visitor(json!({"type": "start"})).await;
    let right = take_code(&mut v).await["code"].as_str().unwrap().to_owned();

    let mut wrong_token = app.visitor().await;
    wrong_token
        .send(json!({"type": "resume", "conversation_id": uuid::Uuid::new_v4(), "token": "nope"}))
        .await;
    let by_token = wrong_token.expect_error("resume_failed").await;

    let queued_before = app.store.queue().await.unwrap().len();
    let mut refusals = Vec::new();
    for code in [
        "2345-6789-ABCD-EFGH-JKMN", // well formed, wrong
        "hello",                    // not a code at all
        &right[..right.len() - 1],  // one character short
    ] {
        let mut ws = app.visitor().await;
        ws.send(json!({"type": "start", "return_code": code})).await;
        refusals.push(ws.expect_error("resume_failed").await);
        // Nothing was started: the socket can still start without a code.
        ws.send(json!({"type": "start"})).await;
        ws.recv_type("welcome").await;
    }
    for r in &refusals {
        assert_eq!(r["message"], by_token["message"], "{r}");
        assert_eq!(
            r.as_object().unwrap().len(),
            by_token.as_object().unwrap().len()
        );
    }
    assert_eq!(
        app.store.queue().await.unwrap().len(),
        queued_before + 3,
        "only the three starts without a code joined the queue"
    );

    // The fourth wrong code reaches the limit; then even the right code is
    // refused, with a time to wait.
    let mut ws = app.visitor().await;
    ws.send(json!({"type": "start", "return_code": "2345-6789-ABCD-EFGH-JKMP"}))
        .await;
    ws.expect_error("resume_failed").await;
    let mut ws = app.visitor().await;
    ws.send(json!({"type": "start", "return_code": right}))
        .await;
    let locked = ws.expect_error("return_code_locked").await;
    assert!(locked["retry_after_ms"].as_u64().unwrap() > 0, "{locked}");
}

#[tokio::test]
async fn ten_thousand_random_codes_never_resolve() {
    let app = spawn_app_with(|s| s.limits.return_code_failures = 1_000_000).await;
    // A few real cases to find.
    let mut codes = Vec::new();
    for _ in 0..5 {
        let (mut v, _) = app.start_visitor(json!({"type": "start"})).await;
        codes.push(take_code(&mut v).await["code"].as_str().unwrap().to_owned());
    }
    let alphabet = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let mut resolved = 0;
    for _ in 0..10_000 {
        let raw: String = (0..20)
            .map(|_| alphabet[rand::random::<usize>() % alphabet.len()] as char)
            .collect();
        if app.state.service.returning_case(&raw, None).await.is_ok() {
            resolved += 1;
        }
    }
    assert_eq!(resolved, 0);
    // The real ones still do.
    for code in &codes {
        assert!(app.state.service.returning_case(code, None).await.is_ok());
    }
}

#[tokio::test]
async fn a_new_code_replaces_the_earlier_one_and_is_taken_after_the_end_too() {
    let app = spawn_app().await;
    let (mut v, w) = app.start_visitor(json!({"type": "start"})).await;
    let first = take_code(&mut v).await["code"].as_str().unwrap().to_owned();
    v.send(json!({"type": "end"})).await;
    v.recv_type("ended").await;
    // After the end, while the socket is still open.
    let second = take_code(&mut v).await["code"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert!(app
        .state
        .service
        .returning_case(&first, None)
        .await
        .is_err());
    let case = app
        .state
        .service
        .returning_case(&second, None)
        .await
        .unwrap();
    assert_eq!(case.conversations.len(), 1, "one case, not two");
    // After the end over HTTP, as the page does once it closed the socket.
    let id = w["conversation_id"].as_str().unwrap();
    let token = w["resume_token"].as_str().unwrap();
    let (status, body) = crate::handoff::post(
        &app,
        "/api/visitor/return-code",
        None,
        json!({"conversation_id": id, "token": token}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let third = body["code"].as_str().unwrap().to_owned();
    assert_eq!(body["retention_days"], 30);
    assert!(app
        .state
        .service
        .returning_case(&second, None)
        .await
        .is_err());
    assert_eq!(
        app.state
            .service
            .returning_case(&third, None)
            .await
            .unwrap()
            .id,
        case.id
    );
    // A wrong token: refused like a resume.
    let (status, body) = crate::handoff::post(
        &app,
        "/api/visitor/return-code",
        None,
        json!({"conversation_id": id, "token": "wrong"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "resume_failed");
}

#[tokio::test]
async fn erasing_the_case_erases_every_conversation_of_it_and_the_code() {
    let app = spawn_app().await;
    let mut x = app.counsellor("rc-eto").await;
    x.available(2).await;
    let (mut v, w) = app
        .start_visitor(json!({"type": "start", "first_message": "一回目の相談"}))
        .await;
    wait_matched(&mut v, &w).await;
    let first = assigned(&mut x).await;
    let code = take_code(&mut v).await["code"].as_str().unwrap().to_owned();
    v.send(json!({"type": "end"})).await;
    v.recv_type("ended").await;
    let (mut back, wb) = app
        .start_visitor(
            json!({"type": "start", "return_code": code, "first_message": "二回目の相談"}),
        )
        .await;
    wait_matched(&mut back, &wb).await;
    let second = assigned(&mut x).await;
    // Someone else's conversation, not of the case.
    let (mut other, wo) = app
        .start_visitor(json!({"type": "start", "first_message": "別の人"}))
        .await;
    wait_matched(&mut other, &wo).await;
    let third = assigned(&mut x).await;

    back.send(json!({"type": "erase_case"})).await;
    assert_eq!(back.recv_type("case_erased").await["conversations"], 2);
    // The counsellor is told the live one ended.
    loop {
        let f = x.ws.recv_type("ended").await;
        if f["conversation_id"] == second.as_str() {
            break;
        }
    }
    for id in [&first, &second] {
        let rec = app
            .store
            .conversation(id.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(rec.erased_at_ms.is_some(), "{id} not erased");
        assert!(rec.first_message.is_none());
        let left = app
            .store
            .messages_after(id.parse().unwrap(), 0, 100)
            .await
            .unwrap();
        assert!(left.is_empty(), "{id} kept its messages");
        assert!(app
            .store
            .case_of(id.parse().unwrap())
            .await
            .unwrap()
            .is_none());
    }
    let kept = app
        .store
        .messages_after(third.parse().unwrap(), 0, 100)
        .await
        .unwrap();
    assert_eq!(kept.len(), 1, "another visitor's conversation untouched");
    // The code no longer leads anywhere: refused like any wrong code.
    let mut again = app.visitor().await;
    again
        .send(json!({"type": "start", "return_code": code}))
        .await;
    again.expect_error("resume_failed").await;
}
