//! Code upgrade (docs/calls.md, "Upgrade"): a contract that asks to run
//! new code keeps running its old code until the invocation returns; the
//! change then shows in its record (with its history) and every later
//! call, in the same transaction and after, runs the new code against the
//! same storage; a failed invocation changes nothing; code that is not
//! stored is refused. On both compilers, verified with witnesses.

use verity_runtime::abi::contract::{CodeChange, ContractRecord, record_key, storage_key};
use verity_runtime::{
    Compiler, ContractId, Hash32, MemoryState, Profile, Receipt, Runtime, Status, Transaction,
};

/// Version `v` of the contract: `version` outputs `v`; `upgrade` asks to
/// run the code whose hash is its input, then calls its own `version`
/// (a direct self-call, inside the invocation) and outputs
/// [update code, call code, what `version` said]; `upgrade_then_fail`
/// asks and then traps; `mark` writes the key "m" (storage that survives
/// the upgrade), `seen` outputs it.
fn version(v: u8) -> Vec<u8> {
    version_with(v, "")
}

/// [`version`] with more functions (a `__migrate`).
fn version_with(v: u8, more: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
  (import "verity" "input_read" (func $input_read (param i32)))
  (import "verity" "update_current_contract_code" (func $update (param i32) (result i32)))
  (import "verity" "current_contract" (func $me (param i32)))
  (import "verity" "call" (func $call (param i32 i32 i32 i32 i32 i64) (result i32)))
  (import "verity" "call_output_read" (func $out_read (param i32)))
  (import "verity" "output_set" (func $output_set (param i32 i32)))
  (import "verity" "storage_write" (func $w (param i32 i32 i32 i32)))
  (import "verity" "storage_read" (func $r (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 200) "version")
  (data (i32.const 300) "\{v:02x}")
  (data (i32.const 400) "m!")
  (func (export "version") (call $output_set (i32.const 300) (i32.const 1)))
  (func (export "upgrade")
    (call $input_read (i32.const 0))
    (i32.store8 (i32.const 100) (call $update (i32.const 0)))
    (call $me (i32.const 40))
    (i32.store8 (i32.const 101) (call $call (i32.const 40) (i32.const 200) (i32.const 7)
      (i32.const 0) (i32.const 0) (i64.const 0)))
    (call $out_read (i32.const 102))
    (call $output_set (i32.const 100) (i32.const 3)))
  (func (export "upgrade_then_fail")
    (call $input_read (i32.const 0))
    (drop (call $update (i32.const 0)))
    unreachable)
  (func (export "mark") (call $w (i32.const 400) (i32.const 1) (i32.const 401) (i32.const 1)))
  (func (export "seen")
    (drop (call $r (i32.const 400) (i32.const 1) (i32.const 500) (i32.const 1)))
    (call $output_set (i32.const 500) (i32.const 1)))
  {more})"#
    ))
    .unwrap()
}

/// Calls `upgrade` of the contract at input[0..32] with input[32..64],
/// then its `version`; outputs [upgrade's code, version's code, version's
/// output].
const DRIVER: &str = r#"(module
  (import "verity" "input_read" (func $input_read (param i32)))
  (import "verity" "call" (func $call (param i32 i32 i32 i32 i32 i64) (result i32)))
  (import "verity" "call_output_read" (func $out_read (param i32)))
  (import "verity" "output_set" (func $output_set (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 200) "upgrade")
  (data (i32.const 210) "version")
  (func (export "run")
    (call $input_read (i32.const 0))
    (i32.store8 (i32.const 100) (call $call (i32.const 0) (i32.const 200) (i32.const 7)
      (i32.const 32) (i32.const 32) (i64.const 0)))
    (i32.store8 (i32.const 101) (call $call (i32.const 0) (i32.const 210) (i32.const 7)
      (i32.const 0) (i32.const 0) (i64.const 0)))
    (call $out_read (i32.const 102))
    (call $output_set (i32.const 100) (i32.const 3))))"#;

const FUEL: u64 = 10_000_000;

struct World {
    rt: Runtime,
    state: MemoryState,
    v1: Vec<u8>,
    v2: Vec<u8>,
    driver: Vec<u8>,
    contract: ContractId,
    driver_at: ContractId,
}

fn deploy(rt: &Runtime, state: &mut MemoryState, code: &[u8], salt: &[u8]) -> ContractId {
    let tx = Transaction::deploy(Hash32::of(salt)).with_sender(b"deployer".to_vec());
    let r = rt.execute(code, &tx, state).unwrap();
    assert!(r.status.is_success(), "deploy: {}", r.status);
    state.commit(&r).unwrap();
    r.contract
}

