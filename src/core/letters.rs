//! Letters (issue 22): the fair order of the letters queue and the
//! estimate of when a letter will be answered. Pure: the service reads the
//! waiting letters and the opening hours and asks here.
//!
//! A letter is written when the centre is closed (or its queue full) and
//! answered by a counsellor during opening hours. Its order is its own,
//! apart from the live queue's: urgent first (triage of its text), then
//! oldest, then by id so that two letters of the same millisecond have
//! one order on every node. No head start as in the live queue: nobody is
//! waiting on a screen, and an urgent letter is first whatever its age.

use std::cmp::Ordering;

use crate::core::ids::ConversationId;
use crate::core::queue::Priority;

/// What the order reads of a waiting letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LetterEntry {
    pub id: ConversationId,
    pub priority: Priority,
    pub written_at_ms: u64,
}

/// The letters queue's order: `Less` means `a` is answered first.
pub fn order(a: &LetterEntry, b: &LetterEntry) -> Ordering {
    b.priority
        .cmp(&a.priority)
        .then(a.written_at_ms.cmp(&b.written_at_ms))
        .then(a.id.0.cmp(&b.id.0))
}

/// Sort `letters` into the letters queue's order.
pub fn sort<T>(letters: &mut [T], entry: impl Fn(&T) -> LetterEntry) {
    letters.sort_by(|a, b| order(&entry(a), &entry(b)));
}

/// When a letter written at `now_ms` can expect its answer: not before
/// the centre's next opening (`next_opening_ms`; `None` when it is open
/// now), and then after the `ahead` letters before it in the queue, at
/// `minutes_per_letter` each. An estimate shown to the writer, never a
/// promise: `None` when the centre has no opening ahead.
pub fn answer_expected(
    now_ms: u64,
    open_now: bool,
    next_opening_ms: Option<u64>,
    ahead: usize,
    minutes_per_letter: u32,
) -> Option<u64> {
    let from = if open_now { now_ms } else { next_opening_ms? };
    let queue_ms = (ahead as u64 + 1).saturating_mul(u64::from(minutes_per_letter) * 60_000);
    Some(from.max(now_ms).saturating_add(queue_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn entry(n: u128, urgent: bool, at: u64) -> LetterEntry {
        LetterEntry {
            id: ConversationId(Uuid::from_u128(n)),
            priority: if urgent {
                Priority::Urgent
            } else {
                Priority::Normal
            },
            written_at_ms: at,
        }
    }

    #[test]
    fn urgent_first_then_oldest() {
        let mut v = vec![
            entry(1, false, 100),
            entry(2, true, 300),
            entry(3, false, 50),
            entry(4, true, 200),
        ];
        sort(&mut v, |e| *e);
        let ids: Vec<u128> = v.iter().map(|e| e.id.0.as_u128()).collect();
        assert_eq!(ids, vec![4, 2, 3, 1]);
    }

    #[test]
    fn the_estimate_waits_for_the_opening_and_the_letters_ahead() {
        let (now, opening) = (1_000_000, 9_000_000);
        // Closed: from the opening, plus its own turn and two ahead.
        assert_eq!(
            answer_expected(now, false, Some(opening), 2, 10),
            Some(opening + 3 * 600_000)
        );
        // Open: from now.
        assert_eq!(answer_expected(now, true, None, 0, 10), Some(now + 600_000));
        // Closed with no opening ahead: no estimate.
        assert_eq!(answer_expected(now, false, None, 0, 10), None);
    }

    proptest! {
        /// The order is total and fair: every urgent letter before every
        /// normal one, and within a priority, never a younger before an
        /// older one; whatever the order they were read in.
        #[test]
        fn the_order_is_urgent_then_oldest_whatever_the_input(
            letters in proptest::collection::vec((any::<bool>(), 0u64..1_000), 0..40),
            seed in any::<u64>(),
        ) {
            let mut v: Vec<LetterEntry> = letters
                .iter()
                .enumerate()
                .map(|(i, (u, at))| entry(i as u128, *u, *at))
                .collect();
            let mut shuffled = v.clone();
            // A deterministic shuffle from the seed.
            let n = shuffled.len();
            for i in 0..n {
                let j = (seed.wrapping_mul(i as u64 + 1) % (n as u64)) as usize;
                shuffled.swap(i, j);
            }
            sort(&mut v, |e| *e);
            sort(&mut shuffled, |e| *e);
            prop_assert_eq!(&v, &shuffled);
            for w in v.windows(2) {
                prop_assert!(w[0].priority >= w[1].priority);
                if w[0].priority == w[1].priority {
                    prop_assert!(w[0].written_at_ms <= w[1].written_at_ms);
                }
            }
        }
    }
}
