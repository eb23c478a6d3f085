//! What every request handler and socket receives: the shared state of one
//! node. Built once by `startup`; the edges (`http`, `ws`, `channels`) take
//! it and reach the store only through `service`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::config::Settings;
use crate::hub::Hub;
use crate::limits::RateLimits;
use crate::service::Service;

/// What every request handler and socket can reach.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub service: Arc<Service>,
    pub hub: Arc<Hub>,
    pub limits: RateLimits,
    pub store_kind: &'static str,
    draining: AtomicBool,
}

impl AppState {
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// From now on, refuse new sockets and tell open ones to reconnect.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }
}

impl AppState {
    pub fn new(
        settings: Arc<Settings>,
        service: Arc<Service>,
        hub: Arc<Hub>,
        store_kind: &'static str,
    ) -> Self {
        Self {
            limits: RateLimits::new(&settings.limits),
            settings,
            service,
            hub,
            store_kind,
            draining: AtomicBool::new(false),
        }
    }
}
