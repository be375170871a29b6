//! Semantics, limits and costs of every host function, through the runtime.

use sha2::{Digest, Sha256};
use verity_runtime::abi::contract::storage_key;
use verity_runtime::{
    ContractId, Hash32, MemoryState, Profile, Receipt, Runtime, RuntimeError, StateBackend,
    StateError, Status, Transaction, TrapKind, VerifyError, module_bytes,
};

fn run_with(profile: Profile, wat: &str, tx: Transaction, state: &dyn StateBackend) -> Receipt {
    let rt = Runtime::new(profile).unwrap();
    rt.execute(&module_bytes(wat.as_bytes()).unwrap(), &tx, state)
        .unwrap()
}

fn run(wat: &str, tx: Transaction, state: &dyn StateBackend) -> Receipt {
    run_with(Profile::default(), wat, tx, state)
}

const IMPORTS: &str = r#"
  (import "verity" "input_len" (func $input_len (result i32)))
  (import "verity" "input_read" (func $input_read (param i32)))
  (import "verity" "output_set" (func $output_set (param i32 i32)))
  (import "verity" "storage_read" (func $storage_read (param i32 i32 i32 i32) (result i32)))
  (import "verity" "storage_write" (func $storage_write (param i32 i32 i32 i32)))
  (import "verity" "storage_remove" (func $storage_remove (param i32 i32)))
  (import "verity" "event_emit" (func $event_emit (param i32 i32 i32 i32)))
  (import "verity" "abort" (func $abort (param i32 i32)))
  (import "verity" "sha256" (func $sha256 (param i32 i32 i32)))
  (memory (export "memory") 1)
"#;

fn module(body: &str) -> String {
    format!("(module {IMPORTS} {body})")
}

/// The state key of the storage key `k` of a one-shot run of `wat`.
fn key(wat: &str, k: &[u8]) -> Vec<u8> {
    let code = module_bytes(wat.as_bytes()).unwrap();
    storage_key(&ContractId::one_shot(&Hash32::of(&code)), k)
}

/// A state holding `entries` in the storage of a one-shot run of `wat`.
fn state(wat: &str, entries: &[(&[u8], &[u8])]) -> MemoryState {
    entries
        .iter()
        .map(|(k, v)| (key(wat, k), v.to_vec()))
        .collect()
}

/// Keys and values of a receipt's list, keys without the contract's prefix.
fn local<'a>(
    list: impl Iterator<Item = (&'a Vec<u8>, Option<&'a [u8]>)>,
) -> Vec<(&'a [u8], Option<&'a [u8]>)> {
    list.map(|(k, v)| (&k[33..], v)).collect()
}

#[test]
fn storage_read_returns_length_and_copies_only_when_it_fits() {
    // Output: [len with cap 8 (i32), len with cap 2 (i32), absent (i32), 8 bytes of buffer]
    let wat = module(
        r#"(data (i32.const 0) "key") (data (i32.const 16) "nope")
        (data (i32.const 100) "........")
        (func (export "run")
          (i32.store (i32.const 200) (call $storage_read (i32.const 0) (i32.const 3) (i32.const 100) (i32.const 8)))
          (i32.store (i32.const 204) (call $storage_read (i32.const 0) (i32.const 3) (i32.const 300) (i32.const 2)))
          (i32.store (i32.const 208) (call $storage_read (i32.const 16) (i32.const 4) (i32.const 100) (i32.const 8)))
          (i64.store (i32.const 212) (i64.load (i32.const 100)))
          (i64.store (i32.const 220) (i64.load (i32.const 300)))
          (call $output_set (i32.const 200) (i32.const 28)))"#,
    );
    let r = run(
        &wat,
        Transaction::new("run"),
        &state(&wat, &[(b"key", b"value")]),
    );
    assert_eq!(r.status, Status::Success);
    let o = &r.output;
    assert_eq!(i32::from_le_bytes(o[0..4].try_into().unwrap()), 5);
    assert_eq!(
        i32::from_le_bytes(o[4..8].try_into().unwrap()),
        5,
        "too-small buffer still reports the length"
    );
    assert_eq!(i32::from_le_bytes(o[8..12].try_into().unwrap()), -1);
    assert_eq!(&o[12..20], b"value...");
    assert_eq!(
        &o[20..28],
        &[0; 8],
        "nothing copied into a too-small buffer"
    );
    // Both keys are in the read set once, with what they held.
    assert_eq!(r.reads.len(), 2);
    assert_eq!(r.read_value(&key(&wat, b"key")), Some(Some(&b"value"[..])));
    assert_eq!(r.read_value(&key(&wat, b"nope")), Some(None));
}

