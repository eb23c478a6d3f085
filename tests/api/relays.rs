//! Issue 23: the relay sheet (つなぐシート). A counsellor prepares, from
//! the hearing sheet, a relay to two partners with different scopes; the
//! visitor reads exactly what would go to whom and agrees per partner;
//! each partner's link shows exactly its scope and nothing else, is
//! audited per view, expires, and stops at once on withdrawal; a partner
//! that takes no relays cannot be chosen; no consent, no link. On every
//! store of the suite (`TSUNAGU_TEST_STORE`).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use tsunagu::core::handoff::{AuditAction, AuditEntry, AuditFilter};
use tsunagu::core::hours::jst_date_minute;
use tsunagu::core::ids::ConversationId;
use tsunagu::core::partners::PartnerOffer;
use tsunagu::core::stats::HandoffFacts;
use tsunagu::model::Role;

use crate::handoff::{get, post, staff_cookie};
use crate::helpers::*;
use crate::return_code::assigned;

/// What only partner A's scope holds, and what only B's holds.
const MARK_A: &str = "RELAY-MARKER-A-only 夜は眠れない";
const PURPOSE: &str = "就労と医療の相談につなぐため";

async fn partner(app: &TestApp, admin: &str, name: &str, offer: &str, accepts: bool) -> String {
    let (status, p) = post(
        app,
        "/api/partners",
        Some(admin),
        json!({"name_ja": name, "offers": [offer], "contact": "042-000-0000", "accepts_relays": accepts}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    p["partner_id"].as_str().unwrap().to_owned()
}

fn relays_path(conv: &str) -> String {
    format!("/api/counsellor/conversations/{conv}/relays")
}

/// The question ids of a relay part's fields.
fn scope(part: &Value) -> Vec<&str> {
    part["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["question"].as_str().unwrap())
        .collect()
}

fn part<'a>(relay: &'a Value, partner: &str) -> &'a Value {
    relay["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["partner_id"] == partner)
        .unwrap()
}

struct Chat {
    v: Ws,
    conv: String,
    token: String,
}

/// A served chat whose counsellor saved a hearing sheet.
async fn chat_with_sheet(app: &TestApp, c: &mut Counsellor) -> Chat {
    let (mut v, w) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut v, &w).await;
    let conv = assigned(c).await;
    let (status, saved) = reqwest::Client::new()
        .put(app.url(&format!("/api/counsellor/conversations/{conv}/hearing")))
        .header("cookie", &c.cookie)
        .json(&json!({"version": 1, "answers": {
            "contact": "self",
            "withdrawal": "under_three_years",
            "mood": 2,
            "situation": MARK_A,
        }}))
        .send()
        .await
        .map(|r| (r.status(), r))
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{:?}", saved.text().await);
    Chat {
        v,
        token: w["resume_token"].as_str().unwrap().to_owned(),
        conv,
    }
}

async fn view(app: &TestApp, link: &str) -> (StatusCode, Value) {
    let token = link.strip_prefix("/relay/#").unwrap();
    post(app, "/api/relay/view", None, json!({"link": token})).await
}

#[tokio::test]
async fn a_relay_to_two_partners_shares_exactly_each_scope_with_consent() {
    let app = spawn_app_with(|s| {
        s.session_ttl_secs = 60 * 86_400;
        s.report.min_cell = 1;
    })
    .await;
    let admin = staff_cookie(&app, "rl-admin", Role::Admin).await;
    let work = partner(
        &app,
        &admin,
        "地域若者サポートステーション",
        "employment",
        true,
    )
    .await;
    let clinic = partner(&app, &admin, "こころのクリニック", "medical", true).await;
    let paper_only = partner(&app, &admin, "法テラス", "legal", false).await;
    let mut c = app.counsellor("rl-aoki").await;
    c.available(1).await;
    let mut chat = chat_with_sheet(&app, &mut c).await;
    let path = relays_path(&chat.conv);

    // A partner that takes no relays cannot be chosen: nothing prepared.
    let (status, refused) = post(
        &app,
        &path,
        Some(&c.cookie),
        json!({"purpose": PURPOSE, "partners": [{"partner_id": paper_only, "questions": ["contact"]}]}),
    )
    .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::CONFLICT, Some("partner_not_accepting"))
    );
    assert_eq!(
        get(&app, &path, Some(&c.cookie)).await.1["relays"],
        json!([])
    );

    // Two partners, two scopes.
    let (status, prepared) = post(
        &app,
        &path,
        Some(&c.cookie),
        json!({"purpose": PURPOSE, "partners": [
            {"partner_id": work, "questions": ["contact", "situation"]},
            {"partner_id": clinic, "questions": ["withdrawal", "mood"]},
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{prepared}");
    let relay_id = prepared["relay"]["relay_id"].as_str().unwrap().to_owned();
    chat.v.recv_type("relay_changed").await;

    // The visitor reads exactly what would go to whom, and why.
    let auth = json!({"conversation_id": chat.conv, "token": chat.token});
    let (status, mine) = post(&app, "/api/visitor/relays", None, auth.clone()).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let relay = &mine["relays"][0];
    assert_eq!(relay["purpose"], PURPOSE);
    assert_eq!(scope(part(relay, &work)), ["contact", "situation"]);
    assert_eq!(scope(part(relay, &clinic)), ["withdrawal", "mood"]);
    assert_eq!(part(relay, &work)["fields"][1]["answer_ja"], MARK_A);
    assert_eq!(part(relay, &clinic)["fields"][0]["answer_ja"], "3年未満");
    assert!(!part(relay, &clinic).to_string().contains("RELAY-MARKER-A"));
    assert_eq!(part(relay, &work)["consent"]["state"], "asked");
    // What the console offers to choose from (the sheet's `shared`) is
    // word for word what the relay holds.
    let (_, sheet) = get(
        &app,
        &format!("/api/counsellor/conversations/{}/hearing", chat.conv),
        Some(&c.cookie),
    )
    .await;
    let offered = sheet["sheet"]["shared"].as_array().unwrap();
    for p in relay["parts"].as_array().unwrap() {
        for f in p["fields"].as_array().unwrap() {
            assert!(offered.contains(f), "{f} not among {offered:?}");
        }
    }

    // No consent, no link.
    let link_path = format!("{path}/{relay_id}/link");
    let link_of = |partner: &str| json!({"partner_id": partner});
    let (_, refused) = post(&app, &link_path, Some(&c.cookie), link_of(&work)).await;
    assert_eq!(refused["code"], "outside_consent", "{refused}");

    // Answered under other wording: refused, nothing changes.
    let answer = |wording: &str, w: bool, k: bool| {
        let mut a = auth.clone();
        a["relay_id"] = json!(relay_id);
        a["wording_version"] = json!(wording);
        a["consents"] = json!({ work.clone(): w, clinic.clone(): k });
        a
    };
    let (_, refused) = post(
        &app,
        "/api/visitor/relays/answer",
        None,
        answer("1999-01", true, true),
    )
    .await;
    assert_eq!(refused["code"], "offer_changed");
    let wording = relay["wording_version"].as_str().unwrap();
    let (status, answered) = post(
        &app,
        "/api/visitor/relays/answer",
        None,
        answer(wording, true, true),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(part(&answered["relay"], &work)["consent"]["state"], "given");
    let (_, again) = post(
        &app,
        "/api/visitor/relays/answer",
        None,
        answer(wording, false, false),
    )
    .await;
    assert_eq!(again["code"], "offer_changed", "answered once only");

    // A link per partner; each shows exactly its scope, audited per view.
    let (status, a) = post(&app, &link_path, Some(&c.cookie), link_of(&work)).await;
    assert_eq!(status, StatusCode::OK, "{a}");
    let link_a = a["link"].as_str().unwrap().to_owned();
    let (_, b) = post(&app, &link_path, Some(&c.cookie), link_of(&clinic)).await;
    let link_b = b["link"].as_str().unwrap().to_owned();
    let (status, seen_a) = view(&app, &link_a).await;
    assert_eq!(status, StatusCode::OK, "{seen_a}");
    let sheet_a = &seen_a["sheet"];
    assert_eq!(scope(sheet_a), ["contact", "situation"]);
    assert_eq!(sheet_a["purpose"], PURPOSE);
    assert_eq!(sheet_a["partner_ja"], "地域若者サポートステーション");
    let text_a = sheet_a.to_string();
    assert!(text_a.contains(MARK_A));
    for other in ["3年未満", "withdrawal", "mood", "こころのクリニック"] {
        assert!(
            !text_a.contains(other),
            "partner A's page shows {other}: {text_a}"
        );
    }
    let (_, seen_b) = view(&app, &link_b).await;
    assert_eq!(scope(&seen_b["sheet"]), ["withdrawal", "mood"]);
    let text_b = seen_b["sheet"].to_string();
    for other in ["RELAY-MARKER-A", "本人", "地域若者"] {
        assert!(
            !text_b.contains(other),
            "partner B's page shows {other}: {text_b}"
        );
    }
    view(&app, &link_a).await;
    let audit = audit_of(&app, &chat.conv, AuditAction::RelayViewed).await;
    assert_eq!(audit.len(), 3, "{audit:?}");
    // The record of the agreement: which wording, to whom, which questions.
    let answered = audit_of(&app, &chat.conv, AuditAction::RelayAnswered).await;
    let detail = answered[0].detail.as_deref().unwrap();
    assert!(detail.contains(&format!("wording:{wording}")), "{detail}");
    assert!(
        detail.contains(&format!("partner:{work}=given[contact,situation]")),
        "{detail}"
    );
    assert!(
        detail.contains(&format!("partner:{clinic}=given[withdrawal,mood]")),
        "{detail}"
    );
    assert!(
        !detail.contains("RELAY-MARKER"),
        "no answer in the audit log: {detail}"
    );
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.detail.as_deref().unwrap().contains(&work))
            .count(),
        2
    );
    let (_, listed) = get(&app, &path, Some(&c.cookie)).await;
    assert_eq!(part(&listed["relays"][0], &work)["views"], 2);
    // The printed sheet for a consented partner, the same scope.
    let (status, printed) = get(
        &app,
        &format!("{path}/{relay_id}/print?partner_id={work}"),
        Some(&c.cookie),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{printed}");
    assert_eq!(printed["sheet"]["fields"], sheet_a["fields"]);

    // Withdrawal for the clinic: its link stops at once; the other works.
    let mut w = auth.clone();
    w["relay_id"] = json!(relay_id);
    w["partner_id"] = json!(clinic);
    let (status, withdrawn) = post(&app, "/api/visitor/relays/withdraw", None, w).await;
    assert_eq!(status, StatusCode::OK, "{withdrawn}");
    let (status, stopped) = view(&app, &link_b).await;
    assert_eq!(
        (status, stopped["code"].as_str()),
        (StatusCode::GONE, Some("relay_withdrawn"))
    );
    let (_, refused) = get(
        &app,
        &format!("{path}/{relay_id}/print?partner_id={clinic}"),
        Some(&c.cookie),
    )
    .await;
    assert_eq!(refused["code"], "relay_withdrawn");
    assert_eq!(view(&app, &link_a).await.0, StatusCode::OK);
    // A new link replaces the old one.
    let (_, a2) = post(&app, &link_path, Some(&c.cookie), link_of(&work)).await;
    assert_eq!(view(&app, &link_a).await.1["code"], "resume_failed");
    let link_a = a2["link"].as_str().unwrap().to_owned();
    // It expires.
    app.clock().advance(Duration::from_secs(15 * 86_400));
    let (status, expired) = view(&app, &link_a).await;
    assert_eq!(
        (status, expired["code"].as_str()),
        (StatusCode::GONE, Some("link_expired"))
    );

    // Contacts with other agencies: both kinds count (a consent later
    // withdrawn still happened).
    let rec = app
        .store
        .conversation(chat.conv.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let kinds: Vec<PartnerOffer> = rec
        .facts(HandoffFacts::default(), None)
        .relayed_to
        .iter()
        .collect();
    assert_eq!(kinds, [PartnerOffer::Medical, PartnerOffer::Employment]);
    let (date, _) = jst_date_minute(app.clock().now_ms());
    let period = format!("{}-{:02}", date.year(), u8::from(date.month()));
    let (status, report) = get(
        &app,
        &format!("/api/admin/report?period={period}"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["relays_by_offer"],
        json!({"employment": 1, "medical": 1})
    );

    // Erased by the visitor: the relays go, and every link leads nowhere.
    chat.v.send(json!({"type": "erase"})).await;
    chat.v.recv_type("erased").await;
    let rec = app
        .store
        .conversation(chat.conv.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(rec.relays.is_empty());
}

#[tokio::test]
async fn bad_relay_requests_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let admin = staff_cookie(&app, "rl-admin2", Role::Admin).await;
    let work = partner(&app, &admin, "サポートステーション", "employment", true).await;
    let mut c = app.counsellor("rl-bad").await;
    let other = app.counsellor("rl-other").await;
    c.available(2).await;
    // No hearing sheet yet: nothing to relay.
    let (mut v0, w0) = app.start_visitor(json!({"type": "start"})).await;
    wait_matched(&mut v0, &w0).await;
    let bare = assigned(&mut c).await;
    let body =
        json!({"purpose": PURPOSE, "partners": [{"partner_id": work, "questions": ["contact"]}]});
    let (_, refused) = post(&app, &relays_path(&bare), Some(&c.cookie), body.clone()).await;
    assert_eq!(refused["code"], "bad_request", "{refused}");
    v0.send(json!({"type": "end"})).await;

    let chat = chat_with_sheet(&app, &mut c).await;
    let path = relays_path(&chat.conv);
    let scoped = |questions: Value| json!({"purpose": PURPOSE, "partners": [{"partner_id": work, "questions": questions}]});
    let intake = staff_cookie(&app, "rl-intake", Role::Intake).await;
    let cases: Vec<(Option<&str>, String, Value, &str)> = vec![
        (
            Some(&c.cookie),
            path.clone(),
            scoped(json!(["gender"])),
            "bad_request",
        ),
        (
            Some(&c.cookie),
            path.clone(),
            scoped(json!(["nope"])),
            "bad_request",
        ),
        (
            Some(&c.cookie),
            path.clone(),
            scoped(json!([])),
            "bad_request",
        ),
        (
            Some(&c.cookie),
            path.clone(),
            json!({"purpose": "", "partners": [{"partner_id": work, "questions": ["contact"]}]}),
            "bad_request",
        ),
        (
            Some(&c.cookie),
            path.clone(),
            json!({"purpose": PURPOSE, "partners": [{"partner_id": ConversationId::new_random(), "questions": ["contact"]}]}),
            "bad_request",
        ),
        (
            Some(&c.cookie),
            path.clone(),
            json!({"purpose": PURPOSE, "partners": [], "x": 1}),
            "bad_request",
        ),
        (
            Some(&other.cookie),
            path.clone(),
            scoped(json!(["contact"])),
            "not_your_conversation",
        ),
        (
            Some(&intake),
            path.clone(),
            scoped(json!(["contact"])),
            "forbidden",
        ),
        (
            None,
            path.clone(),
            scoped(json!(["contact"])),
            "unauthorized",
        ),
        (
            Some(&c.cookie),
            relays_path(&ConversationId::new_random().to_string()),
            scoped(json!(["contact"])),
            "not_your_conversation",
        ),
        (
            Some(&c.cookie),
            relays_path("nope"),
            scoped(json!(["contact"])),
            "not_your_conversation",
        ),
    ];
    for (cookie, p, b, code) in cases {
        let (status, answer) = post(&app, &p, cookie, b.clone()).await;
        assert_eq!(answer["code"], code, "{status} {b} {answer}");
    }
    let rec = app
        .store
        .conversation(chat.conv.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(rec.relays.is_empty());
    // From another site's page.
    let r = reqwest::Client::new()
        .post(app.url(&path))
        .header("cookie", &c.cookie)
        .header("origin", "https://evil.example")
        .json(&scoped(json!(["contact"])))
        .send()
        .await
        .unwrap();
    assert_eq!(
        read_answer(&reqwest::Method::POST, r).await.1["code"],
        "origin_forbidden"
    );

    // The visitor's side: a wrong token, an unknown relay, a partner not
    // in the relay; the partner's side: a guessed or malformed link.
    let (_, prepared) = post(&app, &path, Some(&c.cookie), scoped(json!(["contact"]))).await;
    let relay_id = prepared["relay"]["relay_id"].as_str().unwrap().to_owned();
    let wording = prepared["relay"]["wording_version"].clone();
    let (_, refused) = post(
        &app,
        "/api/visitor/relays",
        None,
        json!({"conversation_id": chat.conv, "token": "wrong"}),
    )
    .await;
    assert_eq!(refused["code"], "resume_failed");
    for (relay, consents, code) in [
        (
            ConversationId::new_random().to_string(),
            json!({ work.clone(): true }),
            "not_found",
        ),
        (
            relay_id.clone(),
            json!({ ConversationId::new_random().to_string(): true }),
            "bad_request",
        ),
        (relay_id.clone(), json!({}), "bad_request"),
    ] {
        let (_, answer) = post(
            &app,
            "/api/visitor/relays/answer",
            None,
            json!({"conversation_id": chat.conv, "token": chat.token, "relay_id": relay, "wording_version": wording, "consents": consents}),
        )
        .await;
        assert_eq!(answer["code"], code, "{answer}");
    }
    let (_, answer) = post(
        &app,
        "/api/visitor/relays/withdraw",
        None,
        json!({"conversation_id": chat.conv, "token": chat.token, "relay_id": relay_id}),
    )
    .await;
    assert_eq!(
        answer["code"], "outside_consent",
        "nothing consented, nothing to withdraw"
    );
    for link in ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", "../x"] {
        let (_, answer) = post(&app, "/api/relay/view", None, json!({"link": link})).await;
        assert_eq!(answer["code"], "resume_failed", "{link}: {answer}");
    }
    let rec = app
        .store
        .conversation(chat.conv.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.relays.len(), 1);
    assert!(!rec.relays[0].answered());
}

/// One served web conversation on the app's clock: a hearing sheet, a
/// relay to `relay` (partner, the visitor's answer; `None`: never
/// answered), consent `withdraw`n afterwards if asked, and an end that
/// names `referred` partners.
async fn contact(
    app: &TestApp,
    c: &mut Counsellor,
    relay: &[(&str, Option<bool>)],
    withdraw: bool,
    referred: &[&str],
) {
    let mut chat = chat_with_sheet(app, c).await;
    let parts: Vec<Value> = relay
        .iter()
        .map(|(p, _)| json!({"partner_id": p, "questions": ["contact"]}))
        .collect();
    let (status, prepared) = post(
        app,
        &relays_path(&chat.conv),
        Some(&c.cookie),
        json!({"purpose": PURPOSE, "partners": parts}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{prepared}");
    let relay_id = prepared["relay"]["relay_id"].clone();
    if relay.iter().all(|(_, a)| a.is_some()) {
        let consents: serde_json::Map<String, Value> = relay
            .iter()
            .map(|(p, a)| (p.to_string(), json!(a.unwrap())))
            .collect();
        let (status, answered) = post(
            app,
            "/api/visitor/relays/answer",
            None,
            json!({"conversation_id": chat.conv, "token": chat.token, "relay_id": relay_id,
                "wording_version": prepared["relay"]["wording_version"], "consents": consents}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answered}");
    }
    if withdraw {
        let (status, w) = post(
            app,
            "/api/visitor/relays/withdraw",
            None,
            json!({"conversation_id": chat.conv, "token": chat.token, "relay_id": relay_id}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{w}");
    }
    c.ws.send(json!({"type": "end", "conversation_id": chat.conv, "outcome": "referred", "referred_to": referred}))
        .await;
    c.ws.recv_type("ended").await;
    chat.v.recv_type("ended").await;
}

/// The seeds' contacts with support agencies over a seeded year, by the
/// partners' kind: relays (consented; a consent later withdrawn still
/// counts, one never answered does not) and referrals (named at the end).
/// The report equals the hand count, and purging everything changes
/// nothing.
#[tokio::test]
async fn relays_and_referrals_over_a_seeded_year_equal_a_hand_count() {
    let app = spawn_app_with(|s| {
        s.session_ttl_secs = 3000 * 86_400;
        s.report.min_cell = 1;
        s.retention.conversation_days = 800;
        s.retention.booking_days = 800;
        s.retention.case_keep_days = 800;
    })
    .await;
    let clock = app.clock().clone();
    let jst = crate::report::jst_10;
    clock.set(jst(2025, 5, 1));
    let admin = staff_cookie(&app, "rl-admin-y", Role::Admin).await;
    let work = partner(&app, &admin, "サポステ", "employment", true).await;
    let clinic = partner(&app, &admin, "クリニック", "medical", true).await;
    let family = partner(
        &app,
        &admin,
        "子ども家庭支援センター",
        "child_family",
        false,
    )
    .await;
    let mut c = app.counsellor("rl-year").await;
    c.available(1).await;

    // FY2025.
    clock.set(jst(2025, 6, 10));
    contact(
        &app,
        &mut c,
        &[(&work, Some(true)), (&clinic, Some(false))],
        false,
        &[&family],
    )
    .await;
    clock.set(jst(2025, 11, 5));
    contact(
        &app,
        &mut c,
        &[(&clinic, Some(true))],
        true,
        &[&work, &family],
    )
    .await;
    clock.set(jst(2026, 2, 1));
    contact(&app, &mut c, &[(&work, None)], false, &[]).await;
    // FY2026.
    clock.set(jst(2026, 5, 1));
    contact(
        &app,
        &mut c,
        &[(&work, Some(true)), (&clinic, Some(true))],
        false,
        &[&clinic],
    )
    .await;

    clock.set(jst(2026, 12, 1));
    let report = |period: &'static str| {
        let (app, admin) = (&app, admin.clone());
        async move {
            let (status, r) = get(
                app,
                &format!("/api/admin/report?period={period}"),
                Some(&admin),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{r}");
            r
        }
    };
    let fy2025 = report("FY2025").await;
    assert_eq!(fy2025["started"], 3);
    assert_eq!(
        fy2025["relays_by_offer"],
        json!({"employment": 1, "medical": 1})
    );
    assert_eq!(
        fy2025["referrals_by_offer"],
        json!({"child_family": 2, "employment": 1})
    );
    let fy2026 = report("FY2026").await;
    assert_eq!(
        fy2026["relays_by_offer"],
        json!({"employment": 1, "medical": 1})
    );
    assert_eq!(fy2026["referrals_by_offer"], json!({"medical": 1}));
    // The CSV carries them under their own names.
    let csv = reqwest::Client::new()
        .get(app.url("/api/admin/report?period=FY2025&format=csv"))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for row in [
        "relays_by_offer,employment,1",
        "relays_by_offer,medical,1",
        "referrals_by_offer,child_family,2",
    ] {
        assert!(csv.lines().any(|l| l == row), "{row} in\n{csv}");
    }
    let purged = app.state.service.purge(jst(2029, 1, 1)).await.unwrap();
    assert_eq!(purged.conversations.len(), 4);
    assert_eq!(report("FY2025").await, fy2025);
    assert_eq!(report("FY2026").await, fy2026);
}

/// The audit entries of one action about one conversation.
async fn audit_of(app: &TestApp, conversation: &str, action: AuditAction) -> Vec<AuditEntry> {
    app.store
        .audit_log(&AuditFilter {
            actions: vec![action],
            conversation: Some(conversation.parse().unwrap()),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
}
