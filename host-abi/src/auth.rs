//! Who authorized a transaction (docs/auth.md): key accounts, the signed
//! transaction body and its hash, and the nonce keys that stop replay.
//!
//! A signed transaction's sender is the address of its key,
//! [`account_address`]; the signature is over [`TxBody::hash`], which
//! covers the network (a hash of the chain id), the profile, the sender,
//! the key, the nonce, the validity, the fuel limit and the payload. Each
//! nonce a sender uses is a state key of its own ([`nonce_key`]), so two
//! transactions of one sender touch different keys.
//!
//! ```
//! use verity_host_abi::auth::{Scheme, account_address};
//!
//! let a = account_address(Scheme::Ed25519, &[1; 32]);
//! let b = account_address(Scheme::P256, &[1; 32]);
//! assert_ne!(a, b, "the scheme is part of the address");
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use crate::contract::ContractId;
use crate::hash::Hash32;
use crate::receipt::Action;

/// Domain tag of a key account's address.
pub const ACCOUNT_DOMAIN: &[u8] = b"verity.account.v1\0";
/// Domain tag of a network id (the hash of a chain id).
pub const NETWORK_DOMAIN: &[u8] = b"verity.network.v1\0";
/// Domain tag of a transaction hash, the message a sender signs.
pub const TX_DOMAIN: &[u8] = b"verity.tx.v1\0";
/// The first byte of a nonce key (after code `0x00`, records `0x01` and
/// contract storage `0x02`).
pub const NONCE_KIND: u8 = 3;
/// Bytes of a nonce key: kind, sender, big-endian nonce.
pub const NONCE_KEY_BYTES: usize = 1 + 32 + 8;
/// Bytes of a signature of either scheme (`R ‖ S` for Ed25519, `r ‖ s`
/// for ECDSA).
pub const SIGNATURE_BYTES: usize = 64;

/// A signature scheme of key accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Ed25519, verified strictly (canonical `S`, no small-order key).
    Ed25519,
    /// ECDSA over P-256 with SHA-256 (passkeys), low `S` only; the key is
    /// a 33-byte compressed SEC1 point.
    P256,
}

impl Scheme {
    /// The encoding's tag: 1 Ed25519, 2 P-256.
    pub fn tag(self) -> u8 {
        match self {
            Scheme::Ed25519 => 1,
            Scheme::P256 => 2,
        }
    }

    /// The scheme of a tag.
    pub fn from_tag(tag: u8) -> Option<Scheme> {
        match tag {
            1 => Some(Scheme::Ed25519),
            2 => Some(Scheme::P256),
            _ => None,
        }
    }

    /// `ed25519` or `p256`.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Ed25519 => "ed25519",
            Scheme::P256 => "p256",
        }
    }

    /// The scheme called `name`.
    pub fn from_name(name: &str) -> Option<Scheme> {
        match name {
            "ed25519" => Some(Scheme::Ed25519),
            "p256" => Some(Scheme::P256),
            _ => None,
        }
    }

    /// Bytes of a public key of this scheme.
    pub fn key_bytes(self) -> usize {
        match self {
            Scheme::Ed25519 => 32,
            Scheme::P256 => 33,
        }
    }
}

/// The address of the account of `public_key` under `scheme`:
/// SHA-256(`ACCOUNT_DOMAIN` ‖ u8(scheme) ‖ u32le(len(key)) ‖ key). Its
/// domain differs from a contract address's, so no key has the address of
/// a contract.
pub fn account_address(scheme: Scheme, public_key: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(ACCOUNT_DOMAIN);
    h.update([scheme.tag()]);
    h.update((public_key.len() as u32).to_le_bytes());
    h.update(public_key);
    h.finalize().into()
}

/// The network id of the chain `chain_id`: SHA-256(`NETWORK_DOMAIN` ‖
/// chain id). A signature for one chain does not verify on another.
pub fn network_id(chain_id: &str) -> Hash32 {
    Hash32::of_tagged(NETWORK_DOMAIN, chain_id.as_bytes())
}

