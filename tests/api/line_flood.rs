//! LINE webhook abuse (issue 18): a flood of unsigned requests is refused
//! and counted in `/metrics`, nothing is stored, and the log gets at most
//! one line a minute (`telemetry::LogThrottle`, unit-tested); a replayed
//! or stale signed event changes nothing.

use std::time::Duration;

use serde_json::json;

use crate::line::{line_app, post_webhook, text_event};

#[tokio::test]
async fn two_hundred_unsigned_requests_are_refused_and_counted() {
    let (line, app) = line_app().await;
    let user = format!("U{}", uuid::Uuid::new_v4().simple());
    let mut refused = 0;
    for i in 0..200 {
        let events = vec![text_event(&user, &format!("01FLOOD{i}"), "偽物", false)];
        let sig = if i % 2 == 0 {
            Some("")
        } else {
            Some("bm90LXRoZS1zaWduYXR1cmU=")
        };
        if post_webhook(&app.addr, events, sig).await == 401 {
            refused += 1;
        }
    }
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted = metrics
        .lines()
        .find(|l| l.starts_with("tsunagu_refusals_total{code=\"invalid_signature\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    println!(
        "store {}: 200 unsigned or badly signed webhook requests -> {refused} refused 401, {counted} counted in /metrics",
        app.state.store_kind
    );
    assert_eq!(refused, 200);
    assert_eq!(counted, 200);
    assert_eq!(app.store.line_conversation_of(&user).await.unwrap(), None);
    assert!(line.received().is_empty());
}

/// The user's conversation, if one is open within `wait`.
async fn open_within(app: &crate::helpers::TestApp, user: &str, wait: Duration) -> bool {
    let until = std::time::Instant::now() + wait;
    loop {
        if app
            .store
            .line_conversation_of(user)
            .await
            .unwrap()
            .is_some()
        {
            return true;
        }
        if std::time::Instant::now() > until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_replayed_or_stale_signed_event_changes_nothing() {
    let (_line, app) = line_app().await;
    let user = format!("U{}", uuid::Uuid::new_v4().simple());
    let first = text_event(&user, "01RPLY1", "はじめまして", false);
    post_webhook(&app.addr, vec![first.clone()], None).await;
    assert!(open_within(&app, &user, Duration::from_secs(10)).await);
    // The user leaves: the conversation ends and the user is forgotten.
    let unfollow = json!({"type": "unfollow", "webhookEventId": "01RPLY2",
        "timestamp": tsunagu::clock::now_ms(), "source": {"type": "user", "userId": user}});
    post_webhook(&app.addr, vec![unfollow], None).await;
    let mut gone = false;
    for _ in 0..200 {
        if app
            .store
            .line_conversation_of(&user)
            .await
            .unwrap()
            .is_none()
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(gone, "unfollow forgets the user");
    // The first event, signed, replayed: no new conversation.
    post_webhook(&app.addr, vec![first], None).await;
    let replay_opened = open_within(&app, &user, Duration::from_millis(500)).await;
    // A new event id, but two hours old: ignored too.
    let mut stale = text_event(&user, "01RPLY3", "古い", false);
    stale["timestamp"] = json!(tsunagu::clock::now_ms() - 2 * 3600 * 1000);
    post_webhook(&app.addr, vec![stale], None).await;
    let stale_opened = open_within(&app, &user, Duration::from_millis(500)).await;
    // A fresh event still opens a conversation (the test can see one).
    post_webhook(
        &app.addr,
        vec![text_event(&user, "01RPLY4", "もう一度", false)],
        None,
    )
    .await;
    let fresh_opened = open_within(&app, &user, Duration::from_secs(10)).await;
    println!(
        "store {}: after unfollow, the first event replayed -> conversation opened {replay_opened}; a 2-hour-old event -> {stale_opened}; a fresh event -> {fresh_opened}",
        app.state.store_kind
    );
    assert!(!replay_opened, "a replayed event starts nothing");
    assert!(!stale_opened, "an event outside the window starts nothing");
    assert!(fresh_opened);
}
