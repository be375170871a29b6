//! `verity state`: make and look into state directories.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use verity_runtime::DirState;

use super::Outcome;

#[derive(Args)]
pub struct StateArgs {
    #[command(subcommand)]
    command: StateCommand,
}

#[derive(Subcommand)]
enum StateCommand {
    /// Create an empty state directory for `verity run --state DIR`.
    Init {
        /// The directory (created with its parents if missing).
        dir: PathBuf,
    },
}

pub fn state(args: StateArgs) -> Result<Outcome> {
    match args.command {
        StateCommand::Init { dir } => {
            DirState::create(&dir)?;
            outln!("created an empty state at {}", dir.display());
        }
    }
    Ok(Outcome::Ok)
}
