//! The stored tree against the in-memory one: random batches of writes
//! give the same roots, reads and proofs (byte for byte, removals
//! included); the store holds exactly one record per internal node after
//! every batch (nothing orphaned, nothing missing); and a store whose
//! records were changed, lost or moved is caught by the reads that cross
//! them and by `check`, never by a panic.

mod common;

use std::collections::BTreeMap;
use std::convert::Infallible;

use common::*;
use proptest::prelude::*;
use verity_state_tree::stored::{self, Child, NodeSource, StoredError};
use verity_state_tree::{Hash, Tree};

#[derive(Default, Clone)]
struct Map(BTreeMap<Vec<u8>, Vec<u8>>);

impl NodeSource for Map {
    type Error = Infallible;
    fn record(&self, position: &[u8]) -> Result<Option<Vec<u8>>, Infallible> {
        Ok(self.0.get(position).cloned())
    }
}

impl Map {
    fn apply(&mut self, changes: stored::Changes) {
        for (at, record) in changes.records {
            match record {
                Some(r) => self.0.insert(at, r.encode()),
                None => self.0.remove(&at),
            };
        }
    }
}

/// Applies `batches` to a stored tree and an in-memory one, checking at
/// each step; returns the store and its root.
fn run(batches: &[Batch], reads: &[Hash]) -> Result<(Map, Child), TestCaseError> {
    let mut tree = Tree::new();
    let mut store = Map::default();
    let mut root = Child::Empty;
    for b in batches {
        let mut touched: Vec<Hash> = b.iter().map(|(p, _)| *p).collect();
        touched.extend(reads);
        let removed: Vec<Hash> = b
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(p, _)| *p)
            .collect();
        prop_assert_eq!(
            stored::prove(&store, &root, &touched, &removed).unwrap(),
            tree.prove(&touched, &removed)
        );
        for p in &touched {
            prop_assert_eq!(stored::get(&store, &root, p).unwrap(), tree.get(p));
        }
        let (next, changes) = stored::update(&store, &root, b).unwrap();
        // Each position once.
        let mut at: Vec<&Vec<u8>> = changes.records.iter().map(|(p, _)| p).collect();
        at.sort();
        at.dedup();
        prop_assert_eq!(at.len(), changes.records.len());
        prop_assert_eq!(next.hash(), tree.root_after(b));
        store.apply(changes);
        tree.update(b.iter().copied());
        root = next;
        prop_assert_eq!(root.hash(), tree.root());
        let mut leaves = BTreeMap::new();
        let report = stored::check(&store, &root, |p, v| {
            leaves.insert(*p, *v);
        })
        .unwrap();
        prop_assert_eq!(report.leaves as usize, tree.len());
        prop_assert_eq!(report.records as usize, store.0.len(), "an orphaned record");
        prop_assert_eq!(model_root(&leaves), tree.root());
    }
    Ok((store, root))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn stored_roots_reads_and_proofs_are_the_trees(
        batches in prop::collection::vec(batch(), 1..8),
        reads in prop::collection::vec(path(), 0..6),
    ) {
        run(&batches, &reads)?;
    }

    /// Any one byte of any record changed, or a record removed, is found
    /// by `check` and by every read whose path crosses it.
    #[test]
    fn a_damaged_record_is_caught(
        batches in prop::collection::vec(batch(), 1..4),
        pick in any::<prop::sample::Index>(),
        byte in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        remove in any::<bool>(),
    ) {
        let (mut store, root) = run(&batches, &[])?;
        prop_assume!(!store.0.is_empty());
        let key = store.0.keys().nth(pick.index(store.0.len())).unwrap().clone();
        let honest = store.clone();
        if remove {
            store.0.remove(&key);
        } else {
            let bytes = store.0.get_mut(&key).unwrap();
            let at = byte.index(bytes.len());
            bytes[at] ^= flip;
        }
        let damaged = stored::check(&store, &root, |_, _| {});
        prop_assert!(
            matches!(damaged, Err(StoredError::Missing { .. } | StoredError::Mismatch { .. })),
            "check passed a damaged store: {:?}", damaged
        );
        // A read of every leaf under the damaged node fails or agrees with
        // the honest store: never a wrong answer.
        let mut paths = Vec::new();
        stored::check(&honest, &root, |p, _| paths.push(*p)).unwrap();
        for p in &paths {
            match stored::get(&store, &root, p) {
                Ok(v) => prop_assert_eq!(v, stored::get(&honest, &root, p).unwrap()),
                Err(StoredError::Missing { .. } | StoredError::Mismatch { .. }) => {}
                Err(StoredError::Source(e)) => match e {},
            }
        }
    }
}

/// A store made to chain internal nodes deeper than any two paths can
/// share (each record canonical and hashing to its parent's hash of it) is
/// refused at depth 256, not followed off the end of the path.
#[test]
fn a_chain_past_depth_255_is_refused() {
    let path: Hash = [0; 32];
    let mut store = Map::default();
    // A record at each position from 255 up to the root on the all-zero
    // path, each an internal node beside an empty side, the deepest
    // naming a node at depth 256.
    let mut child = Child::Branch([9; 32]);
    for depth in (0..256).rev() {
        let record = stored::Record {
            children: [child, Child::Empty],
        };
        store
            .0
            .insert(stored::position(depth, &path), record.encode());
        child = Child::Branch(record.hash());
    }
    let err = stored::get(&store, &child, &path).unwrap_err();
    assert_eq!(err, StoredError::Mismatch { depth: 256 });
    let err = stored::check(&store, &child, |_, _| {}).unwrap_err();
    assert_eq!(err, StoredError::Mismatch { depth: 256 });
    let err = stored::update(&store, &child, &[(path, None)]).unwrap_err();
    assert_eq!(err, StoredError::Mismatch { depth: 256 });
}
