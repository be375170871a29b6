//! `verity tx`: transaction envelopes, for a signer that is not the
//! submitter (docs/auth.md, "Envelopes"). `run`, `deploy`, `upload` and
//! `call` write one with `--envelope OUT`; `tx sign` signs it with a key
//! file or attaches a signature made elsewhere (openssl, a hardware key)
//! after checking it; `tx submit` runs it.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use verity_runtime::{Action, Envelope, Profile};

use super::Outcome;
use super::inputs::{parse_bytes_arg, read_module};
use super::print::terminal_safe;
use super::run::{Payload, RunOpts, execute_as};

#[derive(Args)]
pub struct TxArgs {
    #[command(subcommand)]
    command: TxCommand,
}

#[derive(Subcommand)]
enum TxCommand {
    /// Print an envelope's fields and its tx hash.
    Show {
        /// The envelope file.
        envelope: PathBuf,
        /// As one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print an envelope's tx hash alone (hex): the 32 bytes a signer
    /// signs.
    Hash {
        /// The envelope file.
        envelope: PathBuf,
    },
    /// Sign an envelope with a key file, or attach a signature made
    /// elsewhere over its tx hash; the signature is checked before the
    /// envelope is written.
    Sign {
        /// The envelope file.
        envelope: PathBuf,
        /// The key file of the envelope's public key.
        #[arg(long, value_name = "FILE", required_unless_present = "signature")]
        key: Option<PathBuf>,
        /// The signature (hex or @FILE of 64 raw bytes): Ed25519 `R ‖ S`,
        /// or P-256 `r ‖ s` with low S, over the tx hash.
        #[arg(long, value_name = "HEX|@FILE", conflicts_with = "key")]
        signature: Option<String>,
        /// Where the signed envelope goes (default: over ENVELOPE).
        #[arg(long, value_name = "OUT")]
        out: Option<PathBuf>,
    },
    /// Run a signed envelope, as `call` (or `run`, `deploy`, `upload`)
    /// would run the transaction it carries.
    Submit {
        /// The envelope file.
        envelope: PathBuf,
        /// The module a run, deploy or upload brings: its hash must be the
        /// one the envelope signs.
        #[arg(long, value_name = "MODULE")]
        module: Option<PathBuf>,
        #[command(flatten)]
        run: RunOpts,
    },
}

/// The most bytes an envelope file may hold: more than the largest input,
/// entry, chain id and key the profile admits.
const MAX_ENVELOPE_BYTES: u64 = 1 << 20;

pub fn tx(args: TxArgs) -> Result<Outcome> {
    match args.command {
        TxCommand::Show { envelope, json } => {
            show(&read_envelope(&envelope)?, json)?;
            Ok(Outcome::Ok)
        }
        TxCommand::Hash { envelope } => {
            outln!("{}", read_envelope(&envelope)?.tx_hash());
            Ok(Outcome::Ok)
        }
        TxCommand::Sign {
            envelope: path,
            key,
            signature,
            out,
        } => {
            let mut envelope = read_envelope(&path)?;
            let signature = match (key, signature) {
                (Some(key), _) => {
                    let key = super::key::read_key(&key)?;
                    if key.public_key() != envelope.public_key || key.scheme() != envelope.scheme {
                        bail!(
                            "the key is not the envelope's: it signs for {}, the envelope's sender is {}",
                            hex::encode(key.address()),
                            hex::encode(envelope.sender())
                        );
                    }
                    key.sign(&envelope.tx_hash().0).to_vec()
                }
                (None, Some(text)) => parse_bytes_arg("--signature", &text)?,
                (None, None) => unreachable!("clap requires one"),
            };
            envelope.attach(&signature).map_err(|e| {
                anyhow::anyhow!(
                    "the signature does not sign this envelope's tx hash {} with its key: {e}",
                    envelope.tx_hash()
                )
            })?;
            let out = out.unwrap_or(path);
            write_envelope(&out, &envelope)?;
            outln!("tx_hash   {}", envelope.tx_hash());
            outln!("envelope  {} (signed)", out.display());
            Ok(Outcome::Ok)
        }
        TxCommand::Submit {
            envelope: path,
            module,
            run,
        } => {
            super::require_stdout()?;
            let envelope = read_envelope(&path)?;
            if envelope.signature.is_empty() {
                bail!(
                    "{} is not signed: `verity tx sign` it first",
                    path.display()
                );
            }
            let ours = Profile::default().hash();
            if envelope.profile_hash != ours {
                bail!(
                    "{} is signed for the profile {}, and this verity runs {ours}",
                    path.display(),
                    envelope.profile_hash
                );
            }
            let code = match (envelope.action, module) {
                (Action::Call, None) => None,
                (Action::Call, Some(_)) => {
                    bail!("--module: a call runs the code its contract's record names")
                }
                (_, None) => bail!(
                    "the envelope's {} brings code: give it with --module",
                    envelope.action.name()
                ),
                (_, Some(module)) => {
                    let code = read_module(&module)?;
                    let hash = verity_runtime::Hash32::of(&code);
                    if hash != envelope.code_hash {
                        bail!(
                            "{}'s hash is {hash}, and the envelope signs the code {}",
                            module.display(),
                            envelope.code_hash
                        );
                    }
                    Some((code, module.display().to_string()))
                }
            };
            execute_as(&run, Payload::Envelope, envelope.transaction(), code)
        }
    }
}

/// Reads an envelope file: at most [`MAX_ENVELOPE_BYTES`], and exactly one
/// envelope's bytes.
fn read_envelope(path: &Path) -> Result<Envelope> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("reading the envelope {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_ENVELOPE_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading the envelope {}", path.display()))?;
    if bytes.len() as u64 > MAX_ENVELOPE_BYTES {
        bail!(
            "{} is over {MAX_ENVELOPE_BYTES} bytes: not an envelope",
            path.display()
        );
    }
    Envelope::decode(&bytes).with_context(|| format!("{} is not an envelope", path.display()))
}

