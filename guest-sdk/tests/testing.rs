//! The native test environment keeps the runtime's semantics: rollback on
//! every failure, read-your-writes, limits with the runtime's trap kinds,
//! the wasm panic handler's message format, host-call fuel, and the
//! runtime's transaction checks. (tests/all/parity.rs at the repository's
//! root compares it with the runtime on every fixture contract.)
#![allow(
    missing_docs,
    reason = "the probe contract's entries are named for what the tests exercise"
)]

use verity_host_abi::{CostSchedule, Limits, TrapKind, WriteEntry};
use verity_sdk::storage::{self, Item, Map};
use verity_sdk::testing::{ContractId, Status, TestEnv};
use verity_sdk::{Address, ContractError, contract, env, events};

const N: Item<u32> = Item::new(b"n");
const M: Map<Address, u64> = Map::new(b"m");

#[derive(ContractError, Debug)]
pub enum Error {
    #[error("nope")]
    Nope = 7,
}

pub struct Probe;

#[contract]
impl Probe {
    /// The block height (chain context).
    pub fn height() -> u64 {
        env::block_height()
    }

    /// Logs twice, once formatted, then reverts if `fail`.
    pub fn noisy(n: u32, fail: bool) {
        env::log("starting");
        verity_sdk::log!("n = {}, doubled {}", n, n * 2);
        if fail {
            env::revert("failed after logging");
        }
    }

    /// `noisy` without the logs.
    pub fn silent(n: u32, fail: bool) {
        if fail && n > 0 {
            env::revert("failed after logging");
        }
    }

    /// A number, returned as `height` returns one.
    pub fn constant() -> u64 {
        7
    }

    pub fn write_then_revert(n: u32) {
        N.set(&n);
        events::emit_bytes(b"t", b"d");
        env::revert("changed my mind");
    }
    pub fn write_then_err(n: u32) -> Result<u32, Error> {
        N.set(&n);
        Err(Error::Nope)
    }
    pub fn write_then_panic(n: u32) {
        N.set(&n);
        // Absent: this run has not written it.
        Item::<u32>::new(b"absent").get().unwrap();
    }
    pub fn expect_literal() {
        Item::<u32>::new(b"absent").get().expect("n must be set");
    }
    pub fn literal_panic() {
        panic!("a literal message");
    }
    pub fn write_and_read(n: u32) -> Option<u32> {
        N.set(&n);
        N.get()
    }
    pub fn remove() -> bool {
        N.remove();
        N.exists()
    }
    pub fn map_put(who: Address, v: u64) -> Option<u64> {
        M.set(&who, &v);
        M.get(&who)
    }
    pub fn long_key() {
        storage::set_bytes(&[0; 257], b"");
    }
    pub fn long_value() {
        storage::set_bytes(b"k", &[0; 64 * 1024 + 1]);
    }
    pub fn flood() {
        for _ in 0..257 {
            events::emit_bytes(b"t", b"");
        }
    }
    pub fn sender_len() -> u32 {
        env::with_sender(|s| s.len() as u32)
    }
    pub fn nothing_written() {}
    pub fn read_n() -> Option<u32> {
        N.get()
    }
    pub fn put_kv() {
        storage::set_bytes(b"k", b"vv");
    }
    pub fn echo() -> u32 {
        env::with_input(|i| i.len() as u32)
    }
}

#[test]
fn every_failure_rolls_back_writes_and_events() {
    let mut env = TestEnv::new();
    assert!(env.call::<Probe>("write_and_read", &(1u32,)).is_success());
    let before = env.state().clone();
    let r = env.call::<Probe>("write_then_revert", &(2u32,));
    assert_eq!(
        r.status,
        Status::Reverted {
            message: "changed my mind".into()
        }
    );
    assert!(r.events.is_empty() && r.writes.is_empty());
    let r = env.call::<Probe>("write_then_err", &(3u32,));
    assert_eq!(
        r.status,
        Status::Reverted {
            message: "error 7: nope".into()
        }
    );
    let r = env.call::<Probe>("write_then_panic", &(4u32,));
    let msg = r.revert_message().unwrap();
    assert!(
        msg.starts_with("panicked at guest-sdk/tests/testing.rs:"),
        "{msg}"
    );
    assert!(
        msg.ends_with("called `Option::unwrap()` on a `None` value"),
        "{msg}"
    );
    assert_eq!(env.state(), &before);
}

