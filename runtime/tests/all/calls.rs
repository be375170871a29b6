//! Calls between contracts (docs/calls.md): a callee runs in its own
//! storage scope with its own input and output, knows its address and its
//! caller; a failed callee's writes and events are undone while its
//! caller goes on; re-entry is refused and a direct self-call is not;
//! reserved and missing entries and missing contracts are refused; a capped
//! callee that spins is recoverable, an uncapped one ends the transaction;
//! the depth limit holds. Each on both compilers, same receipts.

use verity_runtime::abi::contract::storage_key;
use verity_runtime::{
    Compiler, ContractId, Hash32, MemoryState, Profile, Receipt, Runtime, Status, Transaction,
};

/// Calls the contract at input[0..32] with the fuel cap at input[32..40]
/// (0: none), entry input[40..], and input `arg`. Writes its own key
/// "a" = "1" after the call, and outputs the call's code byte then the
/// callee's output.
const CALLER: &str = r#"(module
  (import "verity" "input_len" (func $input_len (result i32)))
  (import "verity" "input_read" (func $input_read (param i32)))
  (import "verity" "call" (func $call (param i32 i32 i32 i32 i32 i64) (result i32)))
  (import "verity" "call_output_len" (func $out_len (result i32)))
  (import "verity" "call_output_read" (func $out_read (param i32)))
  (import "verity" "output_set" (func $output_set (param i32 i32)))
  (import "verity" "storage_write" (func $w (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 900) "a1")
  (func (export "run") (local $n i32) (local $code i32) (local $olen i32)
    (call $input_read (i32.const 0))
    (local.set $n (call $input_len))
    (local.set $code (call $call (i32.const 0) (i32.const 40)
      (i32.sub (local.get $n) (i32.const 40)) (i32.const 0) (i32.const 0)
      (i64.load (i32.const 32))))
    (call $w (i32.const 900) (i32.const 1) (i32.const 901) (i32.const 1))
    (i32.store8 (i32.const 1000) (local.get $code))
    (local.set $olen (call $out_len))
    (call $out_read (i32.const 1001))
    (call $output_set (i32.const 1000) (i32.add (i32.const 1) (local.get $olen))))
  (func (export "__host_only")))"#;

