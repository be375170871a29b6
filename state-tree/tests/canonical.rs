//! One encoding per proof: for a tree and a key set (the keys read or
//! written, and which of them are removed) exactly one byte string decodes,
//! the one [`Tree::prove`] writes. Every other encoding that hashes to the
//! same root (a subtree summarised, a summary expanded, an empty subtree or
//! a leaf written as a summary of its hash) is refused, by the Rust decoder
//! and by the Python checker; and whenever a transition checks, its post
//! root is the model's.
//!
//! The alternatives are generated from the tree itself, not from known
//! forgeries: a walk of the canonical encoding that, at chosen positions,
//! writes the other form the position's subtree has under the same hash.

mod common;

use std::collections::BTreeMap;

use common::*;
use proptest::prelude::*;
use verity_state_tree::{
    CanonicalRule, EMPTY, Hash, Proof, ProofError, TransitionError, Tree, bit, check_transition,
    key_path, leaf_hash, node_hash, value_hash,
};

const EMPTY_TAG: u8 = 0;
const LEAF_TAG: u8 = 1;
const OPAQUE_TAG: u8 = 2;
const BRANCH_TAG: u8 = 3;

/// The hash of a subtree holding `leaves` at `depth`, from the definition.
fn subtree_hash(leaves: &[(Hash, Hash)], depth: usize) -> Hash {
    match leaves {
        [] => EMPTY,
        [(p, v)] => leaf_hash(p, v),
        _ => {
            let split = leaves.partition_point(|(p, _)| bit(p, depth) == 0);
            node_hash(
                &subtree_hash(&leaves[..split], depth + 1),
                &subtree_hash(&leaves[split..], depth + 1),
            )
        }
    }
}

/// A position in the tree and the proven paths around it, as the spec
/// defines them.
#[derive(Clone, Copy)]
struct At<'a> {
    depth: usize,
    leaves: &'a [(Hash, Hash)],
    paths: &'a [Hash],
    removed: &'a [Hash],
    beside_removed: bool,
}

impl<'a> At<'a> {
    fn children(&self) -> [At<'a>; 2] {
        let d = self.depth;
        let ls = self.leaves.partition_point(|(p, _)| bit(p, d) == 0);
        let ps = self.paths.partition_point(|p| bit(p, d) == 0);
        let rs = self.removed.partition_point(|p| bit(p, d) == 0);
        [
            At {
                depth: d + 1,
                leaves: &self.leaves[..ls],
                paths: &self.paths[..ps],
                removed: &self.removed[..rs],
                beside_removed: rs < self.removed.len(),
            },
            At {
                depth: d + 1,
                leaves: &self.leaves[ls..],
                paths: &self.paths[ps..],
                removed: &self.removed[rs..],
                beside_removed: rs > 0,
            },
        ]
    }

    /// Off the proven paths and not beside a removed one: summarised.
    fn off(&self) -> bool {
        self.paths.is_empty() && !self.beside_removed
    }

    /// The same subtree, seen as off every path (below a removal's
    /// neighbour, or below a summary that a variant expands).
    fn as_off(&self) -> At<'a> {
        At {
            paths: &[],
            removed: &[],
            beside_removed: false,
            ..*self
        }
    }
}

/// Writes the encoding of the subtree at `at`: its canonical form, except
/// where `flip` (asked once per position, in pre-order) says to write the
/// other form with the same hash. Returns whether any position flipped.
fn encode(at: At<'_>, flip: &mut dyn FnMut() -> bool, out: &mut Vec<u8>) -> bool {
    let flipped = flip();
    let summary = |out: &mut Vec<u8>| {
        out.push(OPAQUE_TAG);
        out.extend_from_slice(&subtree_hash(at.leaves, at.depth));
    };
    match (at.leaves, at.off()) {
        ([], _) => {
            if flipped {
                summary(out); // 0x02 ‖ 0^32
            } else {
                out.push(EMPTY_TAG);
            }
            flipped
        }
        ([(p, v)], off) => {
            if off != flipped {
                summary(out); // a leaf as the summary of its hash
            } else {
                out.push(LEAF_TAG);
                out.extend_from_slice(p);
                out.extend_from_slice(v);
            }
            flipped
        }
        (_, off) if off != flipped => {
            summary(out);
            flipped
        }
        (_, off) => {
            out.push(BRANCH_TAG);
            // Below an expanded summary, or the neighbour of a removal,
            // the children are off every path.
            let below = if off || at.paths.is_empty() {
                at.as_off().children()
            } else {
                at.children()
            };
            let mut any = flipped;
            for child in below {
                any |= encode(child, flip, out);
            }
            any
        }
    }
}

