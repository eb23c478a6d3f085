//! Risk triage, alerts, opening hours, silence and abandonment, over real
//! sockets.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;
use tsunagu::core::hours::{iso_jst, jst_date_minute, jst_ms, ClosureSpec, DayName, HoursSpec};

/// The next `queue` view with `n` visitors waiting.
async fn queue_of(ws: &mut Ws, n: usize) -> Value {
    loop {
        let q = ws.recv_type("queue").await;
        if q["queue_length"] == n as u64 {
            return q;
        }
    }
}

/// The next floor view that satisfies `f`.
async fn floor_where(ws: &mut Ws, f: impl Fn(&Value) -> bool) -> Value {
    loop {
        let v = ws.recv_type("floor").await;
        if f(&v) {
            return v;
        }
    }
}

#[tokio::test]
async fn a_visitor_at_risk_is_matched_before_ten_who_arrived_earlier_and_supervisors_are_alerted() {
    let app = spawn_app().await;
    let mut sup = app.supervisor("kimura").await;
    assert_eq!(sup.welcome["alerts"], json!([]));

    let mut earlier = Vec::new();
    for i in 0..10 {
        let (v, w) = app
            .start_visitor(json!({"type": "start", "first_message": format!("相談です {i}")}))
            .await;
        earlier.push((v, w["conversation_id"].as_str().unwrap().to_owned()));
    }
    let (mut urgent, w) = app
        .start_visitor(json!({"type": "start", "first_message": "もう ｼﾆﾀｲ です"}))
        .await;
    let urgent_id = w["conversation_id"].as_str().unwrap().to_owned();

    // The supervisor is alerted, with the rule and never the words.
    let alert = sup.ws.recv_type("alert").await;
    assert_eq!(alert["alert"]["conversation_id"], urgent_id);
    assert_eq!(alert["alert"]["level"], "urgent");
    assert_eq!(alert["alert"]["reasons"][0]["source"], "triage");
    assert_eq!(alert["alert"]["reasons"][0]["rule"], "ja.suicidal-ideation");
    assert_eq!(alert["alert"]["reasons"][0]["category"], "self_harm");
    assert!(!alert.to_string().contains("ｼﾆﾀｲ"));

    // The floor shows the queue with the urgent visitor first.
    let floor = floor_where(&mut sup.ws, |f| f["queue"]["length"] == 11).await;
    assert_eq!(floor["queue"]["urgent"], 1);
    assert_eq!(floor["conversations"][0]["conversation_id"], urgent_id);
    assert_eq!(floor["conversations"][0]["risk"], "urgent");
    assert_eq!(floor["open_alerts"], 1);

    // The first counsellor to become free gets the visitor at risk.
    let mut c = app.counsellor("sato").await;
    let q = queue_of(&mut c.ws, 11).await;
    assert_eq!(q["entries"][0]["conversation_id"], urgent_id);
    assert_eq!(q["entries"][0]["priority"], "urgent");
    assert_eq!(
        q["entries"][0]["risk_reasons"][0]["rule"],
        "ja.suicidal-ideation"
    );
    c.available(1).await;
    let a = c.ws.recv_type("assigned").await;
    assert_eq!(a["conversation"]["conversation_id"], urgent_id);
    assert_eq!(a["conversation"]["risk"], "urgent");
    assert_eq!(urgent.recv_type("matched").await["counsellor"], "sato-san");

    // Triage never spoke to the visitor nor told them they were flagged.
    let seen = urgent.drain(Duration::from_millis(200)).await;
    for f in std::iter::once(&w).chain(seen.iter()) {
        let s = f.to_string();
        assert!(
            !s.contains("urgent") && !s.contains("risk") && !s.contains("triage"),
            "{s}"
        );
    }
    // Nobody else was matched.
    for (v, _) in earlier.iter_mut() {
        for f in v.drain(Duration::from_millis(20)).await {
            assert_ne!(f["type"], "matched");
        }
    }
}

