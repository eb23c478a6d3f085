//! Moving a booking to another slot (issue 19): one atomic step on every
//! store, from the chat (resume token) and from the look-up page
//! (reference and PIN), under the rules of a new booking; the neutral
//! calendar title; the contact choice that needs no phone call; the texts
//! that explain the first consultation. Runs on every store of the suite
//! (memory, durable embedded, Redis).

use std::collections::HashMap;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use tsunagu::model::Role;

use crate::handoff::{book, chat, consent, get, post, slot, staff_cookie, Chat};
use crate::helpers::{spawn_app, spawn_app_with, wait_matched};

fn free(slots: &Value, id: &str) -> u64 {
    slots
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slot_id"] == id)
        .map(|s| s["free"].as_u64().unwrap())
        .unwrap_or_else(|| panic!("slot {id} not listed: {slots}"))
}

/// The slot the conversation's booking is in now, read with its token.
async fn booked_slot(app: &crate::helpers::TestApp, id: &str, token: &str) -> String {
    let (status, body) = post(
        app,
        "/api/handoff",
        None,
        json!({"conversation_id": id, "token": token}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["handoff"]["booking"]["slot"]["slot_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no booking: {body}"))
        .to_owned()
}

#[tokio::test]
async fn fifty_concurrent_reschedules_into_a_slot_of_two_move_exactly_two() {
    let app = spawn_app().await;
    let admin = staff_cookie(&app, "admin-r1", Role::Admin).await;
    // 50 bookings spread over three slots of 20 (the most a slot takes),
    // then all 50 move at once into one slot of two.
    let origins = [
        slot(&app, &admin, 3, 20).await,
        slot(&app, &admin, 3, 20).await,
        slot(&app, &admin, 3, 20).await,
    ];
    let target = slot(&app, &admin, 5, 2).await;
    let mut chats = Vec::new();
    let mut counsellors = Vec::new();
    for i in 0..10 {
        let mut counsellor = app.counsellor(&format!("c-r1-{i}")).await;
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
                    "wording_version": offered["terms"]["wording_version"], "lang": "ja",
                    "answer": "consent"}),
            )
            .await;
            assert_eq!(status, StatusCode::OK);
            let origin = origins[chats.len() % 3].clone();
            let (status, body) = post(
                &app,
                "/api/handoff/book",
                None,
                json!({"conversation_id": id, "token": token, "slot_id": origin,
                    "contact": {"kind": "self"}, "contact_choice": "no_contact"}),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            chats.push((visitor, id, token, origin));
        }
        counsellors.push(counsellor);
    }
    let (_, before) = get(&app, "/api/admin/slots", Some(&admin)).await;
    let free_before: u64 = origins.iter().map(|o| free(&before, o)).sum();
    assert_eq!(free_before, 10, "60 places, 50 taken");

    let results = join_all(chats.iter().map(|(_, id, token, _)| {
        post(
            &app,
            "/api/handoff/reschedule",
            None,
            json!({"conversation_id": id, "token": token, "slot_id": target}),
        )
    }))
    .await;
    let moved: Vec<usize> = (0..results.len())
        .filter(|&i| results[i].0 == StatusCode::OK)
        .collect();
    let full = results
        .iter()
        .filter(|(s, b)| *s == StatusCode::CONFLICT && b["code"] == "slot_full")
        .count();
    assert_eq!((moved.len(), full), (2, 48), "{results:?}");
    for &i in &moved {
        assert_eq!(results[i].1["booking"]["slot"]["slot_id"], target.as_str());
    }

    // The two are in the target; every loser is still where it was.
    for (i, (_, id, token, origin)) in chats.iter().enumerate() {
        let now = booked_slot(&app, id, token).await;
        if moved.contains(&i) {
            assert_eq!(now, target);
        } else {
            assert_eq!(&now, origin, "a refused move leaves the booking in place");
        }
    }
    // Counts: the target is full, the origins freed exactly two places.
    let (_, after) = get(&app, "/api/admin/slots", Some(&admin)).await;
    assert_eq!(free(&after, &target), 0);
    let free_after: u64 = origins.iter().map(|o| free(&after, o)).sum();
    assert_eq!(free_after, free_before + 2);
    // And the store's booking lists agree with the counts.
    let mut per_slot: HashMap<String, usize> = HashMap::new();
    for (_, id, token, _) in &chats {
        *per_slot
            .entry(booked_slot(&app, id, token).await)
            .or_default() += 1;
    }
    assert_eq!(per_slot.get(&target), Some(&2));
}

