//! The wall clock, in the one unit every record uses.
//!
//! [`Clock`] is the service's clock: the system's time plus an offset that
//! only a test moves, so that "a week later" or "Friday 22:00, then Monday
//! 9:00" can be shown against the real server without waiting. Production
//! code never moves it; decisions read it, timers keep running in real time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, from the system.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The system clock shifted by an offset that starts at zero. Clones share
/// the offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Milliseconds since the Unix epoch, as this clock reads.
    pub fn now_ms(&self) -> u64 {
        let shifted = now_ms() as i64 + self.offset_ms.load(Ordering::Relaxed);
        shifted.max(0) as u64
    }

    /// Move the clock forward by `by` (tests only).
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(by, Ordering::Relaxed);
    }

    /// Make the clock read `at_ms` now, and run on from there (tests only).
    pub fn set(&self, at_ms: u64) {
        let offset = at_ms as i64 - now_ms() as i64;
        self.offset_ms.swap(offset, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_clock_reads_the_system_time() {
        let before = now_ms();
        let read = Clock::default().now_ms();
        assert!(read >= before && read <= now_ms());
    }

    #[test]
    fn advance_and_set_move_every_clone() {
        let clock = Clock::default();
        let other = clock.clone();
        clock.advance(Duration::from_secs(7 * 86_400));
        let week = 7 * 86_400_000;
        assert!(other.now_ms() >= now_ms() + week - 1_000);
        clock.set(1_000_000);
        assert!((1_000_000..1_100_000).contains(&other.now_ms()));
    }
}
