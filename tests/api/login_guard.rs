//! Logins against guessing and against lock-outs (issue 18): wrong
//! passwords are counted per (account, address), per address and per
//! account in the store (every node alike); a sprayed counsellor still
//! logs in from a new address; malformed usernames cost no hashing and
//! count nowhere; password checks at once are bounded (503 `busy`).
//!
//! Client addresses are presented as a trusted balancer would, with
//! `X-Forwarded-For`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use tsunagu::config::Settings;
use tsunagu::model::Role;

use crate::helpers::*;

/// Documented defaults of `limits.login_failures_*`.
const PER_PAIR: u32 = 5;
const PER_ACCOUNT: u32 = 50;
const PER_ADDRESS: u32 = 30;

fn behind_balancer(s: &mut Settings) {
    s.trust_forwarded_for = true;
    assert_eq!(
        (
            s.limits.login_failures_per_account_address,
            s.limits.login_failures_per_account,
            s.limits.login_failures_per_address
        ),
        (PER_PAIR, PER_ACCOUNT, PER_ADDRESS),
        "the documented defaults"
    );
}

async fn login_from(
    app: &TestApp,
    from: &str,
    username: &str,
    password: &str,
) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(app.url("/api/login"))
        .header("x-forwarded-for", from)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    read_answer(&reqwest::Method::POST, r).await
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_counsellor_sprayed_from_20_addresses_still_logs_in_from_a_new_one() {
    let app = spawn_app_with(behind_balancer).await;
    app.add_account("sprayed", "狙われた", Role::Counsellor)
        .await;
    let (mut wrong, mut refused) = (0, 0);
    // 20 addresses, each 6 times: the first 10 addresses spend the
    // account's budget (5 each, 50); the next 10 are refused after their
    // first wrong password.
    for a in 1..=20 {
        let from = format!("10.9.0.{a}");
        for i in 0..=PER_PAIR {
            let (status, e) =
                login_from(&app, &from, "sprayed", &format!("wrong-{a}-{i}-xxxx")).await;
            match (status, code(&e)) {
                (StatusCode::UNAUTHORIZED, "login_failed") => wrong += 1,
                (StatusCode::TOO_MANY_REQUESTS, "rate_limited") => {
                    assert!(e["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0));
                    refused += 1
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let (right_sprayer, _) = login_from(&app, "10.9.0.1", "sprayed", PASSWORD).await;
    let (right_new, body) = login_from(&app, "10.9.1.1", "sprayed", PASSWORD).await;
    // An address that fails once after the budget is spent is refused on
    // its next try, the right password too.
    let (first_new_wrong, _) = login_from(&app, "10.9.2.1", "sprayed", "one-typo-xxxxx").await;
    let (then_right, _) = login_from(&app, "10.9.2.1", "sprayed", PASSWORD).await;
    println!(
        "store {}: 20 addresses sprayed {wrong} wrong passwords ({refused} more refused 429); right password then: from a sprayer {}, from a new address {}; a new address after one typo {} then right {}",
        app.state.store_kind,
        right_sprayer.as_u16(),
        right_new.as_u16(),
        first_new_wrong.as_u16(),
        then_right.as_u16()
    );
    let counted = PER_ACCOUNT + (20 - PER_ACCOUNT / PER_PAIR);
    assert_eq!(wrong, counted);
    assert_eq!(refused, 20 * (PER_PAIR + 1) - counted);
    assert_eq!(
        right_sprayer,
        StatusCode::TOO_MANY_REQUESTS,
        "the hard limit holds for the guesser"
    );
    assert_eq!(
        right_new,
        StatusCode::OK,
        "the owner from a new address: {body}"
    );
    assert_eq!(first_new_wrong, StatusCode::UNAUTHORIZED);
    assert_eq!(
        then_right,
        StatusCode::TOO_MANY_REQUESTS,
        "the account's budget is spent"
    );
}

#[tokio::test]
async fn one_address_spraying_many_accounts_is_stopped_and_ipv6_counts_by_64() {
    let app = spawn_app_with(behind_balancer).await;
    app.add_account("victim", "被害", Role::Counsellor).await;
    // Each of PER_ADDRESS accounts gets one wrong password from another
    // address of one IPv6 /64.
    let mut wrong = 0;
    for i in 0..PER_ADDRESS {
        let from = format!("2001:db8:7:7::{:x}", i + 1);
        let (status, e) = login_from(&app, &from, &format!("user{i}"), "wrong-password-x").await;
        assert_eq!(
            (status, code(&e)),
            (StatusCode::UNAUTHORIZED, "login_failed")
        );
        wrong += 1;
    }
    let (same_64, e) = login_from(&app, "2001:db8:7:7:ffff::1", "victim", PASSWORD).await;
    let (other_64, _) = login_from(&app, "2001:db8:7:8::1", "victim", PASSWORD).await;
    println!(
        "store {}: {wrong} wrong passwords from {wrong} addresses of one /64; right password from that /64 -> {} {}, from the next /64 -> {}",
        app.state.store_kind,
        same_64.as_u16(),
        code(&e),
        other_64.as_u16()
    );
    assert_eq!(
        (same_64, code(&e)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert_eq!(other_64, StatusCode::OK);
}

#[tokio::test]
async fn malformed_usernames_cost_no_hashing_and_count_nowhere() {
    // One password check at a time and no waiting: anything that hashes
    // beside another answers `busy`.
    let app = spawn_app_with(|s| {
        behind_balancer(s);
        s.limits.password_hash_concurrency = 1;
        s.limits.password_hash_wait_ms = 0;
    })
    .await;
    app.add_account("owner", "本人", Role::Counsellor).await;
    let long = "x".repeat(16 * 1024 - 100);
    let names = [long.as_str(), "A", "has space", "ＵＳＥＲ", "ab", "a/b/c"];
    let mut tasks = Vec::new();
    for round in 0..10 {
        for n in names {
            let app_url = app.url("/api/login");
            let n = n.to_owned();
            tasks.push(tokio::spawn(async move {
                let r = reqwest::Client::new()
                    .post(app_url)
                    .header("x-forwarded-for", "10.8.0.1")
                    .json(&json!({"username": n, "password": format!("pw-{round}-xxxxxxx")}))
                    .send()
                    .await
                    .unwrap();
                read_answer(&reqwest::Method::POST, r).await
            }));
        }
    }
    let mut failed = 0;
    let mut other = Vec::new();
    for t in tasks {
        let (s, e) = t.await.unwrap();
        if (s, code(&e)) == (StatusCode::UNAUTHORIZED, "login_failed") {
            failed += 1;
        } else {
            other.push((s.as_u16(), e));
        }
    }
    // 60 malformed attempts from one address, twice its failure budget:
    // the owner still logs in from it.
    let (right, body) = login_from(&app, "10.8.0.1", "owner", PASSWORD).await;
    println!(
        "store {}: 60 concurrent logins with malformed usernames -> {failed} login_failed, {} other; then the right password from that address -> {}",
        app.state.store_kind,
        other.len(),
        right.as_u16()
    );
    assert_eq!(
        failed, 60,
        "none hashed (no busy), all refused alike: {other:?}"
    );
    assert_eq!(right, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn password_checks_at_once_are_bounded_and_the_rest_answer_busy() {
    let app = spawn_app_with(|s| {
        s.limits.password_hash_concurrency = 1;
        s.limits.password_hash_wait_ms = 0;
    })
    .await;
    app.add_account("crowd", "混雑", Role::Counsellor).await;
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let url = app.url("/api/login");
        tasks.push(tokio::spawn(async move {
            let r = reqwest::Client::new()
                .post(url)
                .json(&json!({"username": "crowd", "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            read_answer(&reqwest::Method::POST, r).await
        }));
    }
    let (mut ok, mut busy) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            (StatusCode::OK, _) => ok += 1,
            (StatusCode::SERVICE_UNAVAILABLE, e) if code(&e) == "busy" => {
                assert!(e["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0));
                busy += 1
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    println!(
        "store {}: 30 concurrent right passwords with one password check at a time -> {ok} logged in, {busy} busy (503)",
        app.state.store_kind
    );
    assert!(ok >= 1 && busy >= 1, "{ok} ok, {busy} busy");
    assert_eq!(ok + busy, 30);
    // Busy counted nothing: the next login works.
    let (status, _) = login_from(&app, "127.0.0.1", "crowd", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn two_nodes_on_one_redis_share_the_login_failures() {
    let prefix = unique_prefix();
    let on = |p: String| {
        move |s: &mut Settings| {
            behind_balancer(s);
            s.redis_url = Some(tsunagu::config::Secret::new(test_redis_url()));
            s.redis_prefix = p;
        }
    };
    let a = spawn_app_with(on(prefix.clone())).await;
    let b = spawn_app_with(on(prefix.clone())).await;
    assert_eq!((a.state.store_kind, b.state.store_kind), ("redis", "redis"));
    a.add_account("shared", "共有", Role::Counsellor).await;
    let from = "10.7.0.1";
    let mut statuses = Vec::new();
    // Alternate nodes: with a count per node neither would reach the limit.
    for i in 0..PER_PAIR + 1 {
        let node = if i % 2 == 0 { &a } else { &b };
        statuses.push(
            login_from(node, from, "shared", "wrong-password-y")
                .await
                .0
                .as_u16(),
        );
    }
    let (right_a, _) = login_from(&a, from, "shared", PASSWORD).await;
    let (right_b, _) = login_from(&b, from, "shared", PASSWORD).await;
    let (elsewhere, _) = login_from(&b, "10.7.0.2", "shared", PASSWORD).await;
    println!(
        "2 nodes on one Redis: wrong passwords alternating A/B from one address -> {statuses:?}; right password from it: A {}, B {}; from another address on B {}",
        right_a.as_u16(),
        right_b.as_u16(),
        elsewhere.as_u16()
    );
    let mut expected = vec![401; PER_PAIR as usize];
    expected.push(429);
    assert_eq!(statuses, expected);
    assert_eq!(
        (right_a, right_b),
        (StatusCode::TOO_MANY_REQUESTS, StatusCode::TOO_MANY_REQUESTS)
    );
    assert_eq!(elsewhere, StatusCode::OK);
    drop((a, b));
    purge_blocking(&test_redis_url(), &prefix);
}
