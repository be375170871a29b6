//! `verity check`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use serde_json::json;

use super::Outcome;
use super::inputs::read_module;

#[derive(Args)]
pub struct CheckArgs {
    /// The module: a .wasm binary or a .wat text file.
    module: PathBuf,
    /// Also check that this export is a valid entry point.
    #[arg(long)]
    entry: Option<String>,
    /// Print the result as one JSON document.
    #[arg(long)]
    json: bool,
}

pub fn check(args: CheckArgs) -> Result<Outcome> {
    let code = read_module(&args.module)?;
    let runtime = super::one_shot_runtime(super::CompilerArg::Cranelift)?;
    let result = runtime.prepare(&code).and_then(|p| {
        if let Some(entry) = &args.entry {
            p.info().check_entry(entry)?;
        }
        Ok(p)
    });
    let code_hash = verity_runtime::Hash32::of(&code).to_hex();
    match result {
        Ok(prepared) => {
            let info = prepared.info();
            if args.json {
                let doc = json!({
                    "accepted": true,
                    "code_hash": code_hash,
                    "exports": info
                        .exported_functions
                        .iter()
                        .map(|(name, sig)| (name.clone(), sig.to_string()))
                        .collect::<std::collections::BTreeMap<_, _>>(),
                    "host_imports": info.host_imports,
                });
                outln!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                outln!("accepted  {code_hash}");
                for (name, sig) in &info.exported_functions {
                    let mark = if sig.is_entry() { "entry" } else { "     " };
                    outln!("  {mark} {name}: {sig}");
                }
                if !info.host_imports.is_empty() {
                    outln!("  imports: {}", info.host_imports.join(", "));
                }
            }
            Ok(Outcome::Ok)
        }
        Err(rejection) => {
            if args.json {
                let doc = json!({
                    "accepted": false,
                    "code_hash": code_hash,
                    "reason": rejection.to_string(),
                });
                outln!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                outln!("rejected: {rejection}");
            }
            Ok(Outcome::Failed)
        }
    }
}
