//! What a visitor may write while waiting (issue 18): messages and bytes
//! per queued conversation; past it `send` is refused with
//! `waiting_budget_spent` and nothing is stored; a resend of a stored
//! message is still answered `sent`; once matched the budget is gone.

use serde_json::{json, Value};
use tsunagu::core::ids::ConversationId;

use crate::helpers::*;

/// `send` with `client_id`; the `sent` or the `error` frame.
async fn send(v: &mut Ws, client_id: &str, text: &str) -> Value {
    v.send(json!({"type": "send", "client_id": client_id, "text": text}))
        .await;
    loop {
        let f = v.recv().await;
        if (f["type"] == "sent" || f["type"] == "error") && f["client_id"] == client_id {
            return f;
        }
    }
}

async fn stored(app: &TestApp, welcome: &Value) -> usize {
    let id: ConversationId = welcome["conversation_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    app.store.messages_after(id, 0, 10_000).await.unwrap().len()
}

#[tokio::test]
async fn past_the_message_budget_sends_are_refused_and_nothing_is_stored_until_matched() {
    let d = tsunagu::config::Settings::default().limits;
    assert_eq!(
        (
            d.waiting_messages_per_conversation,
            d.waiting_bytes_per_conversation
        ),
        (30, 32 * 1024),
        "the documented defaults"
    );
    let app = spawn_app_with(|s| {
        s.limits.waiting_messages_per_conversation = 5;
        s.limits.waiting_bytes_per_conversation = d.waiting_bytes_per_conversation;
    })
    .await;
    let (mut v, welcome) = app
        .start_visitor(json!({"type": "start", "first_message": "聞いてほしいことがあります"}))
        .await;
    let (mut sent, mut refused) = (0, 0);
    for i in 0..10 {
        let f = send(
            &mut v,
            &format!("w{i}"),
            &format!("待っている間のメッセージ {i}"),
        )
        .await;
        match f["type"].as_str() {
            Some("sent") => sent += 1,
            _ => {
                assert_eq!(f["code"], "waiting_budget_spent", "{f}");
                refused += 1;
            }
        }
    }
    let kept = stored(&app, &welcome).await;
    // A resend of a stored message is answered as before.
    let again = send(&mut v, "w0", "待っている間のメッセージ 0").await;
    let mut c = app.counsellor("budgetc").await;
    c.available(1).await;
    wait_matched(&mut v, &welcome).await;
    let after = send(&mut v, "after", "つながりました").await;
    println!(
        "store {}: first message + 10 sends while waiting (budget 5) -> {sent} sent, {refused} waiting_budget_spent; {kept} stored; resend of w0 -> {}; after matching -> {}",
        app.state.store_kind,
        again["type"],
        after["type"]
    );
    assert_eq!((sent, refused), (4, 6));
    assert_eq!(kept, 5, "the refused sends stored nothing");
    assert_eq!(again["type"], "sent");
    assert_eq!(again["seq"], 2);
    assert_eq!(after["type"], "sent", "matched: no budget");
}

#[tokio::test]
async fn past_the_byte_budget_sends_are_refused() {
    let app = spawn_app_with(|s| {
        s.limits.waiting_messages_per_conversation = 30;
        s.limits.waiting_bytes_per_conversation = 5_000;
    })
    .await;
    let (mut v, welcome) = app.start_visitor(json!({"type": "start"})).await;
    let long = "あ".repeat(1000); // 3,000 bytes
    let first = send(&mut v, "b1", &long).await;
    let second = send(&mut v, "b2", &long).await;
    let short = send(&mut v, "b3", &"a".repeat(1000)).await;
    let kept = stored(&app, &welcome).await;
    println!(
        "store {}: byte budget 5000: 3000 bytes -> {}, 3000 more -> {} {}, 1000 more -> {}; {kept} stored",
        app.state.store_kind,
        first["type"],
        second["type"],
        second["code"],
        short["type"]
    );
    assert_eq!(first["type"], "sent");
    assert_eq!(second["code"], "waiting_budget_spent");
    assert_eq!(short["type"], "sent", "what fits still goes");
    assert_eq!(kept, 2);
}
