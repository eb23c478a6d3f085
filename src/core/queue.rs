//! Queue order: people returned to the queue first, then arrival, with a
//! head start for urgent visitors. Pure: the stores keep entries, this
//! module decides their order.
//!
//! The rule, in one key (smallest first):
//! 1. **Requeued** visitors (their counsellor went away, or handed them back
//!    to the queue) go in front of everyone who has not been served yet:
//!    they were already being helped.
//! 2. Then by **rank time**: the time they joined, minus
//!    `urgent_head_start_ms` for urgent visitors. An urgent visitor is
//!    therefore ahead of every non-urgent visitor who arrived less than the
//!    head start before them, and FIFO holds within each class.
//! 3. The conversation id breaks exact ties, so every node sorts alike.
//!
//! Why a head start and not "urgent always first": with a fixed head start
//! the key never changes while someone waits (the stores can keep the queue
//! sorted, e.g. a Redis sorted set scored by rank time), and nobody starves:
//! a non-urgent visitor can only be overtaken by urgent visitors who arrive
//! within `urgent_head_start_ms` after them, so once they have waited that
//! long their place only improves. Their wait is bounded by the service
//! time of the people ahead of them at arrival plus the urgent arrivals of
//! that window (property-tested below).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::ids::ConversationId;

/// How urgently a visitor should be served. Risk triage raises it (see
/// `core::triage`); most visitors stay `Normal`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    #[default]
    Normal,
    Urgent,
}

/// The ordering parameters a deployment chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuePolicy {
    /// How much earlier than their arrival an urgent visitor is ranked.
    pub urgent_head_start_ms: u64,
}

/// Two hours: longer than any wait a centre would tolerate, so in practice
/// urgent visitors are first, yet still a bound.
pub const DEFAULT_URGENT_HEAD_START_MS: u64 = 2 * 3600 * 1000;

impl Default for QueuePolicy {
    fn default() -> Self {
        Self {
            urgent_head_start_ms: DEFAULT_URGENT_HEAD_START_MS,
        }
    }
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
    /// The total order of the queue: the smaller key is served first.
    pub fn key(&self, policy: QueuePolicy) -> QueueKey {
        let head_start = match self.priority {
            Priority::Urgent => policy.urgent_head_start_ms as i64,
            Priority::Normal => 0,
        };
        QueueKey {
            fresh: !self.requeued,
            rank_ms: self.since_ms as i64 - head_start,
            conversation: self.conversation,
        }
    }
}

/// Sort key; see [`QueueEntry::key`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueKey {
    pub fresh: bool,
    /// Arrival time minus the urgent head start (ms; may be negative).
    pub rank_ms: i64,
    pub conversation: ConversationId,
}

/// Compare two entries by queue order.
pub fn queue_order(a: &QueueEntry, b: &QueueEntry, policy: QueuePolicy) -> Ordering {
    a.key(policy).cmp(&b.key(policy))
}

