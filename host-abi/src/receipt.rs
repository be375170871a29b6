//! Execution receipts: everything that determined and resulted from a run.

use alloc::string::String;
use alloc::vec::Vec;

use crate::contract::ContractId;
use crate::encoding::{self, DecodeError};
use crate::hash::{Hash32, RECEIPT_DOMAIN};
use crate::status::Status;

/// The receipt format this crate writes and reads.
pub const FORMAT_VERSION: u32 = 2;

/// What a transaction did with its code (docs/receipt.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Ran a module once as the contract at
    /// [`ContractId::one_shot`] of its code hash.
    Run,
    /// Stored the code, created the contract at
    /// [`ContractId::deployed`] of the sender and `salt`, and ran the entry
    /// as its constructor (none when the entry is empty).
    Deploy {
        /// The deployer's salt.
        salt: Hash32,
    },
    /// Called an existing contract.
    Call,
}

impl Action {
    /// `run`, `deploy` or `call`.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Run => "run",
            Action::Deploy { .. } => "deploy",
            Action::Call => "call",
        }
    }

    /// The encoding's tag: 0 run, 1 deploy, 2 call.
    pub fn tag(&self) -> u8 {
        match self {
            Action::Run => 0,
            Action::Deploy { .. } => 1,
            Action::Call => 2,
        }
    }
}

/// A key the run read from the pre-state, with the value it saw.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReadEntry {
    /// The storage key.
    pub key: Vec<u8>,
    /// The value seen, or `None` when the key was absent.
    pub value: Option<Vec<u8>>,
}

/// A change the run made to the state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WriteEntry {
    /// The storage key.
    pub key: Vec<u8>,
    /// The new value, or `None` when the key was removed.
    pub value: Option<Vec<u8>>,
}

/// An event the guest emitted.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    /// What the event is about.
    pub topic: Vec<u8>,
    /// Its payload.
    pub data: Vec<u8>,
}

/// The canonical record of one transaction.
///
/// Invariants (checked by [`Receipt::decode`], kept by the runtime):
/// `reads` and `writes` are sorted by key with no key twice; on any status
/// but `success`, `writes`, `events` and `output` are empty.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Receipt {
    /// Receipt format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Hash of the determinism profile the run used.
    pub profile_hash: Hash32,
    /// Run, deploy or call.
    pub action: Action,
    /// The contract that ran (the address a deploy created).
    pub contract: ContractId,
    /// SHA-256 of the module binary (zero when a call names no contract).
    pub code_hash: Hash32,
    /// The exported function that was called.
    pub entry: String,
    /// Opaque sender bytes, authenticated by the embedder.
    pub sender: Vec<u8>,
    /// Opaque context blob from the embedder.
    pub context: Vec<u8>,
    /// The block height the embedder ran the transaction at.
    pub height: u64,
    /// The block time the embedder ran the transaction at (seconds since
    /// the Unix epoch, by convention).
    pub time: u64,
    /// The chain the transaction belongs to.
    pub chain_id: String,
    /// Transaction input.
    pub input: Vec<u8>,
    /// Fuel the transaction was allowed.
    pub fuel_limit: u64,
    /// Fuel the run consumed (equal to `fuel_limit` on `out_of_fuel`).
    pub fuel_used: u64,
    /// How the run ended.
    pub status: Status,
    /// The state root before the transaction.
    pub pre_state_root: Hash32,
    /// The state root after it: `pre_state_root` unless it succeeded.
    pub post_state_root: Hash32,
    /// Keys read from the pre-state, sorted by key.
    pub reads: Vec<ReadEntry>,
    /// State changes, sorted by key; empty unless the run succeeded.
    pub writes: Vec<WriteEntry>,
    /// Events in emission order; empty unless the run succeeded.
    pub events: Vec<Event>,
    /// The output; empty unless the run succeeded.
    pub output: Vec<u8>,
}

impl Receipt {
    /// The canonical encoding (docs/receipt.md): one byte string per receipt.
    pub fn encode(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes a canonical encoding, refusing anything that is not one.
    pub fn decode(bytes: &[u8]) -> Result<Receipt, DecodeError> {
        encoding::decode(bytes)
    }

    /// SHA-256 over [`RECEIPT_DOMAIN`] and the canonical encoding, hashed
    /// as it is encoded (no intermediate buffer).
    ///
    /// ```
    /// # use verity_host_abi::{Action, ContractId, Hash32, Receipt, Status};
    /// # use verity_host_abi::hash::RECEIPT_DOMAIN;
    /// # let r = Receipt { format_version: 2, profile_hash: Hash32::default(),
    /// #     action: Action::Run, contract: ContractId::default(),
    /// #     pre_state_root: Hash32::default(), post_state_root: Hash32::default(),
    /// #     code_hash: Hash32::default(), entry: "run".into(), sender: vec![],
    /// #     context: vec![], height: 0, time: 0, chain_id: String::new(), input: vec![1, 2], fuel_limit: 10, fuel_used: 3,
    /// #     status: Status::Success, reads: vec![], writes: vec![], events: vec![],
    /// #     output: vec![] };
    /// assert_eq!(r.hash(), Hash32::of_tagged(RECEIPT_DOMAIN, &r.encode()));
    /// ```
    pub fn hash(&self) -> Hash32 {
        let mut sink = encoding::HashSink::new(RECEIPT_DOMAIN);
        encoding::encode_into(self, &mut sink);
        Hash32(sink.finish())
    }

    /// The value this receipt saw for `key` in the pre-state: `None` if the
    /// run did not read the key, `Some(None)` if it read it and it was absent.
    pub fn read_value(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.reads
            .binary_search_by(|r| r.key.as_slice().cmp(key))
            .ok()
            .map(|i| self.reads[i].value.as_deref())
    }
}
