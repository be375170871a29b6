//! `verity build`: builds contract crates for wasm32-unknown-unknown the
//! way their code hash can be reproduced (docs/sdk.md, "Reproducible builds
//! and size").
//!
//! Each contract package (a package with a `cdylib` library) is built on
//! its own, so that cargo's feature unification across a workspace cannot
//! change one contract because of another; with a 64 KiB stack (docs/sdk.md,
//! "The stack"); and with every path rustc could embed (panic locations)
//! remapped to a name that does not depend on where the checkout is: the
//! workspace root to `/build`, each path dependency outside it to
//! `/path/NAME-VERSION`, and cargo's home to `/cargo`. Nothing from the
//! environment that could change the code reaches cargo (`RUSTFLAGS` and
//! the other variables below are removed).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use serde_json::{Value, json};

use super::Outcome;

/// The stack contracts are linked with (docs/sdk.md, "The stack").
pub const STACK_BYTES: u32 = 64 << 10;

/// Variables that would change what cargo builds, removed from its
/// environment.
const CLEARED: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_PROFILE_RELEASE_OPT_LEVEL",
    "CARGO_PROFILE_RELEASE_STRIP",
    "CARGO_PROFILE_RELEASE_DEBUG",
    "CARGO_PROFILE_RELEASE_LTO",
    "CARGO_PROFILE_RELEASE_CODEGEN_UNITS",
    "CARGO_PROFILE_RELEASE_PANIC",
    "CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS",
    "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
    "CARGO_MAKEFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
];

const TARGET: &str = "wasm32-unknown-unknown";

#[derive(Args)]
pub struct BuildArgs {
    /// A contract crate or a workspace of them (its directory or its
    /// Cargo.toml).
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Build only these packages (default: every package with a `cdylib`).
    #[arg(long = "package", short = 'p')]
    packages: Vec<String>,
    /// Refuse to update Cargo.lock (as `cargo build --locked`).
    #[arg(long)]
    locked: bool,
    /// Also copy each module to DIR/NAME.wasm.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the result as one JSON document.
    #[arg(long)]
    json: bool,
}

/// One contract package of the workspace.
struct Contract {
    name: String,
    /// The library target's name, as the `.wasm` file is called.
    lib: String,
}

