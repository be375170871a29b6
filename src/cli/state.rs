//! `verity state`: make and look into state directories.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use verity_runtime::abi::auth::NONCE_KIND;
use verity_runtime::abi::contract::{
    CODE_KIND, ContractRecord, RECORD_KIND, STORAGE_KIND, code_key, record_key, storage_key,
    storage_prefix,
};
use verity_runtime::abi::spec::{ContractSpec, TypeSpec};
use verity_runtime::{ContractId, contract_spec, spec_json};
use verity_state_tree::{Proof, key_path, value_hash};
use verity_store::DirState;

use super::Outcome;
use super::inputs::parse_bytes_arg;
use super::print::terminal_safe;

#[derive(Args)]
pub struct StateArgs {
    #[command(subcommand)]
    command: StateCommand,
}

#[derive(Subcommand)]
enum StateCommand {
    /// Create an empty state directory for `--state DIR`.
    Init {
        /// The directory (created with its parents if missing).
        dir: PathBuf,
    },
    /// The state root and what the state holds: code, contracts, storage.
    Info {
        /// The state directory.
        dir: PathBuf,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Upgrade a state of an earlier Verity's format in place (a command
    /// that writes does it too; the read commands never write).
    Upgrade {
        /// The state directory.
        dir: PathBuf,
    },
    /// Check the whole state: every tree node against its parent, the
    /// tree's leaves against the values, and the root (opening checks only
    /// the root and what a command reads).
    Check {
        /// The state directory.
        dir: PathBuf,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// A contract: the code it runs, its admin, and how many storage keys it has.
    Contract {
        /// The state directory.
        dir: PathBuf,
        /// The contract's address (64 hex digits).
        address: String,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Every contract, in address order, with the code it runs.
    Contracts {
        /// The state directory.
        dir: PathBuf,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// A contract's storage keys and values, in key order, a page at a
    /// time (the next page starts `--after` the last key shown).
    Keys {
        /// The state directory.
        dir: PathBuf,
        /// The contract's address (64 hex digits).
        address: String,
        /// Only keys starting with these bytes (hex).
        #[arg(long, value_name = "HEX", default_value = "")]
        prefix: String,
        /// Only keys after this one (hex), as the last page's `next` says.
        #[arg(long, value_name = "HEX")]
        after: Option<String>,
        /// At most this many keys.
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: usize,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Compile every module the state stores into the artifact cache (or
    /// check the artifacts already there), so that no later command
    /// compiles a stored contract: what a node does at start-up.
    Warm {
        /// The state directory.
        dir: PathBuf,
        /// The compiler whose artifacts to make.
        #[arg(long, value_enum, default_value = "cranelift")]
        compiler: super::CompilerArg,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// A contract's storage value under KEY, with its Merkle proof against
    /// the state root (checked before it is printed). The key is given in
    /// hex, or as the SDK lays it out: `--map bal --key-type Address
    /// --key-json '"0a0a…"'` (a `Map`'s `prefix ‖ 0x00 ‖ postcard(key)`)
    /// or `--item owner` (an `Item`'s key).
    Get {
        /// The state directory.
        dir: PathBuf,
        /// The contract's address (64 hex digits).
        address: String,
        /// The contract's storage key: hex, or @FILE.
        #[arg(required_unless_present_any = ["map", "item"], conflicts_with_all = ["map", "item"])]
        key: Option<String>,
        /// The prefix of the SDK `Map` the key is in (`Map::new(b"bal")`
        /// is `bal`).
        #[arg(long, value_name = "PREFIX", requires_all = ["key_json", "key_type"], conflicts_with = "item")]
        map: Option<String>,
        /// The map's key, as JSON (docs/sdk.md, "Values as JSON").
        #[arg(long, value_name = "JSON", requires = "map")]
        key_json: Option<String>,
        /// The map key's type, as the spec writes types (`Address`, `u64`,
        /// `(Address, u32)`, a contract type's name).
        #[arg(long, value_name = "TYPE", requires = "map")]
        key_type: Option<String>,
        /// The key of an SDK `Item` (`Item::new(b"owner")` is `owner`).
        #[arg(long, value_name = "NAME")]
        item: Option<String>,
        /// Also print the value decoded as this type, to JSON.
        #[arg(long, value_name = "TYPE")]
        value_type: Option<String>,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
    },
}

pub fn state(args: StateArgs) -> Result<Outcome> {
    match args.command {
        StateCommand::Init { dir } => {
            DirState::create(&dir)?;
            outln!("created an empty state at {}", dir.display());
        }
        StateCommand::Upgrade { dir } => {
            let state = DirState::open(&dir)?;
            outln!(
                "state {} is in the current format (root {})",
                dir.display(),
                state.root()
            );
        }
        StateCommand::Info { dir, json } => info(&DirState::open_shared(&dir)?, json)?,
        StateCommand::Check { dir, json } => check(&DirState::open_shared(&dir)?, json)?,
        StateCommand::Contract { dir, address, json } => {
            let id = address_arg(&address)?;
            return contract(&DirState::open_shared(&dir)?, id, json);
        }
        StateCommand::Contracts { dir, json } => contracts(&DirState::open_shared(&dir)?, json)?,
        StateCommand::Keys {
            dir,
            address,
            prefix,
            after,
            limit,
            json,
        } => {
            let id = address_arg(&address)?;
            let prefix = parse_bytes_arg("--prefix", &prefix)?;
            let after = after.map(|a| parse_bytes_arg("--after", &a)).transpose()?;
            let page = Page {
                prefix: &prefix,
                after: after.as_deref(),
                limit,
            };
            keys(&DirState::open_shared(&dir)?, id, page, json)?;
        }
        StateCommand::Warm {
            dir,
            compiler,
            json,
        } => warm(&DirState::open_shared(&dir)?, compiler, json)?,
        StateCommand::Get {
            dir,
            address,
            key,
            map,
            key_json,
            key_type,
            item,
            value_type,
            json,
        } => {
            let id = address_arg(&address)?;
            let state = DirState::open_shared(&dir)?;
            let needs_spec = map.is_some() || value_type.is_some();
            let spec = if needs_spec {
                stored_spec(&state, &id)?
            } else {
                ContractSpec::default()
            };
            let key = match (key, map, item) {
                (Some(key), _, _) => parse_bytes_arg("KEY", &key)?,
                (None, Some(map), _) => {
                    let (json, ty) = (key_json.unwrap_or_default(), key_type.unwrap_or_default());
                    map_key(&spec, &map, &json, &ty)?
                }
                (None, None, Some(item)) => item.into_bytes(),
                (None, None, None) => bail!("give KEY, --map or --item"),
            };
            let value_type = value_type
                .map(|t| type_arg("--value-type", &t))
                .transpose()?;
            return get(&state, id, &key, value_type.map(|t| (&spec, t)), json);
        }
    }
    Ok(Outcome::Ok)
}

fn address_arg(text: &str) -> Result<ContractId> {
    ContractId::from_hex(text)
        .with_context(|| format!("`{text}` is not a contract address (64 hex digits)"))
}

fn info(state: &DirState, json: bool) -> Result<()> {
    let (mut code, mut contracts, mut storage, mut nonces) = (0u64, 0, 0, 0);
    let (mut keys, mut bytes) = (0u64, 0u64);
    state.scan(&[], |k, v| {
        keys += 1;
        bytes += (k.len() + v.len()) as u64;
        match k.first() {
            Some(&CODE_KIND) => code += 1,
            Some(&RECORD_KIND) => contracts += 1,
            Some(&STORAGE_KIND) => storage += 1,
            Some(&NONCE_KIND) => nonces += 1,
            _ => {}
        }
        true
    })?;
    if json {
        let doc = json!({
            "root": state.root().to_hex(), "keys": keys, "code": code,
            "contracts": contracts, "storage_keys": storage, "nonces": nonces, "bytes": bytes,
        });
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        outln!("root       {}", state.root());
        outln!("keys       {keys} ({bytes} bytes of keys and values)");
        outln!("code       {code} modules");
        outln!("contracts  {contracts}");
        outln!("storage    {storage} keys");
        outln!("nonces     {nonces} used by signed transactions");
    }
    Ok(())
}

fn check(state: &DirState, json: bool) -> Result<()> {
    use std::io::IsTerminal;
    let terminal = std::io::stderr().is_terminal();
    let report = state.check(|done, total| {
        if terminal {
            eprint!("\rchecking: {done} of {total} keys");
        }
    });
    if terminal {
        eprintln!();
    }
    let report = report?;
    if json {
        let doc = json!({
            "root": state.root().to_hex(), "keys": report.keys, "nodes": report.nodes,
            "bytes": report.bytes, "ok": true,
        });
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        outln!(
            "ok: root {} over {} keys ({} bytes), {} tree nodes, all agree",
            state.root(),
            report.keys,
            report.bytes,
            report.nodes
        );
    }
    Ok(())
}

fn warm(state: &DirState, compiler: super::CompilerArg, json: bool) -> Result<()> {
    let Some(cache) = super::artifact_dir() else {
        bail!("no artifact cache to warm (VERITY_CACHE_DIR is empty)");
    };
    super::private_dir(&cache)
        .with_context(|| format!("the artifact cache {} is not usable", cache.display()))?;
    let runtime = super::one_shot_runtime(compiler)?;
    // One module in memory at a time, whatever the state stores.
    let mut report = verity_runtime::WarmReport::default();
    state.for_each_code(|code| report += runtime.warm([code]))?;
    if json {
        let doc = json!({"cache": cache.display().to_string(), "loaded": report.loaded,
            "compiled": report.compiled, "rejected": report.rejected, "unready": report.unready});
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        outln!(
            "{} modules in {}: {} loaded, {} compiled, {} rejected by this profile",
            report.loaded + report.compiled + report.held + report.rejected,
            cache.display(),
            report.loaded,
            report.compiled,
            report.rejected
        );
    }
    if report.unready > 0 {
        let why = runtime
            .artifact_cache_error()
            .unwrap_or_else(|| "the artifact cache is not usable".into());
        bail!("{} modules could not be written: {why}", report.unready);
    }
    Ok(())
}

fn contracts(state: &DirState, json: bool) -> Result<()> {
    let mut rows = Vec::new();
    let mut bad = None;
    state.scan(&[RECORD_KIND], |k, v| {
        if k.first() != Some(&RECORD_KIND) {
            return false;
        }
        let Ok(id) = <[u8; 32]>::try_from(&k[1..]) else {
            bad = Some(format!("a record key of {} bytes", k.len()));
            return false;
        };
        let id = ContractId(id);
        match ContractRecord::decode(v) {
            Some(record) => rows.push((id, record)),
            None => {
                bad = Some(format!("the record of contract {id} does not decode"));
                return false;
            }
        }
        true
    })?;
    if let Some(why) = bad {
        bail!(why);
    }
    if json {
        let doc: Vec<_> = rows
            .iter()
            .map(|(id, r)| {
                json!({"contract": id.to_string(), "code_hash": r.code_hash.to_hex(),
                    "admin": hex::encode(&r.admin)})
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        for (id, r) in &rows {
            outln!("{id}  code {}", r.code_hash);
        }
        outln!("{} contracts", rows.len());
    }
    Ok(())
}

/// Which of a contract's keys `state keys` shows.
struct Page<'a> {
    prefix: &'a [u8],
    after: Option<&'a [u8]>,
    limit: usize,
}

fn keys(state: &DirState, id: ContractId, page: Page<'_>, json: bool) -> Result<()> {
    if state.value(&record_key(&id))?.is_none() {
        bail!("no contract at address {id}");
    }
    let own = storage_prefix(&id);
    let mut start = own.to_vec();
    start.extend_from_slice(page.after.unwrap_or(page.prefix));
    let mut shown: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut more = false;
    state.scan(&start, |k, v| {
        let Some(k) = k
            .strip_prefix(&own[..])
            .filter(|k| k.starts_with(page.prefix))
        else {
            return false;
        };
        if page.after.is_some_and(|a| k <= a) {
            return true;
        }
        if shown.len() == page.limit {
            more = true;
            return false;
        }
        shown.push((k.to_vec(), v.to_vec()));
        true
    })?;
    let next = more
        .then(|| shown.last().map(|(k, _)| hex::encode(k)))
        .flatten();
    if json {
        let doc = json!({
            "contract": id.to_string(),
            "keys": shown.iter().map(|(k, v)| json!({"key": hex::encode(k), "value": hex::encode(v)})).collect::<Vec<_>>(),
            "next": next,
        });
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        for (k, v) in &shown {
            outln!("{} = {}", hex::encode(k), hex::encode(v));
        }
        match next {
            Some(after) => outln!("(more: --after {after})"),
            None => outln!("({} shown, no more)", shown.len()),
        }
    }
    Ok(())
}

fn contract(state: &DirState, id: ContractId, json: bool) -> Result<Outcome> {
    let Some(bytes) = state.value(&record_key(&id))? else {
        bail!("no contract at address {id}");
    };
    let record = ContractRecord::decode(&bytes)
        .with_context(|| format!("the record of contract {id} does not decode"))?;
    let prefix = storage_prefix(&id);
    let mut keys = 0u64;
    state.scan(&prefix, |k, _| {
        let own = k.starts_with(&prefix);
        keys += u64::from(own);
        own
    })?;
    let stored = state.value(&code_key(&record.code_hash))?.map(|c| c.len());
    if json {
        let history: Vec<_> = record
            .history
            .iter()
            .map(|c| json!({"height": c.height, "code_hash": c.code_hash.to_hex()}))
            .collect();
        let doc = json!({
            "contract": id.to_string(), "code_hash": record.code_hash.to_hex(),
            "code_bytes": stored, "admin": hex::encode(&record.admin), "storage_keys": keys,
            "code_history": history,
        });
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        outln!("contract  {id}");
        match stored {
            Some(n) => outln!("code      {} ({n} bytes)", record.code_hash),
            None => outln!("code      {} (NOT in the state)", record.code_hash),
        }
        outln!("admin     {}", hex::encode(&record.admin));
        outln!("storage   {keys} keys");
        // The last code changes, oldest first (the record keeps
        // ContractRecord::MAX_HISTORY of them).
        for change in &record.history {
            outln!(
                "upgraded  at height {} to {}",
                change.height,
                change.code_hash
            );
        }
    }
    Ok(Outcome::Ok)
}

/// A type argument (`--key-type`, `--value-type`).
fn type_arg(flag: &str, text: &str) -> Result<TypeSpec> {
    text.parse()
        .map_err(|e| anyhow::anyhow!("{flag}: `{text}` is {e}"))
}

/// The key an SDK `Map::new(prefix)` stores `key_json` (of type
/// `key_type`) under: `prefix ‖ 0x00 ‖ postcard(key)` (docs/sdk.md).
fn map_key(spec: &ContractSpec, prefix: &str, key_json: &str, key_type: &str) -> Result<Vec<u8>> {
    let ty = type_arg("--key-type", key_type)?;
    let value: serde_json::Value = serde_json::from_str(key_json)
        .with_context(|| format!("--key-json: `{key_json}` is not JSON"))?;
    let encoded = spec_json::encode(spec, &ty, &value)
        .map_err(|e| anyhow::anyhow!("--key-json: not a {ty}: {e}"))?;
    let mut key = prefix.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&encoded);
    Ok(key)
}

/// The spec of the code contract `id` runs (empty if it has none: the
/// built-in types still encode).
fn stored_spec(state: &DirState, id: &ContractId) -> Result<ContractSpec> {
    let code = super::run::stored_code(state, id)?
        .with_context(|| format!("no contract {id} with its code in this state"))?;
    Ok(contract_spec(&code)
        .map_err(|e| anyhow::anyhow!("the code of contract {id}: {e}"))?
        .unwrap_or_default())
}

fn get(
    state: &DirState,
    id: ContractId,
    key: &[u8],
    value_type: Option<(&ContractSpec, TypeSpec)>,
    json: bool,
) -> Result<Outcome> {
    let full = storage_key(&id, key);
    let value = state.value(&full)?;
    let value = value.as_deref();
    let proof = state.prove(&[&full])?;
    // The proof is checked as a verifier would, before anyone relies on it.
    let mut decoded =
        Proof::decode(&proof, &[key_path(&full)], &[]).map_err(|e| anyhow::anyhow!("{e}"))?;
    decoded
        .check_root(&state.root().0)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let proven = decoded
        .get(&key_path(&full))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if proven != value.map(value_hash) {
        bail!("the state's proof does not agree with its value (a bug)");
    }
    // Decoded within the budget a receipt's printing has.
    let decoded = match (value, &value_type) {
        (Some(v), Some((spec, ty))) => Some(
            spec_json::decode(spec, ty, v)
                .map_err(|e| anyhow::anyhow!("--value-type: the value is not a {ty}: {e}"))?,
        ),
        _ => None,
    };
    if json {
        let mut doc = json!({
            "root": state.root().to_hex(), "contract": id.to_string(),
            "key": hex::encode(key), "state_key": hex::encode(&full),
            "value": value.map(hex::encode), "proof": hex::encode(&proof),
        });
        if let Some(decoded) = decoded {
            doc["decoded"] = decoded;
        }
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        outln!("root   {}", state.root());
        outln!("key    {}", hex::encode(&full));
        match value {
            Some(v) => outln!("value  {}", hex::encode(v)),
            None => outln!("value  (absent: proven not in the state)"),
        }
        if let (Some(decoded), Some((_, ty))) = (decoded, &value_type) {
            // The value's strings are the contract's: shown, never obeyed.
            outln!("{}", terminal_safe(&format!("as     {ty}: {decoded}")));
        }
        outln!("proof  {} ({} bytes)", hex::encode(&proof), proof.len());
    }
    Ok(if value.is_some() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use verity_runtime::Hash32;
    use verity_runtime::MemoryState;

    #[test]
    fn a_proof_of_a_value_and_of_an_absence_check_against_the_root() {
        let id = ContractId([3; 32]);
        let mut state = MemoryState::default();
        for i in 0..50u8 {
            state.insert(storage_key(&id, &[i]), vec![i; 3]);
        }
        let root = Hash32(state.root().0);
        for (key, present) in [(vec![7u8], true), (vec![200u8], false)] {
            let full = storage_key(&id, &key);
            let mut proof = Proof::decode(&state.prove(&[&full]), &[key_path(&full)], &[]).unwrap();
            proof.check_root(&root.0).unwrap();
            let got = proof.get(&key_path(&full)).unwrap();
            assert_eq!(got.is_some(), present);
        }
    }
}
