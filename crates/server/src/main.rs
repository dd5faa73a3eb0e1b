//! The `jwtd` binary: loads the configuration, then serves or runs an admin command.

mod cli;
mod commands;
mod config;
mod connections;
mod metrics_listener;
mod signing_key;
mod state;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, ConfigCommand, Entry};
use crate::config::{Config, LogFormat};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        Entry::Config(ConfigCommand::Check) => {
            return config::check(cli.config.as_deref());
        }
        Entry::Run(command) => command,
    };
    let (config, warnings) = match Config::load(cli.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("jwtd: {error:#}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("jwtd: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(command, config)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("jwtd: {error:#}");
            // A key setting that cannot be used is an invalid setting like any other.
            if error.is::<signing_key::InvalidKey>() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.logging.filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal: not in files, pipes or the journal.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match config.logging.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