/// `TestEnv` reports the message the wasm build reports: a formatted panic
/// message (`expect`, `Result::unwrap`, `assert_eq!`) only with the
/// `panic-fmt` feature, a literal one always.
#[test]
fn panic_messages_are_what_the_wasm_build_reports() {
    let mut env = TestEnv::new();
    let msg = env
        .call::<Probe>("expect_literal", &())
        .revert_message()
        .unwrap()
        .to_string();
    let (_, text) = msg.split_once(": ").unwrap();
    if verity_sdk::testing::FORMATTED_PANICS_KEPT {
        assert_eq!(text, "n must be set");
    } else {
        assert_eq!(
            text,
            "<formatted message; enable verity-sdk feature `panic-fmt` to keep it>"
        );
    }
    let msg = env
        .call::<Probe>("literal_panic", &())
        .revert_message()
        .unwrap()
        .to_string();
    assert!(msg.ends_with(": a literal message"), "{msg}");
}

#[test]
fn reads_see_the_run_s_own_writes_and_removals() {
    let mut env = TestEnv::new();
    assert_eq!(
        env.call::<Probe>("write_and_read", &(9u32,))
            .output::<Option<u32>>(),
        Some(9)
    );
    let r = env.call::<Probe>("remove", &());
    assert!(!r.output::<bool>());
    assert_eq!(
        r.writes,
        vec![WriteEntry {
            key: b"n".to_vec(),
            value: None
        }]
    );
    assert!(env.state().is_empty());
    let who = Address([5; 32]);
    let r = env.call::<Probe>("map_put", &(who, 77u64));
    assert_eq!(r.output::<Option<u64>>(), Some(77));
    let mut key = b"m\0".to_vec();
    key.extend_from_slice(&[5; 32]);
    assert_eq!(env.get(&key), Some(&verity_sdk::codec::to_vec(&77u64)[..]));
}

#[test]
fn limits_trap_with_the_runtime_s_trap_kinds() {
    let mut env = TestEnv::new();
    for (entry, kind) in [
        ("long_key", TrapKind::KeyTooLong),
        ("long_value", TrapKind::ValueTooLong),
        ("flood", TrapKind::TooManyEvents),
    ] {
        assert_eq!(
            env.call::<Probe>(entry, &()).status,
            Status::Trapped { trap: kind },
            "{entry}"
        );
    }
    assert!(env.state().is_empty());
}

