//! The empty-floor alert: with the hours open and every counsellor away it
//! fires after the configured time, reaches a supervisor's console and a
//! loopback webhook receiver once (signature verified here), and clears
//! when a counsellor becomes available; never while closed; one per
//! episode across two nodes sharing a Redis.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tsunagu::config::{Secret, Settings};

use crate::handoff::{get, staff_cookie};
use crate::helpers::*;
use reqwest::StatusCode;
use tsunagu::model::Role;

const SECRET: &str = "floor-webhook-test-secret-0123";

/// One request the receiver got: its headers (lower-case names) and body,
/// and the status it answered.
#[derive(Clone, Debug)]
struct Got {
    headers: Vec<(String, String)>,
    body: String,
    status: u16,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// A loopback HTTP receiver: answers 500 to the first `fail_first`
/// requests, 200 after.
struct Receiver {
    addr: String,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    async fn start(fail_first: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let seen = got.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let headers: Vec<(String, String)> = head
                        .lines()
                        .skip(1)
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                        .collect();
                    let len: usize = headers
                        .iter()
                        .find(|(n, _)| n == "content-length")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).to_string();
                    let status = {
                        let mut g = seen.lock().unwrap();
                        let status = if g.len() < fail_first { 500 } else { 200 };
                        g.push(Got {
                            headers,
                            body,
                            status,
                        });
                        status
                    };
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = sock.write_all(reply.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Receiver { addr, got }
    }

    fn url(&self) -> String {
        format!("http://{}/hooks/tsunagu", self.addr)
    }

