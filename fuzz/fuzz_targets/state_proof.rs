//! Arbitrary bytes as a state-tree proof and the writes a verifier applies
//! to it: decoding, reading, applying and hashing fail cleanly or succeed,
//! never panic; an accepted proof re-encodes to the same bytes.
//!
//! Input: one byte `n`, then `n` writes of 33 bytes (a path, then a byte
//! whose low bit chooses set or remove), then the proof.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verity_state_tree::{Hash, Proof};

fuzz_target!(|bytes: &[u8]| {
    let Some((&n, rest)) = bytes.split_first() else {
        return;
    };
    let n = usize::from(n % 8);
    if rest.len() < n * 33 {
        return;
    }
    let (writes, proof) = rest.split_at(n * 33);
    let writes: Vec<(Hash, Option<Hash>)> = writes
        .chunks(33)
        .map(|w| {
            let path: Hash = w[..32].try_into().unwrap();
            (path, (w[32] & 1 == 1).then_some([w[32]; 32]))
        })
        .collect();
    let Ok(mut decoded) = Proof::decode(proof) else {
        return;
    };
    assert_eq!(decoded.encode(), proof);
    let _ = decoded.root();
    for (path, _) in &writes {
        let _ = decoded.get(path);
    }
    if decoded.apply(&writes).is_ok() {
        let _ = decoded.root();
    }
});