pub fn build(args: BuildArgs) -> Result<Outcome> {
    let manifest = if args.path.is_dir() {
        args.path.join("Cargo.toml")
    } else {
        args.path.clone()
    };
    ensure!(
        manifest.is_file(),
        "{} is not a Cargo.toml or a directory holding one",
        args.path.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let metadata = metadata(&cargo, &manifest, args.locked)?;
    let root = PathBuf::from(
        metadata["workspace_root"]
            .as_str()
            .context("cargo metadata has no workspace_root")?,
    );
    let target_dir = PathBuf::from(
        metadata["target_directory"]
            .as_str()
            .context("cargo metadata has no target_directory")?,
    );
    let contracts = contracts(&metadata, &args.packages)?;
    let rustflags = rustflags(&metadata, &root)?;

    let runtime = super::one_shot_runtime(super::CompilerArg::Cranelift)?;
    let costs = verity_runtime::Profile::default().costs;
    let mut built = Vec::new();
    let mut failed = false;
    for c in &contracts {
        let mut cmd = Command::new(&cargo);
        cmd.args(["build", "--quiet", "--release", "--target", TARGET])
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"))
            .args(["-p", &c.name]);
        if args.locked {
            cmd.arg("--locked");
        }
        for name in CLEARED {
            cmd.env_remove(name);
        }
        cmd.env("CARGO_ENCODED_RUSTFLAGS", rustflags.join("\u{1f}"));
        let status = cmd
            .status()
            .with_context(|| format!("cannot run {}", Path::new(&cargo).display()))?;
        if !status.success() {
            bail!("building {} failed (cargo's messages are above)", c.name);
        }
        let wasm = target_dir
            .join(TARGET)
            .join("release")
            .join(format!("{}.wasm", c.lib));
        let code = std::fs::read(&wasm)
            .with_context(|| format!("cargo built {} but {} is missing", c.name, wasm.display()))?;
        let spec_bytes = verity_runtime::contract_spec(&code)
            .ok()
            .flatten()
            .map_or(0, |s| s.encode().len());
        let code_hash = verity_runtime::Hash32::of(&code).to_hex();
        let shown = match &args.out {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot make {}", dir.display()))?;
                let to = dir.join(format!("{}.wasm", c.name));
                std::fs::copy(&wasm, &to)
                    .with_context(|| format!("cannot copy to {}", to.display()))?;
                to
            }
            None => wasm.clone(),
        };
        let check = match runtime.prepare(&code) {
            Ok(prepared) => {
                let pages = prepared.info().initial_memory_pages;
                json!({
                    "accepted": true,
                    "initial_pages": pages,
                    "per_run_instance": costs.wasm_instance.total(pages),
                    "access_price": costs.memory_access.price(pages),
                    "deploy_fuel": costs.storage_write.total(code.len() as u64)
                        + prepared.preparation_fuel(&costs),
                })
            }
            Err(e) => {
                failed = true;
                json!({"accepted": false, "reason": e.to_string()})
            }
        };
        built.push(json!({
            "package": c.name,
            "path": shown.display().to_string(),
            "bytes": code.len(),
            "spec_bytes": spec_bytes,
            "code_hash": code_hash,
            "check": check,
        }));
    }
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({ "built": built }))?
        );
    } else {
        for b in &built {
            outln!(
                "{}  {}",
                b["package"].as_str().unwrap_or_default(),
                b["path"].as_str().unwrap_or_default()
            );
            outln!(
                "  {} bytes ({} of them the spec), code hash {}",
                b["bytes"],
                b["spec_bytes"],
                b["code_hash"].as_str().unwrap_or_default()
            );
            let check = &b["check"];
            if check["accepted"] == true {
                outln!(
                    "  accepted: {} initial pages; every call pays {} for its instance and pages and {} per load or store; a deploy pays {}",
                    check["initial_pages"],
                    check["per_run_instance"],
                    check["access_price"],
                    check["deploy_fuel"]
                );
            } else {
                outln!(
                    "  rejected: {}",
                    check["reason"].as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(if failed { Outcome::Failed } else { Outcome::Ok })
}

/// `cargo metadata` of the workspace, dependencies included (their paths
/// are remapped).
fn metadata(cargo: &std::ffi::OsStr, manifest: &Path, locked: bool) -> Result<Value> {
    let mut cmd = Command::new(cargo);
    cmd.args([
        "metadata",
        "--format-version",
        "1",
        "--filter-platform",
        TARGET,
    ])
    .arg("--manifest-path")
    .arg(manifest);
    if locked {
        cmd.arg("--locked");
    }
    // The build runs without these, so the target directory must be the
    // one cargo names without them too (a CARGO_TARGET_DIR would move it).
    for name in CLEARED {
        cmd.env_remove(name);
    }
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {}", Path::new(cargo).display()))?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout).context("cargo metadata printed no JSON")
}

/// The workspace's contract packages: members with a `cdylib` library,
/// or exactly the ones asked for.
fn contracts(metadata: &Value, asked: &[String]) -> Result<Vec<Contract>> {
    let members: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    let mut found = Vec::new();
    for p in packages
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(&id)))
    {
        let name = p["name"].as_str().unwrap_or_default().to_string();
        let lib = p["targets"].as_array().and_then(|ts| {
            ts.iter().find(|t| {
                t["crate_types"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
            })
        });
        let Some(lib) = lib else {
            if asked.contains(&name) {
                bail!(
                    "package {name} has no cdylib library: add crate-type = [\"cdylib\", \"rlib\"] to its [lib]"
                );
            }
            continue;
        };
        if asked.is_empty() || asked.contains(&name) {
            found.push(Contract {
                lib: lib["name"].as_str().unwrap_or(&name).replace('-', "_"),
                name,
            });
        }
    }
    for a in asked {
        ensure!(
            found.iter().any(|c| &c.name == a),
            "no package {a} in this workspace"
        );
    }
    ensure!(
        !found.is_empty(),
        "no contract package here (a package with crate-type \"cdylib\")"
    );
    Ok(found)
}

/// The flags of every build: the stack, and the path remappings.
fn rustflags(metadata: &Value, root: &Path) -> Result<Vec<String>> {
    let mut flags = vec![
        "-C".to_string(),
        format!("link-arg=-zstack-size={STACK_BYTES}"),
    ];
    let mut remap = |from: &Path, to: &str| {
        flags.push(format!("--remap-path-prefix={}={to}", from.display()));
    };
    remap(root, "/build");
    // Path dependencies outside the workspace (the SDK from a checkout):
    // remapped after the root, so that the more specific one wins.
    for p in metadata["packages"].as_array().into_iter().flatten() {
        if !p["source"].is_null() {
            continue;
        }
        let Some(dir) = p["manifest_path"]
            .as_str()
            .and_then(|m| Path::new(m).parent())
        else {
            continue;
        };
        if dir.starts_with(root) {
            continue;
        }
        let name = p["name"].as_str().unwrap_or_default();
        let version = p["version"].as_str().unwrap_or_default();
        remap(dir, &format!("/path/{name}-{version}"));
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = cargo_home {
        remap(&home, "/cargo");
    }
    Ok(flags)
}
