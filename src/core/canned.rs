//! Canned replies: the rules of one entry of the deployment's library (a
//! title and a body in one language, in one category) and of the library's
//! size. A counsellor inserts an entry into the composer and edits it
//! before sending; nothing here ever sends.

use serde::{Deserialize, Serialize};

/// A title's length at most, in Unicode scalar values (as message text).
pub const TITLE_MAX_CHARS: usize = 60;
/// A body's length at most. The smaller of this and the deployment's
/// message limit applies, so an inserted reply can always be sent.
pub const BODY_MAX_CHARS: usize = 1000;
/// Entries a library holds at most (both languages together): enough for
/// every situation a centre plans for, few enough that the console reads
/// the whole list once.
pub const LIBRARY_MAX: usize = 200;

/// What a canned reply is for; the console groups the picker by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CannedCategory {
    Greeting,
    /// Wording that follows safe-messaging guidance (suicide, self-harm).
    SafeMessaging,
    Closing,
    /// The visitor lives outside the centre's area: where to turn instead.
    OutOfArea,
    Other,
}

impl CannedCategory {
    pub const ALL: [CannedCategory; 5] = [
        CannedCategory::Greeting,
        CannedCategory::SafeMessaging,
        CannedCategory::Closing,
        CannedCategory::OutOfArea,
        CannedCategory::Other,
    ];
}

/// Why a title or body is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CannedInvalid {
    #[error("title must not be empty")]
    TitleEmpty,
    #[error("title is longer than {max} characters")]
    TitleTooLong { max: usize },
    #[error("title must be one line without control characters")]
    TitleControl,
    #[error("body must not be empty")]
    BodyEmpty,
    #[error("body is longer than {max} characters")]
    BodyTooLong { max: usize },
    #[error("body must not contain control characters other than line breaks and tabs")]
    BodyControl,
}

/// A checked title and body: the title trimmed, one line; the body with
/// its inner whitespace kept (a counsellor's line breaks are theirs) but
/// trimmed at both ends. `message_max_chars` is the deployment's message
/// limit.
pub fn check(
    title: &str,
    body: &str,
    message_max_chars: usize,
) -> Result<(String, String), CannedInvalid> {
    let title = title.trim();
    if title.is_empty() {
        return Err(CannedInvalid::TitleEmpty);
    }
    if title.chars().any(char::is_control) {
        return Err(CannedInvalid::TitleControl);
    }
    if title.chars().count() > TITLE_MAX_CHARS {
        return Err(CannedInvalid::TitleTooLong {
            max: TITLE_MAX_CHARS,
        });
    }
    let body = body.trim();
    if body.is_empty() {
        return Err(CannedInvalid::BodyEmpty);
    }
    if body
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(CannedInvalid::BodyControl);
    }
    let max = body_max_chars(message_max_chars);
    if body.chars().count() > max {
        return Err(CannedInvalid::BodyTooLong { max });
    }
    Ok((title.to_owned(), body.to_owned()))
}

/// A body's length at most on a deployment whose messages may be
/// `message_max_chars` long.
pub fn body_max_chars(message_max_chars: usize) -> usize {
    BODY_MAX_CHARS.min(message_max_chars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_title_and_body_are_trimmed_and_kept() {
        assert_eq!(
            check("  ご挨拶 ", "\nこんにちは。\n\nゆっくりどうぞ。\n", 2000),
            Ok(("ご挨拶".into(), "こんにちは。\n\nゆっくりどうぞ。".into()))
        );
    }

    #[test]
    fn each_bad_input_has_its_reason() {
        assert_eq!(check(" ", "b", 2000), Err(CannedInvalid::TitleEmpty));
        assert_eq!(check("a\nb", "b", 2000), Err(CannedInvalid::TitleControl));
        assert_eq!(
            check(&"あ".repeat(61), "b", 2000),
            Err(CannedInvalid::TitleTooLong { max: 60 })
        );
        assert!(check(&"あ".repeat(60), "b", 2000).is_ok());
        assert_eq!(check("t", " \n ", 2000), Err(CannedInvalid::BodyEmpty));
        assert_eq!(check("t", "a\u{7}b", 2000), Err(CannedInvalid::BodyControl));
        assert_eq!(
            check("t", &"x".repeat(1001), 2000),
            Err(CannedInvalid::BodyTooLong { max: 1000 })
        );
        // A deployment with shorter messages: its limit applies.
        assert_eq!(
            check("t", &"x".repeat(301), 300),
            Err(CannedInvalid::BodyTooLong { max: 300 })
        );
        assert!(check("t", &"x".repeat(300), 300).is_ok());
    }

    #[test]
    fn categories_have_their_wire_names() {
        let names: Vec<String> = CannedCategory::ALL
            .iter()
            .map(|c| serde_json::to_string(c).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "\"greeting\"",
                "\"safe_messaging\"",
                "\"closing\"",
                "\"out_of_area\"",
                "\"other\""
            ]
        );
    }

    proptest! {
        /// Whatever is accepted is within the bounds, has no leading or
        /// trailing blanks, and checks again to itself.
        #[test]
        fn accepted_values_are_bounded_and_stable(title in "\\PC{0,80}", body in "[\\PC\n]{0,1200}", max in 1usize..3000) {
            if let Ok((t, b)) = check(&title, &body, max) {
                prop_assert!(!t.is_empty() && t.chars().count() <= TITLE_MAX_CHARS);
                prop_assert!(!b.is_empty() && b.chars().count() <= body_max_chars(max));
                prop_assert_eq!(t.trim(), t.as_str());
                prop_assert_eq!(b.trim(), b.as_str());
                prop_assert_eq!(check(&t, &b, max), Ok((t.clone(), b.clone())));
            }
        }
    }
}