fn world(compiler: Compiler) -> World {
    let rt = Runtime::with_compiler(Profile::asserted_senders(), compiler).unwrap();
    let (v1, v2) = (version(1), version(2));
    let driver = wat::parse_str(DRIVER).unwrap();
    let mut state = MemoryState::default();
    let contract = deploy(&rt, &mut state, &v1, b"contract");
    // An upload stores v2's code under its hash, creating no contract.
    let upload = rt.execute(&v2, &Transaction::upload(), &state).unwrap();
    assert_eq!(upload.status, Status::Success);
    assert_eq!(upload.action, verity_runtime::Action::Upload);
    assert_eq!(upload.writes.len(), 1, "the code alone, no record");
    state.commit(&upload).unwrap();
    let driver_at = deploy(&rt, &mut state, &driver, b"driver");
    World {
        rt,
        state,
        v1,
        v2,
        driver,
        contract,
        driver_at,
    }
}

impl World {
    /// Runs `entry` of `contract` with `input` and commits it, checking
    /// that it verifies with its witness and the three modules.
    fn call(&mut self, contract: ContractId, entry: &str, input: Vec<u8>) -> Receipt {
        let tx = Transaction::call(contract, entry)
            .with_input(input)
            .with_height(42)
            .with_fuel(FUEL);
        let r = self.rt.execute_call(&tx, &self.state).unwrap();
        let witness = self.state.commit(&r).unwrap().witness;
        let code = [&self.v1, &self.v2, &self.driver]
            .into_iter()
            .find(|c| Hash32::of(c) == r.code_hash)
            .unwrap();
        let verifier = Runtime::new(Profile::asserted_senders()).unwrap();
        let verified = verifier
            .verify_tree(
                &r,
                Some(code),
                &[&self.v1, &self.v2, &self.driver],
                Some(&witness),
            )
            .unwrap();
        assert!(verified.state_authenticated);
        r
    }

    fn record(&self) -> ContractRecord {
        let bytes = self.state.value(&record_key(&self.contract)).unwrap();
        ContractRecord::decode(bytes).unwrap()
    }
}

fn both(test: impl Fn(&mut World) -> Vec<Receipt>) {
    let [a, b] = [Compiler::Cranelift, Compiler::Winch].map(|c| test(&mut world(c)));
    assert_eq!(a, b, "Cranelift and Winch give the same receipts");
}

#[test]
fn an_upgrading_contract_runs_its_old_code_until_it_returns_then_the_new_code() {
    both(|w| {
        let v2_hash = Hash32::of(&w.v2);
        let contract = w.contract;
        let mark = w.call(contract, "mark", vec![]);
        assert!(mark.status.is_success());
        let up = w.call(contract, "upgrade", v2_hash.0.to_vec());
        assert_eq!(up.status, Status::Success);
        // Scheduled; the self-call inside the invocation ran version 1.
        assert_eq!(up.output, vec![0, 0, 1]);
        assert_eq!(w.record().code_hash, v2_hash);
        assert_eq!(
            w.record().history,
            [CodeChange {
                height: 42,
                code_hash: v2_hash
            }]
        );
        // The next transaction runs version 2 at the same address, over
        // the same storage.
        assert_eq!(w.call(contract, "version", vec![]).output, vec![2]);
        assert_eq!(w.call(contract, "seen", vec![]).output, b"!".to_vec());
        let seen_key = storage_key(&contract, b"m");
        assert!(w.state.value(&seen_key).is_some());
        vec![mark, up]
    });
}

#[test]
fn a_later_call_in_the_same_transaction_runs_the_new_code() {
    both(|w| {
        let mut input = w.contract.0.to_vec();
        input.extend_from_slice(&Hash32::of(&w.v2).0);
        let r = w.call(w.driver_at, "run", input);
        assert_eq!(r.status, Status::Success);
        // upgrade succeeded (its own self-call saw version 1: [0, 0, 1]),
        // then version, a new invocation, ran version 2.
        assert_eq!(r.output, vec![0, 0, 2]);
        assert_eq!(r.calls.len(), 3, "upgrade, its self-call, version");
        vec![r]
    });
}

