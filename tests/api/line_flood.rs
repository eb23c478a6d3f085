//! A flood of unsigned LINE webhook requests (issue 18): every one is
//! refused and counted in `/metrics`, nothing is stored, and the log gets
//! at most one line a minute (`telemetry::LogThrottle`, unit-tested).

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
