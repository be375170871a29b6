//! Reading what the user hands the CLI: modules, byte arguments, receipts.

use std::path::Path;

use anyhow::{Context, Result};
use verity_runtime::abi::json::ReceiptJson;
use verity_runtime::{Hash32, Receipt};

/// Reads a module. A `.wat` file is compiled from text (a syntax error is a
/// usage error); any other file is taken as a wasm binary as it is, so that
/// a corrupt binary reaches the runtime and gets a `rejected` receipt.
pub fn read_module(path: &Path) -> Result<Vec<u8>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read module {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "wat") {
        return verity_runtime::module_bytes(&bytes).map_err(|e| {
            // wat's message spans several lines (a source snippet); keep the
            // message and the location.
            let text = e.to_string();
            let mut lines = text.lines();
            let message = lines.next().unwrap_or("syntax error").trim();
            let at = lines
                .find_map(|l| l.trim().strip_prefix("--> "))
                .map_or_else(String::new, |loc| loc.replace("<anon>:", "at "));
            anyhow::anyhow!(
                "{} is not valid WebAssembly text: {message} ({at})",
                path.display()
            )
        });
    }
    Ok(bytes)
}

/// Parses a byte argument: hex digits, or `@FILE` for a file's raw bytes.
pub fn parse_bytes_arg(flag: &str, value: &str) -> Result<Vec<u8>> {
    if let Some(file) = value.strip_prefix('@') {
        return std::fs::read(file).with_context(|| format!("{flag}: cannot read {file}"));
    }
    let digits = value.strip_prefix("0x").unwrap_or(value);
    hex::decode(digits).with_context(|| format!("{flag}: `{value}` is not hex (or @FILE)"))
}

/// A receipt file, as read: the receipt, and the hash the file states if it
/// is JSON (a binary receipt states none).
pub struct ReceiptFile {
    /// The receipt's fields.
    pub receipt: Receipt,
    /// The `receipt_hash` a JSON file states, to be checked against the
    /// fields' own hash.
    pub stated_hash: Option<Hash32>,
    /// Whether the JSON carried a `decoded` member (what `--json` output
    /// adds), which is not part of the receipt and was not read.
    pub ignored_decoded: bool,
    /// It had a `fuel_profile` member, which was dropped.
    pub ignored_fuel_profile: bool,
}

/// Why a receipt file's content is not a receipt (as opposed to an I/O error).
pub struct BadReceipt(pub String);

/// Reads a receipt: JSON (as `verity run --json` prints it) or the canonical
/// binary encoding. I/O errors are `Err`; content that is not a receipt is
/// `Ok(Err(BadReceipt))`, which `verify` reports as a failed verification.
pub fn read_receipt(path: &Path) -> Result<std::result::Result<ReceiptFile, BadReceipt>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read receipt {}", path.display()))?;
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        // `verity run --json` adds a `decoded` member (what the contract
        // spec makes of the output and events): not part of the receipt.
        // A member named twice, at any depth, is refused.
        // So is the `fuel_profile` member of `--debug --json`.
        let (mut ignored_decoded, mut ignored_fuel_profile) = (false, false);
        let parsed = super::strict_json::parse(&bytes).and_then(|mut v| {
            if let Some(m) = v.as_object_mut() {
                ignored_decoded = m.remove("decoded").is_some();
                ignored_fuel_profile = m.remove("fuel_profile").is_some();
            }
            serde_json::from_value::<ReceiptJson>(v)
        });
        let json: ReceiptJson = match parsed {
            Ok(j) => j,
            Err(e) => {
                return Ok(Err(BadReceipt(format!(
                    "receipt is not valid receipt JSON: {e}"
                ))));
            }
        };
        return Ok(match json.into_receipt() {
            Ok((receipt, stated)) => Ok(ReceiptFile {
                receipt,
                stated_hash: Some(stated),
                ignored_decoded,
                ignored_fuel_profile,
            }),
            Err(e) => Err(BadReceipt(format!("receipt JSON is not a receipt: {e}"))),
        });
    }
    if bytes.is_empty() {
        return Ok(Err(BadReceipt("receipt file is empty".into())));
    }
    Ok(Receipt::decode(&bytes)
        .map(|receipt| ReceiptFile {
            receipt,
            stated_hash: None,
            ignored_decoded: false,
            ignored_fuel_profile: false,
        })
        .map_err(|e| BadReceipt(format!("receipt is not a canonical binary receipt: {e}"))))
}
