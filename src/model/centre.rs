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
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MatchingMode {
    Auto,
    Manual,
}
