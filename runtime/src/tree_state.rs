//! A state committed by the state tree (docs/state-tree.md): values by key
//! and the Merkle tree over them, so that every committed transaction has a
//! pre-state root, a post-state root and a witness that lets anyone check
//! the transition with no database ([`Transition::check`]).
//!
//! Receipts do not carry the roots yet (receipt v2, issue 13); this is the
//! state side of it, in memory.

use std::collections::HashMap;

use verity_host_abi::{Hash32, Receipt};
use verity_state_tree::{TransitionError, Tree, check_transition, key_path, value_hash};

use crate::state::{StateBackend, StateError};

/// What committing one receipt did to a [`TreeState`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The root before the transaction.
    pub pre_root: Hash32,
    /// The root after it (the pre-state root if the run failed: a failed
    /// run changes nothing).
    pub post_root: Hash32,
    /// The proof of every key the transaction read or wrote, against
    /// `pre_root` (docs/state-tree.md's encoding).
    pub witness: Vec<u8>,
}

/// Why a transition does not follow from a receipt.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransitionCheckError {
    /// The witness or a read does not check against the pre-state root.
    #[error(transparent)]
    Witness(#[from] TransitionError),
    /// The writes lead to another root than the one claimed.
    #[error("the writes lead to root {computed}, not the claimed {claimed}")]
    PostRoot {
        /// The root the witness and the writes give.
        computed: Hash32,
        /// The root claimed.
        claimed: Hash32,
    },
}

impl Transition {
    /// Checks, with no state, that `receipt`'s reads hold in the state of
    /// `pre_root` and that its writes (none unless it succeeded) lead to
    /// `post_root`.
    pub fn check(&self, receipt: &Receipt) -> Result<(), TransitionCheckError> {
        let reads: Vec<(&[u8], Option<&[u8]>)> = receipt
            .reads
            .iter()
            .map(|r| (r.key.as_slice(), r.value.as_deref()))
            .collect();
        let writes: Vec<(&[u8], Option<&[u8]>)> = committed(receipt)
            .map(|w| (w.key.as_slice(), w.value.as_deref()))
            .collect();
        let computed = Hash32(check_transition(
            &self.pre_root.0,
            &self.witness,
            &reads,
            &writes,
        )?);
        if computed != self.post_root {
            return Err(TransitionCheckError::PostRoot {
                computed,
                claimed: self.post_root,
            });
        }
        Ok(())
    }
}

/// The writes a receipt commits: all of them if it succeeded, none if not.
fn committed(receipt: &Receipt) -> impl Iterator<Item = &verity_host_abi::WriteEntry> {
    receipt
        .writes
        .iter()
        .filter(|_| receipt.status.is_success())
}

/// Values by key, and the state tree over them.
///
/// ```
/// use verity_runtime::{Profile, Runtime, Transaction, TreeState};
///
/// let runtime = Runtime::new(Profile::default())?;
/// let wasm = wat::parse_str(r#"(module
///   (import "verity" "storage_write" (func $w (param i32 i32 i32 i32)))
///   (memory (export "memory") 1)
///   (data (i32.const 0) "keyvalue")
///   (func (export "run") (call $w (i32.const 0) (i32.const 3) (i32.const 3) (i32.const 5))))"#)?;
/// let mut state = TreeState::default();
/// let receipt = runtime.execute(&wasm, &Transaction::new("run"), &state)?;
/// let transition = state.commit(&receipt);
/// assert_ne!(transition.pre_root, transition.post_root);
/// assert_eq!(state.root(), transition.post_root);
/// transition.check(&receipt)?; // anyone, with no state
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct TreeState {
    values: HashMap<Vec<u8>, Vec<u8>>,
    tree: Tree,
}

impl TreeState {
    /// The state root.
    pub fn root(&self) -> Hash32 {
        Hash32(self.tree.root())
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the state holds no key.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Commits `receipt`'s writes if it succeeded, and returns the
    /// transition: both roots and the witness of every key it read or
    /// wrote, proven against the state before it.
    pub fn commit(&mut self, receipt: &Receipt) -> Transition {
        let pre_root = self.root();
        let mut paths: Vec<[u8; 32]> = receipt.reads.iter().map(|r| key_path(&r.key)).collect();
        let writes: Vec<([u8; 32], Option<[u8; 32]>)> = committed(receipt)
            .map(|w| (key_path(&w.key), w.value.as_deref().map(value_hash)))
            .collect();
        paths.extend(writes.iter().map(|w| w.0));
        let removed: Vec<[u8; 32]> = writes
            .iter()
            .filter(|w| w.1.is_none())
            .map(|w| w.0)
            .collect();
        let witness = self.tree.prove(&paths, &removed);
        self.tree.update(writes);
        for w in committed(receipt) {
            match &w.value {
                Some(v) => self.values.insert(w.key.clone(), v.clone()),
                None => self.values.remove(&w.key),
            };
        }
        Transition {
            pre_root,
            post_root: self.root(),
            witness,
        }
    }
}

impl FromIterator<(Vec<u8>, Vec<u8>)> for TreeState {
    fn from_iter<I: IntoIterator<Item = (Vec<u8>, Vec<u8>)>>(iter: I) -> Self {
        let values: HashMap<Vec<u8>, Vec<u8>> = iter.into_iter().collect();
        let mut tree = Tree::new();
        tree.update(
            values
                .iter()
                .map(|(k, v)| (key_path(k), Some(value_hash(v)))),
        );
        TreeState { values, tree }
    }
}

impl StateBackend for TreeState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.values.get(key).cloned())
    }
}
