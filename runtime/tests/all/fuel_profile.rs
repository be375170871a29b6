//! The fuel profile (`Runtime::execute_profiled`): where a run's fuel went, by
//! class. Exact for a module whose costs are known by hand; for every
//! fixture scenario and adversarial module, the classes sum to the
//! receipt's `fuel_used`, and only a run that ran out of fuel has an
//! `out_of_fuel` entry.

use verity_runtime::{
    FuelProfile, Hash32, MemoryState, Profile, Runtime, Status, Transaction, module_bytes,
};

fn fuel(p: &FuelProfile, class: &str) -> u64 {
    p.entries
        .iter()
        .filter(|e| e.class == class)
        .map(|e| e.fuel)
        .sum()
}

fn calls(p: &FuelProfile, class: &str) -> Option<u64> {
    p.entries.iter().find(|e| e.class == class)?.calls
}

/// A one-shot run of a module with a loop of loads, a `memory.fill` and
/// host calls: every class's fuel as the schedule gives it.
#[test]
fn each_class_gets_exactly_what_the_schedule_charges() {
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let c = Profile::default().costs;
    let code = module_bytes(
        br#"(module
      (import "verity" "output_set" (func $out (param i32 i32)))
      (memory (export "memory") 2)
      (func (export "run") (local $i i32)
        (loop $l
          (drop (i32.load (local.get $i)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 100))))
        (memory.fill (i32.const 0) (i32.const 7) (i32.const 1000))
        (call $out (i32.const 0) (i32.const 10))))"#,
    )
    .unwrap();
    let tx = Transaction::new("run").with_fuel(10_000_000);
    let run = rt
        .execute_profiled(Some(&code), &tx, &MemoryState::default())
        .unwrap();
    let r = &run.receipt;
    assert_eq!(r.status, Status::Success);
    let p = &run.fuel;
    assert_eq!(p.total(), r.fuel_used);
    let prepared = rt.prepare(&code).unwrap();
    assert_eq!(fuel(p, "prepare"), prepared.preparation_fuel(&c));
    assert_eq!(fuel(p, "code_storage"), 0);
    assert_eq!(fuel(p, "instance"), c.wasm_instance.base);
    assert_eq!(fuel(p, "initial_pages"), 2 * c.wasm_instance.per_unit);
    // Per iteration: local.get, drop, local.get, i32.const, i32.add,
    // local.set, local.get, i32.const, i32.lt_u, br_if = 10 ops, one load;
    // then 3 constants for the fill, 2 for the call, and the call.
    assert_eq!(fuel(p, "memory_access"), 100 * c.memory_access.price(2));
    assert_eq!(fuel(p, "wasm_op"), 100 * 10 + 3 + 2 + 1);
    assert_eq!(fuel(p, "wasm_memory_bulk"), c.wasm_memory_bulk.total(1000));
    assert_eq!(fuel(p, "output"), c.output.total(10));
    assert_eq!(calls(p, "output"), Some(1));
    assert_eq!(fuel(p, "out_of_fuel"), 0);
    // Profiling changes nothing the receipt says.
    assert_eq!(*r, rt.execute(&code, &tx, &MemoryState::default()).unwrap());
}

/// A run out of fuel: what it paid for by class, and the rest of its limit
/// as `out_of_fuel`; the sum is the limit.
#[test]
fn a_run_out_of_fuel_shows_what_it_paid_for_and_the_rest() {
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    // 7 fuel per iteration: 3 x (i32.const, drop) and the br.
    let code = module_bytes(
        br#"(module (func (export "run")
          (loop $l (drop (i32.const 0)) (drop (i32.const 0)) (drop (i32.const 0)) (br $l))))"#,
    )
    .unwrap();
    let prepare = rt
        .prepare(&code)
        .unwrap()
        .preparation_fuel(&Profile::default().costs);
    let tx = Transaction::new("run").with_fuel(prepare + 10_000);
    let run = rt
        .execute_profiled(Some(&code), &tx, &MemoryState::default())
        .unwrap();
    assert_eq!(run.receipt.status, Status::OutOfFuel);
    let p = &run.fuel;
    assert_eq!(p.total(), tx.fuel_limit);
    assert_eq!(fuel(p, "prepare"), prepare);
    let left = 10_000 - Profile::default().costs.wasm_instance.base;
    assert_eq!(fuel(p, "wasm_op"), left / 7 * 7, "{p:?}");
    // The iteration that could not pay for itself.
    assert_eq!(fuel(p, "out_of_fuel"), left % 7, "{p:?}");
    assert!(left % 7 > 0);
    // Too poor to prepare: nothing paid, all of it out of fuel.
    let tx = Transaction::new("run").with_fuel(prepare - 1);
    let run = rt
        .execute_profiled(Some(&code), &tx, &MemoryState::default())
        .unwrap();
    assert_eq!(run.fuel.entries.len(), 1, "{:?}", run.fuel);
    assert_eq!(fuel(&run.fuel, "out_of_fuel"), prepare - 1);
}

