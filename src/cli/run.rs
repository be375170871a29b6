//! `verity run`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use verity_runtime::abi::contract::{ContractRecord, code_key, record_key};
use verity_runtime::abi::spec::ContractSpec;
use verity_runtime::{
    ChainContext, ContractId, Hash32, MemoryState, Receipt, StateBackend, Target, Transaction,
    contract_spec,
};
use verity_store::DirState;

use super::Outcome;
use super::args::{Decoded, encode_args};
use super::inputs::{parse_bytes_arg, read_module};
use super::print::{receipt_human, receipt_json, terminal_safe};

#[derive(Args)]
pub struct RunArgs {
    /// The module: a .wasm binary or a .wat text file. It runs once as the
    /// contract whose address derives from its code hash, with that
    /// contract's own storage.
    module: PathBuf,
    /// The exported `() -> ()` function to call.
    #[arg(long)]
    entry: String,
    #[command(flatten)]
    tx: TxArgs,
}

#[derive(Args)]
pub struct DeployArgs {
    /// The module to store and run as a new contract (.wasm or .wat).
    module: PathBuf,
    /// 32 bytes (hex) that, with the sender, make the contract's address.
    #[arg(long, value_name = "HEX", default_value = "")]
    salt: String,
    /// A constructor entry to run once, as part of the deploy.
    #[arg(long)]
    entry: Option<String>,
    #[command(flatten)]
    tx: TxArgs,
}

#[derive(Args)]
pub struct UploadArgs {
    /// The module whose code to store (.wasm or .wat). It is validated and
    /// compiled, and paid for, as a deploy's is; nothing runs.
    module: PathBuf,
    #[command(flatten)]
    tx: TxArgs,
}

#[derive(Args)]
pub struct CallArgs {
    /// The contract's address (64 hex digits), as `verity deploy` prints it.
    contract: String,
    /// The exported `() -> ()` function to call.
    #[arg(long)]
    entry: String,
    #[command(flatten)]
    tx: TxArgs,
}

/// What `run`, `deploy`, `upload` and `call` share: the transaction's
/// fields and its signer, and how it runs.
#[derive(Args)]
pub struct TxArgs {
    /// Input bytes: hex, or @FILE for a file's raw bytes.
    #[arg(long, value_name = "HEX|@FILE", conflicts_with_all = ["arg", "args"])]
    input: Option<String>,
    /// A typed argument of the entry, encoded using the module's contract
    /// spec (see `verity inspect`). VALUE is JSON (docs/sdk.md); strings,
    /// hex bytes and addresses may leave the quotes out. Repeat for each
    /// argument.
    #[arg(long = "arg", value_name = "NAME=VALUE")]
    arg: Vec<String>,
    /// The entry's arguments as one JSON object, by name (combines with
    /// --arg for the others).
    #[arg(long, value_name = "JSON")]
    args: Option<String>,
    /// Sign the transaction with this key (`verity key new`): the sender
    /// becomes the key's address, and the receipt proves it signed.
    /// Without a key the transaction has no sender: it runs, and every
    /// `require_auth` in it fails (docs/auth.md).
    #[arg(long, value_name = "FILE", conflicts_with = "public_key")]
    key: Option<PathBuf>,
    /// With --envelope: the public key (hex: 32 bytes Ed25519, 33 bytes
    /// compressed P-256) of a signer elsewhere, who signs the envelope's
    /// tx hash (`verity tx sign`).
    #[arg(long, value_name = "HEX", requires = "envelope")]
    public_key: Option<String>,
    /// The signed transaction's nonce: any number the key has not used in
    /// a transaction that is still valid (default: a random one).
    #[arg(long, value_name = "N")]
    nonce: Option<u64>,
    /// The last block height the signed transaction may run at, at most
    /// the profile's max_validity_blocks past --height (default: --height,
    /// so that its nonce is kept no longer than this block).
    #[arg(long, value_name = "HEIGHT")]
    valid_until: Option<u64>,
    /// Chain id of the chain context (`env::with_chain_id`), up to 64
    /// bytes; a signature covers it.
    #[arg(long, default_value = "")]
    chain_id: String,
    /// Fuel limit.
    #[arg(long, default_value_t = Transaction::DEFAULT_FUEL)]
    fuel: u64,
    /// Run nothing: write the transaction's envelope to this file (signed
    /// with --key, or unsigned for --public-key's holder to sign) and print
    /// its tx hash; `verity tx submit` runs it (docs/auth.md, "Envelopes").
    #[arg(long, value_name = "OUT")]
    envelope: Option<PathBuf>,
    #[command(flatten)]
    run: RunOpts,
}

