//! Canned replies: admins manage the deployment's library; those who
//! counsel read it (in one language, for the console's picker). Inserting
//! one is the console's business and never sends anything: only the
//! counsellor's own `send` does.
//!
//! Logs carry ids and the category, never a title or a body.

use super::{only_admins, refuse, Refusal, Service};
use crate::core::canned::{self, CannedCategory, CannedInvalid, LIBRARY_MAX};
use crate::core::ids::{CannedReplyId, Lang};
use crate::model::{Account, CannedReply, Role};
use crate::protocol::ErrorCode;
use crate::store::StoreError;

/// What an admin writes: the whole entry but its id and times.
#[derive(Clone, Debug)]
pub struct CannedInput {
    pub lang: Lang,
    pub category: CannedCategory,
    pub title: String,
    pub body: String,
}

fn not_found(e: StoreError) -> Refusal {
    match e {
        StoreError::NotFound => refuse(ErrorCode::NotFound, "no such canned reply"),
        e => e.into(),
    }
}

impl From<CannedInvalid> for Refusal {
    fn from(e: CannedInvalid) -> Self {
        let code = match e {
            CannedInvalid::BodyEmpty => ErrorCode::TextEmpty,
            CannedInvalid::BodyTooLong { .. } => ErrorCode::TextTooLong,
            _ => ErrorCode::BadRequest,
        };
        refuse(code, e.to_string())
    }
}

impl Service {
    /// The library as `who` may read it: admins every entry (or those of
    /// `lang`); counsellors and supervisors those of `lang` (Japanese when
    /// not given). Intake staff do not chat: `forbidden`.
    pub async fn canned_replies(
        &self,
        who: &Account,
        lang: Option<Lang>,
    ) -> Result<Vec<CannedReply>, Refusal> {
        let lang = match who.role {
            Role::Admin => lang,
            r if r.counsels() => Some(lang.unwrap_or_default()),
            _ => {
                return Err(refuse(
                    ErrorCode::Forbidden,
                    "canned replies are for those who counsel",
                ))
            }
        };
        let mut all = self.store.canned_replies().await?;
        if let Some(lang) = lang {
            all.retain(|r| r.lang == lang);
        }
        Ok(all)
    }

    /// Add an entry (admins only). Refused when the title or body is
    /// invalid (`bad_request`, `text_empty`, `text_too_long`) or the
    /// library is full (`canned_library_full`); nothing is stored then.
    pub async fn create_canned_reply(
        &self,
        who: &Account,
        input: CannedInput,
    ) -> Result<CannedReply, Refusal> {
        only_admins(who, "the canned replies")?;
        let (title, body) = canned::check(
            &input.title,
            &input.body,
            self.settings.limits.max_text_chars,
        )?;
        let now = self.now_ms();
        let reply = CannedReply {
            id: CannedReplyId::new_random(),
            lang: input.lang,
            category: input.category,
            title,
            body,
            created_at_ms: now,
            updated_at_ms: now,
            updated_by: who.id,
        };
        self.store
            .create_canned_reply(reply.clone(), LIBRARY_MAX)
            .await?;
        tracing::info!(by = %who.id, canned_reply = %reply.id, category = ?reply.category, "canned reply created");
        Ok(reply)
    }

    /// Replace an entry's language, category, title and body (admins
    /// only); `not_found` if there is no such entry.
    pub async fn update_canned_reply(
        &self,
        who: &Account,
        id: CannedReplyId,
        input: CannedInput,
    ) -> Result<CannedReply, Refusal> {
        only_admins(who, "the canned replies")?;
        let (title, body) = canned::check(
            &input.title,
            &input.body,
            self.settings.limits.max_text_chars,
        )?;
        // Only for its creation time, which never changes: if the entry
        // is deleted meanwhile, the store's step refuses.
        let old = self
            .store
            .canned_reply(id)
            .await?
            .ok_or_else(|| not_found(StoreError::NotFound))?;
        let reply = CannedReply {
            id,
            lang: input.lang,
            category: input.category,
            title,
            body,
            created_at_ms: old.created_at_ms,
            updated_at_ms: self.now_ms().max(old.created_at_ms),
            updated_by: who.id,
        };
        self.store
            .update_canned_reply(reply.clone())
            .await
            .map_err(not_found)?;
        tracing::info!(by = %who.id, canned_reply = %id, category = ?reply.category, "canned reply updated");
        Ok(reply)
    }

    /// Delete an entry (admins only); `not_found` if there is none.
    pub async fn delete_canned_reply(
        &self,
        who: &Account,
        id: CannedReplyId,
    ) -> Result<(), Refusal> {
        only_admins(who, "the canned replies")?;
        self.store
            .delete_canned_reply(id)
            .await
            .map_err(not_found)?;
        tracing::info!(by = %who.id, canned_reply = %id, "canned reply deleted");
        Ok(())
    }
}
