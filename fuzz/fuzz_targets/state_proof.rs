//! The state tree's soundness oracle, and its decoder on arbitrary bytes.
//!
//! Input: one byte `s` (the state: bit i set holds key `[i]`, i < 8, with
//! value `[i]`), one byte `r` (keys read, one bit each), one byte `w` and one
//! byte `x` (keys written: bit i of `w` writes key `[i]`, bit i of `x`
//! chooses set or remove), then bytes that are XORed into the honest
//! witness from its start (the rest of it left as it is).
//!
//! Whatever witness results, `check_transition` must either refuse it or
//! return the post root of the naive model; and an accepted proof
//! re-encodes to the same bytes. The same input is also decoded as a
//! proof of its own, which must never panic.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use verity_state_tree::{
    EMPTY, Hash, Proof, Tree, bit, check_transition, key_path, leaf_hash, node_hash, value_hash,
};

/// The root of sorted leaves at `depth`, straight from docs/state-tree.md.
fn model_root(leaves: &[(Hash, Hash)], depth: usize) -> Hash {
    match leaves {
        [] => EMPTY,
        [(p, v)] => leaf_hash(p, v),
        _ => {
            let split = leaves.partition_point(|(p, _)| bit(p, depth) == 0);
            node_hash(
                &model_root(&leaves[..split], depth + 1),
                &model_root(&leaves[split..], depth + 1),
            )
        }
    }
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&[s, r, w, x], mask)) = bytes.split_first_chunk::<4>() else {
        return;
    };
    let keys: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i]).collect();
    let has = |byte: u8, i: usize| byte >> i & 1 == 1;

    let mut tree = Tree::new();
    let mut model = BTreeMap::new();
    for (i, k) in keys.iter().enumerate().filter(|(i, _)| has(s, *i)) {
        tree.update([(key_path(k), Some(value_hash(k)))]);
        model.insert(k.clone(), k.clone());
    }
    let pre_root = tree.root();
    let reads: Vec<(&[u8], Option<&[u8]>)> = (0..8)
        .filter(|i| has(r, *i))
        .map(|i| (keys[i].as_slice(), model.get(&keys[i]).map(Vec::as_slice)))
        .collect();
    let set_value = [0xaa];
    let writes: Vec<(&[u8], Option<&[u8]>)> = (0..8)
        .filter(|i| has(w, *i))
        .map(|i| (keys[i].as_slice(), has(x, i).then_some(&set_value[..])))
        .collect();

    let mut paths: Vec<[u8; 32]> = reads.iter().map(|(k, _)| key_path(k)).collect();
    paths.extend(writes.iter().map(|(k, _)| key_path(k)));
    let removed: Vec<[u8; 32]> = writes
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| key_path(k))
        .collect();
    let mut witness = tree.prove(&paths, &removed);
    for (b, m) in witness.iter_mut().zip(mask) {
        *b ^= m;
    }

    if let Ok(post) = check_transition(&pre_root, &witness, &reads, &writes) {
        for (k, v) in &writes {
            match v {
                Some(v) => model.insert(k.to_vec(), v.to_vec()),
                None => model.remove(*k),
            };
        }
        let leaves: BTreeMap<Hash, Hash> = model
            .iter()
            .map(|(k, v)| (key_path(k), value_hash(v)))
            .collect();
        let leaves: Vec<(Hash, Hash)> = leaves.into_iter().collect();
        assert_eq!(post, model_root(&leaves, 0), "an accepted witness gives a wrong post root");
    }
    if let Ok(mut decoded) = Proof::decode(&witness, &paths, &removed) {
        assert_eq!(decoded.encode(), witness);
        let _ = decoded.root();
    }
    // The input itself as a proof of no keys: never a panic.
    if let Ok(mut decoded) = Proof::decode(mask, &paths, &removed) {
        assert_eq!(decoded.encode(), mask);
        let _ = decoded.root();
    }
});
