//! `--scale`: the state directory as it grows to 10 million keys (quick:
//! 100,000), one state grown through its checkpoints. At each it reports
//! what growing it to that size took (time, disk, this process's peak
//! RSS), and what a node then pays: opening it, executing a token transfer
//! against it, committing one (the mean of 100), and reading a balance
//! with its Merkle proof. The target (issue 24): a commit at 10M within 2x
//! of one at 10k, and an open that reads nothing proportional to the state.
//!
//! The state is grown in commits of [`BATCH`] new balances, each one
//! durable redb transaction, so that what the build holds in memory is a
//! batch, not the state. This takes minutes and gigabytes of disk at 10M
//! keys, so it runs only when asked for; docs/state.md has a run.

use std::time::Instant;

use anyhow::{Result, ensure};
use serde::Serialize;
use verity_runtime::Runtime;
use verity_store::DirState;

use crate::authenticated::{address, token_accounts};
use crate::state_tree::Accounts;
use crate::store::{transfers, writes};
use crate::{fixture, median, prepare};

/// New balances per growing commit.
const BATCH: u64 = 250_000;

/// The transfers measured at each checkpoint.
const TRANSFERS: usize = 100;

/// One checkpoint of the growing state.
#[derive(Serialize)]
pub(crate) struct Point {
    /// Keys in the state.
    keys: u64,
    /// Seconds spent growing the state from the previous checkpoint.
    grow_seconds: f64,
    /// The size of `state.redb`, in bytes.
    disk_bytes: u64,
    /// This process's peak resident memory so far, in MiB (Linux; the
    /// build's batches included).
    peak_rss_mib: Option<f64>,
    /// Opening the directory (format, stored root, redb's integrity check).
    open_seconds: f64,
    /// Executing one transfer against the opened state (median).
    call_seconds: f64,
    /// Committing one transfer's writes (mean over the transfers).
    commit_seconds: f64,
    /// Reading one balance and proving it against the root (median).
    read_with_proof_seconds: f64,
    /// The proof's size, in bytes.
    proof_bytes: usize,
}

/// The checkpoints: 10k, 1M, 10M keys (quick: 10k, 100k).
pub(crate) fn run(quick: bool, rt: &Runtime) -> Result<Vec<Point>> {
    let sizes: &[u64] = if quick {
        &[10_000, 100_000]
    } else {
        &[10_000, 1_000_000, 10_000_000]
    };
    let token = fixture("token.wasm")?;
    let module = prepare(rt, &token)?;
    // The token's own entries and account 0's balance: the key prefix and
    // the value every grown balance gets.
    let base = token_accounts(rt, &token, 1)?;
    let (first_key, balance) = base.last().expect("account 0").clone();
    let prefix = first_key[..first_key.len() - 32].to_vec();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state");
    let mut store = DirState::create(&path)?;
    let root = store.root();
    store.commit(root, &writes(base.into_iter()))?;
    let mut held = 1u64;
    let mut points = Vec::new();
    for &size in sizes {
        let start = Instant::now();
        while held < size {
            let end = size.min(held + BATCH);
            let batch = (held..end).map(|i| {
                let mut key = prefix.clone();
                key.extend_from_slice(&address(i));
                (key, balance.clone())
            });
            let root = store.root();
            store.commit(root, &writes(batch))?;
            held = end;
        }
        let grow_seconds = start.elapsed().as_secs_f64();
        drop(store);
        let disk_bytes = std::fs::metadata(path.join("state.redb"))?.len();
        let start = Instant::now();
        store = DirState::open(&path)?;
        let open_seconds = start.elapsed().as_secs_f64();
        let timed = transfers(rt, &module, &token, &mut store, TRANSFERS)?;
        // Balances of the first 10,000 accounts, which every checkpoint
        // holds.
        let mut rng = Accounts(0x2545_f491_4f6c_dd1d, 10_000);
        let mut reads = Vec::new();
        let mut proof_bytes = 0;
        for _ in 0..TRANSFERS {
            let mut key = prefix.clone();
            key.extend_from_slice(&address(rng.next()));
            let start = Instant::now();
            let value = store.value(&key)?;
            let proof = store.prove(&[&key])?;
            reads.push(start.elapsed().as_secs_f64());
            ensure!(value.is_some(), "an account is missing");
            proof_bytes = proof.len();
        }
        points.push(Point {
            keys: store.len()?,
            grow_seconds,
            disk_bytes,
            peak_rss_mib: peak_rss_mib(),
            open_seconds,
            call_seconds: median(timed.calls),
            commit_seconds: timed.committing.as_secs_f64() / TRANSFERS as f64,
            read_with_proof_seconds: median(reads),
            proof_bytes,
        });
    }
    Ok(points)
}

/// The table `--scale` prints.
pub(crate) fn table(points: &[Point]) -> String {
    let mut out = format!(
        "{:>10} {:>9} {:>9} {:>9} {:>8} {:>9} {:>10} {:>10} {:>7}\n",
        "keys",
        "grow s",
        "disk MB",
        "peak MiB",
        "open ms",
        "call µs",
        "commit ms",
        "read+proof",
        "proof B"
    );
    for p in points {
        out += &format!(
            "{:>10} {:>9.1} {:>9.0} {:>9} {:>8.1} {:>9.1} {:>10.3} {:>8.1}µs {:>7}\n",
            p.keys,
            p.grow_seconds,
            p.disk_bytes as f64 / 1e6,
            p.peak_rss_mib
                .map_or_else(|| "-".to_string(), |m| format!("{m:.0}")),
            p.open_seconds * 1e3,
            p.call_seconds * 1e6,
            p.commit_seconds * 1e3,
            p.read_with_proof_seconds * 1e6,
            p.proof_bytes,
        );
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        out += &format!(
            "commit at {} keys vs {}: {:.2}x\n",
            last.keys,
            first.keys,
            last.commit_seconds / first.commit_seconds
        );
    }
    out
}

/// `VmHWM` of this process, in MiB, where /proc has it.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
