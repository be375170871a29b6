//! Golden receipts: committed receipts that this build must reproduce byte
//! for byte, that `verity verify` accepts, and whose hashes an independent
//! Python implementation of docs/receipt.md recomputes
//! (tests/receipt_hash.py).
//!
//! fixtures/receipts covers every status, the fuel edges (exactly enough
//! fuel, one unit short) and recursion at and one call past the stack limit,
//! each reproduced by both compilers.
//!
//! After an intended change of the receipt format or the profile, rewrite
//! them with `VERITY_BLESS=1 cargo test --release --test all golden`.

use std::path::PathBuf;
use std::process::Command;

use crate::common::{fixture, root, verity};
use verity_host_abi::json::ReceiptJson;

/// (name, module, arguments after the module)
const GOLDEN: &[(&str, &str, &[&str])] = &[
    (
        "counter_increment",
        "counter.wat",
        &["--entry", "increment"],
    ),
    (
        "kitchen_sink_run",
        "kitchen_sink.wat",
        &[
            "--entry",
            "run",
            "--input",
            "68656c6c6f",
            "--sender",
            "616c696365",
            "--context",
            "2a",
        ],
    ),
    (
        "kitchen_sink_fail",
        "kitchen_sink.wat",
        &["--entry", "fail"],
    ),
    (
        "infinite_loop",
        "hostile/infinite_loop.wat",
        &["--entry", "run", "--fuel", "100000"],
    ),
    (
        "unreachable",
        "hostile/unreachable.wat",
        &["--entry", "run"],
    ),
    (
        "memory_bomb",
        "hostile/memory_bomb.wat",
        &["--entry", "run"],
    ),
    (
        "forbidden_import",
        "hostile/forbidden_import.wat",
        &["--entry", "run"],
    ),
    (
        "bad_pointer",
        "hostile/bad_pointers.wat",
        &["--entry", "sha256_dst"],
    ),
    // Fuel at the edge: exactly enough, and one unit short.
    (
        "fuel_edge_loop_exact",
        "fuel_edge.wat",
        &["--entry", "loop1000", "--fuel", "24384"],
    ),
    (
        "fuel_edge_loop_short",
        "fuel_edge.wat",
        &["--entry", "loop1000", "--fuel", "24383"],
    ),
    (
        "fuel_edge_fill_exact",
        "fuel_edge.wat",
        &["--entry", "fill", "--fuel", "82051"],
    ),
    // Recursion at the logical stack limit and one call past it.
    (
        "deep_recursion",
        "hostile/deep_recursion.wat",
        &["--entry", "run"],
    ),
    (
        "rust_recursion_at_limit",
        "wasm/hostile.wasm",
        &["--entry", "recurse", "--arg", "depth=2182"],
    ),
    (
        "rust_recursion_over_limit",
        "wasm/hostile.wasm",
        &["--entry", "recurse", "--arg", "depth=2183"],
    ),
];

fn golden_path(name: &str) -> PathBuf {
    fixture(&format!("receipts/{name}.json"))
}

fn produce(module: &str, args: &[&str], compiler: &str) -> Vec<u8> {
    let out = verity()
        .arg("run")
        .arg(fixture(module))
        .args(args)
        .args(["--json", "--compiler", compiler])
        .output()
        .unwrap();
    assert!(out.status.code() == Some(0) || out.status.code() == Some(1));
    out.stdout
}

#[test]
fn this_build_reproduces_every_golden_receipt_with_both_compilers() {
    let bless = std::env::var_os("VERITY_BLESS").is_some();
    for (name, module, args) in GOLDEN {
        let produced = produce(module, args, "cranelift");
        assert_eq!(
            String::from_utf8_lossy(&produced),
            String::from_utf8_lossy(&produce(module, args, "winch")),
            "{name}: Cranelift and Winch disagree"
        );
        let path = golden_path(name);
        if bless {
            std::fs::write(&path, &produced).unwrap();
            continue;
        }
        let golden = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (bless with VERITY_BLESS=1)", path.display()));
        assert_eq!(
            String::from_utf8_lossy(&produced),
            String::from_utf8_lossy(&golden),
            "{name}: receipt differs from the committed golden receipt"
        );
    }
}

#[test]
fn golden_receipts_verify() {
    for (name, module, _) in GOLDEN {
        let out = verity()
            .arg("verify")
            .arg(golden_path(name))
            .arg("--module")
            .arg(fixture(module))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

fn python(args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(root().join("tests/receipt_hash.py"))
        .args(args)
        .output()
        .expect("python3 is needed for the independent receipt check");
    assert!(
        out.status.success(),
        "receipt_hash.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn an_independent_python_implementation_agrees_on_encoding_and_hash() {
    let mut statuses = std::collections::BTreeSet::new();
    for (name, _, _) in GOLDEN {
        let path = golden_path(name);
        let p = path.to_str().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let json: ReceiptJson = serde_json::from_str(&text).unwrap();
        statuses.insert(json.status.clone());
        let (receipt, stated) = json.into_receipt().unwrap();
        assert_eq!(python(&[p]), stated.to_hex(), "{name}: hash");
        assert_eq!(
            python(&[p, "--encoding"]),
            hex::encode(receipt.encode()),
            "{name}: encoding"
        );
    }
    assert_eq!(
        statuses.len(),
        5,
        "golden receipts must cover every status: {statuses:?}"
    );
}

#[test]
fn the_python_check_fails_on_a_tampered_receipt() {
    let text = std::fs::read_to_string(golden_path("kitchen_sink_run")).unwrap();
    let tampered = text.replacen("\"fuel_used\": ", "\"fuel_used\": 1", 1);
    assert_ne!(tampered, text);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.json");
    std::fs::write(&path, tampered).unwrap();
    let status = Command::new("python3")
        .arg(root().join("tests/receipt_hash.py"))
        .arg(&path)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
}
