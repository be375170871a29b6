//! What a transaction must satisfy before anything runs.

use std::string::String;

use verity_host_abi::{ContractId, Limits};

use crate::host::{ChainContext, TxBytes};

/// The fuel limit of a transaction that names none (`verity run` without
/// `--fuel`, `Transaction::new`, the SDK's `TestEnv`).
pub const DEFAULT_FUEL: u64 = 40_000_000;

/// Why a transaction was refused before anything ran (its receipt's status
/// is `rejected` with this text as the reason).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxRejection {
    /// The entry point is not an exported function of the module.
    #[error("the module exports no function named `{0}`")]
    MissingEntry(String),
    /// A transaction field over its limit. The text names the limit, not
    /// the size: the receipt keeps only the field's first `limit + 1`
    /// bytes ([`bounded_fields`]), and re-executing from it gives the same
    /// text.
    #[error("transaction {what} is over the limit of {limit} bytes")]
    FieldTooLarge {
        /// `entry`, `input`, `sender`, `context` or `chain id`.
        what: &'static str,
        /// The limit.
        limit: u32,
    },
    /// A call of an address where no contract is.
    #[error("no contract at address {0}")]
    NoContract(ContractId),
    /// A deploy to an address where a contract already is.
    #[error("a contract already exists at address {0}")]
    ContractExists(ContractId),
    /// An upload that names an entry: an upload runs nothing.
    #[error("an upload stores code and runs no entry (`{0}` was given)")]
    EntryInUpload(String),
    /// The sender's authorization failed (docs/auth.md); the text starts
    /// with the stable code.
    #[error("{0}")]
    Auth(verity_host_abi::auth::AuthRejection),
    /// A fuel limit over the profile's maximum.
    #[error("fuel limit {requested} is over the profile's maximum of {limit}")]
    FuelLimitTooHigh {
        /// The transaction's fuel limit.
        requested: u64,
        /// The profile's `max_fuel`.
        limit: u64,
    },
}

/// Checks a transaction's fields and fuel limit against `limits`, in this
/// order: entry, input, sender, context, chain id, fuel.
///
/// ```
/// use verity_host_abi::{ContractId, Limits};
/// use verity_host_core::{TxBytes, TxRejection, check_transaction};
///
/// let limits = Limits::default();
/// let tx = TxBytes { input: vec![0; 10], ..TxBytes::default() };
/// assert_eq!(check_transaction(&limits, "run", &tx, 1_000), Ok(()));
/// let too_much = limits.max_fuel + 1;
/// assert!(matches!(
///     check_transaction(&limits, "run", &tx, too_much),
///     Err(TxRejection::FuelLimitTooHigh { .. })
/// ));
/// ```
pub fn check_transaction(
    limits: &Limits,
    entry: &str,
    tx: &TxBytes,
    fuel_limit: u64,
) -> Result<(), TxRejection> {
    for (what, size, limit) in [
        ("entry", entry.len(), limits.max_entry_bytes),
        ("input", tx.input.len(), limits.max_input_bytes),
        ("sender", tx.sender.len(), limits.max_sender_bytes),
        ("context", tx.context.len(), limits.max_context_bytes),
        (
            "chain id",
            tx.chain.chain_id.len(),
            limits.max_chain_id_bytes,
        ),
    ] {
        if size > limit as usize {
            return Err(TxRejection::FieldTooLarge { what, limit });
        }
    }
    if fuel_limit > limits.max_fuel {
        return Err(TxRejection::FuelLimitTooHigh {
            requested: fuel_limit,
            limit: limits.max_fuel,
        });
    }
    Ok(())
}

/// The copies of a transaction's entry and fields that a run and its
/// receipt hold: each field within its limit whole, each over it cut to its
/// first `limit + 1` bytes (a string at the first character boundary past
/// that), which is still over the limit. So a transaction with a 4 GiB
/// input costs a copy of `max_input_bytes + 1` bytes and a receipt of that
/// size, and [`check_transaction`] refuses the copy exactly as it would
/// the original.
///
/// ```
/// use verity_host_abi::Limits;
/// use verity_host_core::{ChainContext, bounded_fields, check_transaction};
///
/// let limits = Limits::default();
/// let huge = vec![7u8; 10 * limits.max_input_bytes as usize];
/// let (entry, tx) = bounded_fields(&limits, "run", &huge, b"", b"", &ChainContext::default());
/// assert_eq!(tx.input.len(), limits.max_input_bytes as usize + 1);
/// assert!(check_transaction(&limits, &entry, &tx, 1).is_err());
/// ```
pub fn bounded_fields(
    limits: &Limits,
    entry: &str,
    input: &[u8],
    sender: &[u8],
    context: &[u8],
    chain: &ChainContext,
) -> (String, TxBytes) {
    let bytes = |b: &[u8], limit: u32| b[..b.len().min(limit as usize + 1)].to_vec();
    let text = |s: &str, limit: u32| {
        let mut cut = s.len().min(limit as usize + 1);
        while !s.is_char_boundary(cut) {
            cut += 1;
        }
        String::from(&s[..cut])
    };
    (
        text(entry, limits.max_entry_bytes),
        TxBytes {
            input: bytes(input, limits.max_input_bytes),
            sender: bytes(sender, limits.max_sender_bytes),
            context: bytes(context, limits.max_context_bytes),
            chain: ChainContext {
                chain_id: text(&chain.chain_id, limits.max_chain_id_bytes),
                ..chain.clone()
            },
        },
    )
}