struct Case {
    leaves: Vec<(Hash, Hash)>,
    paths: Vec<Hash>,
    removed: Vec<Hash>,
}

impl Case {
    fn at(&self) -> At<'_> {
        At {
            depth: 0,
            leaves: &self.leaves,
            paths: &self.paths,
            removed: &self.removed,
            beside_removed: false,
        }
    }

    fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::new();
        encode(self.at(), &mut || false, &mut out);
        out
    }

    /// The encoding with exactly position `k` (in pre-order of the walk)
    /// in its other form, or `None` past the last position.
    fn one_flip(&self, k: usize) -> Option<Vec<u8>> {
        let mut seen = 0;
        let mut out = Vec::new();
        let flipped = encode(
            self.at(),
            &mut || {
                seen += 1;
                seen == k + 1
            },
            &mut out,
        );
        flipped.then_some(out)
    }

    /// An encoding with every position flipped with probability 1/`odds`.
    fn random_flips(&self, rng: &mut XorShift, odds: u64) -> (bool, Vec<u8>) {
        let mut out = Vec::new();
        let flipped = encode(self.at(), &mut || rng.next().is_multiple_of(odds), &mut out);
        (flipped, out)
    }
}

fn case_of(model: &BTreeMap<Hash, Hash>, touched: &[Hash], removed: &[Hash]) -> Case {
    let mut paths: Vec<Hash> = touched.iter().chain(removed).copied().collect();
    paths.sort_unstable();
    paths.dedup();
    let mut removed = removed.to_vec();
    removed.sort_unstable();
    removed.dedup();
    Case {
        leaves: model.iter().map(|(p, v)| (*p, *v)).collect(),
        paths,
        removed,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The spec's canonical form is what the tree proves, it decodes, and
    /// every encoding that differs from it in one position or in many is
    /// refused, though it hashes to the same root.
    #[test]
    fn only_the_canonical_encoding_decodes(
        state in batch(),
        tx in batch(),
        reads in prop::collection::vec(path(), 0..4),
        seed in any::<u64>(),
    ) {
        let mut tree = Tree::new();
        let mut model = BTreeMap::new();
        tree.update(state.iter().copied());
        apply_model(&mut model, &state);
        let mut touched: Vec<Hash> = tx.iter().map(|(p, _)| *p).collect();
        touched.extend(&reads);
        let removed: Vec<Hash> = tx.iter().filter(|(_, v)| v.is_none()).map(|(p, _)| *p).collect();
        let case = case_of(&model, &touched, &removed);

        let honest = tree.prove(&touched, &removed);
        prop_assert_eq!(&case.canonical(), &honest, "the tree's proof is the spec's canonical form");
        Proof::decode(&honest, &touched, &removed).unwrap().check_root(&tree.root()).unwrap();

        let mut k = 0;
        while let Some(variant) = case.one_flip(k) {
            prop_assert_ne!(&variant, &honest);
            let verdict = Proof::decode(&variant, &touched, &removed);
            prop_assert!(verdict.is_err(), "position {} in its other form decodes", k);
            k += 1;
        }
        prop_assert!(k >= 1);
        let mut rng = XorShift(seed | 1);
        for odds in [2, 4, 8] {
            let (flipped, variant) = case.random_flips(&mut rng, odds);
            prop_assert_eq!(flipped, variant != honest);
            if flipped {
                prop_assert!(Proof::decode(&variant, &touched, &removed).is_err());
            }
        }
    }

    /// The soundness oracle: whatever witness bytes are offered (the
    /// honest one, any same-hash alternative, a damaged one), when
    /// `check_transition` accepts, the post root it returns is the model's.
    #[test]
    fn an_accepted_transition_has_the_models_post_root(
        state in batch(),
        tx in batch(),
        reads in prop::collection::vec(path(), 0..4),
        seed in any::<u64>(),
        damage in prop::option::of((any::<prop::sample::Index>(), 1u8..=255)),
    ) {
        oracle(&state, &tx, &reads, seed, damage.map(|(i, x)| (i.index(usize::MAX), x)));
    }
}

/// A key from a path: one of 16, so that a transaction's keys are often
/// in the state (removals that collapse subtrees) and often not.
fn key_of(p: &Hash) -> Vec<u8> {
    vec![(p[0] ^ p[31]) % 16]
}

/// Keys and values from a batch: `check_transition` takes keys and
/// hashes them.
fn keyed(batch: &Batch) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    batch
        .iter()
        .map(|(p, v)| (key_of(p), v.map(|v| v[..1].to_vec())))
        .collect()
}

