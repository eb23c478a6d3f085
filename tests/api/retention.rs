//! Promise 7: retention is finite, and a visitor can erase their chat at
//! once. Over real sockets, on whichever store the suite runs on (memory,
//! embedded, Redis). The purge is driven with a time far ahead
//! (`Service::purge(now_ms)`), never by sleeping.

use serde_json::json;

use tsunagu::clock::now_ms;
use tsunagu::core::ids::ConversationId;

use crate::helpers::*;

const DAY_MS: u64 = 86_400_000;

async fn matched(app: &TestApp) -> (Counsellor, Ws, String, String) {
    let mut c = app.counsellor("kato").await;
    c.available(1).await;
    let (mut v, welcome) = app
        .start_visitor(json!({"type": "start", "pre_chat": {"who": "self", "gender": "rather_not_say"}, "first_message": "こんにちは"}))
        .await;
    wait_matched(&mut v, &welcome).await;
    c.ws.recv_type("assigned").await;
    let conv = welcome["conversation_id"].as_str().unwrap().to_owned();
    let token = welcome["resume_token"].as_str().unwrap().to_owned();
    (c, v, conv, token)
}

#[tokio::test]
async fn erase_my_chat_removes_the_transcript_at_once_for_everyone() {
    let app = spawn_app().await;
    let (mut c, mut v, conv, token) = matched(&app).await;
    v.send(json!({"type": "send", "client_id": "v1", "text": "誰にも言えない話"}))
        .await;
    v.recv_type("sent").await;
    c.ws.recv_type("message").await;

    v.send(json!({"type": "erase"})).await;
    v.recv_type("erased").await;
    let ended = c.ws.recv_type("ended").await;
    assert_eq!(ended["by"], "visitor");

    // Gone from the store at once, for everyone.
    let id: ConversationId = conv.parse().unwrap();
    let store = &app.store;
    assert!(store.messages_after(id, 0, 100).await.unwrap().is_empty());
    let rec = store.conversation(id).await.unwrap().unwrap();
    assert!(rec.erased_at_ms.is_some());
    assert_eq!(rec.first_message, None);

    // The visitor's resume is told plainly.
    let mut again = app.visitor().await;
    again
        .send(json!({"type": "resume", "conversation_id": conv, "token": token, "last_seq": 0}))
        .await;
    again.expect_error("conversation_erased").await;
}

#[tokio::test]
async fn after_the_retention_period_the_transcript_is_gone_and_resume_says_so() {
    let app = spawn_app().await;
    let (mut c, mut v, conv, token) = matched(&app).await;
    v.send(json!({"type": "send", "client_id": "v1", "text": "話"}))
        .await;
    v.recv_type("sent").await;
    c.ws.send(json!({"type": "end", "conversation_id": conv, "outcome": "referred", "withdrawal": "under_one_year", "severity": "state_3", "referral": true}))
        .await;
    v.recv_type("ended").await;
    let id: ConversationId = conv.parse().unwrap();
    let store = app.store.clone();
    let rec = store.conversation(id).await.unwrap().unwrap();
    assert!(rec.assessment.referral);

    // Within the period nothing goes.
    let p = app
        .state
        .service
        .purge(now_ms() + 29 * DAY_MS)
        .await
        .unwrap();
    assert!(!p.conversations.contains(&id));
    assert!(store.conversation(id).await.unwrap().is_some());

    let p = app
        .state
        .service
        .purge(now_ms() + 31 * DAY_MS)
        .await
        .unwrap();
    assert!(p.conversations.contains(&id));
    assert_eq!(store.conversation(id).await.unwrap(), None);
    assert!(store.notes(id).await.unwrap_or_default().is_empty());
    let facts = store.facts().await.unwrap();
    assert_eq!(facts.len(), 1);
    assert!(facts[0].served && facts[0].assessment.referral);

    let mut again = app.visitor().await;
    again
        .send(json!({"type": "resume", "conversation_id": conv, "token": token, "last_seq": 0}))
        .await;
    let e = again.expect_error("resume_failed").await;
    assert!(e["message"].as_str().unwrap().contains("expired"), "{e}");
}
