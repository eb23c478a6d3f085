//! Integration tests: the real server, real sockets, real HTTP.
//! One binary (faster to link) with a module per area.

mod helpers;

mod conversation;
mod multi_node;
mod redis_failures;
mod store_conformance;