fn oracle(state: &Batch, tx: &Batch, reads: &[Hash], seed: u64, damage: Option<(usize, u8)>) {
    let (state, tx) = (keyed(state), keyed(tx));
    let reads: Vec<Vec<u8>> = reads.iter().map(key_of).collect();
    let mut tree = Tree::new();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for (k, v) in &state {
        tree.update([(key_path(k), v.as_deref().map(value_hash))]);
        match v {
            Some(v) => model.insert(k.clone(), v.clone()),
            None => model.remove(k),
        };
    }
    let pre_root = tree.root();
    let mut touched: Vec<Hash> = reads.iter().map(|k| key_path(k)).collect();
    touched.extend(tx.iter().map(|(k, _)| key_path(k)));
    let removed: Vec<Hash> = tx
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| key_path(k))
        .collect();
    let paths: BTreeMap<Hash, Hash> = model
        .iter()
        .map(|(k, v)| (key_path(k), value_hash(v)))
        .collect();
    let case = case_of(&paths, &touched, &removed);
    let honest = tree.prove(&touched, &removed);
    let mut rng = XorShift(seed | 1);
    let mut witnesses = vec![honest.clone(), case.random_flips(&mut rng, 3).1];
    witnesses.extend((0..).map_while(|k| case.one_flip(k)));
    if let Some((at, x)) = damage {
        let mut w = honest;
        if !w.is_empty() {
            let at = at % w.len();
            w[at] ^= x;
        }
        witnesses.push(w);
    }

    let read_set: Vec<(&[u8], Option<&[u8]>)> = reads
        .iter()
        .map(|k| (k.as_slice(), model.get(k).map(Vec::as_slice)))
        .collect();
    let write_set: Vec<(&[u8], Option<&[u8]>)> = tx
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_deref()))
        .collect();
    let mut after = model.clone();
    for (k, v) in &tx {
        match v {
            Some(v) => after.insert(k.clone(), v.clone()),
            None => after.remove(k),
        };
    }
    let expected = model_root(
        &after
            .iter()
            .map(|(k, v)| (key_path(k), value_hash(v)))
            .collect(),
    );
    for w in &witnesses {
        if let Ok(post) = check_transition(&pre_root, w, &read_set, &write_set) {
            assert_eq!(
                post, expected,
                "an accepted witness gives a post root no honest node has"
            );
        }
    }
}

/// The forgery of issue 20, built by hand: an empty subtree written as a
/// summary of 32 zero bytes hashes to the honest pre-state root, and a
/// removal then moved a leaf up beside it instead of to the root. Refused.
#[test]
fn an_empty_subtree_as_a_zero_summary_is_refused() {
    // b and c share their first bit (1) and split below; the left of the
    // root is empty.
    let (mut b, mut c) = ([0u8; 32], [0u8; 32]);
    b[0] = 0x80;
    c[0] = 0xc0;
    let mut tree = Tree::new();
    tree.update([(b, Some([1; 32])), (c, Some([2; 32]))]);
    let honest = tree.prove(&[c], &[c]);
    let forged: Vec<u8> = [&[BRANCH_TAG, OPAQUE_TAG][..], &[0; 32], &honest[2..]].concat();
    assert_eq!(honest[..2], [BRANCH_TAG, EMPTY_TAG]);

    assert_eq!(
        Proof::decode(&forged, &[c], &[c]),
        Err(ProofError::NotCanonical {
            at: 1,
            rule: CanonicalRule::EmptyIsTagged
        })
    );
    let mut proof = Proof::decode(&honest, &[c], &[c]).unwrap();
    proof.check_root(&tree.root()).unwrap();
    proof.apply(&[(c, None)]).unwrap();
    tree.update([(c, None)]);
    assert_eq!(proof.root(), tree.root());
    assert_eq!(tree.root(), leaf_hash(&b, &[1; 32]), "b moved to the root");
}

