//! Server.
#![forbid(unsafe_code)]
