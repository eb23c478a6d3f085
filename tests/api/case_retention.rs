//! Issue 22: how long a case is kept. A visitor takes a return code, ends,
//! comes back a week later (the service's controllable clock, not a
//! sleep) and is matched to the same counsellor, who reads the earlier
//! conversation; past the retention period the purge removes the case and
//! its code is then refused exactly like a wrong code. With the
//! keep-longer consent the case survives until `case_keep_days` after its
//! last contact; withdrawing the consent lets the next purge remove it.
//! On every store of the suite (`TSUNAGU_TEST_STORE`).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use tsunagu::core::ids::ConversationId;

use crate::helpers::*;

const DAY: Duration = Duration::from_secs(86_400);

/// An app whose staff sessions outlive every clock move of these tests
/// (the purge removes expired sessions).
async fn app() -> TestApp {
    spawn_app_with(|s| s.session_ttl_secs = 2_000 * 86_400).await
}

async fn take_code(v: &mut Ws) -> Value {
    v.send(json!({"type": "return_code"})).await;
    v.recv_type("return_code").await
}

async fn assigned(c: &mut Counsellor) -> String {
    c.ws.recv_type("assigned").await["conversation"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Run the purge at the service's clock; the ids purged.
async fn purge(app: &TestApp) -> Vec<String> {
    let now = app.clock().now_ms();
    let purged = app.state.service.purge(now).await.unwrap();
    purged.conversations.iter().map(|c| c.to_string()).collect()
}

fn id(s: &str) -> ConversationId {
    s.parse().unwrap()
}

/// `start` with `code`: the refusal it gets.
async fn refused_start(app: &TestApp, code: &str) -> Value {
    let mut v = app.visitor().await;
    v.send(json!({"type": "start", "return_code": code})).await;
    v.expect_error("resume_failed").await
}

#[tokio::test]
async fn a_week_later_the_same_counsellor_past_retention_the_code_leads_nowhere() {
    let app = app().await;
    let mut x = app.counsellor("cr-aoki").await;
    x.available(1).await;
    let (mut v, w) = app
        .start_visitor(json!({"type": "start", "first_message": "学校に行けていません"}))
        .await;
    wait_matched(&mut v, &w).await;
    let first = assigned(&mut x).await;
    let answer = take_code(&mut v).await;
    let code = answer["code"].as_str().unwrap().to_owned();
    assert_eq!(answer["case_retention"]["retention"], "normal");
    assert_eq!(answer["case_retention"]["retention_days"], 30);
    assert_eq!(answer["case_retention"]["case_keep_days"], 180);
    assert!(answer["case_retention"]["keep_longer"].is_null());
    v.send(json!({"type": "end"})).await;
    v.recv_type("ended").await;
    drop(v);
    // Idle longer than Aoki: without the preference the next visitor
    // would be Baba's.
    let mut y = app.counsellor("cr-baba").await;
    y.available(1).await;

    // A week later (the service's clock): within retention.
    app.clock().advance(7 * DAY);
    assert!(!purge(&app).await.contains(&first), "purged after a week");
    let (mut back, wb) = app
        .start_visitor(
            json!({"type": "start", "return_code": code, "first_message": "また来ました"}),
        )
        .await;
    assert_eq!(wait_matched(&mut back, &wb).await, "cr-aoki-san");
    let second = assigned(&mut x).await;
    let res = reqwest::Client::new()
        .get(app.url(&format!("/api/counsellor/conversations/{second}/case")))
        .header("cookie", &x.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let earlier = body["case"]["earlier"].as_array().unwrap();
    assert_eq!(earlier.len(), 1, "{body}");
    assert_eq!(earlier[0]["conversation_id"], first.as_str());
    assert_eq!(earlier[0]["messages"][0]["text"], "学校に行けていません");
    assert_eq!(body["case"]["case_retention"]["retention"], "normal");
    back.send(json!({"type": "end"})).await;
    back.recv_type("ended").await;

    // 29 more days: the first conversation (ended 36 days ago) goes, the
    // second (ended 29 days ago) stays, and the case with it, without
    // the first.
    app.clock().advance(29 * DAY);
    let gone = purge(&app).await;
    assert!(gone.contains(&first) && !gone.contains(&second), "{gone:?}");
    let case = app.store.case_of(id(&second)).await.unwrap().unwrap();
    assert_eq!(case.conversations, vec![id(&second)]);
    assert!(app.store.case_of(id(&first)).await.unwrap().is_none());

    // Two days more: the last conversation goes, and the case with it.
    app.clock().advance(2 * DAY);
    assert_eq!(purge(&app).await, vec![second.clone()]);
    assert!(app.store.case_of(id(&second)).await.unwrap().is_none());
    assert!(app.state.service.returning_case(&code, None).await.is_err());
    // Refused exactly as a code that never existed: no oracle.
    let expired = refused_start(&app, &code).await;
    let never = refused_start(&app, "ABCD-EFGH-JKMN-PQRS-TUVW").await;
    assert_eq!(expired, never);
    drop(y);
}

#[tokio::test]
async fn keep_longer_keeps_the_case_until_case_keep_days_and_withdrawing_lets_it_go() {
    let app = app().await;
    // Kept: consent given, the case outlives the 30 days up to 180 days
    // after its last contact.
    let (mut v, w) = app
        .start_visitor(json!({"type": "start", "first_message": "眠れません", "lang": "en"}))
        .await;
    let kept = w["conversation_id"].as_str().unwrap().to_owned();
    // No code yet: no case to keep.
    v.send(json!({"type": "keep_longer", "wording_version": "2026-12"}))
        .await;
    v.expect_error("no_case").await;
    let before = app.clock().now_ms();
    let code = take_code(&mut v).await["code"].as_str().unwrap().to_owned();
    let after = app.clock().now_ms();
    // An answer to another wording changes nothing.
    v.send(json!({"type": "keep_longer", "wording_version": "2025-01"}))
        .await;
    v.expect_error("offer_changed").await;
    assert!(app
        .store
        .case_of(id(&kept))
        .await
        .unwrap()
        .unwrap()
        .keep_longer
        .is_empty());
    v.send(json!({"type": "keep_longer", "wording_version": "2026-12"}))
        .await;
    let r = v.recv_type("case_retention").await["case_retention"].clone();
    assert_eq!(r["retention"], "keep_longer", "{r}");
    assert_eq!(r["keep_longer"]["wording_version"], "2026-12/en");
    assert_eq!(r["keep_longer"]["keep_days"], 180);
    assert!(r["keep_longer"]["withdrawn_at"].is_null());
    let until = r["keep_until"].as_u64().unwrap();
    let keep = 180 * 86_400_000;
    assert!((before + keep..=after + keep).contains(&until), "{until}");
    v.send(json!({"type": "end"})).await;
    v.recv_type("ended").await;

    // Withdrawn later: a second visitor gives and then withdraws.
    let (mut u, wu) = app
        .start_visitor(json!({"type": "start", "first_message": "話を聞いてほしい"}))
        .await;
    let withdrawn = wu["conversation_id"].as_str().unwrap().to_owned();
    take_code(&mut u).await;
    u.send(json!({"type": "keep_longer", "wording_version": "2026-12"}))
        .await;
    let r = u.recv_type("case_retention").await["case_retention"].clone();
    assert_eq!(r["keep_longer"]["wording_version"], "2026-12/ja");
    u.send(json!({"type": "end"})).await;
    u.recv_type("ended").await;

    // 31 days: both kept (the consent is in force for both).
    app.clock().advance(31 * DAY);
    let gone = purge(&app).await;
    assert!(
        !gone.contains(&kept) && !gone.contains(&withdrawn),
        "{gone:?}"
    );
    assert!(app.state.service.returning_case(&code, None).await.is_ok());

    // The second visitor withdraws (their page still holds the ended
    // conversation): the next purge removes it at once.
    u.send(json!({"type": "withdraw_keep_longer"})).await;
    let r = u.recv_type("case_retention").await["case_retention"].clone();
    assert_eq!(r["retention"], "normal", "{r}");
    assert!(r["keep_longer"]["withdrawn_at"].is_u64());
    assert!(r.get("keep_until").is_none());
    assert_eq!(purge(&app).await, vec![withdrawn.clone()]);
    assert!(app.store.case_of(id(&withdrawn)).await.unwrap().is_none());

    // Day 179 after the code: the first is still kept; day 181: gone,
    // with its case, and the code is refused like a wrong one.
    app.clock().advance(148 * DAY);
    assert!(purge(&app).await.is_empty());
    assert!(app.store.case_of(id(&kept)).await.unwrap().is_some());
    app.clock().advance(2 * DAY);
    assert_eq!(purge(&app).await, vec![kept.clone()]);
    assert!(app.store.case_of(id(&kept)).await.unwrap().is_none());
    let expired = refused_start(&app, &code).await;
    let never = refused_start(&app, "ABCD-EFGH-JKMN-PQRS-TUVW").await;
    assert_eq!(expired, never);
}

#[tokio::test]
async fn after_the_end_the_page_gives_takes_back_and_erases_over_http() {
    let app = app().await;
    let (mut v, w) = app
        .start_visitor(json!({"type": "start", "first_message": "相談したいです"}))
        .await;
    let conv = w["conversation_id"].as_str().unwrap().to_owned();
    let token = w["resume_token"].as_str().unwrap().to_owned();
    let post = |body: Value| crate::handoff::post(&app, "/api/visitor/case", None, body);
    // No code yet: no case.
    let (status, body) = post(json!({"type": "keep_longer", "conversation_id": conv, "token": token, "wording_version": "2026-12"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "no_case");
    let code = take_code(&mut v).await["code"].as_str().unwrap().to_owned();
    v.send(json!({"type": "end"})).await;
    v.recv_type("ended").await;
    drop(v);

    // A wrong token: refused like a resume, nothing changes.
    let (status, body) = post(json!({"type": "keep_longer", "conversation_id": conv, "token": "wrong", "wording_version": "2026-12"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "resume_failed");
    // Not a step: a typed refusal, nothing changes.
    let (status, body) =
        post(json!({"type": "keep_forever", "conversation_id": conv, "token": token})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "bad_request");
    assert!(app
        .store
        .case_of(id(&conv))
        .await
        .unwrap()
        .unwrap()
        .keep_longer
        .is_empty());

    let (status, body) = post(json!({"type": "keep_longer", "conversation_id": conv, "token": token, "wording_version": "2026-12", "lang": "en"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["type"], "case_retention");
    assert_eq!(body["case_retention"]["retention"], "keep_longer");
    assert_eq!(
        body["case_retention"]["keep_longer"]["wording_version"],
        "2026-12/en"
    );
    let (status, body) =
        post(json!({"type": "withdraw_keep_longer", "conversation_id": conv, "token": token}))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["case_retention"]["retention"], "normal");
    let case = app.store.case_of(id(&conv)).await.unwrap().unwrap();
    assert_eq!(case.keep_longer.len(), 1);
    assert!(case.keep_longer[0].withdrawn_at_ms.is_some());

    let (status, body) =
        post(json!({"type": "erase_case", "conversation_id": conv, "token": token})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"type": "case_erased", "conversations": 1}));
    assert!(app.store.case_of(id(&conv)).await.unwrap().is_none());
    let rec = app.store.conversation(id(&conv)).await.unwrap().unwrap();
    assert!(rec.erased_at_ms.is_some());
    refused_start(&app, &code).await;
    // Erased: the page's token no longer reaches it.
    let (status, body) =
        post(json!({"type": "erase_case", "conversation_id": conv, "token": token})).await;
    assert_eq!(body["code"], "conversation_erased", "{status} {body}");
}
