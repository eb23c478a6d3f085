//! LINE (issue 18): no lock is held across a network call. With the
//! Messaging API slow (every call answered only after 3 s), new LINE users
//! get their conversations opened at once, without waiting on each other's
//! welcome; each welcome is then sent on its own.

use std::time::{Duration, Instant};

use crate::line::{line_app, say, user_id};

const DELAY_MS: u64 = 3_000;
const USERS: usize = 4;

#[tokio::test]
async fn new_line_users_do_not_wait_on_each_others_welcome() {
    let (line, app) = line_app().await;
    line.slow_down(DELAY_MS);
    let users: Vec<String> = (0..USERS).map(|_| user_id()).collect();
    let t0 = Instant::now();
    for (i, u) in users.iter().enumerate() {
        assert_eq!(
            say(&app, u, &format!("01LOCK{i}"), "はじめまして", false).await,
            200
        );
    }
    // Each user's conversation: when it was open, from the first webhook.
    let mut opened = [None; USERS];
    while opened.iter().any(Option::is_none) && t0.elapsed() < Duration::from_secs(30) {
        for (i, u) in users.iter().enumerate() {
            if opened[i].is_none() && app.store.line_conversation_of(u).await.unwrap().is_some() {
                opened[i] = Some(t0.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let last = opened
        .iter()
        .map(|o| o.expect("every user gets a conversation"))
        .max()
        .unwrap();
    // The welcomes reach the (slow) API, one each, side by side.
    let mut welcomed = 0;
    while t0.elapsed() < Duration::from_secs(30) {
        welcomed = line
            .received()
            .iter()
            .filter(|r| r.accepted && r.body.to_string().contains("受け付けました"))
            .count();
        if welcomed >= USERS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all_welcomed = t0.elapsed();
    println!(
        "store {}: LINE API answering after {DELAY_MS} ms; {USERS} new users: conversations open at {:?} (last {last:?}); {welcomed} welcomes delivered by {all_welcomed:?}",
        app.state.store_kind,
        opened.iter().map(|o| o.unwrap()).collect::<Vec<_>>(),
    );
    // With the lock held across the welcome, user k waited k × 3 s.
    assert!(
        last < Duration::from_millis(DELAY_MS * 2 / 3),
        "last opened at {last:?}"
    );
    assert!(welcomed >= USERS, "{welcomed} welcomes");
    assert!(
        all_welcomed < Duration::from_millis(DELAY_MS * 2),
        "{all_welcomed:?}"
    );
}
