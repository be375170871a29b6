//! Checking a transaction's state transition from its witness: what a
//! stateless verifier runs with the receipt's read and write sets.

use alloc::vec::Vec;
use core::fmt;

use crate::hash::{Hash, key_path, value_hash};
use crate::proof::{Proof, ProofError};

/// Why a transition does not check.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransitionError {
    /// The witness is malformed, for another root, or does not cover a key.
    Proof(ProofError),
    /// A read does not match the pre-state: the value (or the absence) the
    /// read set claims is not what the tree holds under `key`.
    ReadMismatch {
        /// The key read.
        key: Vec<u8>,
    },
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransitionError::Proof(e) => write!(f, "witness: {e}"),
            TransitionError::ReadMismatch { key } => {
                f.write_str("the read of key ")?;
                key.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
                f.write_str(" is not what the pre-state holds")
            }
        }
    }
}

impl core::error::Error for TransitionError {}

impl From<ProofError> for TransitionError {
    fn from(e: ProofError) -> Self {
        TransitionError::Proof(e)
    }
}

/// Checks a transaction's reads against `pre_root` with `witness` (the
/// canonical proof of every key read or written, as
/// [`Tree::prove`](crate::Tree::prove) makes it with the removed keys
/// named), applies its writes, and returns the post-state root. Keys and values are the state's bytes
/// (`None`: absent, or removed).
///
/// ```
/// use verity_state_tree::{Tree, check_transition, key_path, value_hash};
///
/// let mut tree = Tree::new();
/// tree.update([(key_path(b"alice"), Some(value_hash(b"10")))]);
/// let pre_root = tree.root();
/// let witness = tree.prove(&[key_path(b"alice"), key_path(b"bob")], &[]);
///
/// let reads: &[(&[u8], Option<&[u8]>)] = &[(b"alice", Some(b"10")), (b"bob", None)];
/// let writes: &[(&[u8], Option<&[u8]>)] = &[(b"alice", Some(b"7")), (b"bob", Some(b"3"))];
/// let post_root = check_transition(&pre_root, &witness, reads, writes)?;
///
/// tree.update([(key_path(b"alice"), Some(value_hash(b"7"))), (key_path(b"bob"), Some(value_hash(b"3")))]);
/// assert_eq!(post_root, tree.root());
///
/// // A read set that lies about the pre-state fails, naming the key.
/// let lie: &[(&[u8], Option<&[u8]>)] = &[(b"alice", Some(b"1000"))];
/// assert!(check_transition(&pre_root, &witness, lie, writes).is_err());
/// # Ok::<(), verity_state_tree::TransitionError>(())
/// ```
pub fn check_transition(
    pre_root: &Hash,
    witness: &[u8],
    reads: &[(&[u8], Option<&[u8]>)],
    writes: &[(&[u8], Option<&[u8]>)],
) -> Result<Hash, TransitionError> {
    let read_paths: Vec<Hash> = reads.iter().map(|(k, _)| key_path(k)).collect();
    let writes: Vec<(Hash, Option<Hash>)> = writes
        .iter()
        .map(|(k, v)| (key_path(k), v.map(value_hash)))
        .collect();
    let mut paths = read_paths.clone();
    paths.extend(writes.iter().map(|(p, _)| *p));
    let removed: Vec<Hash> = writes
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(p, _)| *p)
        .collect();
    let mut proof = Proof::decode(witness, &paths, &removed)?;
    proof.check_root(pre_root)?;
    for ((key, value), path) in reads.iter().zip(&read_paths) {
        if proof.get(path)? != value.map(value_hash) {
            return Err(TransitionError::ReadMismatch { key: key.to_vec() });
        }
    }
    proof.apply(&writes)?;
    Ok(proof.root())
}