/// How a transaction runs: its block, where its state lives, where its
/// receipt and witness go, and how it is shown.
#[derive(Args)]
pub struct RunOpts {
    /// Opaque context blob (hex or @FILE): committed in the receipt.
    #[arg(long, value_name = "HEX|@FILE", default_value = "")]
    context: String,
    /// Block height of the chain context (`env::block_height`).
    #[arg(long, default_value_t = 0)]
    height: u64,
    /// Block time of the chain context, seconds since the Unix epoch
    /// (`env::block_time`).
    #[arg(long, default_value_t = 0)]
    time: u64,
    /// Persistent state directory, made by `verity state init DIR`; writes
    /// are committed atomically on success. `call` needs one; without it,
    /// `run` and `deploy` see an empty state and commit nothing.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Run against the state and commit nothing: the receipt (and its
    /// --receipt and --witness files) is the one a real run would give
    /// now. The state is opened under a shared lock, so any number of
    /// simulations run at once; a run that commits waits for them.
    #[arg(long)]
    simulate: bool,
    /// Also write the receipt (JSON) to this file.
    #[arg(long, value_name = "OUT")]
    receipt: Option<PathBuf>,
    /// Also write the receipt's witness to this file: the proof of every
    /// key it read or wrote against its pre-state root, for
    /// `verity verify --witness`.
    #[arg(long, value_name = "OUT")]
    witness: Option<PathBuf>,
    /// Print the run's debug log lines (the guest's `log` calls) to
    /// standard error, before the receipt, and whether the code was
    /// compiled or loaded from the artifact cache. They are not part of
    /// the receipt and change no hash.
    #[arg(long)]
    debug: bool,
    /// Print the receipt as one JSON document.
    #[arg(long)]
    json: bool,
    /// Which wasmtime compiler to use. Receipts do not depend on it: the
    /// choice exists so anyone can check that.
    #[arg(long, value_enum, default_value = "cranelift")]
    compiler: super::CompilerArg,
}

/// Where a transaction's payload and authorization come from.
pub(super) enum Payload<'a> {
    /// The command line: input, chain id, fuel and signer from its flags.
    Args(&'a TxArgs),
    /// A signed envelope (`verity tx submit`): the transaction holds them.
    Envelope,
}

pub fn run(args: RunArgs) -> Result<Outcome> {
    super::require_stdout()?;
    let code = read_module(&args.module)?;
    let name = args.module.display().to_string();
    execute(&args.tx, Transaction::new(args.entry), Some((code, name)))
}

pub fn deploy(args: DeployArgs) -> Result<Outcome> {
    super::require_stdout()?;
    let code = read_module(&args.module)?;
    let salt = match parse_bytes_arg("--salt", &args.salt)? {
        b if b.is_empty() => Hash32::default(),
        b => Hash32(
            b.try_into()
                .map_err(|b: Vec<u8>| anyhow::anyhow!("--salt is {} bytes, not 32", b.len()))?,
        ),
    };
    let tx = Transaction::deploy(salt).with_entry(args.entry.unwrap_or_default());
    let name = args.module.display().to_string();
    execute(&args.tx, tx, Some((code, name)))
}

