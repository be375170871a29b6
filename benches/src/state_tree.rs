//! The authenticated state's tree on the workload: a state of
//! 1,000,000 keys, transfers between two of them (both read and written),
//! a root per transaction. The executor proves the two keys, writes them
//! and takes the new root; the verifier decodes the proof, checks it
//! against the pre-state root, reads both keys, applies the writes and
//! computes the post-state root, with no state.

use std::time::Instant;

use anyhow::{Result, ensure};
use verity_state_tree::{Hash, Proof, Tree, key_path, value_hash};

use crate::report::Row;

/// Resident memory of this process, from /proc (Linux), in bytes.
fn resident_bytes() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}

/// A deterministic stream of account indices: a xorshift state, and the
/// number of accounts.
pub(crate) struct Accounts(pub(crate) u64, pub(crate) u64);

impl Accounts {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % self.1
    }
}

fn account(i: u64) -> Hash {
    let mut key = b"bal\0".to_vec();
    key.extend_from_slice(&i.to_le_bytes());
    key_path(&key)
}

/// The rows `state_tree_execute` and `state_tree_verify` (µs per
/// transfer), with the witness size, the build time and memory.
pub(crate) fn rows(quick: bool) -> Result<Vec<Row>> {
    let keys: u64 = if quick { 100_000 } else { 1_000_000 };
    let transfers = if quick { 2_000 } else { 20_000 };
    let before = resident_bytes();
    let start = Instant::now();
    let mut tree = Tree::new();
    tree.update((0..keys).map(|i| (account(i), Some(value_hash(&i.to_le_bytes())))));
    let build_s = start.elapsed().as_secs_f64();
    let memory = resident_bytes().zip(before).map(|(a, b)| a - b);
    ensure!(tree.len() as u64 == keys);

    // The executor's side, recording what the verifier gets.
    let mut rng = Accounts(0x9e37_79b9_7f4a_7c15, keys);
    let mut witnesses = Vec::with_capacity(transfers);
    let start = Instant::now();
    for t in 0..transfers {
        let (a, b) = (account(rng.next()), account(rng.next()));
        let pre_root = tree.root();
        let proof = tree.prove(&[a, b], &[]);
        let writes = [
            (a, Some(value_hash(&(t as u64).to_le_bytes()))),
            (b, Some(value_hash(&(!(t as u64)).to_le_bytes()))),
        ];
        tree.update(writes);
        witnesses.push((pre_root, proof, writes, tree.root()));
    }
    let execute_us = start.elapsed().as_secs_f64() * 1e6 / transfers as f64;
    let witness_bytes =
        witnesses.iter().map(|w| w.1.len()).sum::<usize>() as f64 / transfers as f64;

    // The verifier's side.
    let start = Instant::now();
    for (pre_root, bytes, writes, post_root) in &witnesses {
        let paths = writes.map(|(p, _)| p);
        let mut proof = Proof::decode(bytes, &paths, &[]).map_err(|e| anyhow::anyhow!("{e}"))?;
        proof
            .check_root(pre_root)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for (path, _) in writes {
            ensure!(
                proof
                    .get(path)
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .is_some()
            );
        }
        proof.apply(writes).map_err(|e| anyhow::anyhow!("{e}"))?;
        ensure!(&proof.root() == post_root, "post root differs");
    }
    let verify_us = start.elapsed().as_secs_f64() * 1e6 / transfers as f64;

    let mut execute = Row::new("state_tree_execute", "us", false);
    execute.verity = Some(execute_us);
    execute.ratios.insert("keys".into(), keys as f64);
    execute.ratios.insert("witness_bytes".into(), witness_bytes);
    execute.ratios.insert("build_seconds".into(), build_s);
    if let Some(m) = memory {
        execute.ratios.insert("build_memory_mb".into(), m / 1e6);
    }
    let mut verify = Row::new("state_tree_verify", "us", false);
    verify.verity = Some(verify_us);
    verify
        .ratios
        .insert("verify_vs_execute".into(), verify_us / execute_us);
    Ok(vec![execute, verify])
}