#[test]
fn input_sender_and_unknown_entries() {
    let mut env = TestEnv::new();
    env.set_sender(b"alice");
    assert_eq!(env.call::<Probe>("sender_len", &()).output::<u32>(), 5);
    assert_eq!(env.call_raw::<Probe>("echo", b"abcd").output::<u32>(), 4);
    let bad = env.call_raw::<Probe>("write_and_read", &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(
        bad.status,
        Status::Reverted {
            message: "invalid input: expected (n: u32)".into()
        }
    );
    assert!(matches!(
        env.call::<Probe>("nothing", &()).status,
        Status::Rejected { .. }
    ));
}

#[test]
fn host_calls_are_charged_by_the_schedule() {
    let costs = CostSchedule::default();
    let mut env = TestEnv::new();
    // The same dispatch with and without one 3-byte write: the difference
    // is the write's base cost and 5 per key and value byte.
    let empty = env.call::<Probe>("nothing_written", &());
    let write = env.call::<Probe>("put_kv", &());
    assert!(empty.is_success() && write.is_success());
    assert_eq!(
        write.host_fuel - empty.host_fuel,
        costs.storage_write.total(3)
    );
    assert_eq!(costs.storage_write.total(3), 2_015);
    // One unit of fuel too few: out of fuel, all of it used, nothing kept.
    env.set_fuel(write.host_fuel - 1);
    let r = env.call::<Probe>("put_kv", &());
    assert_eq!(r.status, Status::OutOfFuel);
    assert_eq!(r.host_fuel, write.host_fuel - 1);
    assert!(r.writes.is_empty());
}

#[test]
fn transactions_are_checked_as_the_runtime_checks_them() {
    let mut env = TestEnv::new();
    let limits = Limits::DEFAULT;
    let big = vec![0u8; limits.max_input_bytes as usize + 1];
    let r = env.call_raw::<Probe>("echo", &big);
    assert_eq!(
        r.status.to_string(),
        format!(
            "rejected: transaction input is over the limit of {} bytes",
            limits.max_input_bytes
        )
    );
    env.set_fuel(limits.max_fuel + 1);
    assert!(matches!(
        env.call::<Probe>("echo", &()).status,
        Status::Rejected { .. }
    ));
}

#[test]
fn read_set_caps_trap_as_in_the_runtime() {
    let mut env = TestEnv::new();
    env.set_limits(Limits {
        max_read_keys: 0,
        ..Limits::DEFAULT
    });
    assert_eq!(
        env.call::<Probe>("read_n", &()).status,
        Status::Trapped {
            trap: TrapKind::ReadSetTooLarge
        }
    );
    // A read of a key the run wrote itself is no read of the state.
    assert!(env.call::<Probe>("write_and_read", &(1u32,)).is_success());
}

#[test]
fn try_invoke_reverts_an_err_and_invoke_refuses_results() {
    let mut env = TestEnv::new();
    assert_eq!(
        env.try_invoke(|| Probe::write_then_err(5)),
        Err(Status::Reverted {
            message: "error 7: nope".into()
        })
    );
    assert!(env.state().is_empty(), "an Err keeps no writes");
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        env.invoke(|| Probe::write_then_err(5))
    }));
    assert!(refused.is_err(), "invoke must not commit a failed Result");
    assert!(env.state().is_empty());
}

#[test]
fn the_chain_context_reaches_the_contract_and_costs_one_call_each() {
    let mut env = TestEnv::new();
    env.set_height(1_234)
        .set_time(1_700_000_000)
        .set_chain_id("verity-test");
    let seen = env
        .invoke(|| {
            let id = env::with_chain_id(|id| id.to_string());
            (env::block_height(), env::block_time(), id)
        })
        .unwrap();
    assert_eq!(seen, (1_234, 1_700_000_000, "verity-test".to_string()));
    // Reading the height costs one call of the `context` class: its base,
    // no bytes, no buffer (the outputs compared are both one byte long).
    env.set_height(5);
    let empty = env.call::<Probe>("constant", &());
    let height = env.call::<Probe>("height", &());
    assert_eq!(height.output::<u64>(), 5);
    let cost = height.host_fuel - empty.host_fuel;
    assert_eq!(cost, CostSchedule::default().context.base);
    assert!(cost < 200);
}

#[test]
fn debug_logs_come_back_in_order_even_from_a_failed_run() {
    let mut env = TestEnv::new();
    let out = env.call::<Probe>("noisy", &(21u32, false));
    assert!(out.is_success());
    assert_eq!(out.logs, ["starting", "n = 21, doubled 42"]);
    assert_eq!(env.logs(), out.logs.as_slice());
    // A reverted run keeps no writes, but its log says how it got there.
    let out = env.call::<Probe>("noisy", &(1u32, true));
    assert_eq!(out.revert_message(), Some("failed after logging"));
    assert_eq!(out.logs, ["starting", "n = 1, doubled 2"]);
    // Logging is charged as events of the same lengths.
    let costs = CostSchedule::default();
    let quiet = env.call::<Probe>("silent", &(21u32, false));
    let logged = env.call::<Probe>("noisy", &(21u32, false));
    assert_eq!(
        logged.host_fuel - quiet.host_fuel,
        costs.event.total(8) + costs.event.total(18)
    );
}

