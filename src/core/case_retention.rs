//! How long a case is kept (issue 22): the retention rule of an anonymous
//! case's conversations, and the visitor's keep-longer consent.
//!
//! A case lives while at least one of its conversations is stored. Each
//! ended conversation is kept `retention.conversation_days` after its end
//! (promise 7); while the case's keep-longer consent is in force, also
//! until `keep_days` (the consent's, `retention.case_keep_days` when it was
//! given) after the case's last contact, whichever is later. The purge
//! that removes a case's last stored conversation removes the case, its
//! code's index and its conversation index in the same step, so the code
//! then leads nowhere and is refused like any wrong code.
//!
//! The consent is recorded like the handoff's ([`super::handoff::ConsentRecord`]):
//! the wording version the visitor was shown (`<version>/<lang>`), how
//! long, when, and when it was withdrawn. Withdrawing returns the case to
//! the normal rule at once. No I/O here: the stores and the service carry
//! these rules out.

use serde::{Deserialize, Serialize};

use super::ids::ConversationId;

/// One day in ms.
pub const DAY_MS: u64 = 86_400_000;

/// The visitor's agreement to keep their case longer: which wording, for
/// how long, when; never changed afterwards except for the moment it was
/// withdrawn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepLongerConsent {
    /// The version of the wording the visitor was shown, with its
    /// language: `2026-12/ja`.
    pub wording_version: String,
    /// How long after the case's last contact its conversations are kept.
    pub keep_days: u32,
    pub at_ms: u64,
    #[serde(default)]
    pub withdrawn_at_ms: Option<u64>,
}

/// Which retention applies to a case's conversations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseRetention {
    /// `retention.conversation_days` after each conversation's end.
    Normal,
    /// Kept at least until `until_ms` (the keep-longer consent is in force).
    KeepLonger { until_ms: u64 },
}

impl CaseRetention {
    /// The protocol's name: `"normal"` or `"keep_longer"`.
    pub fn name(self) -> &'static str {
        match self {
            CaseRetention::Normal => "normal",
            CaseRetention::KeepLonger { .. } => "keep_longer",
        }
    }
}

/// The consent in force among `consents` (the last one, if not withdrawn).
pub fn in_force(consents: &[KeepLongerConsent]) -> Option<&KeepLongerConsent> {
    consents.last().filter(|c| c.withdrawn_at_ms.is_none())
}

/// Which retention applies to a case last contacted at `last_contact_ms`
/// with these consents.
pub fn applies(last_contact_ms: u64, consents: &[KeepLongerConsent]) -> CaseRetention {
    match in_force(consents) {
        Some(c) => CaseRetention::KeepLonger {
            until_ms: last_contact_ms.saturating_add(u64::from(c.keep_days) * DAY_MS),
        },
        None => CaseRetention::Normal,
    }
}

/// The first moment a conversation that ended at `ended_at_ms` may be
/// purged: `conversation_ms` after its end, or later while its case's
/// keep-longer consent is in force.
pub fn purge_at(ended_at_ms: u64, conversation_ms: u64, case: CaseRetention) -> u64 {
    let normal = ended_at_ms.saturating_add(conversation_ms);
    match case {
        CaseRetention::Normal => normal,
        CaseRetention::KeepLonger { until_ms } => normal.max(until_ms),
    }
}

/// Why giving or withdrawing the consent was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepLongerError {
    /// The wording the visitor answered is not the one in force.
    WordingChanged,
}

/// The consents after the visitor agreed, having been shown
/// `shown_wording` (`<version>/<lang>`) while `current_wording` (the
/// deployment's version) is in force. Agreeing while a consent is in
/// force changes nothing (the first one stays the record).
pub fn give(
    consents: &[KeepLongerConsent],
    shown_wording: &str,
    current_wording: &str,
    keep_days: u32,
    now_ms: u64,
) -> Result<Vec<KeepLongerConsent>, KeepLongerError> {
    let version = shown_wording.split('/').next().unwrap_or_default();
    if version != current_wording || !shown_wording.contains('/') {
        return Err(KeepLongerError::WordingChanged);
    }
    let mut next = consents.to_vec();
    if in_force(consents).is_none() {
        next.push(KeepLongerConsent {
            wording_version: shown_wording.to_owned(),
            keep_days,
            at_ms: now_ms,
            withdrawn_at_ms: None,
        });
    }
    Ok(next)
}

/// The consents after the visitor withdrew: the one in force is stamped;
/// with none in force nothing changes (withdrawing twice is harmless).
pub fn withdraw(consents: &[KeepLongerConsent], now_ms: u64) -> Vec<KeepLongerConsent> {
    let mut next = consents.to_vec();
    if in_force(consents).is_some() {
        if let Some(last) = next.last_mut() {
            last.withdrawn_at_ms = Some(now_ms);
        }
    }
    next
}