#[test]
fn reads_of_own_writes_are_not_in_the_read_set_and_removals_are_writes() {
    let wat = module(
        r#"(data (i32.const 0) "abc")
        (func (export "run")
          ;; write a, read a (own write), read b (pre-state), remove b, read b again, remove c (absent)
          (call $storage_write (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 2))
          (if (i32.ne (call $storage_read (i32.const 0) (i32.const 1) (i32.const 50) (i32.const 8)) (i32.const 2)) (then unreachable))
          (if (i32.ne (call $storage_read (i32.const 1) (i32.const 1) (i32.const 50) (i32.const 8)) (i32.const 3)) (then unreachable))
          (call $storage_remove (i32.const 1) (i32.const 1))
          (if (i32.ne (call $storage_read (i32.const 1) (i32.const 1) (i32.const 50) (i32.const 8)) (i32.const -1)) (then unreachable))
          (call $storage_remove (i32.const 2) (i32.const 1)))"#,
    );
    let r = run(
        &wat,
        Transaction::new("run"),
        &state(&wat, &[(b"b", b"old")]),
    );
    assert_eq!(r.status, Status::Success, "{}", r.status);
    let reads = local(r.reads.iter().map(|e| (&e.key, e.value.as_deref())));
    assert_eq!(reads, [(&b"b"[..], Some(&b"old"[..]))]);
    let writes = local(r.writes.iter().map(|e| (&e.key, e.value.as_deref())));
    assert_eq!(
        writes,
        [
            (&b"a"[..], Some(&b"bc"[..])),
            (&b"b"[..], None),
            (&b"c"[..], None)
        ]
    );
}

#[test]
fn events_keep_emission_order_and_output_is_replaced() {
    let wat = module(
        r#"(data (i32.const 0) "zyx")
        (func (export "run")
          (call $event_emit (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 2))
          (call $event_emit (i32.const 2) (i32.const 1) (i32.const 0) (i32.const 0))
          (call $output_set (i32.const 0) (i32.const 3))
          (call $output_set (i32.const 1) (i32.const 1)))"#,
    );
    let r = run(&wat, Transaction::new("run"), &MemoryState::default());
    let events: Vec<_> = r
        .events
        .iter()
        .map(|e| (e.topic.as_slice(), e.data.as_slice()))
        .collect();
    assert_eq!(events, [(&b"z"[..], &b"yx"[..]), (&b"x"[..], &b""[..])]);
    assert_eq!(r.output, b"y");
}

#[test]
fn sha256_matches_a_reference_implementation() {
    let wat = module(
        r#"(func (export "run") (local $n i32)
          (local.set $n (call $input_len))
          (call $input_read (i32.const 0))
          (call $sha256 (i32.const 0) (local.get $n) (i32.const 1000))
          (call $output_set (i32.const 1000) (i32.const 32)))"#,
    );
    for input in [&b""[..], b"abc", &[7u8; 1000]] {
        let r = run(
            &wat,
            Transaction::new("run").with_input(input.to_vec()),
            &MemoryState::default(),
        );
        assert_eq!(r.output, Sha256::digest(input).to_vec());
    }
}

#[test]
fn abort_reverts_with_the_message_cut_to_the_limit() {
    let wat = module(
        r#"(data (i32.const 0) "caf\c3\a9")
        (func (export "short") (call $abort (i32.const 0) (i32.const 5)))
        (func (export "split") (call $abort (i32.const 0) (i32.const 4)))
        (func (export "long") (call $abort (i32.const 0) (i32.const 5000)))"#,
    );
    let go = |entry: &str| run(&wat, Transaction::new(entry), &MemoryState::default()).status;
    assert_eq!(
        go("short"),
        Status::Reverted {
            message: "café".into()
        }
    );
    // A cut inside a UTF-8 sequence decodes lossily, the same everywhere.
    assert_eq!(
        go("split"),
        Status::Reverted {
            message: "caf\u{fffd}".into()
        }
    );
    let Status::Reverted { message } = go("long") else {
        panic!()
    };
    let limit = Profile::default().limits.max_abort_message_bytes as usize;
    assert_eq!(
        message.len(),
        limit,
        "exactly the first {limit} bytes are kept"
    );
    assert!(message.starts_with("café\0"));
}

