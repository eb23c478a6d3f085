//! Issue 23: the hearing sheet. A deployment defines its sheet in the
//! configuration (here a test sheet, revised to version 2 by changing one
//! question); the counsellor fills it during or after a conversation,
//! saves drafts, and reads it again at the person's later conversation
//! beside the new one, each under its own version. The statistics fields
//! it records count as the end dialog's would. Bad sheets are refused and
//! change nothing; erasing removes its free text, the purge the whole
//! sheet. On every store of the suite (`TSUNAGU_TEST_STORE`).

use reqwest::StatusCode;
use serde_json::{json, Value};

use tsunagu::config::Settings;
use tsunagu::core::hearing::{
    default_sheet, AnswerKind, OptionDef, QuestionDef, SectionDef, SheetDef,
};
use tsunagu::core::ids::ConversationId;
use tsunagu::core::prechat::WhoIsWriting;
use tsunagu::core::stats::{aggregate, HandoffFacts, Period, Severity, WithdrawalBand};
use tsunagu::model::Role;

use crate::handoff::{get, staff_cookie};
use crate::helpers::*;
use crate::return_code::{assigned, case_of};

/// A sheet of four questions: who is contacting and the withdrawal
/// (mapped to the statistics), a feeling on a scale, and a few words.
fn sheet_v1() -> SheetDef {
    let base = default_sheet();
    let q = |id: &str| base.question(id).unwrap().clone();
    SheetDef {
        version: 1,
        sections: vec![
            SectionDef {
                id: "about".into(),
                title_ja: "本人について".into(),
                title_en: "About the person".into(),
                questions: vec![q("contact"), q("withdrawal"), q("state")],
            },
            SectionDef {
                id: "now".into(),
                title_ja: "いま".into(),
                title_en: "Now".into(),
                questions: vec![q("mood"), q("situation")],
            },
        ],
    }
}

/// Version 2: the feeling is asked as a choice instead of a scale.
fn sheet_v2() -> SheetDef {
    let mut d = sheet_v1();
    d.version = 2;
    let o = |id: &str, ja: &str, en: &str| OptionDef {
        id: id.into(),
        label_ja: ja.into(),
        label_en: en.into(),
        stats: None,
    };
    d.sections[1].questions[0] = QuestionDef {
        id: "mood".into(),
        label_ja: "いまの気持ちに近いもの".into(),
        label_en: "Closest to how they feel".into(),
        kind: AnswerKind::Choice,
        options: vec![
            o("hard", "つらい", "Hard"),
            o("tired", "疲れている", "Tired"),
            o("calm", "落ち着いている", "Calm"),
        ],
        min: None,
        max: None,
        min_label_ja: String::new(),
        min_label_en: String::new(),
        max_label_ja: String::new(),
        max_label_en: String::new(),
        max_chars: None,
        stats: None,
    };
    d
}

fn with_sheets(sheets: Vec<SheetDef>) -> impl FnOnce(&mut Settings) {
    move |s| s.hearing.sheets = sheets
}

fn hearing_path(conv: &str) -> String {
    format!("/api/counsellor/conversations/{conv}/hearing")
}

/// `PUT` a sheet as `cookie` (with an `Origin` when given).
async fn put(
    app: &TestApp,
    cookie: Option<&str>,
    conv: &str,
    body: Value,
    origin: Option<&str>,
) -> (StatusCode, Value) {
    let mut r = reqwest::Client::new()
        .put(app.url(&hearing_path(conv)))
        .json(&body);
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    if let Some(o) = origin {
        r = r.header("origin", o);
    }
    read_answer(&reqwest::Method::PUT, r.send().await.unwrap()).await
}

