//! The pure core: queue order, matching, the conversation state machine,
//! the wait estimate, risk triage and opening hours. No I/O, no clocks, no async: every function takes what
//! it needs (including "now") as arguments, so each rule is tested here
//! exhaustively and the stores and sockets only carry it out.
//!
//! Must never import actix, tokio or redis.

pub mod canned;
pub mod case_retention;
pub mod conversation;
pub mod estimate;
pub mod floor;
pub mod handoff;
pub mod hearing;
pub mod hours;
pub mod ids;
pub mod letters;
pub mod matching;
pub mod partners;
pub mod prechat;
pub mod queue;
pub mod relay;
pub mod return_code;
pub mod second_factor;
pub mod stats;
pub mod triage;
pub mod typed_code;
pub mod way_back;
