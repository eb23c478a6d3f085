//! Integration tests: the real server, real sockets, real HTTP.
//! One binary (faster to link) with a module per area.

mod helpers;

mod conversation;
mod redis_failures;
mod store_conformance;
