//! Parity: the SDK's native `TestEnv` and the runtime give the same
//! outcome for every fixture contract's scenarios.
//!
//! Each scenario runs step by step on both hosts side by side: the contract's
//! source natively through `verity_sdk::testing::TestEnv`, and its committed
//! `.wasm` (fixtures/wasm, rebuilt from that source by the rebuild check)
//! through the runtime via `verity-testkit`. After every step the status
//! (with its message), output, events, read set, write set, host-call fuel
//! and the committed state must be equal.
//!
//! Host-call fuel: `TestEnv` charges host calls only (native code has no
//! instructions to meter), so the runtime runs under a profile whose wasm
//! classes cost nothing and whose other settings are the default's; its
//! `fuel_used` is then its host calls' fuel, and out-of-fuel steps end in
//! the same host call on both sides.
//!
//! Panic locations name the source file as the compiler was given it: a
//! member of the fixtures' workspace in the wasm build, a path dependency
//! here. That prefix (a build artefact, not a host rule) is the one thing
//! normalised: the message without it must match, and the fuel must differ
//! by exactly `abort`'s per-byte cost of the prefix.
//!
//! Not run natively: entries whose outcome the engine decides (`spin` and
//! `allocation_bomb` in the hostile contract, deep recursion), because a
//! native run has no fuel meter on instructions, no page cap and no logical
//! stack; tests/all/contracts.rs covers them in the runtime.

use std::marker::PhantomData;

use serde::Serialize;
use verity_host_abi::auth::{NONCE_KIND, Scheme};
use verity_host_abi::{CostClass, CostSchedule, Limits, Status};
use verity_runtime::{AccountKey, Profile};
use verity_sdk::Contract;
use verity_sdk::testing::{Outcome, TestEnv};
use verity_testkit::{Call, Harness};

use crate::common::fixture;

/// The default profile with every wasm instruction class free, loads and
/// stores included.
fn host_costs_only() -> Profile {
    let mut profile = Profile::asserted_senders();
    for class in CostClass::ALL {
        if class.name().starts_with("wasm_") {
            *profile.costs.get_mut(*class) = verity_host_abi::Cost {
                base: 0,
                per_unit: 0,
            };
        }
    }
    for tier in profile.costs.memory_access.tiers.iter_mut() {
        tier.price = 0;
    }
    profile.name = "parity: host calls only".into();
    profile
}

/// One contract on both hosts.
struct Both<C> {
    name: &'static str,
    native: TestEnv,
    wasm: Harness,
    costs: CostSchedule,
    contract: PhantomData<C>,
}

impl<C: Contract> Both<C> {
    fn new(name: &'static str) -> Self {
        let code = std::fs::read(fixture(&format!("wasm/{name}.wasm"))).unwrap();
        let profile = host_costs_only();
        let costs = profile.costs;
        let mut native = TestEnv::new();
        // The native run uses the address the runtime runs the module at.
        let me = verity_runtime::ContractId::one_shot(&verity_runtime::Hash32::of(&code));
        native
            .set_costs(costs)
            .set_limits(profile.limits)
            .set_contract(me);
        Both {
            name,
            native,
            wasm: Harness::with_profile(&code, profile).unwrap(),
            costs,
            contract: PhantomData,
        }
    }

    fn sender(&mut self, sender: &[u8]) -> &mut Self {
        self.native.set_sender(sender);
        self.wasm.set_sender(sender);
        self
    }

    fn signer(&mut self, key: &AccountKey) -> &mut Self {
        self.native.set_signer(key);
        self.wasm.set_signer(key);
        self
    }

    fn fuel(&mut self, fuel: u64) -> &mut Self {
        self.native.set_fuel(fuel);
        self.wasm.set_fuel(fuel);
        self
    }

    /// Calls `entry` with `args` on both hosts and asserts parity.
    #[track_caller]
    fn call(&mut self, entry: &str, args: &impl Serialize) -> Outcome {
        let input = postcard::to_allocvec(args).unwrap();
        self.call_raw(entry, &input)
    }

    #[track_caller]
    fn call_raw(&mut self, entry: &str, input: &[u8]) -> Outcome {
        let native = self.native.call_raw::<C>(entry, input);
        let wasm = self.wasm.call_raw(entry, input).unwrap();
        let step = format!("{}::{entry}", self.name);
        assert_same(&step, &self.costs, &native, &wasm);
        assert_eq!(
            self.native.state(),
            self.wasm.state(),
            "{step}: committed state differs"
        );
        native
    }
}