async fn save(app: &TestApp, cookie: &str, conv: &str, body: Value) -> Value {
    let (status, answer) = put(app, Some(cookie), conv, body, None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["sheet"].clone()
}

async fn read(app: &TestApp, cookie: &str, conv: &str) -> Value {
    let (status, answer) = get(app, &hearing_path(conv), Some(cookie)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["sheet"].clone()
}

fn id(conv: &str) -> ConversationId {
    conv.parse().unwrap()
}

#[tokio::test]
async fn a_revised_sheet_is_filled_and_read_side_by_side_at_a_later_conversation() {
    let app = spawn_app_with(with_sheets(vec![sheet_v1()])).await;
    let mut c = app.counsellor("hs-aoki").await;
    c.available(2).await;
    let (status, defs) = get(&app, "/api/hearing-sheets", Some(&c.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{defs}");
    assert_eq!(defs["current"], 1);
    assert_eq!(defs["sheets"].as_array().unwrap().len(), 1);

    // The first conversation: the counsellor fills the sheet as it goes.
    let (mut v, w) = app
        .start_visitor(json!({"type": "start", "first_message": "息子のことで"}))
        .await;
    wait_matched(&mut v, &w).await;
    let first = assigned(&mut c).await;
    assert_eq!(
        read(&app, &c.cookie, &first).await,
        Value::Null,
        "nothing saved yet"
    );
    let draft = save(
        &app,
        &c.cookie,
        &first,
        json!({"version": 1, "answers": {"contact": "family_together", "mood": 2}}),
    )
    .await;
    assert_eq!(draft["complete"], false);
    assert_eq!(draft["saved_by"]["display_name"], "hs-aoki-san");
    v.send(json!({"type": "return_code"})).await;
    let code = v.recv_type("return_code").await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    v.send(json!({"type": "end"})).await;
    v.recv_type("ended").await;
    c.ws.recv_type("ended").await;
    // Finished after the conversation: the whole sheet, saved again.
    let answers_1 = json!({
        "contact": "family_together",
        "withdrawal": "under_five_years",
        "state": "state_3",
        "mood": 2,
        "situation": "HEARING-MARKER-1 部屋から出ない",
    });
    let done = save(
        &app,
        &c.cookie,
        &first,
        json!({"version": 1, "answers": answers_1, "complete": true}),
    )
    .await;
    assert_eq!(done["answers"], answers_1);
    assert_eq!(read(&app, &c.cookie, &first).await, done);

    // The centre revises its sheet; the person comes back with their code.
    let revised = app
        .another_node(with_sheets(vec![sheet_v1(), sheet_v2()]))
        .await;
    let (_, defs) = get(&revised, "/api/hearing-sheets", Some(&c.cookie)).await;
    assert_eq!(defs["current"], 2);
    assert_eq!(defs["sheets"].as_array().unwrap().len(), 2);
    let mut back = revised.visitor().await;
    back.send(json!({"type": "start", "return_code": code, "first_message": "また来ました"}))
        .await;
    let wb = back.recv_type("welcome").await;
    wait_matched(&mut back, &wb).await;
    let second = assigned(&mut c).await;

    // The new conversation is filled under version 2: version 1 (not its
    // draft's) and a v1 answer to the changed question are refused.
    let (status, refused) = put(
        &revised,
        Some(&c.cookie),
        &second,
        json!({"version": 1, "answers": {"contact": "family_together"}}),
        None,
    )
    .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (_, refused) = put(
        &revised,
        Some(&c.cookie),
        &second,
        json!({"version": 2, "answers": {"mood": 2}}),
        None,
    )
    .await;
    assert!(
        refused["message"].as_str().unwrap().contains("`mood`"),
        "{refused}"
    );
    let answers_2 = json!({
        "contact": "family_together",
        "withdrawal": "ten_years_plus",
        "mood": "tired",
        "situation": "HEARING-MARKER-2 少し外に出た",
    });
    let now = save(
        &revised,
        &c.cookie,
        &second,
        json!({"version": 2, "answers": answers_2}),
    )
    .await;
    assert_eq!(now["version"], 2);

    // Read at the later conversation: the earlier sheet under version 1,
    // beside this one under version 2.
    let (status, case) = case_of(&revised, &c.cookie, &second).await;
    assert_eq!(status, StatusCode::OK, "{case}");
    let earlier = &case["case"]["earlier"][0];
    assert_eq!(earlier["conversation_id"], first.as_str());
    assert_eq!(earlier["hearing"]["version"], 1);
    assert_eq!(earlier["hearing"]["answers"], answers_1);
    assert_eq!(earlier["hearing"]["complete"], true);
    assert_eq!(
        read(&revised, &c.cookie, &second).await["answers"],
        answers_2
    );
    // A draft begun under version 1 is still saved under it after the revision.
    let resaved = save(
        &revised,
        &c.cookie,
        &first,
        json!({"version": 1, "answers": answers_1, "complete": true}),
    )
    .await;
    assert_eq!(resaved["version"], 1);

    // The statistics from the sheet equal what the end dialog would have
    // given: a third conversation, recorded with the end dialog alone.
    let (mut v3, w3) = revised
        .start_visitor(json!({"type": "start", "pre_chat": {"who": "family_together"}}))
        .await;
    wait_matched(&mut v3, &w3).await;
    let third = assigned(&mut c).await;
    c.ws.send(json!({
        "type": "end", "conversation_id": third, "outcome": "listened",
        "withdrawal": "under_five_years", "severity": "state_3",
    }))
    .await;
    c.ws.recv_type("ended").await;
    let facts = |rec: tsunagu::model::ConversationRecord| rec.facts(HandoffFacts::default(), None);
    let by_sheet = facts(app.store.conversation(id(&first)).await.unwrap().unwrap());
    let by_dialog = facts(app.store.conversation(id(&third)).await.unwrap().unwrap());
    assert_eq!(by_sheet.who, Some(WhoIsWriting::FamilyTogether));
    assert_eq!(
        by_sheet.assessment.withdrawal,
        Some(WithdrawalBand::UnderFiveYears)
    );
    assert_eq!(by_sheet.assessment.severity, Some(Severity::State3));
    assert_eq!(
        (by_sheet.who, by_sheet.age_band, by_sheet.assessment),
        (by_dialog.who, by_dialog.age_band, by_dialog.assessment)
    );
    // And in the report's tables: both counted alike.
    let period = Period::parse(&crate::report::this_month()).unwrap();
    let raw = aggregate(&period, &app.store.report_facts().await.unwrap());
    let t = |table: &str, key: &str| raw.tables[table].get(key).copied().unwrap_or(0);
    assert_eq!(t("withdrawal", "under_five_years"), 2);
    assert_eq!(t("severity", "state_3"), 2);
    drop(revised);
}

#[tokio::test]
async fn bad_sheets_are_refused_and_change_nothing() {
    let app = spawn_app_with(with_sheets(vec![sheet_v1()])).await;
    let mut c = app.counsellor("hs-bad").await;
    let other = app.counsellor("hs-other").await;
    let intake = staff_cookie(&app, "hs-intake", Role::Intake).await;
    let (mut queued_v, queued_w) = app.start_visitor(json!({"type": "start"})).await;
    let queued = queued_w["conversation_id"].as_str().unwrap().to_owned();
    c.available(1).await;
    wait_matched(&mut queued_v, &queued_w).await;
    let conv = assigned(&mut c).await;
    assert_eq!(conv, queued);
    let good =
        json!({"version": 1, "answers": {"contact": "self", "situation": "HEARING-MARKER-OK"}});
    let saved = save(&app, &c.cookie, &conv, good).await;

    // A conversation still queued: nobody holds it yet.
    let (mut w2v, w2) = app.start_visitor(json!({"type": "start"})).await;
    let waiting = w2["conversation_id"].as_str().unwrap().to_owned();
    let mine = Some(c.cookie.as_str());
    let body = |answers: Value| json!({"version": 1, "answers": answers});
    /// Who, which conversation, what, from where, and the refusal.
    type Case<'a> = (Option<&'a str>, String, Value, Option<&'a str>, &'a str);
    let cases: Vec<Case> = vec![
        (
            mine,
            conv.clone(),
            body(json!({"nope": 1})),
            None,
            "bad_request",
        ),
        (
            mine,
            conv.clone(),
            body(json!({"contact": "neighbour"})),
            None,
            "bad_request",
        ),
        (
            mine,
            conv.clone(),
            body(json!({"mood": 9})),
            None,
            "bad_request",
        ),
        (
            mine,
            conv.clone(),
            body(json!({"situation": "あ".repeat(401)})),
            None,
            "bad_request",
        ),
        (
            mine,
            conv.clone(),
            json!({"version": 7, "answers": {}}),
            None,
            "bad_request",
        ),
        (
            mine,
            conv.clone(),
            json!({"version": 1, "answers": {}, "extra": true}),
            None,
            "bad_request",
        ),
        (
            mine,
            conv.clone(),
            json!({"answers": {}}),
            None,
            "bad_request",
        ),
        (
            mine,
            conv.clone(),
            body(json!({"contact": "family_apart"})),
            Some("https://evil.example"),
            "origin_forbidden",
        ),
        (
            Some(other.cookie.as_str()),
            conv.clone(),
            body(json!({})),
            None,
            "not_your_conversation",
        ),
        (
            Some(intake.as_str()),
            conv.clone(),
            body(json!({})),
            None,
            "forbidden",
        ),
        (None, conv.clone(), body(json!({})), None, "unauthorized"),
        (
            mine,
            ConversationId::new_random().to_string(),
            body(json!({})),
            None,
            "not_your_conversation",
        ),
        (
            mine,
            "not-an-id".into(),
            body(json!({})),
            None,
            "not_your_conversation",
        ),
        (
            mine,
            waiting.clone(),
            body(json!({})),
            None,
            "not_your_conversation",
        ),
    ];
    for (cookie, target, b, origin, code) in cases {
        let (status, answer) = put(&app, cookie, &target, b.clone(), origin).await;
        assert_eq!(answer["code"], code, "{status} {b} {answer}");
        assert_eq!(read(&app, &c.cookie, &conv).await, saved, "after {b}");
    }
    for (cookie, target, code) in [
        (
            Some(other.cookie.as_str()),
            conv.clone(),
            "not_your_conversation",
        ),
        (Some(intake.as_str()), conv.clone(), "forbidden"),
        (None, conv.clone(), "unauthorized"),
        (mine, waiting.clone(), "not_your_conversation"),
    ] {
        let (_, answer) = get(&app, &hearing_path(&target), cookie).await;
        assert_eq!(answer["code"], code, "{answer}");
    }
    let (_, answer) = get(&app, "/api/hearing-sheets", Some(&intake)).await;
    assert_eq!(answer["code"], "forbidden");
    let (_, answer) = get(&app, "/api/hearing-sheets", None).await;
    assert_eq!(answer["code"], "unauthorized");
    let rec = app.store.conversation(id(&waiting)).await.unwrap().unwrap();
    assert!(rec.hearing.is_none());
    w2v.send(json!({"type": "end"})).await;

    // Erased by the visitor: the sheet's free text goes with the
    // counsellor's notes, its choices (and the statistics) stay, and it
    // can no longer be saved.
    queued_v.send(json!({"type": "erase"})).await;
    queued_v.recv_type("erased").await;
    let rec = app.store.conversation(id(&conv)).await.unwrap().unwrap();
    let sheet = rec.hearing.as_ref().expect("the sheet stays");
    assert!(sheet.texts.is_empty(), "{:?}", sheet.texts);
    assert_eq!(sheet.stats.who, Some(WhoIsWriting::Myself));
    let (_, answer) = put(
        &app,
        mine,
        &conv,
        json!({"version": 1, "answers": {"contact": "self"}}),
        None,
    )
    .await;
    assert_eq!(answer["code"], "conversation_erased", "{answer}");
    assert_eq!(
        read(&app, &c.cookie, &conv).await["answers"],
        json!({"contact": "self"})
    );
}

#[tokio::test]
async fn the_purge_takes_the_sheet_and_its_statistics_stay_counted() {
    let app = spawn_app_with(|s| {
        s.session_ttl_secs = 400 * 86_400;
        s.hearing.sheets = vec![sheet_v1()];
    })
    .await;
    let mut c = app.counsellor("hs-purge").await;
    c.available(1).await;
    let (mut v, w) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut v, &w).await;
    let conv = assigned(&mut c).await;
    save(
        &app,
        &c.cookie,
        &conv,
        json!({"version": 1, "answers": {"withdrawal": "under_one_year", "situation": "HEARING-MARKER-P"}}),
    )
    .await;
    c.ws.send(json!({"type": "end", "conversation_id": conv, "outcome": "listened"}))
        .await;
    c.ws.recv_type("ended").await;
    app.clock()
        .advance(std::time::Duration::from_secs(31 * 86_400));
    let purged = app.state.service.purge(app.clock().now_ms()).await.unwrap();
    assert_eq!(purged.conversations, vec![id(&conv)]);
    assert!(app.store.conversation(id(&conv)).await.unwrap().is_none());
    let facts = app.store.facts().await.unwrap();
    assert_eq!(facts.len(), 1);
    assert_eq!(
        facts[0].assessment.withdrawal,
        Some(WithdrawalBand::UnderOneYear)
    );
}

/// A sheet of long texts is more than the API's usual body limit: its
/// save takes up to `MAX_SHEET_BYTES`.
#[tokio::test]
async fn a_sheet_of_long_texts_is_saved_whole() {
    let mut long = sheet_v1();
    let text = long.question("situation").unwrap().clone();
    long.sections[1].questions = (1..=4)
        .map(|n| tsunagu::core::hearing::QuestionDef {
            id: format!("text_{n}"),
            max_chars: Some(2000),
            ..text.clone()
        })
        .collect();
    let app = spawn_app_with(with_sheets(vec![long])).await;
    let mut c = app.counsellor("hs-long").await;
    c.available(1).await;
    let (mut v, w) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut v, &w).await;
    let conv = assigned(&mut c).await;
    let answers: serde_json::Map<String, Value> = (1..=4)
        .map(|n| (format!("text_{n}"), json!("語".repeat(2000))))
        .collect();
    let body = json!({"version": 1, "answers": answers});
    assert!(body.to_string().len() > 16 * 1024);
    let saved = save(&app, &c.cookie, &conv, body).await;
    assert_eq!(saved["answers"].as_object().unwrap().len(), 4);
    // Past the limit: refused as too large, nothing saved.
    let huge = json!({"version": 1, "answers": {"text_1": "a".repeat(200 * 1024)}});
    let (status, answer) = put(&app, Some(&c.cookie), &conv, huge, None).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
    );
    assert_eq!(read(&app, &c.cookie, &conv).await, saved);
}
