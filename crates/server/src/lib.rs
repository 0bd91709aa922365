//! The linkwire service: HTTP API (native and Nimriz-compatible), the redirect path with click capture,
//! and the `linkwire` CLI. The only crate that imports axum. SQL lives in `linkwire-store`, wire types in
//! `linkwire-contract`; this crate wires them together and must not redefine either.
#![forbid(unsafe_code)]

pub mod admin;
pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod cache;
pub mod cli;
pub mod clicks;
pub mod config;
pub mod dashboard;
pub mod dns;
pub mod error;
pub mod http;
pub mod metrics;
pub mod password;
pub mod qr;
pub mod retention;
pub mod service;
pub mod state;
pub mod telemetry;
pub mod throttle;

pub use app::{Application, Dependencies};
pub use config::Settings;
