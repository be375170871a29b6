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
            // What the module costs before any of its code runs
            // (docs/costs.md): a deploy stores and prepares it; every run
            // or call pays for its instance and initial pages, and each load
            // or store the price of the memory's size.
            let costs = &verity_runtime::Profile::default().costs;
            let store = costs.storage_write.total(code.len() as u64);
            let prepare = prepared.preparation_fuel(costs);
            let pages = info.initial_memory_pages;
            let per_run = costs.wasm_instance.total(pages);
            let access = costs.memory_access.price(pages);
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
                    "instrumented_bytes": prepared.instrumented_bytes(),
                    "fuel": {
                        "deploy_store": store,
                        "deploy_prepare": prepare,
                        "initial_pages": pages,
                        "per_run_instance": per_run,
                        "access_price": access,
                    },
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
                outln!(
                    "  fuel: a deploy pays {} ({store} to store {} bytes, {prepare} to prepare {} instrumented bytes); every run or call pays {per_run} for its instance and {pages} initial pages, and {access} per load or store at that size",
                    store + prepare,
                    code.len(),
                    prepared.instrumented_bytes(),
                );
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
