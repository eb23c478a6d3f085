//! Tsunagu: anonymous chat counselling in front of a support centre.
//!
//! A visitor opens a socket, waits in a fair queue that tells them where
//! they stand, is matched to a counsellor with a free place, and the two
//! chat without losing a word when either connection drops.
//!
//! Layout (data flows down; nothing below imports anything above):
//! - `main.rs`, `startup`: configuration in, server out; background tasks.
//! - `ws` (visitor, counsellor sockets), `http` (login, accounts, health):
//!   edges that translate the wire into service calls; `channels::line`
//!   (the LINE webhook and Messaging API) is one more such edge.
//! - `protocol`: every wire message and the error-code table.
//! - `service`: the use cases every edge goes through.
//! - `hub`: the sockets on this node and delivery to them.
//! - `store`: the store trait and its backends.
//! - `core`: pure rules (queue order, matching, state machine, estimate).
//! - `config`, `auth`, `limits`, `metrics`, `telemetry`: settings,
//!   secrets, rate limits, Prometheus metrics, logs.

pub mod app;
pub mod auth;
pub mod channels;
pub mod clock;
pub mod config;
pub mod core;
pub mod http;
pub mod hub;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod protocol;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod ws;
