//! Black-box tests of the delivery engine (issue 3): real receivers on 127.0.0.1, a short retry
//! schedule, and a crash test against the real binary. One binary, one module per area.

#[path = "../shared/mod.rs"]
mod shared;

mod crash;
mod destinations;
mod guard;
mod integrations;
mod support;
mod webhooks;
