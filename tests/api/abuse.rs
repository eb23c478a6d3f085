//! Abuse resistance (promise 8: one person cannot take the service away
//! from everyone else), over real HTTP: what a response tells a browser to
//! keep or allow, and how long one request may hold a connection.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use tsunagu::model::Role;

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn every_response_limits_the_browser_and_api_answers_are_never_stored() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    for path in ["/", "/api/info", "/api/me", "/api/no-such-thing"] {
        let r = client.get(app.url(path)).send().await.unwrap();
        let policy = r
            .headers()
            .get("permissions-policy")
            .map(|v| v.to_str().unwrap().to_owned());
        assert!(
            policy
                .as_deref()
                .is_some_and(|p| p.contains("camera=()") && p.contains("geolocation=()")),
            "{path}: {policy:?}"
        );
        assert!(
            r.headers().get("strict-transport-security").is_none(),
            "{path}: HSTS is opt-in"
        );
        let cache = r
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap().to_owned());
        if path.starts_with("/api/") {
            assert_eq!(cache.as_deref(), Some("no-store"), "{path}");
        }
    }
    // A refused login and a refused staff request are not kept either.
    let r = client
        .post(app.url("/api/login"))
        .json(&serde_json::json!({"username": "nobody", "password": "wrong-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn hsts_is_sent_when_the_deployment_turns_it_on() {
    let app = spawn_app_with(|s| {
        s.cookie_secure = true;
        s.hsts_max_age_secs = 31_536_000;
    })
    .await;
    let r = reqwest::get(app.url("/api/info")).await.unwrap();
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
}

/// `Content-Length: 10000`, then one byte every 200 ms: without a time-out
/// this held the connection for the whole 2,000 s the body would take.
#[tokio::test]
async fn a_body_trickled_in_is_cut_off_within_the_time_out() {
    let app = spawn_app_with(|s| s.timing.http_request_timeout_ms = 1_000).await;
    let mut stream = TcpStream::connect(&app.addr).await.unwrap();
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 10000\r\n\r\n{{",
        app.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while started.elapsed() < Duration::from_secs(20) {
        tokio::select! {
            n = stream.read(&mut buf) => {
                let n = n.unwrap_or(0);
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                if stream.write_all(b" ").await.is_err() {
                    break;
                }
            }
        }
    }
    let took = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    println!(
        "slow body: answered after {took:?}: {:?}",
        answer.lines().next()
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

/// Display names are shown to visitors: a line break or a NUL in one was
/// stored as it came.
#[tokio::test]
async fn a_display_name_with_control_characters_is_refused_and_nothing_is_created() {
    let app = spawn_app().await;
    app.add_account("admin1", "管理者", Role::Admin).await;
    let cookie = app.login("admin1").await;
    let client = reqwest::Client::new();
    let create = |name: &'static str, display: &'static str| {
        client
            .post(app.url("/api/accounts"))
            .header("cookie", &cookie)
            .json(&serde_json::json!({
                "username": name,
                "display_name": display,
                "role": "counsellor",
                "password": "long enough password",
            }))
            .send()
    };
    for (name, display) in [("bad.one", "a\r\nb\u{0}"), ("bad.two", "青木\u{202E}")] {
        let r = create(name, display).await.unwrap();
        assert_eq!(r.status(), 400, "{display:?}");
        let (_, body) = crate::helpers::read_answer(&reqwest::Method::POST, r).await;
        assert_eq!(body["code"], "bad_request");
    }
    let r = create("good.one", "青木").await.unwrap();
    assert_eq!(r.status(), 201);
    let list: serde_json::Value = client
        .get(app.url("/api/accounts"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"good.one") && !names.iter().any(|n| n.starts_with("bad.")),
        "{names:?}"
    );
}
