//! Instance allocation is a matter of speed, never of outcome: the pool
//! takes every module validation accepts, resets a slot completely between
//! runs, and makes callers wait rather than fail when all slots are busy.

use std::sync::Arc;

use verity_runtime::{
    Allocation, MemoryState, PoolOptions, Profile, Receipt, Runtime, Status, Transaction,
    module_bytes,
};

fn pooled(slots: u32) -> Runtime {
    Runtime::builder(Profile::default())
        .allocation(Allocation::Pooling(PoolOptions {
            slots,
            ..PoolOptions::default()
        }))
        .build()
        .unwrap()
}

fn on_demand() -> Runtime {
    Runtime::builder(Profile::default())
        .allocation(Allocation::OnDemand)
        .build()
        .unwrap()
}

fn run(rt: &Runtime, wasm: &[u8], entry: &str) -> Receipt {
    // The most fuel a transaction may have: the largest modules pay
    // millions to be prepared (docs/costs.md).
    let tx = Transaction::new(entry).with_fuel(Profile::default().limits.max_fuel);
    rt.execute(wasm, &tx, &MemoryState::default()).unwrap()
}

/// The largest instance the default profile admits: 10,000 functions (all
/// but one imported, all of them in the table, so each has a function
/// reference), the most globals, the most element entries and wasmparser's
/// most data segments. It must run in a pool slot exactly as on demand.
#[test]
fn the_largest_instance_the_profile_accepts_fits_a_pool_slot() {
    let limits = Profile::default().limits;
    let imports = limits.max_functions - 1;
    let mut wat = String::from("(module\n");
    for _ in 0..imports {
        wat.push_str("(import \"verity\" \"input_len\" (func (result i32)))\n");
    }
    wat.push_str("(memory 1)\n");
    wat.push_str(&format!("(table {} funcref)\n", limits.max_table_elements));
    wat.push_str(&"(global (mut i32) (i32.const 0))\n".repeat(limits.max_globals as usize));
    wat.push_str("(func (export \"run\"))\n(elem (i32.const 0) func");
    for i in 0..limits.max_element_entries.min(imports) {
        wat.push_str(&format!(" {i}"));
    }
    wat.push_str(")\n");
    wat.push_str(&"(data \"\")".repeat(100_000));
    wat.push(')');
    let wasm = module_bytes(wat.as_bytes()).unwrap();

    let pooled = run(&pooled(1), &wasm, "run");
    assert_eq!(pooled.status, Status::Success, "{}", pooled.status);
    assert_eq!(pooled.encode(), run(&on_demand(), &wasm, "run").encode());
}

/// `dirty` changes everything a run can change in its instance: data, the
/// stack area, fresh pages from `memory.grow`, a global and the table.
/// `check` traps unless it sees a pristine instance. With one slot, `check`
/// always reuses the slot `dirty` just left.
const ISOLATION: &str = r#"(module
  (memory (export "memory") 1 4)
  (data (i32.const 16) "pristine")
  (global $g (mut i64) (i64.const 7))
  (table 2 funcref)
  (elem (i32.const 0) func $f)
  (func $f)
  (func (export "dirty")
    (i64.store (i32.const 16) (i64.const -1))
    (i64.store (i32.const 60000) (i64.const -1))
    (drop (memory.grow (i32.const 2)))
    (i64.store (i32.const 150000) (i64.const -1))
    (global.set $g (i64.const 8))
    (table.set (i32.const 1) (ref.func $f)))
  (func (export "check")
    (if (i64.ne (i64.load (i32.const 16)) (i64.const 0x656e697473697270)) (then unreachable))
    (if (i64.ne (i64.load (i32.const 60000)) (i64.const 0)) (then unreachable))
    (if (i32.ne (memory.size) (i32.const 1)) (then unreachable))
    (if (i64.ne (global.get $g) (i64.const 7)) (then unreachable))
    (if (i32.eqz (ref.is_null (table.get (i32.const 1)))) (then unreachable))))"#;

#[test]
fn a_reused_slot_shows_nothing_of_the_previous_run() {
    let wasm = module_bytes(ISOLATION.as_bytes()).unwrap();
    for rt in [pooled(1), on_demand()] {
        assert_eq!(run(&rt, &wasm, "check").status, Status::Success);
        for _ in 0..3 {
            assert_eq!(run(&rt, &wasm, "dirty").status, Status::Success);
            let r = run(&rt, &wasm, "check");
            assert_eq!(r.status, Status::Success, "{}", r.status);
        }
    }
}

#[test]
fn callers_wait_for_a_slot_instead_of_failing() {
    let rt = Arc::new(pooled(1));
    let wasm = Arc::new(module_bytes(ISOLATION.as_bytes()).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (rt, wasm) = (rt.clone(), wasm.clone());
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| run(&rt, &wasm, if i % 2 == 0 { "dirty" } else { "check" }))
                    .filter(|r| r.status != Status::Success)
                    .count()
            })
        })
        .collect();
    let failures: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(failures, 0);
}

/// Dropping a compiled module makes wasmtime take its idle pool slots for a
/// moment (to clear their affinity). One thread compiles, runs once and
/// drops module after module (the cache holds one), another keeps running:
/// nobody may see the pool as full.
#[test]
fn modules_dropped_during_runs_do_not_fail_them() {
    let rt = Arc::new(
        Runtime::builder(Profile::default())
            .allocation(Allocation::Pooling(PoolOptions {
                slots: 1,
                ..PoolOptions::default()
            }))
            .cache_capacity(1)
            .build()
            .unwrap(),
    );
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // More threads than cores: preemption inside wasmtime's brief hold on
    // a slot is what exposes the race.
    let steady: Vec<_> = (0..3)
        .map(|_| {
            let (rt, done) = (rt.clone(), done.clone());
            std::thread::spawn(move || {
                let wasm = module_bytes(ISOLATION.as_bytes()).unwrap();
                let module = rt.prepare(&wasm).unwrap();
                let mut failures = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let tx = Transaction::new("check");
                    let r = rt
                        .execute_prepared(&module, &tx, &MemoryState::default())
                        .unwrap();
                    failures += usize::from(r.status != Status::Success);
                }
                failures
            })
        })
        .collect();
    for i in 0..300 {
        let wat = format!(r#"(module (memory 1) (func (export "check")) (func (export "v{i}")))"#);
        let r = run(&rt, &module_bytes(wat.as_bytes()).unwrap(), "check");
        assert_eq!(r.status, Status::Success, "{}", r.status);
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let failures: usize = steady.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(failures, 0);
}