#[test]
fn signatures_made_outside_are_checked_by_the_host_rules_in_tests_too() {
    use verity_sdk::crypto::{self, SignatureError};
    let hex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    // RFC 8032, test 2.
    let key: [u8; 32] = hex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
        .try_into()
        .unwrap();
    let sig: [u8; 64] = hex("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00").try_into().unwrap();
    let mut env = TestEnv::new();
    let checks = env
        .invoke(|| {
            let mut identity = [0u8; 32];
            identity[0] = 1;
            (
                crypto::ed25519_verify(&key, &[0x72], &sig),
                crypto::ed25519_verify(&key, &[0x73], &sig),
                crypto::ed25519_verify(&identity, &[0x72], &sig),
            )
        })
        .unwrap();
    assert_eq!(checks, (Ok(true), Ok(false), Err(SignatureError::BadKey)));
    let digest = env.invoke(|| crypto::keccak256(b"")).unwrap();
    assert_eq!(
        digest.to_vec(),
        hex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
    );
}

#[test]
fn a_contract_knows_its_address_and_its_caller_and_calls_are_checked_natively() {
    let mut env = TestEnv::new();
    let me = verity_host_abi::ContractId([0x11; 32]);
    env.set_contract(me).set_sender(&[0x22; 32]);
    let (address, caller) = env
        .invoke(|| (env::current_contract(), env::caller_address()))
        .unwrap();
    assert_eq!(address, Address(me.0));
    assert_eq!(caller, Some(Address([0x22; 32])), "the sender at depth 0");
    // Nothing is registered at the address: the call is charged and
    // checked, then refused, as a call of a missing contract is.
    // (`invoke` refuses a `Result`: the failure is taken out with `err`.)
    let failure = env
        .invoke(|| {
            let mut out = [0u8; 8];
            env::try_call_raw(&Address([0x33; 32]), "get", b"", None, &mut out).err()
        })
        .unwrap();
    assert_eq!(failure, Some(env::CallFailure::Refused));
    // A name the host reserves is refused too, and an oversized entry
    // traps as in the runtime.
    let reserved =
        env.invoke(|| env::try_call_raw(&Address([0x33; 32]), "__init", b"", None, &mut []).err());
    assert_eq!(reserved.unwrap(), Some(env::CallFailure::Refused));
    let long = "e".repeat(Limits::default().max_entry_bytes as usize + 1);
    let trapped =
        env.invoke(|| env::try_call_raw(&Address([0x33; 32]), &long, b"", None, &mut []).err());
    assert_eq!(
        trapped.unwrap_err(),
        Status::Trapped {
            trap: TrapKind::EntryTooLong
        }
    );
}

/// A callee for the call tests: typed errors, forged-looking reverts and
/// outputs, writes and events that a failure must undo, a loop, and calls
/// back.
pub struct Liar;

const LIAR: Address = Address([0x44; 32]);
const PROBE_AT: Address = Address([0x55; 32]);
const SEEN: Item<u32> = Item::new(b"seen");

/// The callee's typed errors; the caller decodes them by code and message.
#[derive(ContractError, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiarError {
    /// A real typed error.
    #[error("too low")]
    TooLow = 7,
}

#[contract]
impl Liar {
    /// Fails with a typed error, after writing and emitting.
    pub fn typed() -> Result<u64, LiarError> {
        SEEN.set(&1);
        events::emit_bytes(b"liar", b"");
        Err(LiarError::TooLow)
    }
    /// Reverts with what a refusal or another error would say.
    pub fn forged(message: u32) -> u64 {
        match message {
            0 => env::revert("call refused"),
            1 => env::revert("error 07: too low"),
            2 => env::revert("error 7: too high"),
            3 => env::revert("error 4294967303: too low"),
            _ => env::revert("error 7: too low"),
        }
    }
    /// Succeeds with bytes that are no `u64` (a `u64`'s varint never ends).
    pub fn garbage() {
        env::set_output(&[0xff; 11]);
    }
    /// Succeeds with `x + 1`.
    pub fn inc(x: u64) -> u64 {
        x + 1
    }
    /// Spins in host calls until its fuel runs out.
    pub fn spin() {
        loop {
            SEEN.set(&2);
        }
    }
    /// Calls back the contract under test (re-entry: refused), and
    /// itself (a direct self-call: allowed); returns both codes.
    pub fn call_back() -> (bool, bool) {
        let back = env::try_call::<u64, env::NoError>(&PROBE_AT, "noop", &(), None).is_ok();
        let own = env::try_call::<u64, LiarError>(&LIAR, "inc", &(1u64,), None) == Ok(2);
        (back, own)
    }
}

