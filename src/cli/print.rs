//! Printing receipts for people and for tools.

use std::fmt::Write as _;

use verity_runtime::abi::json::ReceiptJson;
use verity_runtime::{Action, Receipt, Status};

/// The receipt as one pretty-printed JSON document, fields in the order of
/// docs/receipt.md, ending in a newline.
pub fn receipt_json(receipt: &Receipt) -> String {
    let json = serde_json::to_string_pretty(&ReceiptJson::from(receipt))
        .expect("receipt JSON is always serializable");
    json + "\n"
}

/// `text` as a terminal may show it: every control character (newlines
/// and escape sequences included) and every invisible or direction-changing
/// format character written as `\u{..}`, so that text a guest or a module
/// chose (an abort message, a log line, a spec's names and docs) cannot
/// redraw the lines around it, move the cursor or set the window title.
pub fn terminal_safe(text: &str) -> String {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
    };
    if !text.chars().any(unsafe_char) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
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
        let _ = writeln!(s, "{k:<10}{}", terminal_safe(&v));
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
    // A failed deploy created nothing: its address (perhaps another
    // contract's) must not read as the contract deployed.
    if matches!(r.action, Action::Deploy { .. }) && !r.status.is_success() {
        line("contract", "none: nothing was deployed".to_string());
    } else {
        line("contract", r.contract.to_string());
    }
    line("entry", r.entry.clone());
    line("code", r.code_hash.to_hex());
    line("profile", r.profile_hash.to_hex());
    line("fuel", format!("{} used of {}", r.fuel_used, r.fuel_limit));
    line("pre-root", r.pre_state_root.to_hex());
    line("post-root", r.post_state_root.to_hex());
    line("sender", show_bytes(&r.sender));
    line("auth", verity_runtime::abi::auth::describe(&r.auth));
    if let Some(hash) = r.tx_hash() {
        line("tx hash", hash.to_hex());
    }
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
    line("calls", r.calls.len().to_string());
    for c in &r.calls {
        // Indented by depth: the call tree as it ran.
        line(
            "",
            format!(
                "{}{} -> {} {} {}, fuel {}",
                "  ".repeat(c.depth.saturating_sub(1) as usize),
                c.caller,
                c.callee,
                c.entry,
                c.status,
                c.fuel_used
            ),
        );
    }
    line("events", r.events.len().to_string());
    for e in &r.events {
        line(
            "",
            format!(
                "{} {}: {}",
                e.contract,
                show_bytes(&e.topic),
                show_bytes(&e.data)
            ),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::{show_bytes, terminal_safe};

    #[test]
    fn control_and_direction_characters_are_escaped() {
        assert_eq!(terminal_safe("plain text é"), "plain text é");
        assert_eq!(
            terminal_safe("x\nstatus    success\u{1b}]0;title\u{7}"),
            "x\\u{a}status    success\\u{1b}]0;title\\u{7}"
        );
        assert_eq!(terminal_safe("a\u{202e}b\u{9b}c"), "a\\u{202e}b\\u{9b}c");
    }

    #[test]
    fn long_values_show_their_head_and_length() {
        assert_eq!(show_bytes(b"count"), "636f756e74 \"count\"");
        let module = vec![0xab; 8_000];
        let shown = show_bytes(&module);
        assert_eq!(shown, format!("{}… (8000 bytes)", "ab".repeat(32)));
        assert_eq!(show_bytes(&[1; 96]).len(), 192, "up to the limit in full");
    }
}
