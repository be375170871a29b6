//! `verity run`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use verity_runtime::{DirState, MemoryState, Profile, Runtime, StateBackend, Transaction};

use super::Outcome;
use super::inputs::{parse_bytes_arg, read_module};
use super::print::{receipt_human, receipt_json};

#[derive(Args)]
pub struct RunArgs {
    /// The module: a .wasm binary or a .wat text file.
    module: PathBuf,
    /// The exported `() -> ()` function to call.
    #[arg(long)]
    entry: String,
    /// Input bytes: hex, or @FILE for a file's raw bytes.
    #[arg(long, value_name = "HEX|@FILE", default_value = "")]
    input: String,
    /// Sender bytes (hex): opaque, committed in the receipt.
    #[arg(long, value_name = "HEX", default_value = "")]
    sender: String,
    /// Context blob (hex or @FILE), e.g. a block height: committed in the receipt.
    #[arg(long, value_name = "HEX|@FILE", default_value = "")]
    context: String,
    /// Fuel limit.
    #[arg(long, default_value_t = Transaction::DEFAULT_FUEL)]
    fuel: u64,
    /// Persistent state directory; writes are committed atomically on success.
    /// Without it the run sees an empty state.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Also write the receipt (JSON) to this file.
    #[arg(long, value_name = "OUT")]
    receipt: Option<PathBuf>,
    /// Print the receipt as one JSON document.
    #[arg(long)]
    json: bool,
}

pub fn run(args: RunArgs) -> Result<Outcome> {
    let code = read_module(&args.module)?;
    let tx = Transaction {
        entry: args.entry,
        input: parse_bytes_arg("--input", &args.input)?,
        sender: parse_bytes_arg("--sender", &args.sender)?,
        context: parse_bytes_arg("--context", &args.context)?,
        fuel_limit: args.fuel,
    };
    let mut dir_state = args.state.as_deref().map(DirState::open).transpose()?;
    let empty = MemoryState::default();
    let backend: &dyn StateBackend = match &dir_state {
        Some(d) => d,
        None => &empty,
    };
    let runtime = Runtime::new(Profile::default())?;
    let receipt = runtime.execute(&code, &tx, backend)?;
    if let Some(dir) = dir_state.as_mut().filter(|_| receipt.status.is_success()) {
        dir.commit(&receipt.writes)?;
    }
    let json = receipt_json(&receipt);
    if let Some(out) = &args.receipt {
        std::fs::write(out, &json)
            .with_context(|| format!("cannot write receipt to {}", out.display()))?;
    }
    if args.json {
        print!("{json}");
    } else {
        print!("{}", receipt_human(&receipt));
    }
    Ok(if receipt.status.is_success() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}
