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