#[test]
fn host_call_costs_come_from_the_profile_exactly() {
    // The same module under two schedules: the fuel difference is exactly
    // the schedule difference times the calls and bytes charged.
    let wat = module(
        r#"(data (i32.const 0) "keyvalue")
        (func (export "run")
          (call $storage_write (i32.const 0) (i32.const 3) (i32.const 3) (i32.const 5))
          (call $storage_write (i32.const 0) (i32.const 3) (i32.const 3) (i32.const 5))
          (drop (call $storage_read (i32.const 0) (i32.const 3) (i32.const 100) (i32.const 8)))
          (call $sha256 (i32.const 0) (i32.const 8) (i32.const 200)))"#,
    );
    let fuel =
        |p: Profile| run_with(p, &wat, Transaction::new("run"), &MemoryState::default()).fuel_used;
    let base = fuel(Profile::default());
    let mut p = Profile::default();
    p.costs.storage_write.base += 100;
    assert_eq!(fuel(p) - base, 2 * 100);
    let mut p = Profile::default();
    p.costs.storage_write.per_unit += 1;
    assert_eq!(fuel(p) - base, 2 * (3 + 5));
    let mut p = Profile::default();
    p.costs.storage_read.per_unit += 1;
    assert_eq!(fuel(p) - base, 3 + 5, "key and value bytes");
    let mut p = Profile::default();
    p.costs.sha256.base += 7;
    p.costs.sha256.per_unit += 1;
    assert_eq!(fuel(p) - base, 7 + 8);
}

#[test]
fn fuel_is_deterministic_and_out_of_fuel_uses_it_all() {
    let wat = module(
        r#"(func (export "run") (local $i i32)
        (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 1000)))))"#,
    );
    let a = run(&wat, Transaction::new("run"), &MemoryState::default());
    let b = run(&wat, Transaction::new("run"), &MemoryState::default());
    assert_eq!(a.status, Status::Success);
    assert_eq!(a.fuel_used, b.fuel_used);
    // Preparing the module (a run brings its code), its one page, and 8
    // instructions per iteration (docs/costs.md).
    let c = Profile::default().costs;
    let rt = Runtime::new(Profile::default()).unwrap();
    let prepare = rt
        .prepare(&module_bytes(wat.as_bytes()).unwrap())
        .unwrap()
        .preparation_fuel(&c);
    assert_eq!(
        a.fuel_used,
        prepare + c.wasm_instance.total(1) + 8 * 1000 * c.wasm_op.base
    );
    // One unit short fails, even though the engine's last fuel check may
    // come before the last instructions run.
    for missing in [1, 2, 10] {
        let short = run(
            &wat,
            Transaction::new("run").with_fuel(a.fuel_used - missing),
            &MemoryState::default(),
        );
        assert_eq!(short.status, Status::OutOfFuel, "{missing} short");
        assert_eq!(short.fuel_used, a.fuel_used - missing);
    }
    let exact = run(
        &wat,
        Transaction::new("run").with_fuel(a.fuel_used),
        &MemoryState::default(),
    );
    assert_eq!(
        exact.status,
        Status::Success,
        "exactly enough fuel must suffice"
    );
}

#[test]
fn failed_runs_keep_their_reads_and_drop_their_effects() {
    let wat = module(
        r#"(data (i32.const 0) "k")
        (func (export "run")
          (drop (call $storage_read (i32.const 0) (i32.const 1) (i32.const 10) (i32.const 8)))
          (call $storage_write (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1))
          (call $event_emit (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1))
          (call $output_set (i32.const 0) (i32.const 1))
          unreachable)"#,
    );
    let pre = state(&wat, &[(b"k", b"v")]);
    let r = run(&wat, Transaction::new("run"), &pre);
    assert_eq!(
        r.status,
        Status::Trapped {
            trap: TrapKind::Unreachable
        }
    );
    assert_eq!(r.read_value(&key(&wat, b"k")), Some(Some(&b"v"[..])));
    assert!(r.writes.is_empty() && r.events.is_empty() && r.output.is_empty());
    assert_eq!(r.pre_state_root, pre.root());
    assert_eq!(
        r.post_state_root,
        pre.root(),
        "a failed run changes no root"
    );
}

