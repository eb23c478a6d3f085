//! Channels other than the web page: each only translates its platform
//! into the same service use cases a web visitor goes through.

pub mod line;
pub mod webhook;
