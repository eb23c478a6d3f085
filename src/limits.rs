//! Rate limits (governor), kept in memory only. Client addresses are used
//! as limiter keys and nowhere else: never logged, never stored.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Limits;

pub struct RateLimits {
    pub upgrades: DefaultKeyedRateLimiter<IpAddr>,
    pub starts: DefaultKeyedRateLimiter<IpAddr>,
    pub logins_by_ip: DefaultKeyedRateLimiter<IpAddr>,
    pub logins_by_account: DefaultKeyedRateLimiter<String>,
    pub bookings_by_ip: DefaultKeyedRateLimiter<IpAddr>,
    /// Requests made with a one-time handoff link, per address, whether
    /// the link exists or not.
    pub handoff_links_by_ip: DefaultKeyedRateLimiter<IpAddr>,
    frames: Quota,
}

fn nz(n: u32) -> NonZeroU32 {
    // Settings::validate refuses zero; 1 is the safe floor regardless.
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

fn per_minute(n: u32, burst: u32) -> Quota {
    Quota::per_minute(nz(n)).allow_burst(nz(burst))
}

impl RateLimits {
    pub fn new(l: &Limits) -> Self {
        Self {
            upgrades: RateLimiter::keyed(per_minute(l.upgrades_per_ip_per_min, l.upgrades_burst)),
            starts: RateLimiter::keyed(per_minute(l.starts_per_ip_per_min, l.starts_burst)),
            logins_by_ip: RateLimiter::keyed(per_minute(l.logins_per_ip_per_min, l.logins_burst)),
            logins_by_account: RateLimiter::keyed(per_minute(
                l.logins_per_account_per_min,
                l.logins_burst,
            )),
            bookings_by_ip: RateLimiter::keyed(per_minute(
                l.booking_lookups_per_ip_per_min,
                l.booking_lookups_burst,
            )),
            handoff_links_by_ip: RateLimiter::keyed(per_minute(
                l.handoff_links_per_ip_per_min,
                l.handoff_links_burst,
            )),
            frames: Quota::per_second(nz(l.frames_per_sec)).allow_burst(nz(l.frames_burst)),
        }
    }

    /// A fresh limiter for one socket's inbound frames.
    pub fn frames(&self) -> DefaultDirectRateLimiter {
        RateLimiter::direct(self.frames)
    }

    /// Forget keys whose limits have fully recovered, so the maps do not grow
    /// with every address ever seen.
    pub fn forget_idle(&self) {
        self.upgrades.retain_recent();
        self.starts.retain_recent();
        self.logins_by_ip.retain_recent();
        self.logins_by_account.retain_recent();
        self.bookings_by_ip.retain_recent();
        self.handoff_links_by_ip.retain_recent();
        self.handoff_links_by_ip.shrink_to_fit();
        self.bookings_by_ip.shrink_to_fit();
        self.upgrades.shrink_to_fit();
        self.starts.shrink_to_fit();
        self.logins_by_ip.shrink_to_fit();
        self.logins_by_account.shrink_to_fit();
    }
}

/// `Ok` or how long to wait.
pub fn check_keyed<K: std::hash::Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), Duration> {
    limiter
        .check_key(key)
        .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

pub fn check_direct(limiter: &DefaultDirectRateLimiter) -> Result<(), Duration> {
    limiter
        .check()
        .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_wait() {
        let l = Limits {
            frames_per_sec: 1,
            frames_burst: 3,
            ..Limits::default()
        };
        let limits = RateLimits::new(&l);
        let f = limits.frames();
        for _ in 0..3 {
            assert!(check_direct(&f).is_ok());
        }
        let wait = check_direct(&f).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
    }

    #[test]
    fn keys_are_limited_independently() {
        let l = Limits {
            logins_per_account_per_min: 1,
            logins_burst: 1,
            ..Limits::default()
        };
        let limits = RateLimits::new(&l);
        assert!(check_keyed(&limits.logins_by_account, &"a".to_string()).is_ok());
        assert!(check_keyed(&limits.logins_by_account, &"a".to_string()).is_err());
        assert!(check_keyed(&limits.logins_by_account, &"b".to_string()).is_ok());
    }
}
