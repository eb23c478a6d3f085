//! Time-based rules: grace periods, heartbeats, manual picking, the binary.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_queued_visitor_who_stays_away_past_the_grace_period_leaves_the_queue() {
    let app = spawn_app_with(|s| s.timing.visitor_grace_secs = 1).await;
    let (v, w) = app.start_visitor(json!({"type": "start"})).await;
    let conv: tsunagu::core::ids::ConversationId =
        w["conversation_id"].as_str().unwrap().parse().unwrap();
    let token = w["resume_token"].as_str().unwrap().to_owned();
    let store = app.store.clone();

    // A short drop is forgiven: resume within the grace period keeps the place.
    v.drop_connection();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut v = app.visitor().await;
    v.send(json!({"type": "resume", "conversation_id": conv.to_string(), "token": token}))
        .await;
    assert_eq!(v.recv_type("welcome").await["state"], "queued");
    assert_eq!(v.recv_type("queue").await["position"], 1);

    v.drop_connection();
    eventually("the conversation ends", || async {
        store
            .conversation(conv)
            .await
            .unwrap()
            .unwrap()
            .state
            .name()
            == "ended"
    })
    .await;
    let rec = store.conversation(conv).await.unwrap().unwrap();
    assert_eq!(
        rec.ended_by,
        Some(tsunagu::core::conversation::EndedBy::System)
    );
    assert!(store.queue().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_counsellor_away_past_the_grace_period_has_their_visitors_requeued_at_the_front() {
    let app = spawn_app_with(|s| s.timing.counsellor_grace_secs = 1).await;
    let mut first = app.counsellor("first").await;
    first.available(1).await;
    let (mut v1, w1) = app
        .start_visitor(json!({"type": "start", "first_message": "最初の相談"}))
        .await;
    wait_matched(&mut v1, &w1).await;
    first.ws.recv_type("assigned").await;
    let conv1 = w1["conversation_id"].as_str().unwrap().to_owned();
    let (_v2, w2) = app.start_visitor(json!({"type": "start"})).await;
    let (_v3, _w3) = app.start_visitor(json!({"type": "start"})).await;

    first.ws.drop_connection();
    let store = app.store.clone();
    eventually("visitor 1 is back in the queue", || async {
        store
            .queue()
            .await
            .unwrap()
            .first()
            .map(|r| r.id.to_string())
            == Some(conv1.clone())
    })
    .await;
    let queue = store.queue().await.unwrap();
    assert_eq!(queue.len(), 3);
    assert_eq!(
        queue[0].id.to_string(),
        conv1,
        "at the front, ahead of earlier-waiting visitors"
    );
    assert_eq!(
        queue[1].id.to_string(),
        w2["conversation_id"].as_str().unwrap()
    );
    assert!(queue[0].requeued);

    // The visitor hears nothing alarming, just their place again; then a
    // new counsellor takes them first, with the whole history.
    assert_eq!(v1.recv_type("queue").await["position"], 1);
    let mut second = app.counsellor("second").await;
    second.available(1).await;
    assert_eq!(v1.recv_type("matched").await["counsellor"], "second-san");
    let a = second.ws.recv_type("assigned").await;
    assert_eq!(a["conversation"]["conversation_id"], conv1);
    let m = second.ws.recv_type("message").await;
    assert_eq!(m["text"], "最初の相談");
    let c = store.counsellors().await.unwrap();
    assert!(c.iter().all(|c| c.active <= 1));
}

#[tokio::test]
async fn a_dead_socket_is_detected_by_heartbeats() {
    let app = spawn_app_with(|s| {
        s.timing.heartbeat_interval_ms = 100;
        s.timing.client_timeout_ms = 400;
    })
    .await;
    let mut c = app.counsellor("watcher").await;
    c.available(1).await;
    let (mut v, w) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut v, &w).await;
    c.ws.recv_type("assigned").await;
    // The visitor's phone goes silent: no frames, no pongs (we stop reading).
    let silent = v;
    loop {
        // (An earlier `presence: online` may come first.)
        if c.ws.recv_type("presence").await["visitor_online"] == false {
            break;
        }
    }
    let conv: tsunagu::core::ids::ConversationId =
        w["conversation_id"].as_str().unwrap().parse().unwrap();
    let rec = app.store.conversation(conv).await.unwrap().unwrap();
    assert_eq!(rec.visitor_connections, 0);
    drop(silent);
}

#[tokio::test]
async fn in_manual_mode_counsellors_pick_and_a_visitor_is_picked_once() {
    let app = spawn_app_with(|s| s.matching = tsunagu::model::MatchingMode::Manual).await;
    let mut a = app.counsellor("picker-a").await;
    let mut b = app.counsellor("picker-b").await;
    assert_eq!(a.welcome["matching"], "manual");
    a.available(2).await;
    b.available(2).await;
    let (mut v, w) = app
        .start_visitor(json!({"type": "start", "first_message": "選んでください"}))
        .await;
    let conv = w["conversation_id"].as_str().unwrap().to_owned();
    // Nobody is assigned automatically; both see the visitor in the queue.
    let q = loop {
        let q = a.ws.recv_type("queue").await;
        if q["queue_length"] == 1 {
            break q;
        }
    };
    assert_eq!(q["entries"][0]["first_message"], "選んでください");
    a.ws.send(json!({"type": "pick", "conversation_id": conv}))
        .await;
    b.ws.send(json!({"type": "pick", "conversation_id": conv}))
        .await;
    // Both picked at once: exactly one wins (either may, the sockets race),
    // the other is told the visitor is no longer waiting.
    let outcome = |mut ws: Ws| async move {
        loop {
            let f = ws.recv().await;
            match f["type"].as_str() {
                Some("assigned") => return (true, ws),
                Some("error") => {
                    assert_eq!(f["code"], "not_waiting", "{f}");
                    return (false, ws);
                }
                _ => {}
            }
        }
    };
    let ((a_won, _a), (b_won, _b)) = tokio::join!(outcome(a.ws), outcome(b.ws));
    assert!(
        a_won ^ b_won,
        "exactly one pick wins (a: {a_won}, b: {b_won})"
    );
    let winner = if a_won {
        "picker-a-san"
    } else {
        "picker-b-san"
    };
    assert_eq!(v.recv_type("matched").await["counsellor"], winner);
}

#[tokio::test]
async fn the_binary_started_as_the_readme_says_serves_healthz() {
    // A free port, then the real `tsunagu` binary with nothing else running.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempdir();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tsunagu"))
        .env_clear()
        .env("TSUNAGU_BIND", format!("127.0.0.1:{port}"))
        .env("TSUNAGU_AUTH__SECOND_FACTOR_ROLES", "[]")
        // Opening hours are enforced by default; tests run at any hour.
        .env("TSUNAGU_HOURS__ALWAYS_OPEN", "true")
        .env("TSUNAGU_LIMITS__SOCKETS_PER_ADDRESS", "1000000")
        .env("TSUNAGU_LIMITS__WAITING_PER_ADDRESS", "1000000")
        .env(
            "TSUNAGU_LIMITS__WAITING_MESSAGES_PER_CONVERSATION",
            "1000000",
        )
        .env(
            "TSUNAGU_LIMITS__WAITING_BYTES_PER_CONVERSATION",
            "1000000000",
        )
        .env(
            "TSUNAGU_WEB_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/web"),
        )
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let mut ok = false;
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(&url).await {
            ok = r.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .unwrap();
    let (_, body) = read_answer(&reqwest::Method::GET, ready).await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "/healthz answered 200");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["store"], "ok");
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tsunagu-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