#[test]
fn nan_results_are_canonical() {
    // 0/0 and sqrt(-1) give a NaN whose sign bit differs between CPUs
    // unless the engine canonicalizes; the profile does.
    let wat = r#"(module (import "verity" "output_set" (func $o (param i32 i32))) (memory (export "memory") 1)
      (func (export "run")
        (f32.store (i32.const 0) (f32.div (f32.const 0) (f32.const 0)))
        (f64.store (i32.const 4) (f64.sqrt (f64.const -1)))
        (f32.store (i32.const 12) (f32.add (f32.const nan:0x200001) (f32.const 1)))
        (call $o (i32.const 0) (i32.const 16))))"#;
    let r = run(wat, Transaction::new("run"), &MemoryState::default());
    let o = &r.output;
    assert_eq!(u32::from_le_bytes(o[0..4].try_into().unwrap()), 0x7fc0_0000);
    assert_eq!(
        u64::from_le_bytes(o[4..12].try_into().unwrap()),
        0x7ff8_0000_0000_0000
    );
    assert_eq!(
        u32::from_le_bytes(o[12..16].try_into().unwrap()),
        0x7fc0_0000,
        "payload not propagated"
    );
}

#[test]
fn features_rustc_emits_by_default_are_accepted() {
    // bulk memory, reference types (call_indirect through a table),
    // multi-value, sign extension, saturating float-to-int, mutable globals.
    let wat = r#"(module (import "verity" "output_set" (func $o (param i32 i32)))
      (memory (export "memory") 1)
      (global $g (mut i32) (i32.const 0))
      (type $pair (func (result i32 i32)))
      (table 1 funcref) (elem (i32.const 0) $two)
      (func $two (type $pair) (i32.const 0x80) (i32.const 5))
      (func (export "run") (local $a i32) (local $b i32)
        (call_indirect (type $pair) (i32.const 0))
        (local.set $b) (local.set $a)
        (global.set $g (i32.extend8_s (local.get $a)))
        (memory.fill (i32.const 0) (i32.const 9) (i32.const 4))
        (memory.copy (i32.const 4) (i32.const 0) (i32.const 4))
        (i32.store (i32.const 8) (global.get $g))
        (i32.store (i32.const 12) (i32.trunc_sat_f32_s (f32.const 1e20)))
        (i32.store (i32.const 16) (local.get $b))
        (call $o (i32.const 0) (i32.const 20))))"#;
    let r = run(wat, Transaction::new("run"), &MemoryState::default());
    assert_eq!(r.status, Status::Success, "{}", r.status);
    let words: Vec<i32> = r
        .output
        .chunks(4)
        .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(words, [0x0909_0909, 0x0909_0909, -128, i32::MAX, 5]);
}

struct Failing;
impl verity_runtime::StateView for Failing {
    fn get(&self, _: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Err(StateError::Backend(
            std::io::Error::other("disk on fire").into(),
        ))
    }
}

impl StateBackend for Failing {
    fn roots(
        &self,
        _: &[verity_runtime::WriteEntry],
    ) -> Result<verity_runtime::StateRoots, StateError> {
        Ok(verity_runtime::StateRoots::default())
    }
}

#[test]
fn a_failing_backend_is_a_host_error_not_a_receipt() {
    let wat = module(
        r#"(func (export "run") (drop (call $storage_read (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0))))"#,
    );
    let rt = Runtime::new(Profile::default()).unwrap();
    let err = rt
        .execute(
            &module_bytes(wat.as_bytes()).unwrap(),
            &Transaction::new("run"),
            &Failing,
        )
        .unwrap_err();
    assert!(
        matches!(err, RuntimeError::State(StateError::Backend(_))),
        "{err:?}"
    );
    // The backend's own error is kept as the source, not flattened.
    let source = std::error::Error::source(&err).expect("the backend's error");
    assert_eq!(source.to_string(), "disk on fire");
}

