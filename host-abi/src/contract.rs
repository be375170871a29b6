//! Contracts: their addresses, how the state's key space is laid out, and
//! the contract record (docs/state.md).
//!
//! The state is one key-value map under one Merkle root. Its keys begin
//! with a one-byte kind:
//!
//! | key | value |
//! |---|---|
//! | `0x00 ‖ code_hash` (33 bytes) | the module's bytes |
//! | `0x01 ‖ address` (33 bytes) | the [`ContractRecord`] |
//! | `0x02 ‖ address ‖ key` | the contract's storage under `key` |
//!
//! A guest names storage keys relative to itself; the host prefixes them
//! with `0x02 ‖ address` of the running contract, so no bytes a guest
//! passes can reach another contract's storage, a record or code.
//!
//! ```
//! use verity_host_abi::Hash32;
//! use verity_host_abi::contract::{ContractId, storage_key};
//!
//! let a = ContractId::deployed(b"alice", &Hash32([7; 32]));
//! let b = ContractId::deployed(b"bob", &Hash32([7; 32]));
//! assert_ne!(a, b);
//! // The same guest key lands in different places for different contracts.
//! assert_ne!(storage_key(&a, b"balance"), storage_key(&b, b"balance"));
//! assert_eq!(&storage_key(&a, b"balance")[33..], b"balance");
//! ```

use core::fmt;

use crate::hash::Hash32;

/// The first byte of a code key.
pub const CODE_KIND: u8 = 0;
/// The first byte of a contract record's key.
pub const RECORD_KIND: u8 = 1;
/// The first byte of a contract storage key.
pub const STORAGE_KIND: u8 = 2;

/// Domain tag of a deployed contract's address.
pub const DEPLOY_DOMAIN: &[u8] = b"verity.contract.deploy.v1\0";
/// Domain tag of a one-shot run's address.
pub const RUN_DOMAIN: &[u8] = b"verity.contract.run.v1\0";

/// A contract's address: 32 bytes, derived deterministically
/// ([`ContractId::deployed`], [`ContractId::one_shot`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ContractId(pub [u8; 32]);

impl ContractId {
    /// The address a deploy by `deployer` with `salt` creates:
    /// SHA-256(`DEPLOY_DOMAIN` ‖ u32le(len(deployer)) ‖ deployer ‖ salt).
    /// It does not depend on the code, so it is known before deployment
    /// (as Soroban's and CosmWasm's `instantiate2` addresses are).
    pub fn deployed(deployer: &[u8], salt: &Hash32) -> ContractId {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(DEPLOY_DOMAIN);
        h.update((deployer.len() as u32).to_le_bytes());
        h.update(deployer);
        h.update(salt.0);
        ContractId(h.finalize().into())
    }

    /// The address a one-shot run of the module `code_hash` runs at:
    /// SHA-256(`RUN_DOMAIN` ‖ code_hash). Every one-shot run of one module
    /// shares this storage; no other module reaches it.
    pub fn one_shot(code_hash: &Hash32) -> ContractId {
        ContractId(Hash32::of_tagged(RUN_DOMAIN, &code_hash.0).0)
    }

    /// Parses exactly 64 hex digits (an optional `0x` before them).
    ///
    /// ```
    /// use verity_host_abi::contract::ContractId;
    /// let id = ContractId([0xab; 32]);
    /// assert_eq!(ContractId::from_hex(&id.to_string()), Some(id));
    /// assert_eq!(ContractId::from_hex("ab"), None);
    /// ```
    pub fn from_hex(s: &str) -> Option<ContractId> {
        Hash32::from_hex(s.strip_prefix("0x").unwrap_or(s)).map(|h| ContractId(h.0))
    }
}

impl fmt::Debug for ContractId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContractId({self})")
    }
}

impl fmt::Display for ContractId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// The key of the code whose SHA-256 is `code_hash`.
pub fn code_key(code_hash: &Hash32) -> [u8; 33] {
    kind_key(CODE_KIND, &code_hash.0)
}

/// The key of `contract`'s record.
pub fn record_key(contract: &ContractId) -> [u8; 33] {
    kind_key(RECORD_KIND, &contract.0)
}

/// Bytes of a storage key's prefix (`0x02 ‖ address`).
pub const STORAGE_PREFIX_BYTES: usize = 33;

/// The prefix of every storage key of `contract`.
pub fn storage_prefix(contract: &ContractId) -> [u8; STORAGE_PREFIX_BYTES] {
    kind_key(STORAGE_KIND, &contract.0)
}

/// The state key of `contract`'s storage key `key`.
#[cfg(feature = "alloc")]
pub fn storage_key(contract: &ContractId, key: &[u8]) -> alloc::vec::Vec<u8> {
    let mut out = alloc::vec::Vec::with_capacity(STORAGE_PREFIX_BYTES + key.len());
    out.extend_from_slice(&storage_prefix(contract));
    out.extend_from_slice(key);
    out
}

fn kind_key(kind: u8, id: &[u8; 32]) -> [u8; 33] {
    let mut k = [0u8; 33];
    k[0] = kind;
    k[1..].copy_from_slice(id);
    k
}

