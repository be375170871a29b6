//! State: the backend an embedder provides, an in-memory one, and the
//! overlay that buffers a run's reads and writes.

use std::collections::BTreeMap;

use verity_host_abi::{ReadEntry, Receipt, WriteEntry};

/// Why a state backend could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The backend holds no answer for this key: a verification witness
    /// lacks it. Verification fails naming the key.
    #[error("the run read key {} which the witness does not hold", hex(.0))]
    NotInWitness(Vec<u8>),
    /// The backend itself failed (I/O, corruption, ...).
    #[error("state backend failed: {0}")]
    Backend(String),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The pre-state a transaction runs against. Embedders implement `get` for
/// their store; writes are the runtime's business: they come back in the
/// receipt and the embedder commits them on success.
///
/// A backend must be deterministic: the same key must give the same answer
/// for the whole run.
pub trait StateBackend {
    /// The value stored under `key`, or `None` if it is absent.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
}

/// A sorted in-memory key-value state.
///
/// ```
/// use verity_runtime::{MemoryState, StateBackend};
///
/// let mut state = MemoryState::default();
/// state.insert(b"k".to_vec(), b"v".to_vec());
/// assert_eq!(state.get(b"k").unwrap(), Some(b"v".to_vec()));
/// assert_eq!(state.get(b"x").unwrap(), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryState {
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemoryState {
    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.entries.insert(key, value);
    }

    /// Applies a write set: `Some` sets, `None` removes.
    pub fn apply(&mut self, writes: &[WriteEntry]) {
        for w in writes {
            match &w.value {
                Some(v) => {
                    self.entries.insert(w.key.clone(), v.clone());
                }
                None => {
                    self.entries.remove(&w.key);
                }
            }
        }
    }

    /// Commits a receipt's writes if, and only if, the run succeeded.
    /// Returns whether anything was committed.
    pub fn commit(&mut self, receipt: &Receipt) -> bool {
        if receipt.status.is_success() {
            self.apply(&receipt.writes);
        }
        receipt.status.is_success()
    }

    /// The entries, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl FromIterator<(Vec<u8>, Vec<u8>)> for MemoryState {
    fn from_iter<I: IntoIterator<Item = (Vec<u8>, Vec<u8>)>>(iter: I) -> Self {
        MemoryState {
            entries: iter.into_iter().collect(),
        }
    }
}

impl StateBackend for MemoryState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.entries.get(key).cloned())
    }
}

/// The state a receipt's read set proves: verification re-executes against
/// it, and any read outside it is [`StateError::NotInWitness`].
#[derive(Clone, Debug, Default)]
pub struct WitnessState {
    reads: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl WitnessState {
    /// The witness held by `receipt`'s read set.
    pub fn from_receipt(receipt: &Receipt) -> Self {
        WitnessState {
            reads: receipt
                .reads
                .iter()
                .map(|r| (r.key.clone(), r.value.clone()))
                .collect(),
        }
    }
}

impl StateBackend for WitnessState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.reads
            .get(key)
            .cloned()
            .ok_or_else(|| StateError::NotInWitness(key.to_vec()))
    }
}

/// A run's view of the state: the backend below, the run's own writes above.
///
/// Reads served by the backend are recorded once (the first value seen);
/// reads of keys the run itself wrote are served from the writes and not
/// recorded, because they reveal nothing about the pre-state.
pub(crate) struct Overlay {
    reads: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    write_bytes: u64,
    /// Key and value bytes of `reads`.
    read_bytes: u64,
    max_read_keys: usize,
    max_read_bytes: u64,
}

/// Why a read did not return a value.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The backend failed: not the guest's doing.
    State(StateError),
    /// The read set would exceed `max_read_keys` or `max_read_bytes`.
    ReadSetTooLarge,
}

impl Overlay {
    /// An empty overlay whose read set is capped as `limits` say.
    pub(crate) fn new(limits: &verity_host_abi::Limits) -> Self {
        Overlay {
            reads: BTreeMap::new(),
            writes: BTreeMap::new(),
            write_bytes: 0,
            read_bytes: 0,
            max_read_keys: limits.max_read_keys as usize,
            max_read_bytes: limits.max_read_bytes.into(),
        }
    }

    /// The current value of `key` as the run sees it. The key is copied
    /// only when a read from the backend has to be recorded.
    ///
    /// A read of a new key past `max_read_keys` fails before the backend
    /// is asked. A read whose key and value take the read set past
    /// `max_read_bytes` is recorded (so that a verifier re-executing from
    /// the receipt's read set sees the same value) and then fails: the read
    /// set exceeds the cap by at most one key and value.
    pub(crate) fn get(
        &mut self,
        backend: &dyn StateBackend,
        key: &[u8],
    ) -> Result<Option<&[u8]>, ReadError> {
        if let Some(v) = self.writes.get(key) {
            return Ok(v.as_deref());
        }
        // (`contains_key` then `get`, rather than returning from an
        // `if let`, which the borrow checker does not yet accept.)
        if self.reads.contains_key(key) {
            return Ok(self.reads.get(key).and_then(|v| v.as_deref()));
        }
        if self.reads.len() >= self.max_read_keys {
            return Err(ReadError::ReadSetTooLarge);
        }
        let value = backend.get(key).map_err(ReadError::State)?;
        self.read_bytes += (key.len() + value.as_ref().map_or(0, Vec::len)) as u64;
        let over = self.read_bytes > self.max_read_bytes;
        let value = self.reads.entry(key.to_vec()).or_insert(value).as_deref();
        if over {
            return Err(ReadError::ReadSetTooLarge);
        }
        Ok(value)
    }

    /// Total key and value bytes the write set would hold after setting `key`
    /// to a value of `value_len` bytes (`None` for a removal).
    pub(crate) fn write_bytes_after(&self, key: &[u8], value_len: Option<usize>) -> u64 {
        let entry = |v: Option<usize>| key.len() as u64 + v.unwrap_or(0) as u64;
        let old = self
            .writes
            .get(key)
            .map_or(0, |v| entry(v.as_ref().map(Vec::len)));
        self.write_bytes - old + entry(value_len)
    }

    /// Records a write (`None` removes); `total` is `write_bytes_after`.
    pub(crate) fn put(&mut self, key: Vec<u8>, value: Option<Vec<u8>>, total: u64) {
        self.writes.insert(key, value);
        self.write_bytes = total;
    }

    /// The read set and write set, sorted by key.
    pub(crate) fn into_sets(self) -> (Vec<ReadEntry>, Vec<WriteEntry>) {
        let reads = self
            .reads
            .into_iter()
            .map(|(key, value)| ReadEntry { key, value })
            .collect();
        let writes = self
            .writes
            .into_iter()
            .map(|(key, value)| WriteEntry { key, value })
            .collect();
        (reads, writes)
    }
}