/// What native panic locations carry before the wasm build's: cargo names
/// a path dependency's files relative to this workspace's root.
const NATIVE_LOCATION_PREFIX: &str = "fixtures/contracts/";

#[track_caller]
fn assert_same(step: &str, costs: &CostSchedule, native: &Outcome, wasm: &Call) {
    let r = &wasm.receipt;
    let mut status = native.status.clone();
    let mut fuel = native.host_fuel;
    if let Status::Reverted { message } = &mut status
        && let Some(rest) = message.strip_prefix("panicked at ")
        && let Some(relative) = rest.strip_prefix(NATIVE_LOCATION_PREFIX)
    {
        *message = format!("panicked at {relative}");
        fuel = fuel
            .checked_sub(costs.abort.per_unit * NATIVE_LOCATION_PREFIX.len() as u64)
            .expect("a native panic pays for its longer location");
    }
    assert_eq!(status, r.status, "{step}: status");
    assert_eq!(native.output, r.output, "{step}: output");
    assert_eq!(native.events, r.events, "{step}: events");
    // The receipt's keys carry the contract's storage prefix; the native
    // outcome's are the contract's own. A signed call's nonce entry is
    // whole on both.
    let (reads, writes) = receipt_sets(r, |key| match key[0] {
        NONCE_KIND => Some(key.to_vec()),
        _ => Some(key[33..].to_vec()),
    });
    let (native_reads, native_writes) = native_sets(native);
    assert_eq!(native_reads, reads, "{step}: read set");
    assert_eq!(native_writes, writes, "{step}: write set");
    assert_eq!(fuel, r.fuel_used, "{step}: host-call fuel");
    // The host-call part of the fuel profile accounts for all of it.
    if native.status != Status::OutOfFuel {
        assert_eq!(
            native.host_fuel_by_class.total() + native.admission_fuel,
            native.host_fuel,
            "{step}: host fuel by class"
        );
    }
}

/// A key and the value read or written.
type Set = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// A receipt's read and write sets, each key as `keyed` names it (`None`
/// leaves the entry out).
fn receipt_sets(
    r: &verity_runtime::Receipt,
    keyed: impl Fn(&[u8]) -> Option<Vec<u8>>,
) -> (Set, Set) {
    let reads = r
        .reads
        .iter()
        .filter_map(|e| Some((keyed(&e.key)?, e.value.clone())));
    let writes = r
        .writes
        .iter()
        .filter_map(|e| Some((keyed(&e.key)?, e.value.clone())));
    (reads.collect(), writes.collect())
}

/// A native outcome's read and write sets.
fn native_sets(o: &Outcome) -> (Set, Set) {
    let reads = o.reads.iter().map(|e| (e.key.clone(), e.value.clone()));
    let writes = o.writes.iter().map(|e| (e.key.clone(), e.value.clone()));
    (reads.collect(), writes.collect())
}

const OWNER: [u8; 32] = [1; 32];
const ALICE: [u8; 32] = [2; 32];
const BOB: [u8; 32] = [3; 32];

/// Signed calls (docs/auth.md): the native signer pays the admission's
/// fuel and records the nonce's read and write as the runtime does, a
/// reverted call consumes its nonce on both, and a fuel limit below the
/// checks is refused on both with nothing consumed.
#[test]
fn signed_token_scenarios_match() {
    let owner = AccountKey::from_secret(Scheme::Ed25519, &[1; 32]).unwrap();
    let alice = AccountKey::from_secret(Scheme::P256, &[2; 32]).unwrap();
    let mut t = Both::<token::Token>::new("token");
    t.signer(&owner);
    assert!(t.call("init", &(owner.address(),)).is_success());
    let minted = t.call("mint", &(alice.address(), 100u64));
    assert!(minted.is_success());
    assert!(minted.writes.iter().any(|w| w.key[0] == NONCE_KIND));
    t.signer(&alice);
    let denied = t.call("mint", &(alice.address(), 1u64)); // not the owner
    assert_eq!(denied.writes.len(), 1, "the nonce alone");
    assert!(t.call("transfer", &(BOB, 30u64)).is_success());
    t.fuel(1_000);
    let poor = t.call("transfer", &(BOB, 1u64));
    assert!(matches!(poor.status, Status::Rejected { .. }));
}

