//! Issue 22: letters. Written while the centre is closed (Friday 22:00 by
//! the app's clock, the default hours Monday-Friday 9-17), waiting in the
//! letters queue on Monday 9:00 with the urgent one first, answered by a
//! counsellor, read by the web visitor with their return code and pushed
//! once to a LINE writer; bad input of each kind refused with nothing
//! stored. On every store of the suite (`TSUNAGU_TEST_STORE`).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tsunagu::model::Role;

use crate::handoff::{get, post, staff_cookie};
use crate::helpers::*;
use crate::line::{conversation_of, line_settings, say, user_id, StandIn};

/// Friday 2026-12-04 22:00 JST.
const FRIDAY_2200: u64 = 1_796_389_200_000;
/// Monday 2026-12-07 09:00 JST.
const MONDAY_0900: u64 = 1_796_601_600_000;

/// An app with the default opening hours (not always open), letters from
/// one address not limited, and staff sessions that outlive the clock's
/// moves.
async fn closed_app(tweak: impl FnOnce(&mut tsunagu::config::Settings)) -> TestApp {
    let app = spawn_app_with(|s| {
        s.hours.always_open = false;
        s.letters.per_address = 1_000;
        s.session_ttl_secs = 30 * 86_400;
        s.report.min_cell = 1;
        tweak(s);
    })
    .await;
    app.clock().set(FRIDAY_2200);
    app
}

/// `who` answers letter `id`.
async fn answer(
    app: &TestApp,
    who: &str,
    id: &str,
    client_id: &str,
    text: &str,
) -> (StatusCode, Value) {
    post(
        app,
        &format!("/api/counsellor/letters/{id}/answer"),
        Some(who),
        json!({"client_id": client_id, "text": text}),
    )
    .await
}

async fn write(app: &TestApp, body: Value) -> (StatusCode, Value) {
    post(app, "/api/letters", None, body).await
}

