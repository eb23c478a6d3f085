//! The directory of partner services (issue 23), as stored and as the API
//! shows it. Its rules are `core::partners`.

use serde::{Deserialize, Serialize};

use crate::core::ids::{AccountId, PartnerId};
use crate::core::partners::PartnerFields;

/// One partner service (stored as the API shows it: `partner_id`,
/// the fields, `created_at` and `updated_at` in ms).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    #[serde(rename = "partner_id")]
    pub id: PartnerId,
    #[serde(flatten)]
    pub fields: PartnerFields,
    #[serde(rename = "created_at")]
    pub created_at_ms: u64,
    #[serde(rename = "updated_at")]
    pub updated_at_ms: u64,
    /// The admin who wrote this version.
    pub updated_by: AccountId,
}
