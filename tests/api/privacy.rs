//! Promise 1: message text, notes and client addresses never reach the logs,
//! even at the most verbose level. Runs the real binary and reads what it
//! prints.

use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::*;

/// `secret` is in no line of `logs` (the first few hits are shown if it is).
fn assert_not_logged(logs: &str, secret: &str) {
    let hits: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(secret))
        .take(3)
        .collect();
    assert!(
        hits.is_empty(),
        "{secret:?} appeared in the logs: {hits:#?}"
    );
}

/// The server's stdout and stderr, read on threads while it runs: at trace
/// level it writes more than a pipe holds, and a full pipe would stall its
/// writes. Join the handles once the server has stopped.
fn read_output(child: &mut std::process::Child) -> Vec<std::thread::JoinHandle<String>> {
    [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ]
    .into_iter()
    .map(|mut pipe| {
        std::thread::spawn(move || {
            let mut out = String::new();
            let _ = pipe.read_to_string(&mut out);
            out
        })
    })
    .collect()
}

/// A loopback source address no other test uses, so finding it in the logs
/// can only mean it was logged.
const CLIENT_IP: &str = "127.87.65.43";
const MARK_MESSAGE: &str = "MARKER-MSG-kokoro-7f3a";
const MARK_FIRST: &str = "MARKER-FIRST-7f3a";
const MARK_NOTE: &str = "MARKER-NOTE-7f3a";
const MARK_FORWARDED: &str = "127.66.55.44";
const MARK_SUMMARY: &str = "MARKER-SUMMARY-7f3a";
const MARK_NAME: &str = "MARKER-NAME-7f3a";
const MARK_PHONE: &str = "090-7373-3131";
const MARK_EMAIL: &str = "marker-7f3a@example";
const MARK_LINE_USER: &str = "U7f3a0000marker0000line0000user00";
const MARK_LETTER: &str = "MARKER-LETTER-7f3a";
const MARK_ANSWER: &str = "MARKER-ANSWER-7f3a";
/// A hearing sheet's free text, and an answer that is refused (issue 23).
const MARK_HEARING: &str = "MARKER-HEARING-7f3a";
const MARK_HEARING_BAD: &str = "MARKER-HEARING-BAD-7f3a";
/// A relay sheet's purpose (issue 23); its contents carry MARK_HEARING.
const MARK_RELAY: &str = "MARKER-RELAY-7f3a";