/// The callee's entries.
const CALLEE: &str = r#"(module
  (import "verity" "storage_write" (func $w (param i32 i32 i32 i32)))
  (import "verity" "output_set" (func $output_set (param i32 i32)))
  (import "verity" "event_emit" (func $emit (param i32 i32 i32 i32)))
  (import "verity" "caller_len" (func $caller_len (result i32)))
  (import "verity" "caller_read" (func $caller_read (param i32)))
  (import "verity" "current_contract" (func $current (param i32)))
  (import "verity" "call" (func $call (param i32 i32 i32 i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "kb-valb-out")
  (data (i32.const 20) "run")
  (data (i32.const 30) "put")
  (func (export "put")
    (call $w (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 5))
    (call $output_set (i32.const 6) (i32.const 5)))
  (func (export "fail")
    (call $w (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 5))
    (call $emit (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 5))
    (call $output_set (i32.const 6) (i32.const 5))
    unreachable)
  (func (export "spin") (loop $l (br $l)))
  (func (export "emit") (call $emit (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 5)))
  (func (export "who")
    (call $current (i32.const 100))
    (call $caller_read (i32.const 132))
    (call $output_set (i32.const 100) (i32.add (i32.const 32) (call $caller_len))))
  ;; Calls its caller back (re-entry): outputs the code.
  (func (export "back")
    (call $caller_read (i32.const 100))
    (i32.store8 (i32.const 200) (call $call (i32.const 100) (i32.const 20) (i32.const 3)
      (i32.const 0) (i32.const 0) (i64.const 0)))
    (call $output_set (i32.const 200) (i32.const 1)))
  ;; Calls itself ("put"): a direct self-call. Outputs the code.
  (func (export "self")
    (call $current (i32.const 100))
    (i32.store8 (i32.const 200) (call $call (i32.const 100) (i32.const 30) (i32.const 3)
      (i32.const 0) (i32.const 0) (i64.const 0)))
    (call $output_set (i32.const 200) (i32.const 1))))"#;

struct World {
    rt: Runtime,
    state: MemoryState,
    caller: ContractId,
    callee: ContractId,
}

fn deploy(rt: &Runtime, state: &mut MemoryState, wat: &str, salt: &[u8]) -> ContractId {
    let code = wat::parse_str(wat).unwrap();
    let tx = Transaction::deploy(Hash32::of(salt)).with_sender(b"deployer".to_vec());
    let r = rt.execute(&code, &tx, state).unwrap();
    assert!(r.status.is_success(), "deploy: {}", r.status);
    state.commit(&r).unwrap();
    r.contract
}

fn world(compiler: Compiler) -> World {
    let rt = Runtime::with_compiler(Profile::asserted_senders(), compiler).unwrap();
    let mut state = MemoryState::default();
    let caller = deploy(&rt, &mut state, CALLER, b"caller");
    let callee = deploy(&rt, &mut state, CALLEE, b"callee");
    World {
        rt,
        state,
        caller,
        callee,
    }
}

impl World {
    /// The caller calling `entry` of `target` with a fuel `cap` (0: none).
    fn call(&self, target: ContractId, entry: &str, cap: u64, fuel: u64) -> Receipt {
        let mut input = target.0.to_vec();
        input.extend_from_slice(&cap.to_le_bytes());
        input.extend_from_slice(entry.as_bytes());
        let tx = Transaction::call(self.caller, "run")
            .with_input(input)
            .with_sender(b"alice".to_vec())
            .with_fuel(fuel);
        self.rt.execute_call(&tx, &self.state).unwrap()
    }
}

const FUEL: u64 = 10_000_000;

fn written(r: &Receipt, contract: &ContractId, key: &[u8]) -> Option<Vec<u8>> {
    let key = storage_key(contract, key);
    r.writes
        .iter()
        .find(|w| w.key == key)
        .and_then(|w| w.value.clone())
}

fn both(test: impl Fn(&World)) {
    for compiler in [Compiler::Cranelift, Compiler::Winch] {
        test(&world(compiler));
    }
}

#[test]
fn a_callee_writes_its_own_storage_and_returns_its_output() {
    both(|w| {
        let r = w.call(w.callee, "put", 0, FUEL);
        assert_eq!(r.status, Status::Success);
        assert_eq!(r.output, b"\x00b-out");
        assert_eq!(written(&r, &w.callee, b"k").as_deref(), Some(&b"b-val"[..]));
        assert_eq!(written(&r, &w.caller, b"a").as_deref(), Some(&b"1"[..]));
        // The callee's record was read: a verifier's witness covers it.
        let record = verity_runtime::abi::contract::record_key(&w.callee);
        assert!(r.reads.iter().any(|e| e.key == record));
    });
}

#[test]
fn a_failed_callee_leaves_nothing_and_its_caller_goes_on() {
    both(|w| {
        let r = w.call(w.callee, "fail", 0, FUEL);
        assert_eq!(r.status, Status::Success);
        assert_eq!(r.output, b"\x02", "trapped, and no output");
        assert_eq!(written(&r, &w.callee, b"k"), None);
        assert!(r.events.is_empty());
        assert_eq!(written(&r, &w.caller, b"a").as_deref(), Some(&b"1"[..]));
    });
}

#[test]
fn a_callee_knows_its_address_and_its_caller() {
    both(|w| {
        let r = w.call(w.callee, "who", 0, FUEL);
        assert_eq!(r.output[0], 0);
        assert_eq!(&r.output[1..33], &w.callee.0);
        assert_eq!(&r.output[33..], &w.caller.0);
    });
}

#[test]
fn reentry_is_refused_and_a_direct_self_call_is_not() {
    both(|w| {
        let r = w.call(w.callee, "back", 0, FUEL);
        assert_eq!(r.output, b"\x00\x04", "B's call of A refused");
        let r = w.call(w.callee, "self", 0, FUEL);
        assert_eq!(r.output, b"\x00\x00", "B's call of B ran");
        assert_eq!(written(&r, &w.callee, b"k").as_deref(), Some(&b"b-val"[..]));
    });
}

#[test]
fn missing_contracts_entries_and_reserved_names_are_refused() {
    both(|w| {
        let nobody = ContractId([0xee; 32]);
        assert_eq!(w.call(nobody, "put", 0, FUEL).output, b"\x04");
        assert_eq!(w.call(w.callee, "nothing", 0, FUEL).output, b"\x04");
        assert_eq!(w.call(w.caller, "__host_only", 0, FUEL).output, b"\x04");
    });
}

#[test]
fn a_capped_spinning_callee_is_recoverable_and_an_uncapped_one_is_not() {
    both(|w| {
        let r = w.call(w.callee, "spin", 100_000, FUEL);
        assert_eq!(r.status, Status::Success);
        assert_eq!(r.output, b"\x03");
        assert!(
            r.fuel_used > 100_000 && r.fuel_used < FUEL,
            "{}",
            r.fuel_used
        );
        let r = w.call(w.callee, "spin", 0, FUEL);
        assert_eq!(r.status, Status::OutOfFuel);
        assert_eq!(r.fuel_used, FUEL);
        assert!(r.writes.is_empty());
    });
}

#[test]
fn receipts_of_calls_are_the_same_on_both_compilers() {
    let (a, b) = (world(Compiler::Cranelift), world(Compiler::Winch));
    for (entry, cap) in [
        ("put", 0),
        ("fail", 0),
        ("who", 0),
        ("back", 0),
        ("spin", 50_000),
    ] {
        assert_eq!(
            a.call(a.callee, entry, cap, FUEL),
            b.call(b.callee, entry, cap, FUEL),
            "{entry}"
        );
    }
}

/// `deep`: with input n > 0, calls itself with n - 1 and outputs the
/// call's code then its output, through a function holding `locals` i64
/// locals (stack slots the frame holds while it calls).
fn chain(locals: usize) -> String {
    let locals = "i64 ".repeat(locals);
    format!(
        r#"(module
  (import "verity" "input_read" (func $input_read (param i32)))
  (import "verity" "current_contract" (func $current (param i32)))
  (import "verity" "call" (func $call (param i32 i32 i32 i32 i32 i64) (result i32)))
  (import "verity" "call_output_len" (func $out_len (result i32)))
  (import "verity" "call_output_read" (func $out_read (param i32)))
  (import "verity" "output_set" (func $output_set (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 40) "deep")
  (func $fat (local {locals})
    (call $current (i32.const 100))
    (i32.store8 (i32.const 400) (call $call (i32.const 100) (i32.const 40) (i32.const 4)
      (i32.const 301) (i32.const 1) (i64.const 0))))
  (func (export "deep")
    (call $input_read (i32.const 300))
    (if (i32.eqz (i32.load8_u (i32.const 300))) (then (return)))
    (i32.store8 (i32.const 301) (i32.sub (i32.load8_u (i32.const 300)) (i32.const 1)))
    (call $fat)
    (call $out_read (i32.const 401))
    (call $output_set (i32.const 400) (i32.add (i32.const 1) (call $out_len)))))"#
    )
}

fn run_chain(rt: &Runtime, locals: usize, n: u8) -> Receipt {
    let mut state = MemoryState::default();
    let chain = deploy(rt, &mut state, &chain(locals), b"chain");
    let tx = Transaction::call(chain, "deep")
        .with_input(vec![n])
        .with_fuel(FUEL);
    rt.execute_call(&tx, &state).unwrap()
}

#[test]
fn the_call_depth_limit_refuses_the_call_past_it() {
    for compiler in [Compiler::Cranelift, Compiler::Winch] {
        let rt = Runtime::with_compiler(Profile::asserted_senders(), compiler).unwrap();
        let max = rt.profile().limits.max_call_depth as usize;
        let r = run_chain(&rt, 0, 5);
        assert_eq!(r.output, vec![0; 5], "five calls, the last with n = 0");
        let r = run_chain(&rt, 0, 100);
        let mut expected = vec![0; max];
        expected.push(4);
        assert_eq!(r.output, expected, "{max} callee frames, then refused");
    }
}

#[test]
fn the_logical_stack_is_shared_by_every_frame_of_a_chain() {
    // Frames of about 4,000 slots each: eight fit in the profile's 32,768
    // stack slots, the ninth does not, though each alone would.
    for compiler in [Compiler::Cranelift, Compiler::Winch] {
        let rt = Runtime::with_compiler(Profile::asserted_senders(), compiler).unwrap();
        let max = rt.profile().limits.max_call_depth as usize;
        let r = run_chain(&rt, 4_000, 100);
        assert_eq!(r.status, Status::Success);
        let codes = &r.output;
        assert_eq!(
            codes.last(),
            Some(&2),
            "the deepest call trapped: {codes:?}"
        );
        assert!(
            codes[..codes.len() - 1].iter().all(|c| *c == 0),
            "{codes:?}"
        );
        // Without the shared stack every frame would fit and the chain
        // would end at the depth limit: `max` successes, then refused.
        assert!(
            codes.len() <= max,
            "the stack, not the depth limit, stopped it: {codes:?}"
        );
    }
}

/// A pool of one transaction slot (so as many instance slots as one
/// transaction has frames) runs chains at the full depth from four threads
/// at once: a transaction is admitted with every frame it may open, so no
/// call waits for a slot another waiting transaction holds, and the
/// receipts are the ones an unpooled runtime gives.
#[test]
fn a_pool_of_one_transaction_runs_full_depth_chains_from_many_threads() {
    use verity_runtime::{Allocation, PoolOptions};
    let one = Runtime::builder(Profile::asserted_senders())
        .allocation(Allocation::Pooling(PoolOptions {
            slots: 1,
            keep_resident_bytes: 0,
        }))
        .build()
        .unwrap();
    let unpooled = Runtime::builder(Profile::asserted_senders())
        .allocation(Allocation::OnDemand)
        .build()
        .unwrap();
    let max = one.profile().limits.max_call_depth as usize;
    let expected = run_chain(&unpooled, 0, 100);
    assert_eq!(expected.calls.len(), max);
    let receipts: Vec<Receipt> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| run_chain(&one, 0, 100)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in receipts {
        assert_eq!(r, expected);
    }
}

/// A deploy whose constructor calls the contract it is deploying (a direct
/// self-call): the callee is resolved through the transaction's own
/// writes, so the record and code stored a moment before, in the same
/// transaction, are found, whatever the module cache holds. The callee's
/// write is the new contract's, and the deploy verifies.
#[test]
fn a_constructor_calls_the_contract_deployed_earlier_in_its_transaction() {
    const SELF_INIT: &str = r#"(module
  (import "verity" "current_contract" (func $me (param i32)))
  (import "verity" "call" (func $call (param i32 i32 i32 i32 i32 i64) (result i32)))
  (import "verity" "storage_write" (func $w (param i32 i32 i32 i32)))
  (import "verity" "output_set" (func $output_set (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 40) "put")
  (data (i32.const 60) "kv")
  (func (export "init")
    (call $me (i32.const 0))
    (i32.store8 (i32.const 100) (call $call (i32.const 0) (i32.const 40) (i32.const 3)
      (i32.const 0) (i32.const 0) (i64.const 0)))
    (call $output_set (i32.const 100) (i32.const 1)))
  (func (export "put") (call $w (i32.const 60) (i32.const 1) (i32.const 61) (i32.const 1))))"#;
    let code = wat::parse_str(SELF_INIT).unwrap();
    let mut receipts = Vec::new();
    for compiler in [Compiler::Cranelift, Compiler::Winch] {
        // A fresh runtime: nothing of this module is cached.
        let rt = Runtime::with_compiler(Profile::asserted_senders(), compiler).unwrap();
        let mut state = MemoryState::default();
        let tx = Transaction::deploy(Hash32::of(b"self-init"))
            .with_entry("init")
            .with_fuel(FUEL);
        let r = rt.execute(&code, &tx, &state).unwrap();
        assert_eq!(r.status, Status::Success);
        assert_eq!(r.output, b"\x00", "the self-call ran");
        assert_eq!(r.calls.len(), 1);
        assert_eq!(
            (r.calls[0].caller, r.calls[0].callee),
            (r.contract, r.contract)
        );
        assert_eq!(written(&r, &r.contract, b"k").as_deref(), Some(&b"v"[..]));
        let witness = state.commit(&r).unwrap().witness;
        let verifier = Runtime::new(Profile::asserted_senders()).unwrap();
        let verified = verifier
            .verify_tree(&r, None, &[&code], Some(&witness))
            .unwrap();
        assert!(verified.state_authenticated);
        receipts.push(r);
    }
    assert_eq!(receipts[0], receipts[1]);
}

/// Every event names the contract whose frame emitted it, set by the host
/// (`event_emit` takes no contract): the callee's event in the caller's
/// transaction names the callee, not the transaction's contract.
#[test]
fn every_event_names_the_contract_that_emitted_it() {
    both(|w| {
        let r = w.call(w.callee, "emit", 0, FUEL);
        assert_eq!(r.status, Status::Success);
        let by: Vec<_> = r
            .events
            .iter()
            .map(|e| (e.contract, e.topic.clone()))
            .collect();
        assert_eq!(by, vec![(w.callee, b"k".to_vec())]);
        assert_eq!(r.events[0].data, b"b-val");
        assert_ne!(r.contract, w.callee);
    });
}

/// A module past the instrumented size at which Winch compiles instead of
/// Cranelift, that a deploy can pay for: 8 functions of 3,400
/// `br_if`s each, the first exported as `run`.
fn winch_tier_module() -> Vec<u8> {
    let body = "(br_if 0 (i32.const 0))".repeat(3_400);
    let funcs: String = (0..8)
        .map(|i| {
            let export = if i == 0 { r#"(export "run")"# } else { "" };
            format!("(func {export} (block {body}))")
        })
        .collect();
    wat::parse_str(format!("(module {funcs})")).unwrap()
}

/// Fuel cannot depend on what a node has cached, so a call pays to load a
/// stored module, never to compile it (docs/calls.md, "Cold callees"). A
/// node that warmed its artifact cache from the state (`Runtime::warm`)
/// keeps that promise with a memory cache of one module: every call of the
/// caller, its callee and a Winch-tier module loads, none compiles, and the
/// receipts are those of a node that had everything in memory.
#[test]
fn a_call_on_a_warmed_node_never_compiles() {
    let profile = Profile::asserted_senders();
    let World {
        rt,
        mut state,
        caller,
        callee,
    } = world(Compiler::Cranelift);
    let large_code = winch_tier_module();
    let large_module = rt.prepare(&large_code).unwrap();
    assert_eq!(large_module.compiler(), Compiler::Winch);
    let tx = Transaction::deploy(Hash32::of(b"large"))
        .with_sender(b"deployer".to_vec())
        .with_fuel(profile.limits.max_fuel);
    let r = rt.execute(&large_code, &tx, &state).unwrap();
    assert!(r.status.is_success(), "{}", r.status);
    state.commit(&r).unwrap();
    let large = r.contract;
    assert_eq!(state.codes().count(), 3);
    let world = World {
        rt,
        state,
        caller,
        callee,
    };
    let txs: Vec<Transaction> = [(callee, "put"), (large, "run")]
        .into_iter()
        .map(|(target, entry)| {
            let mut input = target.0.to_vec();
            input.extend_from_slice(&0u64.to_le_bytes());
            input.extend_from_slice(entry.as_bytes());
            Transaction::call(caller, "run")
                .with_input(input)
                .with_sender(b"alice".to_vec())
                .with_fuel(FUEL)
        })
        .chain([Transaction::call(large, "run")
            .with_sender(b"alice".to_vec())
            .with_fuel(FUEL)])
        .collect();
    let expected: Vec<Receipt> = txs
        .iter()
        .map(|tx| world.rt.execute_call(tx, &world.state).unwrap())
        .collect();
    for r in &expected {
        assert!(r.status.is_success(), "{}", r.status);
    }

    let dir = tempfile::tempdir().unwrap();
    let node = || {
        Runtime::builder(profile.clone())
            .cache_capacity(1)
            .artifact_cache_path(dir.path())
            .unwrap()
            .build()
            .unwrap()
    };
    // The first start compiles every stored module once and writes it.
    let first = node().warm(world.state.codes());
    assert_eq!((first.compiled, first.loaded, first.unready), (3, 0, 0));
    // A restart loads them all, and compiles nothing at any call.
    let restarted = node();
    let again = restarted.warm(world.state.codes());
    assert_eq!((again.compiled, again.loaded, again.unready), (0, 3, 0));
    for _ in 0..3 {
        for (tx, want) in txs.iter().zip(&expected) {
            assert_eq!(&restarted.execute_call(tx, &world.state).unwrap(), want);
        }
    }
    let stats = restarted.cache_stats();
    assert_eq!(stats.compiled, 0, "{stats:?}");
    assert!(stats.artifact_loads >= 3 * 3, "{stats:?}");

    // What warming prevents: the same calls on a node with neither
    // artifacts nor the modules in memory compile them.
    let bare = Runtime::builder(profile.clone())
        .cache_capacity(1)
        .build()
        .unwrap();
    for (tx, want) in txs.iter().zip(&expected) {
        assert_eq!(&bare.execute_call(tx, &world.state).unwrap(), want);
    }
    assert!(bare.cache_stats().compiled >= 3);
    // Without an artifact cache, warming can only fill the memory cache,
    // and says how many modules it could not keep there.
    let report = bare.warm(world.state.codes());
    assert_eq!(report.unready, 2, "{report:?}");
}

/// The load charge is per frame and by the instrumented size of the
/// module it runs, whichever frame it is: a call's target and each callee
/// (docs/costs.md, "Loading a stored module is charged"). Raising the
/// price by 1,000 per frame and 1 per byte raises a call of a callee by
/// exactly two frames' worth.
#[test]
fn every_frame_of_a_stored_contract_pays_to_load_its_module() {
    let fuel_of = |profile: Profile| {
        let rt = Runtime::new(profile).unwrap();
        let mut state = MemoryState::default();
        let caller = deploy(&rt, &mut state, CALLER, b"caller");
        let callee = deploy(&rt, &mut state, CALLEE, b"callee");
        let w = World {
            rt,
            state,
            caller,
            callee,
        };
        let r = w.call(callee, "put", 0, FUEL);
        assert!(r.status.is_success(), "{}", r.status);
        assert_eq!(r.calls.len(), 1);
        let size = |wat: &str| {
            w.rt.prepare(&wat::parse_str(wat).unwrap())
                .unwrap()
                .instrumented_bytes()
        };
        (r.fuel_used, size(CALLER) + size(CALLEE))
    };
    let base = Profile::asserted_senders();
    let mut dearer = base.clone();
    dearer.costs.wasm_load.base += 1_000;
    dearer.costs.wasm_load.per_unit += 1;
    let ((cheap, bytes), (dear, _)) = (fuel_of(base), fuel_of(dearer));
    assert_eq!(dear - cheap, 2 * 1_000 + bytes);
}
