//! `verity key`: account keys that sign transactions (docs/auth.md).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use verity_runtime::{AccountKey, Scheme};

use super::Outcome;

#[derive(Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Make a new key from the OS's randomness and write it to FILE (which
    /// must not exist; it is made readable by its owner only).
    New {
        /// Where the key goes.
        file: PathBuf,
        /// The signature scheme.
        #[arg(long, value_enum, default_value = "ed25519")]
        scheme: SchemeArg,
    },
    /// Print a key's scheme, public key and account address.
    Show {
        /// The key file.
        file: PathBuf,
        /// As one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// A signature scheme on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum SchemeArg {
    /// Ed25519.
    Ed25519,
    /// ECDSA P-256 (passkeys).
    P256,
}

/// The key file's only line: `verity-key-v1 <scheme> <64 hex digits>`.
const MAGIC: &str = "verity-key-v1";

pub fn key(args: KeyArgs) -> Result<Outcome> {
    match args.command {
        KeyCommand::New { file, scheme } => {
            let scheme = match scheme {
                SchemeArg::Ed25519 => Scheme::Ed25519,
                SchemeArg::P256 => Scheme::P256,
            };
            let key = new_key(scheme)?;
            write_key(&file, &key)?;
            println!("address {}", hex::encode(key.address()));
        }
        KeyCommand::Show { file, json } => {
            let key = read_key(&file)?;
            let (address, public) = (hex::encode(key.address()), hex::encode(key.public_key()));
            if json {
                let doc = serde_json::json!({
                    "scheme": key.scheme().name(),
                    "public_key": public,
                    "address": address,
                });
                println!("{doc}");
            } else {
                println!("scheme     {}", key.scheme().name());
                println!("public key {public}");
                println!("address    {address}");
            }
        }
    }
    Ok(Outcome::Ok)
}

/// A fresh key: 32 bytes from the OS (again for the rare P-256 secret that
/// is not a scalar).
fn new_key(scheme: Scheme) -> Result<AccountKey> {
    let mut random = std::fs::File::open("/dev/urandom").context("opening /dev/urandom")?;
    loop {
        let mut secret = [0u8; 32];
        std::io::Read::read_exact(&mut random, &mut secret).context("reading /dev/urandom")?;
        if let Some(key) = AccountKey::from_secret(scheme, &secret) {
            return Ok(key);
        }
    }
}

/// A nonce nobody can predict, from the OS: two transactions signed
/// without `--nonce` collide with probability 2^-64.
pub(crate) fn random_nonce() -> Result<u64> {
    let mut random = std::fs::File::open("/dev/urandom").context("opening /dev/urandom")?;
    let mut bytes = [0u8; 8];
    std::io::Read::read_exact(&mut random, &mut bytes).context("reading /dev/urandom")?;
    Ok(u64::from_le_bytes(bytes))
}

fn write_key(path: &Path, key: &AccountKey) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).with_context(|| {
        format!(
            "creating the key file {} (it must not exist)",
            path.display()
        )
    })?;
    let line = format!(
        "{MAGIC} {} {}\n",
        key.scheme().name(),
        hex::encode(key.secret())
    );
    f.write_all(line.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Reads a key file: exactly the one line `verity key new` writes.
pub(crate) fn read_key(path: &Path) -> Result<AccountKey> {
    let text =
        std::fs::read(path).with_context(|| format!("reading the key file {}", path.display()))?;
    let bad = || {
        anyhow::anyhow!(
            "{} is not a key file (`{MAGIC} <scheme> <64 hex digits>`)",
            path.display()
        )
    };
    if text.len() > 256 {
        return Err(bad());
    }
    let text = std::str::from_utf8(&text).map_err(|_| bad())?;
    let line = text.strip_suffix('\n').ok_or_else(bad)?;
    let parts: Vec<&str> = line.split(' ').collect();
    let [magic, scheme, secret] = parts[..] else {
        return Err(bad());
    };
    if magic != MAGIC || secret.len() != 64 || secret.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad());
    }
    let Some(scheme) = Scheme::from_name(scheme) else {
        bail!(
            "{}: unknown scheme `{scheme}` (ed25519 or p256)",
            path.display()
        );
    };
    let secret: [u8; 32] = hex::decode(secret)
        .map_err(|_| bad())?
        .try_into()
        .map_err(|_| bad())?;
    AccountKey::from_secret(scheme, &secret).with_context(|| {
        format!(
            "{}: the secret is not a {} key",
            path.display(),
            scheme.name()
        )
    })
}
