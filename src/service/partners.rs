//! The directory of partner services (issue 23): admins keep it; those
//! who counsel read it, filtered to the partners that fit a person (their
//! age band, what they need), when they refer someone onwards.
//!
//! Logs carry ids, never a name or a contact (they are not personal, but
//! the rule is simpler kept whole).

use super::{only_admins, refuse, Refusal, Service};
use crate::core::ids::PartnerId;
use crate::core::partners::{
    self, OfferSet, PartnerFields, PartnerInvalid, PartnerOffer, DIRECTORY_MAX,
};
use crate::core::prechat::AgeBand;
use crate::model::{Account, Partner, Role};
use crate::protocol::ErrorCode;
use crate::store::StoreError;

/// Partners one referral may name at most.
const REFERRED_MAX: usize = 20;

fn refusal(e: StoreError) -> Refusal {
    match e {
        StoreError::NotFound => refuse(ErrorCode::NotFound, "no such partner"),
        StoreError::LibraryFull => refuse(
            ErrorCode::DirectoryFull,
            format!("the directory holds {DIRECTORY_MAX} partners already; delete one first"),
        ),
        e => e.into(),
    }
}

impl From<PartnerInvalid> for Refusal {
    fn from(e: PartnerInvalid) -> Self {
        refuse(ErrorCode::BadRequest, e.to_string())
    }
}

/// How often each node reads the directory again for its round-the-clock
/// services (a change made on another node shows within this time).
const ALTERNATIVES_REFRESH: std::time::Duration = std::time::Duration::from_secs(30);

impl Service {
    /// The round-the-clock services the pages offer now: the configured
    /// ones, then the directory's (`model::alternatives_with_directory`).
    pub fn alternatives(&self) -> std::sync::Arc<[crate::model::Alternative]> {
        self.alternatives
            .read()
            .map(|a| a.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Read the directory again for its round-the-clock partners. On a
    /// store error the last list stays (the configured services at least).
    pub async fn refresh_alternatives(&self) {
        match self.store.partners().await {
            Ok(partners) => {
                let all: std::sync::Arc<[_]> = crate::model::alternatives_with_directory(
                    &self.settings.alternatives,
                    &partners,
                )
                .into();
                match self.alternatives.write() {
                    Ok(mut a) => *a = all,
                    Err(p) => *p.into_inner() = all,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the directory for the round-the-clock services")
            }
        }
    }

    /// Keep [`Service::alternatives`] current (every node, every 30 s).
    pub async fn run_alternatives_refresh(self: std::sync::Arc<Self>) {
        let mut tick = tokio::time::interval(ALTERNATIVES_REFRESH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.refresh_alternatives().await;
        }
    }

    /// The directory (admins and those who counsel), only the partners
    /// that fit `age` and `offer` when given (`core::partners::fits`).
    pub async fn partners(
        &self,
        who: &Account,
        age: Option<AgeBand>,
        offer: Option<PartnerOffer>,
    ) -> Result<Vec<Partner>, Refusal> {
        if who.role != Role::Admin && !who.role.counsels() {
            return Err(refuse(
                ErrorCode::Forbidden,
                "the directory is for admins and those who counsel",
            ));
        }
        let mut all = self.store.partners().await?;
        all.retain(|p| partners::fits(&p.fields, age, offer));
        Ok(all)
    }

    /// Add a partner (admins only): `bad_request` naming the field for an
    /// invalid entry, `directory_full` at the maximum; nothing stored then.
    pub async fn create_partner(
        &self,
        who: &Account,
        fields: PartnerFields,
    ) -> Result<Partner, Refusal> {
        only_admins(who, "the directory of partners")?;
        let fields = partners::check(fields)?;
        let now = self.now_ms();
        let partner = Partner {
            id: PartnerId::new_random(),
            fields,
            created_at_ms: now,
            updated_at_ms: now,
            updated_by: who.id,
        };
        self.store
            .create_partner(partner.clone(), DIRECTORY_MAX)
            .await
            .map_err(refusal)?;
        tracing::info!(by = %who.id, partner = %partner.id, "partner added to the directory");
        self.refresh_alternatives().await;
        Ok(partner)
    }

    /// Replace a partner's entry (admins only); `not_found` if none.
    pub async fn update_partner(
        &self,
        who: &Account,
        id: PartnerId,
        fields: PartnerFields,
    ) -> Result<Partner, Refusal> {
        only_admins(who, "the directory of partners")?;
        let fields = partners::check(fields)?;
        let old = self
            .store
            .partner(id)
            .await?
            .ok_or_else(|| refusal(StoreError::NotFound))?;
        let partner = Partner {
            id,
            fields,
            created_at_ms: old.created_at_ms,
            updated_at_ms: self.now_ms().max(old.created_at_ms),
            updated_by: who.id,
        };
        self.store
            .update_partner(partner.clone())
            .await
            .map_err(refusal)?;
        tracing::info!(by = %who.id, partner = %id, "partner updated in the directory");
        self.refresh_alternatives().await;
        Ok(partner)
    }

    /// The kinds of the partners `ids` names (a counsellor's referral,
    /// recorded with the outcome): `bad_request` for more than
    /// `REFERRED_MAX` or an id the directory does not hold.
    pub async fn referred_offers(&self, ids: &[PartnerId]) -> Result<OfferSet, Refusal> {
        if ids.len() > REFERRED_MAX {
            return Err(refuse(
                ErrorCode::BadRequest,
                format!("referred_to names at most {REFERRED_MAX} partners"),
            ));
        }
        let mut offers = OfferSet::default();
        for id in ids {
            let p = self.store.partner(*id).await?.ok_or_else(|| {
                refuse(
                    ErrorCode::BadRequest,
                    "referred_to names a partner the directory does not hold",
                )
            })?;
            for o in p.fields.offers {
                offers.insert(o);
            }
        }
        Ok(offers)
    }

    /// Delete a partner (admins only); `not_found` if none.
    pub async fn delete_partner(&self, who: &Account, id: PartnerId) -> Result<(), Refusal> {
        only_admins(who, "the directory of partners")?;
        self.store.delete_partner(id).await.map_err(refusal)?;
        tracing::info!(by = %who.id, partner = %id, "partner deleted from the directory");
        self.refresh_alternatives().await;
        Ok(())
    }
}
