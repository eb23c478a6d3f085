//! Which waiting visitor goes to which counsellor. Pure: given the queue in
//! order and every counsellor's load, return the assignments to attempt.
//!
//! The rule (documented in `docs/ARCHITECTURE.md`): take visitors in queue
//! order; give each to the available counsellor with the most free places,
//! then the one idle longest (earliest last assignment), then the smallest
//! id. Stop when no counsellor has a free place.
//!
//! A plan is only a proposal made from a snapshot. The store carries out
//! each assignment as one atomic compare-and-set (still queued? still under
//! capacity?), so two nodes planning at once can never give one visitor to
//! two counsellors nor exceed a capacity; a refused step is simply planned
//! again from a fresh snapshot.

use super::ids::{AccountId, ConversationId};

/// A counsellor's load as matching sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounsellorLoad {
    pub id: AccountId,
    pub capacity: u32,
    pub active: u32,
    /// Status "available" and at least one live socket.
    pub available: bool,
    /// When they were last given a conversation (ms since epoch); `None`
    /// if never, which counts as idle longest.
    pub last_assigned_ms: Option<u64>,
}

impl CounsellorLoad {
    pub fn free(&self) -> u32 {
        self.capacity.saturating_sub(self.active)
    }
}

/// Plan assignments for `queue` (already in queue order).
pub fn plan(
    queue: &[ConversationId],
    counsellors: &[CounsellorLoad],
) -> Vec<(ConversationId, AccountId)> {
    let mut loads: Vec<CounsellorLoad> = counsellors
        .iter()
        .filter(|c| c.available && c.free() > 0)
        .cloned()
        .collect();
    let mut out = Vec::new();
    for &conversation in queue {
        let Some(best) = pick(&loads) else { break };
        let c = &mut loads[best];
        c.active += 1;
        // Within one plan, a counsellor who just got someone is no longer
        // the longest idle: order them as assigned "now" (after everyone
        // with a real timestamp, since a plan happens after all of those).
        c.last_assigned_ms = Some(u64::MAX);
        out.push((conversation, c.id));
    }
    out
}

/// Index of the counsellor who should get the next visitor, if any.
pub fn pick(loads: &[CounsellorLoad]) -> Option<usize> {
    loads
        .iter()
        .enumerate()
        .filter(|(_, c)| c.available && c.free() > 0)
        .min_by(|(_, a), (_, b)| {
            b.free()
                .cmp(&a.free())
                .then_with(|| idle_rank(a).cmp(&idle_rank(b)))
                .then_with(|| a.id.cmp(&b.id))
        })
        .map(|(i, _)| i)
}

fn idle_rank(c: &CounsellorLoad) -> (bool, u64) {
    match c.last_assigned_ms {
        None => (false, 0),
        Some(t) => (true, t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};
    use uuid::Uuid;

    fn conv(n: u128) -> ConversationId {
        ConversationId(Uuid::from_u128(n))
    }

    fn load(n: u128, capacity: u32, active: u32, last: Option<u64>) -> CounsellorLoad {
        CounsellorLoad {
            id: AccountId(Uuid::from_u128(n)),
            capacity,
            active,
            available: true,
            last_assigned_ms: last,
        }
    }

    #[test]
    fn most_free_places_first_then_longest_idle() {
        let loads = vec![
            load(1, 2, 1, None),     // 1 free
            load(2, 3, 1, Some(50)), // 2 free, assigned at 50
            load(3, 2, 0, Some(10)), // 2 free, assigned at 10: idle longest
        ];
        let p = plan(&[conv(100)], &loads);
        assert_eq!(p, vec![(conv(100), AccountId(Uuid::from_u128(3)))]);
    }

    #[test]
    fn away_or_full_counsellors_get_nobody() {
        let mut away = load(1, 2, 0, None);
        away.available = false;
        let full = load(2, 2, 2, None);
        assert!(plan(&[conv(1), conv(2)], &[away, full]).is_empty());
    }

    #[test]
    fn queue_order_is_kept_when_places_run_out() {
        let p = plan(&[conv(1), conv(2), conv(3)], &[load(9, 2, 0, None)]);
        let served: Vec<_> = p.iter().map(|(c, _)| *c).collect();
        assert_eq!(served, vec![conv(1), conv(2)]);
    }

    fn arb_loads() -> impl Strategy<Value = Vec<CounsellorLoad>> {
        proptest::collection::vec(
            (
                1u32..5,
                0u32..6,
                any::<bool>(),
                proptest::option::of(0u64..100),
            ),
            0..8,
        )
        .prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (cap, active, available, last))| CounsellorLoad {
                    id: AccountId(Uuid::from_u128(i as u128 + 1)),
                    capacity: cap,
                    active: active.min(cap),
                    available,
                    last_assigned_ms: last,
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn capacity_is_never_exceeded_and_nobody_is_assigned_twice(
            loads in arb_loads(),
            n_queue in 0usize..40,
        ) {
            let queue: Vec<_> = (0..n_queue as u128).map(conv).collect();
            let p = plan(&queue, &loads);
            let mut seen = HashSet::new();
            let mut given: HashMap<AccountId, u32> = HashMap::new();
            for (c, a) in &p {
                prop_assert!(seen.insert(*c), "visitor assigned twice");
                *given.entry(*a).or_default() += 1;
            }
            for l in &loads {
                let g = given.get(&l.id).copied().unwrap_or(0);
                prop_assert!(l.active + g <= l.capacity, "capacity exceeded");
                if !l.available { prop_assert_eq!(g, 0); }
            }
        }

        #[test]
        fn everyone_is_served_while_places_remain(
            loads in arb_loads(),
            n_queue in 0usize..40,
        ) {
            let queue: Vec<_> = (0..n_queue as u128).map(conv).collect();
            let free: u32 = loads.iter().filter(|l| l.available).map(|l| l.free()).sum();
            let p = plan(&queue, &loads);
            prop_assert_eq!(p.len(), n_queue.min(free as usize));
            // The ones served are exactly the head of the queue.
            for (i, (c, _)) in p.iter().enumerate() {
                prop_assert_eq!(*c, queue[i]);
            }
        }

        #[test]
        fn the_queue_drains_in_rounds_as_conversations_end(
            caps in proptest::collection::vec(1u32..4, 1..6),
            n_queue in 1usize..60,
        ) {
            // Repeated rounds: plan, then every assigned conversation ends.
            // Every visitor must be served within ceil(n / total capacity) rounds.
            let mut loads: Vec<CounsellorLoad> = caps.iter().enumerate()
                .map(|(i, &cap)| load(i as u128 + 1, cap, 0, None)).collect();
            let mut queue: Vec<_> = (0..n_queue as u128).map(conv).collect();
            let total: usize = caps.iter().map(|&c| c as usize).sum();
            let mut rounds = 0;
            while !queue.is_empty() {
                let p = plan(&queue, &loads);
                prop_assert!(!p.is_empty());
                queue.drain(..p.len());
                for l in loads.iter_mut() { l.active = 0; }
                rounds += 1;
            }
            prop_assert_eq!(rounds, n_queue.div_ceil(total));
        }
    }
}
