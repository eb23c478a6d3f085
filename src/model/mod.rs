//! The domain model: the records, events and enums every layer speaks of.
//!
//! Below everything but `core` (the pure rules): the wire (`protocol`), the
//! store, the service, `auth` and `config` depend on it, and it depends on
//! none of them. A new record type starts here.

mod account;
mod centre;
mod conversation;
mod event;
mod handoff;
mod line;
mod retention;
mod risk;

pub use account::*;
pub use centre::*;
pub use conversation::*;
pub use event::*;
pub use handoff::*;
pub use line::*;
pub use retention::*;
pub use risk::*;