pub struct Probe2;

#[contract]
impl Probe2 {
    /// Nothing: a target for re-entry.
    pub fn noop() -> u64 {
        0
    }
}

#[test]
fn registered_contracts_call_each_other_with_the_runtime_semantics() {
    let mut env = TestEnv::new();
    env.register::<Liar>(ContractId(LIAR.0))
        .register::<Probe2>(ContractId(PROBE_AT.0))
        .set_contract(ContractId(PROBE_AT.0));
    // A typed error comes back as the callee's type, and what it wrote
    // and emitted is undone.
    let out = env.call::<Probe2>("noop", &());
    assert!(out.is_success());
    let typed = env.invoke(|| env::try_call::<u64, LiarError>(&LIAR, "typed", &(), None).err());
    assert_eq!(
        typed.unwrap(),
        Some(env::CallError::Contract(LiarError::TooLow))
    );
    let liar_seen = verity_host_abi::contract::storage_key(&ContractId(LIAR.0), b"seen");
    assert_eq!(env.state().value(&liar_seen), None);
    // A revert that only looks like a refusal or a typed error is a plain
    // revert: the status comes from the host, and the message must be
    // exactly the one the type's error would give.
    for (forgery, expect) in [
        (0u32, env::CallError::Failed(env::CallFailure::Reverted)),
        (1, env::CallError::Failed(env::CallFailure::Reverted)),
        (2, env::CallError::Failed(env::CallFailure::Reverted)),
        (3, env::CallError::Failed(env::CallFailure::Reverted)),
        (4, env::CallError::Contract(LiarError::TooLow)),
    ] {
        let got = env
            .invoke(|| env::try_call::<u64, LiarError>(&LIAR, "forged", &(forgery,), None).err())
            .unwrap();
        assert_eq!(got, Some(expect), "forgery {forgery}");
    }
    // Output of the wrong type, a missing entry, a missing contract.
    let bad = env.invoke(|| env::try_call::<u64, LiarError>(&LIAR, "garbage", &(), None).err());
    assert_eq!(
        bad.unwrap(),
        Some(env::CallError::Failed(env::CallFailure::BadOutput))
    );
    let missing = env.invoke(|| env::try_call::<u64, LiarError>(&LIAR, "nope", &(), None).err());
    assert_eq!(
        missing.unwrap(),
        Some(env::CallError::Failed(env::CallFailure::Refused))
    );
    let nobody = env
        .invoke(|| env::try_call::<u64, LiarError>(&Address([9; 32]), "inc", &(1u64,), None).err());
    assert_eq!(
        nobody.unwrap(),
        Some(env::CallError::Failed(env::CallFailure::Refused))
    );
    assert_eq!(
        env.invoke(|| env::call::<u64>(&LIAR, "inc", &(41u64,))),
        Ok(42)
    );
    // Re-entry is refused; a direct self-call is not.
    let out = env.call::<Probe2>("noop", &());
    assert!(out.is_success());
    let codes = env.invoke(|| env::call::<(bool, bool)>(&LIAR, "call_back", &()));
    assert_eq!(codes, Ok((false, true)));
    // A capped spin is recoverable and costs exactly its cap; uncapped it
    // ends the transaction.
    env.set_fuel(1_000_000);
    let capped =
        env.invoke(|| env::try_call::<(), LiarError>(&LIAR, "spin", &(), Some(50_000)).err());
    assert_eq!(
        capped.unwrap(),
        Some(env::CallError::Failed(env::CallFailure::OutOfFuel))
    );
    let uncapped = env.invoke(|| env::try_call::<(), LiarError>(&LIAR, "spin", &(), None).err());
    assert_eq!(uncapped.unwrap_err(), Status::OutOfFuel);
    // The untyped `call` reverts its caller with one generic message.
    let out = env.invoke(|| env::call::<u64>(&LIAR, "forged", &(4u32,)));
    assert_eq!(
        out.unwrap_err(),
        Status::Reverted {
            message: "call failed: the callee reverted".into()
        }
    );
}

