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

/// The callee: the deployable bomb slowest to compile on this machine
/// and, per fuel of `wasm_load`, the slowest to load (`load_cost`): the
/// worst case both for a node that warmed and for one that did not.
const QUICK_BOMB: &str = "branches under the Cranelift bound, 1 bodies";

/// The `cold_callees` row: the transaction's wall time in ms on a node
/// just started with warmed artifacts, its fuel and ns per fuel, the same
/// transaction with the modules in memory, and on a node that skipped
/// warming.
pub(crate) fn row(quick: bool) -> Result<Row> {
    let profile = Profile::asserted_senders();
    let (name, bomb) = crate::bombs::bombs(&profile)
        .into_iter()
        .find(|(name, _)| name.starts_with(QUICK_BOMB))
        .context("no such compile bomb")?;
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
    // A node as it starts: its artifact cache warmed from the state
    // (`Runtime::warm`), its memory cache empty. Each callee is loaded,
    // never compiled.
    let dir = tempfile::tempdir()?;
    let node = || {
        Runtime::builder(profile.clone())
            .artifact_cache_path(dir.path())
            .and_then(|b| b.build())
    };
    let warmed = node()?.warm(state.codes());
    anyhow::ensure!(warmed.unready == 0, "warming left {warmed:?}");
    let started = node()?;
    let start = Instant::now();
    let r = started.execute_call(&tx, &state)?;
    let started_s = start.elapsed().as_secs_f64();
    check_success(&r)?;
    ensure_called(&r, n)?;
    let stats = started.cache_stats();
    anyhow::ensure!(
        stats.compiled == 0,
        "a warmed node compiled at a call: {stats:?}"
    );
    let start = Instant::now();
    let again = started.execute_call(&tx, &state)?;
    let warm_s = start.elapsed().as_secs_f64();
    check_success(&again)?;
    // A node that skipped warming and has no artifacts: what fuel does
    // not bound, and why warming is required.
    let unwarmed = Runtime::new(profile.clone())?;
    let start = Instant::now();
    check_success(&unwarmed.execute_call(&tx, &state)?)?;
    let unwarmed_s = start.elapsed().as_secs_f64();
    let mut row = Row::new("cold_callees", "ms", false);
    row.verity = Some(started_s * 1e3);
    row.ratios.insert("callees".into(), n as f64);
    row.ratios.insert("fuel_used".into(), r.fuel_used as f64);
    row.ratios
        .insert("ns_per_fuel".into(), started_s * 1e9 / r.fuel_used as f64);
    row.ratios.insert("in_memory_ms".into(), warm_s * 1e3);
    row.ratios.insert("unwarmed_ms".into(), unwarmed_s * 1e3);
    row.ratios.insert(
        "unwarmed_ns_per_fuel".into(),
        unwarmed_s * 1e9 / r.fuel_used as f64,
    );
    Ok(row)
}

/// The `load_cost` row: what loading a stored module's artifact costs a
/// node whose memory cache does not hold it (hashing the stored code,
/// reading, checking and deserializing the artifact, linking), against
/// the `wasm_load` fuel a frame running it is charged. Over the fixture
/// contracts, every compile bomb a deploy can pay for, and one module
/// large enough for the Winch tier: the worst ns per fuel must stay under
/// the 5 of the 2 s-per-`max_fuel` rule. The row's value is that worst
/// ratio.
pub(crate) fn load_row(quick: bool) -> Result<Row> {
    let profile = Profile::default();
    let mut modules: Vec<(String, Vec<u8>)> = vec![(
        "empty".into(),
        module_bytes(br#"(module (func (export "run")))"#)?,
    )];
    for name in [
        "counter",
        "token",
        "escrow",
        "multisig",
        "workloads",
        "kernels",
    ] {
        modules.push((name.into(), crate::fixture(&format!("{name}.wasm"))?));
    }
    let payable = |code: &[u8]| -> Result<bool> {
        Ok(match Runtime::new(profile.clone())?.prepare(code) {
            Ok(p) => p.preparation_fuel(&profile.costs) <= profile.limits.max_fuel,
            Err(_) => false,
        })
    };
    for (name, code) in crate::bombs::bombs(&profile) {
        if (!quick || name.starts_with(QUICK_BOMB)) && payable(&code)? {
            modules.push((name, code));
        }
    }
    let large = crate::bombs::winch_module();
    anyhow::ensure!(payable(&large)?, "the Winch-tier module is not deployable");
    let tier = Runtime::new(profile.clone())?
        .prepare(&large)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .compiler();
    anyhow::ensure!(
        tier == verity_runtime::Compiler::Winch,
        "the Winch-tier module compiles with {tier:?}"
    );
    modules.push(("Winch tier".into(), large));
    let dir = tempfile::tempdir()?;
    // Room for one module in memory: loading one evicts the other.
    let rt = Runtime::builder(profile.clone())
        .cache_capacity(1)
        .artifact_cache_path(dir.path())?
        .build()?;
    let filler = module_bytes(br#"(module (func (export "filler")))"#)?;
    rt.prepare(&filler).map_err(|e| anyhow::anyhow!("{e}"))?;
    let samples = if quick { 5 } else { 31 };
    let (mut worst, mut worst_name, mut worst_max) = (0.0f64, String::new(), 0.0f64);
    for (name, code) in &modules {
        let prepared = rt
            .prepare(code)
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let fuel = prepared.load_fuel(&profile.costs);
        drop(prepared);
        let before = rt.cache_stats();
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            rt.prepare(&filler).map_err(|e| anyhow::anyhow!("{e}"))?;
            let start = Instant::now();
            // What a call of an uncached module does: hash the stored code
            // (checked against the record's hash), then load its artifact.
            let hash = Hash32::of(code);
            std::hint::black_box((hash, rt.prepare(code).map_err(|e| anyhow::anyhow!("{e}"))?));
            times.push(start.elapsed().as_secs_f64());
        }
        let after = rt.cache_stats();
        anyhow::ensure!(
            after.compiled == before.compiled,
            "load_cost compiled {name} instead of loading it"
        );
        times.sort_by(f64::total_cmp);
        let (median, max) = (times[times.len() / 2], times[times.len() - 1]);
        let ns = median * 1e9 / fuel as f64;
        let ns_max = max * 1e9 / fuel as f64;
        eprintln!(
            "load_cost: | {name} | {} | {:.0} us | {:.0} us | {fuel} | {ns:.2} | {ns_max:.2} |",
            code.len(),
            median * 1e6,
            max * 1e6
        );
        if ns > worst {
            (worst, worst_name) = (ns, name.clone());
        }
        worst_max = worst_max.max(ns_max);
    }
    eprintln!("load_cost: worst median: {worst_name}, {worst:.2} ns per fuel");
    let mut row = Row::new("load_cost", "ns/fuel", false);
    row.verity = Some(worst);
    row.ratios.insert("modules".into(), modules.len() as f64);
    row.ratios.insert("worst_max_ns_per_fuel".into(), worst_max);
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
