//! Promise 3 under load: 50 visitors, 5 counsellors of capacity 2.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;

#[derive(Default)]
struct Ledger {
    /// conversation -> counsellors it was assigned to
    assigned: HashMap<String, Vec<String>>,
}

#[tokio::test]
async fn fifty_visitors_five_counsellors_capacity_never_exceeded_nobody_assigned_twice() {
    let app = Arc::new(spawn_app().await);
    const VISITORS: usize = 50;
    const COUNSELLORS: usize = 5;
    const CAPACITY: u32 = 2;
    let ledger = Arc::new(Mutex::new(Ledger::default()));

    // The server's own view, sampled all along: never above capacity.
    let done = Arc::new(AtomicBool::new(false));
    let store_max = Arc::new(AtomicU32::new(0));
    let poller = {
        let (app, done, store_max) = (app.clone(), done.clone(), store_max.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                for c in app.store.counsellors().await.unwrap() {
                    store_max.fetch_max(c.active, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    // Visitors arrive first and wait.
    let mut visitors = Vec::new();
    for i in 0..VISITORS {
        let app = app.clone();
        visitors.push(tokio::spawn(async move {
            let (mut v, w) = app
                .start_visitor(json!({"type": "start", "first_message": format!("visitor {i}")}))
                .await;
            let conv = w["conversation_id"].as_str().unwrap().to_owned();
            let (mut positions, mut matched) = (0, 0);
            if w["state"] == "active" {
                matched += 1;
            }
            // Queue updates keep a waiting socket busy, so the receive
            // time-out never fires: a liveness bound of its own, saying
            // where this visitor's conversation stands.
            let deadline = Instant::now() + Duration::from_secs(150);
            loop {
                if Instant::now() >= deadline {
                    let rec = app.store.conversation(conv.parse().unwrap()).await;
                    panic!("visitor {i} never saw `ended` (matched {matched}x): {rec:?}");
                }
                // Bounded below the socket helper's own time-out, so that a
                // stall says where this visitor's conversation stands.
                let Some(f) = v.recv_within(Duration::from_secs(25)).await else {
                    let rec = app.store.conversation(conv.parse().unwrap()).await;
                    panic!("visitor {i}: no frame for 25 s (matched {matched}x): {rec:?}");
                };
                match f["type"].as_str().unwrap() {
                    "queue" => positions += 1,
                    "matched" => matched += 1,
                    "ended" => break,
                    _ => {}
                }
            }
            (conv, positions, matched)
        }));
    }

    let mut counsellors = Vec::new();
    for k in 0..COUNSELLORS {
        let (app, ledger) = (app.clone(), ledger.clone());
        counsellors.push(tokio::spawn(async move {
            let name = format!("counsellor{k}");
            let mut c = app.counsellor(&name).await;
            c.available(CAPACITY).await;
            // Hold each chat a little, so capacity is really under pressure.
            let mut holding: VecDeque<(String, Instant)> = VecDeque::new();
            // Ended by us, not yet confirmed by the server's `ended`.
            let mut ending: HashSet<String> = HashSet::new();
            // A liveness bound, not a timing check: a counsellor still
            // waiting after this says what it waits for instead of hanging.
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                if ledger.lock().unwrap().assigned.len() == VISITORS && holding.is_empty() && ending.is_empty() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{name} still waiting: {} of {VISITORS} assigned, holding {holding:?}, waiting for `ended` of {ending:?}",
                    ledger.lock().unwrap().assigned.len()
                );
                // End chats held for 10 ms (oldest first).
                while holding.front().is_some_and(|(_, t)| t.elapsed() >= Duration::from_millis(10)) {
                    let (conv, _) = holding.pop_front().unwrap();
                    c.ws.send(json!({"type": "end", "conversation_id": conv, "outcome": "listened"})).await;
                    ending.insert(conv);
                }
                match c.ws.recv_within(Duration::from_millis(5)).await {
                    Some(f) if f["type"] == "assigned" => {
                        let conv = f["conversation"]["conversation_id"].as_str().unwrap().to_owned();
                        ledger.lock().unwrap().assigned.entry(conv.clone()).or_default().push(name.clone());
                        c.ws.send(json!({"type": "send", "conversation_id": conv, "client_id": "hi", "text": "こんにちは"})).await;
                        holding.push_back((conv, Instant::now()));
                    }
                    Some(f) if f["type"] == "ended" => {
                        assert!(ending.remove(f["conversation_id"].as_str().unwrap()));
                    }
                    Some(f) if f["type"] == "error" => panic!("{name}: {f}"),
                    Some(_) | None => {}
                }
            }
        }));
    }

    let mut convs = HashSet::new();
    for v in visitors {
        let (conv, positions, matched) = v.await.unwrap();
        assert_eq!(matched, 1, "each visitor is matched exactly once");
        assert!(positions >= 1, "each visitor was told their place");
        convs.insert(conv);
    }
    for c in counsellors {
        c.await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    poller.await.unwrap();

    let l = std::mem::take(&mut *ledger.lock().unwrap());
    assert_eq!(l.assigned.len(), VISITORS);
    for (conv, who) in &l.assigned {
        assert_eq!(who.len(), 1, "{conv} assigned to {who:?}");
    }
    assert!(store_max.load(Ordering::Relaxed) <= CAPACITY);
    assert_eq!(convs.len(), VISITORS);

    // The server's own record of every conversation: [assigned, ended)
    // intervals per counsellor never overlap more than the capacity. (The
    // clients' view is not used for this: an `assigned` for a freed place
    // may overtake the `ended` that freed it on the wire.)
    let store = &app.store;
    let mut spans: HashMap<String, Vec<(u64, i32)>> = HashMap::new();
    for conv in &convs {
        let rec = store
            .conversation(conv.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rec.state.name(), "ended");
        let who = rec.counsellor.expect("served by someone").to_string();
        let s = spans.entry(who).or_default();
        s.push((rec.assigned_at_ms.unwrap(), 1));
        s.push((rec.ended_at_ms.unwrap(), -1));
    }
    let mut busiest = 0;
    for (_, mut points) in spans {
        // At equal times the end comes first: [start, end) intervals.
        points.sort();
        let mut now = 0;
        for (_, d) in points {
            now += d;
            busiest = busiest.max(now);
        }
    }
    assert_eq!(
        busiest, CAPACITY as i32,
        "capacity was reached and never exceeded"
    );
    for c in store.counsellors().await.unwrap() {
        assert_eq!(c.active, 0);
    }
}
