//! How the centre works: matching, and where else to turn.

use serde::{Deserialize, Serialize};

/// A round-the-clock service to offer when we cannot help right now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alternative {
    /// Name as shown on the Japanese page.
    pub name: String,
    pub contact: String,
    #[serde(default)]
    pub hours: String,
    /// English forms for the English page; the Japanese ones are shown when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours_en: Option<String>,
    /// An emergency number (119, 110): the safety panel shows these first;
    /// the welcome page's list of other places to turn leaves them out
    /// (its emergency text names them already).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub emergency: bool,
}

impl Alternative {
    fn of(name: &str, name_en: &str, contact: &str, hours: &str, hours_en: &str) -> Self {
        Alternative {
            name: name.into(),
            contact: contact.into(),
            hours: hours.into(),
            name_en: Some(name_en.into()),
            hours_en: Some(hours_en.into()),
            emergency: false,
        }
    }

    /// What a default install offers (Japan), so that no page ever says
    /// "none configured": the emergency numbers and well-known national
    /// lines. A centre should check them and configure its own
    /// `[[alternatives]]` (README, "Configuration"); any configured list
    /// replaces this one whole.
    pub fn japan_defaults() -> Vec<Alternative> {
        vec![
            Alternative {
                emergency: true,
                ..Self::of(
                    "救急・火事",
                    "Ambulance / fire",
                    "119",
                    "24時間",
                    "24 hours",
                )
            },
            Alternative {
                emergency: true,
                ..Self::of("警察", "Police", "110", "24時間", "24 hours")
            },
            Self::of(
                "よりそいホットライン",
                "Yorisoi Hotline",
                "0120-279-338",
                "24時間",
                "24 hours",
            ),
            Self::of(
                "24時間子供SOSダイヤル",
                "24-hour Children's SOS Dial",
                "0120-0-78310",
                "24時間",
                "24 hours",
            ),
            Self::of(
                "いのちの電話",
                "Inochi no Denwa (lifeline)",
                "0570-783-556",
                "10:00〜22:00",
                "10:00-22:00",
            ),
        ]
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MatchingMode {
    Auto,
    Manual,
}
