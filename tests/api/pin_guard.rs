//! Booking PINs against guessing (issue 18): wrong PINs lock a reference
//! for the whole deployment, the right PIN cannot be kept refused by a
//! stranger's rate limit, the owner (resume token) or intake get a new
//! PIN, and the stored hash is keyed with a server secret.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use tsunagu::config::Settings;
use tsunagu::core::handoff::BookingRef;
use tsunagu::model::{BookingOp, HandoffWrite, Role};

use crate::handoff::{chat, consent, post, slot, staff_cookie, Chat};
use crate::helpers::{
    purge_blocking, spawn_app_with, suite_on_embedded, test_redis_url, unique_prefix, TestApp,
};

/// The documented default of `limits.booking_pin_failures`.
const LIMIT: u32 = 10;

/// Look-ups are not limited per address in these tests (all come from
/// 127.0.0.1); the default failure limit stays.
fn lenient(s: &mut Settings) {
    s.limits.booking_lookups_per_ip_per_min = 1_000_000;
    s.limits.booking_lookups_burst = 100_000;
    assert_eq!(
        s.limits.booking_pin_failures, LIMIT,
        "the documented default"
    );
}

/// A visitor with a booking in force: the chat, its reference and PIN,
/// and an intake session.
struct Booked {
    c: Chat,
    reference: String,
    pin: String,
    intake: String,
    admin: String,
}

async fn booked(app: &TestApp, n: u32) -> Booked {
    let admin = staff_cookie(app, &format!("pgadmin{n}"), Role::Admin).await;
    let intake = staff_cookie(app, &format!("pgintake{n}"), Role::Intake).await;
    let slot_id = slot(app, &admin, 2, 3).await;
    let mut c = chat(app, &format!("pgcouns{n}")).await;
    consent(app, &mut c, false, false).await;
    let (status, receipt) = crate::handoff::book(app, &c, &slot_id, json!({"kind": "self"})).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    Booked {
        reference: receipt["booking"]["reference"].as_str().unwrap().to_owned(),
        pin: receipt["pin"].as_str().unwrap().to_owned(),
        c,
        intake,
        admin,
    }
}

fn wrong_pins(right: &str) -> impl Iterator<Item = String> + '_ {
    (0..1_000_000u32)
        .map(|i| format!("{:06}", (i * 7_919 + 13) % 1_000_000))
        .filter(move |p| p != right)
}

