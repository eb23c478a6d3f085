//! Issue 23: the directory of partner services over HTTP
//! (`/api/partners`), on whichever store the suite runs: admins add, edit
//! and delete; those who counsel read it, filtered to the partners that
//! fit a person's age band and need; intake staff and visitors are
//! refused; every bad input gets its typed error and changes nothing.

use reqwest::Method;
use serde_json::{json, Value};
use tsunagu::model::Role;

use crate::canned::Http;
use crate::handoff::staff_cookie;
use crate::helpers::*;

fn child_centre() -> Value {
    json!({
        "name_ja": "八王子市子ども家庭支援センター",
        "name_en": "Hachioji Child and Family Support Centre",
        "offers": ["child_family", "education"],
        "area": "八王子市",
        "age_bands": ["teens"],
        "contact": "042-000-0000（平日 9:00-17:00）",
        "note_ja": "18歳未満の相談。",
        "accepts_relays": true
    })
}

fn job_support() -> Value {
    json!({
        "name_ja": "地域若者サポートステーション",
        "offers": ["employment"],
        "age_bands": ["teens", "twenties", "thirties", "forties"],
        "contact": "https://example.jp/saposute"
    })
}

/// An admin adds a partner: the answer.
async fn add(http: &Http, admin: &str, body: Value) -> (u16, Value) {
    http.call(Method::POST, "/api/partners", Some(admin), Some(body))
        .await
}

