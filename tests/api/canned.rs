//! Canned replies over HTTP (`/api/canned-replies`), on whichever store the
//! suite runs: admins create, edit and delete; counsellors and supervisors
//! read the entries of one language; everyone else is refused; every bad
//! input gets its typed error and changes nothing.

use serde_json::{json, Value};
use tsunagu::model::Role;

use crate::helpers::*;

/// Staff HTTP calls to one app (the partner directory's tests use it too).
pub(crate) struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    pub(crate) fn of(app: &TestApp) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: app.url(""),
        }
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let (status, v) = read_answer(&method, r.send().await.unwrap()).await;
        (status.as_u16(), v)
    }

    async fn list(&self, cookie: &str, query: &str) -> (u16, Value) {
        self.call(
            reqwest::Method::GET,
            &format!("/api/canned-replies{query}"),
            Some(cookie),
            None,
        )
        .await
    }

    async fn create(&self, cookie: &str, body: Value) -> (u16, Value) {
        self.call(
            reqwest::Method::POST,
            "/api/canned-replies",
            Some(cookie),
            Some(body),
        )
        .await
    }

    async fn update(&self, cookie: &str, id: &str, body: Value) -> (u16, Value) {
        self.call(
            reqwest::Method::PUT,
            &format!("/api/canned-replies/{id}"),
            Some(cookie),
            Some(body),
        )
        .await
    }

    async fn delete(&self, cookie: &str, id: &str) -> (u16, Value) {
        self.call(
            reqwest::Method::DELETE,
            &format!("/api/canned-replies/{id}"),
            Some(cookie),
            None,
        )
        .await
    }
}

fn reply(lang: &str, category: &str, title: &str, body: &str) -> Value {
    json!({"lang": lang, "category": category, "title": title, "body": body})
}

fn titles(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn admins_manage_the_library_and_counsellors_read_it_in_their_language() {
    let app = spawn_app().await;
    let http = Http::of(&app);
    app.add_account("canned-admin", "管理者", Role::Admin).await;
    app.add_account("canned-c", "相談員", Role::Counsellor)
        .await;
    app.add_account("canned-s", "スーパーバイザー", Role::Supervisor)
        .await;
    app.add_account("canned-i", "受付", Role::Intake).await;
    let admin = app.login("canned-admin").await;
    let counsellor = app.login("canned-c").await;
    let supervisor = app.login("canned-s").await;
    let intake = app.login("canned-i").await;

    // A fresh deployment starts empty.
    assert_eq!(http.list(&admin, "").await, (200, json!([])));

    let (status, hello) = http
        .create(
            &admin,
            reply(
                "ja",
                "greeting",
                " はじめのご挨拶 ",
                "こんにちは。相談員の{name}です。\nゆっくりで大丈夫です。",
            ),
        )
        .await;
    assert_eq!(status, 201, "{hello}");
    assert_eq!(hello["title"], "はじめのご挨拶", "trimmed");
    assert_eq!(hello["lang"], "ja");
    assert_eq!(hello["category"], "greeting");
    let id = hello["canned_reply_id"].as_str().unwrap().to_owned();
    let (status, en) = http
        .create(
            &admin,
            reply(
                "en",
                "safe_messaging",
                "Your safety",
                "Thank you for telling me. Your safety matters most right now.",
            ),
        )
        .await;
    assert_eq!(status, 201, "{en}");
    http.create(
        &admin,
        reply(
            "ja",
            "closing",
            "終わりに",
            "今日はお話ししてくれてありがとうございました。",
        ),
    )
    .await;

    // Those who counsel read one language (Japanese unless asked).
    let (status, list) = http.list(&counsellor, "").await;
    assert_eq!(status, 200);
    assert_eq!(titles(&list), ["はじめのご挨拶", "終わりに"]);
    let (_, list) = http.list(&counsellor, "?lang=en").await;
    assert_eq!(titles(&list), ["Your safety"]);
    assert_eq!(list[0]["body"], en["body"]);
    let (_, list) = http.list(&supervisor, "?lang=ja").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    // Admins read all, or one language.
    let (_, list) = http.list(&admin, "").await;
    assert_eq!(list.as_array().unwrap().len(), 3);
    let (_, list) = http.list(&admin, "?lang=en").await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Only admins change it; intake staff (who do not chat) do not read it.
    let (status, body) = http
        .create(&counsellor, reply("ja", "other", "勝手に", "本文"))
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, body) = http
        .update(&supervisor, &id, reply("ja", "other", "勝手に", "本文"))
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, body) = http.delete(&counsellor, &id).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, body) = http.list(&intake, "").await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, body) = http
        .call(reqwest::Method::GET, "/api/canned-replies", None, None)
        .await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));

    // An edit replaces language, category, title and body; the id stays.
    let (status, edited) = http
        .update(
            &admin,
            &id,
            reply(
                "ja",
                "greeting",
                "ご挨拶",
                "こんにちは。ここでは名前を言わなくて大丈夫です。",
            ),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["canned_reply_id"], id.as_str());
    assert!(edited["updated_at"].as_u64() >= hello["updated_at"].as_u64());
    let (_, list) = http.list(&counsellor, "").await;
    assert_eq!(titles(&list), ["ご挨拶", "終わりに"]);
    assert_eq!(
        list[0]["body"],
        "こんにちは。ここでは名前を言わなくて大丈夫です。"
    );

    // Deleted once; then it is not found.
    assert_eq!(http.delete(&admin, &id).await.0, 204);
    let (status, body) = http.delete(&admin, &id).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, body) = http
        .update(&admin, &id, reply("ja", "greeting", "t", "b"))
        .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (_, list) = http.list(&counsellor, "").await;
    assert_eq!(titles(&list), ["終わりに"]);

    // The texts never reach the logs: only ids (checked by the privacy
    // suite for the whole server; here the service's own lines).
}

