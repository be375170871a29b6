//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use verity_runtime::{Profile, Runtime};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture's path.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

/// A fixture module's wasm bytes (.wat compiled, .wasm as it is).
pub fn module(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "wat") {
        verity_runtime::module_bytes(&bytes).unwrap()
    } else {
        bytes
    }
}

/// A runtime with the default profile.
pub fn runtime() -> Runtime {
    Runtime::new(Profile::default()).unwrap()
}

/// The `verity` binary built for these tests, with its artifact cache in
/// the build directory (not the user's home).
pub fn verity() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_verity"));
    command.env("VERITY_CACHE_DIR", cache_dir());
    command
}

/// What a one-shot run or a deploy of `code` pays to prepare it, from the
/// rule in docs/costs.md (instrumenting, not compiling: a compile here
/// would inflate the peak memory the CLI tests measure of their children).
pub fn preparation_fuel(code: &[u8]) -> u64 {
    let profile = Profile::default();
    let instrumented = verity_runtime::instrument::instrument(code, &profile).unwrap();
    profile
        .costs
        .wasm_prepare
        .total(instrumented.code.len() as u64)
}

/// What a frame running `code` as a stored contract pays to load it
/// (`wasm_load`, docs/costs.md), by the same rule.
pub fn load_fuel(code: &[u8]) -> u64 {
    let profile = Profile::default();
    let instrumented = verity_runtime::instrument::instrument(code, &profile).unwrap();
    profile
        .costs
        .wasm_load
        .total(instrumented.code.len() as u64)
}

/// The artifact cache the tests' `verity` processes share.
pub fn cache_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("verity-artifacts")
}

/// The state key of storage key `key` of the one-shot contract of the
/// fixture module `rel` (what `verity run` runs it as).
pub fn one_shot_key(rel: &str, key: &[u8]) -> Vec<u8> {
    let code = module(&fixture(rel));
    let me = verity_runtime::ContractId::one_shot(&verity_runtime::Hash32::of(&code));
    verity_runtime::abi::contract::storage_key(&me, key)
}

/// Runs the CLI with `args`; fails the test if it panicked or printed
/// Rust's backtrace hint.
pub fn run_cli(args: &[&str]) -> Output {
    let out = verity().args(args).output().expect("spawn verity");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "verity panicked: {stderr}");
    assert!(
        !stderr.contains("RUST_BACKTRACE"),
        "backtrace hint reached the user: {stderr}"
    );
    out
}

/// The exit code of a finished CLI run.
pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

/// The run's standard output as one JSON document.
pub fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// `p` as a `&str` (the tests' paths are UTF-8).
pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The module `wat` with `spec` as its `verity.spec` custom section.
pub fn with_spec(wat: &str, spec: &verity_runtime::abi::spec::ContractSpec) -> Vec<u8> {
    let mut module = wat::parse_str(wat).unwrap();
    let section = spec.encode();
    let name = b"verity.spec";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(&section);
    module.push(0);
    let mut n = payload.len();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        module.push(if n == 0 { byte } else { byte | 0x80 });
        if n == 0 {
            break;
        }
    }
    module.extend_from_slice(&payload);
    module
}