/// The state key recording that `sender` used `nonce`: `0x03 ‖ sender ‖
/// u64be(nonce)`. Its value is the `valid_until` of the transaction that
/// used it, as u64le.
pub fn nonce_key(sender: &[u8; 32], nonce: u64) -> [u8; NONCE_KEY_BYTES] {
    let mut k = [0u8; NONCE_KEY_BYTES];
    k[0] = NONCE_KIND;
    k[1..33].copy_from_slice(sender);
    k[33..].copy_from_slice(&nonce.to_be_bytes());
    k
}

/// How a receipt's sender was authorized.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Auth {
    /// The embedder asserts the sender (it authenticated it itself): the
    /// profile's `admit_asserted` decides whether such a transaction runs,
    /// unless its sender is empty (anonymous: it claims nobody, and always
    /// runs).
    #[default]
    Asserted,
    /// The sender signed the transaction.
    Signed(Signed),
}

/// A signed transaction's authorization: everything the signature covers
/// that the receipt does not hold elsewhere, and the signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signed {
    /// The scheme.
    pub scheme: Scheme,
    /// The public key ([`Scheme::key_bytes`] bytes); the sender is its
    /// [`account_address`].
    pub public_key: Vec<u8>,
    /// The nonce, unique per sender while the transaction is valid.
    pub nonce: u64,
    /// The last block height the transaction may run at.
    pub valid_until: u64,
    /// The signature over [`TxBody::hash`] ([`SIGNATURE_BYTES`] bytes).
    pub signature: Vec<u8>,
}

impl Signed {
    /// The key's account address, if `sender` is it; otherwise why not: a
    /// key of the wrong size for its scheme, or another address.
    pub fn sender_of(&self, sender: &[u8]) -> Result<[u8; 32], AuthRejection> {
        if self.public_key.len() != self.scheme.key_bytes() {
            return Err(AuthRejection::BadKey);
        }
        let address = account_address(self.scheme, &self.public_key);
        match sender == address.as_slice() {
            true => Ok(address),
            false => Err(AuthRejection::SenderNotKey),
        }
    }

    /// The nonce entry an admitted transaction of `sender` writes:
    /// [`nonce_key`] and `u64le(valid_until)`.
    pub fn nonce_entry(&self, sender: &[u8; 32]) -> ([u8; NONCE_KEY_BYTES], [u8; 8]) {
        (
            nonce_key(sender, self.nonce),
            self.valid_until.to_le_bytes(),
        )
    }
}

/// The contract and code hash a transaction with `action` signs: a call
/// signs the contract it names and no code (it brings none); a run,
/// deploy or upload signs the code it brings and no contract (a deploy's
/// address follows from its sender and salt).
pub fn signed_target(
    action: &Action,
    contract: ContractId,
    code_hash: Hash32,
) -> (ContractId, Hash32) {
    match action {
        Action::Call => (contract, Hash32::default()),
        _ => (ContractId::default(), code_hash),
    }
}

/// What a sender signs: the body of a transaction. Its hash is the
/// transaction's id and the signed message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxBody<'a> {
    /// [`network_id`] of the chain id.
    pub network: Hash32,
    /// The determinism profile's hash.
    pub profile_hash: Hash32,
    /// The sender's address.
    pub sender: [u8; 32],
    /// The scheme.
    pub scheme: Scheme,
    /// The public key.
    pub public_key: &'a [u8],
    /// The nonce.
    pub nonce: u64,
    /// The last height the transaction may run at.
    pub valid_until: u64,
    /// The fuel limit.
    pub fuel_limit: u64,
    /// Run, deploy (with its salt), call or upload.
    pub action: Action,
    /// The called contract (zero unless a call).
    pub contract: ContractId,
    /// The code brought (zero for a call, which names none).
    pub code_hash: Hash32,
    /// The entry.
    pub entry: &'a str,
    /// The input.
    pub input: &'a [u8],
}

