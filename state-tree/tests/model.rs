//! The tree against a naive model of its specification (docs/state-tree.md):
//! random sequences of batches of inserts, updates and removals give the
//! model's root; every proof verifies against the pre-state root and answers
//! every covered key as the model does; applying the writes to the proof
//! gives the tree's post-state root; every tampered proof fails; proof
//! decoding never panics and re-encodes byte for byte.

mod common;

use std::collections::BTreeMap;

use common::*;
use proptest::prelude::*;
use verity_state_tree::{Hash, Proof, ProofError, Tree};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn roots_proofs_and_post_roots_match_the_model(
        batches in prop::collection::vec(batch(), 1..8),
        reads in prop::collection::vec(path(), 0..6),
    ) {
        let mut tree = Tree::new();
        let mut model = BTreeMap::new();
        for b in &batches {
            let pre_root = tree.root();
            prop_assert_eq!(pre_root, model_root(&model));

            // The proof covers the batch's keys and some reads.
            let mut touched: Vec<Hash> = b.iter().map(|(p, _)| *p).collect();
            touched.extend(&reads);
            let removed: Vec<Hash> =
                b.iter().filter(|(_, v)| v.is_none()).map(|(p, _)| *p).collect();
            let bytes = tree.prove(&touched, &removed);
            let mut proof = Proof::decode(&bytes, &touched, &removed).unwrap();
            prop_assert_eq!(proof.encode(), bytes.clone());
            proof.check_root(&pre_root).unwrap();
            for p in &touched {
                prop_assert_eq!(proof.get(p).unwrap(), model.get(p).copied());
                prop_assert_eq!(tree.get(p), model.get(p).copied());
            }

            proof.apply(b).unwrap();
            // The root after the writes, computed without applying them.
            let predicted = tree.root_after(b);
            prop_assert_eq!(tree.root(), pre_root, "root_after changed the tree");
            tree.update(b.iter().copied());
            apply_model(&mut model, b);
            prop_assert_eq!(tree.root(), model_root(&model));
            prop_assert_eq!(predicted, tree.root());
            prop_assert_eq!(proof.root(), tree.root());
            prop_assert_eq!(tree.len(), model.len());
        }
    }

    #[test]
    fn every_tampered_proof_fails(
        batches in prop::collection::vec(batch(), 1..4),
        reads in prop::collection::vec(path(), 1..6),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut tree = Tree::new();
        for b in &batches {
            tree.update(b.iter().copied());
        }
        let root = tree.root();
        let mut bytes = tree.prove(&reads, &[]);
        let i = at.index(bytes.len());
        bytes[i] ^= flip;
        let verdict = Proof::decode(&bytes, &reads, &[]).and_then(|mut p| p.check_root(&root));
        prop_assert!(verdict.is_err(), "byte {} ^ {:#x} still verifies", i, flip);
    }

    #[test]
    fn decoding_never_panics_and_reencodes_what_it_accepts(
        bytes in prop::collection::vec(
            prop_oneof![0u8..4, any::<u8>()], 0..400),
        paths in prop::collection::vec(path(), 0..4),
        removed in prop::collection::vec(path(), 0..2),
    ) {
        if let Ok(mut proof) = Proof::decode(&bytes, &paths, &removed) {
            prop_assert_eq!(proof.encode(), bytes);
            let _ = proof.root();
        }
    }
}

#[test]
fn a_proof_refuses_keys_it_does_not_cover() {
    let mut tree = Tree::new();
    let paths: Vec<Hash> = (0u8..64).map(|i| [i.wrapping_mul(37); 32]).collect();
    tree.update(paths.iter().map(|p| (*p, Some([1; 32]))));
    let mut proof = Proof::decode(&tree.prove(&paths[..1], &[]), &paths[..1], &[]).unwrap();
    let far = paths
        .iter()
        .find(|p| proof.get(p).is_err())
        .expect("some key lies under a summarised subtree");
    assert_eq!(proof.get(far), Err(ProofError::NotCovered(*far)));
    assert_eq!(
        proof.apply(&[(*far, Some([2; 32]))]),
        Err(ProofError::NotCovered(*far))
    );
}

/// Removing a key beside a summarised subtree needs to know whether that
/// subtree is one leaf (which moves up) or more: a proof made without
/// naming the removal does not show it and is refused, not trusted; a
/// proof that names it verifies to the tree's post root.
#[test]
fn removals_need_their_neighbours_expanded() {
    let mut a = [0u8; 32];
    a[0] = 0x80; // right of the root
    let mut b = [0u8; 32];
    b[1] = 0x01; // left, with c
    let mut c = [0u8; 32];
    c[1] = 0x02;
    let mut tree = Tree::new();
    tree.update([(a, Some([1; 32])), (b, Some([2; 32])), (c, Some([3; 32]))]);
    let root = tree.root();

    let mut naive = Proof::decode(&tree.prove(&[a], &[]), &[a], &[]).unwrap();
    naive.check_root(&root).unwrap();
    assert_eq!(naive.apply(&[(a, None)]), Err(ProofError::Ambiguous(a)));

    let mut proof = Proof::decode(&tree.prove(&[a], &[a]), &[a], &[a]).unwrap();
    proof.check_root(&root).unwrap();
    proof.apply(&[(a, None)]).unwrap();
    tree.update([(a, None)]);
    assert_eq!(proof.root(), tree.root());
}