#[test]
fn a_failed_upgrade_changes_nothing_and_unstored_code_is_refused() {
    both(|w| {
        let contract = w.contract;
        let before = w.record();
        let failed = w.call(contract, "upgrade_then_fail", Hash32::of(&w.v2).0.to_vec());
        assert!(
            matches!(failed.status, Status::Trapped { .. }),
            "{}",
            failed.status
        );
        assert_eq!(w.record(), before);
        assert_eq!(w.call(contract, "version", vec![]).output, vec![1]);
        // No code under this hash: refused (1), and the self-call still runs
        // version 1; nothing is written to the record.
        let refused = w.call(contract, "upgrade", [7u8; 32].to_vec());
        assert_eq!(refused.output, vec![1, 0, 1]);
        assert!(
            refused
                .writes
                .iter()
                .all(|e| e.key != record_key(&contract).to_vec())
        );
        assert_eq!(w.record(), before);
        vec![failed, refused]
    });
}

/// An upload runs nothing: one naming an entry is refused before its code
/// is looked at, a module the profile refuses is not stored, and storing
/// code that is there already changes nothing. Each verifies.
#[test]
fn an_upload_stores_valid_code_only_and_runs_nothing() {
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let state = MemoryState::default();
    let v1 = version(1);
    let named = rt
        .execute(&v1, &Transaction::upload().with_entry("version"), &state)
        .unwrap();
    assert!(
        matches!(&named.status, Status::Rejected { reason } if reason.contains("runs no entry")),
        "{}",
        named.status
    );
    assert_eq!(named.fuel_used, 0);
    let foreign = wat::parse_str(r#"(module (import "env" "clock" (func)))"#).unwrap();
    let refused = rt
        .execute(&foreign, &Transaction::upload(), &state)
        .unwrap();
    assert!(
        matches!(refused.status, Status::Rejected { .. }),
        "{}",
        refused.status
    );
    assert!(refused.writes.is_empty());
    let mut state = state;
    let first = rt.execute(&v1, &Transaction::upload(), &state).unwrap();
    assert_eq!(first.status, Status::Success);
    assert_eq!(first.contract, ContractId::default());
    let witness = state.commit(&first).unwrap().witness;
    let verified = rt.verify_tree(&first, None, &[], Some(&witness)).unwrap();
    assert!(verified.state_authenticated);
    let root = state.root();
    let again = rt.execute(&v1, &Transaction::upload(), &state).unwrap();
    assert_eq!(again.status, Status::Success);
    state.commit(&again).unwrap();
    assert_eq!(state.root(), root, "the same code under the same hash");
}

/// A `__migrate` that stores its input (the old code hash) under "o".
const MIGRATE_STORES_OLD_HASH: &str = r#"(func (export "__migrate")
    (call $input_read (i32.const 600))
    (call $w (i32.const 700) (i32.const 1) (i32.const 600) (i32.const 32)))
  (data (i32.const 700) "o")"#;

/// The new code's `__migrate` runs once as the switch takes effect, as a
/// direct self-call given the old code hash; a failing one undoes the
/// switch with the whole invocation. Both compilers, witnesses verified.
#[test]
fn the_new_codes_migrate_runs_once_and_a_failing_one_undoes_the_upgrade() {
    both(|w| {
        let v3 = version_with(3, MIGRATE_STORES_OLD_HASH);
        let v4 = version_with(4, r#"(func (export "__migrate") unreachable)"#);
        for code in [&v3, &v4] {
            let up =
                w.rt.execute(code, &Transaction::upload(), &w.state)
                    .unwrap();
            w.state.commit(&up).unwrap();
        }
        // v3, 4 are known to the verifier through the world's modules.
        w.v2 = v3.clone();
        let contract = w.contract;
        let failed = w.call(contract, "upgrade", Hash32::of(&v4).0.to_vec());
        match &failed.status {
            Status::Reverted { message } => assert!(message.contains("__migrate"), "{message}"),
            other => panic!("{other}"),
        }
        assert_eq!(w.record().code_hash, Hash32::of(&w.v1), "undone");
        let up = w.call(contract, "upgrade", Hash32::of(&v3).0.to_vec());
        assert_eq!(up.status, Status::Success);
        let entries: Vec<_> = up
            .calls
            .iter()
            .map(|c| (c.depth, c.entry.as_str()))
            .collect();
        assert_eq!(entries, [(1, "version"), (1, "__migrate")]);
        let stored = storage_key(&contract, b"o");
        assert_eq!(
            w.state.value(&stored),
            Some(&Hash32::of(&w.v1).0[..]),
            "__migrate got the old code hash"
        );
        assert_eq!(w.call(contract, "version", vec![]).output, vec![3]);
        vec![failed, up]
    });
}
