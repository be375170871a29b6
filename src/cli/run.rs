//! `verity run`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use verity_runtime::abi::spec::{EntrySpec, TypeSpec};
use verity_runtime::{DirState, MemoryState, StateBackend, Transaction, contract_spec};

use super::Outcome;
use super::args::{decode_output, encode_args};
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
    #[arg(
        long,
        value_name = "HEX|@FILE",
        default_value = "",
        conflicts_with = "arg"
    )]
    input: String,
    /// A typed argument of the entry, encoded using the module's contract
    /// spec (see `verity inspect`). Repeat for each argument.
    #[arg(long = "arg", value_name = "NAME=VALUE")]
    arg: Vec<String>,
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
    /// Which wasmtime compiler to use. Receipts do not depend on it: the
    /// choice exists so anyone can check that.
    #[arg(long, value_enum, default_value = "cranelift")]
    compiler: super::CompilerArg,
}

pub fn run(args: RunArgs) -> Result<Outcome> {
    let code = read_module(&args.module)?;
    // The spec is only metadata: a module without one (or with a broken one)
    // still runs; only `--arg` needs it.
    let spec = contract_spec(&code);
    let entry_spec: Option<EntrySpec> = spec
        .as_ref()
        .ok()
        .and_then(|s| s.as_ref()?.entry(&args.entry).cloned());
    let input = if args.arg.is_empty() {
        parse_bytes_arg("--input", &args.input)?
    } else {
        let spec = spec
            .with_context(|| {
                format!(
                    "--arg: cannot read the contract spec of {}",
                    args.module.display()
                )
            })?
            .with_context(|| {
                format!(
                    "--arg needs a contract spec, and {} has none (use --input)",
                    args.module.display()
                )
            })?;
        let entry = spec
            .entry(&args.entry)
            .with_context(|| format!("--arg: the contract spec has no entry `{}`", args.entry))?;
        encode_args(entry, &args.arg)?
    };
    let tx = Transaction {
        entry: args.entry,
        input,
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
    let runtime = super::one_shot_runtime(args.compiler)?;
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
        let decoded = entry_spec
            .filter(|e| receipt.status.is_success() && e.returns != TypeSpec::Unit)
            .and_then(|e| decode_output(&e, &receipt.output).map(|v| (e.returns.to_string(), v)));
        if let Some((ty, value)) = decoded {
            println!("returns  {value} ({ty})");
        }
    }
    Ok(if receipt.status.is_success() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}