/// Every adversarial module and fixture contract scenario: the classes sum
/// to `fuel_used`, a successful run has nothing unaccounted, and the
/// receipt is the one `execute` gives.
#[test]
fn the_profile_sums_to_fuel_used_for_every_fixture_and_adversarial_module() {
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");
    let manifest = std::fs::read_to_string(format!("{root}/adversarial/expected.tsv")).unwrap();
    let mut checked = 0;
    let mut check = |code: &[u8], tx: &Transaction, state: &MemoryState| {
        let run = rt.execute_profiled(Some(code), tx, state).unwrap();
        let r = &run.receipt;
        assert_eq!(
            run.fuel.total(),
            r.fuel_used,
            "{}: {:?}",
            tx.entry,
            run.fuel
        );
        if r.status != Status::OutOfFuel {
            assert_eq!(
                fuel(&run.fuel, "out_of_fuel"),
                0,
                "{}: {:?}",
                tx.entry,
                run.fuel
            );
            assert_eq!(
                fuel(&run.fuel, "wasm_code"),
                0,
                "{}: {:?}",
                tx.entry,
                run.fuel
            );
        }
        checked += 1;
        run
    };
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let code = module_bytes(&std::fs::read(format!("{root}/adversarial/{}", cols[0])).unwrap())
            .unwrap();
        // A tenth of the benchmark's fuel: every module still ends as it
        // would, or out of fuel.
        let fuel: u64 = cols[2].parse::<u64>().unwrap() / 10 + 1_000_000;
        check(
            &code,
            &Transaction::new("run").with_fuel(fuel),
            &MemoryState::default(),
        );
    }
    // The token: deploy with its constructor, then calls from the state.
    let token = std::fs::read(format!("{root}/wasm/token.wasm")).unwrap();
    let owner = [1u8; 32];
    let mut state = MemoryState::default();
    let deploy = Transaction::deploy(Hash32([3; 32]))
        .with_entry("init")
        .with_input(postcard::to_allocvec(&(owner,)).unwrap())
        .with_sender(owner.to_vec());
    let run = check(&token, &deploy, &state);
    assert_eq!(
        fuel(&run.fuel, "code_storage"),
        Profile::default()
            .costs
            .storage_write
            .total(token.len() as u64)
    );
    state.commit(&run.receipt).unwrap();
    let contract = run.receipt.contract;
    for (entry, input) in [
        ("mint", postcard::to_allocvec(&([2u8; 32], 500u64)).unwrap()),
        (
            "transfer",
            postcard::to_allocvec(&([3u8; 32], 1u64)).unwrap(),
        ),
        ("balance_of", postcard::to_allocvec(&([2u8; 32],)).unwrap()),
    ] {
        let sender = if entry == "transfer" {
            [2u8; 32]
        } else {
            owner
        };
        let tx = Transaction::call(contract, entry)
            .with_input(input)
            .with_sender(sender.to_vec());
        let run = rt.execute_profiled(None, &tx, &state).unwrap();
        assert_eq!(run.fuel.total(), run.receipt.fuel_used, "{entry}");
        assert_eq!(fuel(&run.fuel, "prepare"), 0, "a call prepares nothing");
        assert!(
            fuel(&run.fuel, "storage_read") > 0,
            "{entry}: {:?}",
            run.fuel
        );
        assert_eq!(run.receipt, rt.execute_call(&tx, &state).unwrap());
        if run.receipt.status.is_success() {
            state.commit(&run.receipt).unwrap();
        }
    }
    for wasm in ["counter", "hasher", "hostile", "kernels", "multisig"] {
        let code = std::fs::read(format!("{root}/wasm/{wasm}.wasm")).unwrap();
        let info = rt.prepare(&code).unwrap();
        // Every entry with no arguments, as a one-shot run.
        for (name, sig) in &info.info().exported_functions {
            if sig.is_entry() && !name.starts_with("__") {
                check(
                    &code,
                    &Transaction::new(name.clone()).with_fuel(20_000_000),
                    &MemoryState::default(),
                );
            }
        }
    }
    assert!(checked > 60, "{checked} runs checked");
}