#[tokio::test]
async fn what_a_visitor_writes_while_waiting_is_triaged_and_alerts_stay_until_acknowledged() {
    let app = spawn_app().await;
    let mut sup = app.supervisor("mori").await;
    let (_a, _) = app.start_visitor(json!({"type": "start"})).await;
    let (mut b, wb) = app.start_visitor(json!({"type": "start"})).await;
    let b_id = wb["conversation_id"].as_str().unwrap().to_owned();
    b.send(json!({"type": "send", "client_id": "b1", "text": "I don't want to live anymore"}))
        .await;
    assert_eq!(b.recv_type("sent").await["seq"], 1);
    let alert = sup.ws.recv_type("alert").await;
    assert_eq!(alert["alert"]["conversation_id"], b_id);
    assert_eq!(alert["alert"]["reasons"][0]["rule"], "en.suicidal-ideation");
    let alert_id = alert["alert"]["alert_id"].as_str().unwrap().to_owned();
    // The same rule again adds nothing and alerts nobody.
    b.send(json!({"type": "send", "client_id": "b2", "text": "I really don't want to live"}))
        .await;
    b.recv_type("sent").await;
    let floor = floor_where(&mut sup.ws, |f| f["queue"]["urgent"] == 1).await;
    assert_eq!(floor["conversations"][0]["conversation_id"], b_id);
    for f in sup.ws.drain(Duration::from_millis(200)).await {
        assert_ne!(f["type"], "alert", "{f}");
    }

    // The alert stays: a reconnecting supervisor sees it in `welcome`.
    let (mut again, welcome) = app.reconnect_counsellor(&sup.cookie, json!({})).await;
    assert_eq!(welcome["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(welcome["alerts"][0]["alert_id"], alert_id);

    // A counsellor may not acknowledge; a supervisor may, once for all.
    let mut c = app.counsellor("ueda").await;
    c.ws.send(json!({"type": "ack_alert", "alert_id": alert_id}))
        .await;
    c.ws.expect_error("forbidden").await;
    sup.ws
        .send(json!({"type": "ack_alert", "alert_id": alert_id}))
        .await;
    let acked = again.recv_type("alert_acked").await;
    assert_eq!(acked["alert"]["acked_by"], sup.id.to_string());
    let (_third, welcome) = app.reconnect_counsellor(&sup.cookie, json!({})).await;
    assert_eq!(welcome["alerts"], json!([]));
}

#[tokio::test]
async fn counsellors_raise_and_lower_risk_by_hand() {
    let app = spawn_app().await;
    let mut sup = app.supervisor("hayashi").await;
    let mut c = app.counsellor("inoue").await;
    let (_a, wa) = app.start_visitor(json!({"type": "start"})).await;
    let (_b, wb) = app.start_visitor(json!({"type": "start"})).await;
    let (a_id, b_id) = (
        wa["conversation_id"].as_str().unwrap().to_owned(),
        wb["conversation_id"].as_str().unwrap().to_owned(),
    );
    queue_of(&mut c.ws, 2).await;
    c.ws.send(json!({"type": "set_risk", "conversation_id": b_id, "level": "urgent"}))
        .await;
    let alert = sup.ws.recv_type("alert").await;
    assert_eq!(alert["alert"]["reasons"][0]["source"], "staff");
    assert_eq!(alert["alert"]["reasons"][0]["by"], c.id.to_string());
    let q = loop {
        let q = queue_of(&mut c.ws, 2).await;
        if q["entries"][0]["conversation_id"] == b_id {
            break q;
        }
    };
    assert_eq!(q["entries"][0]["risk"], "urgent");
    // Lowered to `watch`: back in arrival order, still marked.
    c.ws.send(json!({"type": "set_risk", "conversation_id": b_id, "level": "watch"}))
        .await;
    let q = loop {
        let q = queue_of(&mut c.ws, 2).await;
        if q["entries"][0]["conversation_id"] == a_id {
            break q;
        }
    };
    assert_eq!(q["entries"][1]["risk"], "watch");
    assert_eq!(q["entries"][1]["priority"], "normal");
    // Lowering alerts nobody.
    for f in sup.ws.drain(Duration::from_millis(200)).await {
        assert_ne!(f["type"], "alert", "{f}");
    }
}

/// The schedule for the closed-hours tests: open every day, all day,
/// except a closure around today (Japan time).
fn closed_until_day_after_tomorrow() -> (HoursSpec, String) {
    let now = tsunagu::clock::now_ms();
    let (today, _) = jst_date_minute(now);
    let day = |d: time::Date| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
    let yesterday = today.previous_day().unwrap();
    let tomorrow = today.next_day().unwrap();
    let after = tomorrow.next_day().unwrap();
    let spec = HoursSpec {
        weekly: vec![tsunagu::core::hours::WeeklySpec {
            days: vec![
                DayName::Mon,
                DayName::Tue,
                DayName::Wed,
                DayName::Thu,
                DayName::Fri,
                DayName::Sat,
                DayName::Sun,
            ],
            open: "00:00".into(),
            close: "24:00".into(),
        }],
        closed_on_national_holidays: false,
        year_end: tsunagu::core::hours::YearEndSpec {
            closed: false,
            ..Default::default()
        },
        closures: vec![ClosureSpec {
            from: day(yesterday),
            to: Some(day(tomorrow)),
        }],
        last_entry_minutes: 0,
        always_open: false,
    };
    (spec, iso_jst(jst_ms(after, 0)))
}

#[tokio::test]
async fn outside_hours_a_start_is_refused_with_the_next_opening_and_the_alternatives() {
    let (spec, next) = closed_until_day_after_tomorrow();
    let app = spawn_app_with(|s| {
        s.hours = spec;
        s.alternatives = vec![tsunagu::model::Alternative {
            name: "よりそいホットライン".into(),
            contact: "0120-279-338".into(),
            hours: "24時間".into(),
            name_en: None,
            hours_en: None,
            emergency: false,
        }];
    })
    .await;
    let info: Value = reqwest::get(app.url("/api/info"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["hours"]["status"], "closed");
    assert_eq!(info["hours"]["accepting"], false);
    assert_eq!(info["hours"]["reason"], "closure");
    assert_eq!(info["hours"]["next_opening"], next.as_str());
    assert_eq!(info["hours"]["timezone"], "Asia/Tokyo");

    let mut v = app.visitor().await;
    v.send(json!({"type": "start", "first_message": "今日は開いていますか"}))
        .await;
    let e = v.expect_error("closed").await;
    assert_eq!(e["next_opening"], next.as_str());
    assert!(next.ends_with("T00:00:00+09:00"));
    assert_eq!(e["alternatives"][0]["contact"], "0120-279-338");
    // Nothing was created; the socket may try again later.
    assert!(app.store.queue().await.unwrap().is_empty());
    assert!(app.store.live_conversations().await.unwrap().is_empty());
}

#[tokio::test]
async fn after_last_entry_new_visitors_are_refused_and_those_waiting_are_told_they_will_be_served()
{
    let (_, minute) = jst_date_minute(tsunagu::clock::now_ms());
    if minute < 2 {
        return; // 00:00-00:01 Japan time: last entry has not passed yet today
    }
    let (mut spec, _) = closed_until_day_after_tomorrow();
    spec.closures.clear();
    spec.last_entry_minutes = 24 * 60 - 1; // last entry 00:01, close 24:00
    let app = spawn_app_with(|s| s.hours = spec).await;
    let info: Value = reqwest::get(app.url("/api/info"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["hours"]["status"], "last_entry_passed");
    let mut v = app.visitor().await;
    v.send(json!({"type": "start"})).await;
    let e = v.expect_error("closed").await;
    assert!(e["next_opening"]
        .as_str()
        .unwrap()
        .ends_with("T00:00:00+09:00"));

    // Someone who joined before last entry (made directly in the store)
    // resumes: they keep their place and are told the queue has closed.
    let (token, token_hash) = tsunagu::auth::new_token();
    let id = tsunagu::core::ids::ConversationId::new_random();
    app.store
        .create_conversation(
            tsunagu::model::NewConversation {
                lang: Default::default(),
                channel: Default::default(),
                id,
                token_hash,
                pre_chat: Default::default(),
                risk: Default::default(),
                risk_reasons: Vec::new(),
                alert: None,
                first_message: None,
                now_ms: tsunagu::clock::now_ms(),
                start_key: None,
                prefers: None,
            },
            10,
        )
        .await
        .unwrap();
    let mut w = app.visitor().await;
    w.send(json!({"type": "resume", "conversation_id": id.to_string(), "token": token}))
        .await;
    assert_eq!(w.recv_type("welcome").await["state"], "queued");
    // `closing` is said while binding; the place follows from the queue
    // broadcaster.
    let closing = w.recv_type("closing").await;
    assert!(closing["closes_at"]
        .as_str()
        .unwrap()
        .ends_with("T00:00:00+09:00"));
    assert_eq!(w.recv_type("queue").await["position"], 1);
    // A counsellor still serves them.
    let mut c = app.counsellor("late").await;
    c.available(1).await;
    assert_eq!(w.recv_type("matched").await["counsellor"], "late-san");
}

#[tokio::test]
async fn silences_and_visitors_leaving_the_queue_are_counted_and_the_check_in_is_the_counsellors_choice(
) {
    let app = spawn_app_with(|s| s.timing.silence_secs = 1).await;
    let mut sup = app.supervisor("ogawa").await;
    let mut c = app.counsellor("fujita").await;
    c.available(1).await;
    let (mut v, w) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut v, &w).await;
    let conv = w["conversation_id"].as_str().unwrap().to_owned();
    c.ws.recv_type("assigned").await;
    c.ws.send(json!({"type": "send", "conversation_id": conv, "client_id": "c1", "text": "どうしましたか"}))
        .await;
    c.ws.recv_type("sent").await;
    let silent = c.ws.recv_type("silent").await;
    assert_eq!(silent["conversation_id"], conv);
    // The visitor was told nothing: no automatic check-in.
    let frames = v.drain(Duration::from_millis(200)).await;
    assert_eq!(
        frames.iter().filter(|f| f["type"] == "message").count(),
        1,
        "{frames:?}"
    );

    // A visitor who leaves the queue is counted.
    let (mut gone, _) = app.start_visitor(json!({"type": "start"})).await;
    gone.send(json!({"type": "end"})).await;
    gone.recv_type("ended").await;
    let floor = floor_where(&mut sup.ws, |f| {
        f["stats"]["left_queue"] == 1 && f["stats"]["went_silent"] == 1
    })
    .await;
    let row = floor["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["conversation_id"] == conv)
        .unwrap()
        .clone();
    assert_eq!(row["counsellor"]["display_name"], "fujita-san");
    assert!(row["silent_since"].is_u64());
    let me = floor["counsellors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["display_name"] == "fujita-san")
        .unwrap()
        .clone();
    assert_eq!(
        (me["status"].as_str(), me["active"].as_u64()),
        (Some("available"), Some(1))
    );
}

#[tokio::test]
async fn a_deployment_rules_file_replaces_the_default_list() {
    let dir = std::env::temp_dir().join(format!("tsunagu-rules-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rules.toml");
    std::fs::write(
        &path,
        "version = 1\n[[rule]]\nid = \"local.test\"\ncategory = \"other\"\nlevel = \"urgent\"\npatterns = [\"たすけてほしい\"]\n",
    )
    .unwrap();
    let app = spawn_app_with(|s| s.triage.rules_file = Some(path.clone())).await;
    let mut sup = app.supervisor("yamada").await;
    // The default list no longer applies ...
    let (_x, _) = app
        .start_visitor(json!({"type": "start", "first_message": "死にたい"}))
        .await;
    // ... the deployment's does.
    let (_y, wy) = app
        .start_visitor(json!({"type": "start", "first_message": "タスケテホシイ"}))
        .await;
    let alert = sup.ws.recv_type("alert").await;
    assert_eq!(alert["alert"]["conversation_id"], wy["conversation_id"]);
    assert_eq!(alert["alert"]["reasons"][0]["rule"], "local.test");

    // A broken file stops the server from starting, with the reason.
    std::fs::write(&path, "version = 1\n[[rule]]\nid = \"x\"\n").unwrap();
    let mut s = test_settings();
    s.triage.rules_file = Some(path.clone());
    let err = tsunagu::startup::Application::build(s).await.err().unwrap();
    assert!(err.to_string().contains("rules.toml"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
