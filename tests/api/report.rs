//! The statistics report (issue 8) over real sockets and HTTP, on every
//! store of the suite: conversations seeded with known pre-chat answers
//! and end fields, one handoff booked, two abandoned in the queue; the
//! figures match a hand count, small cells read "<3", and purging every
//! record leaves the report of the period unchanged.

use reqwest::StatusCode;
use serde_json::{json, Value};

use tsunagu::clock::now_ms;
use tsunagu::core::hours::jst_date_minute;
use tsunagu::core::stats::{aggregate, Period};
use tsunagu::model::Role;

use crate::handoff::{book, consent, get, post, slot, staff_cookie, Chat};
use crate::helpers::{spawn_app_with, Counsellor, TestApp};

const DAY_MS: u64 = 86_400_000;

/// A visitor with these pre-chat answers, matched to `c`.
async fn matched(
    app: &TestApp,
    c: &mut Counsellor,
    pre_chat: Value,
) -> (crate::helpers::Ws, String, String) {
    let (v, welcome) = app
        .served_visitor(c, json!({"type": "start", "pre_chat": pre_chat}))
        .await;
    let id = welcome["conversation_id"].as_str().unwrap().to_owned();
    let token = welcome["resume_token"].as_str().unwrap().to_owned();
    (v, id, token)
}

async fn end(c: &mut Counsellor, v: &mut crate::helpers::Ws, mut end: Value, id: &str) {
    end["type"] = "end".into();
    end["conversation_id"] = id.into();
    c.ws.send(end).await;
    v.recv_type("ended").await;
}

pub(crate) fn this_month() -> String {
    let (date, _) = jst_date_minute(now_ms());
    format!("{}-{:02}", date.year(), u8::from(date.month()))
}

