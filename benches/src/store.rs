//! The state directory's store: what committing a transaction costs as the
//! state grows. The same 100 token transfers are executed and committed
//! (one durable database transaction each) into a store of 10,000 keys and
//! one of 1,000,000; the row reports the commit rate at 1M keys and the
//! ratio of the two commit times (the target: at most 2x, commit cost
//! grows with the writes, not the state), with the time to open the large
//! store (which checks the format, the root and redb's page checksums,
//! and reads no values: the tree lives on disk, docs/state.md).

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use verity_runtime::{PreparedModule, Runtime, Transaction, WriteEntry};
use verity_store::DirState;

use crate::authenticated::{address, token_accounts};
use crate::report::Row;
use crate::state_tree::Accounts;
use crate::{fixture, prepare};

/// The row `state_commit` (commits/s at the larger state).
pub(crate) fn row(quick: bool, rt: &Runtime) -> Result<Row> {
    let (small, large) = if quick {
        (10_000, 100_000)
    } else {
        (10_000, 1_000_000)
    };
    let token = fixture("token.wasm")?;
    let module = prepare(rt, &token)?;
    let mut times = Vec::new();
    let mut open_s = 0.0;
    for accounts in [small, large] {
        let dir = tempfile::tempdir()?;
        let mut store = DirState::create(dir.path())?;
        let writes = writes(token_accounts(rt, &token, accounts)?.into_iter());
        store.commit(store.root(), &writes)?;
        drop(store);
        let start = Instant::now();
        let mut store = DirState::open(dir.path())?;
        open_s = start.elapsed().as_secs_f64();
        let timed = transfers(rt, &module, &token, &mut store, 100)?;
        times.push(timed.committing.as_secs_f64() / 100.0);
    }
    let mut row = Row::new("state_commit", "commits/s", true);
    row.verity = Some(1.0 / times[1]);
    row.ratios
        .insert("large_vs_small_commit_time".into(), times[1] / times[0]);
    row.ratios.insert("small_keys".into(), small as f64);
    row.ratios.insert("large_keys".into(), large as f64);
    row.ratios
        .insert("small_commits_per_s".into(), 1.0 / times[0]);
    row.ratios.insert("open_seconds_large".into(), open_s);
    Ok(row)
}

/// What [`transfers`] measured.
pub(crate) struct Transfers {
    /// Each transfer's execution against the store, in seconds.
    pub(crate) calls: Vec<f64>,
    /// All of the commits together.
    pub(crate) committing: Duration,
}

/// `n` token transfers between the first 10,000 accounts (which every
/// state these benches build holds, so every size runs the same
/// transactions), each executed against `store` and committed.
pub(crate) fn transfers(
    rt: &Runtime,
    module: &PreparedModule,
    token: &[u8],
    store: &mut DirState,
    n: usize,
) -> Result<Transfers> {
    let mut rng = Accounts(0x9e37_79b9_7f4a_7c15, 10_000);
    let mut timed = Transfers {
        calls: Vec::with_capacity(n),
        committing: Duration::ZERO,
    };
    for _ in 0..n {
        let (from, to) = (address(rng.next()), address(rng.next()));
        let tx = Transaction::call(crate::token_contract(token), "transfer")
            .with_input(postcard::to_allocvec(&(to, 1u64))?)
            .with_sender(from.to_vec())
            .with_fuel(1_000_000);
        let start = Instant::now();
        let receipt = rt.execute_prepared(module, &tx, store)?;
        timed.calls.push(start.elapsed().as_secs_f64());
        ensure!(receipt.status.is_success(), "a transfer failed");
        let start = Instant::now();
        store.commit(receipt.pre_state_root, &receipt.writes)?;
        timed.committing += start.elapsed();
        ensure!(store.root() == receipt.post_state_root);
    }
    Ok(timed)
}

/// Entries as the writes that store them.
pub(crate) fn writes(entries: impl Iterator<Item = (Vec<u8>, Vec<u8>)>) -> Vec<WriteEntry> {
    entries
        .map(|(key, value)| WriteEntry {
            key,
            value: Some(value),
        })
        .collect()
}
