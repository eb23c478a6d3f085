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

/// A waiting visitor as matching with return preferences sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub conversation: ConversationId,
    /// A returning visitor's last counsellor (issue 22), if any.
    pub prefers: Option<AccountId>,
    /// When they joined the queue (ms since epoch).
    pub queued_since_ms: u64,
}

/// Is `w`'s preference in force at `now_ms`: they prefer a counsellor who
/// is available (status and a live socket, full or not), and they have
/// waited less than `max_wait_ms`? Past the bound, or with that
/// counsellor away, they are an ordinary visitor at their place in the
/// queue (which they never lost).
pub fn preference_in_force(
    w: &Waiting,
    counsellors: &[CounsellorLoad],
    now_ms: u64,
    max_wait_ms: u64,
) -> Option<AccountId> {
    let p = w.prefers?;
    let waited = now_ms.saturating_sub(w.queued_since_ms);
    let available = counsellors.iter().any(|c| c.id == p && c.available);
    (available && waited < max_wait_ms).then_some(p)
}

/// [`plan`] with return preferences (issue 22): visitors in queue order;
/// one whose preference is in force ([`preference_in_force`]) goes to
/// that counsellor if they have a free place, and otherwise is passed
/// over this round (keeping their place), so they never take a place
/// from anyone behind them; everyone else is planned as by [`plan`].
/// With no preference in force this is exactly [`plan`]: a returning
/// visitor waits at most the bound more than an ordinary one, and a
/// preference never makes anyone else wait longer (property-tested).
pub fn plan_preferring(
    queue: &[Waiting],
    counsellors: &[CounsellorLoad],
    now_ms: u64,
    max_wait_ms: u64,
) -> Vec<(ConversationId, AccountId)> {
    let mut loads: Vec<CounsellorLoad> = counsellors
        .iter()
        .filter(|c| c.available && c.free() > 0)
        .cloned()
        .collect();
    let mut out = Vec::new();
    for w in queue {
        if loads.iter().all(|c| c.free() == 0) {
            break;
        }
        let chosen = match preference_in_force(w, counsellors, now_ms, max_wait_ms) {
            Some(p) => loads.iter().position(|c| c.id == p && c.free() > 0),
            None => pick(&loads),
        };
        let Some(i) = chosen else { continue };
        let c = &mut loads[i];
        c.active += 1;
        c.last_assigned_ms = Some(u64::MAX);
        out.push((w.conversation, c.id));
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

    /// A plan gives nobody twice and nobody past their free places, and
    /// nothing to a counsellor who is not available.
    fn check_plan(
        p: &[(ConversationId, AccountId)],
        loads: &[CounsellorLoad],
    ) -> Result<(), TestCaseError> {
        let mut seen = HashSet::new();
        let mut given: HashMap<AccountId, u32> = HashMap::new();
        for (c, a) in p {
            prop_assert!(seen.insert(*c), "visitor assigned twice");
            *given.entry(*a).or_default() += 1;
        }
        for l in loads {
            let g = given.get(&l.id).copied().unwrap_or(0);
            prop_assert!(l.active + g <= l.capacity, "capacity exceeded");
            if !l.available {
                prop_assert_eq!(g, 0);
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn capacity_is_never_exceeded_and_nobody_is_assigned_twice(
            loads in arb_loads(),
            n_queue in 0usize..40,
        ) {
            let queue: Vec<_> = (0..n_queue as u128).map(conv).collect();
            let p = plan(&queue, &loads);
            check_plan(&p, &loads)?;
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

    fn arb_waiting(n_counsellors: u128) -> impl Strategy<Value = Vec<Waiting>> {
        proptest::collection::vec(
            (
                proptest::option::of(1..=n_counsellors.max(1) + 1),
                0u64..200,
            ),
            0..30,
        )
        .prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (p, since))| Waiting {
                    conversation: conv(i as u128 + 1000),
                    prefers: p.map(|n| AccountId(Uuid::from_u128(n))),
                    queued_since_ms: since,
                })
                .collect()
        })
    }

    #[test]
    fn a_returning_visitor_waits_for_their_counsellor_within_the_bound_only() {
        let busy = load(1, 1, 1, None);
        let free = load(2, 1, 0, None);
        let w = Waiting {
            conversation: conv(7),
            prefers: Some(busy.id),
            queued_since_ms: 1_000,
        };
        let loads = [busy.clone(), free.clone()];
        assert!(plan_preferring(&[w], &loads, 1_500, 1_000).is_empty());
        assert_eq!(
            plan_preferring(&[w], &loads, 2_000, 1_000),
            vec![(conv(7), free.id)],
            "past the bound: anyone"
        );
        let mut away = busy.clone();
        away.available = false;
        assert_eq!(
            plan_preferring(&[w], &[away, free.clone()], 1_500, 1_000),
            vec![(conv(7), free.id)],
            "their counsellor away: no waiting"
        );
        let mut has_room = busy;
        has_room.capacity = 2;
        let both = [has_room.clone(), load(2, 3, 0, None)];
        assert_eq!(
            plan_preferring(&[w], &both, 1_500, 1_000),
            vec![(conv(7), has_room.id)],
            "their counsellor, although another has more room"
        );
    }

    proptest! {
        #[test]
        fn with_no_preference_in_force_it_is_the_plain_plan(
            loads in arb_loads(),
            queue in arb_waiting(8),
            bound in 0u64..300,
        ) {
            // At `now` past everyone's bound, preferences are spent.
            let now = 200 + bound;
            let ids: Vec<_> = queue.iter().map(|w| w.conversation).collect();
            prop_assert_eq!(plan_preferring(&queue, &loads, now, bound), plan(&ids, &loads));
        }

        #[test]
        fn preferences_never_exceed_capacity_nor_give_anyone_to_another(
            loads in arb_loads(),
            queue in arb_waiting(8),
            now in 0u64..400,
            bound in 0u64..300,
        ) {
            let p = plan_preferring(&queue, &loads, now, bound);
            check_plan(&p, &loads)?;
            for (c, a) in &p {
                let w = queue.iter().find(|w| w.conversation == *c).unwrap();
                if let Some(pref) = preference_in_force(w, &loads, now, bound) {
                    prop_assert_eq!(*a, pref, "given to another within the bound");
                }
            }
        }

        #[test]
        fn a_preference_never_makes_anyone_else_wait_longer(
            loads in arb_loads(),
            queue in arb_waiting(8),
            now in 0u64..400,
            bound in 0u64..300,
        ) {
            // Everyone without a preference in force whom the plain plan
            // would serve this round is served with preferences too.
            let ids: Vec<_> = queue.iter().map(|w| w.conversation).collect();
            let plain: HashSet<_> = plan(&ids, &loads).into_iter().map(|(c, _)| c).collect();
            let with: HashSet<_> = plan_preferring(&queue, &loads, now, bound)
                .into_iter().map(|(c, _)| c).collect();
            for w in &queue {
                if preference_in_force(w, &loads, now, bound).is_none() && plain.contains(&w.conversation) {
                    prop_assert!(with.contains(&w.conversation), "{:?} waits longer", w.conversation);
                }
            }
        }

        #[test]
        fn nobody_starves_a_returning_visitor_is_served_by_the_bound_plus_the_plain_wait(
            caps in proptest::collection::vec(1u32..3, 1..4),
            prefs in proptest::collection::vec(proptest::option::of(1u128..5), 1..25),
            bound in 1u64..6,
        ) {
            // Rounds one time unit apart; every assigned conversation lasts
            // one round. Counsellor 1 is kept full by others as long as
            // possible: nobody waits more than the bound plus the rounds
            // the plain queue would take for them.
            let mut loads: Vec<CounsellorLoad> = caps.iter().enumerate()
                .map(|(i, &cap)| load(i as u128 + 1, cap, 0, None)).collect();
            let queue: Vec<Waiting> = prefs.iter().enumerate().map(|(i, p)| Waiting {
                conversation: conv(i as u128 + 1000),
                prefers: p.map(|n| AccountId(Uuid::from_u128(n))),
                queued_since_ms: 0,
            }).collect();
            let total: usize = caps.iter().map(|&c| c as usize).sum();
            let mut waiting = queue.clone();
            let mut served_at: HashMap<ConversationId, u64> = HashMap::new();
            let mut now = 0u64;
            while !waiting.is_empty() {
                prop_assert!(now <= bound + queue.len() as u64 + 1, "starved");
                let p = plan_preferring(&waiting, &loads, now, bound);
                for (c, _) in &p { served_at.insert(*c, now); }
                waiting.retain(|w| !served_at.contains_key(&w.conversation));
                for l in loads.iter_mut() { l.active = 0; }
                now += 1;
            }
            for (i, w) in queue.iter().enumerate() {
                let plain_round = (i / total) as u64;
                prop_assert!(served_at[&w.conversation] <= plain_round + bound,
                    "{} served at {} > {} + {}", i, served_at[&w.conversation], plain_round, bound);
            }
        }
    }
}
