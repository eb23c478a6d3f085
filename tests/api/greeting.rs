//! The greeting a visitor sees when a counsellor joins (issue 19 part C):
//! a setting in both languages, published in `GET /api/info`, shipped with
//! a default, and off when empty.

use serde_json::Value;

use crate::helpers::*;

async fn info(app: &TestApp) -> Value {
    reqwest::get(app.url("/api/info"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_shipped_greeting_is_in_the_public_facts_in_both_languages() {
    let app = spawn_app().await;
    let site = &info(&app).await["site"];
    assert!(site["greeting_ja"]
        .as_str()
        .unwrap()
        .starts_with("つながりました"));
    assert!(site["greeting_en"]
        .as_str()
        .unwrap()
        .starts_with("You are connected"));
}

#[tokio::test]
async fn a_configured_greeting_replaces_it_and_an_empty_one_turns_it_off() {
    let app = spawn_app_with(|s| {
        s.site.greeting_ja = "ようこそ。ゆっくりどうぞ。".into();
        s.site.greeting_en = String::new();
    })
    .await;
    let site = &info(&app).await["site"];
    assert_eq!(site["greeting_ja"], "ようこそ。ゆっくりどうぞ。");
    assert_eq!(site["greeting_en"], "");
}
