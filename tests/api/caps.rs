//! What one client address may hold at once (issue 18): visitor sockets
//! per address on a node, conversations waiting per address (counted in
//! the store, for every node), and a socket that never says `start` or
//! `resume` is closed. Addresses are presented with `X-Forwarded-For`
//! from a trusted balancer; IPv6 counts by /64.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use tsunagu::config::Settings;

use crate::helpers::*;

/// Documented defaults.
const SOCKETS: u32 = 8;
const WAITING: u32 = 3;

/// The documented caps (the harness lifts them for other tests).
fn behind_balancer(s: &mut Settings) {
    s.trust_forwarded_for = true;
    let d = Settings::default().limits;
    assert_eq!(
        (d.sockets_per_address, d.waiting_per_address),
        (SOCKETS, WAITING),
        "the documented defaults"
    );
    s.limits.sockets_per_address = SOCKETS;
    s.limits.waiting_per_address = WAITING;
}

async fn visitor_from(app: &TestApp, from: &str) -> Result<Ws, Refused> {
    Ws::connect(&app.addr, "/ws/visitor", &[("x-forwarded-for", from)]).await
}

/// `start` from `from`: the welcome, or the error frame. The socket cap
/// (8) is not what these tests count: a socket the previous round closed
/// may not be given back yet on a loaded machine, so a refused upgrade is
/// tried again for up to 2 s.
async fn start_from(app: &TestApp, from: &str) -> (Ws, Value) {
    let mut tries = 0;
    let mut ws = loop {
        match visitor_from(app, from).await {
            Ok(ws) => break ws,
            Err(_) if tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("the socket opens: {e:?}"),
        }
    };
    ws.send(json!({"type": "start"})).await;
    loop {
        let v = ws.recv().await;
        if v["type"] == "welcome" || v["type"] == "error" {
            return (ws, v);
        }
    }
}

#[tokio::test]
async fn one_address_holds_at_most_its_waiting_places_and_another_is_still_matched() {
    let app = spawn_app_with(behind_balancer).await;
    let flooder = "10.6.0.1";
    let mut waiting = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..10 {
        let (mut ws, v) = start_from(&app, flooder).await;
        if v["type"] == "welcome" {
            waiting.push((ws, v));
        } else {
            assert_eq!(v["code"], "too_many_waiting", "{v}");
            refused.push(v);
            // Hang up cleanly and wait for the server's answer, so that
            // this socket no longer counts against the address.
            ws.send_raw(tokio_tungstenite::tungstenite::Message::Close(None))
                .await;
            let _ = ws.closed().await;
        }
    }
    // Another /64's addresses count on their own; one /64 counts once.
    let (mut other, welcome) = start_from(&app, "2001:db8:6:1::1").await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let (_same64, v64) = start_from(&app, "2001:db8:6:1::2").await;
    let (_b, _) = start_from(&app, "2001:db8:6:1::3").await;
    let (_c, over64) = start_from(&app, "2001:db8:6:1:ffff::9").await;
    // Nothing changed for the refused: the queue holds the placed only.
    let queue = app.store.queue().await.unwrap().len();
    let mut c = app.counsellor("capcouns").await;
    c.available(8).await;
    let counsellor = wait_matched(&mut other, &welcome).await;
    println!(
        "store {}: one address tried 10 starts -> {} waiting, {} too_many_waiting; the /64 -> {} then {}; queue {queue}; the other address's visitor matched with {counsellor}",
        app.state.store_kind,
        waiting.len(),
        refused.len(),
        v64["type"],
        over64["code"]
    );
    assert_eq!(waiting.len(), WAITING as usize);
    assert_eq!(refused.len(), 10 - WAITING as usize);
    assert_eq!(v64["type"], "welcome");
    assert_eq!(over64["code"], "too_many_waiting");
    assert_eq!(queue, 2 * WAITING as usize);
    // Matched, the flooder's conversations no longer wait: places free.
    for (ws, w) in waiting.iter_mut() {
        wait_matched(ws, w).await;
    }
    let (_again, v) = start_from(&app, flooder).await;
    assert_eq!(v["type"], "welcome", "a place is free once matched: {v}");
}

