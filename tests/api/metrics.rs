//! `/metrics`: Prometheus text, restricted access, real figures.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_count_what_happened() {
    let app = spawn_app_with(|s| s.limits.max_text_chars = 5).await;
    let mut c = app.counsellor("met1").await;
    c.available(1).await;
    let (mut v, w) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut v, &w).await;
    v.send(json!({"type": "send", "client_id": "a", "text": "hello"}))
        .await;
    v.recv_type("sent").await;
    v.send(json!({"type": "send", "client_id": "b", "text": "too long"}))
        .await;
    v.expect_error("text_too_long").await;
    let (_w2, _) = app.start_visitor(json!({"type": "start"})).await;
    let r = reqwest::get(app.url("/api/nope")).await.unwrap();
    assert_eq!(r.status(), 404);

    let r = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(r.status(), 200, "loopback may scrape without a token");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
            .rsplit_once(' ')
            .unwrap()
            .1
            .parse()
            .unwrap()
    };
    // Every sample line parses: name{labels} value, with HELP and TYPE.
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, v) = line.rsplit_once(' ').unwrap();
        assert!(name.starts_with("tsunagu_"), "{line}");
        assert!(v.parse::<f64>().is_ok(), "{line}");
    }
    assert_eq!(value("tsunagu_queue_length"), 1.0);
    assert_eq!(value("tsunagu_conversations_active"), 1.0);
    assert_eq!(value("tsunagu_messages_total"), 1.0);
    assert_eq!(value("tsunagu_conversations_started_total"), 2.0);
    assert_eq!(value("tsunagu_queue_wait_seconds_count"), 1.0);
    assert_eq!(value("tsunagu_counsellors{status=\"available\"}"), 1.0);
    assert_eq!(value("tsunagu_sockets{kind=\"visitor\"}"), 2.0);
    assert_eq!(value("tsunagu_refusals_total{code=\"text_too_long\"}"), 1.0);
    assert_eq!(value("tsunagu_refusals_total{code=\"not_found\"}"), 1.0);
    assert!(!text.contains("hello"), "no content in metrics");
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set() {
    let app =
        spawn_app_with(|s| s.metrics_token = Some(tsunagu::config::Secret::new("s3cret-token")))
            .await;
    let http = reqwest::Client::new();
    let r = http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["code"],
        "unauthorized"
    );
    let r = http
        .get(app.url("/metrics"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(app.url("/metrics"))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
