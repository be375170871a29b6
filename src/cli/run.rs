//! `verity run`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use verity_runtime::abi::spec::{EntrySpec, TypeSpec};
use verity_runtime::{DirState, MemoryState, Receipt, StateBackend, Transaction, contract_spec};

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
    /// Persistent state directory, made by `verity state init DIR`; writes
    /// are committed atomically on success. Without it the run sees an
    /// empty state.
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
    let runtime = super::one_shot_runtime(args.compiler)?;
    // The spec is read only from a module that passed validation (hostile
    // bytes get a `rejected` receipt, not a spec reader), and only as
    // metadata: a module without one (or with a broken one) still runs;
    // only `--arg` needs it. The compiled module stays in the runtime's
    // cache for the run below.
    let spec = match runtime.prepare(&code) {
        Ok(_) => contract_spec(&code).map_err(|e| anyhow::anyhow!("{e}")),
        Err(rejection) => Err(anyhow::anyhow!(
            "the module was rejected ({rejection}), so its spec is not read"
        )),
    };
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
        entry: args.entry.clone(),
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
    let receipt = runtime.execute(&code, &tx, backend)?;

    // Everything is delivered before anything is committed: the receipt
    // file (under a temporary name), then standard output. The commit is
    // the last step that can fail with nothing done; exit 2 therefore
    // always means "not committed", and a caller may safely retry.
    let json = receipt_json(&receipt);
    let staged = match &args.receipt {
        Some(out) => Some(stage(out, &json)?),
        None => None,
    };
    let delivered =
        print(&args, entry_spec, &receipt, &json).and_then(|()| match dir_state.as_mut() {
            Some(dir) if receipt.status.is_success() => Ok(dir.commit(&receipt.writes)?),
            _ => Ok(()),
        });
    if let Err(e) = delivered {
        if let Some(tmp) = &staged {
            let _ = std::fs::remove_file(tmp);
        }
        return Err(e);
    }
    if let (Some(tmp), Some(out)) = (&staged, &args.receipt) {
        std::fs::rename(tmp, out).map_err(|e| {
            let why = format!(
                "its receipt could not be moved to {}: {e} (it is at {})",
                out.display(),
                tmp.display()
            );
            if dir_state.is_some() && receipt.status.is_success() {
                anyhow::Error::new(super::AfterCommit(why))
            } else {
                anyhow::anyhow!(why)
            }
        })?;
    }
    Ok(if receipt.status.is_success() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

/// Writes the receipt beside `out` under a temporary name, to be renamed
/// over `out` once the transaction is committed.
fn stage(out: &Path, json: &str) -> Result<PathBuf> {
    let name = out
        .file_name()
        .with_context(|| format!("--receipt {}: not a file name", out.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".verity-tmp");
    let tmp = out.with_file_name(tmp_name);
    std::fs::write(&tmp, json)
        .with_context(|| format!("cannot write receipt to {}", out.display()))?;
    Ok(tmp)
}

/// The receipt on standard output, human-readable or JSON.
fn print(
    args: &RunArgs,
    entry_spec: Option<EntrySpec>,
    receipt: &Receipt,
    json: &str,
) -> Result<()> {
    if args.json {
        out!("{json}");
    } else {
        out!("{}", receipt_human(receipt));
        let decoded = entry_spec
            .filter(|e| receipt.status.is_success() && e.returns != TypeSpec::Unit)
            .and_then(|e| decode_output(&e, &receipt.output).map(|v| (e.returns.to_string(), v)));
        if let Some((ty, value)) = decoded {
            outln!("returns  {value} ({ty})");
        }
    }
    Ok(())
}
