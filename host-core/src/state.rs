//! State: the backend an embedder provides, an in-memory one, and the
//! witness a verifier re-executes against.

use std::collections::BTreeMap;

use verity_host_abi::{Receipt, WriteEntry};

/// Why a state backend could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The backend holds no answer for this key: a verification witness
    /// lacks it. Verification fails naming the key.
    #[error("the run read key {} which the witness does not hold", hex(.0))]
    NotInWitness(Vec<u8>),
    /// The backend itself failed (I/O, corruption, ...): its own error is
    /// the source.
    ///
    /// ```
    /// use std::error::Error;
    /// use verity_host_core::StateError;
    ///
    /// let io = std::io::Error::other("disk on fire");
    /// let e = StateError::Backend(Box::new(io));
    /// assert_eq!(e.to_string(), "state backend failed");
    /// assert_eq!(e.source().unwrap().to_string(), "disk on fire");
    /// ```
    #[error("state backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
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

/// A borrowed backend is a backend: the runtime's host holds
/// `&dyn StateBackend`, the SDK's test environment its own state.
impl<T: StateBackend + ?Sized> StateBackend for &T {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        (**self).get(key)
    }
}

/// A sorted in-memory key-value state.
///
/// ```
/// use verity_host_core::{MemoryState, StateBackend};
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

    /// The value stored under `key`.
    pub fn value(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries.get(key).map(Vec::as_slice)
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
