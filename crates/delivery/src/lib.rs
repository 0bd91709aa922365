//! Delivery engine.
#![forbid(unsafe_code)]
