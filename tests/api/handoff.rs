//! The consented handoff end to end over real sockets and HTTP: a
//! counsellor offers, the visitor reads the summary word for word,
//! consents (or not), books, both sides see it, intake sees exactly what
//! was consented and every view is audited. Runs on every store of the
//! suite (memory, durable embedded, Redis).

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use tsunagu::model::Role;

use crate::helpers::{
    read_answer, spawn_app, spawn_app_with, wait_matched, Counsellor, TestApp, Ws,
};

const SUMMARY: &str = "高校2年。半年ほど学校に行けていない。\n母親と一緒に相談したい。<b>太字</b>";
const DAY_MS: u64 = 86_400_000;

fn now_ms() -> u64 {
    tsunagu::clock::now_ms()
}

/// A chat in progress: the visitor (socket, id, token) and its counsellor.
pub(crate) struct Chat {
    pub(crate) visitor: Ws,
    pub(crate) id: String,
    pub(crate) token: String,
    pub(crate) counsellor: Counsellor,
}

pub(crate) async fn chat(app: &TestApp, name: &str) -> Chat {
    let mut counsellor = app.counsellor(name).await;
    counsellor.available(4).await;
    let (mut visitor, welcome) = app
        .start_visitor(json!({"type": "start", "pre_chat": {"who": "self", "age_band": "teens"}}))
        .await;
    wait_matched(&mut visitor, &welcome).await;
    let id = welcome["conversation_id"].as_str().unwrap().to_owned();
    let token = welcome["resume_token"].as_str().unwrap().to_owned();
    counsellor.ws.recv_type("assigned").await;
    Chat {
        visitor,
        id,
        token,
        counsellor,
    }
}

pub(crate) async fn post(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut r = reqwest::Client::new().post(app.url(path)).json(&body);
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    read_answer(&reqwest::Method::POST, r.send().await.unwrap()).await
}

pub(crate) async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> (StatusCode, Value) {
    let mut r = reqwest::Client::new().get(app.url(path));
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    read_answer(&reqwest::Method::GET, r.send().await.unwrap()).await
}

pub(crate) async fn staff_cookie(app: &TestApp, name: &str, role: Role) -> String {
    app.add_account(name, &format!("{name}-san"), role).await;
    app.login(name).await
}