/// Writes `envelope` to `out`.
pub(super) fn write_envelope(out: &Path, envelope: &Envelope) -> Result<()> {
    std::fs::write(out, envelope.encode())
        .with_context(|| format!("writing the envelope {}", out.display()))
}

fn show(e: &Envelope, json: bool) -> Result<()> {
    let signature = (!e.signature.is_empty()).then(|| hex::encode(&e.signature));
    let salt = match e.action {
        Action::Deploy { salt } => Some(salt.to_hex()),
        _ => None,
    };
    if json {
        let doc = serde_json::json!({
            "tx_hash": e.tx_hash().to_hex(),
            "chain_id": e.chain_id,
            "profile_hash": e.profile_hash.to_hex(),
            "sender": hex::encode(e.sender()),
            "scheme": e.scheme.name(),
            "public_key": hex::encode(&e.public_key),
            "nonce": e.nonce,
            "valid_until": e.valid_until,
            "fuel_limit": e.fuel_limit,
            "action": e.action.name(),
            "salt": salt,
            "contract": e.contract.to_string(),
            "code_hash": e.code_hash.to_hex(),
            "entry": e.entry,
            "input": hex::encode(&e.input),
            "signature": signature,
        });
        outln!("{doc}");
        return Ok(());
    }
    outln!("tx_hash      {}", e.tx_hash());
    outln!("chain_id     {}", terminal_safe(&e.chain_id));
    outln!("profile      {}", e.profile_hash);
    outln!("sender       {}", hex::encode(e.sender()));
    outln!("scheme       {}", e.scheme.name());
    outln!("public key   {}", hex::encode(&e.public_key));
    outln!("nonce        {}", e.nonce);
    outln!("valid until  {}", e.valid_until);
    outln!("fuel limit   {}", e.fuel_limit);
    match salt {
        Some(salt) => outln!("action       deploy (salt {salt})"),
        None => outln!("action       {}", e.action.name()),
    }
    if e.action == Action::Call {
        outln!("contract     {}", e.contract);
    } else {
        outln!("code hash    {}", e.code_hash);
    }
    outln!("entry        {}", terminal_safe(&e.entry));
    outln!("input        {}", hex::encode(&e.input));
    outln!(
        "signature    {}",
        signature.unwrap_or_else(|| "none (unsigned)".to_string())
    );
    Ok(())
}