    fn all(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// Requests answered 200 whose body has this `kind`.
    fn accepted(&self, kind: &str) -> Vec<Got> {
        self.all()
            .into_iter()
            .filter(|g| g.status == 200 && g.json()["kind"] == kind)
            .collect()
    }
}

/// Check `Tsunagu-Signature: t=..,v1=..` as a receiver would.
fn verify(g: &Got) {
    let sig = g.header("tsunagu-signature").expect("a signature header");
    let (t, v1) = sig
        .strip_prefix("t=")
        .and_then(|r| r.split_once(",v1="))
        .expect("t=...,v1=...");
    let t: u64 = t.parse().expect("t is unix seconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(t) < 300, "t is the time of sending");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", g.body).as_bytes());
    let want: Vec<u8> = (0..v1.len() / 2)
        .map(|i| u8::from_str_radix(&v1[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    mac.verify_slice(&want).expect("the signature verifies");
    // And a tampered body does not.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{} ", g.body).as_bytes());
    assert!(mac.verify_slice(&want).is_err());
    let body = g.json();
    assert_eq!(g.header("tsunagu-delivery"), body["id"].as_str());
}

/// The configured wait before an empty floor is raised in the test that
/// moves the app's clock: far longer than the test runs in real time, so
/// only advancing the clock can raise it.
const AFTER_SECS: u64 = 600;

fn alerting(s: &mut Settings, hook: &Receiver) {
    s.alerts.empty_floor_disabled = false;
    s.alerts.empty_floor_after_secs = 1;
    s.alerts.webhook_url = Some(hook.url());
    s.alerts.webhook_secret = Some(Secret::new(SECRET));
    s.alerts.webhook_retry_base_ms = 100;
}

/// The episode as the supervisor's console first shows it: in the welcome
/// when it was raised before the socket opened (a slow machine), else
/// the `floor_alert` frame.
async fn first_floor_alert(sup: &mut Counsellor) -> Value {
    match sup.welcome["floor_alerts"]
        .as_array()
        .and_then(|a| a.first())
    {
        Some(a) => a.clone(),
        None => sup.ws.recv_type("floor_alert").await["alert"].clone(),
    }
}

async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} in /metrics"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn empty_floor_alert_fires_once_reaches_console_and_webhook_then_clears() {
    // The receiver refuses the first attempt: the retry carries the same id.
    let hook = Receiver::start(1).await;
    let app = spawn_app_with(|s| {
        alerting(s, &hook);
        s.alerts.empty_floor_after_secs = AFTER_SECS;
    })
    .await;
    let start = app.clock().now_ms();
    let mut sup = app.supervisor("floor-sup").await;
    assert_eq!(sup.welcome["status"], "away");
    assert_eq!(sup.welcome["floor_alerts"], json!([]));

    // The floor has been empty for a while in real time (many watch
    // steps), but not for the configured wait by the app's clock: nothing.
    let early = sup.ws.drain(Duration::from_millis(400)).await;
    assert!(
        early.iter().all(|f| f["type"] != "floor_alert"),
        "{early:?}"
    );
    assert_eq!(metric(&app, "tsunagu_empty_floor").await, 0.0);
    assert!(hook.all().is_empty());
    // Just short of it: still nothing.
    app.clock()
        .advance(Duration::from_secs(AFTER_SECS) - Duration::from_secs(5));
    let early = sup.ws.drain(Duration::from_millis(300)).await;
    assert!(
        early.iter().all(|f| f["type"] != "floor_alert"),
        "{early:?}"
    );
    // Past it: raised.
    app.clock().advance(Duration::from_secs(10));

    let raised = first_floor_alert(&mut sup).await;
    let alert = &raised;
    let id = alert["alert_id"].as_str().unwrap().to_owned();
    assert_eq!(alert["cause"], "no_counsellor");
    assert!(alert.get("cleared_at").is_none());
    let (since, at) = (
        alert["since"].as_u64().unwrap(),
        alert["raised_at"].as_u64().unwrap(),
    );
    assert!(
        since >= start - 1_000 && at >= since + AFTER_SECS * 1_000,
        "after the configured wait, by the app's clock: {alert}"
    );
    assert!(
        at >= start + AFTER_SECS * 1_000,
        "raised_at is the app's clock: {alert}"
    );
    assert_eq!(metric(&app, "tsunagu_empty_floor").await, 1.0);

    // An admin (no console) reads it from `GET /api/floor`, with how long
    // the floor has been uncovered by the app's clock.
    let admin = staff_cookie(&app, "floor-admin", Role::Admin).await;
    let (status, floor) = get(&app, "/api/floor", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{floor}");
    assert_eq!(floor["open"], true);
    assert_eq!(floor["available"], 0);
    assert_eq!(floor["watching"], true);
    assert_eq!(floor["empty_floor_after_secs"], AFTER_SECS);
    assert_eq!(floor["current"]["alert_id"], id.as_str());
    assert_eq!(floor["episodes"].as_array().unwrap().len(), 1);
    assert_eq!(floor["episodes"][0]["alert_id"], id.as_str());
    let open_for = floor["current"]["duration_ms"].as_u64().unwrap();
    assert!(open_for >= AFTER_SECS * 1_000, "{floor}");
    assert!(floor["at"].as_u64().unwrap() >= at, "{floor}");

    // A supervisor connecting now finds it in the welcome.
    let other = app.supervisor("floor-sup2").await;
    assert_eq!(other.welcome["floor_alerts"][0]["alert_id"], id.as_str());

    eventually("the raise reaches the receiver", || async {
        hook.accepted("empty_floor.raised").len() == 1
    })
    .await;
    let first = hook.all();
    assert_eq!(first[0].status, 500, "the first attempt was refused");
    for g in &first {
        verify(g);
    }
    let delivered = &hook.accepted("empty_floor.raised")[0];
    assert_eq!(
        delivered.json()["id"],
        first[0].json()["id"],
        "the retry has the same id"
    );
    let body = delivered.json();
    assert_eq!(body["episode"], id.as_str());
    assert_eq!(body["cause"], "no_counsellor");
    assert_eq!(body["waiting"], 0);
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["cause", "centre", "episode", "id", "kind", "since", "waiting"]
    );

    // Still nobody: raised once per episode, on the console and the hook.
    let more = sup.ws.drain(Duration::from_millis(1_500)).await;
    assert!(more.iter().all(|f| f["type"] != "floor_alert"), "{more:?}");
    assert_eq!(hook.accepted("empty_floor.raised").len(), 1);
    assert_eq!(hook.all().len(), 2);

    // A counsellor becomes available: cleared, shown and sent.
    let mut c = app.counsellor("floor-c").await;
    c.available(1).await;
    let cleared = sup.ws.recv_type("floor_alert").await;
    assert_eq!(cleared["alert"]["alert_id"], id.as_str());
    assert_eq!(cleared["alert"]["cleared"], "counsellor_available");
    assert!(cleared["alert"]["cleared_at"].as_u64().unwrap() >= at);
    eventually("the clear reaches the receiver", || async {
        hook.accepted("empty_floor.cleared").len() == 1
    })
    .await;
    let clear = &hook.accepted("empty_floor.cleared")[0];
    verify(clear);
    assert_eq!(clear.json()["episode"], id.as_str());
    assert_eq!(clear.json()["cleared"], "counsellor_available");
    assert_eq!(metric(&app, "tsunagu_empty_floor").await, 0.0);
    assert_eq!(
        metric(&app, "tsunagu_empty_floor_episodes_total").await,
        1.0
    );
    // The floor view: nothing current, the episode cleared with its
    // duration (since to cleared_at), for admins and supervisors only.
    app.clock().advance(Duration::from_secs(3_600));
    let (status, floor) = get(&app, "/api/floor", Some(&sup.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{floor}");
    assert!(floor.get("current").is_none(), "{floor}");
    assert_eq!(floor["available"], 1);
    let episode = &floor["episodes"][0];
    assert_eq!(episode["cleared"], "counsellor_available");
    assert_eq!(
        episode["duration_ms"].as_u64().unwrap(),
        episode["cleared_at"].as_u64().unwrap() - since,
        "a cleared episode stops counting: {episode}"
    );
    assert_eq!(
        get(&app, "/api/floor", Some(&c.cookie)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&app, "/api/floor", None).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Still shown until acknowledged; the acknowledgement reaches everyone.
    sup.ws
        .send(json!({"type": "ack_alert", "alert_id": id}))
        .await;
    let acked = sup.ws.recv_type("floor_alert").await;
    assert_eq!(acked["alert"]["acked_by"], sup.id.to_string());
    let later = app.supervisor("floor-sup3").await;
    assert_eq!(later.welcome["floor_alerts"], json!([]));

    // Nothing more went out.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hook.all().len(), 3, "{:?}", hook.all());
}

#[tokio::test]
async fn no_alert_while_closed_and_counsellors_cannot_ack() {
    let hook = Receiver::start(0).await;
    let app = spawn_app_with(|s| {
        alerting(s, &hook);
        // Open on no day at all: closed now, whenever the test runs.
        s.hours.always_open = false;
        s.hours.weekly = Vec::new();
    })
    .await;
    let mut sup = app.supervisor("floor-closed-sup").await;
    let frames = sup.ws.drain(Duration::from_millis(2_500)).await;
    assert!(
        frames.iter().all(|f| f["type"] != "floor_alert"),
        "{frames:?}"
    );
    assert!(hook.all().is_empty());
    assert_eq!(metric(&app, "tsunagu_empty_floor").await, 0.0);

    // An unknown id is refused and changes nothing; a counsellor may not ack.
    sup.ws
        .send(json!({"type": "ack_alert", "alert_id": uuid::Uuid::new_v4()}))
        .await;
    sup.ws.expect_error("invalid_message").await;
    let mut c = app.counsellor("floor-closed-c").await;
    c.ws.send(json!({"type": "ack_alert", "alert_id": uuid::Uuid::new_v4()}))
        .await;
    c.ws.expect_error("forbidden").await;
}

/// Two nodes on one Redis prefix, both watching the same empty floor: one
/// episode, one delivery.
#[tokio::test]
async fn two_nodes_raise_one_episode_and_send_one_webhook() {
    let hook = Receiver::start(0).await;
    let prefix = unique_prefix();
    let url = test_redis_url();
    let on_redis = |s: &mut Settings| {
        alerting(s, &hook);
        s.store = tsunagu::config::StoreMode::Memory;
        s.redis_url = Some(Secret::new(url.clone()));
        s.redis_prefix = prefix.clone();
    };
    let a = spawn_app_with(on_redis).await;
    let b = spawn_app_with(on_redis).await;
    let mut sup_a = a.supervisor("floor-node-a").await;
    let mut sup_b = b.supervisor("floor-node-b").await;
    let ra = first_floor_alert(&mut sup_a).await;
    let rb = first_floor_alert(&mut sup_b).await;
    assert_eq!(ra["alert_id"], rb["alert_id"]);
    eventually("the raise reaches the receiver", || async {
        !hook.accepted("empty_floor.raised").is_empty()
    })
    .await;
    let more = sup_a.ws.drain(Duration::from_millis(1_500)).await;
    assert!(more.iter().all(|f| f["type"] != "floor_alert"), "{more:?}");
    assert_eq!(hook.all().len(), 1, "one delivery for the deployment");
    verify(&hook.all()[0]);
    let episodes = metric(&a, "tsunagu_empty_floor_episodes_total").await
        + metric(&b, "tsunagu_empty_floor_episodes_total").await;
    assert_eq!(episodes, 1.0, "one node raised it");
    drop((a, b));
    purge_blocking(&url, &prefix);
}

/// The durable store keeps the episode and its undelivered webhook across
/// a restart (at least once: the delivery is tried again after it).
#[tokio::test]
async fn the_episode_and_its_undelivered_webhook_survive_a_restart_of_the_durable_store() {
    use tsunagu::core::floor::{FloorCause, FloorCleared};
    use tsunagu::core::ids::{AccountId, AlertId};
    use tsunagu::core::queue::QueuePolicy;
    use tsunagu::model::{FloorAlert, FloorChange};
    use tsunagu::store::{FloorStore, NodeStore};

    let dir = TempDir::new("floor-restart");
    let open = |dir: &std::path::Path| {
        tsunagu::store::embedded::open(dir, 1_000, QueuePolicy::default())
            .unwrap()
            .0
    };
    let now = 10_000_000;
    let (id, delivery, sup) = (
        AlertId::new_random(),
        uuid::Uuid::new_v4(),
        AccountId::new_random(),
    );
    {
        let s = open(dir.path());
        let alert = FloorAlert {
            id,
            cause: FloorCause::NoCounsellor,
            since_ms: now - 120_000,
            raised_at_ms: now,
            waiting: 3,
            cleared_at_ms: None,
            cleared: None,
            acked_by: None,
            acked_at_ms: None,
        };
        s.raise_floor(alert, Some(delivery), now)
            .await
            .unwrap()
            .unwrap();
        // One failed attempt before the restart.
        let (w, _) = s.claim_floor_webhook(now, 5_000).await.unwrap().unwrap();
        s.floor_webhook_done(w.id, Some(now + 1_000)).await.unwrap();
        s.ack_floor(id, sup, now + 10).await.unwrap();
        s.close().await.unwrap();
    }
    let s = open(dir.path());
    let open_now = s
        .open_floor()
        .await
        .unwrap()
        .expect("still raised after the restart");
    assert_eq!(
        (open_now.id, open_now.waiting, open_now.acked_by),
        (id, 3, Some(sup))
    );
    assert!(
        s.raise_floor(
            FloorAlert {
                id: AlertId::new_random(),
                ..open_now.clone()
            },
            None,
            now
        )
        .await
        .unwrap()
        .is_none(),
        "still one episode"
    );
    assert!(
        s.claim_floor_webhook(now + 999, 5_000)
            .await
            .unwrap()
            .is_none(),
        "its retry time kept"
    );
    let (w, a) = s
        .claim_floor_webhook(now + 1_000, 5_000)
        .await
        .unwrap()
        .expect("the delivery survived");
    assert_eq!(
        (w.id, w.change, w.attempts, a.id),
        (delivery, FloorChange::Raised, 2, id)
    );
    s.floor_webhook_done(w.id, None).await.unwrap();
    s.clear_floor(id, FloorCleared::CounsellorAvailable, None, now + 2_000)
        .await
        .unwrap()
        .unwrap();
    s.close().await.unwrap();
    let s = open(dir.path());
    assert!(s.open_floor().await.unwrap().is_none());
    assert!(
        s.claim_floor_webhook(now + 99_000, 5_000)
            .await
            .unwrap()
            .is_none(),
        "delivered means gone"
    );
    assert_eq!(
        s.floor_alerts(false).await.unwrap()[0].cleared,
        Some(FloorCleared::CounsellorAvailable)
    );
    s.close().await.unwrap();
}
