//! The empty-floor alert's decision: when the centre is open and nobody
//! can take a visitor (no counsellor available for `empty_after_ms`), or a
//! visitor has waited past `long_wait_ms`, supervisors are alerted once
//! per episode; the episode clears when a counsellor is available again
//! (and nobody waits past the threshold) or the centre closes.
//!
//! A pure state machine, one step per sweep:
//!
//! ```text
//! quiet --(open, nobody available)--> pending(since)
//! pending --(still nobody, now - since >= empty_after)--> raised   [Raise]
//! quiet|pending --(open, longest wait >= long_wait)--> raised      [Raise]
//! pending --(somebody available | closed)--> quiet
//! raised --(somebody available and no long wait)--> cleared        [Clear]
//! raised --(closed)--> cleared                                     [Clear]
//! cleared behaves as quiet on the next step.
//! ```
//!
//! With several nodes each keeps its own phase, but whether an episode is
//! raised is the store's (`FloorStore`): a node enters `Raised` from what
//! the store says, and the store raises at most one episode at a time.

use serde::{Deserialize, Serialize};

/// The thresholds, from `[alerts]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloorPolicy {
    /// Nobody available for this long raises the alert.
    pub empty_after_ms: u64,
    /// A visitor waiting this long raises it (`None`: off).
    pub long_wait_ms: Option<u64>,
}

/// What the floor looks like at one sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloorReading {
    /// The opening hours say someone is serving.
    pub open: bool,
    /// Counsellors taking chats (available and connected).
    pub available: u32,
    /// How long the first visitor in the queue has waited (`None`: nobody).
    pub longest_wait_ms: Option<u64>,
}

/// Why an episode was raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FloorCause {
    /// No counsellor available for the configured time.
    NoCounsellor,
    /// A visitor waited past the configured threshold.
    LongWait,
}

impl FloorCause {
    pub fn as_str(self) -> &'static str {
        match self {
            FloorCause::NoCounsellor => "no_counsellor",
            FloorCause::LongWait => "long_wait",
        }
    }
}

/// Why an episode ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FloorCleared {
    /// A counsellor is available and nobody waits past the threshold.
    CounsellorAvailable,
    /// The opening hours ended.
    Closed,
}

