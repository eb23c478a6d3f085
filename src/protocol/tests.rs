use super::*;

#[test]
fn malformed_unknown_and_invalid_are_told_apart() {
    let e = parse_inbound::<VisitorIn>("{not json", VisitorIn::TYPES).unwrap_err();
    assert_eq!(e.code, ErrorCode::BadJson);
    let e = parse_inbound::<VisitorIn>(r#"{"type":"dance"}"#, VisitorIn::TYPES).unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownType);
    let e = parse_inbound::<VisitorIn>(r#"{"text":"hi"}"#, VisitorIn::TYPES).unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownType);
    let e =
        parse_inbound::<VisitorIn>(r#"{"type":"ack","seq":"x"}"#, VisitorIn::TYPES).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidMessage);
    let e = parse_inbound::<VisitorIn>(
        r#"{"type":"send","client_id":"has space","text":"x"}"#,
        VisitorIn::TYPES,
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidMessage);
    let e = parse_inbound::<VisitorIn>("[1,2]", VisitorIn::TYPES).unwrap_err();
    assert_eq!(e.code, ErrorCode::BadJson);
}

#[test]
fn every_listed_type_parses_with_minimal_fields() {
    for (frame, ok) in [
        (r#"{"type":"start"}"#, true),
        (r#"{"type":"end"}"#, true),
        (r#"{"type":"typing","active":true}"#, true),
        (r#"{"type":"ack","seq":3}"#, true),
    ] {
        assert_eq!(
            parse_inbound::<VisitorIn>(frame, VisitorIn::TYPES).is_ok(),
            ok,
            "{frame}"
        );
    }
    assert!(parse_inbound::<CounsellorIn>(r#"{"type":"hello"}"#, CounsellorIn::TYPES).is_ok());
}

#[test]
fn error_codes_have_stable_wire_names() {
    assert_eq!(ErrorCode::QueueFull.as_str(), "queue_full");
    assert_eq!(
        ErrorCode::NotYourConversation.as_str(),
        "not_your_conversation"
    );
    assert_eq!(ErrorCode::RateLimited.http_status(), 429);
}

/// What PROTOCOL.md ("Edge cases of a frame") promises about odd frames.
#[test]
fn odd_frames_get_the_documented_codes() {
    let code = |f: &str| {
        parse_inbound::<VisitorIn>(f, VisitorIn::TYPES)
            .err()
            .map(|e| e.code)
    };
    // A duplicated `type` is not one frame: bad_json.
    assert_eq!(
        code(r#"{"type":"ack","type":"ack","seq":1}"#),
        Some(ErrorCode::BadJson)
    );
    // Another field twice: invalid_message naming it.
    assert_eq!(
        code(r#"{"type":"ack","seq":1,"seq":2}"#),
        Some(ErrorCode::InvalidMessage)
    );
    // A `type` that is not a string: unknown_type.
    assert_eq!(code(r#"{"type":7}"#), Some(ErrorCode::UnknownType));
    // Unknown fields are ignored, nested or not...
    assert_eq!(
        code(r#"{"type":"typing","active":true,"x":{"y":[{"z":1}]}}"#),
        None
    );
    // ...but JSON nested deeper than 128 levels anywhere is refused (the
    // parser's recursion limit, which keeps a frame from exhausting the
    // stack): invalid_message.
    let deep = format!(
        r#"{{"type":"typing","active":true,"x":{}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert_eq!(code(&deep), Some(ErrorCode::InvalidMessage));
}

/// "Blank" is Unicode White_Space: the ideographic space (U+3000) alone is
/// blank; a zero-width space (U+200B) is not White_Space and is text.
#[test]
fn blank_text_is_unicode_white_space() {
    use crate::core::ids::MessageText;
    assert!(MessageText::parse("\u{3000}\u{3000}".into(), 10).is_err());
    assert!(MessageText::parse(" \t\n".into(), 10).is_err());
    assert!(MessageText::parse("\u{200B}".into(), 10).is_ok());
}
