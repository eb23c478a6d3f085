//! Rate limits (governor), kept in memory only. Client addresses are used
//! as limiter keys and nowhere else: never logged, never stored.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Limits;

pub struct RateLimits {
    pub upgrades: DefaultKeyedRateLimiter<IpAddr>,
    pub starts: DefaultKeyedRateLimiter<IpAddr>,
    pub logins_by_ip: DefaultKeyedRateLimiter<IpAddr>,
    pub bookings_by_ip: DefaultKeyedRateLimiter<IpAddr>,
    /// Requests made with a one-time handoff link, per address, whether
    /// the link exists or not.
    pub handoff_links_by_ip: DefaultKeyedRateLimiter<IpAddr>,
    /// Visitor sockets open now, per address key, on this node.
    pub visitor_sockets: HeldCounts,
    frames: Quota,
}

/// How many of something each address holds at once (in this process).
#[derive(Default)]
pub struct HeldCounts(Arc<Mutex<HashMap<IpAddr, u32>>>);

/// One place held in [`HeldCounts`], given back when dropped.
pub struct SocketHold {
    counts: Arc<Mutex<HashMap<IpAddr, u32>>>,
    ip: IpAddr,
}

impl HeldCounts {
    /// A place for `ip` if it holds fewer than `cap`.
    pub fn hold(&self, ip: IpAddr, cap: u32) -> Option<SocketHold> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= cap {
            if *n == 0 {
                m.remove(&ip);
            }
            return None;
        }
        *n += 1;
        Some(SocketHold {
            counts: self.0.clone(),
            ip,
        })
    }

    /// How many `ip` holds now.
    pub fn held(&self, ip: IpAddr) -> u32 {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for SocketHold {
    fn drop(&mut self) {
        let mut m = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
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
            bookings_by_ip: RateLimiter::keyed(per_minute(
                l.booking_lookups_per_ip_per_min,
                l.booking_lookups_burst,
            )),
            handoff_links_by_ip: RateLimiter::keyed(per_minute(
                l.handoff_links_per_ip_per_min,
                l.handoff_links_burst,
            )),
            visitor_sockets: HeldCounts::default(),
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
        self.bookings_by_ip.retain_recent();
        self.handoff_links_by_ip.retain_recent();
        self.handoff_links_by_ip.shrink_to_fit();
        self.bookings_by_ip.shrink_to_fit();
        self.upgrades.shrink_to_fit();
        self.starts.shrink_to_fit();
        self.logins_by_ip.shrink_to_fit();
    }
}

/// The key of every per-address limit: the address itself for IPv4, its
/// /64 for IPv6 (one home or phone gets a whole /64, so counting its
/// addresses one by one would give one client unlimited keys), and an
/// IPv4 address written as IPv6 (`::ffff:a.b.c.d`) as that IPv4 address.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(bits))
            }
        },
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
            logins_per_ip_per_min: 1,
            logins_burst: 1,
            ..Limits::default()
        };
        let limits = RateLimits::new(&l);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(check_keyed(&limits.logins_by_ip, &a).is_ok());
        assert!(check_keyed(&limits.logins_by_ip, &a).is_err());
        assert!(check_keyed(&limits.logins_by_ip, &b).is_ok());
    }

    #[test]
    fn held_places_are_capped_and_given_back_when_dropped() {
        let counts = HeldCounts::default();
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let held: Vec<_> = (0..3).filter_map(|_| counts.hold(ip, 3)).collect();
        assert_eq!(held.len(), 3);
        assert!(counts.hold(ip, 3).is_none(), "past the cap");
        assert!(counts.hold("192.0.2.10".parse().unwrap(), 3).is_some());
        drop(held);
        assert_eq!(counts.held(ip), 0);
        assert!(counts.hold(ip, 3).is_some());
    }

    #[test]
    fn ipv6_is_keyed_by_its_64_and_mapped_ipv4_as_ipv4() {
        let k = |s: &str| address_key(s.parse().unwrap()).to_string();
        assert_eq!(k("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::");
        assert_eq!(k("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::");
        assert_ne!(k("2001:db8:1:3::1"), k("2001:db8:1:2::1"));
        assert_eq!(k("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(k("192.0.2.7"), "192.0.2.7");
        assert_ne!(k("192.0.2.7"), k("192.0.2.8"));
    }
}
