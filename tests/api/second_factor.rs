//! The staff second factor (issue 21), over HTTP on the real server, on
//! every store (`TSUNAGU_TEST_STORE`): enrolment (QR code, secret, first
//! code, recovery codes), login as password then code with the cookie set
//! only after the code, a replayed code refused, wrong codes rate-limited
//! like passwords, recovery codes used once, required roles held to
//! enrolment, and an admin's reset in the audit log.
//!
//! The test computes codes from the secret the server shows, with the
//! `totp-rs` crate (its codes are checked against RFC 6238's own table in
//! the unit tests of `service::second_factor`).

use reqwest::StatusCode;
use serde_json::{json, Value};

use tsunagu::config::Settings;
use tsunagu::model::Role;

use crate::helpers::*;

/// The deployment default: supervisors, intake and admins must enrol.
fn required_default(s: &mut Settings) {
    s.auth.second_factor_roles = vec![Role::Supervisor, Role::Intake, Role::Admin];
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value, Option<String>) {
    let client = reqwest::Client::new();
    let mut r = match method {
        "GET" => client.get(app.url(path)),
        _ => client.post(app.url(path)),
    };
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let res = r.send().await.unwrap();
    let cookie = res
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    let method = if method == "GET" {
        reqwest::Method::GET
    } else {
        reqwest::Method::POST
    };
    let (status, body) = read_answer(&method, res).await;
    (status, body, cookie)
}

/// An admin resets `account`'s second factor: the answer's status and body.
async fn reset_second_factor(
    app: &TestApp,
    admin: &str,
    account: &dyn std::fmt::Display,
) -> (StatusCode, Value) {
    let path = format!("/api/accounts/{account}/second-factor/reset");
    let (s, body, _) = call(app, "POST", &path, Some(admin), None).await;
    (s, body)
}

