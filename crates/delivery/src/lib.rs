//! The delivery engine: claims due deliveries, signs and sends them, classifies answers, schedules retries
//! and dead-letters (contract §4–5). Also the outbound address guard and the encryption of signing secrets.
//!
//! Fan-out itself happens in `linkwire-store`, in the transaction that writes each event. This crate holds
//! no SQL and no HTTP server types.
#![forbid(unsafe_code)]

pub mod engine;
pub mod guard;
pub mod secrets;
pub mod sender;
pub mod templates;

pub use engine::{AttemptObserver, AttemptReport, Engine, EngineConfig, EngineHandle};
pub use secrets::SecretBox;
pub use sender::{Sender, SenderConfig};
