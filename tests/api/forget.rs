//! Cancelling a booking or withdrawing consent deletes the name and contact
//! details at once (issue 18), on whatever store the suite runs on: after
//! each of the four ways (the chat page's withdrawal with the resume token,
//! the look-up page's cancel and withdrawal with reference and PIN, intake's
//! cancel) the name and the contact are in no store: not in what the store
//! answers, not in the embedded store's database or WAL files, not in any
//! Redis key of the app's prefix. The anonymous booking stays.

use reqwest::StatusCode;
use serde_json::{json, Value};

use tsunagu::core::handoff::{BookingRef, Contact};
use tsunagu::model::Role;

use crate::handoff::{chat, consent, get, post, slot, staff_cookie};
use crate::helpers::*;

/// Does any file of the data directory hold `needle`? (database, WAL, ...)
fn files_holding(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap_or_default();
        if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            found.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    found
}

/// Every Redis key under `prefix` whose value holds `needle`.
fn redis_keys_holding(url: &str, prefix: &str, needle: &str) -> Vec<String> {
    let client = redis::Client::open(url).unwrap();
    let mut con = client.get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query(&mut con)
        .unwrap();
    assert!(!keys.is_empty(), "the app's keys are there to search");
    let mut found = Vec::new();
    for k in keys {
        let kind: String = redis::cmd("TYPE").arg(&k).query(&mut con).unwrap();
        let values: Vec<Vec<u8>> = match kind.as_str() {
            "string" => vec![redis::cmd("GET").arg(&k).query(&mut con).unwrap()],
            "hash" => redis::cmd("HGETALL").arg(&k).query(&mut con).unwrap(),
            "list" => redis::cmd("LRANGE")
                .arg(&k)
                .arg(0)
                .arg(-1)
                .query(&mut con)
                .unwrap(),
            "set" => redis::cmd("SMEMBERS").arg(&k).query(&mut con).unwrap(),
            "zset" => redis::cmd("ZRANGE")
                .arg(&k)
                .arg(0)
                .arg(-1)
                .query(&mut con)
                .unwrap(),
            "stream" => {
                let v: redis::Value = redis::cmd("XRANGE")
                    .arg(&k)
                    .arg("-")
                    .arg("+")
                    .query(&mut con)
                    .unwrap();
                vec![format!("{v:?}").into_bytes()]
            }
            _ => vec![],
        };
        if values
            .iter()
            .any(|v| v.windows(needle.len()).any(|w| w == needle.as_bytes()))
        {
            found.push(k.trim_start_matches(prefix).to_owned());
        }
    }
    found
}

/// Where `needle` is still found, on this app's store.
async fn stores_holding(app: &TestApp, needle: &str) -> Vec<String> {
    if let Some(dir) = &app.data_dir {
        return files_holding(dir.path(), needle);
    }
    if let Some((url, prefix)) = app.redis.clone() {
        let needle = needle.to_owned();
        return tokio::task::spawn_blocking(move || redis_keys_holding(&url, &prefix, &needle))
            .await
            .unwrap();
    }
    Vec::new()
}

#[tokio::test]
async fn every_way_of_cancelling_deletes_the_name_and_contact_everywhere() {
    // Eight look-ups from one address here: more than the default burst.
    let app = spawn_app_with(|s| {
        s.limits.booking_lookups_per_ip_per_min = 600;
        s.limits.booking_lookups_burst = 100;
    })
    .await;
    let admin = staff_cookie(&app, "admin-forget", Role::Admin).await;
    let intake = staff_cookie(&app, "intake-forget", Role::Intake).await;
    let slot_id = slot(&app, &admin, 2, 10).await;
    let ways = [
        "chat_withdraw",
        "pin_cancel",
        "pin_withdraw",
        "intake_cancel",
    ];
    let mut report = Vec::new();
    for (i, way) in ways.into_iter().enumerate() {
        let mut c = chat(&app, &format!("couns-forget{i}")).await;
        consent(&app, &mut c, false, true).await;
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
        let name = format!("忘名{tag}");
        let email = format!("forget{tag}@example.jp");
        let (status, receipt) = post(
            &app,
            "/api/handoff/book",
            None,
            json!({"conversation_id": c.id, "token": c.token, "slot_id": slot_id,
                "name": name, "contact": {"kind": "email", "value": email},
                "contact_choice": "message"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{receipt}");
        let reference = receipt["booking"]["reference"].as_str().unwrap().to_owned();
        let pin = receipt["pin"].as_str().unwrap().to_owned();
        let auth = json!({"reference": reference, "pin": pin});
        // Before: confirmed means stored, so the search below can find them.
        let before = (
            stores_holding(&app, &name).await,
            stores_holding(&app, &email).await,
        );
        let (status, body) = match way {
            "chat_withdraw" => {
                post(
                    &app,
                    "/api/handoff/withdraw",
                    None,
                    json!({"conversation_id": c.id, "token": c.token}),
                )
                .await
            }
            "pin_cancel" => post(&app, "/api/booking/cancel", None, auth.clone()).await,
            "pin_withdraw" => post(&app, "/api/booking/withdraw", None, auth.clone()).await,
            _ => {
                post(
                    &app,
                    &format!("/api/intake/bookings/{reference}/cancel"),
                    Some(&intake),
                    json!({}),
                )
                .await
            }
        };
        assert_eq!(status, StatusCode::OK, "{way}: {body}");
        // The store answers without them.
        let b = app
            .store
            .booking(&BookingRef::parse(&reference).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(!b.active());
        assert_eq!(
            (b.name.as_deref(), &b.contact),
            (None, &Contact::Deleted),
            "{way}"
        );
        // The look-up shows the cancelled booking without them.
        let (status, found) = post(&app, "/api/booking", None, auth).await;
        assert_eq!(status, StatusCode::OK, "{found}");
        assert_eq!(found["state"], "cancelled");
        assert_eq!(found["name"], Value::Null);
        assert_eq!(found["contact"], json!({"kind": "deleted"}));
        assert_eq!(
            found["contact_choice"], "message",
            "the kind of choice stays"
        );
        // And no file or key holds them.
        let after = (
            stores_holding(&app, &name).await,
            stores_holding(&app, &email).await,
        );
        report.push(format!("{way}: before {before:?}, after {after:?}"));
        assert!(after.0.is_empty() && after.1.is_empty(), "{way}: {after:?}");
        if app.data_dir.is_some() || app.redis.is_some() {
            assert!(
                !before.0.is_empty() && !before.1.is_empty(),
                "{way}: {before:?}"
            );
        }
    }
    println!(
        "store {}: where the name and e-mail were found before and after each way of cancelling:\n  {}",
        app.state.store_kind,
        report.join("\n  ")
    );
    // Intake lists nothing; the report still counts the four bookings made.
    assert_eq!(
        get(&app, "/api/intake/bookings", Some(&intake)).await.1,
        json!([])
    );
}
