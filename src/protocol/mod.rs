//! The wire protocol: every WebSocket message, one enum per direction, and
//! the one table of error codes shared by WebSocket error frames and HTTP
//! error bodies. `docs/PROTOCOL.md` documents each message with an example;
//! a change here without a change there is a bug.
//!
//! Inbound messages are parsed in two steps so that a client learns exactly
//! what was wrong: not JSON (`bad_json`), no or unknown `type`
//! (`unknown_type`), or a known type with bad fields (`invalid_message`).
//! Text fields arrive as plain strings and are validated by the service,
//! which knows the deployment's limits.

mod errors;
mod inbound;
mod outbound;
mod views;

pub use errors::*;
pub use inbound::*;
pub use outbound::*;
pub use views::*;

use serde::Serialize;

/// Bumped on an incompatible change; sent in every `welcome`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Encode an outbound message. Serialising these types cannot fail (no
/// maps with non-string keys, no custom serialisers that error).
pub fn encode<T: Serialize>(msg: &T) -> String {
    // unwrap: see above; a failure would be a bug in this module.
    serde_json::to_string(msg).unwrap()
}

#[cfg(test)]
mod tests;
