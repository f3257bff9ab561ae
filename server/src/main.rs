//! `jwt-allauth`: serve the API, migrate, and administer users and sessions.

use std::process::ExitCode;

use clap::Parser;
use jwt_allauth_server::cli::Cli;
use jwt_allauth_server::{commands, error};

fn main() -> ExitCode {
    let cli = Cli::parse();
    jwt_allauth_server::init_tracing(cli.command.default_log_filter());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", error::report(&err));
            ExitCode::FAILURE
        }
    }
}