#[tokio::test]
async fn visitor_sockets_per_address_are_capped_and_given_back_on_close() {
    let app = spawn_app_with(behind_balancer).await;
    let mut open = Vec::new();
    let mut refused = 0;
    for _ in 0..SOCKETS + 4 {
        match visitor_from(&app, "10.6.1.1").await {
            Ok(ws) => open.push(ws),
            Err(r) => {
                assert_eq!(
                    (r.status, r.body["code"].as_str()),
                    (429, Some("too_many_sockets"))
                );
                refused += 1;
            }
        }
    }
    let other = visitor_from(&app, "10.6.1.2").await;
    println!(
        "store {}: {} sockets from one address -> {} open, {refused} refused too_many_sockets; another address -> {}",
        app.state.store_kind,
        SOCKETS + 4,
        open.len(),
        if other.is_ok() { "open" } else { "refused" }
    );
    assert_eq!(open.len(), SOCKETS as usize);
    assert_eq!(refused, 4);
    assert!(other.is_ok());
    // Closing one gives its place back.
    let mut first = open.remove(0);
    first
        .send_raw(tokio_tungstenite::tungstenite::Message::Close(None))
        .await;
    drop(first);
    eventually("a closed socket's place is given back", || async {
        visitor_from(&app, "10.6.1.1").await.is_ok()
    })
    .await;
}

#[tokio::test]
async fn a_socket_that_never_starts_is_closed_with_start_timeout() {
    let app = spawn_app_with(|s| {
        s.timing.start_timeout_ms = 600;
    })
    .await;
    let opened = Instant::now();
    let mut silent = app.visitor().await;
    let (mut started, _) = app.start_visitor(json!({"type": "start"})).await;
    let closed = silent.closed_with_reason().await;
    let after = opened.elapsed();
    // The started one stays open past the deadline.
    tokio::time::sleep(Duration::from_millis(300)).await;
    started.send(json!({"type": "typing"})).await;
    let still = started.next_within(Duration::from_millis(300)).await;
    println!(
        "store {}: a socket without start closed after {} ms with {closed:?}; a started socket then -> {}",
        app.state.store_kind,
        after.as_millis(),
        if still.is_err() || matches!(still, Ok(Some(_))) { "open" } else { "closed" }
    );
    assert_eq!(closed, Some((1008, "start_timeout".to_owned())));
    assert!(after >= Duration::from_millis(600) && after < Duration::from_secs(5));
    assert!(!matches!(still, Ok(None)), "the started socket stays open");
}

#[tokio::test]
async fn two_nodes_on_one_redis_share_the_waiting_places() {
    let prefix = unique_prefix();
    let on = |p: String| {
        move |s: &mut Settings| {
            behind_balancer(s);
            s.redis_url = Some(tsunagu::config::Secret::new(test_redis_url()));
            s.redis_prefix = p;
        }
    };
    let a = spawn_app_with(on(prefix.clone())).await;
    let b = spawn_app_with(on(prefix.clone())).await;
    let from = "10.6.2.1";
    let mut kinds = Vec::new();
    let mut keep = Vec::new();
    for i in 0..WAITING + 2 {
        let node = if i % 2 == 0 { &a } else { &b };
        let (ws, v) = start_from(node, from).await;
        kinds.push(if v["type"] == "welcome" {
            "welcome".to_owned()
        } else {
            v["code"].as_str().unwrap_or("?").to_owned()
        });
        keep.push(ws);
    }
    println!("2 nodes on one Redis: starts from one address alternating A/B -> {kinds:?}");
    let mut expected = vec!["welcome".to_owned(); WAITING as usize];
    expected.extend(["too_many_waiting".to_owned(), "too_many_waiting".to_owned()]);
    assert_eq!(kinds, expected);
    drop(keep);
    drop((a, b));
    purge_blocking(&test_redis_url(), &prefix);
}