pub fn upload(args: UploadArgs) -> Result<Outcome> {
    super::require_stdout()?;
    let code = read_module(&args.module)?;
    let name = args.module.display().to_string();
    execute(&args.tx, Transaction::upload(), Some((code, name)))
}

pub fn call(args: CallArgs) -> Result<Outcome> {
    super::require_stdout()?;
    let contract = ContractId::from_hex(&args.contract).with_context(|| {
        format!(
            "`{}` is not a contract address (64 hex digits)",
            args.contract
        )
    })?;
    if args.tx.run.state.is_none() {
        anyhow::bail!("`verity call` needs --state DIR: the contract lives in a state");
    }
    execute(&args.tx, Transaction::call(contract, args.entry), None)
}

fn execute(args: &TxArgs, tx: Transaction, code: Option<(Vec<u8>, String)>) -> Result<Outcome> {
    execute_as(&args.run, Payload::Args(args), tx, code)
}

/// Runs `tx` (with `code`, named for messages, unless it is a call) as
/// `args` say, with the payload `payload` gives, prints its receipt, writes
/// its receipt and witness files and commits it; or with `--envelope`,
/// writes its envelope and runs nothing.
pub(super) fn execute_as(
    args: &RunOpts,
    payload: Payload<'_>,
    mut tx: Transaction,
    code: Option<(Vec<u8>, String)>,
) -> Result<Outcome> {
    let runtime = super::one_shot_runtime(args.compiler)?;
    let open = if args.simulate {
        DirState::open_shared
    } else {
        DirState::open
    };
    let mut dir_state = args.state.as_deref().map(open).transpose()?;
    let empty = MemoryState::default();
    let state: &dyn StateBackend = match &dir_state {
        Some(d) => d,
        None => &empty,
    };
    // A call's code is the code its contract's record names, in the state.
    let mut deployed = true;
    let (code, name) = match (code, tx.target) {
        (Some(code), _) => code,
        (None, Target::Call { contract }) => match stored_code(state, &contract)? {
            Some(code) => (code, format!("contract {contract}")),
            None => {
                deployed = false;
                (Vec::new(), format!("contract {contract}"))
            }
        },
        (None, _) => unreachable!("runs and deploys bring their code"),
    };
    // The spec is read only from a module that passed validation (hostile
    // bytes get a `rejected` receipt, not a spec reader), and only as
    // metadata: a module without one (or with a broken one) still runs;
    // only `--arg` needs it. The compiled module stays in the runtime's
    // cache for the run below.
    let spec = match runtime.prepare(&code) {
        _ if !deployed => Err(anyhow::anyhow!(
            "no contract is deployed at that address in this state"
        )),
        Ok(_) => contract_spec(&code).map_err(|e| anyhow::anyhow!("{e}")),
        Err(rejection) => Err(anyhow::anyhow!(
            "the module was rejected ({rejection}), so its spec is not read"
        )),
    };
    let readable: Option<&ContractSpec> = spec.as_ref().ok().and_then(Option::as_ref);
    if let Some(spec) = readable
        && !tx.entry.is_empty()
        && spec.entry(&tx.entry).is_none()
    {
        // The run goes on (its receipt says the entry is missing); the
        // person at the terminal learns what they meant.
        let names = spec.entries.iter().map(|e| e.name.as_str());
        if let Some(near) = closest(&tx.entry, names) {
            eprintln!(
                "verity: the contract has no entry `{}`; did you mean `{near}`?",
                terminal_safe(&tx.entry)
            );
        }
    }
    let given = match tx.target {
        Target::Call { .. } => None,
        _ => Some(code.as_slice()),
    };
    let chain_id = match payload {
        Payload::Args(a) => a.chain_id.clone(),
        Payload::Envelope => tx.chain.chain_id.clone(),
    };
    tx.context = parse_bytes_arg("--context", &args.context)?;
    tx.chain = ChainContext {
        height: args.height,
        time: args.time,
        chain_id,
    };
    if let Payload::Args(a) = payload {
        tx.input = input(a, &tx.entry, &name, &spec, readable)?;
        tx.fuel_limit = a.fuel;
        let signer = match (&a.key, &a.public_key) {
            (Some(key), _) => Some(Signer::Key(super::key::read_key(key)?)),
            (None, Some(public)) => Some(Signer::Public(public_key_arg(public)?)),
            (None, None) if a.nonce.is_some() || a.valid_until.is_some() => {
                bail!(
                    "--nonce and --valid-until sign: give --key (or --public-key with --envelope)"
                )
            }
            (None, None) if a.envelope.is_some() => {
                bail!("--envelope needs a signer: --key FILE, or --public-key HEX")
            }
            (None, None) => None,
        };
        if let Some(signer) = signer {
            let nonce = match a.nonce {
                Some(nonce) => nonce,
                None => super::key::random_nonce()?,
            };
            let until = a.valid_until.unwrap_or(args.height);
            if let Some(out) = &a.envelope {
                let (scheme, public) = match &signer {
                    Signer::Key(k) => (k.scheme(), k.public_key()),
                    Signer::Public((scheme, public)) => (*scheme, public.clone()),
                };
                let mut envelope = runtime.envelope(&tx, scheme, &public, nonce, until, given);
                if let Signer::Key(k) = &signer {
                    let signature = k.sign(&envelope.tx_hash().0);
                    envelope
                        .attach(&signature)
                        .map_err(|e| anyhow::anyhow!("signing: {e}"))?;
                }
                super::tx::write_envelope(out, &envelope)?;
                outln!("tx_hash   {}", envelope.tx_hash());
                outln!(
                    "envelope  {} ({})",
                    out.display(),
                    if envelope.signature.is_empty() {
                        "unsigned: `verity tx sign` it"
                    } else {
                        "signed: `verity tx submit` it"
                    }
                );
                return Ok(Outcome::Ok);
            }
            let Signer::Key(key) = signer else {
                unreachable!("--public-key requires --envelope")
            };
            tx = runtime.sign(tx, &key, nonce, until, given);
        }
    }
    // --debug also profiles the fuel, by a second run in a module that
    // counts it (docs/costs.md, "The fuel profile").
    let run = if args.debug {
        runtime.execute_profiled(given, &tx, state)?
    } else {
        runtime.execute_debug(given, &tx, state)?
    };
    let receipt = run.receipt;
    let profile = args.debug.then_some(&run.fuel);
    if args.debug {
        for line in &run.logs {
            eprintln!(
                "log [{}] {}",
                terminal_safe(&receipt.entry),
                terminal_safe(line)
            );
        }
        let stats = runtime.cache_stats();
        eprintln!(
            "debug: code: {} compiled, {} loaded from the artifact cache{}",
            stats.compiled,
            stats.artifact_loads,
            match super::artifact_dir() {
                Some(dir) => format!(" ({})", dir.display()),
                None => " (no cache: VERITY_CACHE_DIR is empty)".to_string(),
            }
        );
        eprint!("{}", fuel_human(&run.fuel));
    }
    let witness = match (&args.witness, &dir_state) {
        (None, _) => None,
        (Some(_), Some(d)) => Some(d.witness(&receipt)?),
        (Some(_), None) => Some(empty.witness(&receipt)),
    };

    // Delivery, in an order that keeps exit 2 meaning "not committed":
    // the receipt and witness files are staged (created exclusively under
    // unpredictable names beside their targets), then the receipt goes to
    // standard output, then the state commits, then the staged files are
    // renamed into place. Anything that fails before the commit leaves the
    // state as it was (exit 2); if the commit itself fails, stderr says
    // that the printed receipt was not committed; a rename that fails
    // after it is exit 3.
    let json = receipt_json(&receipt);
    if let (Some(r), Some(w)) = (&args.receipt, &args.witness)
        && same_file(r, w)
    {
        bail!(
            "--receipt and --witness name the same file {}: each needs its own",
            r.display()
        );
    }
    let mut staged: Vec<(tempfile::NamedTempFile, &Path)> = Vec::new();
    let files = [
        (args.receipt.as_deref(), json.as_bytes()),
        (
            args.witness.as_deref(),
            witness.as_deref().unwrap_or_default(),
        ),
    ];
    for (out, bytes) in files {
        if let Some(out) = out {
            // A failure drops (and so deletes) what was staged before it.
            staged.push((stage(out, bytes)?, out));
        }
    }
    print(args.json, readable, &receipt, &json, profile)?;
    if args.simulate && dir_state.is_some() {
        eprintln!("verity: simulated: nothing was committed");
    }
    if let Some(dir) = dir_state.as_mut().filter(|_| !args.simulate)
        && !receipt.writes.is_empty()
        && let Err(e) = dir.commit(receipt.pre_state_root, &receipt.writes)
    {
        eprintln!(
            "verity: the receipt printed on standard output was NOT committed: the state is unchanged"
        );
        return Err(e.into());
    }
    for (tmp, out) in staged {
        tmp.persist(out).map_err(|e| {
            let kept = e.file.keep().map(|(_, path)| path);
            let why = format!(
                "its file could not be moved to {}: {} (it is at {})",
                out.display(),
                e.error,
                kept.as_ref().map_or_else(
                    |_| "nowhere: it was lost".to_string(),
                    |p| p.display().to_string()
                )
            );
            if dir_state.is_some() && !args.simulate && !receipt.writes.is_empty() {
                anyhow::Error::new(super::AfterCommit(why))
            } else {
                anyhow::anyhow!(why)
            }
        })?;
    }
    Ok(if receipt.status.is_success() {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

/// The name in `names` closest to `typed`, if one is close (clap's rule for
/// its own suggestions: Jaro similarity above 0.7).
fn closest<'a>(typed: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    names
        .map(|n| (strsim::jaro(typed, n), n))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}

/// Who signs a transaction made on the command line.
enum Signer {
    /// A key file's key, here.
    Key(verity_runtime::AccountKey),
    /// A public key, whose holder signs elsewhere.
    Public((verity_runtime::Scheme, Vec<u8>)),
}

/// `--public-key`: 32 bytes are an Ed25519 key, 33 a compressed P-256 one.
fn public_key_arg(text: &str) -> Result<(verity_runtime::Scheme, Vec<u8>)> {
    use verity_runtime::Scheme;
    let key = parse_bytes_arg("--public-key", text)?;
    let scheme = match key.len() {
        32 => Scheme::Ed25519,
        33 => Scheme::P256,
        n => bail!("--public-key is {n} bytes: an Ed25519 key is 32, a compressed P-256 key 33"),
    };
    Ok((scheme, key))
}

/// The input of `entry`, from `--input`, or encoded from `--arg` and
/// `--args` by the module's spec.
fn input(
    args: &TxArgs,
    entry: &str,
    name: &str,
    spec: &Result<Option<ContractSpec>>,
    readable: Option<&ContractSpec>,
) -> Result<Vec<u8>> {
    if let Some(input) = &args.input {
        return parse_bytes_arg("--input", input);
    }
    if args.arg.is_empty() && args.args.is_none() {
        // No input at all: fine for an entry without arguments, refused
        // before running for one whose spec declares some.
        if let Some(e) = readable.and_then(|s| s.entry(entry))
            && !e.args.is_empty()
        {
            let names: Vec<&str> = e.args.iter().map(|a| a.name.as_str()).collect();
            bail!(
                "entry `{entry}` takes arguments ({}): give each with --arg NAME=VALUE, or the raw input with --input",
                names.join(", ")
            );
        }
        return Ok(Vec::new());
    }
    let spec = spec
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("--arg: cannot read the contract spec of {name}"))?
        .as_ref()
        .with_context(|| {
            format!("--arg needs a contract spec, and {name} has none (use --input)")
        })?;
    let e = spec
        .entry(entry)
        .with_context(|| format!("--arg: the contract spec has no entry `{entry}`"))?;
    encode_args(spec, e, &args.arg, args.args.as_deref())
}

/// The code the record of `contract` names, if the state holds both.
pub(super) fn stored_code(
    state: &dyn StateBackend,
    contract: &ContractId,
) -> Result<Option<Vec<u8>>> {
    let Some(record) = state.get(&record_key(contract))? else {
        return Ok(None);
    };
    let Some(record) = ContractRecord::decode(&record) else {
        return Ok(None);
    };
    Ok(state.get(&code_key(&record.code_hash))?)
}

/// Whether two output paths name the same file: the same name in the same
/// directory once the directories' links are resolved.
fn same_file(a: &Path, b: &Path) -> bool {
    fn resolved(p: &Path) -> Option<PathBuf> {
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty());
        let dir = parent.unwrap_or(Path::new(".")).canonicalize().ok()?;
        Some(dir.join(p.file_name()?))
    }
    a == b || matches!((resolved(a), resolved(b)), (Some(x), Some(y)) if x == y)
}

