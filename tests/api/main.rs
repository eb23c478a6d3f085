//! Integration tests: the real server, real sockets, real HTTP.
//! One binary (faster to link) with a module per area.

mod helpers;
// The AsyncAPI/OpenAPI contract; `helpers::Ws` checks every frame with it.
mod contract;

mod abuse;
mod at_rest;
mod auth;
mod bad_input;
mod caps;
mod cluster;
mod conversation;
mod durability;
mod forget;
mod grace;
mod greeting;
mod handoff;
mod line;
mod line_flood;
mod line_handoff;
mod line_lock;
mod load;
mod login_guard;
mod logout;
mod metrics;
mod multi_node;
mod pin_guard;
mod pipelining;
mod privacy;
mod quick_exit;
mod redis_failures;
mod redis_restart;
mod report;
mod reschedule;
mod resume;
mod retention;
mod safety;
mod way_back;
// Before the modules that use its `conformance!` macro.
#[macro_use]
mod store_conformance;
mod handoff_store;
mod retention_store;
mod supervision;
mod waiting_budget;
