//! Staff accounts run from the product (issue 21): deactivation and role
//! changes take effect at once (sessions, sockets, the queue), set-up
//! codes work once and expire, the password policy, one's own password
//! and "log out everywhere", and every change in the audit log.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tsunagu::core::handoff::AuditAction;
use tsunagu::model::Role;

use crate::helpers::*;

async fn post(app: &TestApp, cookie: Option<&str>, path: &str, body: Value) -> (StatusCode, Value) {
    let mut r = reqwest::Client::new().post(app.url(path)).json(&body);
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    read_answer(&reqwest::Method::POST, r.send().await.unwrap()).await
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    read_answer(&reqwest::Method::GET, r).await
}

async fn login_with(app: &TestApp, username: &str, password: &str) -> (StatusCode, Option<String>) {
    let r = reqwest::Client::new()
        .post(app.url("/api/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
    (r.status(), cookie)
}

async fn admin(app: &TestApp, name: &str) -> String {
    app.add_account(name, &format!("{name}-san"), Role::Admin)
        .await;
    app.login(name).await
}

async fn audit_of(
    app: &TestApp,
    target: tsunagu::core::ids::AccountId,
) -> Vec<(AuditAction, Option<String>)> {
    let mut v: Vec<_> = app
        .store
        .audit_log(&tsunagu::core::handoff::AuditFilter::newest(1000))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.target == Some(target))
        .map(|e| (e.action, e.detail))
        .collect();
    v.reverse();
    v
}

#[tokio::test]
async fn deactivating_a_counsellor_ends_their_socket_requeues_their_chats_at_the_front_and_refuses_their_login(
) {
    let app = spawn_app().await;
    let boss = admin(&app, "boss").await;
    let mut c = app.counsellor("leaver").await;
    c.available(2).await;
    let (mut v1, w1) = app
        .served_visitor(
            &mut c,
            json!({"type": "start", "first_message": "ひとつめ"}),
        )
        .await;
    let (mut v2, w2) = app
        .served_visitor(
            &mut c,
            json!({"type": "start", "first_message": "ふたつめ"}),
        )
        .await;
    let conv1 = w1["conversation_id"].as_str().unwrap().to_owned();
    let conv2 = w2["conversation_id"].as_str().unwrap().to_owned();
    for (conv, text) in [(&conv1, "一つ目への返事"), (&conv2, "二つ目への返事")] {
        c.ws.send(json!({"type": "send", "conversation_id": conv, "client_id": format!("c-{}", &conv[..8]), "text": text}))
            .await;
        c.ws.recv_type("sent").await;
    }
    // A third visitor waits (the counsellor is full): the two come back ahead.
    let (_v3, w3) = app.start_visitor(json!({"type": "start"})).await;
    let conv3 = w3["conversation_id"].as_str().unwrap().to_owned();

    let t = Instant::now();
    let (status, view) = post(
        &app,
        Some(&boss),
        &format!("/api/accounts/{}", c.id),
        json!({"active": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["active"], false);
    let closed = tokio::time::timeout(Duration::from_secs(1), c.ws.closed_with_reason())
        .await
        .expect("the socket closes within a second");
    let ms = t.elapsed().as_millis();
    println!(
        "store {}: deactivation answered and the console socket closed in {ms} ms with {closed:?}",
        app.state.store_kind
    );
    assert_eq!(closed, Some((1008, "account_deactivated".to_owned())));

    let store = app.store.clone();
    eventually("both visitors are back in the queue", || async {
        store.queue().await.unwrap().len() == 3
    })
    .await;
    let queue: Vec<String> = store
        .queue()
        .await
        .unwrap()
        .iter()
        .map(|r| r.id.to_string())
        .collect();
    let mut front = queue[..2].to_vec();
    front.sort();
    let mut both = vec![conv1.clone(), conv2.clone()];
    both.sort();
    assert_eq!(front, both, "the two requeued at the front: {queue:?}");
    assert_eq!(queue[2], conv3);
    // Nothing lost: each log still has the visitor's and the counsellor's message.
    for (conv, first, reply) in [
        (&conv1, "ひとつめ", "一つ目への返事"),
        (&conv2, "ふたつめ", "二つ目への返事"),
    ] {
        let id = conv.parse().unwrap();
        let log = store.messages_after(id, 0, 100).await.unwrap();
        let texts: Vec<&str> = log.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, vec![first, reply], "{conv}");
    }
    assert_eq!(
        v1.recv_type("queue").await["position"]
            .as_u64()
            .map(|p| p <= 2),
        Some(true)
    );
    assert_eq!(
        v2.recv_type("queue").await["position"]
            .as_u64()
            .map(|p| p <= 2),
        Some(true)
    );

    // Their next login gets the wrong-password answer; the old cookie is dead.
    let (status, _) = login_with(&app, "leaver", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&app, &c.cookie, "/api/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    let refused = Ws::connect(&app.addr, "/ws/counsellor", &[("cookie", &c.cookie)]).await;
    assert!(
        refused.is_err(),
        "a deactivated account's cookie opens no socket"
    );

    // Reactivated, they log in again; both changes are in the audit log.
    let (status, _) = post(
        &app,
        Some(&boss),
        &format!("/api/accounts/{}", c.id),
        json!({"active": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(login_with(&app, "leaver", PASSWORD).await.0, StatusCode::OK);
    let audit = audit_of(&app, c.id).await;
    assert_eq!(
        audit.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
        vec![
            AuditAction::AccountDeactivated,
            AuditAction::AccountReactivated
        ]
    );
    let (_, log) = get(&app, &boss, "/api/admin/audit?limit=10").await;
    assert_eq!(log[0]["action"], "account_reactivated");
    assert_eq!(log[0]["target_name"], "leaver-san");
    assert_eq!(log[0]["display_name"], "boss-san");
}

#[tokio::test]
async fn a_deactivated_account_costs_a_login_as_much_as_a_wrong_password() {
    let app = spawn_app().await;
    let boss = admin(&app, "timer").await;
    let id = app.add_account("gone", "去った人", Role::Counsellor).await;
    post(
        &app,
        Some(&boss),
        &format!("/api/accounts/{id}"),
        json!({"active": false}),
    )
    .await;
    let (mut wrong, mut gone) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        let t = Instant::now();
        let (s, _) = login_with(&app, "gone", "not-the-password-at-all").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        wrong.push(t.elapsed());
        let t = Instant::now();
        let (s, _) = login_with(&app, "gone", PASSWORD).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        gone.push(t.elapsed());
    }
    let (w, g) = (wrong.iter().min().unwrap(), gone.iter().min().unwrap());
    println!("wrong password {w:?}, deactivated with the right password {g:?}");
    // The hash runs in both: neither answers in a fraction of the other.
    assert!(g.as_secs_f64() > w.as_secs_f64() * 0.5, "{g:?} vs {w:?}");
    let r = reqwest::Client::new()
        .post(app.url("/api/login"))
        .json(&json!({"username": "gone", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let (_, body) = read_answer(&reqwest::Method::POST, r).await;
    assert_eq!(body["code"], "login_failed");
}

#[tokio::test]
async fn supervisor_made_counsellor_loses_supervision_at_once() {
    let app = spawn_app().await;
    let boss = admin(&app, "chief").await;
    let mut c = app.counsellor("worker").await;
    c.available(1).await;
    let (_v, w) = app
        .served_visitor(
            &mut c,
            json!({"type": "start", "first_message": "こんにちは"}),
        )
        .await;
    let conv = w["conversation_id"].as_str().unwrap().to_owned();
    let mut sup = app.supervisor("watcher").await;
    sup.ws
        .send(json!({"type": "observe", "conversation_id": conv}))
        .await;
    sup.ws.recv_type("supervising").await;

    let (status, view) = post(
        &app,
        Some(&boss),
        &format!("/api/accounts/{}", sup.id),
        json!({"role": "counsellor"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["role"], "counsellor");
    let closed = tokio::time::timeout(Duration::from_secs(1), sup.ws.closed_with_reason())
        .await
        .expect("closed within a second");
    assert_eq!(closed, Some((1008, "role_changed".to_owned())));
    // The counsellor is told the observer left; the store holds no supervision.
    let s = c.ws.recv_type("supervision").await;
    assert_eq!(s["mode"], "observe", "when it began");
    let s = c.ws.recv_type("supervision").await;
    assert!(s["mode"].is_null(), "{s}");
    assert!(app.store.supervised_by(sup.id).await.unwrap().is_empty());
    // The old session is gone; a new one is a counsellor's, refused supervision.
    assert_eq!(
        get(&app, &sup.cookie, "/api/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    let cookie = app.login("watcher").await;
    assert_eq!(get(&app, &cookie, "/api/me").await.1["role"], "counsellor");
    let mut ws = Ws::connect(&app.addr, "/ws/counsellor", &[("cookie", &cookie)])
        .await
        .unwrap();
    ws.send(json!({"type": "hello"})).await;
    ws.recv_type("welcome").await;
    ws.send(json!({"type": "observe", "conversation_id": conv}))
        .await;
    ws.expect_error("forbidden").await;
    assert_eq!(
        audit_of(&app, sup.id).await,
        vec![(
            AuditAction::AccountRoleChanged,
            Some("supervisor→counsellor".to_owned())
        )]
    );
}

#[tokio::test]
async fn a_setup_link_works_once_and_expires() {
    let app = spawn_app_with(|s| s.timing.account_setup_secs = 3).await;
    let boss = admin(&app, "setter").await;
    let (status, created) = post(
        &app,
        Some(&boss),
        "/api/accounts",
        json!({"username": "newbie", "display_name": "新人", "role": "counsellor"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["setup"]["code"].as_str().unwrap().to_owned();
    assert_eq!(created["setup"]["path"], format!("/setup/#{id}.{code}"));
    assert_eq!(created["active"], true);
    assert_eq!(created["second_factor"], false);
    // Nobody can log in before the password is set.
    assert_eq!(
        login_with(&app, "newbie", "").await.0,
        StatusCode::UNAUTHORIZED
    );

    // A common password is refused, and the code still works after.
    let (s, e) = post(
        &app,
        None,
        "/api/setup",
        json!({"account": id, "code": code, "password": "QWERTY123456"}),
    )
    .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("weak_password"))
    );
    let (s, e) = post(
        &app,
        None,
        "/api/setup",
        json!({"account": id, "code": code, "password": "short-one"}),
    )
    .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("weak_password"))
    );
    let (s, e) = post(
        &app,
        None,
        "/api/setup",
        json!({"account": id, "code": "wrong", "password": "kawa-no-nagare-7"}),
    )
    .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("setup_failed"))
    );
    let (s, _) = post(
        &app,
        None,
        "/api/setup",
        json!({"account": id, "code": code, "password": "kawa-no-nagare-7"}),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // Once only.
    let (s, e) = post(
        &app,
        None,
        "/api/setup",
        json!({"account": id, "code": code, "password": "yama-no-ue-no-8"}),
    )
    .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("setup_failed"))
    );
    let (s, cookie) = login_with(&app, "newbie", "kawa-no-nagare-7").await;
    assert_eq!(s, StatusCode::OK);
    let cookie = cookie.unwrap();

    // A reset: the old password and the session end at once; the new code
    // works until it expires.
    let (s, reset) = post(
        &app,
        Some(&boss),
        &format!("/api/accounts/{id}/setup"),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{reset}");
    assert_eq!(
        get(&app, &cookie, "/api/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_with(&app, "newbie", "kawa-no-nagare-7").await.0,
        StatusCode::UNAUTHORIZED
    );
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let (s, e) = post(
        &app,
        None,
        "/api/setup",
        json!({"account": id, "code": reset["code"], "password": "yama-no-ue-no-8"}),
    )
    .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("setup_failed")),
        "expired"
    );

    let parsed = id.parse().unwrap();
    assert_eq!(
        audit_of(&app, parsed)
            .await
            .iter()
            .map(|(a, _)| *a)
            .collect::<Vec<_>>(),
        vec![
            AuditAction::AccountCreated,
            AuditAction::AccountPasswordSet,
            AuditAction::AccountSetupIssued
        ]
    );
    // The code is in no stored record, only its keyed hash.
    let stored = app.store.account(parsed).await.unwrap().unwrap();
    let json = serde_json::to_string(&stored).unwrap();
    assert!(!json.contains(reset["code"].as_str().unwrap()));
}

#[tokio::test]
async fn admins_rename_and_refuse_bad_input_and_others_may_not() {
    let app = spawn_app().await;
    let boss = admin(&app, "editor").await;
    let id = app
        .add_account("renamed", "前の名前", Role::Counsellor)
        .await;
    let path = format!("/api/accounts/{id}");
    let (s, v) = post(
        &app,
        Some(&boss),
        &path,
        json!({"display_name": "新しい名前"}),
    )
    .await;
    assert_eq!(
        (s, v["display_name"].as_str()),
        (StatusCode::OK, Some("新しい名前"))
    );
    let (s, e) = post(&app, Some(&boss), &path, json!({"display_name": "a\nb"})).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (s, e) = post(&app, Some(&boss), &path, json!({"role": "king"})).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (s, e) = post(&app, Some(&boss), "/api/accounts/not-an-id", json!({})).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let me = get(&app, &boss, "/api/me").await.1["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, e) = post(
        &app,
        Some(&boss),
        &format!("/api/accounts/{me}"),
        json!({"active": false}),
    )
    .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (s, e) = post(
        &app,
        Some(&boss),
        "/api/accounts",
        json!({"username": "weakling", "display_name": "弱い", "role": "intake", "password": "password1234"}),
    )
    .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("weak_password"))
    );
    assert!(app
        .store
        .account_by_username("weakling")
        .await
        .unwrap()
        .is_none());
    // A counsellor may not.
    let other = app.counsellor("nosy").await;
    let (s, e) = post(&app, Some(&other.cookie), &path, json!({"active": false})).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (s, _) = post(
        &app,
        Some(&other.cookie),
        &format!("{path}/setup"),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, list) = get(&app, &boss, "/api/accounts").await;
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == "renamed")
        .unwrap();
    assert_eq!(row["display_name"], "新しい名前");
    assert_eq!(row["active"], true);
    assert!(row["last_login_at"].is_null());
    let nosy = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == "nosy")
        .unwrap();
    assert!(nosy["last_login_at"].as_u64().is_some());
    assert_eq!(
        audit_of(&app, id).await,
        vec![(AuditAction::AccountRenamed, None)]
    );
}

#[tokio::test]
async fn a_new_password_ends_the_other_sessions_and_log_out_everywhere_ends_all() {
    let app = spawn_app().await;
    let mut c = app.counsellor("mover").await;
    let other = app.login("mover").await;
    let path = "/api/me/password";
    let (s, e) = post(
        &app,
        Some(&c.cookie),
        path,
        json!({"current_password": "wrong-password-00", "new_password": "hoshi-no-sora-9"}),
    )
    .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("login_failed"))
    );
    let (s, e) = post(
        &app,
        Some(&c.cookie),
        path,
        json!({"current_password": PASSWORD, "new_password": "1qaz2wsx3edc"}),
    )
    .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("weak_password"))
    );
    let (s, _) = post(
        &app,
        Some(&other),
        path,
        json!({"current_password": PASSWORD, "new_password": "hoshi-no-sora-9"}),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // The console's session was another: its socket closes, this one stays.
    let closed = tokio::time::timeout(Duration::from_secs(1), c.ws.closed_with_reason())
        .await
        .expect("closed within a second");
    assert_eq!(
        closed,
        Some((1008, "session ended; log in again".to_owned()))
    );
    assert_eq!(
        get(&app, &c.cookie, "/api/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(get(&app, &other, "/api/me").await.0, StatusCode::OK);
    assert_eq!(
        login_with(&app, "mover", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, third) = login_with(&app, "mover", "hoshi-no-sora-9").await;
    assert_eq!(s, StatusCode::OK);
    let third = third.unwrap();
    let (s, _) = post(&app, Some(&other), "/api/me/logout-everywhere", json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        get(&app, &other, "/api/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&app, &third, "/api/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        audit_of(&app, c.id)
            .await
            .iter()
            .map(|(a, _)| *a)
            .collect::<Vec<_>>(),
        vec![
            AuditAction::AccountPasswordChanged,
            AuditAction::AccountSessionsRevoked
        ]
    );
}

#[tokio::test]
async fn an_admin_revokes_every_session_of_an_account() {
    let app = spawn_app().await;
    let boss = admin(&app, "revoker").await;
    let mut c = app.counsellor("revoked").await;
    let (s, _) = post(
        &app,
        Some(&boss),
        &format!("/api/accounts/{}/revoke-sessions", c.id),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let closed = tokio::time::timeout(Duration::from_secs(1), c.ws.closed_with_reason())
        .await
        .expect("closed within a second");
    assert_eq!(closed.map(|c| c.0), Some(1008));
    assert_eq!(
        get(&app, &c.cookie, "/api/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    // They may log in again.
    app.login("revoked").await;
}

#[tokio::test]
async fn expired_and_revoked_sessions_are_purged() {
    let app = spawn_app().await;
    let c = app.counsellor("purged").await;
    let boss = admin(&app, "purger").await;
    post(
        &app,
        Some(&boss),
        &format!("/api/accounts/{}/revoke-sessions", c.id),
        json!({}),
    )
    .await;
    let hash = tsunagu::model::hash_token(c.cookie.split('=').nth(1).unwrap());
    let far = tsunagu::clock::now_ms() + 400 * 86_400_000;
    let purged = app
        .store
        .purge(
            far,
            &tsunagu::model::Retention {
                conversation_ms: 30 * 86_400_000,
                booking_ms: 365 * 86_400_000,
                audit_ms: 5 * 365 * 86_400_000,
            },
        )
        .await
        .unwrap();
    println!(
        "store {}: purge removed {} sessions",
        app.state.store_kind, purged.sessions
    );
    if app.state.store_kind == "redis" {
        // Redis forgets a session at its expiry (a TTL); a revoked one is
        // refused, and deleted when it is next presented.
        assert_eq!(
            get(&app, &c.cookie, "/api/me").await.0,
            StatusCode::UNAUTHORIZED
        );
    } else {
        assert!(
            purged.sessions >= 2,
            "the revoked one and the admin's (expired by then)"
        );
    }
    assert_eq!(app.store.session(&hash).await.unwrap(), None);
}