/// A consented chat with a booking in `from`: (chat, reference, PIN).
async fn booked_chat(
    app: &crate::helpers::TestApp,
    name: &str,
    from: &str,
    contact: Value,
    choice: &str,
) -> (Chat, String, String, Value) {
    let mut c = chat(app, name).await;
    consent(app, &mut c, false, contact["kind"] != "self").await;
    let (status, receipt) = post(
        app,
        "/api/handoff/book",
        None,
        json!({"conversation_id": c.id, "token": c.token, "slot_id": from,
            "contact": contact, "contact_choice": choice, "lang": "en"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let reference = receipt["booking"]["reference"].as_str().unwrap().to_owned();
    let pin = receipt["pin"].as_str().unwrap().to_owned();
    (c, reference, pin, receipt)
}

#[tokio::test]
async fn a_booking_moves_with_its_reference_and_pin_and_bad_moves_change_nothing() {
    // Every look-up here comes from one address: lift the per-address limit.
    let app = spawn_app_with(|s| {
        s.limits.booking_lookups_per_ip_per_min = 1000;
        s.limits.booking_lookups_burst = 1000;
    })
    .await;
    let admin = staff_cookie(&app, "admin-r2", Role::Admin).await;
    let from = slot(&app, &admin, 2, 2).await;
    let to = slot(&app, &admin, 3, 1).await;
    let full = slot(&app, &admin, 4, 1).await;
    let (c, reference, pin, receipt) =
        booked_chat(&app, "c-r2", &from, json!({"kind": "self"}), "no_contact").await;
    // The calendar file: the neutral English title, no centre name.
    let ics = receipt["calendar"].as_str().unwrap();
    assert!(ics.contains("SUMMARY:Appointment\r\n"), "{ics}");
    assert!(ics.contains("DESCRIPTION:Ref: "), "{ics}");
    assert!(
        !ics.contains("センター") && !ics.contains("Centre"),
        "{ics}"
    );
    // Someone else fills `full`.
    let (c2, ..) = booked_chat(&app, "c-r2b", &full, json!({"kind": "self"}), "self_call").await;

    let by_pin = |slot_id: &str, pin: &str| json!({"reference": reference, "pin": pin, "slot_id": slot_id, "lang": "ja"});
    // Refusals, each with its code, and nothing changes.
    let refusals = [
        (by_pin(&from, &pin), StatusCode::CONFLICT, "same_slot"),
        (by_pin(&full, &pin), StatusCode::CONFLICT, "slot_full"),
        (
            by_pin("00000000-0000-4000-8000-000000000000", &pin),
            StatusCode::CONFLICT,
            "slot_unavailable",
        ),
        (
            by_pin(&to, "000000"),
            StatusCode::NOT_FOUND,
            "booking_not_found",
        ),
        (
            json!({"reference": reference, "pin": pin, "slot_id": "nope"}),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ];
    for (body, status, code) in refusals {
        let (s, b) = post(&app, "/api/booking/reschedule", None, body.clone()).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (status, Some(code)),
            "{body} -> {b}"
        );
    }
    let (_, slots) = get(&app, "/api/admin/slots", Some(&admin)).await;
    assert_eq!((free(&slots, &from), free(&slots, &to)), (1, 1));
    assert_eq!(booked_slot(&app, &c.id, &c.token).await, from);

    // The move: the same reference and PIN, in the new slot; the old
    // place is free again.
    let (s, moved) = post(&app, "/api/booking/reschedule", None, by_pin(&to, &pin)).await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    assert_eq!(moved["booking"]["reference"], reference.as_str());
    assert_eq!(moved["booking"]["slot"]["slot_id"], to.as_str());
    assert!(moved["calendar"]
        .as_str()
        .unwrap()
        .contains("SUMMARY:予約\r\n"));
    let (s, looked) = post(
        &app,
        "/api/booking",
        None,
        json!({"reference": reference, "pin": pin}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{looked}");
    assert_eq!(looked["slot"]["slot_id"], to.as_str());
    assert_eq!(looked["contact_choice"], "no_contact");
    let (_, slots) = get(&app, "/api/admin/slots", Some(&admin)).await;
    assert_eq!((free(&slots, &from), free(&slots, &to)), (2, 0));
    assert_eq!(booked_slot(&app, &c.id, &c.token).await, to);

    // Back again from the chat, with the resume token.
    let (s, back) = post(
        &app,
        "/api/handoff/reschedule",
        None,
        json!({"conversation_id": c.id, "token": c.token, "slot_id": from}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{back}");
    let (_, slots) = get(&app, "/api/admin/slots", Some(&admin)).await;
    assert_eq!((free(&slots, &from), free(&slots, &to)), (1, 1));

    // A wrong token is refused; a cancelled booking cannot be moved.
    let (s, b) = post(
        &app,
        "/api/handoff/reschedule",
        None,
        json!({"conversation_id": c.id, "token": "x".repeat(43), "slot_id": to}),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("resume_failed")),
        "{b}"
    );
    let (s, _) = post(
        &app,
        "/api/booking/cancel",
        None,
        json!({"reference": reference, "pin": pin}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = post(&app, "/api/booking/reschedule", None, by_pin(&to, &pin)).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("booking_not_found")),
        "{b}"
    );
    let (s, b) = post(
        &app,
        "/api/handoff/reschedule",
        None,
        json!({"conversation_id": c.id, "token": c.token, "slot_id": to}),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("booking_not_found")),
        "{b}"
    );
    let (_, slots) = get(&app, "/api/admin/slots", Some(&admin)).await;
    assert_eq!((free(&slots, &from), free(&slots, &to)), (2, 1));
    drop(c2);
}

#[tokio::test]
async fn the_contact_choice_is_checked_stored_and_shown_to_intake() {
    let app = spawn_app().await;
    let admin = staff_cookie(&app, "admin-r3", Role::Admin).await;
    let intake = staff_cookie(&app, "intake-r3", Role::Intake).await;
    let s = slot(&app, &admin, 2, 5).await;
    let mut c = chat(&app, "c-r3").await;
    consent(&app, &mut c, false, true).await;
    // Choices that do not fit the contact given are refused.
    for (contact, choice) in [
        (json!({"kind": "self"}), "message"),
        (json!({"kind": "email", "value": "a@example.jp"}), "call"),
        (
            json!({"kind": "phone", "value": "090-1234-5678"}),
            "no_contact",
        ),
        (json!({"kind": "self"}), "carrier_pigeon"),
    ] {
        let (st, b) = post(
            &app,
            "/api/handoff/book",
            None,
            json!({"conversation_id": c.id, "token": c.token, "slot_id": s,
                "contact": contact, "contact_choice": choice}),
        )
        .await;
        assert_eq!(
            (st, b["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_contact")),
            "{choice}: {b}"
        );
    }
    let (_, slots) = get(&app, "/api/slots", None).await;
    assert_eq!(free(&slots, &s), 5, "no refused booking took a place");
    // A short message by e-mail: stored with the booking, shown to intake.
    let (st, b) = post(
        &app,
        "/api/handoff/book",
        None,
        json!({"conversation_id": c.id, "token": c.token, "slot_id": s,
            "contact": {"kind": "email", "value": "midori@example.jp"},
            "contact_choice": "message"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let (st, list) = get(&app, "/api/intake/bookings", Some(&intake)).await;
    assert_eq!(st, StatusCode::OK, "{list}");
    let mine = list
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["reference"] == b["booking"]["reference"])
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(mine["contact_choice"], "message");
    assert_eq!(mine["contact"]["value"], "midori@example.jp");

    // Without a choice, an old client's booking implies one.
    let mut c2 = chat(&app, "c-r3b").await;
    consent(&app, &mut c2, false, false).await;
    let (st, b2) = book(&app, &c2, &s, json!({"kind": "self"})).await;
    assert_eq!(st, StatusCode::CREATED, "{b2}");
    let (_, list) = get(&app, "/api/intake/bookings", Some(&intake)).await;
    let theirs = list
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["reference"] == b2["booking"]["reference"])
        .unwrap();
    assert_eq!(theirs["contact_choice"], "self_call");
    assert!(theirs.get("contact").is_none());
}

#[tokio::test]
async fn the_handoff_explains_the_first_consultation_and_the_titles_are_configurable() {
    let app = spawn_app_with(|s| {
        s.handoff.appointment_title_ja = "歯医者".into();
        s.handoff.calendar_organiser = "相談室A".into();
        s.handoff.centre_contact_ja = "03-0000-0000（平日 9-17時）".into();
    })
    .await;
    let (st, info) = get(&app, "/api/handoff/info", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(info["appointment_title_ja"], "歯医者");
    assert_eq!(info["appointment_title_en"], "Appointment");
    assert_eq!(info["centre_contact_ja"], "03-0000-0000（平日 9-17時）");
    assert_eq!(info["centre_contact_en"], "");
    let first = info["first_consultation_ja"].as_str().unwrap();
    assert!(
        first.contains("同意なし") && first.contains("オンライン"),
        "{first}"
    );
    let first_en = info["first_consultation_en"].as_str().unwrap();
    assert!(first_en.contains("consent") && first_en.contains("online"));

    let admin = staff_cookie(&app, "admin-r4", Role::Admin).await;
    let s = slot(&app, &admin, 2, 2).await;
    let mut c = chat(&app, "c-r4").await;
    let consented = consent(&app, &mut c, false, false).await;
    // The offer's terms carry the same texts (shown before consent).
    assert_eq!(consented["terms"]["first_consultation_ja"], first);
    assert!(consented["terms"]["bring_en"].as_str().unwrap().len() > 5);
    let (st, receipt) = book(&app, &c, &s, json!({"kind": "self"})).await;
    assert_eq!(st, StatusCode::CREATED);
    let ics = receipt["calendar"].as_str().unwrap();
    assert!(ics.contains("SUMMARY:歯医者\r\n"), "{ics}");
    assert!(ics.contains("DESCRIPTION:相談室A\\nRef: "), "{ics}");
}