fn ids(letters: &Value) -> Vec<String> {
    letters["letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["letter_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_friday_night_letter_is_answered_on_monday_and_read_with_the_code() {
    let app = closed_app(|_| {}).await;
    // Closed: a chat cannot start.
    let mut v = app.visitor().await;
    v.send(json!({"type": "start"})).await;
    v.expect_error("closed").await;

    // Friday 22:00: a letter with no code gets one.
    let (s, a) = write(
        &app,
        json!({"text": "学校に行けなくなって半年です。親とも話せません。", "lang": "ja"}),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    let code = a["return_code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 24, "{code}");
    assert_eq!(a["ahead"], 0);
    assert_eq!(a["safety_info"], false);
    assert!(a.get("services").is_none());
    let expected = a["answer_expected_at"].as_str().unwrap();
    assert!(
        expected.starts_with("2026-12-07T09:15"),
        "after Monday's opening: {expected}"
    );

    // Later that night an urgent one: the safety information at once, and
    // first in the queue.
    let (s, u) = write(&app, json!({"text": "もう死にたい"})).await;
    assert_eq!(s, 201, "{u}");
    assert_eq!(u["safety_info"], true);
    assert!(!u["services"].as_array().unwrap().is_empty());
    assert_eq!(u["ahead"], 0, "urgent first");
    let alerts = app.store.alerts(true).await.unwrap();
    let urgent_id = u["letter_id"].as_str().unwrap().to_owned();
    assert!(
        alerts
            .iter()
            .any(|al| al.conversation.to_string() == urgent_id),
        "its alert waits for the supervisors"
    );

    // The first writer again, with their code: the same case, no new code.
    let (s, a2) = write(
        &app,
        json!({"text": "追伸です。", "return_code": code.to_lowercase()}),
    )
    .await;
    assert_eq!(s, 201, "{a2}");
    assert!(a2.get("return_code").is_none());
    assert_eq!(a2["ahead"], 2);

    // Monday 9:00: the queue, urgent first, then oldest.
    app.clock().set(MONDAY_0900);
    let aoki = staff_cookie(&app, "lt-aoki", Role::Counsellor).await;
    let (s, queue) = get(&app, "/api/counsellor/letters", Some(&aoki)).await;
    assert_eq!(s, 200, "{queue}");
    let first = a["letter_id"].as_str().unwrap().to_owned();
    let second = a2["letter_id"].as_str().unwrap().to_owned();
    assert_eq!(
        ids(&queue),
        vec![urgent_id.clone(), first.clone(), second.clone()]
    );
    // The returning writer's case, for whoever answers: the first letter.
    let (s, case) = get(
        &app,
        &format!("/api/counsellor/letters/{second}/case"),
        Some(&aoki),
    )
    .await;
    assert_eq!(s, 200, "{case}");
    let earlier = &case["case"]["earlier"];
    assert_eq!(earlier.as_array().unwrap().len(), 1, "{case}");
    assert_eq!(earlier[0]["conversation_id"], first.as_str());
    assert_eq!(
        earlier[0]["messages"][0]["text"],
        "学校に行けなくなって半年です。親とも話せません。"
    );
    let listed = &queue["letters"][1];
    assert_eq!(
        listed["text"],
        "学校に行けなくなって半年です。親とも話せません。"
    );
    assert_eq!(listed["channel"], "web");
    assert_eq!(queue["letters"][0]["risk"], "urgent");
    assert_eq!(queue["letters"][2]["returning"], true);

    // Aoki answers the first; the same answer again stores nothing; a
    // colleague's answer to it is refused.
    let thanks = "お手紙ありがとうございます。よく書いてくれましたね。";
    for _ in 0..2 {
        let (s, r) = answer(&app, &aoki, &first, "ans-1", thanks).await;
        assert_eq!((s, r["seq"].as_u64()), (StatusCode::OK, Some(2)), "{r}");
    }
    let baba = staff_cookie(&app, "lt-baba", Role::Counsellor).await;
    let (s, r) = answer(&app, &baba, &first, "b-1", "二通目").await;
    assert_eq!(
        (s, r["code"].as_str()),
        (StatusCode::CONFLICT, Some("letter_answered"))
    );
    let (_, queue) = get(&app, "/api/counsellor/letters", Some(&aoki)).await;
    assert_eq!(ids(&queue), vec![urgent_id, second.clone()]);

    // The visitor reads with the code: both their letters, the answer
    // under the first.
    let (s, read) = post(
        &app,
        "/api/letters/read",
        None,
        json!({"return_code": code}),
    )
    .await;
    assert_eq!(s, 200, "{read}");
    assert_eq!(ids(&read), vec![first.clone(), second]);
    let answer = &read["letters"][0]["answer"];
    assert_eq!(
        answer["text"],
        "お手紙ありがとうございます。よく書いてくれましたね。"
    );
    assert_eq!(answer["name"], "lt-aoki-san");
    assert!(read["letters"][1].get("answer").is_none());
    // Reading marked it read.
    let rec = app
        .store
        .conversation(first.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.visitor_acked, 2);

    // A wrong code is refused like a wrong resume token.
    let (s, r) = post(
        &app,
        "/api/letters/read",
        None,
        json!({"return_code": "2222-3333-4444-5555-6666"}),
    )
    .await;
    assert_eq!(
        (s, r["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("resume_failed"))
    );

    // The report counts them: three letters, one answered, in about 59
    // hours; under the channel "letter", never as a chat's wait.
    let report = app.state.service.report("2026-12").await.unwrap();
    let r = serde_json::to_value(&report).unwrap();
    assert_eq!(r["letters"]["received"], 3, "{r}");
    assert_eq!(r["letters"]["answered"], 1);
    assert_eq!(r["tables"]["channel"]["letter"], 3);
    let secs = r["letter_answer_median_secs"].as_u64().unwrap();
    assert!((59 * 3600 - 5..59 * 3600 + 600).contains(&secs), "{secs}");
    assert_eq!(r["abandoned"], 0, "a waiting letter left no queue");
    assert!(r["wait_median_secs"].is_null());

    // Erasing the case erases the letters and their answer.
    let n = app
        .state
        .service
        .erase_case(first.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(n, 2);
    let (s, _) = post(
        &app,
        "/api/letters/read",
        None,
        json!({"return_code": code}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the code leads nowhere now");
}

#[tokio::test]
async fn a_line_user_writing_while_closed_gets_the_answer_pushed_once() {
    let line = StandIn::start().await;
    let app = closed_app(|s| line_settings(s, &line.base)).await;
    let user = user_id();
    assert_eq!(
        say(
            &app,
            &user,
            "01LT1",
            "夜遅くにすみません。相談したいです。",
            false
        )
        .await,
        200
    );
    let letter = conversation_of(&app, &user).await;
    eventually("the letter's receipt reaches LINE", || async {
        line.delivered_texts()
            .iter()
            .any(|t| t.contains("お手紙としてお預かりしました"))
    })
    .await;
    // Again while it waits: nothing stored, told to wait.
    assert_eq!(say(&app, &user, "01LT2", "まだですか", false).await, 200);
    eventually("told to wait for the answer", || async {
        line.delivered_texts()
            .iter()
            .any(|t| t.contains("お手紙はお預かりしています"))
    })
    .await;
    let waiting = app.store.waiting_letters().await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].id, letter);
    assert_eq!(waiting[0].channel, tsunagu::model::Channel::Line);

    // Monday: answered from the console; pushed exactly once.
    app.clock().set(MONDAY_0900);
    let aoki = staff_cookie(&app, "ltl-aoki", Role::Counsellor).await;
    let text = "お返事です。いつでもまた書いてください。";
    let (s, r) = answer(&app, &aoki, &letter.to_string(), "l-1", text).await;
    assert_eq!(s, 200, "{r}");
    eventually("the answer reaches LINE", || async {
        line.delivered_texts().iter().any(|t| t == text)
    })
    .await;
    // Past several catch-ups: still once, and no "chat ended" after it.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let texts = line.delivered_texts();
    assert_eq!(texts.iter().filter(|t| *t == text).count(), 1, "{texts:?}");
    assert!(
        !texts.iter().any(|t| t.contains("相談は終了しました")),
        "{texts:?}"
    );
    // The LINE user's case holds the letter.
    let case = app.store.case_of(letter).await.unwrap();
    assert!(case.is_some());
}

#[tokio::test]
async fn bad_letters_are_refused_and_change_nothing() {
    let app = closed_app(|s| {
        s.letters.per_address = 2;
        s.letters.max_chars = 100;
    })
    .await;
    let before = app.store.waiting_letters().await.unwrap().len();
    // Empty, too long, unknown field, malformed.
    let (s, r) = write(&app, json!({"text": "   "})).await;
    assert_eq!(
        (s, r["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("text_empty"))
    );
    let (s, r) = write(&app, json!({"text": "あ".repeat(101)})).await;
    assert_eq!(
        (s, r["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("text_too_long"))
    );
    let (s, _) = write(&app, json!({"text": "hi", "name": "me"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // A wrong code: refused, nothing stored.
    let (s, r) = write(&app, json!({"text": "hi", "return_code": "nope"})).await;
    assert_eq!(
        (s, r["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("resume_failed"))
    );
    // A foreign origin.
    let res = reqwest::Client::new()
        .post(app.url("/api/letters"))
        .header("origin", "https://evil.example")
        .json(&json!({"text": "hi"}))
        .send()
        .await
        .unwrap();
    let (s, r) = read_answer(&reqwest::Method::POST, res).await;
    assert_eq!(
        (s, r["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("origin_forbidden"))
    );
    assert_eq!(app.store.waiting_letters().await.unwrap().len(), before);

    // Two from one address, then the third is refused.
    for i in 0..2 {
        let (s, r) = write(&app, json!({"text": format!("手紙 {i}")})).await;
        assert_eq!(s, 201, "{r}");
    }
    let (s, r) = write(&app, json!({"text": "三通目"})).await;
    assert_eq!(
        (s, r["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    assert!(r["retry_after_ms"].as_u64().unwrap() > 0);
    assert_eq!(app.store.waiting_letters().await.unwrap().len(), before + 2);

    // The staff side: no session, a role that does not counsel, a
    // guessed id, a malformed id.
    let (s, r) = get(&app, "/api/counsellor/letters", None).await;
    assert_eq!(
        (s, r["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let intake = staff_cookie(&app, "lt-intake", Role::Intake).await;
    let (s, r) = get(&app, "/api/counsellor/letters", Some(&intake)).await;
    assert_eq!(
        (s, r["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let aoki = staff_cookie(&app, "lt-bad-aoki", Role::Counsellor).await;
    let guessed = uuid::Uuid::new_v4();
    let (s, r) = answer(&app, &aoki, &guessed.to_string(), "g", "?").await;
    assert_eq!(
        (s, r["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (s, _) = answer(&app, &aoki, "not-an-id", "g", "?").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A letter's case: not for a role that does not counsel, nor for an
    // id that is no waiting letter.
    for (who, status, code) in [
        (&aoki, StatusCode::NOT_FOUND, "not_found"),
        (&intake, StatusCode::FORBIDDEN, "forbidden"),
    ] {
        let (s, r) = get(
            &app,
            &format!("/api/counsellor/letters/{guessed}/case"),
            Some(who),
        )
        .await;
        assert_eq!((s, r["code"].as_str()), (status, Some(code)));
    }
    // A live chat is no letter.
    app.clock().set(MONDAY_0900);
    let (_, w) = app.start_visitor(json!({"type": "start"})).await;
    let chat = w["conversation_id"].as_str().unwrap();
    let (s, r) = answer(&app, &aoki, chat, "c", "?").await;
    assert_eq!(
        (s, r["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[tokio::test]
async fn the_letters_queue_has_a_bound() {
    let app = closed_app(|s| s.letters.max_waiting = 2).await;
    for i in 0..2 {
        let (s, r) = write(&app, json!({"text": format!("手紙 {i}")})).await;
        assert_eq!(s, 201, "{r}");
    }
    let (s, r) = write(&app, json!({"text": "三通目"})).await;
    assert_eq!(
        (s, r["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("letters_full"))
    );
    assert!(r["alternatives"].is_array());
    // An answered letter makes room.
    app.clock().set(MONDAY_0900);
    let aoki = staff_cookie(&app, "lq-aoki", Role::Counsellor).await;
    let first = app.store.waiting_letters().await.unwrap()[0].id;
    let (s, _) = answer(&app, &aoki, &first.to_string(), "a", "お返事").await;
    assert_eq!(s, 200);
    let (s, r) = write(&app, json!({"text": "三通目"})).await;
    assert_eq!(s, 201, "{r}");
}
