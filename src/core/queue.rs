//! Queue order: priority first, then people returned to the queue, then
//! arrival. Pure: the stores keep entries, this module decides their order.
//!
//! A visitor put back in the queue because their counsellor went away
//! (`requeued`) goes in front of everyone of the same priority who has not
//! been served yet: they already waited once.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::ids::ConversationId;

/// How urgently a visitor should be served. Triage (its own module) raises
/// it; most visitors stay `Normal`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    #[default]
    Normal,
    Urgent,
}

/// One waiting visitor as the queue sees them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub conversation: ConversationId,
    pub priority: Priority,
    pub requeued: bool,
    /// When they (re)joined the queue, ms since the Unix epoch. A requeued
    /// visitor keeps the time they first joined.
    pub since_ms: u64,
}

impl QueueEntry {
    /// The total order of the queue: the smaller key is served first. The
    /// conversation id breaks exact ties so the order is the same on every
    /// node and every run.
    pub fn key(&self) -> QueueKey {
        QueueKey {
            priority: std::cmp::Reverse(self.priority),
            fresh: !self.requeued,
            since_ms: self.since_ms,
            conversation: self.conversation,
        }
    }
}

/// Sort key; see [`QueueEntry::key`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueKey {
    pub priority: std::cmp::Reverse<Priority>,
    pub fresh: bool,
    pub since_ms: u64,
    pub conversation: ConversationId,
}

/// Compare two entries by queue order.
pub fn queue_order(a: &QueueEntry, b: &QueueEntry) -> Ordering {
    a.key().cmp(&b.key())
}

/// Put entries in queue order (stable and total).
pub fn sort_queue(entries: &mut [QueueEntry]) {
    entries.sort_by_key(QueueEntry::key);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn entry(n: u128, priority: Priority, requeued: bool, since_ms: u64) -> QueueEntry {
        QueueEntry {
            conversation: ConversationId(Uuid::from_u128(n)),
            priority,
            requeued,
            since_ms,
        }
    }

    #[test]
    fn urgent_before_requeued_before_arrival() {
        let mut q = vec![
            entry(1, Priority::Normal, false, 10),
            entry(2, Priority::Normal, true, 50),
            entry(3, Priority::Urgent, false, 90),
            entry(4, Priority::Normal, false, 5),
        ];
        sort_queue(&mut q);
        let order: Vec<u128> = q.iter().map(|e| e.conversation.0.as_u128()).collect();
        assert_eq!(order, vec![3, 2, 4, 1]);
    }

    fn arb_entry() -> impl Strategy<Value = QueueEntry> {
        (any::<u128>(), any::<bool>(), any::<bool>(), 0u64..1_000).prop_map(
            |(n, urgent, requeued, since)| {
                let p = if urgent {
                    Priority::Urgent
                } else {
                    Priority::Normal
                };
                entry(n, p, requeued, since)
            },
        )
    }

    proptest! {
        #[test]
        fn order_is_priority_then_requeued_then_arrival(mut q in proptest::collection::vec(arb_entry(), 0..60)) {
            sort_queue(&mut q);
            for w in q.windows(2) {
                let (a, b) = (&w[0], &w[1]);
                prop_assert!(a.priority >= b.priority);
                if a.priority == b.priority {
                    prop_assert!(a.requeued || !b.requeued);
                    if a.requeued == b.requeued {
                        prop_assert!(a.since_ms <= b.since_ms);
                    }
                }
            }
        }

        #[test]
        fn order_does_not_depend_on_input_order(q in proptest::collection::vec(arb_entry(), 0..40)) {
            let mut a = q.clone();
            let mut b = q;
            b.reverse();
            sort_queue(&mut a);
            sort_queue(&mut b);
            prop_assert_eq!(a, b);
        }
    }
}
