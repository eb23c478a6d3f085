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