/// A proof that puts a summarised leaf one level lower than the tree has
/// it (the one shape a prover could fake without a hash collision) does
/// not verify: the tree never holds a branch over one leaf and an empty
/// side, and decoding refuses one.
#[test]
fn non_canonical_shapes_are_refused() {
    let leaf = |p: Hash| {
        let mut v = vec![1u8];
        v.extend_from_slice(&p);
        v.extend_from_slice(&[9; 32]);
        v
    };
    let mut bytes = vec![3u8];
    bytes.extend(leaf([0; 32]));
    bytes.push(0);
    let left = [[0; 32]];
    assert_eq!(
        Proof::decode(&bytes, &left, &[]),
        Err(ProofError::NonCanonical)
    );
    assert_eq!(
        Proof::decode(&[3, 0, 0], &left, &[]),
        Err(ProofError::NonCanonical)
    );
    // A leaf whose path goes right, placed on the left.
    let mut bytes = vec![3u8];
    bytes.extend(leaf([0xff; 32]));
    bytes.extend(leaf([0xfe; 32]));
    assert_eq!(
        Proof::decode(&bytes, &[[0; 32], [0xff; 32]], &[]),
        Err(ProofError::MisplacedLeaf)
    );
    // 257 nested branches along the all-left path.
    let deep: Vec<u8> = std::iter::repeat_n(3u8, 257).collect();
    assert_eq!(Proof::decode(&deep, &left, &[]), Err(ProofError::TooDeep));
    assert_eq!(
        Proof::decode(&[0, 0], &left, &[]),
        Err(ProofError::TrailingBytes)
    );
    assert_eq!(Proof::decode(&[7], &left, &[]), Err(ProofError::BadTag(0)));
    assert_eq!(
        Proof::decode(&[1, 0], &left, &[]),
        Err(ProofError::Truncated)
    );
}

/// tests/state_tree.py, written from docs/state-tree.md alone, checks the
/// same transitions: it computes the same post roots from the proofs, and
/// refuses a lying read, a tampered proof and a proof for another root.
#[test]
fn the_python_checker_agrees() {
    use verity_state_tree::{key_path, value_hash};
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    let mut tree = Tree::new();
    let mut state: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for round in 0..120 {
        let key = |rng: &mut XorShift| (rng.next() % 48).to_le_bytes()[..1].to_vec();
        let reads: Vec<Vec<u8>> = (0..rng.next() % 4).map(|_| key(&mut rng)).collect();
        let writes: Vec<(Vec<u8>, Option<Vec<u8>>)> = (0..rng.next() % 5)
            .map(|_| {
                let k = key(&mut rng);
                let v = (!rng.next().is_multiple_of(3)).then(|| rng.next().to_le_bytes().to_vec());
                (k, v)
            })
            .collect();
        let pre_root = tree.root();
        let mut touched: Vec<Hash> = reads.iter().map(|k| key_path(k)).collect();
        touched.extend(writes.iter().map(|(k, _)| key_path(k)));
        let removed: Vec<Hash> = writes
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| key_path(k))
            .collect();
        let proof = tree.prove(&touched, &removed);
        tree.update(
            writes
                .iter()
                .map(|(k, v)| (key_path(k), v.as_deref().map(value_hash))),
        );
        let read_json = |lie: bool| -> Vec<serde_json_lite::Value> {
            reads
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    let mut v = state.get(k).cloned();
                    if lie && i == 0 {
                        v = Some(b"a lie".to_vec());
                    }
                    serde_json_lite::read(k, v.as_deref())
                })
                .collect()
        };
        let write_json: Vec<serde_json_lite::Value> = writes
            .iter()
            .map(|(k, v)| serde_json_lite::read(k, v.as_deref()))
            .collect();
        let case = |pre: &Hash, proof: &[u8], reads| {
            serde_json_lite::case(&hex(pre), &hex(proof), reads, write_json.clone())
        };
        cases.push(case(&pre_root, &proof, read_json(false)));
        expected.push(hex(&tree.root()));
        match round % 3 {
            0 if !reads.is_empty() => {
                cases.push(case(&pre_root, &proof, read_json(true)));
                expected.push("error".into());
            }
            1 => {
                let mut tampered = proof.clone();
                let at = (rng.next() as usize) % tampered.len();
                tampered[at] ^= 0x40;
                cases.push(case(&pre_root, &tampered, read_json(false)));
                expected.push("error".into());
            }
            _ => {
                let mut other = pre_root;
                other[31] ^= 1;
                cases.push(case(&other, &proof, read_json(false)));
                expected.push("error".into());
            }
        }
        for (k, v) in writes {
            match v {
                Some(v) => state.insert(k, v),
                None => state.remove(&k),
            };
        }
    }
    let lines = run_python(&cases);
    assert_eq!(lines.len(), expected.len());
    let errors = expected.iter().filter(|e| *e == "error").count();
    assert!(errors >= 100, "too few refusals exercised: {errors}");
    for (i, (got, want)) in lines.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "case {i}");
    }
}