#[tokio::test]
async fn the_report_matches_a_hand_count_hides_small_cells_and_survives_the_purge() {
    // The purge below runs days ahead; the staff's sessions must outlive
    // it (the purge removes expired sessions).
    let app = spawn_app_with(|s| s.session_ttl_secs = 800 * 86_400).await;
    let admin = staff_cookie(&app, "admin-r", Role::Admin).await;
    let couns_cookie = staff_cookie(&app, "couns-r", Role::Counsellor).await;
    let slot_id = slot(&app, &admin, 2, 1).await;

    // Two leave the queue before anyone is available.
    for _ in 0..2 {
        let (mut v, _) = app
            .start_visitor(json!({"type": "start", "pre_chat": {"who": "family_apart"}}))
            .await;
        v.send(json!({"type": "end"})).await;
        v.recv_type("ended").await;
    }

    let mut c = app.counsellor("kato-r").await;
    c.available(4).await;
    let pre = json!({"who": "self", "age_band": "teens", "gender": "female"});
    let (mut v, id, _) = matched(&app, &mut c, pre.clone()).await;
    end(
        &mut c,
        &mut v,
        json!({"outcome": "listened", "withdrawal": "under_one_year", "severity": "state_2"}),
        &id,
    )
    .await;
    let (mut v, id, _) = matched(&app, &mut c, pre).await;
    end(&mut c, &mut v, json!({"outcome": "referred", "withdrawal": "under_one_year", "severity": "state_2", "referral": true}), &id).await;
    let (mut v, id, _) = matched(
        &app,
        &mut c,
        json!({"who": "self", "age_band": "twenties", "gender": "male"}),
    )
    .await;
    end(
        &mut c,
        &mut v,
        json!({"outcome": "listened", "withdrawal": "under_one_year", "severity": "state_3"}),
        &id,
    )
    .await;

    // One booked handoff.
    let (visitor, id, token) = matched(
        &app,
        &mut c,
        json!({"who": "family_together", "age_band": "teens"}),
    )
    .await;
    let mut chat = Chat {
        visitor,
        id,
        token,
        counsellor: c,
    };
    consent(&app, &mut chat, false, false).await;
    let (status, receipt) = book(&app, &chat, &slot_id, json!({"kind": "self"})).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let id = chat.id.clone();
    end(
        &mut chat.counsellor,
        &mut chat.visitor,
        json!({"outcome": "handoff_agreed"}),
        &id,
    )
    .await;

    // The hand count, before suppression.
    let period = Period::parse(&this_month()).unwrap();
    let raw = aggregate(&period, &app.store.report_facts().await.unwrap());
    assert_eq!((raw.started, raw.served, raw.abandoned), (6, 4, 2));
    let t = |table: &str, key: &str| raw.tables[table].get(key).copied().unwrap_or(0);
    assert_eq!(t("who", "self"), 3);
    assert_eq!(t("who", "family_apart"), 2);
    assert_eq!(t("who", "family_together"), 1);
    assert_eq!(t("age_band", "teens"), 3);
    assert_eq!(t("age_band", "twenties"), 1);
    assert_eq!(t("age_band", "not_answered"), 2);
    assert_eq!(t("gender", "female"), 2);
    assert_eq!(t("gender", "male"), 1);
    assert_eq!(t("gender", "not_answered"), 3);
    assert_eq!(t("withdrawal", "under_one_year"), 3);
    assert_eq!(t("severity", "state_2"), 2);
    assert_eq!(t("severity", "state_3"), 1);
    assert_eq!(t("outcome", "listened"), 2);
    assert_eq!(t("outcome", "referred"), 1);
    assert_eq!(t("outcome", "handoff_agreed"), 1);
    assert_eq!(t("referral", "yes"), 1);
    assert_eq!(t("referral", "no"), 5);
    assert_eq!(t("handoff", "booked"), 1);
    assert_eq!(t("handoff", "none"), 5);
    assert_eq!(raw.waits.len(), 4);

    // Who may see it.
    let path = format!("/api/admin/report?period={}", this_month());
    let (status, body) = get(&app, &path, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthorized");
    let (status, body) = get(&app, &path, Some(&couns_cookie)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "forbidden");
    for bad in ["2026-13", "FY26", ""] {
        let (status, body) = get(
            &app,
            &format!("/api/admin/report?period={bad}"),
            Some(&admin),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["code"], "bad_request");
    }
    let (status, _) = get(&app, &format!("{path}&format=xml"), Some(&admin)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Published: below 3 reads "<3", zero stays zero.
    let (status, report) = get(&app, &path, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["period"], this_month());
    assert_eq!(report["min_cell"], 3);
    assert_eq!(report["started"], 6);
    assert_eq!(report["served"], 4);
    assert_eq!(report["abandoned"], "<3");
    let tb = &report["tables"];
    assert_eq!(tb["who"]["self"], 3);
    assert_eq!(tb["who"]["family_apart"], "<3");
    assert_eq!(tb["age_band"]["teens"], 3);
    assert_eq!(tb["gender"]["female"], "<3");
    assert_eq!(tb["gender"]["not_answered"], 3);
    assert_eq!(tb["withdrawal"]["under_one_year"], 3);
    assert_eq!(tb["severity"]["state_3"], "<3");
    assert_eq!(tb["referral"]["no"], 5);
    assert_eq!(tb["referral"]["yes"], "<3");
    assert_eq!(report["handoffs"]["offered"], "<3");
    assert_eq!(report["handoffs"]["booked"], "<3");
    assert_eq!(report["handoffs"]["attended"], 0);
    assert!(report["wait_median_secs"].is_u64(), "{report}");
    assert!(report["wait_p90_secs"].is_u64(), "{report}");
    let text = report.to_string();
    for secret in ["kato", "couns", id.as_str()] {
        assert!(!text.contains(secret), "{text}");
    }

    // The CSV: a header, one row per cell, as an attachment.
    let res = reqwest::Client::new()
        .get(app.url(&format!("{path}&format=csv")))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/csv"));
    let cd = h["content-disposition"].to_str().unwrap();
    assert!(
        cd.starts_with("attachment") && cd.contains(&this_month()),
        "{cd}"
    );
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "table,category,count");
    for row in [
        "conversations,started,6",
        "conversations,abandoned,<3",
        "who,self,3",
        "who,family_apart,<3",
        "handoffs,booked,<3",
        "referral,no,5",
    ] {
        assert!(lines.contains(&row), "{row} in\n{csv}");
    }

    // Every record purged: the same report.
    let purged = app
        .state
        .service
        .purge(now_ms() + 400 * DAY_MS)
        .await
        .unwrap();
    assert_eq!(purged.conversations.len(), 6);
    let (_, after) = get(&app, &path, Some(&admin)).await;
    assert_eq!(after, report);
    let (date, _) = jst_date_minute(now_ms());
    let fy_year = date.year() - i32::from(u8::from(date.month()) < 4);
    let fy_path = format!("/api/admin/report?period=FY{fy_year}");
    let (_, fy) = get(&app, &fy_path, Some(&admin)).await;
    assert_eq!(fy["started"], 6, "{fy}");
}

/// 10:00 Japan time on a day, as epoch ms.
pub(crate) fn jst_10(y: i32, m: u8, d: u8) -> u64 {
    let date = time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap();
    (date.midnight().assume_utc().unix_timestamp() as u64 + 3600) * 1000
}

/// A web visitor (with a return code, if given) served by `c`, who takes
/// a return code when asked (`take`) and is ended by `c`. Their code, if
/// they took one.
async fn web_contact(
    app: &TestApp,
    c: &mut Counsellor,
    code: Option<&str>,
    take: bool,
) -> Option<String> {
    let start = match code {
        Some(code) => json!({"type": "start", "return_code": code}),
        None => json!({"type": "start"}),
    };
    let (mut v, welcome) = app.served_visitor(c, start).await;
    let taken = if take {
        v.send(json!({"type": "return_code"})).await;
        Some(
            v.recv_type("return_code").await["code"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    } else {
        None
    };
    let id = welcome["conversation_id"].as_str().unwrap().to_owned();
    end(c, &mut v, json!({"outcome": "listened"}), &id).await;
    taken
}

/// A LINE user's message, served by `c` and ended by `c`.
async fn line_contact(app: &TestApp, c: &mut Counsellor, user: &str, event: &str) {
    assert_eq!(
        crate::line::say(app, user, event, "話を聞いてほしいです", false).await,
        200
    );
    let assigned = c.ws.recv_type("assigned").await;
    let id = assigned["conversation"]["conversation_id"]
        .as_str()
        .unwrap();
    c.ws.send(json!({"type": "end", "conversation_id": id, "outcome": "listened"}))
        .await;
    c.ws.recv_type("ended").await;
}

/// Issue 22: people, not only contacts, over a seeded fiscal year with
/// the app's clock: a web visitor who comes back with a return code
/// (into the next year), a LINE user who writes twice, a visitor with no
/// code, one who left the queue. The report equals the hand count (exact:
/// `min_cell` 1), and purging everything changes none of it.
#[tokio::test]
async fn people_and_channels_over_a_seeded_year_equal_a_hand_count() {
    let line = crate::line::StandIn::start().await;
    let app = spawn_app_with(|s| {
        crate::line::line_settings(s, &line.base);
        s.session_ttl_secs = 3000 * 86_400;
        s.report.min_cell = 1;
        s.retention.conversation_days = 800;
        s.retention.booking_days = 800;
        s.retention.case_keep_days = 800;
    })
    .await;
    let clock = app.clock().clone();
    clock.set(jst_10(2025, 5, 1));
    let admin = staff_cookie(&app, "admin-p", Role::Admin).await;
    let mut c = app.counsellor("kato-p").await;
    c.available(1).await;

    // FY2025 (April 2025 - March 2026).
    clock.set(jst_10(2025, 5, 12));
    let code = web_contact(&app, &mut c, None, true).await.unwrap();
    clock.set(jst_10(2025, 6, 2));
    web_contact(&app, &mut c, Some(&code), false).await;
    let user = crate::line::user_id();
    clock.set(jst_10(2025, 7, 1));
    line_contact(&app, &mut c, &user, "01PE1").await;
    clock.set(jst_10(2025, 7, 20));
    line_contact(&app, &mut c, &user, "01PE2").await;
    clock.set(jst_10(2025, 9, 10));
    web_contact(&app, &mut c, None, false).await;
    // Nobody available: this visitor leaves the queue unserved.
    clock.set(jst_10(2025, 10, 1));
    c.ws.send(json!({"type": "set_status", "status": "away"}))
        .await;
    loop {
        if c.ws.recv_type("status").await["status"] == "away" {
            break;
        }
    }
    let (mut v, _) = app.start_visitor(json!({"type": "start"})).await;
    v.send(json!({"type": "end"})).await;
    v.recv_type("ended").await;
    c.available(1).await;
    clock.set(jst_10(2026, 3, 25));
    web_contact(&app, &mut c, Some(&code), false).await;
    // FY2026: the same visitor once more.
    clock.set(jst_10(2026, 4, 10));
    web_contact(&app, &mut c, Some(&code), false).await;
    // FY2026: a letter with the code, answered a day later; a letter
    // with no code, never answered.
    clock.set(jst_10(2026, 5, 1));
    let (status, letter) = post(
        &app,
        "/api/letters",
        None,
        json!({"text": "お手紙です", "return_code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{letter}");
    clock.set(jst_10(2026, 5, 2));
    let (status, _) = post(
        &app,
        &format!(
            "/api/counsellor/letters/{}/answer",
            letter["letter_id"].as_str().unwrap()
        ),
        Some(&c.cookie),
        json!({"client_id": "p-l1", "text": "お返事です"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    clock.set(jst_10(2026, 6, 1));
    let (status, _) = post(
        &app,
        "/api/letters",
        None,
        json!({"text": "はじめて書きます"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // By hand, 90 days to end, today 2026-12-01:
    // - the code's person: 2025-05-12, 06-02, 2026-03-25, 04-10: new in
    //   FY2025, continuing in FY2026, ended 2026-07-09 (FY2026);
    // - the LINE user: 2025-07-01, 07-20: new, ended 2025-10-18;
    // - the visitor with no code: 2025-09-10: new, ended 2025-12-09;
    // - the one who left the queue: a contact, not a person;
    // - the code's person's letter (2026-05-01, answered in 86,400 s) is
    //   a served contact by letter: their last, so they end 2026-07-30;
    // - the unanswered letter: a contact, not a person (nobody served).
    clock.set(jst_10(2026, 12, 1));
    let report = |period: &'static str| {
        let (app, admin) = (&app, admin.clone());
        async move {
            let (status, r) = get(
                app,
                &format!("/api/admin/report?period={period}"),
                Some(&admin),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{r}");
            r
        }
    };
    let fy2025 = report("FY2025").await;
    assert_eq!(
        (&fy2025["started"], &fy2025["served"], &fy2025["abandoned"]),
        (&json!(7), &json!(6), &json!(1)),
        "{fy2025}"
    );
    assert_eq!(fy2025["tables"]["channel"], json!({"web": 5, "line": 2}));
    assert_eq!(
        fy2025["people"],
        json!({"supported": 3, "new": 3, "continuing": 0, "ended": 2})
    );
    assert_eq!(fy2025["case_ends_after_days"], 90);
    let fy2026 = report("FY2026").await;
    assert_eq!(
        (&fy2026["started"], &fy2026["served"], &fy2026["abandoned"]),
        (&json!(3), &json!(2), &json!(0)),
        "{fy2026}"
    );
    assert_eq!(fy2026["tables"]["channel"], json!({"web": 1, "letter": 2}));
    assert_eq!(fy2026["letters"], json!({"received": 2, "answered": 1}));
    // A day, give or take the moment between setting the clock and the
    // request (the clock runs on).
    let median = fy2026["letter_answer_median_secs"].as_u64().unwrap();
    assert!((86_399..=86_401).contains(&median), "{median}");
    assert_eq!(
        fy2026["people"],
        json!({"supported": 1, "new": 0, "continuing": 1, "ended": 1})
    );
    let june = report("2025-06").await;
    assert_eq!(
        june["people"],
        json!({"supported": 1, "new": 0, "continuing": 1, "ended": 0})
    );
    let october = report("2025-10").await;
    assert_eq!(
        october["people"],
        json!({"supported": 0, "new": 0, "continuing": 0, "ended": 1})
    );
    assert_eq!(october["tables"]["channel"], json!({"web": 1}));
    let text = fy2025.to_string();
    assert!(!text.contains(&user) && !text.contains(&code), "{text}");

    // The CSV carries the people and the channels.
    let res = reqwest::Client::new()
        .get(app.url("/api/admin/report?period=FY2025&format=csv"))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap();
    let csv = res.text().await.unwrap();
    for row in [
        "people,supported,3",
        "people,new,3",
        "people,continuing,0",
        "people,ended,2",
        "channel,web,5",
        "channel,line,2",
    ] {
        assert!(csv.lines().any(|l| l == row), "{row} in\n{csv}");
    }

    // Everything purged (the case with its last conversation): the facts
    // kept the link, so the people are the same.
    let purged = app.state.service.purge(jst_10(2029, 1, 1)).await.unwrap();
    assert_eq!(purged.conversations.len(), 10);
    assert_eq!(report("FY2025").await, fy2025);
    assert_eq!(report("FY2026").await, fy2026);
}