#[test]
fn token_scenarios_match() {
    let mut t = Both::<token::Token>::new("token");
    t.sender(&OWNER);
    t.call("mint", &(ALICE, 1u64)); // not initialised
    assert!(t.call("init", &(OWNER,)).is_success());
    t.call("init", &(OWNER,)); // already initialised
    assert!(t.call("mint", &(ALICE, 100u64)).is_success());
    t.call("mint", &(BOB, u64::MAX)); // supply overflow
    t.sender(&ALICE);
    t.call("mint", &(ALICE, 1u64)); // not the owner
    assert!(t.call("transfer", &(BOB, 30u64)).is_success());
    assert!(t.call("transfer", &(ALICE, 5u64)).is_success()); // to oneself
    t.call("transfer", &(BOB, 1_000u64)); // insufficient balance
    t.sender(b"not an address");
    t.call("transfer", &(BOB, 1u64)); // bad sender
    t.sender(&BOB);
    let out = t.call("balance_of", &(BOB,));
    assert_eq!(out.output::<u64>(), 30);
    t.call("total_supply", &());
    t.call_raw("transfer", &[0xff; 3]); // undecodable input
    t.call("burn", &()); // no such entry
    // The transaction checks: a fuel limit over the profile's maximum, and
    // an input over its limit.
    t.fuel(Limits::DEFAULT.max_fuel + 1)
        .call("total_supply", &());
    t.fuel(verity_runtime::Transaction::DEFAULT_FUEL);
    t.call_raw(
        "transfer",
        &vec![0; Limits::DEFAULT.max_input_bytes as usize + 1],
    );
    // Out of fuel in a host call, at every fuel limit short of a transfer's.
    let needed = t.call("transfer", &(ALICE, 1u64)).host_fuel;
    for fuel in [0, 1, needed / 2, needed - 1] {
        let out = t.fuel(fuel).call("transfer", &(ALICE, 1u64));
        assert_eq!(out.status, Status::OutOfFuel, "fuel {fuel}");
    }
}

#[test]
fn counter_scenarios_match() {
    let mut c = Both::<counter::Counter>::new("counter");
    c.call("get", &());
    assert_eq!(c.call("add", &(2u64,)).output::<u64>(), 2);
    assert_eq!(c.call("add", &(3u64,)).output::<u64>(), 5);
    let out = c.call("add", &(u64::MAX,));
    assert_eq!(out.revert_message(), Some("counter overflow"));
    c.call("get", &());
    c.call_raw("add", b""); // missing argument
}

#[test]
fn hasher_scenarios_match() {
    let mut h = Both::<hasher::Hasher>::new("hasher");
    h.call("hash", &());
    h.call("chain", &([7u8; 32], 0u32));
    h.call("chain", &([7u8; 32], 100u32));
}

#[test]
fn hostile_scenarios_match() {
    let mut h = Both::<hostile::Hostile>::new("hostile");
    h.call("panic_static", &());
    h.call("panic_formatted", &(3u32,));
    // Overflow checks are on in the contract's code, natively too.
    let out = h.call("overflow", &(1u64,));
    let message = out.revert_message().unwrap_or_default();
    assert!(
        message.ends_with(": attempt to add with overflow"),
        "{message}"
    );
    h.call("overflow", &(0u64,));
    let flood = h.call("event_flood", &());
    assert!(matches!(flood.status, Status::Trapped { .. }));
    h.call("long_key", &());
    let out = h.call("write_then_panic", &());
    assert!(out.writes.is_empty() && out.events.is_empty());
    h.call("recurse", &(100u32,));
}

#[test]
fn kernel_entries_match() {
    let mut k = Both::<kernels::Kernels>::new("kernels");
    k.call("int_loop", &(1_000u32,));
    k.call("sha256_chain", &(50u32,));
    k.call("keccak256_chain", &(50u32,));
    k.call("sort", &(7u32,));
    k.call("matmul", &(3u32,));
}

