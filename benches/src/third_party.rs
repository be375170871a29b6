//! Honest work from crates.io (`fixtures/contracts/workloads`): how much of
//! each workload one `max_fuel` transaction buys, beside its native time
//! (docs/performance.md, "Work per transaction").

use std::time::Instant;

use anyhow::{Result, ensure};
use verity_runtime::{Hash32, MemoryState, Profile, Runtime, Transaction};

use crate::report::Row;

/// One workload: its entry, the size it runs at, the unit of that size,
/// and the native function.
struct Workload {
    name: &'static str,
    entry: &'static str,
    arg: u32,
    unit: &'static str,
    native: fn(u32) -> Vec<u8>,
}

fn workloads() -> Vec<Workload> {
    use workloads::compute;
    vec![
        Workload {
            name: "third_party_keccak_1mib",
            entry: "keccak_buffer",
            arg: 1024,
            unit: "KiB hashed",
            native: |n| postcard::to_allocvec(&compute::keccak_buffer(n)).unwrap(),
        },
        Workload {
            name: "third_party_sha256_1mib",
            entry: "sha256_buffer",
            arg: 1024,
            unit: "KiB hashed",
            native: |n| postcard::to_allocvec(&compute::sha256_buffer(n)).unwrap(),
        },
        Workload {
            name: "third_party_json_parse",
            entry: "json_parse",
            arg: 1000,
            unit: "records written and parsed",
            native: |n| postcard::to_allocvec(&compute::json_parse(n)).unwrap(),
        },
        Workload {
            name: "third_party_sort_vec",
            entry: "sort_vec",
            arg: 100_000,
            unit: "u64s sorted",
            native: |n| postcard::to_allocvec(&compute::sort_vec(n)).unwrap(),
        },
    ]
}

/// The rows: milliseconds per call (native and Verity), the fuel a call
/// uses, and the work one `max_fuel` transaction completes.
pub(crate) fn rows(quick: bool, rt: &Runtime, want: &dyn Fn(&str) -> bool) -> Result<Vec<Row>> {
    let code = crate::fixture("workloads.wasm")?;
    // Calls of the deployed contract: preparing its code is the deploy's.
    let mut state = MemoryState::default();
    let deploy = rt.execute(&code, &Transaction::deploy(Hash32([7; 32])), &state)?;
    ensure!(deploy.status.is_success(), "deploy: {}", deploy.status);
    state.commit(&deploy)?;
    let max_fuel = Profile::default().limits.max_fuel;
    let reps = if quick { 1 } else { 5 };
    let mut rows = Vec::new();
    for w in workloads().into_iter().filter(|w| want(w.name)) {
        let arg = if quick { w.arg / 10 } else { w.arg };
        let expected = (w.native)(arg);
        let mut row = Row::new(w.name, "ms", false);
        let time = |f: &mut dyn FnMut() -> Result<()>| -> Result<f64> {
            let mut samples = Vec::new();
            for _ in 0..reps {
                let start = Instant::now();
                f()?;
                samples.push(start.elapsed().as_secs_f64());
            }
            samples.sort_by(f64::total_cmp);
            Ok(samples[samples.len() / 2])
        };
        row.native = Some(
            time(&mut || {
                std::hint::black_box((w.native)(std::hint::black_box(arg)));
                Ok(())
            })? * 1e3,
        );
        let tx = Transaction::call(deploy.contract, w.entry)
            .with_input(postcard::to_allocvec(&(arg,))?)
            .with_fuel(max_fuel);
        let mut used = 0;
        row.verity = Some(
            time(&mut || {
                let r = rt.execute_call(&tx, &state)?;
                ensure!(r.status.is_success(), "{}: {}", w.name, r.status);
                ensure!(r.output == expected, "{}: wrong output", w.name);
                used = r.fuel_used;
                Ok(())
            })? * 1e3,
        );
        row.ratios.insert("fuel_used".into(), used as f64);
        let work = arg as f64 * max_fuel as f64 / used as f64;
        row.ratios.insert("work_per_max_fuel".into(), work);
        eprintln!(
            "third_party: | {} | {arg} {} | {used} | {work:.0} {} |",
            w.name, w.unit, w.unit
        );
        row.ratios.insert("size".into(), arg as f64);
        rows.push(row.finish());
    }
    Ok(rows)
}