/// The other known alternative: a leaf off every path written as the
/// summary of its hash was accepted; now the leaf form is, and vice versa.
#[test]
fn off_path_leaves_are_summaries_and_nothing_else() {
    let (a, mut b) = ([0u8; 32], [0u8; 32]);
    b[0] = 0x80;
    let mut tree = Tree::new();
    tree.update([(a, Some([1; 32])), (b, Some([2; 32]))]);
    let honest = tree.prove(&[a], &[]);
    // The right child (b's leaf, off the path of a) is summarised.
    assert_eq!(honest[1 + 65], OPAQUE_TAG);
    let mut as_leaf = honest[..66].to_vec();
    as_leaf.push(LEAF_TAG);
    as_leaf.extend_from_slice(&b);
    as_leaf.extend_from_slice(&[2; 32]);
    assert_eq!(
        Proof::decode(&as_leaf, &[a], &[]),
        Err(ProofError::NotCanonical {
            at: 66,
            rule: CanonicalRule::OffPathIsSummarised
        })
    );
    // Removing a needs b shown: then b's leaf is the only accepted form.
    let for_removal = tree.prove(&[a], &[a]);
    assert_eq!(for_removal, as_leaf);
    assert_eq!(
        Proof::decode(&honest, &[a], &[a]),
        Err(ProofError::NotCanonical {
            at: 66,
            rule: CanonicalRule::RemovalNeighbourIsShown
        })
    );
}

/// The Python checker, written from the spec, refuses every one-position
/// alternative too, and accepts the canonical form with the same post root.
#[test]
fn the_python_checker_refuses_the_alternatives() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for _ in 0..24 {
        let keys: Vec<Vec<u8>> = (0..rng.next() % 12).map(|i| vec![i as u8]).collect();
        let mut tree = Tree::new();
        let mut model = BTreeMap::new();
        for k in &keys {
            tree.update([(key_path(k), Some(value_hash(k)))]);
            model.insert(key_path(k), value_hash(k));
        }
        let reads: Vec<Vec<u8>> = (0..rng.next() % 3)
            .map(|_| vec![(rng.next() % 16) as u8])
            .collect();
        let writes: Vec<(Vec<u8>, Option<Vec<u8>>)> = (0..rng.next() % 3)
            .map(|_| {
                let k = vec![(rng.next() % 16) as u8];
                (k, rng.next().is_multiple_of(2).then(|| vec![7]))
            })
            .collect();
        let mut touched: Vec<Hash> = reads.iter().map(|k| key_path(k)).collect();
        touched.extend(writes.iter().map(|(k, _)| key_path(k)));
        let removed: Vec<Hash> = writes
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| key_path(k))
            .collect();
        let case = case_of(&model, &touched, &removed);
        let honest = tree.prove(&touched, &removed);
        let read_json: Vec<String> = reads
            .iter()
            .map(|k| serde_json_lite::read(k, keys.contains(k).then_some(k.as_slice())))
            .collect();
        let write_json: Vec<String> = writes
            .iter()
            .map(|(k, v)| serde_json_lite::read(k, v.as_deref()))
            .collect();
        let pre = hex(&tree.root());
        let json = |proof: &[u8]| {
            serde_json_lite::case(&pre, &hex(proof), read_json.clone(), write_json.clone())
        };
        cases.push(json(&honest));
        tree.update(
            writes
                .iter()
                .map(|(k, v)| (key_path(k), v.as_deref().map(value_hash))),
        );
        expected.push(hex(&tree.root()));
        let mut k = 0;
        while let Some(variant) = case.one_flip(k) {
            cases.push(json(&variant));
            expected.push("error".to_string());
            k += 1;
        }
    }
    let lines = run_python(&cases);
    assert_eq!(lines, expected);
    let refused = expected.iter().filter(|e| *e == "error").count();
    assert!(refused > 100, "{refused} alternatives");
}

#[test]
fn a_transition_error_names_the_rule() {
    let (a, b) = (b"a".as_slice(), b"b".as_slice());
    let mut tree = Tree::new();
    tree.update([(key_path(a), Some(value_hash(b"1")))]);
    let root = tree.root();
    // The empty tree's proof for the absent "b" is 0x01 a: written as a
    // summary of a's leaf hash instead, it hashes to the root but is refused.
    let mut summary = vec![OPAQUE_TAG];
    summary.extend_from_slice(&root);
    let err = check_transition(&root, &summary, &[(b, None)], &[]).unwrap_err();
    assert_eq!(
        err,
        TransitionError::Proof(ProofError::NotCanonical {
            at: 0,
            rule: CanonicalRule::OnPathIsShown
        })
    );
    assert_eq!(
        err.to_string(),
        "witness: the node at byte 0 of the proof is not in canonical form: \
         a subtree a proven key crosses must be shown"
    );
}
