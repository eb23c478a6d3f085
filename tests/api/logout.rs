//! Logging out (issue 18): every session cookie sent is ended, the
//! session's open sockets close at once (1008), and with `cookie_secure`
//! the cookie is named `__Host-tsunagu_session`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tsunagu::model::Role;

use crate::helpers::*;

async fn login_cookie(app: &TestApp, username: &str) -> (String, String) {
    let r = reqwest::Client::new()
        .post(app.url("/api/login"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    (set.split(';').next().unwrap().to_owned(), set)
}

async fn me(app: &TestApp, cookie: &str) -> StatusCode {
    reqwest::Client::new()
        .get(app.url("/api/me"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
}

async fn logout(app: &TestApp, cookie: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/api/logout"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn logout_ends_every_session_cookie_it_is_sent() {
    let app = spawn_app().await;
    app.add_account("twocookies", "二つ", Role::Counsellor)
        .await;
    let (first, _) = login_cookie(&app, "twocookies").await;
    let (second, _) = login_cookie(&app, "twocookies").await;
    assert_eq!(
        (me(&app, &first).await, me(&app, &second).await),
        (StatusCode::OK, StatusCode::OK)
    );
    let r = logout(&app, &format!("{first}; {second}")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (a, b) = (me(&app, &first).await, me(&app, &second).await);
    println!(
        "store {}: logout sent two session cookies; then /api/me with the first -> {}, with the second -> {}",
        app.state.store_kind,
        a.as_u16(),
        b.as_u16()
    );
    assert_eq!((a, b), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
}

#[tokio::test]
async fn logout_closes_the_sessions_sockets_at_once() {
    // The default heartbeat (15 s): closing must not wait for it.
    let app = spawn_app().await;
    assert_eq!(app.state.settings.timing.heartbeat_interval_ms, 15_000);
    let c = app.counsellor("leaving").await;
    let mut ws = c.ws;
    // Another session of the same account stays.
    let (other, _) = login_cookie(&app, "leaving").await;
    let mut other_ws = Ws::connect(&app.addr, "/ws/counsellor", &[("cookie", &other)])
        .await
        .unwrap();
    other_ws.send(json!({"type": "hello"})).await;
    other_ws.recv_type("welcome").await;
    let t = Instant::now();
    assert_eq!(
        logout(&app, &c.cookie).await.status(),
        StatusCode::NO_CONTENT
    );
    let closed = tokio::time::timeout(Duration::from_secs(5), ws.closed_with_reason())
        .await
        .ok()
        .flatten();
    let ms = t.elapsed().as_millis();
    let other_open = other_ws.next_within(Duration::from_millis(300)).await;
    println!(
        "store {}: after logout the session's console socket closed in {ms} ms with {closed:?}; the account's other session -> {}",
        app.state.store_kind,
        if matches!(other_open, Ok(None)) { "closed" } else { "open" }
    );
    assert_eq!(
        closed,
        Some((1008, "session ended; log in again".to_owned()))
    );
    assert!(ms < 5_000);
    assert!(
        !matches!(other_open, Ok(None)),
        "another session is not logged out"
    );
}

#[tokio::test]
async fn with_cookie_secure_the_cookie_is_host_prefixed_and_accepted() {
    let app = spawn_app_with(|s| s.cookie_secure = true).await;
    app.add_account("hostcookie", "ホスト", Role::Counsellor)
        .await;
    let (cookie, set) = login_cookie(&app, "hostcookie").await;
    let status = me(&app, &cookie).await;
    let r = logout(&app, &cookie).await;
    let removed: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let after = me(&app, &cookie).await;
    println!(
        "cookie_secure: set-cookie {set:?}; /api/me -> {}; logout removes {removed:?}; then /api/me -> {}",
        status.as_u16(),
        after.as_u16()
    );
    assert!(cookie.starts_with("__Host-tsunagu_session="), "{set}");
    assert!(set.contains("Secure") && set.contains("Path=/") && !set.contains("Domain"));
    assert_eq!(status, StatusCode::OK);
    assert!(removed
        .iter()
        .any(|c| c.starts_with("__Host-tsunagu_session=")));
    assert_eq!(after, StatusCode::UNAUTHORIZED);
}
