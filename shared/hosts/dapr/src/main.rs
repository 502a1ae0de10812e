//! `conveyor-worker`: the production Dapr worker, the one binary the worker image holds. It runs
//! one service's functions behind its sidecar; nothing of the local emulator (dashboard, bench,
//! generators, test code) is linked in.

use std::process::ExitCode;

use clap::Parser;
use conveyor_dapr::cli::args::WorkerArgs;

// One allocation per delivered event crosses the runtime's worker threads; mimalloc's
// per-thread heaps keep them off a shared lock.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `conveyor-worker`.
#[derive(Debug, Parser)]
#[command(
    name = "conveyor-worker",
    version,
    about = "The conveyor worker behind a Dapr sidecar"
)]
struct Cli {
    #[command(flatten)]
    args: WorkerArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match conveyor_dapr::cli::run::run(&cli.args, conveyor_catalog::all()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