fn code_of(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

/// RFC 4648 base32 (no padding) to bytes.
fn unbase32(s: &str) -> Vec<u8> {
    let (mut out, mut buf, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {s}"),
        };
        buf = (buf << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

/// The 6-digit code of `secret` (base32) for the step `offset` steps from now.
fn totp(secret: &str, offset: i64) -> String {
    let now = tsunagu::clock::now_ms() / 1000;
    let t = (now as i64 + offset * 30) as u64;
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, unbase32(secret))
        .unwrap()
        .generate(t)
}

/// Log in with the password: (status, body, cookie).
async fn password(app: &TestApp, username: &str) -> (StatusCode, Value, Option<String>) {
    call(
        app,
        "POST",
        "/api/login",
        None,
        Some(json!({"username": username, "password": PASSWORD})),
    )
    .await
}

/// Set up and confirm a second factor on this session: (secret, recovery codes).
async fn enrol(app: &TestApp, cookie: &str) -> (String, Vec<String>) {
    let (s, setup, _) = call(app, "POST", "/api/second-factor/setup", Some(cookie), None).await;
    assert_eq!(s, 200, "{setup}");
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let (s, done, _) = call(
        app,
        "POST",
        "/api/second-factor/confirm",
        Some(cookie),
        Some(json!({"code": totp(&secret, 0)})),
    )
    .await;
    assert_eq!(s, 200, "{done}");
    let codes = done["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

/// The password step of an enrolled account: its pending-login token.
async fn pending(app: &TestApp, username: &str) -> String {
    let (s, body, cookie) = password(app, username).await;
    assert_eq!(s, 202, "{body}");
    assert_eq!(body["second_factor"], "code_needed");
    assert!(cookie.is_none(), "no session cookie before the code");
    body["pending_login"].as_str().unwrap().to_owned()
}

async fn second_step(app: &TestApp, body: Value) -> (StatusCode, Value, Option<String>) {
    call(app, "POST", "/api/login/second-factor", None, Some(body)).await
}

#[tokio::test]
async fn an_admin_enrols_then_logs_in_with_a_code_that_cannot_be_replayed() {
    let app = spawn_app_with(required_default).await;
    app.add_account("sf-admin", "管理者", Role::Admin).await;
    // Password alone: a session, but only for enrolling.
    let (s, _, cookie) = password(&app, "sf-admin").await;
    assert_eq!(s, 200);
    let cookie = cookie.expect("a session before enrolling");
    let (s, body, _) = call(&app, "GET", "/api/accounts", Some(&cookie), None).await;
    assert_eq!(
        (s.as_u16(), code_of(&body)),
        (403, "second_factor_required")
    );
    let (s, me, _) = call(&app, "GET", "/api/me", Some(&cookie), None).await;
    assert_eq!((s.as_u16(), me["role"].as_str()), (200, Some("admin")));
    let (_, status, _) = call(&app, "GET", "/api/second-factor", Some(&cookie), None).await;
    assert_eq!(
        status,
        json!({"required": true, "enrolled": false, "recovery_codes_left": 0})
    );

    let (s, setup, _) = call(
        &app,
        "POST",
        "/api/second-factor/setup",
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let secret = setup["secret"].as_str().unwrap().to_owned();
    assert_eq!(unbase32(&secret).len(), 20, "160 bits");
    let uri = setup["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Tsunagu:sf-admin?")
            && uri.contains(&format!("secret={secret}"))
            && uri.contains("digits=6")
            && uri.contains("period=30"),
        "{uri}"
    );
    let svg = setup["qr_svg"].as_str().unwrap();
    assert!(svg.contains("<svg") && svg.contains("</svg>"), "an SVG");
    // A wrong first code enrols nothing.
    let wrong = if totp(&secret, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (s, body, _) = call(
        &app,
        "POST",
        "/api/second-factor/confirm",
        Some(&cookie),
        Some(json!({"code": wrong})),
    )
    .await;
    assert_eq!((s.as_u16(), code_of(&body)), (401, "second_factor_failed"));
    let (s, body, _) = call(
        &app,
        "POST",
        "/api/second-factor/confirm",
        Some(&cookie),
        Some(json!({"code": "12ab56"})),
    )
    .await;
    assert_eq!((s.as_u16(), code_of(&body)), (400, "bad_request"));
    let (s, done, _) = call(
        &app,
        "POST",
        "/api/second-factor/confirm",
        Some(&cookie),
        Some(json!({"code": totp(&secret, 0)})),
    )
    .await;
    assert_eq!(s, 200, "{done}");
    let codes = done["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    assert!(codes
        .iter()
        .all(|c| c.as_str().unwrap().len() == 14 && c.as_str().unwrap().as_bytes()[4] == b'-'));
    // The same session now goes on.
    let (s, _, _) = call(&app, "GET", "/api/accounts", Some(&cookie), None).await;
    assert_eq!(s, 200);
    // A second set-up is refused while enrolled.
    let (s, body, _) = call(
        &app,
        "POST",
        "/api/second-factor/setup",
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!((s.as_u16(), code_of(&body)), (409, "conflict"));

    // Log in again: password, then code; the cookie only after the code.
    let pending_login = pending(&app, "sf-admin").await;
    // The confirming code's step is used: the next step's code (within
    // the ±1 window) is accepted once.
    let code = totp(&secret, 1);
    let (s, me, cookie2) =
        second_step(&app, json!({"pending_login": pending_login, "code": code})).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["username"], "sf-admin");
    let cookie2 = cookie2.expect("the session cookie after the code");
    let (s, _, _) = call(&app, "GET", "/api/accounts", Some(&cookie2), None).await;
    assert_eq!(s, 200);
    // Replayed (with a fresh password step): refused.
    let again = pending(&app, "sf-admin").await;
    let (s, body, cookie3) = second_step(&app, json!({"pending_login": again, "code": code})).await;
    assert_eq!((s.as_u16(), code_of(&body)), (401, "second_factor_failed"));
    assert!(cookie3.is_none());
    // The confirming code (an older step) too.
    let (s, _, _) = second_step(
        &app,
        json!({"pending_login": again, "code": totp(&secret, 0)}),
    )
    .await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn wrong_codes_are_counted_and_refused_like_wrong_passwords() {
    let app = spawn_app_with(required_default).await;
    app.add_account("sf-guess", "推測される", Role::Supervisor)
        .await;
    let cookie = password(&app, "sf-guess").await.2.unwrap();
    let (secret, _) = enrol(&app, &cookie).await;
    let pending_login = pending(&app, "sf-guess").await;
    let good = totp(&secret, 1);
    let wrong = |i: u32| {
        let c = format!("{:06}", (good.parse::<u32>().unwrap() + 1 + i) % 1_000_000);
        assert_ne!(c, good);
        c
    };
    // limits.login_failures_per_account_address (5) wrong codes ...
    for i in 0..5 {
        let (s, body, _) = second_step(
            &app,
            json!({"pending_login": pending_login, "code": wrong(i)}),
        )
        .await;
        assert_eq!((s.as_u16(), code_of(&body)), (401, "second_factor_failed"));
    }
    // ... then even the right one is refused for the window.
    let (s, body, cookie) =
        second_step(&app, json!({"pending_login": pending_login, "code": good})).await;
    assert_eq!(
        (s.as_u16(), code_of(&body)),
        (429, "rate_limited"),
        "{body}"
    );
    assert!(body["retry_after_ms"].as_u64().unwrap() > 0);
    assert!(cookie.is_none());
}

#[tokio::test]
async fn a_recovery_code_logs_in_once() {
    let app = spawn_app_with(required_default).await;
    app.add_account("sf-lost", "携帯をなくした", Role::Intake)
        .await;
    let cookie = password(&app, "sf-lost").await.2.unwrap();
    let (_, codes) = enrol(&app, &cookie).await;
    let first = pending(&app, "sf-lost").await;
    // Typed in lower case without the hyphens: the same code.
    let typed = codes[3].replace('-', "").to_lowercase();
    let (s, me, cookie) = second_step(
        &app,
        json!({"pending_login": first, "recovery_code": typed}),
    )
    .await;
    assert_eq!(s, 200, "{me}");
    let cookie = cookie.unwrap();
    let (s, _, _) = call(&app, "GET", "/api/intake/bookings", Some(&cookie), None).await;
    assert_eq!(s, 200);
    let (_, status, _) = call(&app, "GET", "/api/second-factor", Some(&cookie), None).await;
    assert_eq!(
        status,
        json!({"required": true, "enrolled": true, "recovery_codes_left": 9})
    );
    let second = pending(&app, "sf-lost").await;
    let (s, body, _) = second_step(
        &app,
        json!({"pending_login": second, "recovery_code": codes[3]}),
    )
    .await;
    assert_eq!((s.as_u16(), code_of(&body)), (401, "second_factor_failed"));
    // Another of them still works.
    let (s, _, _) = second_step(
        &app,
        json!({"pending_login": second, "recovery_code": codes[4]}),
    )
    .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn required_roles_can_only_enrol_until_they_have() {
    let app = spawn_app_with(required_default).await;
    app.add_account("sf-intake", "受付", Role::Intake).await;
    app.add_account("sf-super", "スーパーバイザー", Role::Supervisor)
        .await;
    app.add_account("sf-counsellor", "相談員", Role::Counsellor)
        .await;
    let intake = password(&app, "sf-intake").await.2.unwrap();
    let (s, body, _) = call(&app, "GET", "/api/intake/bookings", Some(&intake), None).await;
    assert_eq!(
        (s.as_u16(), code_of(&body)),
        (403, "second_factor_required")
    );
    let sup = password(&app, "sf-super").await.2.unwrap();
    let refused = Ws::connect(&app.addr, "/ws/counsellor", &[("cookie", &sup)])
        .await
        .err()
        .expect("the console socket is refused");
    assert_eq!(
        (refused.status, code_of(&refused.body)),
        (403, "second_factor_required")
    );
    // A counsellor (optional for the role) is not held.
    let c = password(&app, "sf-counsellor").await.2.unwrap();
    let (_, status, _) = call(&app, "GET", "/api/second-factor", Some(&c), None).await;
    assert_eq!(status["required"], false);
    assert!(Ws::connect(&app.addr, "/ws/counsellor", &[("cookie", &c)])
        .await
        .is_ok());
    // Once enrolled, the supervisor's same session opens the console.
    enrol(&app, &sup).await;
    assert!(
        Ws::connect(&app.addr, "/ws/counsellor", &[("cookie", &sup)])
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_admin_reset_is_audited_and_sends_the_account_back_to_enrolment() {
    let app = spawn_app_with(|s| s.auth.second_factor_roles = vec![Role::Supervisor]).await;
    let admin_id = app.add_account("sf-boss", "管理者", Role::Admin).await;
    let sup_id = app
        .add_account("sf-phone", "携帯を替えた", Role::Supervisor)
        .await;
    let admin = password(&app, "sf-boss").await.2.unwrap();
    let sup = password(&app, "sf-phone").await.2.unwrap();
    enrol(&app, &sup).await;
    let path = format!("/api/accounts/{sup_id}/second-factor/reset");
    // Only admins reset.
    let (s, body, _) = call(&app, "POST", &path, Some(&sup), None).await;
    assert_eq!((s.as_u16(), code_of(&body)), (403, "forbidden"));
    let (s, body, _) = call(&app, "POST", &path, Some(&admin), None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["had_second_factor"], true);
    let (s, body, _) = call(
        &app,
        "POST",
        "/api/accounts/not-an-id/second-factor/reset",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!((s.as_u16(), code_of(&body)), (404, "not_found"));
    let unknown = format!("/api/accounts/{}/second-factor/reset", uuid::Uuid::new_v4());
    let (s, _, _) = call(&app, "POST", &unknown, Some(&admin), None).await;
    assert_eq!(s, 404);
    // In the audit log: who, whom, what, when.
    let (s, log, _) = call(&app, "GET", "/api/admin/audit", Some(&admin), None).await;
    assert_eq!(s, 200);
    let entry = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "reset_second_factor")
        .unwrap_or_else(|| panic!("the reset is audited: {log}"));
    assert_eq!(entry["account"], admin_id.to_string());
    assert_eq!(entry["target"], sup_id.to_string());
    assert_eq!(entry["target_name"], "携帯を替えた");
    assert!(entry["at"].as_u64().unwrap() > 0);
    // The supervisor's password now gives a session held to enrolment.
    let (s, _, cookie) = password(&app, "sf-phone").await;
    assert_eq!(s, 200);
    let refused = Ws::connect(&app.addr, "/ws/counsellor", &[("cookie", &cookie.unwrap())])
        .await
        .err()
        .expect("held to enrolment");
    assert_eq!(code_of(&refused.body), "second_factor_required");
}

#[tokio::test]
async fn bad_second_steps_get_typed_errors_and_change_nothing() {
    let app = spawn_app_with(required_default).await;
    app.add_account("sf-bad", "誤入力", Role::Admin).await;
    let cookie = password(&app, "sf-bad").await.2.unwrap();
    // Confirming with nothing set up.
    let (s, body, _) = call(
        &app,
        "POST",
        "/api/second-factor/confirm",
        Some(&cookie),
        Some(json!({"code": "123456"})),
    )
    .await;
    assert_eq!((s.as_u16(), code_of(&body)), (409, "conflict"));
    let (secret, _) = enrol(&app, &cookie).await;
    let pending_login = pending(&app, "sf-bad").await;
    for (body, status, code) in [
        (
            json!({"pending_login": "forged", "code": "123456"}),
            401,
            "unauthorized",
        ),
        (
            json!({"pending_login": &pending_login[..pending_login.len() - 2], "code": "123456"}),
            401,
            "unauthorized",
        ),
        (json!({"pending_login": pending_login}), 400, "bad_request"),
        (
            json!({"pending_login": pending_login, "code": "123456", "recovery_code": "AAAA-BBBB-CCCC"}),
            400,
            "bad_request",
        ),
        (
            json!({"pending_login": pending_login, "code": "12345"}),
            401,
            "second_factor_failed",
        ),
        (
            json!({"pending_login": pending_login, "code": 123456}),
            400,
            "bad_request",
        ),
        (
            json!({"pending_login": pending_login, "code": "123456", "extra": 1}),
            400,
            "bad_request",
        ),
    ] {
        let (s, got, cookie) = second_step(&app, body.clone()).await;
        assert_eq!((s.as_u16(), code_of(&got)), (status, code), "{body}");
        assert!(cookie.is_none());
    }
    // Not from another site.
    let r = reqwest::Client::new()
        .post(app.url("/api/login/second-factor"))
        .header("origin", "https://evil.example")
        .json(&json!({"pending_login": pending_login, "code": totp(&secret, 1)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // After all that, the right code still works (nothing was used).
    let (s, _, cookie) = second_step(
        &app,
        json!({"pending_login": pending_login, "code": totp(&secret, 1)}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(cookie.is_some());
}

/// The embedded store keeps a second factor across a restart (migration
/// 8's table), with the replay rule's last step and the codes left.
#[tokio::test]
async fn the_embedded_store_keeps_a_second_factor_across_a_restart() {
    use tsunagu::core::ids::AccountId;
    use tsunagu::model::SecondFactor;
    use tsunagu::store::SecondFactorStore;
    let dir = TempDir::new("second-factor");
    let policy = tsunagu::core::queue::QueuePolicy::default();
    let (a, b) = (AccountId::new_random(), AccountId::new_random());
    let record = |account| SecondFactor {
        account,
        sealed_secret: "sealed".into(),
        created_at_ms: 1,
        enrolled_at_ms: None,
        last_used_step: None,
        recovery_code_hashes: Vec::new(),
    };
    {
        let (s, _) = tsunagu::store::embedded::open(dir.path(), 1, policy).unwrap();
        s.begin_second_factor(record(a)).await.unwrap();
        s.confirm_second_factor(a, "sealed", 40, vec![[1; 32], [2; 32]], 2)
            .await
            .unwrap();
        s.use_second_factor_step(a, 41).await.unwrap();
        s.use_recovery_code(a, &[1; 32]).await.unwrap();
        s.begin_second_factor(record(b)).await.unwrap();
        assert!(s.delete_second_factor(b).await.unwrap());
        s.close_journal().await.unwrap();
    }
    let (s, _) = tsunagu::store::embedded::open(dir.path(), 3, policy).unwrap();
    let kept = s.second_factor(a).await.unwrap().expect("kept");
    assert_eq!(kept.enrolled_at_ms, Some(2));
    assert_eq!(kept.last_used_step, Some(41));
    assert_eq!(kept.recovery_code_hashes, vec![[2; 32]]);
    assert_eq!(s.second_factor(b).await.unwrap(), None, "the reset is kept");
    assert_eq!(
        s.use_second_factor_step(a, 41).await.unwrap_err(),
        tsunagu::store::StoreError::Conflict,
        "no replay after a restart"
    );
    s.close_journal().await.unwrap();
}

/// A reset (a lost phone) ends every session of the account and closes
/// its open console sockets at once (1008), as a deactivation does: who
/// holds the phone and a session is out too. The account's password then
/// logs in without a code (its role does not require one here).
#[tokio::test]
async fn a_reset_ends_every_session_of_the_account_at_once() {
    let app = spawn_app_with(|s| s.auth.second_factor_roles = Vec::new()).await;
    let admin_id = app
        .add_account("sf-reset-boss", "管理者", Role::Admin)
        .await;
    let admin = password(&app, "sf-reset-boss").await.2.unwrap();
    let mut c = app.counsellor("sf-lost").await;
    let (secret, _) = enrol(&app, &c.cookie).await;
    // A second session, by password then code.
    let token = pending(&app, "sf-lost").await;
    let (s, body, second) = second_step(
        &app,
        json!({"pending_login": token, "code": totp(&secret, 1)}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let second = second.unwrap();
    for cookie in [&c.cookie, &second] {
        assert_eq!(
            call(&app, "GET", "/api/me", Some(cookie), None).await.0,
            200
        );
    }
    let (s, body) = reset_second_factor(&app, &admin, &c.id).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["had_second_factor"], true);
    let closed = tokio::time::timeout(std::time::Duration::from_secs(1), c.ws.closed_with_reason())
        .await
        .expect("the console socket closed within a second");
    assert_eq!(
        closed,
        Some((1008, "session ended; log in again".to_owned()))
    );
    for cookie in [&c.cookie, &second] {
        let (s, body, _) = call(&app, "GET", "/api/me", Some(cookie), None).await;
        assert_eq!(s, 401, "every session ended: {body}");
    }
    // The admin's own session is untouched.
    assert_eq!(
        call(&app, "GET", "/api/me", Some(&admin), None).await.0,
        200
    );
    // Audited with the reset (one line, written in the same step).
    let (_, log, _) = call(&app, "GET", "/api/admin/audit", Some(&admin), None).await;
    let resets: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "reset_second_factor" && e["target"] == c.id.to_string())
        .collect();
    assert_eq!(resets.len(), 1, "{log}");
    assert_eq!(resets[0]["account"], admin_id.to_string());
    // No second factor any more: the password alone logs in again.
    let (s, body, cookie) = password(&app, "sf-lost").await;
    assert_eq!(s, 200, "{body}");
    let cookie = cookie.unwrap();
    assert_eq!(
        call(&app, "GET", "/api/me", Some(&cookie), None).await.0,
        200
    );
    // A reset of an account without one still ends its sessions.
    let (s, body) = reset_second_factor(&app, &admin, &c.id).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["had_second_factor"], false);
    assert_eq!(
        call(&app, "GET", "/api/me", Some(&cookie), None).await.0,
        401
    );
}