#[test]
fn verification_refuses_reads_outside_the_witness_and_foreign_profiles() {
    let wat = module(
        r#"(data (i32.const 0) "k")
        (func (export "run") (drop (call $storage_read (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0))))"#,
    );
    let wasm = module_bytes(wat.as_bytes()).unwrap();
    let rt = Runtime::new(Profile::default()).unwrap();
    let mut receipt = rt
        .execute(
            &wasm,
            &Transaction::new("run"),
            &state(&wat, &[(b"k", b"v")]),
        )
        .unwrap();
    rt.verify(&wasm, &receipt).unwrap();
    receipt.reads.clear();
    match rt.verify(&wasm, &receipt) {
        Err(VerifyError::ReadOutsideWitness { key: k }) => assert_eq!(k, key(&wat, b"k")),
        other => panic!("expected ReadOutsideWitness, got {other:?}"),
    }
    let mut other_profile = Profile::default();
    other_profile.limits.max_events += 1;
    let other = Runtime::new(other_profile).unwrap();
    assert!(matches!(
        other.verify(&wasm, &receipt),
        Err(VerifyError::ProfileMismatch { .. })
    ));
}

#[test]
fn transaction_limits_reject_before_running() {
    let wat = module(r#"(func (export "run"))"#);
    let l = Profile::default().limits;
    let cases = [
        (
            Transaction::new("run").with_input(vec![0; l.max_input_bytes as usize + 1]),
            "transaction input",
        ),
        (
            Transaction::new("run").with_sender(vec![0; l.max_sender_bytes as usize + 1]),
            "transaction sender",
        ),
        (
            Transaction::new("run").with_context(vec![0; l.max_context_bytes as usize + 1]),
            "transaction context",
        ),
        (
            Transaction::new("r".repeat(l.max_entry_bytes as usize + 1)),
            "transaction entry",
        ),
        (
            Transaction::new("run").with_fuel(l.max_fuel + 1),
            "fuel limit",
        ),
    ];
    for (tx, needle) in cases {
        let r = run(&wat, tx, &MemoryState::default());
        let Status::Rejected { reason } = &r.status else {
            panic!("{needle}: {}", r.status)
        };
        assert!(reason.contains(needle), "{reason}");
        assert_eq!(r.fuel_used, 0);
    }
}

/// A field far over its limit is copied only to one byte past it: the
/// rejected receipt stays bounded and still verifies (re-executing from it
/// gives the same refusal). A call refused before its contract is resolved
/// names no code, and verifies whether or not the contract's code is given.
#[test]
fn over_limit_fields_leave_a_bounded_receipt_that_verifies() {
    let rt = Runtime::new(Profile::default()).unwrap();
    let wasm = module_bytes(module(r#"(func (export "run"))"#).as_bytes()).unwrap();
    let l = Profile::default().limits;
    let huge = vec![7u8; 16 * l.max_input_bytes as usize];
    let state = MemoryState::default();
    let r = rt
        .execute(
            &wasm,
            &Transaction::new("run").with_input(huge.clone()),
            &state,
        )
        .unwrap();
    assert_eq!(
        r.status,
        Status::Rejected {
            reason: format!(
                "transaction input is over the limit of {} bytes",
                l.max_input_bytes
            )
        }
    );
    assert_eq!(r.input, huge[..l.max_input_bytes as usize + 1]);
    assert!(r.encode().len() < l.max_input_bytes as usize + 1024);
    rt.verify(&wasm, &r).unwrap();

    // A multi-byte character straddling the cut: the entry is cut after it.
    let entry = format!("{}é", "r".repeat(l.max_entry_bytes as usize));
    let r = rt
        .execute(&wasm, &Transaction::new(entry.clone()), &state)
        .unwrap();
    assert_eq!(
        r.entry, entry,
        "cut at the first character boundary past the limit"
    );
    rt.verify(&wasm, &r).unwrap();

    // A call refused at the limits, before its record is read.
    let mut state = MemoryState::default();
    let deploy = rt
        .execute(&wasm, &Transaction::deploy(Default::default()), &state)
        .unwrap();
    state.commit(&deploy).unwrap();
    let call = Transaction::call(deploy.contract, "run").with_input(huge);
    let r = rt.execute_call(&call, &state).unwrap();
    assert!(matches!(r.status, Status::Rejected { .. }), "{}", r.status);
    assert_eq!(r.code_hash, Default::default(), "no contract was resolved");
    assert!(
        !rt.verify_receipt(&r, None, None)
            .unwrap()
            .state_authenticated
    );
    assert!(
        !rt.verify_receipt(&r, Some(&wasm), None)
            .unwrap()
            .state_authenticated
    );
}

#[test]
fn runtime_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Runtime>();
    let rt = std::sync::Arc::new(Runtime::new(Profile::default()).unwrap());
    let wasm = module_bytes(module(r#"(func (export "run"))"#).as_bytes()).unwrap();
    let hashes: Vec<_> = (0..2)
        .map(|_| {
            let (rt, wasm) = (rt.clone(), wasm.clone());
            std::thread::spawn(move || {
                rt.execute(&wasm, &Transaction::new("run"), &MemoryState::default())
                    .unwrap()
                    .hash()
            })
        })
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(hashes[0], hashes[1]);
}

#[test]
fn the_chain_context_is_read_cheaply_and_committed() {
    let wat = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/chain_context.wat"
    ))
    .unwrap();
    let tx = |entry: &str| {
        Transaction::new(entry)
            .with_height(u64::MAX - 1)
            .with_time(1_700_000_000)
            .with_chain_id("verity-test-1")
    };
    let r = run(&wat, tx("run"), &MemoryState::default());
    assert_eq!(r.status, Status::Success, "{}", r.status);
    let mut want = (u64::MAX - 1).to_le_bytes().to_vec();
    want.extend_from_slice(&1_700_000_000u64.to_le_bytes());
    want.extend_from_slice(b"verity-test-1");
    assert_eq!(r.output, want, "a u64 past i64::MAX comes back whole");
    assert_eq!(
        (r.height, r.time, r.chain_id.as_str()),
        (u64::MAX - 1, 1_700_000_000, "verity-test-1")
    );
    // Reading the height costs its host call (a `context` call of no
    // bytes), the `call` and the `drop`, and nothing else.
    let height = run(&wat, tx("height"), &MemoryState::default()).fuel_used;
    let nothing = run(&wat, tx("nothing"), &MemoryState::default()).fuel_used;
    let c = Profile::default().costs;
    assert_eq!(height - nothing, c.context.total(0) + 2 * c.wasm_op.base);

    // The chain id is bounded by the profile.
    let long = "x".repeat(Profile::default().limits.max_chain_id_bytes as usize + 1);
    let r = run(&wat, tx("run").with_chain_id(long), &MemoryState::default());
    assert_eq!(
        r.status,
        Status::Rejected {
            reason: "transaction chain id is over the limit of 64 bytes".into()
        }
    );
}

#[test]
fn debug_logs_are_kept_in_order_charged_and_outside_the_receipt() {
    let wat = r#"(module
      (import "verity" "log" (func $log (param i32 i32)))
      (memory (export "memory") 2)
      (data (i32.const 0) "first")
      (data (i32.const 8) "second\ff")
      (func (export "run")
        (call $log (i32.const 0) (i32.const 5))
        (call $log (i32.const 8) (i32.const 7)))
      (func (export "quiet"))
      ;; 40 lines of 2 KiB: 80 KiB, over the 64 KiB kept.
      (func (export "flood") (local $i i32)
        (loop $l
          (call $log (i32.const 1024) (i32.const 2048))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 40))))))"#;
    let rt = Runtime::new(Profile::default()).unwrap();
    let code = module_bytes(wat.as_bytes()).unwrap();
    let state = MemoryState::default();
    let run = rt
        .execute_debug(Some(&code), &Transaction::new("run"), &state)
        .unwrap();
    assert_eq!(
        run.logs,
        ["first", "second\u{fffd}"],
        "in order, lossy UTF-8"
    );
    assert_eq!(
        run.receipt,
        rt.execute(&code, &Transaction::new("run"), &state).unwrap(),
        "the log is not part of the receipt"
    );
    let bytes = run.receipt.encode();
    assert!(!bytes.windows(5).any(|w| w == b"first"));
    // Charged as events of the same lengths.
    let quiet = rt
        .execute(&code, &Transaction::new("quiet"), &state)
        .unwrap();
    let costs = Profile::default().costs;
    let host = costs.event.total(5) + costs.event.total(7);
    assert!(run.receipt.fuel_used - quiet.fuel_used >= host);
    // Past max_log_bytes lines are dropped, still charged, and nothing fails.
    let flood = rt
        .execute_debug(Some(&code), &Transaction::new("flood"), &state)
        .unwrap();
    assert_eq!(flood.receipt.status, Status::Success);
    let kept = Profile::default().limits.max_log_bytes as usize / 2048;
    assert_eq!(flood.logs.len(), kept);
    assert!(flood.receipt.fuel_used >= 40 * costs.event.total(2048));
}
