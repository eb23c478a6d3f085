use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_need_nothing() {
    let s = Settings::load(None, env(&[])).unwrap();
    assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
    assert!(s.redis_url.is_none());
}

#[test]
fn environment_overrides_nested_values() {
    let s = Settings::load(
        None,
        env(&[
            ("TSUNAGU_BIND", "0.0.0.0:9000"),
            ("TSUNAGU_LIMITS__MAX_QUEUE", "7"),
            ("TSUNAGU_MATCHING", "manual"),
            ("TSUNAGU_REDIS_URL", "redis://127.0.0.1:6379/3"),
            ("OTHER", "ignored"),
        ]),
    )
    .unwrap();
    assert_eq!(s.bind.port(), 9000);
    assert_eq!(s.limits.max_queue, 7);
    assert_eq!(s.matching, MatchingMode::Manual);
    assert_eq!(s.redis_url.unwrap().expose(), "redis://127.0.0.1:6379/3");
    assert_eq!(s.redis_prefix, "tsunagu");
}

#[test]
fn secrets_never_print() {
    let s = Settings {
        redis_url: Some(Secret::new("redis://:hunter2@db")),
        ..Settings::default()
    };
    assert!(!format!("{s:?}").contains("hunter2"));
    assert!(!serde_json::to_string(&s).unwrap().contains("hunter2"));
}

#[test]
fn the_pin_key_never_prints_and_a_short_one_is_refused() {
    let s = Settings::load(
        None,
        env(&[("TSUNAGU_HANDOFF__PIN_KEY", "pin-key-secret-0123456789")]),
    )
    .unwrap();
    assert_eq!(
        s.handoff.pin_key.as_ref().unwrap().expose(),
        "pin-key-secret-0123456789"
    );
    assert!(!format!("{s:?}").contains("pin-key-secret"));
    assert!(!serde_json::to_string(&s)
        .unwrap()
        .contains("pin-key-secret"));
    assert!(Settings::load(None, env(&[("TSUNAGU_HANDOFF__PIN_KEY", "short")])).is_err());
}