/// What the state holds for a contract: its code, who deployed it (the
/// admin an upgrade will need), and its last code changes.
///
/// Encoded as `0x01 ‖ code_hash ‖ u32le(len(admin)) ‖ admin` while the
/// contract runs the code it was deployed with, and as `0x02 ‖ code_hash ‖
/// u32le(len(admin)) ‖ admin ‖ u8(n) ‖ n × (u64le(height) ‖ code_hash)`
/// (1 ≤ n ≤ [`ContractRecord::MAX_HISTORY`], oldest first) once it has
/// changed its code: one encoding per record.
///
/// ```
/// use verity_host_abi::Hash32;
/// use verity_host_abi::contract::{CodeChange, ContractRecord};
///
/// let mut r = ContractRecord::new(Hash32::of(b"code"), b"alice".to_vec());
/// assert_eq!(ContractRecord::decode(&r.encode()), Some(r.clone()));
/// assert_eq!(r.encode()[0], 1);
/// r.change_code(7, Hash32::of(b"new code"));
/// assert_eq!(r.code_hash, Hash32::of(b"new code"));
/// assert_eq!(r.history, [CodeChange { height: 7, code_hash: Hash32::of(b"new code") }]);
/// assert_eq!(ContractRecord::decode(&r.encode()), Some(r.clone()));
/// assert_eq!(r.encode()[0], 2);
/// assert_eq!(ContractRecord::decode(b"junk"), None);
/// ```
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractRecord {
    /// SHA-256 of the module the contract runs.
    pub code_hash: Hash32,
    /// The deployer.
    pub admin: alloc::vec::Vec<u8>,
    /// The last code changes, oldest first (at most
    /// [`ContractRecord::MAX_HISTORY`]; empty for a contract running the
    /// code it was deployed with).
    pub history: alloc::vec::Vec<CodeChange>,
}

/// One code change of a contract (`update_current_contract_code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeChange {
    /// The block height of the transaction that made it.
    pub height: u64,
    /// The code the contract runs since.
    pub code_hash: Hash32,
}

#[cfg(feature = "alloc")]
impl ContractRecord {
    /// The version byte of a record with no code change.
    pub const VERSION: u8 = 1;
    /// The version byte of a record with code changes.
    pub const VERSION_WITH_HISTORY: u8 = 2;
    /// How many code changes a record keeps (the oldest go first).
    pub const MAX_HISTORY: usize = 8;

    /// The record of a contract just deployed with `code_hash` by `admin`.
    pub fn new(code_hash: Hash32, admin: alloc::vec::Vec<u8>) -> ContractRecord {
        ContractRecord {
            code_hash,
            admin,
            history: alloc::vec::Vec::new(),
        }
    }

    /// Makes the contract run `code_hash` from now on, noting the change
    /// at `height` (and forgetting the oldest beyond
    /// [`MAX_HISTORY`](Self::MAX_HISTORY)).
    pub fn change_code(&mut self, height: u64, code_hash: Hash32) {
        if self.history.len() == Self::MAX_HISTORY {
            self.history.remove(0);
        }
        self.history.push(CodeChange { height, code_hash });
        self.code_hash = code_hash;
    }

    /// The canonical encoding.
    pub fn encode(&self) -> alloc::vec::Vec<u8> {
        let mut out =
            alloc::vec::Vec::with_capacity(38 + self.admin.len() + 40 * self.history.len());
        let version = if self.history.is_empty() {
            Self::VERSION
        } else {
            Self::VERSION_WITH_HISTORY
        };
        out.push(version);
        out.extend_from_slice(&self.code_hash.0);
        out.extend_from_slice(&(self.admin.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.admin);
        if !self.history.is_empty() {
            out.push(self.history.len() as u8);
            for c in &self.history {
                out.extend_from_slice(&c.height.to_le_bytes());
                out.extend_from_slice(&c.code_hash.0);
            }
        }
        out
    }

    /// Decodes a canonical encoding, or `None`.
    pub fn decode(bytes: &[u8]) -> Option<ContractRecord> {
        let (&version, rest) = bytes.split_first()?;
        if (version != Self::VERSION && version != Self::VERSION_WITH_HISTORY) || rest.len() < 36 {
            return None;
        }
        let (hash, rest) = rest.split_at(32);
        let (len, rest) = rest.split_at(4);
        let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
        let (admin, rest) = (rest.get(..len)?, rest.get(len..)?);
        let mut history = alloc::vec::Vec::new();
        if version == Self::VERSION_WITH_HISTORY {
            let (&n, mut changes) = rest.split_first()?;
            let n = usize::from(n);
            if n == 0 || n > Self::MAX_HISTORY || changes.len() != n * 40 {
                return None;
            }
            while let Some((change, more)) = changes.split_at_checked(40) {
                let (height, hash) = change.split_at(8);
                history.push(CodeChange {
                    height: u64::from_le_bytes(height.try_into().ok()?),
                    code_hash: Hash32(hash.try_into().ok()?),
                });
                changes = more;
            }
        } else if !rest.is_empty() {
            return None;
        }
        Some(ContractRecord {
            code_hash: Hash32(hash.try_into().ok()?),
            admin: admin.to_vec(),
            history,
        })
    }
}
