//! `cold_callees`: what a node pays, outside fuel, when one transaction
//! calls contracts whose code no cache holds. Fuel cannot depend on what a
//! node has cached, so a callee's compile is paid once, by its deploy; a
//! node that restarted without an artifact cache compiles it again at the
//! first call. The worst case is `max_call_depth` distinct callees, each
//! the slowest module `compile_bombs` accepts (made distinct by a custom
//! section), called once each by one transaction (issue 22).

use std::time::Instant;

use anyhow::{Context, Result};
use verity_runtime::{Hash32, MemoryState, Profile, Runtime, Transaction, module_bytes};

use crate::report::Row;
use crate::{ALICE, check_success};

/// Calls `run` of each 32-byte address of its input in turn, whatever
/// each call returns.
const DRIVER: &str = r#"(module
  (import "verity" "input_len" (func $input_len (result i32)))
  (import "verity" "input_read" (func $input_read (param i32)))
  (import "verity" "call" (func $call (param i32 i32 i32 i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1000) "run")
  (func (export "run") (local $p i32) (local $end i32)
    (call $input_read (i32.const 0))
    (local.set $end (call $input_len))
    (loop $l
      (drop (call $call (local.get $p) (i32.const 1000) (i32.const 3) (i32.const 0) (i32.const 0) (i64.const 0)))
      (local.set $p (i32.add (local.get $p) (i32.const 32)))
      (br_if $l (i32.lt_u (local.get $p) (local.get $end))))))"#;

/// The bomb quick mode uses: the slowest deployable one on this machine.
const QUICK_BOMB: &str = "branches under the Cranelift bound, 1 bodies";

/// The `cold_callees` row: the cold transaction's wall time in ms, and
/// its fuel, its ns per fuel and the same transaction warm.
pub(crate) fn row(quick: bool) -> Result<Row> {
    let profile = Profile::asserted_senders();
    // The slowest bomb a deploy can pay for (preparing some accepted ones
    // costs more than max_fuel: they can never be stored).
    // Quick mode takes the one that was slowest here, unmeasured.
    let mut slowest: Option<(f64, String, Vec<u8>)> = None;
    for (name, code) in crate::bombs::bombs(&profile) {
        if quick && name.starts_with(QUICK_BOMB) {
            slowest = Some((0.0, name, code));
            break;
        }
        let fresh = Runtime::new(profile.clone())?;
        let start = Instant::now();
        let Ok(prepared) = fresh.prepare(&code) else {
            continue;
        };
        let s = start.elapsed().as_secs_f64();
        let payable = prepared.preparation_fuel(&profile.costs) < profile.limits.max_fuel / 2;
        if payable && slowest.as_ref().is_none_or(|(t, _, _)| s > *t) {
            slowest = Some((s, name, code));
        }
    }
    let (_, name, bomb) = slowest.context("no compile bomb a deploy can pay for")?;
    eprintln!("cold_callees: each callee is `{name}`");
    let n = if quick {
        2
    } else {
        profile.limits.max_call_depth as usize
    };
    let deployer = Runtime::new(profile.clone())?;
    let mut state = MemoryState::default();
    let deploy = |state: &mut MemoryState, code: &[u8], salt: u8| -> Result<[u8; 32]> {
        let mut s = Hash32::default();
        s.0[31] = salt;
        let tx = Transaction::deploy(s)
            .with_sender(ALICE.to_vec())
            .with_fuel(profile.limits.max_fuel);
        let r = deployer.execute(code, &tx, state)?;
        check_success(&r)?;
        state.commit(&r)?;
        Ok(r.contract.0)
    };
    let mut input = Vec::new();
    for i in 0..n {
        // A custom section named for `i`: another hash, the same code.
        let mut code = bomb.clone();
        let name = format!("cold{i}");
        code.extend([0, (name.len() + 1) as u8, name.len() as u8]);
        code.extend(name.as_bytes());
        input.extend(deploy(&mut state, &code, i as u8 + 1)?);
    }
    let driver = deploy(&mut state, &module_bytes(DRIVER.as_bytes())?, 100)?;
    let tx = Transaction::call(verity_runtime::ContractId(driver), "run")
        .with_sender(ALICE.to_vec())
        .with_input(input);
    // A fresh runtime: empty module cache, no artifact cache.
    let cold = Runtime::new(profile.clone())?;
    let start = Instant::now();
    let r = cold.execute_call(&tx, &state)?;
    let cold_s = start.elapsed().as_secs_f64();
    check_success(&r)?;
    ensure_called(&r, n)?;
    let start = Instant::now();
    let again = cold.execute_call(&tx, &state)?;
    let warm_s = start.elapsed().as_secs_f64();
    check_success(&again)?;
    let mut row = Row::new("cold_callees", "ms", false);
    row.verity = Some(cold_s * 1e3);
    row.ratios.insert("callees".into(), n as f64);
    row.ratios.insert("fuel_used".into(), r.fuel_used as f64);
    row.ratios
        .insert("ns_per_fuel".into(), cold_s * 1e9 / r.fuel_used as f64);
    row.ratios.insert("warm_ms".into(), warm_s * 1e3);
    row.ratios.insert("cold_vs_warm".into(), cold_s / warm_s);
    Ok(row)
}

/// Every callee was called.
fn ensure_called(r: &verity_runtime::Receipt, n: usize) -> Result<()> {
    anyhow::ensure!(
        r.calls.len() == n,
        "{} calls in the tree, not {n}",
        r.calls.len()
    );
    Ok(())
}
