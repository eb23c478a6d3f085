//! Canned replies: the deployment's library of texts a counsellor inserts
//! into the composer (and edits) instead of typing them again. Admins
//! manage it; counsellors and supervisors read it. Its rules (lengths,
//! categories, the library's size) are `core::canned`.

use serde::{Deserialize, Serialize};

use crate::core::canned::CannedCategory;
use crate::core::ids::{AccountId, CannedReplyId, Lang};

/// One entry, as stored and as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CannedReply {
    pub id: CannedReplyId,
    /// The language it is written in: the console offers a counsellor the
    /// entries of the visitor's (or the page's) language.
    pub lang: Lang,
    pub category: CannedCategory,
    /// Short, shown in the picker (one line).
    pub title: String,
    /// What goes into the composer.
    pub body: String,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    /// The admin who wrote this version.
    pub updated_by: AccountId,
}
