//! Integration tests: the real server, real sockets, real HTTP.
//! One binary (faster to link) with a module per area.

mod helpers;
// The AsyncAPI/OpenAPI contract; `helpers::Ws` checks every frame with it.
mod contract;

mod abuse;
mod account_wait;
mod at_rest;
mod auth;
mod bad_input;
mod canned;
mod caps;
mod case_retention;
mod cluster;
mod console_details;
mod conversation;
mod durability;
mod failover;
mod floor_alert;
mod forget;
mod grace;
mod greeting;
mod handoff;
mod hearing;
mod letters;
mod line;
mod line_flood;
mod line_handoff;
mod line_lock;
mod load;
mod login_guard;
mod logout;
mod metrics;
mod multi_node;
mod partners;
mod pin_guard;
mod pipelining;
mod privacy;
mod quick_exit;
mod redis_failures;
mod redis_restart;
mod relays;
mod report;
mod reschedule;
mod resume;
mod retention;
mod return_code;
mod safety;
mod second_factor;
mod sentinel_auth;
mod staff_accounts;
mod way_back;
mod whisper;
// Before the modules that use its `conformance!` macro.
#[macro_use]
mod store_conformance;
mod handoff_store;
mod retention_store;
mod supervision;
mod waiting_budget;