impl FloorCleared {
    pub fn as_str(self) -> &'static str {
        match self {
            FloorCleared::CounsellorAvailable => "counsellor_available",
            FloorCleared::Closed => "closed",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloorPhase {
    Quiet,
    /// Nobody available since `since_ms`, not yet for long enough.
    Pending {
        since_ms: u64,
    },
    /// An episode is raised (the floor has been uncovered since `since_ms`).
    Raised {
        since_ms: u64,
    },
    /// The last episode cleared at `at_ms`; the next step treats it as quiet.
    Cleared {
        at_ms: u64,
    },
}

/// What the caller must do after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloorAction {
    None,
    /// Raise one episode (the floor uncovered since `since_ms`).
    Raise {
        cause: FloorCause,
        since_ms: u64,
    },
    /// Clear the raised episode.
    Clear {
        why: FloorCleared,
    },
}

/// One step of the machine (see the module doc).
pub fn step(
    phase: FloorPhase,
    r: FloorReading,
    now_ms: u64,
    policy: FloorPolicy,
) -> (FloorPhase, FloorAction) {
    let raised = matches!(phase, FloorPhase::Raised { .. });
    if !r.open {
        return if raised {
            (
                FloorPhase::Cleared { at_ms: now_ms },
                FloorAction::Clear {
                    why: FloorCleared::Closed,
                },
            )
        } else {
            (FloorPhase::Quiet, FloorAction::None)
        };
    }
    let nobody = r.available == 0;
    let long_wait = match (policy.long_wait_ms, r.longest_wait_ms) {
        (Some(limit), Some(w)) => w >= limit,
        _ => false,
    };
    if raised {
        return if !nobody && !long_wait {
            (
                FloorPhase::Cleared { at_ms: now_ms },
                FloorAction::Clear {
                    why: FloorCleared::CounsellorAvailable,
                },
            )
        } else {
            (phase, FloorAction::None)
        };
    }
    let pending_since = match phase {
        FloorPhase::Pending { since_ms } if nobody => Some(since_ms.min(now_ms)),
        _ if nobody => Some(now_ms),
        _ => None,
    };
    if long_wait {
        let waited_since = now_ms.saturating_sub(r.longest_wait_ms.unwrap_or(0));
        let since_ms = pending_since.map_or(waited_since, |p| p.min(waited_since));
        return (
            FloorPhase::Raised { since_ms },
            FloorAction::Raise {
                cause: FloorCause::LongWait,
                since_ms,
            },
        );
    }
    match pending_since {
        Some(since_ms) if now_ms.saturating_sub(since_ms) >= policy.empty_after_ms => (
            FloorPhase::Raised { since_ms },
            FloorAction::Raise {
                cause: FloorCause::NoCounsellor,
                since_ms,
            },
        ),
        Some(since_ms) => (FloorPhase::Pending { since_ms }, FloorAction::None),
        None => (FloorPhase::Quiet, FloorAction::None),
    }
}

/// How long an episode's floor was (or, while it is not cleared, has been)
/// uncovered at `now_ms`: from `since_ms` to its clear, else to now; 0
/// when the clock reads earlier than `since_ms`.
pub fn episode_duration_ms(since_ms: u64, cleared_at_ms: Option<u64>, now_ms: u64) -> u64 {
    cleared_at_ms.unwrap_or(now_ms).saturating_sub(since_ms)
}

/// The `limit` most recently raised episodes, newest first, from
/// `(raised_at_ms, episode)` pairs in any order (the floor view's list).
pub fn newest_episodes<T>(mut episodes: Vec<(u64, T)>, limit: usize) -> Vec<T> {
    episodes.sort_by_key(|e| std::cmp::Reverse(e.0));
    episodes.truncate(limit);
    episodes.into_iter().map(|(_, e)| e).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const POLICY: FloorPolicy = FloorPolicy {
        empty_after_ms: 120_000,
        long_wait_ms: Some(600_000),
    };

    fn reading(open: bool, available: u32, longest_wait_ms: Option<u64>) -> FloorReading {
        FloorReading {
            open,
            available,
            longest_wait_ms,
        }
    }

    #[test]
    fn nobody_available_raises_after_the_configured_time_once() {
        let empty = reading(true, 0, None);
        let (p, a) = step(FloorPhase::Quiet, empty, 1_000, POLICY);
        assert_eq!(p, FloorPhase::Pending { since_ms: 1_000 });
        assert_eq!(a, FloorAction::None);
        let (p, a) = step(p, empty, 120_999, POLICY);
        assert_eq!(a, FloorAction::None, "not yet 120 s");
        let (p, a) = step(p, empty, 121_000, POLICY);
        assert_eq!(
            a,
            FloorAction::Raise {
                cause: FloorCause::NoCounsellor,
                since_ms: 1_000
            }
        );
        let (p, a) = step(p, empty, 500_000, POLICY);
        assert_eq!(a, FloorAction::None, "raised once per episode");
        let (p, a) = step(p, reading(true, 1, None), 501_000, POLICY);
        assert_eq!(
            a,
            FloorAction::Clear {
                why: FloorCleared::CounsellorAvailable
            }
        );
        assert_eq!(p, FloorPhase::Cleared { at_ms: 501_000 });
        // A new episode starts its own count.
        let (p, _) = step(p, empty, 502_000, POLICY);
        assert_eq!(p, FloorPhase::Pending { since_ms: 502_000 });
    }

    #[test]
    fn a_counsellor_coming_back_while_pending_resets_the_count() {
        let (p, _) = step(FloorPhase::Quiet, reading(true, 0, None), 0, POLICY);
        let (p, a) = step(p, reading(true, 1, None), 100_000, POLICY);
        assert_eq!((p, a), (FloorPhase::Quiet, FloorAction::None));
        let (p, _) = step(p, reading(true, 0, None), 110_000, POLICY);
        let (_, a) = step(p, reading(true, 0, None), 200_000, POLICY);
        assert_eq!(a, FloorAction::None, "only 90 s since the new start");
    }

    #[test]
    fn a_long_wait_raises_at_once_and_clears_when_it_is_over() {
        let r = reading(true, 2, Some(600_000));
        let (p, a) = step(FloorPhase::Quiet, r, 700_000, POLICY);
        assert_eq!(
            a,
            FloorAction::Raise {
                cause: FloorCause::LongWait,
                since_ms: 100_000
            }
        );
        // Counsellors available but all busy: still raised.
        let (p, a) = step(p, reading(true, 2, Some(650_000)), 750_000, POLICY);
        assert_eq!(a, FloorAction::None);
        let (_, a) = step(p, reading(true, 2, Some(10_000)), 760_000, POLICY);
        assert!(matches!(a, FloorAction::Clear { .. }));
        // Off when not configured.
        let off = FloorPolicy {
            long_wait_ms: None,
            ..POLICY
        };
        let (_, a) = step(FloorPhase::Quiet, r, 700_000, off);
        assert_eq!(a, FloorAction::None);
    }

    #[test]
    fn closing_clears_a_raised_episode_and_forgets_a_pending_one() {
        let closed = reading(false, 0, None);
        let (p, a) = step(FloorPhase::Raised { since_ms: 0 }, closed, 9, POLICY);
        assert_eq!(
            a,
            FloorAction::Clear {
                why: FloorCleared::Closed
            }
        );
        assert_eq!(p, FloorPhase::Cleared { at_ms: 9 });
        let (p, a) = step(FloorPhase::Pending { since_ms: 0 }, closed, 9, POLICY);
        assert_eq!((p, a), (FloorPhase::Quiet, FloorAction::None));
    }

    fn any_reading() -> impl Strategy<Value = FloorReading> {
        (
            prop::bool::weighted(0.8),
            prop_oneof![Just(0u32), 0u32..3],
            prop::option::of(0u64..1_000_000),
        )
            .prop_map(|(open, available, longest_wait_ms)| FloorReading {
                open,
                available,
                longest_wait_ms,
            })
    }

    #[test]
    fn an_episode_lasts_to_its_clear_or_to_now() {
        assert_eq!(episode_duration_ms(1_000, Some(61_000), 999_999), 60_000);
        assert_eq!(episode_duration_ms(1_000, None, 31_000), 30_000);
        assert_eq!(episode_duration_ms(5_000, None, 1_000), 0, "a clock behind");
        assert_eq!(
            newest_episodes(vec![(2, "b"), (9, "c"), (1, "a")], 2),
            vec!["c", "b"]
        );
        assert!(newest_episodes::<u8>(Vec::new(), 5).is_empty());
    }

    proptest! {
        /// A cleared episode's duration does not grow with the clock; an
        /// open one's grows by exactly the time that passed.
        #[test]
        fn a_cleared_episode_stops_counting(
            since in 0u64..1_000_000,
            len in 0u64..1_000_000,
            now in 0u64..3_000_000,
            later in 0u64..1_000_000,
        ) {
            let cleared = Some(since + len);
            prop_assert_eq!(episode_duration_ms(since, cleared, now), len);
            prop_assert_eq!(episode_duration_ms(since, cleared, now + later), len);
            let open_now = episode_duration_ms(since, None, since + now);
            prop_assert_eq!(episode_duration_ms(since, None, since + now + later), open_now + later);
        }

        /// The list is the newest `limit`, newest first.
        #[test]
        fn newest_episodes_are_the_newest_in_order(
            raised in prop::collection::vec(0u64..1_000, 0..40),
            limit in 0usize..50,
        ) {
            let got = newest_episodes(raised.iter().map(|r| (*r, *r)).collect(), limit);
            prop_assert_eq!(got.len(), raised.len().min(limit));
            prop_assert!(got.windows(2).all(|w| w[0] >= w[1]));
            let mut all = raised.clone();
            all.sort_unstable_by(|a, b| b.cmp(a));
            prop_assert_eq!(got, all[..raised.len().min(limit)].to_vec());
        }

        /// Over any sequence of readings: never raised while closed, never
        /// two raises without a clear between them, never a clear without
        /// a raise, and after any step that saw a counsellor available
        /// with no long wait (or the hours closed), nothing is raised.
        #[test]
        fn raised_once_per_episode_never_while_closed_always_cleared(
            steps in prop::collection::vec((any_reading(), 0u64..200_000), 1..60),
            empty_after_ms in 0u64..300_000,
            long_wait_ms in prop::option::of(1u64..900_000),
        ) {
            let policy = FloorPolicy { empty_after_ms, long_wait_ms };
            let mut phase = FloorPhase::Quiet;
            let mut now = 0u64;
            let mut raised = false;
            for (r, dt) in steps {
                now += dt;
                let (next, action) = step(phase, r, now, policy);
                match action {
                    FloorAction::Raise { since_ms, .. } => {
                        prop_assert!(r.open, "raised while closed");
                        prop_assert!(!raised, "raised twice in one episode");
                        prop_assert!(since_ms <= now);
                        raised = true;
                    }
                    FloorAction::Clear { .. } => {
                        prop_assert!(raised, "cleared without a raise");
                        raised = false;
                    }
                    FloorAction::None => {}
                }
                prop_assert_eq!(raised, matches!(next, FloorPhase::Raised { .. }));
                let long = matches!((long_wait_ms, r.longest_wait_ms), (Some(l), Some(w)) if w >= l);
                if !r.open || (r.available > 0 && !long) {
                    prop_assert!(!raised, "still raised with a counsellor available or closed");
                    prop_assert!(!matches!(next, FloorPhase::Pending { .. }), "pending with a counsellor available or closed");
                }
                phase = next;
            }
        }
    }
}
