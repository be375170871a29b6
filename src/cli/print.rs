//! Printing receipts for people and for tools.

use std::fmt::Write as _;

use verity_runtime::abi::json::ReceiptJson;
use verity_runtime::{Receipt, Status};

/// The receipt as one pretty-printed JSON document, fields in the order of
/// docs/receipt.md, ending in a newline.
pub fn receipt_json(receipt: &Receipt) -> String {
    let json = serde_json::to_string_pretty(&ReceiptJson::from(receipt))
        .expect("receipt JSON is always serializable");
    json + "\n"
}

/// Bytes longer than this are shown by their head and length (a deploy's
/// write set holds a whole module); `--json` shows everything.
const SHOW_MAX: usize = 96;

fn show_bytes(b: &[u8]) -> String {
    if b.is_empty() {
        return "(empty)".into();
    }
    if b.len() > SHOW_MAX {
        return format!("{}… ({} bytes)", hex::encode(&b[..32]), b.len());
    }
    let text = std::str::from_utf8(b)
        .ok()
        .filter(|s| s.chars().all(|c| !c.is_control()));
    match text {
        Some(t) => format!("{} \"{t}\"", hex::encode(b)),
        None => hex::encode(b),
    }
}

fn show_opt(v: Option<&[u8]>, none: &str) -> String {
    v.map_or_else(|| none.to_string(), show_bytes)
}

/// The receipt for a terminal: one field per line.
pub fn receipt_human(r: &Receipt) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: String| {
        let _ = writeln!(s, "{k:<10}{v}");
    };
    line("receipt", r.hash().to_hex());
    line("status", r.status.name().to_string());
    match &r.status {
        Status::Reverted { message } => line("message", message.clone()),
        Status::Trapped { trap } => line("trap", trap.name().to_string()),
        Status::Rejected { reason } => line("reason", reason.clone()),
        Status::Success | Status::OutOfFuel => {}
    }
    line("action", r.action.name().to_string());
    line("contract", r.contract.to_string());
    line("entry", r.entry.clone());
    line("code", r.code_hash.to_hex());
    line("profile", r.profile_hash.to_hex());
    line("fuel", format!("{} used of {}", r.fuel_used, r.fuel_limit));
    line("pre-root", r.pre_state_root.to_hex());
    line("post-root", r.post_state_root.to_hex());
    line("sender", show_bytes(&r.sender));
    line("context", show_bytes(&r.context));
    line(
        "chain",
        format!("height {} time {} id {:?}", r.height, r.time, r.chain_id),
    );
    line("input", show_bytes(&r.input));
    line("output", show_bytes(&r.output));
    line("reads", r.reads.len().to_string());
    for e in &r.reads {
        line(
            "",
            format!(
                "{} = {}",
                show_bytes(&e.key),
                show_opt(e.value.as_deref(), "(absent)")
            ),
        );
    }
    line("writes", r.writes.len().to_string());
    for e in &r.writes {
        line(
            "",
            format!(
                "{} = {}",
                show_bytes(&e.key),
                show_opt(e.value.as_deref(), "(removed)")
            ),
        );
    }
    line("events", r.events.len().to_string());
    for e in &r.events {
        line(
            "",
            format!("{}: {}", show_bytes(&e.topic), show_bytes(&e.data)),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::show_bytes;

    #[test]
    fn long_values_show_their_head_and_length() {
        assert_eq!(show_bytes(b"count"), "636f756e74 \"count\"");
        let module = vec![0xab; 8_000];
        let shown = show_bytes(&module);
        assert_eq!(shown, format!("{}… (8000 bytes)", "ab".repeat(32)));
        assert_eq!(show_bytes(&[1; 96]).len(), 192, "up to the limit in full");
    }
}
