//! The token on an authenticated state: transfers between accounts drawn
//! from a state of 1,000,000 keys, each executed (its receipt carrying the
//! pre- and post-state roots), its receipt hashed, and committed to a
//! `MemoryState`, which proves every key the transaction touched and takes
//! the new root; then the stateless verification of those receipts:
//! re-execution from the read set plus the witness check of the transition
//! against the pre-state root, on one core and on all.

use std::time::Instant;

use anyhow::{Result, anyhow, ensure};
use verity_runtime::{
    MemoryState, Receipt, Runtime, Transaction, Transition, check_receipt_transition,
};

use crate::report::Row;
use crate::state_tree::Accounts;
use crate::{ALICE, fixture, prepare, token_state};

/// Account `i`'s address.
pub(crate) fn address(i: u64) -> [u8; 32] {
    let mut a = [0u8; 32];
    a[..8].copy_from_slice(&i.to_le_bytes());
    a[31] = 0xa5;
    a
}

/// The token as init and mint left it (owner, supply, ALICE's balance),
/// then `accounts` other accounts ([`address`]) holding 1,000 each as their
/// own balance entries: the key and value encodings are the ones `mint`
/// wrote.
pub(crate) fn token_accounts(
    rt: &Runtime,
    token: &[u8],
    accounts: u64,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let minted = token_state(rt, token)?;
    let (balance_key, _) = minted
        .iter()
        .find(|(k, _)| k.ends_with(&ALICE))
        .ok_or_else(|| anyhow!("no balance entry for ALICE"))?;
    let prefix = balance_key[..balance_key.len() - 32].to_vec();
    let balance = postcard::to_allocvec(&1_000u64)?;
    Ok(minted
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .chain((0..accounts).map(|i| {
            let mut key = prefix.clone();
            key.extend_from_slice(&address(i));
            (key, balance.clone())
        }))
        .collect())
}

/// The rows `token_transfer_authenticated` (tx/s) and `verify_witness`
/// (receipts/s), with ratios to `unauthenticated_tx_per_s`.
pub(crate) fn rows(
    quick: bool,
    rt: &Runtime,
    unauthenticated_tx_per_s: Option<f64>,
) -> Result<Vec<Row>> {
    let token = fixture("token.wasm")?;
    let module = prepare(rt, &token)?;
    let accounts: u64 = if quick { 10_000 } else { 1_000_000 };
    let transfers: u64 = if quick { 2_000 } else { 40_000 };

    let entries = token_accounts(rt, &token, accounts)?;
    let start = Instant::now();
    let mut state: MemoryState = entries.into_iter().collect();
    let build_s = start.elapsed().as_secs_f64();

    let mut rng = Accounts(0x2545_f491_4f6c_dd1d, accounts);
    let mut done: Vec<(Receipt, Transition)> = Vec::with_capacity(transfers as usize);
    let start = Instant::now();
    for _ in 0..transfers {
        let (from, to) = (address(rng.next()), address(rng.next()));
        let tx = Transaction::call(crate::token_contract(&token), "transfer")
            .with_input(postcard::to_allocvec(&(to, 1u64))?)
            .with_sender(from.to_vec())
            .with_fuel(1_000_000);
        let receipt = rt.execute_prepared(&module, &tx, &state)?;
        std::hint::black_box(receipt.hash());
        let transition = state.commit(&receipt)?;
        done.push((receipt, transition));
    }
    let execute_s = start.elapsed().as_secs_f64() / transfers as f64;
    ensure!(
        done.iter().all(|(r, _)| r.status.is_success()),
        "a transfer failed"
    );
    let witness_bytes =
        done.iter().map(|(_, t)| t.witness.len()).sum::<usize>() as f64 / transfers as f64;

    let verify = |items: &[(Receipt, Transition)]| -> Result<()> {
        for (receipt, transition) in items {
            rt.verify_prepared(&module, receipt)
                .map_err(|e| anyhow!("{e}"))?;
            check_receipt_transition(receipt, &transition.witness).map_err(|e| anyhow!("{e}"))?;
        }
        Ok(())
    };
    let start = Instant::now();
    verify(&done)?;
    let verify_one_s = start.elapsed().as_secs_f64() / transfers as f64;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let chunk = done.len().div_ceil(cores);
        let handles: Vec<_> = done
            .chunks(chunk)
            .map(|c| s.spawn(move || verify(c)))
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow!("a verifier thread panicked"))??;
        }
        Ok(())
    })?;
    let verify_all_s = start.elapsed().as_secs_f64() / transfers as f64;

    let mut exec = Row::new("token_transfer_authenticated", "tx/s", true);
    exec.verity = Some(1.0 / execute_s);
    exec.ratios.insert("state_keys".into(), state.len() as f64);
    exec.ratios.insert("witness_bytes".into(), witness_bytes);
    exec.ratios.insert("build_seconds".into(), build_s);
    if let Some(plain) = unauthenticated_tx_per_s {
        exec.ratios
            .insert("time_vs_unauthenticated".into(), plain * execute_s);
    }
    let mut ver = Row::new("verify_witness", "receipts/s", true);
    ver.verity = Some(1.0 / verify_all_s);
    ver.ratios
        .insert("single_core_receipts_per_s".into(), 1.0 / verify_one_s);
    ver.ratios
        .insert("single_core_vs_execution".into(), execute_s / verify_one_s);
    ver.ratios.insert(
        "speedup_all_cores_vs_one".into(),
        verify_one_s / verify_all_s,
    );
    ver.ratios.insert("cores".into(), cores as f64);
    Ok(vec![exec, ver])
}
