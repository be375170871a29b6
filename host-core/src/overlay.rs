//! The overlay that buffers a run's reads and writes over the pre-state.

use std::collections::BTreeMap;

use verity_host_abi::contract::STORAGE_PREFIX_BYTES;
use verity_host_abi::{Limits, ReadEntry, TrapKind, WriteEntry};

use crate::state::{StateError, StateView};

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
    writes: BTreeMap<Vec<u8>, Written>,
    /// The sum of the writes' `counted`.
    write_bytes: u64,
    /// Key and value bytes of `reads`.
    read_bytes: u64,
    max_read_keys: usize,
    max_read_bytes: u64,
    max_write_bytes: u64,
    /// The undo journal: for each write made while a savepoint is open, the
    /// key and what it held before (`None`: not written yet). Empty when no
    /// savepoint is open, so a run without calls journals nothing.
    journal: Vec<(Vec<u8>, Option<Written>)>,
    /// Open savepoints, innermost last.
    savepoints: Vec<Savepoint>,
}

/// Where a frame's writes begin: rolling back to it undoes every write
/// after it, and nothing before.
#[derive(Clone, Copy, Debug)]
struct Savepoint {
    journal: usize,
    write_bytes: u64,
}

/// A key's latest write, and what it counts against the write budget: the
/// bytes of the guest's latest write of the key (0 if only the host wrote
/// it), so that rewriting a key replaces exactly what it counted.
#[derive(Clone)]
struct Written {
    value: Option<Vec<u8>>,
    counted: u64,
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
            journal: Vec::new(),
            savepoints: Vec::new(),
        }
    }

    /// Opens a savepoint (a callee's frame begins): a later
    /// [`rollback`](Self::rollback) undoes the writes made after it.
    pub(crate) fn savepoint(&mut self) {
        self.savepoints.push(Savepoint {
            journal: self.journal.len(),
            write_bytes: self.write_bytes,
        });
    }

    /// Closes the innermost savepoint keeping its writes (the frame
    /// succeeded): they now belong to the enclosing frame, whose own
    /// rollback would still undo them.
    pub(crate) fn release(&mut self) {
        self.savepoints.pop();
        if self.savepoints.is_empty() {
            self.journal.clear();
        }
    }

    /// Closes the innermost savepoint undoing every write made since it
    /// opened (the frame failed). Reads stay recorded: they were observed,
    /// and a verifier re-executing the failed frame reads them again.
    pub(crate) fn rollback(&mut self) {
        let Some(point) = self.savepoints.pop() else {
            return;
        };
        while self.journal.len() > point.journal {
            let Some((key, before)) = self.journal.pop() else {
                break;
            };
            match before {
                Some(w) => {
                    self.writes.insert(key, w);
                }
                None => {
                    self.writes.remove(&key);
                }
            }
        }
        self.write_bytes = point.write_bytes;
    }

    /// Records `key`'s current write in the journal if a savepoint is
    /// open.
    fn remember(&mut self, key: &[u8]) {
        if !self.savepoints.is_empty() {
            let before = self.writes.get(key).cloned();
            self.journal.push((key.to_vec(), before));
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
        backend: &dyn StateView,
        key: &[u8],
    ) -> Result<Option<&[u8]>, ReadError> {
        if let Some(w) = self.writes.get(key) {
            return Ok(w.value.as_deref());
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
        let counted =
            (key.len().saturating_sub(PREFIX) + value.as_ref().map_or(0, Vec::len)) as u64;
        let old = self.writes.get(&key).map_or(0, |w| w.counted);
        let total = self.write_bytes - old + counted;
        if total > self.max_write_bytes {
            return Err(TrapKind::WriteSetTooLarge);
        }
        self.remember(&key);
        self.writes.insert(key, Written { value, counted });
        self.write_bytes = total;
        Ok(())
    }

    /// The host's own read of `key` (a contract record): recorded like any
    /// read, counted against no budget.
    pub(crate) fn get_system(
        &mut self,
        backend: &dyn StateView,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(w) = self.writes.get(key) {
            return Ok(w.value.clone());
        }
        if let Some(v) = self.reads.get(key) {
            return Ok(v.clone());
        }
        let value = backend.get(key)?;
        self.reads.insert(key.to_vec(), value.clone());
        Ok(value)
    }

    /// The run's own latest write of `key`, if it wrote it: `Some(None)`
    /// for a removal. Records nothing.
    /// The value of `key` as the run last saw it, by a write or a recorded
    /// read; `None` if it has done neither.
    pub(crate) fn seen(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.written(key)
            .or_else(|| self.reads.get(key).map(|v| v.as_deref()))
    }

    pub(crate) fn written(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.writes.get(key).map(|w| w.value.as_deref())
    }

    /// The host's own write (stored code, a contract record): counted
    /// against no budget.
    pub(crate) fn put_system(&mut self, key: Vec<u8>, value: Vec<u8>) {
        // What a guest's write of the key counted stays counted.
        let counted = self.writes.get(&key).map_or(0, |w| w.counted);
        self.remember(&key);
        self.writes.insert(
            key,
            Written {
                value: Some(value),
                counted,
            },
        );
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
            .map(|(key, w)| WriteEntry {
                key,
                value: w.value,
            })
            .collect();
        (reads, writes)
    }
}

#[cfg(test)]
mod tests {
    //! The overlay against a naive model of its rules: a run sees its own
    //! writes over the pre-state; a read set records the first backend
    //! value of each key the run read before writing it; the read budget
    //! refuses a new key past `max_read_keys` before asking the backend, and
    //! a value past `max_read_bytes` after recording it; the write budget
    //! counts each key's latest value and refuses a write past it, leaving
    //! the sets as they were; the host's own reads and writes count against
    //! nothing. Budgets count guest keys without their contract prefix.
    //! Savepoints nest: a rollback restores the writes (and the write
    //! budget) to what they were when its savepoint opened, a release keeps
    //! them, and neither touches the read set.

    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use verity_host_abi::{Limits, TrapKind};

    use super::{Overlay, PREFIX, ReadError};
    use crate::state::{MemoryState, StateView};

    #[derive(Clone, Debug)]
    enum Op {
        Get(u8),
        Put(u8, Option<Vec<u8>>),
        GetSystem(u8),
        PutSystem(u8, Vec<u8>),
        Savepoint,
        Release,
        Rollback,
    }

    /// A guest key: the 33-byte prefix, then one byte of a small key space
    /// (so that keys repeat).
    fn key(k: u8) -> Vec<u8> {
        let mut key = vec![2u8; PREFIX];
        key.push(k % 8);
        key
    }

    fn op() -> impl Strategy<Value = Op> {
        let value = prop::collection::vec(any::<u8>(), 0..24);
        prop_oneof![
            4 => any::<u8>().prop_map(Op::Get),
            3 => (any::<u8>(), prop::option::of(value.clone())).prop_map(|(k, v)| Op::Put(k, v)),
            1 => any::<u8>().prop_map(Op::GetSystem),
            1 => (any::<u8>(), value).prop_map(|(k, v)| Op::PutSystem(k, v)),
            1 => Just(Op::Savepoint),
            1 => Just(Op::Release),
            1 => Just(Op::Rollback),
        ]
    }

    /// A key-value map of the model: a key to its value, `None` for a removal.
    type Entries = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

    /// The rules, written as plainly as possible.
    #[derive(Default)]
    struct Model {
        reads: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
        writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
        /// Which writes the guest made (the host's count against nothing).
        guest_written: BTreeMap<Vec<u8>, u64>,
        read_bytes: u64,
        /// The writes when each open savepoint opened, innermost last.
        savepoints: Vec<(Entries, BTreeMap<Vec<u8>, u64>)>,
    }

    #[derive(Debug, PartialEq)]
    enum Seen {
        Value(Option<Vec<u8>>),
        ReadSetTooLarge,
        WriteSetTooLarge,
        Done,
    }

    impl Model {
        fn step(&mut self, pre: &BTreeMap<Vec<u8>, Vec<u8>>, limits: &Limits, op: &Op) -> Seen {
            match op {
                Op::Get(k) => {
                    let key = key(*k);
                    if let Some(v) = self.writes.get(&key) {
                        return Seen::Value(v.clone());
                    }
                    if let Some(v) = self.reads.get(&key) {
                        return Seen::Value(v.clone());
                    }
                    if self.reads.len() >= limits.max_read_keys as usize {
                        return Seen::ReadSetTooLarge;
                    }
                    let v = pre.get(&key).cloned();
                    self.read_bytes += (key.len() - PREFIX + v.as_ref().map_or(0, Vec::len)) as u64;
                    self.reads.insert(key, v.clone());
                    if self.read_bytes > u64::from(limits.max_read_bytes) {
                        return Seen::ReadSetTooLarge;
                    }
                    Seen::Value(v)
                }
                Op::Put(k, v) => {
                    let key = key(*k);
                    let size = (key.len() - PREFIX + v.as_ref().map_or(0, Vec::len)) as u64;
                    let mut sizes = self.guest_written.clone();
                    sizes.insert(key.clone(), size);
                    if sizes.values().sum::<u64>() > u64::from(limits.max_write_set_bytes) {
                        return Seen::WriteSetTooLarge;
                    }
                    self.guest_written = sizes;
                    self.writes.insert(key, v.clone());
                    Seen::Done
                }
                Op::GetSystem(k) => {
                    let key = key(*k);
                    if let Some(v) = self.writes.get(&key).or_else(|| self.reads.get(&key)) {
                        return Seen::Value(v.clone());
                    }
                    let v = pre.get(&key).cloned();
                    self.reads.insert(key, v.clone());
                    Seen::Value(v)
                }
                Op::PutSystem(k, v) => {
                    let key = key(*k);
                    self.writes.insert(key, Some(v.clone()));
                    Seen::Done
                }
                Op::Savepoint => {
                    self.savepoints
                        .push((self.writes.clone(), self.guest_written.clone()));
                    Seen::Done
                }
                Op::Release => {
                    self.savepoints.pop();
                    Seen::Done
                }
                Op::Rollback => {
                    if let Some((writes, guest_written)) = self.savepoints.pop() {
                        self.writes = writes;
                        self.guest_written = guest_written;
                    }
                    Seen::Done
                }
            }
        }
    }

    fn run(overlay: &mut Overlay, backend: &MemoryState, op: &Op) -> Seen {
        match op {
            Op::Get(k) => match overlay.get(backend, &key(*k)) {
                Ok(v) => Seen::Value(v.map(<[u8]>::to_vec)),
                Err(ReadError::ReadSetTooLarge) => Seen::ReadSetTooLarge,
                Err(ReadError::State(e)) => panic!("a memory state failed: {e}"),
            },
            Op::Put(k, v) => match overlay.put(key(*k), v.clone()) {
                Ok(()) => Seen::Done,
                Err(TrapKind::WriteSetTooLarge) => Seen::WriteSetTooLarge,
                Err(other) => panic!("unexpected trap {other:?}"),
            },
            Op::GetSystem(k) => Seen::Value(overlay.get_system(backend, &key(*k)).unwrap()),
            Op::PutSystem(k, v) => {
                overlay.put_system(key(*k), v.clone());
                Seen::Done
            }
            Op::Savepoint => {
                overlay.savepoint();
                Seen::Done
            }
            Op::Release => {
                overlay.release();
                Seen::Done
            }
            Op::Rollback => {
                overlay.rollback();
                Seen::Done
            }
        }
    }

    proptest! {
        #[test]
        fn the_overlay_follows_the_model(
            pre in prop::collection::btree_map(0u8..8, prop::collection::vec(any::<u8>(), 0..24), 0..8),
            ops in prop::collection::vec(op(), 0..60),
            max_read_keys in 0u32..6,
            max_read_bytes in 0u32..64,
            max_write_set_bytes in 0u32..96,
        ) {
            let limits = Limits { max_read_keys, max_read_bytes, max_write_set_bytes, ..Limits::default() };
            let pre: BTreeMap<Vec<u8>, Vec<u8>> = pre.into_iter().map(|(k, v)| (key(k), v)).collect();
            let backend: MemoryState = pre.clone().into_iter().collect();
            prop_assert!(backend.get(&key(0)).is_ok());
            let mut overlay = Overlay::new(&limits);
            let mut model = Model::default();
            for op in &ops {
                let want = model.step(&pre, &limits, op);
                let got = run(&mut overlay, &backend, op);
                prop_assert_eq!(&got, &want, "{:?}", op);
            }
            let (reads, writes) = overlay.into_sets();
            let reads: BTreeMap<_, _> = reads.into_iter().map(|r| (r.key, r.value)).collect();
            let writes: BTreeMap<_, _> = writes.into_iter().map(|w| (w.key, w.value)).collect();
            prop_assert_eq!(reads, model.reads);
            prop_assert_eq!(writes, model.writes);
        }
    }
}
