//! The domain model: the records, events and enums every layer speaks of.
//!
//! Below everything but `core` (the pure rules): the wire (`protocol`), the
//! store, the service, `auth` and `config` depend on it, and it depends on
//! none of them. A new record type starts here.

mod account;
mod canned;
mod case;
mod centre;
mod conversation;
mod event;
mod floor;
mod handoff;
mod hearing;
mod line;
mod partner;
mod retention;
mod risk;
mod second_factor;

pub use account::*;
pub use canned::*;
pub use case::*;
pub use centre::*;
pub use conversation::*;
pub use event::*;
pub use floor::*;
pub use handoff::*;
pub use hearing::*;
pub use line::*;
pub use partner::*;
pub use retention::*;
pub use risk::*;
pub use second_factor::*;