#[test]
fn configured_users_are_checked_at_load() {
    let dir = std::env::temp_dir().join(format!("tsunagu-cfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.toml");
    let user = |name: &str, hash: &str| {
        format!("[[users]]\nusername = \"{name}\"\ndisplay_name = \"x\"\nrole = \"admin\"\npassword_hash = \"{hash}\"\n")
    };
    let good = crate::auth::hash_password("long enough password").unwrap();
    std::fs::write(&path, user("root", &good)).unwrap();
    assert_eq!(
        Settings::load(Some(&path), env(&[])).unwrap().users.len(),
        1
    );
    std::fs::write(&path, user("root", "plaintext")).unwrap();
    assert!(Settings::load(Some(&path), env(&[])).is_err());
    std::fs::write(&path, user("Root!", &good)).unwrap();
    assert!(Settings::load(Some(&path), env(&[])).is_err());
    std::fs::write(&path, user("root", &good) + &user("root", &good)).unwrap();
    assert!(Settings::load(Some(&path), env(&[])).is_err());
    // A display name with a line break (TOML's \r\n escapes) is refused.
    let broken = user("root", &good).replace("display_name = \"x\"", "display_name = \"a\\r\\nb\"");
    assert!(broken.contains("a\\r\\nb"));
    std::fs::write(&path, broken).unwrap();
    assert!(Settings::load(Some(&path), env(&[])).is_err());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_default_store_is_durable_in_data() {
    let s = Settings::load(None, env(&[])).unwrap();
    assert_eq!(s.store, StoreMode::Embedded);
    assert_eq!(s.data_dir, PathBuf::from("data"));
    let s = Settings::load(
        None,
        env(&[
            ("TSUNAGU_STORE", "memory"),
            ("TSUNAGU_DATA_DIR", "/var/lib/tsunagu"),
        ]),
    )
    .unwrap();
    assert_eq!(s.store, StoreMode::Memory);
    assert_eq!(s.data_dir, PathBuf::from("/var/lib/tsunagu"));
    assert!(Settings::load(None, env(&[("TSUNAGU_STORE", "disk")])).is_err());
}

#[test]
fn command_and_test_variables_are_not_settings() {
    let vars = env(&[
        ("TSUNAGU_USER_PASSWORD", "x"),
        ("TSUNAGU_TEST_STORE", "redis"),
    ]);
    assert!(Settings::load(None, vars).is_ok());
}

#[test]
fn unknown_and_invalid_settings_are_refused() {
    assert!(Settings::load(None, env(&[("TSUNAGU_NO_SUCH", "1")])).is_err());
    assert!(Settings::load(None, env(&[("TSUNAGU_METRICS_TOKEN", "")])).is_err());
    assert!(Settings::load(None, env(&[("TSUNAGU_LIMITS__FRAMES_PER_SEC", "0")])).is_err());
    assert!(Settings::load(None, env(&[("TSUNAGU_LIMITS__OUTBOX_MESSAGES", "0")])).is_err());
    assert!(Settings::load(None, env(&[("TSUNAGU_TIMING__CLIENT_TIMEOUT_MS", "10")])).is_err());
    assert!(Settings::load(None, env(&[("TSUNAGU_REDIS_PREFIX", "a:b")])).is_err());
    assert!(Settings::load(None, env(&[("TSUNAGU_REDIS_PREFIX", "{x}")])).is_err());
    assert!(Settings::load(None, env(&[("TSUNAGU_HOURS__LAST_ENTRY_MINUTES", "2000")])).is_err());
    // HSTS only over HTTPS; a request time-out long enough for a phone.
    assert!(Settings::load(None, env(&[("TSUNAGU_HSTS_MAX_AGE_SECS", "600")])).is_err());
    let hsts = env(&[
        ("TSUNAGU_HSTS_MAX_AGE_SECS", "600"),
        ("TSUNAGU_COOKIE_SECURE", "true"),
    ]);
    assert_eq!(Settings::load(None, hsts).unwrap().hsts_max_age_secs, 600);
    let t = env(&[("TSUNAGU_TIMING__HTTP_REQUEST_TIMEOUT_MS", "10")]);
    assert!(Settings::load(None, t).is_err());
}

#[test]
fn hours_come_from_the_file() {
    let dir = std::env::temp_dir().join(format!("tsunagu-cfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("h.toml");
    std::fs::write(
        &path,
        "[hours]\nlast_entry_minutes = 15\n[[hours.weekly]]\ndays = [\"tue\", \"thu\"]\nopen = \"10:00\"\nclose = \"16:00\"\n[[hours.closures]]\nfrom = \"2026-08-13\"\nto = \"2026-08-15\"\n",
    )
    .unwrap();
    let s = Settings::load(Some(&path), env(&[])).unwrap();
    assert_eq!(s.hours.weekly.len(), 1);
    assert_eq!(s.hours.closures.len(), 1);
    assert!(s.hours.closed_on_national_holidays);
    std::fs::write(
        &path,
        "[[hours.weekly]]\ndays = [\"tue\"]\nopen = \"16:00\"\nclose = \"10:00\"\n",
    )
    .unwrap();
    assert!(Settings::load(Some(&path), env(&[])).is_err());
    let always = Settings::load(None, env(&[("TSUNAGU_HOURS__ALWAYS_OPEN", "true")])).unwrap();
    assert!(always.hours.always_open);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_greeting_ships_in_both_languages_and_may_be_turned_off_but_not_be_a_page() {
    let s = Settings::load(None, Vec::new()).unwrap();
    assert!(!s.site.greeting_ja.is_empty() && !s.site.greeting_en.is_empty());
    let off = Settings::load(
        None,
        env(&[
            ("TSUNAGU_SITE__GREETING_JA", ""),
            ("TSUNAGU_SITE__GREETING_EN", ""),
        ]),
    )
    .unwrap();
    assert_eq!(off.site.greeting_ja, "");
    let own = Settings::load(None, env(&[("TSUNAGU_SITE__GREETING_JA", "ようこそ")])).unwrap();
    assert_eq!(own.site.greeting_ja, "ようこそ");
    let long = "あ".repeat(MAX_GREETING_CHARS + 1);
    let err = Settings::load(None, env(&[("TSUNAGU_SITE__GREETING_EN", &long)])).unwrap_err();
    assert!(err.to_string().contains("greeting"), "{err}");
    let just = "あ".repeat(MAX_GREETING_CHARS);
    assert!(Settings::load(None, env(&[("TSUNAGU_SITE__GREETING_EN", &just)])).is_ok());
}

#[test]
fn a_default_install_offers_the_japanese_emergency_numbers_and_lines() {
    for s in [
        Settings::load(None, env(&[])).unwrap(),
        // An explicitly empty list counts as none configured.
        Settings::load(None, env(&[("TSUNAGU_ALTERNATIVES", "[]")])).unwrap(),
    ] {
        let contacts: Vec<&str> = s.alternatives.iter().map(|a| a.contact.as_str()).collect();
        assert_eq!(
            contacts,
            ["119", "110", "0120-279-338", "0120-0-78310", "0570-783-556"]
        );
        let emergency: Vec<&str> = s
            .alternatives
            .iter()
            .filter(|a| a.emergency)
            .map(|a| a.contact.as_str())
            .collect();
        assert_eq!(emergency, ["119", "110"]);
        assert!(s.alternatives.iter().all(|a| a.name_en.is_some()));
    }
}

#[test]
fn configured_alternatives_replace_the_defaults_whole() {
    let dir = std::env::temp_dir().join(format!("tsunagu-alt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.toml");
    std::fs::write(
        &path,
        "[[alternatives]]\nname = \"センター\"\ncontact = \"03-0000-0000\"\n",
    )
    .unwrap();
    let s = Settings::load(Some(&path), env(&[])).unwrap();
    assert_eq!(s.alternatives.len(), 1);
    assert_eq!(s.alternatives[0].contact, "03-0000-0000");
    assert!(!s.alternatives[0].emergency);
    std::fs::remove_dir_all(&dir).ok();
}

// ---- Redis Sentinel and replication waits (issue 25)

#[test]
fn sentinels_come_from_the_environment_as_a_toml_array() {
    let s = Settings::load(
        None,
        env(&[
            (
                "TSUNAGU_REDIS_SENTINELS",
                r#"["10.0.0.21:26379","sentinel-b.internal:26379"]"#,
            ),
            ("TSUNAGU_REDIS_SERVICE", "tsunagu"),
            ("TSUNAGU_REDIS_PASSWORD", "hunter2-data"),
            ("TSUNAGU_REDIS_USERNAME", "tsunagu-node"),
            ("TSUNAGU_REDIS_SENTINEL_PASSWORD", "hunter2-sentinel"),
            ("TSUNAGU_REDIS_SENTINEL_USERNAME", "watcher"),
            ("TSUNAGU_REDIS_REPLICAS_TO_WAIT", "1"),
            ("TSUNAGU_REDIS_WAIT_MESSAGES", "true"),
        ]),
    )
    .unwrap();
    assert_eq!(s.redis_sentinels.len(), 2);
    assert!(s.uses_redis());
    assert_eq!(s.redis_replicas_to_wait, 1);
    assert_eq!(s.redis_wait_timeout_ms, 1000);
    assert!(s.redis_wait_messages);
    assert_eq!(s.redis_username.as_deref(), Some("tsunagu-node"));
    assert_eq!(s.redis_sentinel_username.as_deref(), Some("watcher"));
    assert_eq!(
        s.redis_sentinel_password.as_ref().map(|p| p.expose()),
        Some("hunter2-sentinel")
    );
    assert!(!format!("{s:?}").contains("hunter2"));
    assert!(!serde_json::to_string(&s).unwrap().contains("hunter2"));
}

#[test]
fn each_bad_sentinel_setting_is_refused_with_its_reason() {
    let refused = |pairs: &[(&str, &str)], why: &str| {
        let e = Settings::load(None, env(pairs)).unwrap_err().to_string();
        assert!(e.contains(why), "{pairs:?}: {e}");
    };
    let one = ("TSUNAGU_REDIS_SENTINELS", r#"["127.0.0.1:26379"]"#);
    let service = ("TSUNAGU_REDIS_SERVICE", "tsunagu");
    refused(&[one], "redis_service");
    refused(&[one, ("TSUNAGU_REDIS_SERVICE", "a:b")], "redis_service");
    refused(
        &[one, service, ("TSUNAGU_REDIS_URL", "redis://127.0.0.1")],
        "not both",
    );
    for bad in [
        "127.0.0.1",
        "127.0.0.1:0",
        "127.0.0.1:99999",
        ":26379",
        "a b:1",
    ] {
        let list = format!(r#"["{bad}"]"#);
        refused(&[("TSUNAGU_REDIS_SENTINELS", &list), service], "host:port");
    }
    refused(&[service], "are for redis_sentinels");
    for lone in [
        "TSUNAGU_REDIS_PASSWORD",
        "TSUNAGU_REDIS_USERNAME",
        "TSUNAGU_REDIS_SENTINEL_PASSWORD",
        "TSUNAGU_REDIS_SENTINEL_USERNAME",
    ] {
        refused(&[(lone, "x")], "are for redis_sentinels");
    }
    // Credentials for the Sentinels and the data nodes.
    refused(
        &[one, service, ("TSUNAGU_REDIS_SENTINEL_USERNAME", "watcher")],
        "redis_sentinel_username needs redis_sentinel_password",
    );
    refused(
        &[one, service, ("TSUNAGU_REDIS_USERNAME", "tsunagu")],
        "redis_username needs redis_password",
    );
    refused(
        &[
            one,
            service,
            ("TSUNAGU_REDIS_SENTINEL_USERNAME", "a b"),
            ("TSUNAGU_REDIS_SENTINEL_PASSWORD", "pw"),
        ],
        "redis_sentinel_username must be",
    );
    // An empty password is none (compose's `${VAR:-}`): fine alone,
    // not enough for a username.
    for pw in ["TSUNAGU_REDIS_SENTINEL_PASSWORD", "TSUNAGU_REDIS_PASSWORD"] {
        Settings::load(None, env(&[one, service, (pw, "")])).unwrap();
        Settings::load(None, env(&[(pw, "")])).unwrap();
    }
    refused(
        &[
            one,
            service,
            ("TSUNAGU_REDIS_SENTINEL_USERNAME", "watcher"),
            ("TSUNAGU_REDIS_SENTINEL_PASSWORD", ""),
        ],
        "redis_sentinel_username needs redis_sentinel_password",
    );
    refused(
        &[("TSUNAGU_REDIS_WAIT_TIMEOUT_MS", "0")],
        "redis_wait_timeout_ms",
    );
    refused(
        &[("TSUNAGU_REDIS_WAIT_TIMEOUT_MS", "4001")],
        "redis_wait_timeout_ms",
    );
    refused(&[("TSUNAGU_REDIS_REPLICAS_TO_WAIT", "17")], "at most 16");
    refused(
        &[("TSUNAGU_REDIS_WAIT_MESSAGES", "true")],
        "redis_replicas_to_wait",
    );
}

#[test]
fn the_case_keep_period_is_at_least_the_conversation_period() {
    let s = Settings::load(None, env(&[])).unwrap();
    assert_eq!(s.retention.case_keep_days, 180);
    assert_eq!(s.retention.case_keep_wording_version, "2026-12");
    let short = env(&[
        ("TSUNAGU_RETENTION__CONVERSATION_DAYS", "30"),
        ("TSUNAGU_RETENTION__CASE_KEEP_DAYS", "29"),
    ]);
    assert!(Settings::load(None, short).is_err());
    let same = env(&[("TSUNAGU_RETENTION__CASE_KEEP_DAYS", "30")]);
    assert_eq!(
        Settings::load(None, same).unwrap().retention.case_keep_days,
        30
    );
    let blank = env(&[("TSUNAGU_RETENTION__CASE_KEEP_WORDING_VERSION", " ")]);
    assert!(Settings::load(None, blank).is_err());
}

#[test]
fn the_hearing_sheet_of_the_docs_loads_and_a_broken_one_is_refused() {
    let doc = include_str!("../../docs/HEARING.md");
    let toml = doc
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/HEARING.md has a toml example");
    let dir = std::env::temp_dir().join(format!("tsunagu-cfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hearing.toml");
    std::fs::write(&path, toml).unwrap();
    let s = Settings::load(Some(&path), env(&[])).unwrap();
    let sheets = s.hearing.sheets();
    assert_eq!(sheets.current().version, 1);
    assert_eq!(sheets.current().questions().count(), 3);
    // Without a sheet of its own, a deployment gets the built-in one.
    let default = Settings::load(None, env(&[])).unwrap();
    assert_eq!(
        default.hearing.sheets,
        vec![crate::core::hearing::default_sheet()]
    );
    // A scale with options is refused at load, with the question named.
    std::fs::write(
        &path,
        toml.replace(
            "kind = \"scale\"",
            "kind = \"scale\"\noptions = [{ id = \"a\", label_ja = \"あ\", label_en = \"a\" }]",
        ),
    )
    .unwrap();
    let err = Settings::load(Some(&path), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("question `mood`"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
