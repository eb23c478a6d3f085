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

use crate::handoff::{book, consent, get, slot, staff_cookie, Chat};
use crate::helpers::{spawn_app_with, wait_matched, Counsellor, TestApp};

const DAY_MS: u64 = 86_400_000;

/// A visitor with these pre-chat answers, matched to `c`.
async fn matched(
    app: &TestApp,
    c: &mut Counsellor,
    pre_chat: Value,
) -> (crate::helpers::Ws, String, String) {
    let (mut v, welcome) = app
        .start_visitor(json!({"type": "start", "pre_chat": pre_chat}))
        .await;
    wait_matched(&mut v, &welcome).await;
    c.ws.recv_type("assigned").await;
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

fn this_month() -> String {
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