async fn ws_from(addr: &str, path: &str, headers: &[(&str, &str)]) -> Ws {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(format!("{CLIENT_IP}:0").parse::<SocketAddr>().unwrap())
        .unwrap();
    let stream = socket.connect(addr.parse().unwrap()).await.unwrap();
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    for (k, v) in headers {
        let name: tokio_tungstenite::tungstenite::http::HeaderName = k.parse().unwrap();
        req.headers_mut().insert(name, v.parse().unwrap());
    }
    let (stream, _) =
        tokio_tungstenite::client_async(req, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
    Ws::from_stream(stream, path)
}

#[tokio::test]
async fn nothing_personal_reaches_the_logs_at_trace_level() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let dir = std::env::temp_dir().join(format!("tsunagu-privacy-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let hash = tsunagu::auth::hash_password(PASSWORD).unwrap();
    std::fs::write(
        dir.join("tsunagu.toml"),
        format!(
            "[[users]]\nusername = \"privacy\"\ndisplay_name = \"相談員\"\nrole = \"counsellor\"\npassword_hash = \"{hash}\"\n\
             [[users]]\nusername = \"boss\"\ndisplay_name = \"管理者\"\nrole = \"admin\"\npassword_hash = \"{hash}\"\n"
        ),
    )
    .unwrap();
    let line = crate::line::StandIn::start().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tsunagu"))
        .env_clear()
        .env("TSUNAGU_LINE__CHANNEL_SECRET", crate::line::SECRET)
        .env("TSUNAGU_LINE__ACCESS_TOKEN", crate::line::TOKEN)
        .env("TSUNAGU_LINE__API_BASE", &line.base)
        .env("TSUNAGU_PUBLIC_URL", "https://chat.example.jp")
        .env("TSUNAGU_BIND", &addr)
        .env("TSUNAGU_AUTH__SECOND_FACTOR_ROLES", "[]")
        .env("TSUNAGU_LOG", "trace")
        // Opening hours are enforced by default; tests run at any hour.
        .env("TSUNAGU_HOURS__ALWAYS_OPEN", "true")
        .env("TSUNAGU_LIMITS__SOCKETS_PER_ADDRESS", "1000000")
        .env("TSUNAGU_LIMITS__WAITING_PER_ADDRESS", "1000000")
        .env(
            "TSUNAGU_LIMITS__WAITING_MESSAGES_PER_CONVERSATION",
            "1000000",
        )
        .env(
            "TSUNAGU_LIMITS__WAITING_BYTES_PER_CONVERSATION",
            "1000000000",
        )
        .env("TSUNAGU_LOG_FORMAT", "json")
        .env("TSUNAGU_TRUST_FORWARDED_FOR", "true")
        .env("TSUNAGU_TIMING__HEARTBEAT_INTERVAL_MS", "200")
        .env("TSUNAGU_TIMING__CLIENT_TIMEOUT_MS", "1000")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let readers = read_output(&mut child);
    for _ in 0..100 {
        if reqwest::get(format!("http://{addr}/healthz")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A full scenario: login, a conversation with pre-chat text, messages
    // both ways, a note, a resume, a refused frame, an end.
    let http = reqwest::Client::builder()
        .local_address(CLIENT_IP.parse().ok())
        .build()
        .unwrap();
    let r = http
        .post(format!("http://{addr}/api/login"))
        .header("x-forwarded-for", MARK_FORWARDED)
        .json(&json!({"username": "privacy", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut c = ws_from(
        &addr,
        "/ws/counsellor",
        &[("cookie", &cookie), ("x-forwarded-for", MARK_FORWARDED)],
    )
    .await;
    c.send(json!({"type": "hello"})).await;
    c.recv_type("welcome").await;
    c.send(json!({"type": "set_status", "status": "available"}))
        .await;

    let mut v = ws_from(&addr, "/ws/visitor", &[("x-forwarded-for", MARK_FORWARDED)]).await;
    v.send(json!({"type": "start", "pre_chat": {"who": "self"}, "first_message": MARK_FIRST}))
        .await;
    let w = v.recv_type("welcome").await;
    let conv = w["conversation_id"].as_str().unwrap().to_owned();
    let token = w["resume_token"].as_str().unwrap().to_owned();
    c.recv_type("assigned").await;
    v.send(json!({"type": "send", "client_id": "p1", "text": MARK_MESSAGE}))
        .await;
    c.recv_type("message").await;
    c.send(
        json!({"type": "send", "conversation_id": conv, "client_id": "p2", "text": MARK_MESSAGE}),
    )
    .await;
    c.send(json!({"type": "note", "conversation_id": conv, "text": MARK_NOTE}))
        .await;
    c.recv_type("note_saved").await;
    // Issue 23: the hearing sheet, saved, and refused with a wrong answer.
    let sheet = format!("http://{addr}/api/counsellor/conversations/{conv}/hearing");
    let answers = json!({"contact": "self", "mood": 2, "situation": MARK_HEARING});
    let r = http
        .put(&sheet)
        .header("cookie", &cookie)
        .json(&json!({"version": 1, "answers": answers, "complete": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .put(&sheet)
        .header("cookie", &cookie)
        .json(&json!({"version": 1, "answers": {"contact": MARK_HEARING_BAD}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Issue 23: a relay of the sheet's text to a partner, consented and
    // read through the partner's link.
    let boss = admin_cookie(&http, &addr).await;
    let partner: serde_json::Value = http
        .post(format!("http://{addr}/api/partners"))
        .header("cookie", &boss)
        .json(&json!({"name_ja": "連携先", "offers": ["welfare"], "contact": "000", "accepts_relays": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let partner = partner["partner_id"].as_str().unwrap().to_owned();
    let relays = format!("http://{addr}/api/counsellor/conversations/{conv}/relays");
    let prepared: serde_json::Value = http
        .post(&relays)
        .header("cookie", &cookie)
        .json(&json!({"purpose": MARK_RELAY, "partners": [{"partner_id": partner, "questions": ["situation", "contact"]}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let relay = prepared["relay"]["relay_id"].as_str().unwrap().to_owned();
    let r = http
        .post(format!("http://{addr}/api/visitor/relays/answer"))
        .json(&json!({"conversation_id": conv, "token": token, "relay_id": relay,
            "wording_version": prepared["relay"]["wording_version"], "consents": {partner.clone(): true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let link: serde_json::Value = http
        .post(format!("{relays}/{relay}/link"))
        .header("cookie", &cookie)
        .json(&json!({"partner_id": partner}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let relay_link = link["link"]
        .as_str()
        .unwrap()
        .trim_start_matches("/relay/#")
        .to_owned();
    let r = http
        .post(format!("http://{addr}/api/relay/view"))
        .json(&json!({"link": relay_link}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    v.send_raw(tokio_tungstenite::tungstenite::Message::text(format!(
        "{{\"type\":\"send\",\"text\":\"{MARK_MESSAGE}\""
    )))
    .await;
    v.expect_error("bad_json").await;
    v.drop_connection();
    let mut v = ws_from(&addr, "/ws/visitor", &[]).await;
    v.send(json!({"type": "resume", "conversation_id": conv, "token": token}))
        .await;
    v.recv_type("welcome").await;
    // Issue 22: a return code is a secret like a resume token.
    v.send(json!({"type": "return_code"})).await;
    let return_code = v.recv_type("return_code").await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let pin = handoff_with_contact_details(&addr, &mut c, &mut v, &conv, &token).await;
    c.send(json!({"type": "end", "conversation_id": conv, "outcome": "listened"}))
        .await;
    v.recv_type("ended").await;
    // A LINE visitor: their user id is personal data, like a phone number.
    let ev = crate::line::text_event(MARK_LINE_USER, "01PRIV", MARK_FIRST, false);
    assert_eq!(crate::line::post_webhook(&addr, vec![ev], None).await, 200);
    let assigned = c.recv_type("assigned").await;
    let line_conv = assigned["conversation"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    c.send(json!({"type": "send", "conversation_id": line_conv, "client_id": "p3", "text": MARK_MESSAGE}))
        .await;
    assert_eq!(c.recv_type("line_delivery").await["state"], "sent");
    // The one-time handoff link sent to them is a secret like a resume
    // token: sent, then used once.
    c.send(
        json!({"type": "offer_handoff", "conversation_id": line_conv,
        "summary": MARK_SUMMARY, "include_transcript": false}),
    )
    .await;
    let link = line_handoff_link(&line).await;
    let r = http
        .post(format!("http://{addr}/api/handoff"))
        .json(&json!({ "link": link }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(format!("http://{addr}/api/login"))
        .json(&json!({"username": "privacy", "password": MARK_NOTE}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The visitor comes back with the code (and someone tries a wrong one).
    let mut back = ws_from(&addr, "/ws/visitor", &[]).await;
    back.send(json!({"type": "start", "return_code": return_code}))
        .await;
    back.recv_type("welcome").await;
    let wrong_code = "2345-6789-ABCD-EFGH-JKMN";
    let mut wrong = ws_from(&addr, "/ws/visitor", &[]).await;
    wrong
        .send(json!({"type": "start", "return_code": wrong_code}))
        .await;
    wrong.expect_error("resume_failed").await;

    // A letter (issue 22): written, answered, read with its code.
    let r = http
        .post(format!("http://{addr}/api/letters"))
        .header("x-forwarded-for", MARK_FORWARDED)
        .json(&json!({"text": MARK_LETTER}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let receipt: serde_json::Value = r.json().await.unwrap();
    let letter_code = receipt["return_code"].as_str().unwrap().to_owned();
    let letter = receipt["letter_id"].as_str().unwrap().to_owned();
    let r = http
        .post(format!(
            "http://{addr}/api/counsellor/letters/{letter}/answer"
        ))
        .header("cookie", &cookie)
        .json(&json!({"client_id": "pl1", "text": MARK_ANSWER}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(format!("http://{addr}/api/letters/read"))
        .json(&json!({"return_code": letter_code}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Stop the server and read everything it printed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = child.kill();
    let _ = child.wait();
    let logs: String = readers.into_iter().map(|r| r.join().unwrap()).collect();
    // The booking PIN is six digits, and so is the microsecond part of a
    // log line's timestamp: scan the lines without their timestamps, or a
    // PIN equal to some line's microseconds (one run in a few hundred)
    // reads as a leak.
    let logs: String = logs
        .lines()
        .map(without_timestamp)
        .collect::<Vec<_>>()
        .join("\n");
    let _ = std::fs::remove_dir_all(&dir);

    assert!(
        logs.lines().count() > 20,
        "the server logged at trace level:\n{logs}"
    );
    assert!(
        logs.contains(&conv),
        "ids are logged, so the scan is looking at real logs"
    );
    for secret in [
        MARK_MESSAGE,
        MARK_FIRST,
        MARK_NOTE,
        CLIENT_IP,
        MARK_FORWARDED,
        PASSWORD,
        &token,
        &hash,
        MARK_SUMMARY,
        MARK_NAME,
        MARK_PHONE,
        MARK_EMAIL,
        &pin,
        MARK_LINE_USER,
        &link,
        &return_code,
        &return_code.replace('-', ""),
        wrong_code,
        &wrong_code.replace('-', ""),
        MARK_LETTER,
        MARK_ANSWER,
        MARK_HEARING,
        MARK_HEARING_BAD,
        MARK_RELAY,
        &relay_link,
        &letter_code,
        &letter_code.replace('-', ""),
        crate::line::SECRET,
        crate::line::TOKEN,
    ] {
        assert_not_logged(&logs, secret);
    }
    // Cookies and resume tokens never appear either.
    let session = cookie.split_once('=').unwrap().1;
    assert!(!logs.contains(session), "the session token was logged");
}

/// The admin `boss` logged in: the session cookie.
async fn admin_cookie(http: &reqwest::Client, addr: &str) -> String {
    let r = http
        .post(format!("http://{addr}/api/login"))
        .json(&json!({"username": "boss", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// A JSON log line with its `timestamp` field's value blanked.
fn without_timestamp(line: &str) -> String {
    const FIELD: &str = "\"timestamp\":\"";
    match line.find(FIELD) {
        Some(at) => {
            let value = at + FIELD.len();
            match line[value..].find('"') {
                Some(len) => format!("{}{}", &line[..value], &line[value + len..]),
                None => line.to_owned(),
            }
        }
        None => line.to_owned(),
    }
}

/// The token of the first handoff link pushed to the LINE stand-in.
async fn line_handoff_link(line: &crate::line::StandIn) -> String {
    const AT: &str = "https://chat.example.jp/handoff/#";
    for _ in 0..200 {
        let texts: Vec<String> = line
            .received()
            .iter()
            .filter(|r| r.accepted)
            .flat_map(|r| r.body["messages"].as_array().cloned().unwrap_or_default())
            .filter_map(|m| m["text"].as_str().map(str::to_owned))
            .collect();
        if let Some(t) = texts.iter().find(|t| t.contains(AT)) {
            let at = t.find(AT).unwrap() + AT.len();
            return t[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no handoff link reached the LINE stand-in");
}

/// The handoff's personal data: a summary, a name, a phone number, a
/// malformed e-mail address, a PIN. Returns the PIN.
async fn handoff_with_contact_details(
    addr: &str,
    c: &mut Ws,
    v: &mut Ws,
    conv: &str,
    token: &str,
) -> String {
    let http = reqwest::Client::new();
    let admin = admin_cookie(&http, addr).await;
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("http://{addr}{path}"))
            .header("cookie", &admin)
            .header("x-forwarded-for", MARK_FORWARDED)
            .json(&body)
            .send()
    };
    let starts = crate::helpers::office_hours_at(1, 10 * 60);
    let slot: serde_json::Value = post(
        "/api/admin/slots",
        json!({"starts_at": starts, "duration_mins": 30, "kind": "online", "place": "オンライン", "capacity": 1}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    c.send(json!({"type": "offer_handoff", "conversation_id": conv, "summary": MARK_SUMMARY}))
        .await;
    let offered = v.recv_type("handoff").await["handoff"].clone();
    let r = post(
        "/api/handoff/answer",
        json!({"conversation_id": conv, "token": token, "version": offered["version"],
            "wording_version": offered["terms"]["wording_version"], "lang": "ja",
            "answer": "consent", "contact": true}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let bad = post(
        "/api/handoff/book",
        json!({"conversation_id": conv, "token": token, "slot_id": slot["slot_id"],
            "contact": {"kind": "email", "value": MARK_EMAIL}}),
    )
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
    let receipt: serde_json::Value = post(
        "/api/handoff/book",
        json!({"conversation_id": conv, "token": token, "slot_id": slot["slot_id"],
            "name": MARK_NAME, "contact": {"kind": "phone", "value": MARK_PHONE}}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let pin = receipt["pin"].as_str().unwrap().to_owned();
    let found = post(
        "/api/booking",
        json!({"reference": receipt["booking"]["reference"], "pin": pin}),
    )
    .await
    .unwrap();
    assert_eq!(found.status(), 200);
    pin
}

/// The Redis and Sentinel passwords (issue 25) never reach the logs, at
/// trace level, whether the start succeeds or a Sentinel refuses it: the
/// real binary, through a Sentinel and a primary of the test's own that
/// both require a password.
#[tokio::test]
async fn no_redis_or_sentinel_password_reaches_the_logs() {
    use crate::sentinel_auth::{protected, DATA_PASSWORD, SENTINEL_PASSWORD};
    if suite_on_redis() || suite_on_embedded() {
        return; // it brings its own Redis and Sentinel; once per run is enough
    }
    let p = protected();
    let dir = TempDir::new("privacy-redis");
    let hash = tsunagu::auth::hash_password(PASSWORD).unwrap();
    std::fs::write(
        dir.path().join("tsunagu.toml"),
        format!(
            "[[users]]\nusername = \"privacy\"\ndisplay_name = \"相談員\"\nrole = \"counsellor\"\npassword_hash = \"{hash}\"\n"
        ),
    )
    .unwrap();
    const WRONG: &str = "wrong-sentinel-password-7f3a";
    let run = |sentinel_password: &str| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_tsunagu"))
            .env_clear()
            .env("TSUNAGU_BIND", format!("127.0.0.1:{port}"))
            .env("TSUNAGU_LOG", "trace")
            .env("TSUNAGU_LOG_FORMAT", "json")
            .env("TSUNAGU_REDIS_SENTINELS", format!("[\"{}\"]", p.sentinel))
            .env("TSUNAGU_REDIS_SERVICE", "tsunagu")
            .env("TSUNAGU_REDIS_PREFIX", unique_prefix())
            .env("TSUNAGU_REDIS_PASSWORD", DATA_PASSWORD)
            .env("TSUNAGU_REDIS_SENTINEL_PASSWORD", sentinel_password)
            .env("TSUNAGU_HANDOFF__PIN_KEY", "privacy-redis-pin-key-0123456")
            .env("TSUNAGU_AUTH__SECOND_FACTOR_ROLES", "[]")
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        (child, format!("127.0.0.1:{port}"))
    };
    let collect = |mut child: std::process::Child| {
        let readers = read_output(&mut child);
        (child, readers)
    };

    // Started with the right passwords: ready, a login (account writes on
    // the primary), then stopped.
    let (child, addr) = run(SENTINEL_PASSWORD);
    let (mut child, readers) = collect(child);
    let mut ready = false;
    for _ in 0..200 {
        if matches!(reqwest::get(format!("http://{addr}/readyz")).await, Ok(r) if r.status() == 200)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the node started through the Sentinel");
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/api/login"))
        .json(&json!({"username": "privacy", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = child.kill();
    let _ = child.wait();
    let mut logs: String = readers.into_iter().map(|r| r.join().unwrap()).collect();
    assert!(
        logs.contains("connected to redis"),
        "the scan is looking at real logs: {logs}"
    );

    // Refused by the Sentinel: the start fails, saying which setting.
    let (child, _) = run(WRONG);
    let (mut child, readers) = collect(child);
    let status = child.wait().unwrap();
    assert!(!status.success());
    let refused: String = readers.into_iter().map(|r| r.join().unwrap()).collect();
    assert!(refused.contains("redis_sentinel_password"), "{refused}");
    logs.push_str(&refused);

    for secret in [DATA_PASSWORD, SENTINEL_PASSWORD, WRONG] {
        assert_not_logged(&logs, secret);
    }
}
