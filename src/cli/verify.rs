//! `verity verify`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use serde_json::json;
use verity_runtime::{FieldMismatch, VerifyError};

use super::Outcome;
use super::inputs::{read_module, read_receipt};

#[derive(Args)]
pub struct VerifyArgs {
    /// The receipt: JSON as `verity run --json` prints it, or canonical binary.
    receipt: PathBuf,
    /// The module the receipt claims to have run (.wasm or .wat).
    #[arg(long)]
    module: PathBuf,
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
    let code = read_module(&args.module)?;
    let mut mismatches: Vec<FieldMismatch> = Vec::new();
    let mut error: Option<String> = None;
    let mut receipt_hash = None;
    match file {
        Err(bad) => error = Some(bad.0),
        Ok(file) => {
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
            match runtime.verify(&code, &file.receipt) {
                Ok(()) => {}
                Err(VerifyError::Mismatch(m)) => mismatches.extend(m),
                Err(VerifyError::Runtime(e)) => return Err(e.into()),
                Err(e) => error = Some(e.to_string()),
            }
        }
    }
    let verified = error.is_none() && mismatches.is_empty();
    if args.json {
        let doc = json!({
            "verified": verified,
            "receipt_hash": receipt_hash,
            "error": error,
            "mismatches": mismatches.iter().map(|m| json!({
                "field": m.field, "claimed": m.claimed, "actual": m.actual,
            })).collect::<Vec<_>>(),
        });
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else if verified {
        outln!(
            "verified: receipt {} reproduces byte for byte",
            receipt_hash.unwrap_or_default()
        );
    } else {
        outln!("NOT VERIFIED");
        if let Some(e) = &error {
            outln!("  {e}");
        }
        for m in &mismatches {
            outln!("  {m}");
        }
    }
    Ok(if verified {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}
