//! Black-box integration tests of the linkwire service: one binary, one module per area.

#[path = "../shared/mod.rs"]
mod shared;

mod bots;
mod cli;
mod common;
mod compat;
mod dashboard;
mod domains;
mod events;
mod links;
mod openapi;
mod quickstart;
mod redirect;
mod retention;
mod tenancy;
