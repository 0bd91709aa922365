//! Benchmark harness for linkwire, run as `cargo run --release -p linkwire-bench -- <benchmark> [options]`.
//!
//! `redirect` measures what click capture costs on the redirect path. It drives two targets with the
//! same in-process load generator (N keep-alive HTTP/1 connections, each looping `GET /bench` until a
//! deadline, after a 1 s warm-up) and reports requests/s and p50/p99 latency for each:
//!
//! 1. a baseline: a minimal hyper 1 server, on its own multi-thread runtime in this process, that answers
//!    `GET /bench` with a 302 whose `Location` comes from a `HashMap`;
//! 2. the real `linkwire serve` binary, spawned as a child process on a fresh data directory, after
//!    creating the `bench` link through the API.
//!
//! It then stops linkwire with SIGTERM (which drains the click queue), opens its SQLite database
//! in-process, and checks that every 302 the generator received (warm-up included) became exactly one
//! stored click and one `link.clicked` event; a mismatch is a correctness failure and exits non-zero.
//! Last, the storage floor: the CPU that SQLite alone spends storing those clicks (copied from that run's
//! database into a fresh one, no HTTP or binding), as shipped and without secondary indexes, against the
//! CPU a click may cost if linkwire is to serve 0.7 of the baseline's rate.
//!
//! `delivery` measures the webhook path. Against one in-process receiver that answers 200 at once, it
//! compares a bare signed-POST loop (reqwest + `sign_headers`, no persistence) with the deliveries/s
//! of a fresh `linkwire serve` fanning `link.clicked` events out to 1, 10 and 100 endpoints; measures
//! event-to-delivery latency (p50/p99/max) at 500 and 5,000 events/s; then, with 100 endpoints on a dead
//! receiver, builds a backlog of 1,000,000 deliveries (10,000 clicks; `--backlog-clicks`), reports the
//! server's resident memory while they wait, and the drain rate once the receiver is back.
//!
//! `scale` runs on the local PostgreSQL (127.0.0.1:5432, user `postgres`): webhook deliveries/s to 10
//! endpoints with 1, 2 and 3 `linkwire serve` nodes sharing one fresh database (clicks spread over the
//! nodes), then the `redirect` measurement for one node on PostgreSQL against one on SQLite.

#![forbid(unsafe_code)]

mod args;
mod baseline;
mod client;
mod cpu;
mod delivery;
mod floor;
mod load;
mod receiver;
mod redirect;
mod scale;
mod server;

use std::process::ExitCode;

use args::Command;

#[tokio::main]
async fn main() -> ExitCode {
    let command = match args::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(err) => {
            eprintln!("error: {err:#}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Help => {
            println!("{}", args::USAGE);
            Ok(true)
        }
        Command::Redirect(opts) => redirect::run(&opts).await,
        Command::Delivery(opts) => delivery::run(&opts).await,
        Command::Scale(opts) => scale::run(&opts).await,
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