fn names(v: &Value) -> Vec<&str> {
    v["partners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name_ja"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn admins_keep_the_directory_and_counsellors_see_the_partners_that_fit() {
    let app = spawn_app().await;
    let http = Http::of(&app);
    let admin = staff_cookie(&app, "pd-admin", Role::Admin).await;
    let aoki = staff_cookie(&app, "pd-aoki", Role::Counsellor).await;

    let (s, child) = add(&http, &admin, child_centre()).await;
    assert_eq!(s, 201, "{child}");
    assert_eq!(child["offers"], json!(["education", "child_family"]));
    let (s, jobs) = add(&http, &admin, job_support()).await;
    assert_eq!(s, 201, "{jobs}");
    assert_eq!(jobs["name_en"], "");
    assert_eq!(jobs["accepts_relays"], false);

    // A counsellor reads all, or those that fit.
    let list = |q: &'static str| {
        let (http, aoki) = (&http, aoki.clone());
        async move {
            let (s, v) = http
                .call(Method::GET, &format!("/api/partners{q}"), Some(&aoki), None)
                .await;
            assert_eq!(s, 200, "{v}");
            v
        }
    };
    assert_eq!(
        names(&list("").await),
        vec![
            "八王子市子ども家庭支援センター",
            "地域若者サポートステーション"
        ]
    );
    assert_eq!(
        names(&list("?age_band=thirties").await),
        vec!["地域若者サポートステーション"],
        "the child centre serves teens only"
    );
    assert_eq!(
        names(&list("?age_band=teens&offer=child_family").await),
        vec!["八王子市子ども家庭支援センター"]
    );
    assert_eq!(names(&list("?offer=medical").await), Vec::<&str>::new());
    assert_eq!(
        names(&list("?age_band=rather_not_say&offer=employment").await).len(),
        1
    );

    // Edited, then deleted.
    let id = child["partner_id"].as_str().unwrap();
    let mut edited = child_centre();
    edited["contact"] = json!("042-111-1111");
    let (s, v) = http
        .call(
            Method::PUT,
            &format!("/api/partners/{id}"),
            Some(&admin),
            Some(edited),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["contact"], "042-111-1111");
    assert_eq!(v["created_at"], child["created_at"]);
    let (s, _) = http
        .call(
            Method::DELETE,
            &format!("/api/partners/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(names(&list("").await), vec!["地域若者サポートステーション"]);
    let (s, v) = http
        .call(
            Method::DELETE,
            &format!("/api/partners/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn bad_entries_and_other_roles_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let http = Http::of(&app);
    let admin = staff_cookie(&app, "pb-admin", Role::Admin).await;
    let aoki = staff_cookie(&app, "pb-aoki", Role::Counsellor).await;
    let intake = staff_cookie(&app, "pb-intake", Role::Intake).await;
    let post = |cookie: Option<String>, body: Value| {
        let http = &http;
        async move {
            http.call(Method::POST, "/api/partners", cookie.as_deref(), Some(body))
                .await
        }
    };
    let refused = |(s, v): (u16, Value)| (s, v["code"].as_str().unwrap_or("").to_owned());

    let mut no_name = child_centre();
    no_name["name_ja"] = json!("  ");
    let (s, v) = post(Some(admin.clone()), no_name).await;
    assert_eq!((s, v["code"].as_str()), (400, Some("bad_request")));
    assert!(v["message"].as_str().unwrap().contains("name_ja"), "{v}");
    let mut twice = child_centre();
    twice["offers"] = json!(["legal", "legal"]);
    assert_eq!(
        refused(post(Some(admin.clone()), twice).await),
        (400, "bad_request".into())
    );
    let mut unknown = child_centre();
    unknown["offers"] = json!(["astrology"]);
    assert_eq!(refused(post(Some(admin.clone()), unknown).await).0, 400);
    let mut extra = child_centre();
    extra["phone_of_a_person"] = json!("090");
    assert_eq!(refused(post(Some(admin.clone()), extra).await).0, 400);
    // Other roles, no session.
    assert_eq!(
        refused(post(Some(aoki.clone()), child_centre()).await),
        (403, "forbidden".into())
    );
    assert_eq!(
        refused(post(None, child_centre()).await),
        (401, "unauthorized".into())
    );
    let (s, v) = http
        .call(Method::GET, "/api/partners", Some(&intake), None)
        .await;
    assert_eq!((s, v["code"].as_str()), (403, Some("forbidden")));
    // A guessed id, a malformed one, a bad filter.
    let guessed = uuid::Uuid::new_v4();
    let (s, v) = http
        .call(
            Method::PUT,
            &format!("/api/partners/{guessed}"),
            Some(&admin),
            Some(child_centre()),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (404, Some("not_found")));
    let (s, _) = http
        .call(
            Method::DELETE,
            "/api/partners/not-an-id",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = http
        .call(
            Method::GET,
            "/api/partners?offer=astrology",
            Some(&aoki),
            None,
        )
        .await;
    assert_eq!(s, 400);
    // Nothing was stored by any of them.
    let (_, v) = http
        .call(Method::GET, "/api/partners", Some(&aoki), None)
        .await;
    assert_eq!(names(&v), Vec::<&str>::new());
}

/// A counsellor ends a conversation naming partners from the directory:
/// the report counts the contact with other agencies by the partners'
/// kinds; an id the directory does not hold is refused and nothing ends.
#[tokio::test]
async fn a_referral_to_named_partners_is_counted_by_their_kind() {
    let app = spawn_app_with(|s| s.report.min_cell = 1).await;
    let http = Http::of(&app);
    let admin = staff_cookie(&app, "pr-admin", Role::Admin).await;
    let (_, child) = add(&http, &admin, child_centre()).await;
    let (_, jobs) = add(&http, &admin, job_support()).await;
    let mut c = app.counsellor("pr-aoki").await;
    c.available(1).await;
    let (_v, w) = app.served_visitor(&mut c, json!({"type": "start"})).await;
    let conv = w["conversation_id"].as_str().unwrap().to_owned();

    // An unknown partner: refused, the conversation goes on.
    c.ws.send(
        json!({"type": "end", "conversation_id": conv, "outcome": "referred",
        "referred_to": [uuid::Uuid::new_v4()]}),
    )
    .await;
    c.ws.expect_error("bad_request").await;
    let rec = app
        .store
        .conversation(conv.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(rec.ended_at_ms.is_none(), "nothing ended");

    c.ws.send(
        json!({"type": "end", "conversation_id": conv, "outcome": "referred",
        "referred_to": [child["partner_id"], jobs["partner_id"]]}),
    )
    .await;
    c.ws.recv_type("ended").await;
    // The directory changes afterwards: the facts keep what was named.
    let id = child["partner_id"].as_str().unwrap();
    http.call(
        Method::DELETE,
        &format!("/api/partners/{id}"),
        Some(&admin),
        None,
    )
    .await;

    let (s, r) = http
        .call(
            Method::GET,
            &format!("/api/admin/report?period={}", crate::report::this_month()),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r["referrals_by_offer"],
        json!({"child_family": 1, "education": 1, "employment": 1})
    );
    assert_eq!(
        r["tables"]["referral"]["yes"], 1,
        "named partners are a referral"
    );
}

/// The round-the-clock services the pages offer come from the directory
/// too: a partner offering round-the-clock help is listed after the
/// configured ones (the visitor page's information; the same list goes
/// with every `closed`, `queue_full` and safety answer) as soon as it is
/// added, and goes when it is deleted.
#[tokio::test]
async fn a_round_the_clock_partner_joins_the_services_the_pages_offer() {
    let app = spawn_app().await;
    let http = Http::of(&app);
    let admin = staff_cookie(&app, "rtc-admin", Role::Admin).await;
    let contacts = |info: &Value| -> Vec<String> {
        info["alternatives"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["contact"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, before) = http.call(Method::GET, "/api/info", None, None).await;
    let configured = contacts(&before);
    let (status, line) = add(
        &http,
        &admin,
        json!({"name_ja": "市の夜間こころの電話", "offers": ["round_the_clock"], "contact": "042-999-0000", "note_ja": "毎日 17:00〜翌9:00", "note_en": "Daily 17:00-09:00"}),
    )
    .await;
    assert_eq!(status, 201, "{line}");
    let (_, with) = http.call(Method::GET, "/api/info", None, None).await;
    let mut expected = configured.clone();
    expected.push("042-999-0000".into());
    assert_eq!(contacts(&with), expected);
    let local = with["alternatives"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(local["hours"], "毎日 17:00〜翌9:00");
    assert_eq!(local["hours_en"], "Daily 17:00-09:00");
    // A partner of another kind is not a round-the-clock service.
    add(&http, &admin, job_support()).await;
    assert_eq!(
        contacts(&http.call(Method::GET, "/api/info", None, None).await.1),
        expected
    );
    let id = line["partner_id"].as_str().unwrap();
    let (status, _) = http
        .call(
            Method::DELETE,
            &format!("/api/partners/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        contacts(&http.call(Method::GET, "/api/info", None, None).await.1),
        configured
    );
}
