//! Admission control for the node's multiplexed Redis command connections.
//!
//! Every command on one of them waits behind all those sent before it.
//! Without a bound, an overload (more messages offered than Redis and the
//! node can run) makes the line of waiting commands grow until each of
//! them outlasts the response time-out: then every command fails,
//! including the ones Redis already ran, and the node delivers almost
//! nothing (measured: 12 messages/s at 5,000 pairs, docs/BENCHMARKS.md). The gate lets at most `limit`
//! commands be outstanding; a command that cannot get a place within
//! `wait` is refused at once as [`StoreError::Busy`], before it was sent,
//! so nothing was changed and the client is told when to try again. The
//! commands let in keep a short line, so Redis works at its full rate on
//! them instead of on commands whose callers have given up.
//!
//! Waiting commands are let in first come, first served.

use std::time::Duration;

use rand::Rng;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::store::{StoreError, StoreResult};

pub struct Gate {
    places: Semaphore,
    wait: Duration,
}

impl Gate {
    /// `limit` commands outstanding at most (at least 1); a command waits
    /// up to `wait` for a place.
    pub fn new(limit: usize, wait: Duration) -> Self {
        Self {
            places: Semaphore::new(limit.max(1)),
            wait,
        }
    }

    /// A place for one command, held until the permit is dropped (when
    /// its answer has arrived or its caller gave up). The node's own
    /// background work ([`crate::store::background`]) passes without one.
    pub async fn admit(&self) -> StoreResult<Option<SemaphorePermit<'_>>> {
        if crate::store::in_background() {
            return Ok(None);
        }
        if let Ok(p) = self.places.try_acquire() {
            return Ok(Some(p));
        }
        match tokio::time::timeout(self.wait, self.places.acquire()).await {
            Ok(Ok(p)) => Ok(Some(p)),
            Ok(Err(_)) => Err(StoreError::Unavailable("redis: the store is closed".into())),
            Err(_) => Err(StoreError::Busy {
                retry_after_ms: self.retry_after_ms(),
            }),
        }
    }

    /// One to two waits from now, spread so that the refused clients do
    /// not all come back at the same moment.
    fn retry_after_ms(&self) -> u64 {
        let base = (self.wait.as_millis() as u64).max(100);
        base + rand::thread_rng().gen_range(0..=base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn at_most_limit_are_let_in_and_the_next_is_refused_after_the_wait() {
        let gate = Gate::new(2, Duration::from_millis(30));
        let a = gate.admit().await.unwrap();
        let _b = gate.admit().await.unwrap();
        assert_eq!(gate.places.available_permits(), 0);
        match gate.admit().await {
            Err(StoreError::Busy { retry_after_ms }) => {
                assert!((100..=200).contains(&retry_after_ms), "{retry_after_ms}");
            }
            other => panic!("expected Busy, got {other:?}"),
        }
        // A refused command took no place.
        assert_eq!(gate.places.available_permits(), 0);
        drop(a);
        assert_eq!(gate.places.available_permits(), 1);
        let _c = gate.admit().await.expect("a freed place is given again");
    }

    #[tokio::test]
    async fn a_waiting_command_gets_the_place_freed_within_the_wait() {
        let gate = std::sync::Arc::new(Gate::new(1, Duration::from_secs(5)));
        let held = gate.admit().await.unwrap();
        let g = gate.clone();
        let waiter = tokio::spawn(async move { g.admit().await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "it waits while the place is held");
        drop(held);
        waiter
            .await
            .unwrap()
            .expect("let in once the place is free");
    }

    #[tokio::test]
    async fn background_work_passes_a_full_gate() {
        let gate = Gate::new(1, Duration::ZERO);
        let _held = gate.admit().await.unwrap();
        assert!(matches!(gate.admit().await, Err(StoreError::Busy { .. })));
        let passed = crate::store::background(async { gate.admit().await.map(|p| p.is_none()) });
        assert_eq!(passed.await, Ok(true), "let past without taking a place");
        assert_eq!(gate.places.available_permits(), 0);
    }

    #[tokio::test]
    async fn waiting_commands_are_let_in_in_the_order_they_came() {
        let gate = std::sync::Arc::new(Gate::new(1, Duration::from_secs(5)));
        let held = gate.admit().await.unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for i in 0..5 {
            let (g, tx) = (gate.clone(), tx.clone());
            tokio::spawn(async move {
                let _p = g.admit().await.unwrap();
                tx.send(i).unwrap();
            });
            // Each is queued before the next one starts.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(held);
        let mut order = Vec::new();
        for _ in 0..5 {
            order.push(rx.recv().await.unwrap());
        }
        assert_eq!(order, [0, 1, 2, 3, 4]);
    }
}
