//! `verity verify`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;
use verity_runtime::{FieldMismatch, VerifyError};

use super::Outcome;
use super::args::Decoded;
use super::inputs::{read_module, read_receipt};
use super::print::terminal_safe;

#[derive(Args)]
pub struct VerifyArgs {
    /// The receipt: JSON as `verity run --json` prints it, or canonical binary.
    receipt: PathBuf,
    /// The module the receipt claims to have run (.wasm or .wat). Not needed
    /// for a deploy (its code is in its write set). With it, a verified
    /// receipt's output, typed error and declared events also print decoded
    /// by the module's contract spec. Repeat it to give the code of every
    /// contract the transaction called: each is found by its hash.
    #[arg(long)]
    module: Vec<PathBuf>,
    /// The receipt's witness (`verity run --witness`): with it, every read is
    /// checked against the pre-state root and the post-state root is
    /// recomputed from the writes. Without it the state is not
    /// authenticated, and the output says so.
    #[arg(long, value_name = "FILE")]
    witness: Option<PathBuf>,
    /// Print the result as one JSON document.
    #[arg(long)]
    json: bool,
    /// Which wasmtime compiler to use. Receipts do not depend on it: the
    /// choice exists so anyone can check that.
    #[arg(long, value_enum, default_value = "cranelift")]
    compiler: super::CompilerArg,
}

pub fn verify(args: VerifyArgs) -> Result<Outcome> {
    let file = read_receipt(&args.receipt)?;
    let modules = args
        .module
        .iter()
        .map(|path| read_module(path))
        .collect::<Result<Vec<_>>>()?;
    let witness = match &args.witness {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("cannot read witness {}", path.display()))?,
        ),
        None => None,
    };
    let mut authenticated = false;
    let mut mismatches: Vec<FieldMismatch> = Vec::new();
    let mut error: Option<String> = None;
    let mut receipt_hash = None;
    let mut decoded = None;
    match file {
        Err(bad) => error = Some(bad.0),
        Ok(file) => {
            if file.ignored_decoded {
                eprintln!(
                    "note: the receipt's `decoded` member (what a contract spec made of it when it was printed) is not part of the receipt: it was ignored, not checked"
                );
            }
            if file.ignored_fuel_profile {
                eprintln!(
                    "note: the receipt's `fuel_profile` member (where its fuel went, as --debug printed it) is not part of the receipt: it was ignored, not checked"
                );
            }
            let computed = file.receipt.hash();
            receipt_hash = Some(computed.to_hex());
            if let Some(stated) = file.stated_hash.filter(|s| *s != computed) {
                mismatches.push(FieldMismatch {
                    field: "receipt_hash",
                    claimed: stated.to_hex(),
                    actual: format!("{} (the hash of the receipt's fields)", computed.to_hex()),
                });
            }
            let runtime = super::one_shot_runtime(args.compiler)?;
            // The receipt's own module is the one with its code hash (or,
            // if none has it, the first, which then fails as the wrong
            // code); every module given serves as a callee's code.
            let own = modules
                .iter()
                .find(|m| verity_runtime::Hash32::of(m) == file.receipt.code_hash);
            let code = own.or(modules.first()).map(Vec::as_slice);
            let callees: Vec<&[u8]> = modules.iter().map(Vec::as_slice).collect();
            match runtime.verify_tree(&file.receipt, code, &callees, witness.as_deref()) {
                Ok(checked) => authenticated = checked.state_authenticated,
                Err(VerifyError::Mismatch(m)) => mismatches.extend(m),
                Err(VerifyError::Runtime(e)) => return Err(e.into()),
                Err(e) => error = Some(e.to_string()),
            }
            // What the module's spec makes of a reproduced receipt's output,
            // typed error and events (the module is the receipt's code now).
            if let Some(Ok(Some(spec))) = own.map(|c| verity_runtime::contract_spec(c)) {
                decoded = Some(Decoded::new(
                    &spec,
                    spec.entry(&file.receipt.entry),
                    &file.receipt,
                ));
            }
        }
    }
    let verified = error.is_none() && mismatches.is_empty();
    let decoded = decoded.filter(|_| verified);
    if args.json {
        let mut doc = json!({
            "verified": verified,
            "state_authenticated": verified && authenticated,
            "receipt_hash": receipt_hash,
            "error": error,
            "mismatches": mismatches.iter().map(|m| json!({
                "field": m.field, "claimed": m.claimed, "actual": m.actual,
            })).collect::<Vec<_>>(),
        });
        if let (Some(d), Some(m)) = (&decoded, doc.as_object_mut()) {
            m.insert("decoded".into(), d.json());
        }
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else if verified {
        outln!(
            "verified: receipt {} reproduces byte for byte",
            receipt_hash.unwrap_or_default()
        );
        if authenticated {
            outln!(
                "state: authenticated: every read holds in the pre-state root and the writes lead to the post-state root"
            );
        } else {
            outln!(
                "state: NOT authenticated: no --witness given, so the read set and the roots were taken on trust"
            );
        }
        if let Some(d) = &decoded {
            out!("{}", d.human());
        }
    } else {
        outln!("NOT VERIFIED");
        if let Some(e) = &error {
            outln!("  {}", terminal_safe(e));
        }
        for m in &mismatches {
            outln!("  {}", terminal_safe(&m.to_string()));
        }
    }
    Ok(if verified {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}
