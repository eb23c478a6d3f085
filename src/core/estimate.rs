//! An honest wait estimate.
//!
//! The estimate says "I don't know" rather than invent a number: with no
//! counsellor taking chats there is no rate to divide by. Otherwise a
//! visitor at position `p` (1 = next) waits for `p` places to free up; with
//! `slots` concurrent places each freeing on average every `handle` time,
//! places free at a rate of `slots / handle`, so the wait is about
//! `p * handle / slots`, minus nothing for places already free.

use std::time::Duration;

/// What the estimate is made from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WaitInputs {
    /// 1-based position in the queue.
    pub position: u32,
    /// Free places right now among available counsellors.
    pub free_slots: u32,
    /// Total places (capacity) among available counsellors.
    pub total_slots: u32,
    /// Average length of a conversation (recent, or the configured prior).
    pub mean_handle: Duration,
}

/// `None` means "no counsellor is taking chats right now".
pub fn estimate_wait(i: WaitInputs) -> Option<Duration> {
    if i.total_slots == 0 {
        return None;
    }
    if i.position <= i.free_slots {
        return Some(Duration::ZERO);
    }
    let ahead = u64::from(i.position - i.free_slots);
    let secs = i.mean_handle.as_secs_f64() * ahead as f64 / f64::from(i.total_slots);
    Some(Duration::from_secs_f64(secs))
}

/// An exponentially weighted mean of conversation lengths: recent
/// conversations count most, and one outlier moves it only by `weight`.
#[derive(Clone, Copy, Debug)]
pub struct HandleTime {
    mean_secs: f64,
    weight: f64,
}

impl HandleTime {
    pub fn new(prior: Duration) -> Self {
        Self {
            mean_secs: prior.as_secs_f64(),
            weight: 0.1,
        }
    }

    pub fn observe(&mut self, length: Duration) {
        self.mean_secs += self.weight * (length.as_secs_f64() - self.mean_secs);
    }

    pub fn mean(&self) -> Duration {
        Duration::from_secs_f64(self.mean_secs.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inputs(position: u32, free: u32, total: u32) -> WaitInputs {
        WaitInputs {
            position,
            free_slots: free,
            total_slots: total,
            mean_handle: Duration::from_secs(600),
        }
    }

    #[test]
    fn no_counsellor_means_no_number() {
        assert_eq!(estimate_wait(inputs(1, 0, 0)), None);
    }

    #[test]
    fn a_free_place_means_no_wait() {
        assert_eq!(estimate_wait(inputs(2, 2, 4)), Some(Duration::ZERO));
    }

    #[test]
    fn waits_scale_with_position_over_places() {
        // 4 places, each 10 minutes: the 5th in line (1 beyond the 4 free
        // places... none free here) waits 5 * 600 / 4 s.
        assert_eq!(
            estimate_wait(inputs(5, 0, 4)),
            Some(Duration::from_secs(750))
        );
    }

    #[test]
    fn handle_time_moves_towards_observations() {
        let mut h = HandleTime::new(Duration::from_secs(1000));
        for _ in 0..100 {
            h.observe(Duration::from_secs(100));
        }
        assert!((h.mean().as_secs_f64() - 100.0).abs() < 1.0);
    }

    proptest! {
        #[test]
        fn further_back_never_waits_less(p in 1u32..500, free in 0u32..20, extra in 0u32..20) {
            let total = free + extra + 1;
            let a = estimate_wait(inputs(p, free, total)).unwrap();
            let b = estimate_wait(inputs(p + 1, free, total)).unwrap();
            prop_assert!(b >= a);
        }
    }
}