async fn lookup(app: &TestApp, reference: &str, pin: &str) -> (StatusCode, Value) {
    post(
        app,
        "/api/booking",
        None,
        json!({"reference": reference, "pin": pin}),
    )
    .await
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

/// `n` wrong PINs on `app`; how many were answered `booking_not_found`.
async fn guess(app: &TestApp, b: &Booked, n: usize, skip: usize) -> usize {
    let mut not_found = 0;
    for p in wrong_pins(&b.pin).skip(skip).take(n) {
        let (status, e) = lookup(app, &b.reference, &p).await;
        if (status, code(&e)) == (StatusCode::NOT_FOUND, "booking_not_found") {
            not_found += 1;
        } else {
            assert_eq!(
                (status, code(&e)),
                (StatusCode::LOCKED, "booking_locked"),
                "a wrong PIN is either not found or locked"
            );
        }
    }
    not_found
}

#[tokio::test]
async fn a_reference_locks_after_the_documented_wrong_pins_and_the_right_pin_is_refused_too() {
    let app = spawn_app_with(lenient).await;
    let b = booked(&app, 1).await;
    let (status, _) = lookup(&app, &b.reference, &b.pin).await;
    assert_eq!(status, StatusCode::OK, "the right PIN works before");
    let not_found = guess(&app, &b, LIMIT as usize, 0).await;
    let (status, e) = lookup(&app, &b.reference, &b.pin).await;
    let (w_status, w) = post(
        &app,
        "/api/booking/withdraw",
        None,
        json!({"reference": b.reference, "pin": b.pin}),
    )
    .await;
    let (x_status, x) = lookup(
        &app,
        &b.reference,
        wrong_pins(&b.pin).nth(500).unwrap().as_str(),
    )
    .await;
    println!(
        "store {}: {not_found} of {LIMIT} wrong PINs answered booking_not_found; then right PIN -> {} {}, withdraw with it -> {} {}, another wrong PIN -> {} {}",
        app.state.store_kind,
        status.as_u16(),
        code(&e),
        w_status.as_u16(),
        code(&w),
        x_status.as_u16(),
        code(&x)
    );
    assert_eq!(
        not_found, LIMIT as usize,
        "each wrong PIN before the lock answers like an unknown one"
    );
    assert_eq!((status, code(&e)), (StatusCode::LOCKED, "booking_locked"));
    assert_eq!((w_status, code(&w)), (StatusCode::LOCKED, "booking_locked"));
    assert_eq!(
        (x_status, code(&x)),
        (StatusCode::LOCKED, "booking_locked"),
        "right and wrong answer alike"
    );
    // The lock changed nothing: the booking is still in force for intake.
    let (_, list) = crate::handoff::get(&app, "/api/intake/bookings", Some(&b.intake)).await;
    assert!(list.to_string().contains(&b.reference));
}

#[tokio::test]
async fn the_owner_gets_a_new_pin_with_the_resume_token_and_only_the_new_one_works() {
    let app = spawn_app_with(lenient).await;
    let b = booked(&app, 2).await;
    guess(&app, &b, LIMIT as usize, 0).await;
    assert_eq!(
        lookup(&app, &b.reference, &b.pin).await.0,
        StatusCode::LOCKED
    );
    // A wrong token gets nothing.
    let (status, _) = post(
        &app,
        "/api/handoff/pin",
        None,
        json!({"conversation_id": b.c.id, "token": "not-the-token"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, fresh) = post(
        &app,
        "/api/handoff/pin",
        None,
        json!({"conversation_id": b.c.id, "token": b.c.token}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    assert_eq!(fresh["reference"], b.reference.as_str());
    let new_pin = fresh["pin"].as_str().unwrap().to_owned();
    assert_eq!(new_pin.len(), 6);
    let (new_status, found) = lookup(&app, &b.reference, &new_pin).await;
    let (old_status, old) = lookup(&app, &b.reference, &b.pin).await;
    println!(
        "store {}: after {LIMIT} wrong PINs and a new PIN: new PIN -> {}, old PIN -> {} {}",
        app.state.store_kind,
        new_status.as_u16(),
        old_status.as_u16(),
        code(&old)
    );
    assert_eq!(new_status, StatusCode::OK, "{found}");
    assert_eq!(found["state"], "booked");
    assert_eq!(
        (old_status, code(&old)),
        (StatusCode::NOT_FOUND, "booking_not_found")
    );
    // The counter started again: the lock comes back only after the limit.
    let not_found = guess(&app, &b, LIMIT as usize - 2, 100).await;
    assert_eq!(not_found, LIMIT as usize - 2);
    assert_eq!(lookup(&app, &b.reference, &new_pin).await.0, StatusCode::OK);
}

#[tokio::test]
async fn intake_can_issue_a_new_pin_and_it_is_audited() {
    let app = spawn_app_with(lenient).await;
    let b = booked(&app, 3).await;
    guess(&app, &b, LIMIT as usize, 0).await;
    let path = format!("/api/intake/bookings/{}/pin", b.reference);
    let (status, _) = post(&app, &path, None, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "staff only");
    let (status, _) = post(
        &app,
        "/api/intake/bookings/ZZZZ-ZZZZ/pin",
        Some(&b.intake),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, fresh) = post(&app, &path, Some(&b.intake), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    let new_pin = fresh["pin"].as_str().unwrap();
    let (new_status, _) = lookup(&app, &b.reference, new_pin).await;
    let (old_status, _) = lookup(&app, &b.reference, &b.pin).await;
    let (_, log) = crate::handoff::get(&app, "/api/admin/audit", Some(&b.admin)).await;
    let resets: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "reset_pin")
        .collect();
    println!(
        "store {}: intake's new PIN -> {}, old PIN -> {}, reset_pin audit entries: {}",
        app.state.store_kind,
        new_status.as_u16(),
        old_status.as_u16(),
        resets.len()
    );
    assert_eq!(new_status, StatusCode::OK);
    assert_eq!(old_status, StatusCode::NOT_FOUND);
    assert_eq!(resets.len(), 1);
    assert_eq!(resets[0]["references"], json!([b.reference]));
}

#[tokio::test]
async fn a_stranger_cannot_keep_the_owners_right_pin_refused() {
    // The old limit per reference (5 a minute) let anyone keep it spent.
    let app = spawn_app_with(lenient).await;
    let b = booked(&app, 4).await;
    let not_found = guess(&app, &b, 6, 0).await;
    let (status, e) = lookup(&app, &b.reference, &b.pin).await;
    println!(
        "store {}: after a stranger's {not_found} wrong PINs the owner's right PIN -> {} {}",
        app.state.store_kind,
        status.as_u16(),
        code(&e)
    );
    assert_eq!(status, StatusCode::OK, "{e}");
}

#[tokio::test]
async fn two_nodes_on_one_redis_count_one_lockout() {
    let prefix = unique_prefix();
    let on = |p: String| {
        move |s: &mut Settings| {
            lenient(s);
            s.redis_url = Some(tsunagu::config::Secret::new(test_redis_url()));
            s.redis_prefix = p;
        }
    };
    let a = spawn_app_with(on(prefix.clone())).await;
    let b_node = spawn_app_with(on(prefix.clone())).await;
    assert_eq!(
        (a.state.store_kind, b_node.state.store_kind),
        ("redis", "redis")
    );
    let b = booked(&a, 5).await;
    // Half the wrong PINs on each node: with a count per node neither
    // would reach the limit.
    let half = LIMIT as usize / 2;
    let on_a = guess(&a, &b, half, 0).await;
    let on_b = guess(&b_node, &b, LIMIT as usize - half, half).await;
    let (sa, ea) = lookup(&a, &b.reference, &b.pin).await;
    let (sb, eb) = lookup(&b_node, &b.reference, &b.pin).await;
    println!(
        "2 nodes on one Redis: {on_a} wrong PINs on node A, {on_b} on node B; right PIN then -> A {} {}, B {} {}",
        sa.as_u16(),
        code(&ea),
        sb.as_u16(),
        code(&eb)
    );
    assert_eq!((sa, code(&ea)), (StatusCode::LOCKED, "booking_locked"));
    assert_eq!((sb, code(&eb)), (StatusCode::LOCKED, "booking_locked"));
    // A new PIN from node B ends the lock on node A too.
    let (status, fresh) = post(
        &b_node,
        "/api/handoff/pin",
        None,
        json!({"conversation_id": b.c.id, "token": b.c.token}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    assert_eq!(
        lookup(&a, &b.reference, fresh["pin"].as_str().unwrap())
            .await
            .0,
        StatusCode::OK
    );
    drop((a, b_node));
    purge_blocking(&test_redis_url(), &prefix);
}

fn plain_sha256(reference: &str, pin: &str) -> [u8; 32] {
    Sha256::digest(format!("{reference}:{pin}").as_bytes()).into()
}

#[tokio::test]
async fn a_database_copy_alone_does_not_reveal_the_pin() {
    // On the embedded store without a configured key: the generated one.
    let app = spawn_app_with(|s| {
        lenient(s);
        if suite_on_embedded() {
            s.handoff.pin_key = None;
        }
    })
    .await;
    let b = booked(&app, 6).await;
    let store = &app.store;
    let reference = BookingRef::parse(&b.reference).unwrap();
    let stored = store.booking(&reference).await.unwrap().unwrap();
    let plain = plain_sha256(&b.reference, &b.pin);
    // What a copy of the database gives: try every PIN against the hash.
    let cracked = (0..1_000_000u32)
        .map(|i| format!("{i:06}"))
        .filter(|p| plain_sha256(&b.reference, p) == stored.pin_hash)
        .count();
    println!(
        "store {}: stored hash equals plain SHA-256(reference:PIN): {}; PINs matching it by plain SHA-256 over all 10^6: {cracked}",
        app.state.store_kind,
        stored.pin_hash == plain
    );
    assert_ne!(stored.pin_hash, plain);
    assert_eq!(cracked, 0);
    if let Some(dir) = &app.data_dir {
        let key = dir.path().join("pin.key");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&key).unwrap().permissions(),
        );
        println!("pin.key mode {:o}", mode & 0o777);
        assert_eq!(mode & 0o777, 0o600);
    }

    // A booking hashed the old way (before the key) still opens with its
    // PIN, and is re-hashed with the key when it does.
    let rec = store.handoff(stored.conversation).await.unwrap().unwrap();
    let mut next = rec.clone();
    next.rev += 1;
    store
        .write_handoff(HandoffWrite {
            expected_rev: rec.rev,
            record: next,
            booking: BookingOp::Repin {
                reference: reference.clone(),
                pin_hash: plain,
            },
        })
        .await
        .unwrap();
    let (status, _) = lookup(&app, &b.reference, &b.pin).await;
    assert_eq!(status, StatusCode::OK, "a legacy hash still works");
    let rehashed = store.booking(&reference).await.unwrap().unwrap().pin_hash;
    println!(
        "legacy-hashed booking: look-up -> {}, re-hashed: {}",
        status.as_u16(),
        rehashed != plain
    );
    assert_ne!(
        rehashed, plain,
        "re-hashed with the key on the first right PIN"
    );
    assert_eq!(lookup(&app, &b.reference, &b.pin).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_node_on_redis_refuses_to_start_without_a_pin_key() {
    let mut s = crate::helpers::test_settings();
    s.redis_url = Some(tsunagu::config::Secret::new(test_redis_url()));
    s.redis_prefix = unique_prefix();
    s.handoff.pin_key = None;
    let e = match tsunagu::startup::Application::build(s).await {
        Ok(_) => panic!("a Redis node without handoff.pin_key must not start"),
        Err(e) => e.to_string(),
    };
    println!("without handoff.pin_key on Redis: {e}");
    assert!(e.contains("handoff.pin_key"), "{e}");
}
