//! Raw hit to click facts.
#![forbid(unsafe_code)]
