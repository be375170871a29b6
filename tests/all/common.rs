//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};

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

/// The `verity` binary built for these tests.
pub fn verity() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_verity"))
}

/// The state key of storage key `key` of the one-shot contract of the
/// fixture module `rel` (what `verity run` runs it as).
pub fn one_shot_key(rel: &str, key: &[u8]) -> Vec<u8> {
    let code = module(&fixture(rel));
    let me = verity_runtime::ContractId::one_shot(&verity_runtime::Hash32::of(&code));
    verity_runtime::abi::contract::storage_key(&me, key)
}
