//! The overlay that buffers a run's reads and writes over the pre-state.

use std::collections::BTreeMap;

use verity_host_abi::contract::STORAGE_PREFIX_BYTES;
use verity_host_abi::{Limits, ReadEntry, TrapKind, WriteEntry};

use crate::state::{StateBackend, StateError};

/// A run's view of the state: the backend below, the run's own writes above.
///
/// Reads served by the backend are recorded once (the first value seen);
/// reads of keys the run itself wrote are served from the writes and not
/// recorded, because they reveal nothing about the pre-state.
///
/// Keys are state keys. The guest's keys carry the running contract's
/// 33-byte storage prefix, which the budgets do not count (a guest's
/// budget is the same at any address); the host's own reads and writes
/// (the contract record, stored code) count against no budget.
pub(crate) struct Overlay {
    reads: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    write_bytes: u64,
    /// Key and value bytes of `reads`.
    read_bytes: u64,
    max_read_keys: usize,
    max_read_bytes: u64,
    max_write_bytes: u64,
}

/// Bytes of a guest key's contract prefix, not counted by the budgets.
const PREFIX: usize = STORAGE_PREFIX_BYTES;

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
    pub(crate) fn new(limits: &Limits) -> Self {
        Overlay {
            reads: BTreeMap::new(),
            writes: BTreeMap::new(),
            write_bytes: 0,
            read_bytes: 0,
            max_read_keys: limits.max_read_keys as usize,
            max_read_bytes: limits.max_read_bytes.into(),
            max_write_bytes: limits.max_write_set_bytes.into(),
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
        let counted = key.len().saturating_sub(PREFIX);
        self.read_bytes += (counted + value.as_ref().map_or(0, Vec::len)) as u64;
        let over = self.read_bytes > self.max_read_bytes;
        let value = self.reads.entry(key.to_vec()).or_insert(value).as_deref();
        if over {
            return Err(ReadError::ReadSetTooLarge);
        }
        Ok(value)
    }

    /// Records a write (`None` removes), or fails with `write_set_too_large`
    /// if the write set's key and value bytes would exceed
    /// `max_write_set_bytes` (rewriting a key counts only its latest value).
    pub(crate) fn put(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) -> Result<(), TrapKind> {
        let counted = key.len().saturating_sub(PREFIX) as u64;
        let entry = |v: Option<usize>| counted + v.unwrap_or(0) as u64;
        let old = self
            .writes
            .get(&key)
            .map_or(0, |v| entry(v.as_ref().map(Vec::len)));
        let total = self.write_bytes - old + entry(value.as_ref().map(Vec::len));
        if total > self.max_write_bytes {
            return Err(TrapKind::WriteSetTooLarge);
        }
        self.writes.insert(key, value);
        self.write_bytes = total;
        Ok(())
    }

    /// The host's own read of `key` (a contract record): recorded like any
    /// read, counted against no budget.
    pub(crate) fn get_system(
        &mut self,
        backend: &dyn StateBackend,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(v) = self.writes.get(key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.reads.get(key) {
            return Ok(v.clone());
        }
        let value = backend.get(key)?;
        self.reads.insert(key.to_vec(), value.clone());
        Ok(value)
    }

    /// The host's own write (stored code, a contract record): counted
    /// against no budget.
    pub(crate) fn put_system(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
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
