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
    // Read the output while the server runs: at trace level it is more
    // than a pipe holds, and a full pipe would stall the server's writes.
    let readers: Vec<_> = [
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
    .collect();
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

    // Stop the server and read everything it printed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = child.kill();
    let _ = child.wait();
    let logs: String = readers.into_iter().map(|r| r.join().unwrap()).collect();
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
        crate::line::SECRET,
        crate::line::TOKEN,
    ] {
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
    // Cookies and resume tokens never appear either.
    let session = cookie.split_once('=').unwrap().1;
    assert!(!logs.contains(session), "the session token was logged");
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
    let r = http
        .post(format!("http://{addr}/api/login"))
        .json(&json!({"username": "boss", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let admin = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("http://{addr}{path}"))
            .header("cookie", &admin)
            .header("x-forwarded-for", MARK_FORWARDED)
            .json(&body)
            .send()
    };
    let starts = tsunagu::clock::now_ms() + 86_400_000;
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
