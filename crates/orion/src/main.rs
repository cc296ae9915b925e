//! `orion`: the one binary. Serve, migrate, manage users and groups, issue
//! tokens, and script tickets. Exit codes: 0 done, 1 failed, 2 usage (clap); `mail-ingest`
//! also 75 (try again).

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    cli::init_logging(&cli.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => cli::output::report_failure(&e),
    }
}