/// The escrow and the token, both hosts running the same calls between
/// them: `TestEnv` with both registered at the runtime's addresses, the
/// runtime with both deployed. After every step the outcome matches the
/// receipt field by field: status, output, events (each with its
/// emitter), the read and write sets of contract storage (the runtime's
/// reads of records and code, which a native host has no use for, aside),
/// and the call tree with each call's host-call fuel.
#[test]
fn escrow_and_token_calls_match() {
    const ARBITER: [u8; 32] = [4; 32];
    let profile = host_costs_only();
    let code = |name: &str| std::fs::read(fixture(&format!("wasm/{name}.wasm"))).unwrap();
    let (token_code, escrow_code) = (code("token"), code("escrow"));
    let mut wasm = Harness::with_profile(&token_code, profile.clone()).unwrap();
    wasm.set_sender(&OWNER);
    let token = wasm.deploy(&token_code, "", &()).unwrap().receipt.contract;
    let escrow = wasm.deploy(&escrow_code, "", &()).unwrap().receipt.contract;
    let mut native = TestEnv::new();
    native
        .set_costs(profile.costs)
        .set_limits(profile.limits)
        .register::<token::Token>(token)
        .register::<escrow::Escrow>(escrow);
    let mut both = Two { native, wasm };
    both.step::<token::Token>(token, &OWNER, "init", &(OWNER,));
    both.step::<escrow::Escrow>(escrow, &OWNER, "init", &(token.0,));
    both.step::<token::Token>(token, &OWNER, "mint", &(ALICE, 100u64));
    // Refused by the token inside the escrow's call: no allowance yet.
    let refused = both.step::<escrow::Escrow>(escrow, &ALICE, "open", &(BOB, ARBITER, 40u64));
    assert!(!refused.is_success());
    both.step::<token::Token>(token, &ALICE, "approve", &(escrow.0, 40u64));
    let open = both.step::<escrow::Escrow>(escrow, &ALICE, "open", &(BOB, ARBITER, 40u64));
    assert_eq!(open.calls.len(), 1);
    both.step::<escrow::Escrow>(escrow, &BOB, "release", &(0u64,)); // not a party
    let release = both.step::<escrow::Escrow>(escrow, &ARBITER, "release", &(0u64,));
    assert_eq!(release.calls.len(), 1);
    both.step::<escrow::Escrow>(escrow, &BOB, "refund", &(0u64,)); // gone
    both.step::<token::Token>(token, &OWNER, "balance_of", &(BOB,));
}

/// Two hosts with several contracts.
struct Two {
    native: TestEnv,
    wasm: Harness,
}

impl Two {
    #[track_caller]
    fn step<C: Contract>(
        &mut self,
        at: verity_runtime::ContractId,
        sender: &[u8],
        entry: &str,
        args: &impl Serialize,
    ) -> Outcome {
        self.native.set_contract(at).set_sender(sender);
        self.wasm.set_sender(sender);
        let native = self.native.call::<C>(entry, args);
        let wasm = self.wasm.call_at(at, entry, args).unwrap();
        let r = &wasm.receipt;
        let step = format!("{at}::{entry}");
        assert_eq!(native.status, r.status, "{step}: status");
        assert_eq!(native.output, r.output, "{step}: output");
        assert_eq!(native.events, r.events, "{step}: events");
        assert_eq!(native.calls, r.calls, "{step}: call tree");
        // Contract storage only, keyed as the native outcome keys it: the
        // running contract's own keys, other contracts' whole.
        let prefix = verity_runtime::abi::contract::storage_prefix(&at);
        let storage = verity_runtime::abi::contract::STORAGE_KIND;
        let (reads, writes) = receipt_sets(r, |key| {
            (key.first() == Some(&storage))
                .then(|| key.strip_prefix(&prefix[..]).unwrap_or(key).to_vec())
        });
        let (native_reads, native_writes) = native_sets(&native);
        assert_eq!(native_reads, reads, "{step}: read set");
        assert_eq!(native_writes, writes, "{step}: write set");
        assert_eq!(native.host_fuel, r.fuel_used, "{step}: host-call fuel");
        native
    }
}

#[test]
fn the_parity_profile_is_the_default_but_for_wasm_costs() {
    let profile = host_costs_only();
    // The default's limits, but admitting the senders the native side
    // sets (TestEnv::set_sender asserts them as this profile does).
    let default = Profile::asserted_senders();
    assert_eq!(profile.limits, default.limits);
    for class in CostClass::ALL {
        let (ours, theirs) = (profile.costs.get(*class), default.costs.get(*class));
        if class.name().starts_with("wasm_") {
            assert_eq!((ours.base, ours.per_unit), (0, 0));
        } else {
            assert_eq!((ours.base, ours.per_unit), (theirs.base, theirs.per_unit));
        }
    }
}
