//! What the state tree's tests share: the naive model of the
//! specification, strategies for paths and batches, a deterministic
//! generator, and the run of the independent Python checker.
#![allow(dead_code)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use verity_state_tree::{EMPTY, Hash, bit, leaf_hash, node_hash};

/// The root of a set of leaves, straight from the definition: no leaves,
/// the empty hash; one, its leaf hash; more, a node over the two halves
/// split by the next bit.
pub fn model_root(leaves: &BTreeMap<Hash, Hash>) -> Hash {
    fn at(leaves: &[(Hash, Hash)], depth: usize) -> Hash {
        match leaves {
            [] => EMPTY,
            [(p, v)] => leaf_hash(p, v),
            _ => {
                let split = leaves.partition_point(|(p, _)| bit(p, depth) == 0);
                node_hash(
                    &at(&leaves[..split], depth + 1),
                    &at(&leaves[split..], depth + 1),
                )
            }
        }
    }
    let leaves: Vec<(Hash, Hash)> = leaves.iter().map(|(p, v)| (*p, *v)).collect();
    at(&leaves, 0)
}

/// Paths from a small space that shares long prefixes: the first byte, a
/// middle byte and the last byte vary, so splits happen near the root,
/// in the middle and at depth 255.
pub fn path() -> impl Strategy<Value = Hash> {
    prop_oneof![
        any::<[u8; 32]>(),
        (0u8..4, 0u8..2, 0u8..4).prop_map(|(a, b, c)| {
            let mut p = [0u8; 32];
            p[0] = a << 6;
            p[15] = b;
            p[31] = c;
            p
        }),
    ]
}

pub fn value() -> impl Strategy<Value = Hash> {
    (0u8..4).prop_map(|v| [v; 32])
}

pub type Batch = Vec<(Hash, Option<Hash>)>;

pub fn batch() -> impl Strategy<Value = Batch> {
    prop::collection::vec((path(), prop::option::weighted(0.7, value())), 0..12)
}

pub fn apply_model(model: &mut BTreeMap<Hash, Hash>, batch: &Batch) {
    for (p, v) in batch {
        match v {
            Some(v) => model.insert(*p, *v),
            None => model.remove(p),
        };
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A small deterministic generator, so the Python run sees fixed cases.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Runs tests/state_tree.py on `cases` (the JSON of each) and returns its
/// lines, each a post root in hex or "error" (the reason dropped).
pub fn run_python(cases: &[String]) -> Vec<String> {
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("verity-state-tree-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("vectors.json");
    std::fs::write(&file, format!("[{}]", cases.join(","))).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/state_tree.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(&file)
        .output()
        .expect("python3 is needed for the independent state-tree check");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with("error") {
                "error".into()
            } else {
                l.to_string()
            }
        })
        .collect()
}

/// The JSON of the vectors, written by hand (the crate has no serde).
pub mod serde_json_lite {
    pub type Value = String;

    pub fn read(key: &[u8], value: Option<&[u8]>) -> Value {
        match value {
            Some(v) => format!(
                r#"{{"key":"{}","value":"{}"}}"#,
                super::hex(key),
                super::hex(v)
            ),
            None => format!(r#"{{"key":"{}","value":null}}"#, super::hex(key)),
        }
    }

    pub fn case(pre: &str, proof: &str, reads: Vec<Value>, writes: Vec<Value>) -> Value {
        format!(
            r#"{{"pre_root":"{pre}","proof":"{proof}","reads":[{}],"writes":[{}]}}"#,
            reads.join(","),
            writes.join(",")
        )
    }
}