/// Writes `bytes` to a new file beside `out`, created exclusively under an
/// unpredictable name (a link planted there is never followed), to be
/// renamed over `out` once the transaction is committed. Refuses an `out`
/// that is a directory, before anything is committed.
fn stage(out: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile> {
    use std::io::Write;
    let name = out
        .file_name()
        .with_context(|| format!("{}: not a file name", out.display()))?;
    if std::fs::metadata(out).is_ok_and(|m| m.is_dir()) {
        bail!("{}: is a directory, not a file to write", out.display());
    }
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".verity-tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write {}", out.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.flush())
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(tmp)
}

/// A fuel profile as JSON: `[{"class", "fuel", "calls"?}]`, in its order.
fn fuel_json(p: &verity_runtime::FuelProfile) -> serde_json::Value {
    p.entries
        .iter()
        .map(|e| {
            let mut o = serde_json::json!({ "class": e.class, "fuel": e.fuel });
            if let Some(calls) = e.calls {
                o["calls"] = calls.into();
            }
            o
        })
        .collect()
}

/// A fuel profile for a person: one line per class, its share of the
/// total, and the total.
fn fuel_human(p: &verity_runtime::FuelProfile) -> String {
    let total = p.total();
    let mut s = String::from("debug: fuel by class:\n");
    for e in &p.entries {
        let calls = e.calls.map_or(String::new(), |c| {
            format!(" ({c} call{})", if c == 1 { "" } else { "s" })
        });
        let share = if total == 0 {
            0.0
        } else {
            e.fuel as f64 * 100.0 / total as f64
        };
        s += &format!("  {:<18} {:>12} {share:>5.1}%{calls}\n", e.class, e.fuel);
    }
    s += &format!("  {:<18} {total:>12}\n", "total");
    s
}

/// The receipt on standard output, human-readable or JSON, with what the
/// contract spec decodes of it (a `decoded` member in JSON, which receipt
/// readers ignore: it is not part of the receipt).
fn print(
    json_out: bool,
    spec: Option<&ContractSpec>,
    receipt: &Receipt,
    json: &str,
    fuel: Option<&verity_runtime::FuelProfile>,
) -> Result<()> {
    let decoded = spec.map(|s| Decoded::new(s, s.entry(&receipt.entry), receipt));
    if json_out {
        if decoded.is_none() && fuel.is_none() {
            out!("{json}");
            return Ok(());
        }
        let mut doc: serde_json::Value = serde_json::from_str(json)?;
        if let Some(m) = doc.as_object_mut() {
            if let Some(d) = decoded {
                m.insert("decoded".into(), d.json());
            }
            if let Some(f) = fuel {
                m.insert("fuel_profile".into(), fuel_json(f));
            }
        }
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        out!("{}", receipt_human(receipt));
        if let Some(d) = decoded {
            out!("{}", d.human());
        }
    }
    Ok(())
}
