//! A conversation's hearing sheet (issue 23): the counsellor's answers to
//! the deployment's sheet (`core::hearing`), kept in the conversation's
//! record, so that it is purged with it and read with the person's case.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::hearing::{Answer, Filled, SheetStats};
use crate::core::ids::AccountId;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HearingSheet {
    /// The sheet's version it was filled under.
    pub version: u32,
    /// Choices and scales.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub answers: BTreeMap<String, Answer>,
    /// Free-text answers: personal data, erased with the counsellor's
    /// notes ("erase my chat" unless `retention.keep_notes_on_erase`),
    /// never logged, never counted. Stored apart from the rest where a
    /// backend can (Redis: a field of its own), so that erasing them is
    /// one deletion.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub texts: BTreeMap<String, String>,
    /// The statistics fields its answers record (the report counts them
    /// where the visitor and the end dialog left a gap).
    #[serde(default, skip_serializing_if = "SheetStats::is_empty")]
    pub stats: SheetStats,
    /// The counsellor marked it finished (a draft otherwise); either way it
    /// can be saved again.
    #[serde(default)]
    pub complete: bool,
    pub saved_at_ms: u64,
    pub saved_by: AccountId,
}

impl HearingSheet {
    pub fn new(
        version: u32,
        filled: Filled,
        complete: bool,
        saved_by: AccountId,
        saved_at_ms: u64,
    ) -> Self {
        Self {
            version,
            answers: filled.answers,
            texts: filled.texts,
            stats: filled.stats,
            complete,
            saved_at_ms,
            saved_by,
        }
    }

    /// Every answer as one JSON object (what the API takes and gives).
    pub fn answers_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        for (k, a) in &self.answers {
            m.insert(k.clone(), serde_json::to_value(a).unwrap_or_default());
        }
        for (k, t) in &self.texts {
            m.insert(k.clone(), serde_json::Value::String(t.clone()));
        }
        m
    }
}
