//! Sign and verify webhook deliveries.
#![forbid(unsafe_code)]