/// An admin creates a slot starting in `days` days; returns its id.
pub(crate) async fn slot(app: &TestApp, admin: &str, days: u64, capacity: u32) -> String {
    let (status, body) = post(
        app,
        "/api/admin/slots",
        Some(admin),
        json!({
            "starts_at": crate::helpers::office_hours_at(days, 10 * 60),
            "duration_mins": 60,
            "kind": "centre",
            "place": "本館 2F 相談室",
            "capacity": capacity,
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["slot_id"].as_str().unwrap().to_owned()
}

async fn offer(c: &mut Chat, include_transcript: bool) -> Value {
    c.counsellor
        .ws
        .send(json!({"type": "offer_handoff", "conversation_id": c.id,
            "summary": SUMMARY, "include_transcript": include_transcript}))
        .await;
    c.counsellor.ws.recv_type("handoff").await;
    c.visitor.recv_type("handoff").await["handoff"].clone()
}

async fn answer(app: &TestApp, c: &Chat, offered: &Value, body: Value) -> (StatusCode, Value) {
    let mut b = json!({
        "conversation_id": c.id,
        "token": c.token,
        "version": offered["version"],
        "wording_version": offered["terms"]["wording_version"],
        "lang": "ja",
    });
    b.as_object_mut()
        .unwrap()
        .extend(body.as_object().unwrap().clone());
    post(app, "/api/handoff/answer", None, b).await
}

pub(crate) async fn consent(app: &TestApp, c: &mut Chat, transcript: bool, contact: bool) -> Value {
    let offered = offer(c, transcript).await;
    let (status, body) = answer(
        app,
        c,
        &offered,
        json!({"answer": "consent", "transcript": transcript, "contact": contact}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["handoff"].clone()
}

pub(crate) async fn book(
    app: &TestApp,
    c: &Chat,
    slot_id: &str,
    contact: Value,
) -> (StatusCode, Value) {
    post(
        app,
        "/api/handoff/book",
        None,
        json!({"conversation_id": c.id, "token": c.token, "slot_id": slot_id,
            "name": "みどり", "contact": contact}),
    )
    .await
}

/// What most tests start from: an admin, an intake account, a slot of
/// `capacity` in two days, and a chat in progress (accounts numbered `n`).
struct Scene {
    admin: String,
    intake: String,
    slot_id: String,
    c: Chat,
}

async fn scene(app: &TestApp, n: u32, capacity: u32) -> Scene {
    let admin = staff_cookie(app, &format!("admin{n}"), Role::Admin).await;
    let intake = staff_cookie(app, &format!("intake{n}"), Role::Intake).await;
    let slot_id = slot(app, &admin, 2, capacity).await;
    let c = chat(app, &format!("couns{n}")).await;
    Scene {
        admin,
        intake,
        slot_id,
        c,
    }
}

/// The scene's visitor consents (contact details included if `contact`
/// is not `self`) and books its slot; returns the reference and the PIN.
async fn booked(app: &TestApp, s: &mut Scene, contact: Value) -> (String, String) {
    consent(app, &mut s.c, false, contact["kind"] != "self").await;
    let (status, receipt) = book(app, &s.c, &s.slot_id, contact).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    (
        receipt["booking"]["reference"].as_str().unwrap().to_owned(),
        receipt["pin"].as_str().unwrap().to_owned(),
    )
}

fn free_of(slots: &Value, id: &str) -> Option<u64> {
    slots
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slot_id"] == id)
        .map(|s| s["free"].as_u64().unwrap())
}

#[tokio::test]
async fn the_whole_path_offer_consent_book_and_intake_sees_exactly_the_consent() {
    let app = spawn_app().await;
    let admin = staff_cookie(&app, "admin1", Role::Admin).await;
    let intake = staff_cookie(&app, "intake1", Role::Intake).await;
    let slot_id = slot(&app, &admin, 3, 2).await;
    let mut c = chat(&app, "couns1").await;
    c.counsellor
        .ws
        .send(json!({"type": "note", "conversation_id": c.id, "text": "NOTE-MARKER private"}))
        .await;
    c.visitor
        .send(json!({"type": "send", "client_id": "m1", "text": "TRANSCRIPT-MARKER"}))
        .await;
    c.visitor.recv_type("sent").await;

    // The visitor sees the summary word for word, with who, why, how long.
    let offered = offer(&mut c, false).await;
    assert_eq!(offered["state"], "offered");
    assert_eq!(offered["summary"], SUMMARY);
    assert_eq!(offered["include_transcript"], false);
    assert!(offered["terms"]["recipient_ja"].as_str().unwrap().len() > 3);
    assert!(offered["terms"]["purpose_en"].as_str().unwrap().len() > 3);
    assert_eq!(offered["terms"]["retention_days"], 365);
    // The same through HTTP (what the booking page reads).
    let (status, shown) = post(
        &app,
        "/api/handoff",
        None,
        json!({"conversation_id": c.id, "token": c.token}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["handoff"]["summary"], SUMMARY);

    // Consent: both sides are told.
    let (status, body) = answer(
        &app,
        &c,
        &offered,
        json!({"answer": "consent", "transcript": false, "contact": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["handoff"]["state"], "consented");
    let v = c.visitor.recv_type("handoff").await;
    assert_eq!(v["handoff"]["consent"]["contact"], true);
    assert_eq!(v["handoff"]["consent"]["wording_version"], "2026-12/ja");
    let k = c.counsellor.ws.recv_type("handoff").await;
    assert_eq!(k["handoff"]["state"], "consented");

    // Book: reference, PIN, calendar; both sides see the booking.
    let (_, before) = get(&app, "/api/slots", None).await;
    assert_eq!(free_of(&before, &slot_id), Some(2));
    let (status, receipt) = book(
        &app,
        &c,
        &slot_id,
        json!({"kind": "phone", "value": "090-1234-5678"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let reference = receipt["booking"]["reference"].as_str().unwrap().to_owned();
    let pin = receipt["pin"].as_str().unwrap().to_owned();
    assert_eq!(reference.len(), 9);
    assert_eq!(pin.len(), 6);
    let ics = receipt["calendar"].as_str().unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR") && ics.contains(&reference));
    assert!(!ics.contains("090-1234-5678") && !ics.contains("みどり"));
    let v = c.visitor.recv_type("handoff").await;
    assert_eq!(v["handoff"]["booking"]["reference"], reference.as_str());
    assert_eq!(v["handoff"]["booking"]["slot"]["slot_id"], slot_id.as_str());
    let k = c.counsellor.ws.recv_type("handoff").await;
    assert_eq!(k["handoff"]["booking"]["slot"]["slot_id"], slot_id.as_str());
    assert!(
        k["handoff"]["booking"].get("reference").is_none(),
        "the reference is the visitor's"
    );
    let (_, after) = get(&app, "/api/slots", None).await;
    assert_eq!(free_of(&after, &slot_id), Some(1));

    // Intake: exactly the consented fields.
    let (status, list) = get(&app, "/api/intake/bookings", Some(&intake)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    let b = &list[0];
    assert_eq!(b["reference"], reference.as_str());
    assert_eq!(b["summary"], SUMMARY);
    assert_eq!(b["name"], "みどり");
    assert_eq!(
        b["contact"],
        json!({"kind": "phone", "value": "090-1234-5678"})
    );
    assert_eq!(b["transcript"], false);
    let fields: Vec<&str> = b.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    for never in [
        "pre_chat",
        "notes",
        "conversation_id",
        "risk",
        "first_message",
    ] {
        assert!(!fields.contains(&never), "intake must not see {never}");
    }
    let text = serde_json::to_string(&list).unwrap();
    assert!(!text.contains("NOTE-MARKER") && !text.contains("TRANSCRIPT-MARKER"));
    // The transcript was not consented.
    let (status, e) = get(
        &app,
        &format!("/api/intake/bookings/{reference}/transcript"),
        Some(&intake),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(e["code"], "outside_consent");

    // The visitor finds the booking later with reference and PIN.
    let (status, found) = post(
        &app,
        "/api/booking",
        None,
        json!({"reference": reference.to_lowercase().replace('-', ""), "pin": pin}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["state"], "booked");
    let cal = reqwest::Client::new()
        .post(app.url("/api/booking/calendar"))
        .json(&json!({"reference": reference, "pin": pin}))
        .send()
        .await
        .unwrap();
    assert_eq!(cal.status(), StatusCode::OK);
    assert!(cal.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));

    // Every intake view is in the audit log, which admins read.
    let (status, log) = get(&app, "/api/admin/audit", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // The refused transcript request is in it too (issue 27), newest first.
    assert_eq!(
        actions[0], "transcript_refused",
        "newest first: {actions:?}"
    );
    assert_eq!(log[0]["references"], json!([reference]));
    assert_eq!(log[0]["display_name"], "intake1-san");
    assert_eq!(actions[1], "list_bookings", "{actions:?}");
    assert!(actions.contains(&"create_slot"));
    assert_eq!(log[1]["references"], json!([reference]));
    assert_eq!(log[1]["display_name"], "intake1-san");
    assert_eq!(
        get(&app, "/api/admin/audit", Some(&intake)).await.0,
        StatusCode::FORBIDDEN
    );

    // The visitor cancels with the PIN: the place is free again, the
    // consent stays, intake's list is empty.
    let (status, _) = post(
        &app,
        "/api/booking/cancel",
        None,
        json!({"reference": reference, "pin": pin}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let v = c.visitor.recv_type("handoff").await;
    assert_eq!(v["handoff"]["state"], "consented");
    assert!(v["handoff"].get("booking").is_none());
    let (_, after) = get(&app, "/api/slots", None).await;
    assert_eq!(free_of(&after, &slot_id), Some(2));
    let (_, list) = get(&app, "/api/intake/bookings", Some(&intake)).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn a_consented_transcript_reaches_intake_but_never_the_notes() {
    let app = spawn_app().await;
    let admin = staff_cookie(&app, "admin2", Role::Admin).await;
    let intake = staff_cookie(&app, "intake2", Role::Intake).await;
    let slot_id = slot(&app, &admin, 2, 1).await;
    let mut c = chat(&app, "couns2").await;
    c.counsellor
        .ws
        .send(json!({"type": "note", "conversation_id": c.id, "text": "NOTE-MARKER"}))
        .await;
    c.counsellor.ws.recv_type("note_saved").await;
    c.visitor
        .send(json!({"type": "send", "client_id": "m1", "text": "こんにちは"}))
        .await;
    c.visitor.recv_type("sent").await;
    consent(&app, &mut c, true, false).await;
    // Without contact in the consent, only "I will call myself" is possible.
    let (status, e) = book(
        &app,
        &c,
        &slot_id,
        json!({"kind": "email", "value": "a@b.jp"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(e["code"], "outside_consent");
    let (status, receipt) = book(&app, &c, &slot_id, json!({"kind": "self"})).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let reference = receipt["booking"]["reference"].as_str().unwrap();
    let (_, list) = get(&app, "/api/intake/bookings", Some(&intake)).await;
    assert_eq!(list[0]["transcript"], true);
    assert!(list[0].get("contact").is_none(), "no contact was given");
    let (status, lines) = get(
        &app,
        &format!("/api/intake/bookings/{reference}/transcript"),
        Some(&intake),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{lines}");
    assert_eq!(lines[0]["text"], "こんにちは");
    assert!(!serde_json::to_string(&lines)
        .unwrap()
        .contains("NOTE-MARKER"));
    // Only intake reads it; a counsellor's session is refused.
    assert_eq!(
        get(
            &app,
            &format!("/api/intake/bookings/{reference}/transcript"),
            Some(&c.counsellor.cookie)
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&app, "/api/intake/bookings", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Attendance is recorded (for the statistics) and audited.
    let (status, _) = post(
        &app,
        &format!("/api/intake/bookings/{reference}/attended"),
        Some(&intake),
        json!({"attended": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = get(&app, "/api/intake/bookings", Some(&intake)).await;
    assert_eq!(list[0]["attended"], true);
    let (_, log) = get(&app, "/api/admin/audit", Some(&admin)).await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"view_transcript") && actions.contains(&"mark_attended"));
}

#[tokio::test]
async fn declining_leaves_no_booking_and_nothing_for_intake() {
    let app = spawn_app().await;
    let admin = staff_cookie(&app, "admin3", Role::Admin).await;
    let intake = staff_cookie(&app, "intake3", Role::Intake).await;
    let slot_id = slot(&app, &admin, 2, 2).await;
    let mut c = chat(&app, "couns3").await;
    let offered = offer(&mut c, false).await;
    let (status, body) = answer(&app, &c, &offered, json!({"answer": "decline"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["handoff"]["state"], "declined");
    assert_eq!(
        c.counsellor.ws.recv_type("handoff").await["handoff"]["state"],
        "declined"
    );
    let (status, e) = book(&app, &c, &slot_id, json!({"kind": "self"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(e["code"], "no_consent");
    let (_, list) = get(&app, "/api/intake/bookings", Some(&intake)).await;
    assert_eq!(list, json!([]));
    let (_, slots) = get(&app, "/api/slots", None).await;
    assert_eq!(free_of(&slots, &slot_id), Some(2));
    // The chat goes on as before.
    c.visitor
        .send(json!({"type": "send", "client_id": "after", "text": "ありがとう"}))
        .await;
    c.visitor.recv_type("sent").await;
    c.counsellor.ws.recv_type("message").await;
}

#[tokio::test]
async fn a_change_request_then_a_revised_offer_and_a_stale_answer_is_refused() {
    let app = spawn_app().await;
    let mut c = chat(&app, "couns4").await;
    let v1 = offer(&mut c, false).await;
    let (status, body) = answer(&app, &c, &v1, json!({"answer": "change"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["handoff"]["state"], "change_requested");
    assert_eq!(
        c.counsellor.ws.recv_type("handoff").await["handoff"]["state"],
        "change_requested"
    );
    c.visitor.recv_type("handoff").await;
    c.counsellor
        .ws
        .send(json!({"type": "offer_handoff", "conversation_id": c.id, "summary": "直しました"}))
        .await;
    let v2 = c.visitor.recv_type("handoff").await["handoff"].clone();
    assert_eq!(
        (v2["version"].as_u64(), v2["summary"].as_str()),
        (Some(2), Some("直しました"))
    );
    // Agreeing to what the visitor saw before is refused.
    let (status, e) = answer(&app, &c, &v1, json!({"answer": "consent"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(e["code"], "offer_changed");
    let mut stale_wording = v2.clone();
    stale_wording["terms"]["wording_version"] = json!("2001-01");
    let (_, e) = answer(&app, &c, &stale_wording, json!({"answer": "consent"})).await;
    assert_eq!(e["code"], "offer_changed");
    // The transcript was not offered: it cannot be agreed to.
    let (status, e) = answer(
        &app,
        &c,
        &v2,
        json!({"answer": "consent", "transcript": true}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(e["code"], "outside_consent");
    let (status, body) = answer(&app, &c, &v2, json!({"answer": "consent"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["handoff"]["consent"]["transcript"], false);
    // Answered once; a new offer needs the consent withdrawn first.
    let (_, e) = answer(&app, &c, &v2, json!({"answer": "decline"})).await;
    assert_eq!(e["code"], "already_answered");
    c.counsellor
        .ws
        .send(json!({"type": "offer_handoff", "conversation_id": c.id, "summary": "もう一度"}))
        .await;
    assert_eq!(
        c.counsellor.ws.expect_error("already_consented").await["conversation_id"],
        c.id.as_str()
    );
}

#[tokio::test]
async fn withdrawing_consent_hides_everything_and_frees_the_place() {
    let app = spawn_app().await;
    let mut sc = scene(&app, 5, 1).await;
    let (reference, pin) = booked(
        &app,
        &mut sc,
        json!({"kind": "email", "value": "midori@example.jp"}),
    )
    .await;
    let Scene {
        admin,
        intake,
        slot_id,
        c,
    } = sc;
    let (_, list) = get(&app, "/api/intake/bookings", Some(&intake)).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    // The slot cannot be cancelled under a booking.
    let (status, e) = post(
        &app,
        &format!("/api/admin/slots/{slot_id}/cancel"),
        Some(&admin),
        json!({}),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::CONFLICT, Some("slot_booked"))
    );

    let (status, body) = post(
        &app,
        "/api/handoff/withdraw",
        None,
        json!({"conversation_id": c.id, "token": c.token}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["handoff"]["state"], "withdrawn");
    assert!(
        body["handoff"]["consent"]["withdrawn_at"].is_u64(),
        "the record is kept"
    );
    let (_, list) = get(&app, "/api/intake/bookings", Some(&intake)).await;
    assert_eq!(list, json!([]), "nothing visible to intake");
    let (_, slots) = get(&app, "/api/slots", None).await;
    assert_eq!(
        free_of(&slots, &slot_id),
        Some(1),
        "the place is free again"
    );
    let (_, found) = post(
        &app,
        "/api/booking",
        None,
        json!({"reference": reference, "pin": pin}),
    )
    .await;
    assert_eq!(found["state"], "cancelled");
    let (status, e) = post(
        &app,
        "/api/booking/cancel",
        None,
        json!({"reference": reference, "pin": pin}),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("booking_not_found"))
    );
    let (status, e) = post(
        &app,
        "/api/handoff/withdraw",
        None,
        json!({"conversation_id": c.id, "token": c.token}),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::CONFLICT, Some("no_consent"))
    );
    // Now the slot can go.
    let (status, s) = post(
        &app,
        &format!("/api/admin/slots/{slot_id}/cancel"),
        Some(&admin),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s["cancelled"], true);
    let (_, slots) = get(&app, "/api/slots", None).await;
    assert_eq!(
        free_of(&slots, &slot_id),
        None,
        "a cancelled slot is not offered"
    );
}

#[tokio::test]
async fn fifty_concurrent_bookings_for_a_slot_of_two_give_exactly_two() {
    let app = spawn_app().await;
    let admin = staff_cookie(&app, "admin6", Role::Admin).await;
    let slot_id = slot(&app, &admin, 4, 2).await;
    let mut chats = Vec::new();
    // Kept open for the whole test: their conversations stay active.
    let mut counsellors = Vec::new();
    for i in 0..10 {
        let mut counsellor = app.counsellor(&format!("c6-{i}")).await;
        counsellor.available(5).await;
        for _ in 0..5 {
            let (mut visitor, welcome) = app.start_visitor(json!({"type": "start"})).await;
            wait_matched(&mut visitor, &welcome).await;
            let id = welcome["conversation_id"].as_str().unwrap().to_owned();
            let token = welcome["resume_token"].as_str().unwrap().to_owned();
            counsellor
                .ws
                .send(json!({"type": "offer_handoff", "conversation_id": id, "summary": "s"}))
                .await;
            let offered = visitor.recv_type("handoff").await["handoff"].clone();
            let (status, _) = post(
                &app,
                "/api/handoff/answer",
                None,
                json!({"conversation_id": id, "token": token, "version": offered["version"],
                    "wording_version": offered["terms"]["wording_version"], "lang": "en",
                    "answer": "consent"}),
            )
            .await;
            assert_eq!(status, StatusCode::OK);
            chats.push((visitor, id, token));
        }
        counsellors.push(counsellor);
    }
    let results = join_all(chats.iter().map(|(_, id, token)| {
        post(
            &app,
            "/api/handoff/book",
            None,
            json!({"conversation_id": id, "token": token, "slot_id": slot_id,
                "contact": {"kind": "self"}}),
        )
    }))
    .await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let full = results
        .iter()
        .filter(|(s, b)| *s == StatusCode::CONFLICT && b["code"] == "slot_full")
        .count();
    assert_eq!((created, full), (2, 48), "{results:?}");
    let (_, slots) = get(&app, "/api/admin/slots", Some(&admin)).await;
    assert_eq!(free_of(&slots, &slot_id), Some(0));
}

#[tokio::test]
async fn bad_handoff_input_is_refused_with_its_code_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = staff_cookie(&app, "admin7", Role::Admin).await;
    let slot_id = slot(&app, &admin, 2, 2).await;
    let mut c = chat(&app, "couns7").await;
    let other = app.counsellor("other7").await;

    // A counsellor offering in a conversation that is not theirs.
    let mut o = other;
    o.ws.send(json!({"type": "offer_handoff", "conversation_id": c.id, "summary": "x"}))
        .await;
    o.ws.expect_error("not_your_conversation").await;
    c.counsellor
        .ws
        .send(json!({"type": "offer_handoff", "conversation_id": c.id, "summary": "  "}))
        .await;
    c.counsellor.ws.expect_error("text_empty").await;
    c.counsellor
        .ws
        .send(
            json!({"type": "offer_handoff", "conversation_id": c.id, "summary": "x".repeat(2001)}),
        )
        .await;
    c.counsellor.ws.expect_error("text_too_long").await;
    c.counsellor
        .ws
        .send(json!({"type": "offer_handoff", "conversation_id": c.id}))
        .await;
    c.counsellor.ws.expect_error("invalid_message").await;
    let who = json!({"conversation_id": c.id, "token": c.token});
    let (_, shown) = post(&app, "/api/handoff", None, who.clone()).await;
    assert_eq!(shown["handoff"], Value::Null, "nothing was offered");

    // Answering or booking with nothing offered.
    let none = json!({"version": 1, "terms": {"wording_version": "2026-12"}});
    let (_, e) = answer(&app, &c, &none, json!({"answer": "consent"})).await;
    assert_eq!(e["code"], "no_offer");
    let (_, e) = book(&app, &c, &slot_id, json!({"kind": "self"})).await;
    assert_eq!(e["code"], "no_consent");

    // A wrong token or a guessed conversation id.
    let offered = offer(&mut c, false).await;
    let mut forged = json!({"conversation_id": c.id, "token": "x".repeat(43)});
    let (status, e) = post(&app, "/api/handoff", None, forged.clone()).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("resume_failed"))
    );
    forged["conversation_id"] = json!(uuid::Uuid::new_v4());
    forged["token"] = json!(c.token);
    let (_, e) = post(&app, "/api/handoff/withdraw", None, forged).await;
    assert_eq!(e["code"], "resume_failed");
    // Malformed bodies.
    let (status, e) = post(
        &app,
        "/api/handoff/answer",
        None,
        json!({"conversation_id": c.id}),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let bad = reqwest::Client::new()
        .post(app.url("/api/handoff/book"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    // A foreign Origin.
    let foreign = reqwest::Client::new()
        .post(app.url("/api/handoff"))
        .header("origin", "https://evil.example")
        .json(&who)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        foreign.json::<Value>().await.unwrap()["code"],
        "origin_forbidden"
    );

    let (status, _) = answer(
        &app,
        &c,
        &offered,
        json!({"answer": "consent", "contact": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Malformed contact details, an over-long name, unknown and full slots.
    for contact in [
        json!({"kind": "phone", "value": "12-34"}),
        json!({"kind": "email", "value": "not-an-address"}),
        json!({"kind": "fax", "value": "0312345678"}),
    ] {
        let (status, e) = book(&app, &c, &slot_id, contact).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_contact"))
        );
    }
    let (status, e) = post(
        &app,
        "/api/handoff/book",
        None,
        json!({"conversation_id": c.id, "token": c.token, "slot_id": slot_id,
            "name": "長".repeat(41), "contact": {"kind": "self"}}),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (_, e) = book(
        &app,
        &c,
        &uuid::Uuid::new_v4().to_string(),
        json!({"kind": "self"}),
    )
    .await;
    assert_eq!(e["code"], "slot_unavailable");
    let (_, slots) = get(&app, "/api/slots", None).await;
    assert_eq!(free_of(&slots, &slot_id), Some(2), "nothing was booked");

    // Slots: only admins; in the past; bad fields; outside opening hours.
    let past = json!({"starts_at": now_ms() - DAY_MS, "duration_mins": 60, "kind": "online",
        "place": "オンライン", "capacity": 1});
    let (status, e) = post(&app, "/api/admin/slots", Some(&admin), past).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let zero = json!({"starts_at": now_ms() + DAY_MS, "duration_mins": 60, "kind": "online",
        "place": "x", "capacity": 0});
    assert_eq!(
        post(&app, "/api/admin/slots", Some(&admin), zero).await.0,
        StatusCode::BAD_REQUEST
    );
    let ok = json!({"starts_at": crate::helpers::office_hours_at(1, 10 * 60), "duration_mins": 60, "kind": "home_visit",
        "place": "ご自宅", "capacity": 1});
    assert_eq!(
        post(
            &app,
            "/api/admin/slots",
            Some(&c.counsellor.cookie),
            ok.clone()
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&app, "/api/admin/slots", None, ok).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, e) = post(
        &app,
        &format!("/api/admin/slots/{}/cancel", uuid::Uuid::new_v4()),
        Some(&admin),
        json!({}),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[tokio::test]
async fn slots_outside_the_opening_hours_are_refused() {
    let app = spawn_app_with(|s| s.hours.always_open = false).await;
    let admin = staff_cookie(&app, "admin8", Role::Admin).await;
    // Next Sunday 10:00 Japan time: closed by the default weekly hours.
    let (date, _) = tsunagu::core::hours::jst_date_minute(now_ms() + 7 * DAY_MS);
    let days_to_sunday = (7 - date.weekday().number_days_from_sunday() as u64) % 7;
    let sunday = date + time::Duration::days(days_to_sunday as i64);
    let at = tsunagu::core::hours::jst_ms(sunday, 10 * 60);
    let (status, e) = post(
        &app,
        "/api/admin/slots",
        Some(&admin),
        json!({"starts_at": at, "duration_mins": 60, "kind": "centre", "place": "本館", "capacity": 2}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["message"].as_str().unwrap().contains("opening hours"));
}

#[tokio::test]
async fn a_guessed_reference_or_pin_is_refused_and_rate_limited() {
    let app = spawn_app_with(|s| {
        // Three tries per address at once, then one a minute. (There is no
        // limit per reference any more: it let a stranger lock the owner
        // out; wrong PINs lock the reference instead, see pin_guard.rs.)
        s.limits.booking_lookups_per_ip_per_min = 1;
        s.limits.booking_lookups_burst = 3;
    })
    .await;
    let mut sc = scene(&app, 9, 2).await;
    let (reference, pin) = booked(&app, &mut sc, json!({"kind": "self"})).await;
    let (pin, slot_id) = (pin.as_str(), sc.slot_id);
    let wrong = if pin == "000000" { "000001" } else { "000000" };
    // Wrong PIN and unknown reference answer the same.
    let (status, e) = post(
        &app,
        "/api/booking",
        None,
        json!({"reference": reference, "pin": wrong}),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("booking_not_found"))
    );
    let (status, e) = post(
        &app,
        "/api/booking",
        None,
        json!({"reference": "ZZZZ-ZZZZ", "pin": pin}),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("booking_not_found"))
    );
    let (status, _) = post(
        &app,
        "/api/booking/cancel",
        None,
        json!({"reference": reference, "pin": "12ab56"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The address's budget is spent: even the right PIN waits now.
    let (status, e) = post(
        &app,
        "/api/booking",
        None,
        json!({"reference": reference, "pin": pin}),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    assert!(e["retry_after_ms"].as_u64().unwrap() > 0);
    // Nothing was cancelled by the guesses.
    let (_, slots) = get(&app, "/api/slots", None).await;
    assert_eq!(free_of(&slots, &slot_id), Some(1));
}

#[tokio::test]
async fn the_handoff_is_told_again_after_a_reconnect_on_both_sides() {
    let app = spawn_app().await;
    let mut sc = scene(&app, 10, 2).await;
    booked(&app, &mut sc, json!({"kind": "self"})).await;
    let Scene { slot_id, c, .. } = sc;
    c.visitor.drop_connection();
    let mut v = app.visitor().await;
    v.send(json!({"type": "resume", "conversation_id": c.id, "token": c.token, "last_seq": 0}))
        .await;
    let h = v.recv_type("handoff").await;
    assert_eq!(h["handoff"]["state"], "consented");
    assert_eq!(h["handoff"]["booking"]["slot"]["slot_id"], slot_id.as_str());
    let (mut k, _) = app
        .reconnect_counsellor(&c.counsellor.cookie, json!({}))
        .await;
    let h = k.recv_type("handoff").await;
    assert_eq!(h["conversation_id"], c.id.as_str());
    assert_eq!(h["handoff"]["booking"]["slot"]["slot_id"], slot_id.as_str());
}

#[tokio::test]
async fn consent_can_be_withdrawn_with_the_reference_and_pin_alone() {
    let app = spawn_app().await;
    let mut sc = scene(&app, 11, 1).await;
    let (reference, pin) = booked(
        &app,
        &mut sc,
        json!({"kind": "phone", "value": "0312345678"}),
    )
    .await;
    let Scene {
        intake,
        slot_id,
        mut c,
        ..
    } = sc;
    // The chat tab is gone: only the reference and the PIN are left.
    c.visitor.drop_connection();
    let (status, e) = post(
        &app,
        "/api/booking/withdraw",
        None,
        json!({"reference": reference, "pin": "999999"}),
    )
    .await;
    if pin != "999999" {
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("booking_not_found"))
        );
    }
    let (status, body) = post(
        &app,
        "/api/booking/withdraw",
        None,
        json!({"reference": reference, "pin": pin}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["handoff"]["state"], "withdrawn");
    assert_eq!(
        get(&app, "/api/intake/bookings", Some(&intake)).await.1,
        json!([])
    );
    let (_, slots) = get(&app, "/api/slots", None).await;
    assert_eq!(free_of(&slots, &slot_id), Some(1));
    let (_, e) = post(
        &app,
        "/api/booking/withdraw",
        None,
        json!({"reference": reference, "pin": pin}),
    )
    .await;
    assert_eq!(e["code"], "no_consent");
    // The counsellor is told too.
    loop {
        let h = c.counsellor.ws.recv_type("handoff").await;
        if h["handoff"]["state"] == "withdrawn" {
            assert!(h["handoff"].get("booking").is_none());
            break;
        }
    }
}

/// Issue 27, point 8: the tests' chat is `always_open`, yet a slot at
/// 00:00 Japan time is refused: appointments keep the weekly office hours.
#[tokio::test]
async fn with_always_open_hours_a_slot_at_midnight_is_still_refused() {
    let app = spawn_app().await;
    assert!(app.state.settings.hours.always_open);
    let admin = staff_cookie(&app, "admin27", Role::Admin).await;
    let ten = crate::helpers::office_hours_at(2, 10 * 60);
    let (date, _) = tsunagu::core::hours::jst_date_minute(ten);
    let midnight = tsunagu::core::hours::jst_ms(date, 0);
    let body = |at: u64| json!({"starts_at": at, "duration_mins": 60, "kind": "online", "place": "オンライン", "capacity": 1});
    let (status, e) = post(&app, "/api/admin/slots", Some(&admin), body(midnight)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["code"], "bad_request");
    assert!(
        e["message"].as_str().unwrap().contains("[[hours.weekly]]"),
        "{e}"
    );
    let (_, slots) = get(&app, "/api/admin/slots", Some(&admin)).await;
    assert_eq!(
        slots.as_array().map(Vec::len),
        Some(0),
        "nothing was created: {slots}"
    );
    let (status, s) = post(&app, "/api/admin/slots", Some(&admin), body(ten)).await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
}
