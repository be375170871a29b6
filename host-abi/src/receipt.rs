//! Execution receipts: everything that determined and resulted from a run.

use alloc::string::String;
use alloc::vec::Vec;

use crate::encoding::{self, DecodeError};
use crate::hash::{Hash32, RECEIPT_DOMAIN};
use crate::status::Status;

/// The receipt format this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

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
    /// SHA-256 of the module binary.
    pub code_hash: Hash32,
    /// The exported function that was called.
    pub entry: String,
    /// Opaque sender bytes, authenticated by the embedder.
    pub sender: Vec<u8>,
    /// Opaque context blob from the embedder (e.g. a block height).
    pub context: Vec<u8>,
    /// Transaction input.
    pub input: Vec<u8>,
    /// Fuel the transaction was allowed.
    pub fuel_limit: u64,
    /// Fuel the run consumed (equal to `fuel_limit` on `out_of_fuel`).
    pub fuel_used: u64,
    /// How the run ended.
    pub status: Status,
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
    /// # use verity_host_abi::{Hash32, Receipt, Status};
    /// # use verity_host_abi::hash::RECEIPT_DOMAIN;
    /// # let r = Receipt { format_version: 1, profile_hash: Hash32::default(),
    /// #     code_hash: Hash32::default(), entry: "run".into(), sender: vec![],
    /// #     context: vec![], input: vec![1, 2], fuel_limit: 10, fuel_used: 3,
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
