//! `verity inspect`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use serde_json::json;
use verity_runtime::{Hash32, contract_spec};

use super::Outcome;
use super::inputs::read_module;

#[derive(Args)]
pub struct InspectArgs {
    /// The module: a .wasm binary or a .wat text file.
    module: PathBuf,
    /// Print one JSON document.
    #[arg(long)]
    json: bool,
}

/// Prints the contract spec (entry points, argument names and types, return
/// types). Exit 1 if the module carries none or it is malformed.
pub fn inspect(args: InspectArgs) -> Result<Outcome> {
    let code = read_module(&args.module)?;
    let code_hash = Hash32::of(&code);
    let spec = match contract_spec(&code) {
        Ok(Some(spec)) => spec,
        Ok(None) => {
            outln!(
                "{}: no verity.spec section (the module was not built with verity-sdk's #[contract])",
                args.module.display()
            );
            return Ok(Outcome::Failed);
        }
        Err(e) => {
            outln!("{}: {e}", args.module.display());
            return Ok(Outcome::Failed);
        }
    };
    if args.json {
        let entries: Vec<_> = spec
            .entries
            .iter()
            .map(|e| {
                json!({
                    "name": e.name,
                    "args": e.args.iter().map(|a| json!({"name": a.name, "type": a.ty.to_string()})).collect::<Vec<_>>(),
                    "returns": e.returns.to_string(),
                    "fallible": e.fallible,
                    "signature": e.signature(),
                })
            })
            .collect();
        let doc = json!({"code_hash": code_hash.to_hex(), "entries": entries});
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        outln!("code     {code_hash}");
        for e in &spec.entries {
            outln!("entry    {}", e.signature());
        }
    }
    Ok(Outcome::Ok)
}