/// What a case becomes when `purged` (one of its conversations) is purged:
/// the conversations left, without `purged` and without those no longer
/// stored (`stored` says which are); `None` when none is left, and the
/// case goes.
pub fn after_purge(
    conversations: &[ConversationId],
    purged: ConversationId,
    stored: impl Fn(ConversationId) -> bool,
) -> Option<Vec<ConversationId>> {
    let left: Vec<ConversationId> = conversations
        .iter()
        .copied()
        .filter(|c| *c != purged && stored(*c))
        .collect();
    (!left.is_empty()).then_some(left)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn consent(at: u64, withdrawn: Option<u64>) -> KeepLongerConsent {
        KeepLongerConsent {
            wording_version: "2026-12/ja".into(),
            keep_days: 180,
            at_ms: at,
            withdrawn_at_ms: withdrawn,
        }
    }

    #[test]
    fn without_consent_a_conversation_goes_its_period_after_its_end() {
        assert_eq!(applies(5, &[]), CaseRetention::Normal);
        assert_eq!(
            purge_at(1_000, 30 * DAY_MS, CaseRetention::Normal),
            1_000 + 30 * DAY_MS
        );
    }

    #[test]
    fn with_consent_it_is_kept_until_keep_days_after_the_last_contact() {
        let r = applies(7 * DAY_MS, &[consent(1, None)]);
        assert_eq!(
            r,
            CaseRetention::KeepLonger {
                until_ms: 187 * DAY_MS
            }
        );
        assert_eq!(r.name(), "keep_longer");
        assert_eq!(purge_at(0, 30 * DAY_MS, r), 187 * DAY_MS);
        // A conversation that ended late is kept its own period at least.
        assert_eq!(purge_at(180 * DAY_MS, 30 * DAY_MS, r), 210 * DAY_MS);
    }

    #[test]
    fn a_withdrawn_consent_returns_to_the_normal_rule_at_once() {
        let given = give(&[], "2026-12/en", "2026-12", 180, 10).unwrap();
        assert_eq!(given.len(), 1);
        assert_eq!(given[0].wording_version, "2026-12/en");
        let back = withdraw(&given, 20);
        assert_eq!(back[0].withdrawn_at_ms, Some(20));
        assert_eq!(applies(20, &back), CaseRetention::Normal);
        // Again: nothing changes.
        assert_eq!(withdraw(&back, 30), back);
        // Given again: a second record, the first kept.
        let again = give(&back, "2026-12/ja", "2026-12", 90, 40).unwrap();
        assert_eq!(again.len(), 2);
        assert_eq!(again[0], back[0]);
        assert_eq!(in_force(&again).map(|c| c.keep_days), Some(90));
        // Given while in force: the first record stays.
        assert_eq!(
            give(&again, "2026-12/ja", "2026-12", 90, 50).unwrap(),
            again
        );
    }

    #[test]
    fn an_answer_to_another_wording_is_refused() {
        assert_eq!(
            give(&[], "2025-01/ja", "2026-12", 180, 1),
            Err(KeepLongerError::WordingChanged)
        );
        assert_eq!(
            give(&[], "2026-12", "2026-12", 180, 1),
            Err(KeepLongerError::WordingChanged)
        );
        assert_eq!(
            give(&[], "", "2026-12", 180, 1),
            Err(KeepLongerError::WordingChanged)
        );
    }

    #[test]
    fn a_case_goes_with_its_last_stored_conversation() {
        let a = ConversationId::new_random();
        let b = ConversationId::new_random();
        assert_eq!(after_purge(&[a, b], a, |_| true), Some(vec![b]));
        assert_eq!(after_purge(&[a, b], a, |c| c != b), None);
        assert_eq!(after_purge(&[a], a, |_| true), None);
    }

    proptest! {
        /// The consent only ever keeps longer, never shorter, and a
        /// withdrawn one changes nothing.
        #[test]
        fn consent_never_shortens_retention(
            ended in 0u64..1u64 << 44,
            last in 0u64..1u64 << 44,
            conv_days in 1u32..400,
            keep_days in 0u32..2000,
            withdrawn in any::<bool>(),
        ) {
            let conv_ms = u64::from(conv_days) * DAY_MS;
            let mut c = consent(0, withdrawn.then_some(1));
            c.keep_days = keep_days;
            let r = applies(last, &[c]);
            let normal = purge_at(ended, conv_ms, CaseRetention::Normal);
            let kept = purge_at(ended, conv_ms, r);
            prop_assert!(kept >= normal);
            if withdrawn {
                prop_assert_eq!(kept, normal);
            } else {
                prop_assert!(kept >= last + u64::from(keep_days) * DAY_MS);
            }
        }

        /// What is left of a case is exactly its stored conversations
        /// other than the purged one, in order; a case is never left empty.
        #[test]
        fn after_purge_keeps_exactly_the_stored_others(
            n in 1usize..8,
            gone_mask in any::<u8>(),
            which in 0usize..8,
        ) {
            let ids: Vec<ConversationId> = (0..n).map(|_| ConversationId::new_random()).collect();
            let purged = ids[which % n];
            let stored = |c: ConversationId| {
                ids.iter().position(|x| *x == c).is_some_and(|i| gone_mask & (1 << i) == 0)
            };
            let want: Vec<ConversationId> = ids
                .iter()
                .copied()
                .filter(|c| *c != purged && stored(*c))
                .collect();
            match after_purge(&ids, purged, stored) {
                Some(left) => {
                    prop_assert!(!left.is_empty());
                    prop_assert_eq!(left, want);
                }
                None => prop_assert!(want.is_empty()),
            }
        }
    }
}