impl TxBody<'_> {
    /// The body's bytes: network, profile hash, sender (32 bytes each),
    /// u8 scheme, bytes key, u64le nonce, valid until and fuel limit, the
    /// action as the receipt encodes it, contract, code hash (32 bytes
    /// each), string entry, bytes input (lengths u32le).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.input.len());
        out.extend_from_slice(&self.network.0);
        out.extend_from_slice(&self.profile_hash.0);
        out.extend_from_slice(&self.sender);
        out.push(self.scheme.tag());
        let bytes = |out: &mut Vec<u8>, b: &[u8]| {
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            out.extend_from_slice(b);
        };
        bytes(&mut out, self.public_key);
        for n in [self.nonce, self.valid_until, self.fuel_limit] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.push(self.action.tag());
        if let Action::Deploy { salt } = self.action {
            out.extend_from_slice(&salt.0);
        }
        out.extend_from_slice(&self.contract.0);
        out.extend_from_slice(&self.code_hash.0);
        bytes(&mut out, self.entry.as_bytes());
        bytes(&mut out, self.input);
        out
    }

    /// The transaction hash: SHA-256(`TX_DOMAIN` ‖ [`encode`](Self::encode)).
    pub fn hash(&self) -> Hash32 {
        Hash32::of_tagged(TX_DOMAIN, &self.encode())
    }
}

/// Why a signed transaction was not admitted (the reason of its
/// `rejected` status; the code is stable).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthRejection {
    /// The profile admits only signed transactions.
    Unsigned,
    /// The key is not one of its scheme, or the sender is not its address.
    BadKey,
    /// The sender is not the address of the key.
    SenderNotKey,
    /// The current height is past `valid_until`.
    Expired,
    /// `valid_until` is further ahead than the profile allows.
    TooFarAhead,
    /// The signature does not verify (or is malleable): signed for another
    /// network, profile, sender or payload, or not by this key.
    BadSignature,
    /// The sender used this nonce in a transaction that is still valid.
    NonceUsed,
    /// The fuel limit does not cover the checks.
    FuelTooLow,
}

impl AuthRejection {
    /// The stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            AuthRejection::Unsigned => "auth_unsigned",
            AuthRejection::BadKey => "auth_bad_key",
            AuthRejection::SenderNotKey => "auth_sender_not_key",
            AuthRejection::Expired => "auth_expired",
            AuthRejection::TooFarAhead => "auth_too_far_ahead",
            AuthRejection::BadSignature => "auth_bad_signature",
            AuthRejection::NonceUsed => "auth_nonce_used",
            AuthRejection::FuelTooLow => "auth_fuel_too_low",
        }
    }
}

impl core::fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let what = match self {
            AuthRejection::Unsigned => {
                "the profile admits no asserted sender: sign the transaction, or send it with no sender"
            }
            AuthRejection::BadKey => "the public key is not a key of its scheme",
            AuthRejection::SenderNotKey => "the sender is not the address of the signing key",
            AuthRejection::Expired => "the transaction's validity has passed",
            AuthRejection::TooFarAhead => {
                "the transaction is valid further ahead than the profile allows"
            }
            AuthRejection::BadSignature => {
                "the signature does not verify for this network, profile, sender and payload"
            }
            AuthRejection::NonceUsed => "the sender used this nonce in a transaction still valid",
            AuthRejection::FuelTooLow => "the fuel limit does not cover the authorization checks",
        };
        write!(f, "{}: {what}", self.code())
    }
}

/// The sender as a 32-byte address, if it is one.
pub fn sender_address(sender: &[u8]) -> Option<[u8; 32]> {
    sender.try_into().ok()
}

/// A short text of an [`Auth`] for people: `asserted` or
/// `signed <scheme> nonce <n> until <h>`.
pub fn describe(auth: &Auth) -> String {
    match auth {
        Auth::Asserted => String::from("asserted by the embedder"),
        Auth::Signed(s) => alloc::format!(
            "signed ({}) nonce {} valid until height {}",
            s.scheme.name(),
            s.nonce,
            s.valid_until
        ),
    }
}
