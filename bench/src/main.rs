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

#![forbid(unsafe_code)]

mod args;
mod baseline;
mod client;
mod load;
mod redirect;
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
