//! `verity new`: a contract crate from a template, ready for `verity
//! build` and `cargo test`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use clap::{Args, ValueEnum};

use super::Outcome;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Template {
    /// A counter with an event (the README's walkthrough).
    Counter,
    /// A fungible token: init, mint, transfer, balances, typed errors.
    Token,
    /// One entry point and nothing else.
    Empty,
}

#[derive(Args)]
pub struct NewArgs {
    /// The directory to make; its last component names the package.
    path: PathBuf,
    /// What the contract starts as.
    #[arg(long, value_enum, default_value = "counter")]
    template: Template,
    /// The guest SDK: a path to its crate (default: this checkout's
    /// guest-sdk), or a version on crates.io (`--sdk 0.1`).
    #[arg(long, value_name = "PATH|VERSION")]
    sdk: Option<String>,
}

/// The fixture contracts' release profile (fixtures/contracts/Cargo.toml):
/// `verity_new_and_build_take_a_user_to_a_verified_contract_from_any_path`
/// keeps them equal (the counter template builds to the fixture's bytes).
pub(crate) const RELEASE_PROFILE: &str = r#"[profile.release]
opt-level = 2
lto = true
codegen-units = 1
panic = "abort"
strip = true
debug = false
overflow-checks = true
incremental = false

[profile.release.package."*"]
overflow-checks = false
"#;

const COUNTER: &str = include_str!("../../fixtures/contracts/counter/src/lib.rs");
const TOKEN: &str = include_str!("../../fixtures/contracts/token/src/lib.rs");
const EMPTY: &str = r#"//! A contract with one entry point.
#![cfg_attr(target_arch = "wasm32", no_std)]

use verity_sdk::contract;

/// The contract: its entry points are the `pub fn`s below.
pub struct Contract;

#[contract]
impl Contract {
    /// Returns its argument plus one.
    pub fn next(n: u64) -> u64 {
        n.wrapping_add(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verity_sdk::testing::TestEnv;

    #[test]
    fn next_adds_one() {
        let mut env = TestEnv::new();
        assert_eq!(env.call::<Contract>("next", &(41u64,)).output::<u64>(), 42);
    }
}
"#;

pub fn new(args: NewArgs) -> Result<Outcome> {
    let name = args
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .context("the path must end in a name for the package")?
        .to_string();
    ensure!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && name.starts_with(|c: char| c.is_ascii_alphabetic()),
        "`{name}` is not a package name: letters, digits, - and _, starting with a letter"
    );
    if args.path.exists() {
        bail!(
            "{} already exists: choose a new directory",
            args.path.display()
        );
    }
    let sdk = match &args.sdk {
        Some(s) if s.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
            format!("verity-sdk = \"{s}\"")
        }
        Some(path) => sdk_path(Path::new(path))?,
        None => sdk_path(&Path::new(env!("CARGO_MANIFEST_DIR")).join("guest-sdk"))?,
    };
    let source = match args.template {
        Template::Counter => COUNTER,
        Template::Token => TOKEN,
        Template::Empty => EMPTY,
    };
    let manifest = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
{sdk}

{RELEASE_PROFILE}"#
    );
    let readme = format!(
        "# {name}\n\nA Verity contract (made by `verity new --template {}`).\n\n\
```sh\n\
cargo test                 # native tests, with the SDK's in-memory host\n\
verity build               # target/wasm32-unknown-unknown/release/{lib}.wasm, its code hash and costs\n\
verity state init state\n\
verity deploy target/wasm32-unknown-unknown/release/{lib}.wasm --state state\n\
```\n\n\
`verity build` builds each contract on its own, with a 64 KiB stack and\n\
paths remapped, so that the same source gives the same code hash on any\n\
machine and in any directory; plain `cargo build --release --target\n\
wasm32-unknown-unknown` uses `.cargo/config.toml` for the same stack.\n",
        match args.template {
            Template::Counter => "counter",
            Template::Token => "token",
            Template::Empty => "empty",
        },
        lib = name.replace('-', "_"),
    );
    let write = |rel: &str, text: &str| -> Result<()> {
        let path = args.path.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot make {}", dir.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    write("Cargo.toml", &manifest)?;
    write("src/lib.rs", source)?;
    write("README.md", &readme)?;
    write(
        ".cargo/config.toml",
        "[target.wasm32-unknown-unknown]\nrustflags = [\"-C\", \"link-arg=-zstack-size=65536\"]\n",
    )?;
    write(".gitignore", "/target\n")?;
    outln!(
        "made {} ({name}, from the {} template)",
        args.path.display(),
        match args.template {
            Template::Counter => "counter",
            Template::Token => "token",
            Template::Empty => "empty",
        }
    );
    outln!("  cd {} && cargo test && verity build", args.path.display());
    Ok(Outcome::Ok)
}

/// A path dependency on the SDK crate at `dir`, which must be one.
fn sdk_path(dir: &Path) -> Result<String> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("no SDK at {}", dir.display()))?;
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))
        .with_context(|| format!("{} holds no Cargo.toml", dir.display()))?;
    ensure!(
        manifest.contains("name = \"verity-sdk\""),
        "{} is not the verity-sdk crate",
        dir.display()
    );
    let shown = dir.to_str().context("the SDK's path is not UTF-8")?;
    Ok(format!(
        "verity-sdk = {{ path = {} }}",
        serde_json::to_string(shown)?
    ))
}
