//! Hearing sheets (issue 23): the deployment's sheet, filled by the
//! counsellor who holds (or held) a conversation, during it or after, as
//! often as they like; read again with the person's case at their later
//! conversations (`case_view`'s earlier conversations carry theirs).
//!
//! Logs carry the conversation, the version and how many questions were
//! answered, never an answer: free text is personal data, and even a
//! choice says something about a person.

use std::collections::HashMap;

use super::{refuse, Refusal, Service};
use crate::core::hearing::SheetDef;
use crate::core::ids::{AccountId, ConversationId};
use crate::model::{Account, HearingSheet};
use crate::protocol::{ErrorCode, HearingSheetView, StaffRef};
use crate::store::StoreError;

/// What a counsellor saves: the version they filled, the answers (one
/// JSON object, question id to answer), and whether it is finished.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveHearing {
    pub version: u32,
    pub answers: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub complete: bool,
}

/// Every version of the sheet, the one filled now first named.
#[derive(serde::Serialize)]
pub struct HearingSheetsView<'a> {
    pub current: u32,
    pub sheets: &'a [SheetDef],
}

impl Service {
    /// The sheet's definitions, for those who counsel and admins.
    pub fn hearing_sheets(&self, who: &Account) -> Result<HearingSheetsView<'_>, Refusal> {
        if !who.role.counsels() && who.role != crate::model::Role::Admin {
            return Err(refuse(
                ErrorCode::Forbidden,
                "the hearing sheet is for those who counsel",
            ));
        }
        let sheets = &self.settings.hearing.sheets;
        Ok(HearingSheetsView {
            current: self.settings.hearing.sheets().current().version,
            sheets,
        })
    }

    /// The conversation's sheet, for the counsellor who holds or held it
    /// (`not_your_conversation` otherwise, unknown ids alike).
    pub async fn hearing(
        &self,
        id: ConversationId,
        who: &Account,
    ) -> Result<Option<HearingSheetView>, Refusal> {
        Self::only_counsellors(who)?;
        let rec = self.authorise(id, who.id).await?;
        match rec.hearing {
            Some(h) => Ok(Some(self.own_hearing_view(&h).await?)),
            None => Ok(None),
        }
    }

    /// Save the conversation's sheet. The version is the one filled now,
    /// or the one a saved draft was begun under (a sheet revised meanwhile
    /// does not strand a draft). `bad_request` naming the question for an
    /// answer that does not fit; `conversation_erased` once the visitor
    /// erased it; nothing is saved then.
    pub async fn save_hearing(
        &self,
        id: ConversationId,
        who: &Account,
        body: SaveHearing,
    ) -> Result<HearingSheetView, Refusal> {
        Self::only_counsellors(who)?;
        let rec = self.authorise(id, who.id).await?;
        if rec.erased_at_ms.is_some() {
            return Err(Self::erased_refusal());
        }
        let sheets = self.settings.hearing.sheets();
        let current = sheets.current().version;
        let begun = rec.hearing.as_ref().map(|h| h.version);
        let def = sheets
            .get(body.version)
            .filter(|d| d.version == current || Some(d.version) == begun)
            .ok_or_else(|| {
                refuse(
                    ErrorCode::BadRequest,
                    format!(
                        "version {} is not the sheet being filled (version {current})",
                        body.version
                    ),
                )
            })?;
        let filled = def
            .read(&body.answers)
            .map_err(|e| refuse(ErrorCode::BadRequest, e.to_string()))?;
        let answered = filled.answers.len() + filled.texts.len();
        let sheet = HearingSheet::new(def.version, filled, body.complete, who.id, self.now_ms());
        let rec = self
            .store
            .save_hearing(id, who.id, sheet)
            .await
            .map_err(|e| match e {
                StoreError::Conflict => Self::erased_refusal(),
                e => e.into(),
            })?;
        tracing::info!(
            conversation = %id,
            version = def.version,
            answered,
            complete = body.complete,
            "a counsellor saved a hearing sheet"
        );
        let saved = rec.hearing.expect("just saved");
        self.own_hearing_view(&saved).await
    }

    /// The conversation's own sheet, with what a relay would share of it.
    async fn own_hearing_view(&self, h: &HearingSheet) -> Result<HearingSheetView, Refusal> {
        let mut view = hearing_view(h, &self.names().await?);
        view.shared = Some(
            self.settings
                .hearing
                .sheets()
                .get(h.version)
                .map(|def| crate::core::relay::shareable(def, &h.answers, &h.texts))
                .unwrap_or_default(),
        );
        Ok(view)
    }
}

impl Service {
    pub(super) fn only_counsellors(who: &Account) -> Result<(), Refusal> {
        if who.role.counsels() {
            Ok(())
        } else {
            Err(refuse(
                ErrorCode::Forbidden,
                "only for counsellors and supervisors",
            ))
        }
    }
}

/// A saved sheet as the console reads it (`names`: the accounts by id).
pub(super) fn hearing_view(
    h: &HearingSheet,
    names: &HashMap<AccountId, Account>,
) -> HearingSheetView {
    HearingSheetView {
        version: h.version,
        answers: h.answers_json(),
        complete: h.complete,
        saved_at: h.saved_at_ms,
        saved_by: StaffRef {
            id: h.saved_by,
            display_name: names
                .get(&h.saved_by)
                .map(|a| a.display_name.clone())
                .unwrap_or_default(),
        },
        shared: None,
    }
}
