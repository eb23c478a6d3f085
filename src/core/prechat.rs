//! The visitor's optional answers before the chat starts.
//!
//! Every field is optional and "rather not say" is a first-class answer: a
//! visitor gives nothing to chat. The categories follow the centres'
//! published statistics (see `shared/DOMAIN.md`), so chat can later be
//! counted in the same tables.

use serde::{Deserialize, Serialize};

/// Who is writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhoIsWriting {
    /// The person themself.
    #[serde(rename = "self")]
    Myself,
    /// Family living with the person.
    FamilyTogether,
    /// Family living apart from the person.
    FamilyApart,
    /// A supporter or another agency.
    Supporter,
    RatherNotSay,
}

/// Age band of the person the conversation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgeBand {
    Teens,
    Twenties,
    Thirties,
    Forties,
    FiftyPlus,
    RatherNotSay,
}

/// Gender, only if the visitor chooses to say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Female,
    Male,
    Other,
    RatherNotSay,
}

/// What the visitor would like to talk about, in broad strokes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    DailyLife,
    School,
    Work,
    Family,
    Health,
    Other,
    RatherNotSay,
}

/// The answers as stored with the conversation. The free-text "what would
/// you like to talk about" is not here: it becomes the conversation's first
/// message, so it has a sequence number like every other word the visitor
/// writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreChat {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<WhoIsWriting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_band: Option<AgeBand>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Topic>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_snake_case_and_self_is_self() {
        let p = PreChat {
            who: Some(WhoIsWriting::Myself),
            age_band: Some(AgeBand::FiftyPlus),
            topic: None,
            gender: None,
        };
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"who":"self","age_band":"fifty_plus"}"#);
        let back: PreChat = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn unknown_answers_are_refused() {
        assert!(serde_json::from_str::<PreChat>(r#"{"who":"neighbour"}"#).is_err());
    }
}