#[tokio::test]
async fn bad_canned_replies_are_refused_with_their_code_and_change_nothing() {
    let app = spawn_app().await;
    let http = Http::of(&app);
    app.add_account("canned-bad", "管理者", Role::Admin).await;
    let admin = app.login("canned-bad").await;
    let long = |n: usize| "あ".repeat(n);
    let cases: Vec<(Value, u16, &str)> = vec![
        (reply("ja", "greeting", "  ", "本文"), 400, "bad_request"),
        (
            reply("ja", "greeting", &long(61), "本文"),
            400,
            "bad_request",
        ),
        (
            reply("ja", "greeting", "改行\nあり", "本文"),
            400,
            "bad_request",
        ),
        (reply("ja", "greeting", "題", " \n "), 400, "text_empty"),
        (
            reply("ja", "greeting", "題", &long(1001)),
            400,
            "text_too_long",
        ),
        (
            reply("ja", "greeting", "題", "ベル\u{7}"),
            400,
            "bad_request",
        ),
        (reply("fr", "greeting", "題", "本文"), 400, "bad_request"),
        (reply("ja", "jokes", "題", "本文"), 400, "bad_request"),
        (
            json!({"lang": "ja", "category": "other", "title": "題"}),
            400,
            "bad_request",
        ),
        (
            json!({"lang": "ja", "category": "other", "title": "題", "body": "b", "extra": 1}),
            400,
            "bad_request",
        ),
    ];
    for (body, status, code) in &cases {
        let (s, v) = http.create(&admin, body.clone()).await;
        assert_eq!((s, v["code"].as_str()), (*status, Some(*code)), "{body}");
    }
    // The longest allowed still goes in.
    let (s, ok) = http
        .create(&admin, reply("ja", "other", &long(60), &long(1000)))
        .await;
    assert_eq!(s, 201, "{ok}");
    let id = ok["canned_reply_id"].as_str().unwrap().to_owned();
    // The same checks on an edit, which then leaves the entry as it was.
    for (body, status, code) in &cases {
        let (s, v) = http.update(&admin, &id, body.clone()).await;
        assert_eq!((s, v["code"].as_str()), (*status, Some(*code)), "{body}");
    }
    // An id that is not one.
    let (s, v) = http
        .update(&admin, "not-an-id", reply("ja", "other", "t", "b"))
        .await;
    assert_eq!((s, v["code"].as_str()), (404, Some("not_found")));
    let (s, v) = http.list(&admin, "?lang=xx").await;
    assert_eq!((s, v["code"].as_str()), (400, Some("bad_request")));
    let (_, list) = http.list(&admin, "").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["title"], long(60));
    assert_eq!(list[0]["body"], long(1000));
}

#[tokio::test]
async fn a_full_library_refuses_one_more() {
    let app = spawn_app().await;
    let http = Http::of(&app);
    app.add_account("canned-full", "管理者", Role::Admin).await;
    let admin = app.login("canned-full").await;
    let max = tsunagu::core::canned::LIBRARY_MAX;
    for i in 0..max {
        let (s, v) = http
            .create(&admin, reply("ja", "other", &format!("定型文{i}"), "本文"))
            .await;
        assert_eq!(s, 201, "{i}: {v}");
    }
    let (s, v) = http
        .create(&admin, reply("en", "other", "one more", "body"))
        .await;
    assert_eq!((s, v["code"].as_str()), (409, Some("canned_library_full")));
    let (_, list) = http.list(&admin, "").await;
    assert_eq!(list.as_array().unwrap().len(), max);
    // A delete makes room again.
    let first = list[0]["canned_reply_id"].as_str().unwrap().to_owned();
    assert_eq!(http.delete(&admin, &first).await.0, 204);
    assert_eq!(
        http.create(&admin, reply("en", "other", "one more", "body"))
            .await
            .0,
        201
    );
}