/// Put entries in queue order (stable and total).
pub fn sort_queue(entries: &mut [QueueEntry], policy: QueuePolicy) {
    entries.sort_by_key(|e| e.key(policy));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    const H: u64 = 100;
    const POLICY: QueuePolicy = QueuePolicy {
        urgent_head_start_ms: H,
    };

    fn entry(n: u128, priority: Priority, requeued: bool, since_ms: u64) -> QueueEntry {
        QueueEntry {
            conversation: ConversationId(Uuid::from_u128(n)),
            priority,
            requeued,
            since_ms,
        }
    }

    fn order(mut q: Vec<QueueEntry>) -> Vec<u128> {
        sort_queue(&mut q, POLICY);
        q.iter().map(|e| e.conversation.0.as_u128()).collect()
    }

    #[test]
    fn requeued_then_urgent_then_arrival() {
        let q = vec![
            entry(1, Priority::Normal, false, 1010),
            entry(2, Priority::Normal, true, 1050),
            entry(3, Priority::Urgent, false, 1090),
            entry(4, Priority::Normal, false, 1005),
        ];
        assert_eq!(order(q), vec![2, 3, 4, 1]);
    }

    #[test]
    fn an_urgent_visitor_passes_ten_who_arrived_earlier() {
        let mut q: Vec<_> = (0..10)
            .map(|i| entry(i, Priority::Normal, false, 1000 + i as u64))
            .collect();
        q.push(entry(99, Priority::Urgent, false, 1020));
        assert_eq!(order(q)[0], 99);
    }

    #[test]
    fn a_visitor_who_waited_longer_than_the_head_start_stays_ahead() {
        let q = vec![
            entry(1, Priority::Urgent, false, 1000 + H + 1),
            entry(2, Priority::Normal, false, 1000),
        ];
        assert_eq!(order(q), vec![2, 1]);
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
        fn order_is_requeued_then_class_with_head_start_then_fifo(
            mut q in proptest::collection::vec(arb_entry(), 0..60)
        ) {
            sort_queue(&mut q, POLICY);
            for (i, a) in q.iter().enumerate() {
                for b in &q[i + 1..] {
                    // a is served before b.
                    prop_assert!(a.requeued || !b.requeued, "requeued first");
                    if a.requeued != b.requeued {
                        continue;
                    }
                    if a.priority == b.priority {
                        prop_assert!(a.since_ms <= b.since_ms, "FIFO within a class");
                    }
                    if a.priority == Priority::Normal && b.priority == Priority::Urgent {
                        // A normal visitor is ahead of an urgent one only if
                        // they arrived at least the head start earlier.
                        prop_assert!(a.since_ms + H <= b.since_ms);
                    }
                    if a.priority == Priority::Urgent && b.priority == Priority::Normal {
                        prop_assert!(a.since_ms <= b.since_ms + H);
                    }
                }
            }
        }

        #[test]
        fn order_does_not_depend_on_input_order(q in proptest::collection::vec(arb_entry(), 0..40)) {
            let mut a = q.clone();
            let mut b = q;
            b.reverse();
            sort_queue(&mut a, POLICY);
            sort_queue(&mut b, POLICY);
            prop_assert_eq!(a, b);
        }

        /// Nobody starves. Visitors arrive at random times (some urgent);
        /// one is served every `service_ms` while anyone waits. Then:
        /// - a visitor is only ever served after someone who arrived later
        ///   if that someone is urgent and arrived within the head start;
        /// - every non-urgent visitor's wait is at most the service time of
        ///   those waiting when they arrived plus of the urgent visitors
        ///   arriving within the head start after them.
        #[test]
        fn nobody_starves_while_counsellors_serve(
            arrivals in proptest::collection::vec((0u64..2_000, proptest::bool::weighted(0.4)), 1..80),
            service_ms in 5u64..60,
        ) {
            let mut people: Vec<QueueEntry> = arrivals
                .iter()
                .enumerate()
                .map(|(i, &(t, urgent))| {
                    let p = if urgent { Priority::Urgent } else { Priority::Normal };
                    entry(i as u128, p, false, t)
                })
                .collect();
            people.sort_by_key(|e| e.since_ms);
            // Simulate: at each service tick, serve the head of the queue of
            // those who have arrived.
            let mut waiting: Vec<QueueEntry> = Vec::new();
            let mut served_at: std::collections::HashMap<u128, u64> = Default::default();
            let mut next = 0;
            let mut now = 0;
            while served_at.len() < people.len() {
                while next < people.len() && people[next].since_ms <= now {
                    waiting.push(people[next].clone());
                    next += 1;
                }
                if !waiting.is_empty() {
                    sort_queue(&mut waiting, POLICY);
                    let head = waiting.remove(0);
                    served_at.insert(head.conversation.0.as_u128(), now);
                }
                now += service_ms;
            }
            for v in &people {
                let v_id = v.conversation.0.as_u128();
                let v_served = served_at[&v_id];
                for o in &people {
                    let o_id = o.conversation.0.as_u128();
                    if o.since_ms > v.since_ms && served_at[&o_id] < v_served {
                        prop_assert_eq!(o.priority, Priority::Urgent, "overtaken by a non-urgent later arrival");
                        if v.priority == Priority::Normal {
                            // (At exactly the head start the two rank equal and the id decides.)
                            prop_assert!(o.since_ms <= v.since_ms + H, "overtaken after the head start");
                        }
                    }
                }
                if v.priority == Priority::Normal {
                    let ahead_at_arrival = people.iter().filter(|o| {
                        let o_id = o.conversation.0.as_u128();
                        o_id != v_id && o.since_ms <= v.since_ms && served_at[&o_id] >= v.since_ms
                    }).count() as u64;
                    let urgent_window = people.iter().filter(|o| {
                        o.priority == Priority::Urgent && o.since_ms > v.since_ms && o.since_ms <= v.since_ms + H
                    }).count() as u64;
                    // +1 for their own service tick and +1 for tick alignment.
                    let bound = (ahead_at_arrival + urgent_window + 2) * service_ms;
                    prop_assert!(v_served - v.since_ms <= bound, "waited {} > bound {}", v_served - v.since_ms, bound);
                }
            }
        }
    }
}