/// A contract's `__migrate` entry, as `#[contract]` writes it: its input
/// is the old code hash, 32 raw bytes (docs/calls.md, "Upgrade").
pub struct Migrating;

const OLD: Item<[u8; 32]> = Item::new(b"old");

#[contract]
impl Migrating {
    /// Keeps the old code hash.
    pub fn __migrate(old_code_hash: [u8; 32]) {
        OLD.set(&old_code_hash);
    }
}

#[test]
fn a_migrate_entry_takes_the_old_code_hash_as_raw_bytes() {
    let mut env = TestEnv::new();
    // The host passes the hash itself as the input, no other framing.
    let out = env.call_raw::<Migrating>("__migrate", &[7; 32]);
    assert!(out.is_success(), "{:?}", out.status);
    assert_eq!(env.invoke(|| OLD.get()), Ok(Some([7; 32])));
}

/// A vault that pays out only to whoever authorized the call:
/// `withdraw(owner)` requires `owner`'s authorization.
pub struct Vault;

const VAULT: Address = Address([0x66; 32]);
const RELAY: Address = Address([0x77; 32]);
const USER: Address = Address([0x88; 32]);

#[contract]
impl Vault {
    /// Succeeds only if `owner` authorized this invocation.
    pub fn withdraw(owner: Address) -> u64 {
        env::require_auth(&owner);
        1
    }
}

/// A contract between the user and the vault.
pub struct Relay;

#[contract]
impl Relay {
    /// Withdraws for `owner` (the user who called the relay).
    pub fn withdraw_for(owner: Address) -> bool {
        env::try_call::<u64, env::NoError>(&VAULT, "withdraw", &(owner,), None).is_ok()
    }
    /// Withdraws for the relay itself.
    pub fn withdraw_own() -> bool {
        env::try_call::<u64, env::NoError>(&VAULT, "withdraw", &(RELAY,), None).is_ok()
    }
}

#[test]
fn require_auth_passes_for_the_sender_and_the_direct_caller_only() {
    let mut env = TestEnv::new();
    env.register::<Vault>(ContractId(VAULT.0))
        .register::<Relay>(ContractId(RELAY.0))
        .set_sender_address(USER);
    // The user calling the vault directly authorizes it.
    env.set_contract(ContractId(VAULT.0));
    assert!(env.call::<Vault>("withdraw", &(USER,)).is_success());
    // Someone else's funds: the typed refusal.
    let other = env.call::<Vault>("withdraw", &(Address([1; 32]),));
    assert_eq!(
        other.status,
        Status::Reverted {
            message: env::Unauthorized::MESSAGE.into()
        }
    );
    // Through the relay: the vault sees the relay, not the user, so the
    // relay cannot spend its caller's funds (no tx.origin), only its own.
    env.set_contract(ContractId(RELAY.0));
    let through = env.call::<Relay>("withdraw_for", &(USER,));
    assert!(through.is_success());
    let for_user = env
        .invoke(|| env::try_call::<u64, env::NoError>(&VAULT, "withdraw", &(USER,), None).is_ok());
    assert!(!for_user.unwrap(), "the relay spent its caller's funds");
    let own = env
        .invoke(|| env::try_call::<u64, env::NoError>(&VAULT, "withdraw", &(RELAY,), None).is_ok());
    assert!(own.unwrap(), "the relay could not spend its own");
    // And `check_auth` says the same without reverting.
    let checked = env.invoke(|| (env::check_auth(&USER), env::check_auth(&RELAY)));
    assert_eq!(checked.unwrap(), (Ok(()), Err(env::Unauthorized)));
}
