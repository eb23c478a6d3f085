//! A whole conversation, visitor <-> counsellor.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_visitor_and_a_counsellor_complete_a_conversation() {
    let app = spawn_app().await;
    let mut c = app.counsellor("aoki").await;
    assert_eq!(c.welcome["status"], "away");
    c.available(2).await;

    let (mut v, welcome) = app
        .start_visitor(json!({
            "type": "start",
            "pre_chat": {"who": "family_together", "age_band": "twenties", "topic": "family"},
            "first_message": "息子のことで相談したいです"
        }))
        .await;
    assert_eq!(welcome["protocol"], 1);
    assert_eq!(welcome["last_seq"], 1);
    assert_eq!(welcome["resume_token"].as_str().unwrap().len(), 43);
    let conv = welcome["conversation_id"].as_str().unwrap().to_owned();

    assert_eq!(wait_matched(&mut v, &welcome).await, "aoki-san");

    let assigned = c.ws.recv_type("assigned").await;
    assert_eq!(assigned["conversation"]["conversation_id"], conv);
    assert_eq!(
        assigned["conversation"]["pre_chat"]["who"],
        "family_together"
    );
    let first = c.ws.recv_type("message").await;
    assert_eq!(first["seq"], 1);
    assert_eq!(first["from"], "visitor");
    assert_eq!(first["text"], "息子のことで相談したいです");

    // Counsellor -> visitor.
    c.ws.send(json!({"type": "send", "conversation_id": conv, "client_id": "c1", "text": "こんにちは。お話を聞かせてください。"})).await;
    let sent = c.ws.recv_type("sent").await;
    assert_eq!(sent["seq"], 2);
    assert_eq!(sent["client_id"], "c1");
    let m = v.recv_type("message").await;
    assert_eq!(m["seq"], 2);
    assert_eq!(m["from"], "counsellor");
    assert_eq!(m["name"], "aoki-san");
    assert!(
        m.get("client_id").is_none(),
        "the other side's client ids are not shown"
    );

    // Visitor -> counsellor, with ack and delivered.
    v.send(json!({"type": "ack", "seq": 2})).await;
    let d = c.ws.recv_type("delivered").await;
    assert_eq!(d["seq"], 2);
    v.send(json!({"type": "typing", "active": true})).await;
    let t = c.ws.recv_type("typing").await;
    assert_eq!(t["active"], true);
    v.send(json!({"type": "send", "client_id": "v1", "text": "ありがとうございます"}))
        .await;
    assert_eq!(v.recv_type("sent").await["seq"], 3);
    let m = c.ws.recv_type("message").await;
    assert_eq!(
        (m["seq"].as_u64(), m["text"].as_str()),
        (Some(3), Some("ありがとうございます"))
    );

    // A private note never reaches the visitor.
    c.ws.send(json!({"type": "note", "conversation_id": conv, "text": "母親から。息子20代。"}))
        .await;
    let n = c.ws.recv_type("note_saved").await;
    assert_eq!(n["note"]["text"], "母親から。息子20代。");

    c.ws.send(json!({"type": "end", "conversation_id": conv, "outcome": "listened"}))
        .await;
    let e = c.ws.recv_type("ended").await;
    assert_eq!(
        (e["by"].as_str(), e["outcome"].as_str()),
        (Some("counsellor"), Some("listened"))
    );
    // Everything the visitor got after `matched`: no note, then `ended`.
    loop {
        let f = v.recv().await;
        assert_ne!(f["type"], "note_saved");
        assert!(
            !f.to_string().contains("母親から"),
            "a note leaked to the visitor: {f}"
        );
        if f["type"] == "ended" {
            assert_eq!(f["by"], "counsellor");
            break;
        }
    }
    // Nothing more can be written.
    v.send(json!({"type": "send", "client_id": "v2", "text": "まだいますか"}))
        .await;
    let err = v.expect_error("conversation_ended").await;
    assert_eq!(err["client_id"], "v2");
    let s = c.ws.recv_type("status").await;
    assert_eq!(s["active"], 0);
}
