//! `verity receipt show`: a receipt file read back in the form `run`
//! prints it, without re-executing it (that is `verify`).

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

use super::Outcome;
use super::args::Decoded;
use super::inputs::{read_module, read_receipt};
use super::print::{receipt_human, receipt_json};

#[derive(Args)]
pub struct ReceiptArgs {
    #[command(subcommand)]
    command: ReceiptCommand,
}

#[derive(Subcommand)]
enum ReceiptCommand {
    /// Print a receipt file (JSON or binary) as `run` prints a receipt,
    /// decoded by its module's spec when `--module` gives the module it
    /// ran. Nothing is re-executed: `verity verify` checks it.
    Show {
        /// The receipt file.
        receipt: PathBuf,
        /// The module the receipt ran (its hash must be the receipt's code
        /// hash), to decode the output, typed error and events.
        #[arg(long, value_name = "MODULE")]
        module: Option<PathBuf>,
        /// Print the receipt as one JSON document.
        #[arg(long)]
        json: bool,
    },
}

pub fn receipt(args: ReceiptArgs) -> Result<Outcome> {
    let ReceiptCommand::Show {
        receipt,
        module,
        json,
    } = args.command;
    let file = match read_receipt(&receipt)? {
        Ok(file) => file,
        Err(bad) => bail!("{}: {}", receipt.display(), bad.0),
    };
    let r = &file.receipt;
    if let Some(stated) = file.stated_hash.filter(|s| *s != r.hash()) {
        bail!(
            "{}: its receipt_hash {stated} is not the hash of its fields ({}): the file was edited",
            receipt.display(),
            r.hash()
        );
    }
    let spec = match &module {
        None => None,
        Some(path) => {
            let code = read_module(path)?;
            let hash = verity_runtime::Hash32::of(&code);
            if hash != r.code_hash {
                bail!(
                    "{}'s hash is {hash}, and the receipt ran the code {}",
                    path.display(),
                    r.code_hash
                );
            }
            verity_runtime::contract_spec(&code).map_err(|e| anyhow::anyhow!("{e}"))?
        }
    };
    let decoded = spec.as_ref().map(|s| Decoded::new(s, s.entry(&r.entry), r));
    if json {
        let mut doc: serde_json::Value = serde_json::from_str(&receipt_json(r))?;
        if let (Some(d), Some(m)) = (&decoded, doc.as_object_mut()) {
            m.insert("decoded".into(), d.json());
        }
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        out!("{}", receipt_human(r));
        if let Some(d) = &decoded {
            out!("{}", d.human());
        }
    }
    eprintln!("verity: shown, not verified: `verity verify` re-executes it");
    Ok(Outcome::Ok)
}
