//! The fixture contracts (fixtures/contracts, built with verity-sdk) in the
//! real runtime: token scenarios, hostile Rust, the walkthrough's commands,
//! reproducible builds, the size gate, and the contracts' own native tests.

use std::process::Command;

use crate::common::{fixture, preparation_fuel, root, verity};
use serde::Deserialize;
use verity_runtime::{
    AccountKey, Compiler, ContractId, Profile, Runtime, Scheme, Status, TrapKind,
};
use verity_testkit::{Call, Harness};

const OWNER: [u8; 32] = [1; 32];
const ALICE: [u8; 32] = [2; 32];
const BOB: [u8; 32] = [3; 32];

fn wasm(name: &str) -> Vec<u8> {
    let path = fixture(&format!("wasm/{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn harness(name: &str) -> Harness {
    Harness::with_profile(&wasm(name), Profile::asserted_senders()).expect("runtime")
}

/// Calls `entry`, checks that the receipt re-executes to itself, returns it.
fn verified(h: &mut Harness, entry: &str, args: &impl serde::Serialize) -> Call {
    let call = h.call(entry, args).unwrap();
    h.verify(&call).expect("receipt verifies");
    call
}

fn minted_token() -> Harness {
    let mut h = harness("token");
    h.set_sender(&OWNER);
    let init = h.call("init", &(OWNER,)).unwrap();
    assert!(init.is_success(), "{:?}", init.receipt.status);
    let mint = h.call("mint", &(ALICE, 100u64)).unwrap();
    assert!(mint.is_success(), "{:?}", mint.receipt.status);
    h
}

fn balance(h: &mut Harness, who: [u8; 32]) -> u64 {
    h.call("balance_of", &(who,)).unwrap().output().unwrap()
}

/// Under the default profile a holder's tokens move only by the holder's
/// signature: naming the holder as the sender is refused before anything
/// runs, and the balance stays. Keys of both schemes sign.
#[test]
fn nobody_moves_tokens_by_claiming_the_holders_address() {
    let code = wasm("token");
    let owner = AccountKey::from_secret(Scheme::Ed25519, &[1; 32]).unwrap();
    let alice = AccountKey::from_secret(Scheme::P256, &[2; 32]).unwrap();
    let mut h = Harness::new(&code).unwrap();
    h.set_signer(&owner);
    assert!(h.call("init", &(owner.address(),)).unwrap().is_success());
    let mint = h.call("mint", &(alice.address(), 100u64)).unwrap();
    assert!(mint.is_success(), "{:?}", mint.receipt.status);
    h.verify(&mint).unwrap();
    // Mallory claims to be Alice.
    h.set_sender(&alice.address());
    let stolen = h.call("transfer", &(BOB, 60u64)).unwrap();
    match &stolen.receipt.status {
        Status::Rejected { reason } => assert!(reason.starts_with("auth_unsigned"), "{reason}"),
        other => panic!("a claimed sender ran: {other:?}"),
    }
    assert_eq!(
        (stolen.receipt.fuel_used, stolen.receipt.writes.len()),
        (0, 0)
    );
    h.set_signer(&owner);
    assert_eq!(balance(&mut h, alice.address()), 100);
    assert_eq!(balance(&mut h, BOB), 0);
    // Alice's own signature moves them.
    h.set_signer(&alice);
    let paid = h.call("transfer", &(BOB, 60u64)).unwrap();
    assert!(paid.is_success(), "{:?}", paid.receipt.status);
    h.verify(&paid).unwrap();
    assert_eq!(balance(&mut h, BOB), 60);
}

#[test]
fn token_mint_credits_the_recipient_and_emits_an_event() {
    let mut h = harness("token");
    h.set_sender(&OWNER);
    assert!(h.call("init", &(OWNER,)).unwrap().is_success());
    let mint = verified(&mut h, "mint", &(ALICE, 100u64));
    assert!(mint.is_success());
    assert_eq!(mint.receipt.events.len(), 1);
    assert_eq!(mint.receipt.events[0].topic, b"mint");
    assert_eq!(
        mint.receipt.events[0].data,
        postcard::to_allocvec(&(ALICE, 100u64)).unwrap()
    );
    assert_eq!(balance(&mut h, ALICE), 100);
    let supply: u64 = h.call("total_supply", &()).unwrap().output().unwrap();
    assert_eq!(supply, 100);
    // Only the owner mints.
    h.set_sender(&ALICE);
    let denied = h.call("mint", &(ALICE, 1u64)).unwrap();
    assert_eq!(
        denied.revert_message(),
        Some("error 3: only the owner can mint")
    );
    assert_eq!(balance(&mut h, ALICE), 100);
}

#[test]
fn token_transfer_moves_balance() {
    let mut h = minted_token();
    h.set_sender(&ALICE);
    let t = verified(&mut h, "transfer", &(BOB, 30u64));
    assert!(t.is_success(), "{:?}", t.receipt.status);
    assert_eq!(t.receipt.events[0].topic, b"transfer");
    assert_eq!(
        t.receipt.events[0].data,
        postcard::to_allocvec(&(ALICE, BOB, 30u64)).unwrap()
    );
    // Two reads (both balances) and two writes.
    assert_eq!(t.receipt.writes.len(), 2);
    assert_eq!(balance(&mut h, ALICE), 70);
    assert_eq!(balance(&mut h, BOB), 30);
}

#[test]
fn token_failed_transfer_reverts_with_its_message_and_changes_nothing() {
    let mut h = minted_token();
    let before: Vec<(Vec<u8>, Vec<u8>)> = h
        .state()
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect();
    h.set_sender(&BOB);
    let t = verified(&mut h, "transfer", &(ALICE, 1u64));
    assert_eq!(
        t.receipt.status,
        Status::Reverted {
            message: "error 5: insufficient balance".into()
        }
    );
    assert!(t.receipt.writes.is_empty() && t.receipt.events.is_empty());
    assert!(t.receipt.output.is_empty());
    let after: Vec<(Vec<u8>, Vec<u8>)> = h
        .state()
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect();
    assert_eq!(before, after);
    assert_eq!(balance(&mut h, BOB), 0);
}

/// The escrow moves the token's funds only through calls: a deal pulls
/// the buyer's tokens (`transfer_from`, as the escrow), a release pays the
/// seller from the escrow's own balance, a stranger can do neither, and a
/// failed settle leaves everything as it was. Every receipt re-executes
/// with its witness, and both compilers give the same receipts.
#[test]
fn escrow_moves_token_funds_through_calls_and_only_for_the_parties() {
    let cranelift = escrow_scenario(Compiler::Cranelift);
    let winch = escrow_scenario(Compiler::Winch);
    assert_eq!(cranelift.len(), winch.len());
    for (c, w) in cranelift.iter().zip(&winch) {
        assert_eq!(c.receipt, w.receipt);
    }
}

fn escrow_scenario(compiler: Compiler) -> Vec<Call> {
    const ARBITER: [u8; 32] = [4; 32];
    const MALLORY: [u8; 32] = [5; 32];
    let (token_code, escrow_code) = (wasm("token"), wasm("escrow"));
    let runtime = Runtime::with_compiler(Profile::asserted_senders(), compiler).unwrap();
    let mut h = Harness::with_runtime(&token_code, runtime);
    let mut calls = Vec::new();
    h.set_sender(&OWNER);
    let token = h.deploy(&token_code, "init", &(OWNER,)).unwrap();
    assert!(token.is_success(), "{:?}", token.receipt.status);
    let token = token.receipt.contract;
    let escrow = h.deploy(&escrow_code, "init", &(token.0,)).unwrap();
    assert!(escrow.is_success(), "{:?}", escrow.receipt.status);
    let escrow = escrow.receipt.contract;
    let ok = |c: &Call| assert!(c.is_success(), "{:?}", c.receipt.status);
    fn call(
        h: &mut Harness,
        sender: &[u8; 32],
        to: ContractId,
        entry: &str,
        args: &impl serde::Serialize,
    ) -> Call {
        h.set_sender(sender);
        let c = h.call_at(to, entry, args).unwrap();
        h.verify(&c)
            .expect("the receipt re-executes, callees included");
        c
    }
    ok(&call(&mut h, &OWNER, token, "mint", &(ALICE, 100u64)));
    let bal = |h: &mut Harness, who: [u8; 32]| -> u64 {
        call(h, &OWNER, token, "balance_of", &(who,))
            .output()
            .unwrap()
    };
    // Without an allowance the deal cannot pull the funds.
    let refused = call(&mut h, &ALICE, escrow, "open", &(BOB, ARBITER, 40u64));
    assert_eq!(
        refused.revert_message(),
        Some("error 6: the token refused the transfer")
    );
    // A failed run keeps nothing: no writes, no events, no call tree.
    assert!(refused.receipt.writes.is_empty() && refused.receipt.calls.is_empty());
    ok(&call(&mut h, &ALICE, token, "approve", &(escrow.0, 40u64)));
    let open = call(&mut h, &ALICE, escrow, "open", &(BOB, ARBITER, 40u64));
    ok(&open);
    assert_eq!(open.output::<u64>().unwrap(), 0);
    // The transfer event is the token's, though the escrow made the call.
    assert_eq!(open.receipt.calls[0].callee, token);
    assert_eq!(open.receipt.calls[0].entry, "transfer_from");
    let moved: Vec<_> = open
        .receipt
        .events
        .iter()
        .map(|e| (e.contract, e.topic.clone()))
        .collect();
    assert_eq!(moved, vec![(token, b"transfer".to_vec())]);
    assert_eq!((bal(&mut h, ALICE), bal(&mut h, escrow.0)), (60, 40));
    let denied = call(&mut h, &MALLORY, escrow, "release", &(0u64,));
    assert_eq!(
        denied.revert_message(),
        Some("error 4: not a party that may do this")
    );
    let release = call(&mut h, &ARBITER, escrow, "release", &(0u64,));
    ok(&release);
    assert_eq!(release.receipt.calls[0].caller, escrow);
    assert_eq!((bal(&mut h, BOB), bal(&mut h, escrow.0)), (40, 0));
    let again = call(&mut h, &ALICE, escrow, "release", &(0u64,));
    assert_eq!(again.revert_message(), Some("error 3: no such deal"));
    calls.extend([refused, open, denied, release, again]);
    calls
}

/// A callee that lies about how it failed cannot move its failure from
/// one class to another in its caller's `try_call`, in wasm on both
/// compilers: a revert saying "call refused", a typed error's code with a
/// leading zero, another message for the code, or a code past u32 is a
/// plain revert; only the exact text of the caller's error type is that
/// error; a trap, the cap, a refusal and a bad output are what the host
/// says they are.
#[test]
fn a_lying_callee_cannot_forge_its_failure_in_try_call() {
    const LIAR: &str = r#"(module
  (import "verity" "abort" (func $abort (param i32 i32)))
  (import "verity" "output_set" (func $out (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "call refused")
  (data (i32.const 100) "error 07: too low")
  (data (i32.const 200) "error 7: too high")
  (data (i32.const 300) "error 4294967303: too low")
  (data (i32.const 400) "error 7: too low")
  (data (i32.const 500) "\05")
  (data (i32.const 600) "\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff\ff")
  (func (export "refused_text") (call $abort (i32.const 0) (i32.const 12)))
  (func (export "leading_zero") (call $abort (i32.const 100) (i32.const 17)))
  (func (export "other_message") (call $abort (i32.const 200) (i32.const 17)))
  (func (export "code_too_big") (call $abort (i32.const 300) (i32.const 25)))
  (func (export "typed") (call $abort (i32.const 400) (i32.const 16)))
  (func (export "value") (call $out (i32.const 500) (i32.const 1)))
  (func (export "garbage") (call $out (i32.const 600) (i32.const 11)))
  (func (export "trap") unreachable)
  (func (export "spin") (loop $l (br $l))))"#;
    let cases = [
        ("value", 0u32),
        ("typed", 1),
        ("refused_text", 2),
        ("leading_zero", 2),
        ("other_message", 2),
        ("code_too_big", 2),
        ("trap", 3),
        ("spin", 4),
        ("missing", 5),
        ("__migrate", 5),
        ("garbage", 6),
    ];
    let mut receipts = Vec::new();
    for compiler in [Compiler::Cranelift, Compiler::Winch] {
        let hostile = wasm("hostile");
        let liar = wat::parse_str(LIAR).unwrap();
        let runtime = Runtime::with_compiler(Profile::asserted_senders(), compiler).unwrap();
        let mut h = Harness::with_runtime(&hostile, runtime);
        let prober = h.deploy(&hostile, "", &()).unwrap().receipt.contract;
        let liar_at = h.deploy(&liar, "", &()).unwrap().receipt.contract;
        for (entry, expected) in cases {
            let c = h
                .call_at(prober, "probe_call", &(liar_at.0, entry.to_string()))
                .unwrap();
            assert_eq!(
                c.output::<u32>().unwrap(),
                expected,
                "{entry} ({compiler:?})"
            );
            h.verify(&c).unwrap();
            receipts.push(c.receipt);
        }
    }
    let (a, b) = receipts.split_at(cases.len());
    assert_eq!(a, b, "Cranelift and Winch agree");
}

#[test]
fn token_balance_query_reads_without_writing() {
    let mut h = minted_token();
    let q = verified(&mut h, "balance_of", &(ALICE,));
    assert_eq!(q.output::<u64>().unwrap(), 100);
    assert!(q.receipt.writes.is_empty());
    assert_eq!(q.receipt.reads.len(), 1);
    // Malformed input reverts with the expected signature in the message.
    let bad = h.call_raw("balance_of", &[1, 2, 3]).unwrap();
    assert_eq!(
        bad.revert_message(),
        Some("invalid input: expected (owner: Address)")
    );
}

#[test]
fn counter_and_hasher_work_through_the_runtime() {
    let mut h = harness("counter");
    let n: u64 = h.call("add", &(5u64,)).unwrap().output().unwrap();
    assert_eq!(n, 5);
    let n: u64 = h.call("add", &(7u64,)).unwrap().output().unwrap();
    assert_eq!(n, 12);

    let mut h = harness("hasher");
    let data = b"verifiable execution".repeat(100);
    let call = h.call_raw("hash", &data).unwrap();
    h.verify(&call).unwrap();
    let (host, guest): ([u8; 32], [u8; 32]) = call.output().unwrap();
    assert_eq!(host, guest);
    use sha2::Digest;
    assert_eq!(host, <[u8; 32]>::from(sha2::Sha256::digest(&data)));
    let chained: [u8; 32] = h
        .call("chain", &([0u8; 32], 3u32))
        .unwrap()
        .output()
        .unwrap();
    let mut expect = [0u8; 32];
    for _ in 0..3 {
        expect = sha2::Sha256::digest(expect).into();
    }
    assert_eq!(chained, expect);
}

/// Runs one hostile entry twice with `fuel` beyond what preparing the
/// module costs; asserts the status, identical receipts and that nothing
/// reached the state.
fn hostile(entry: &str, input: &[u8], fuel: u64) -> Status {
    let mut h = harness("hostile");
    h.set_fuel(preparation_fuel(&wasm("hostile")) + fuel);
    let a = h.call_raw(entry, input).unwrap();
    let b = h.call_raw(entry, input).unwrap();
    assert_eq!(
        a.receipt.hash(),
        b.receipt.hash(),
        "{entry}: receipts differ"
    );
    assert!(h.state().is_empty(), "{entry} left state behind");
    assert!(a.receipt.writes.is_empty() && a.receipt.events.is_empty());
    h.verify(&a).unwrap();
    a.receipt.status
}

fn reverted(entry: &str, input: &[u8]) -> String {
    match hostile(entry, input, 10_000_000) {
        Status::Reverted { message } => message,
        other => panic!("{entry}: expected reverted, got {other:?}"),
    }
}

#[test]
fn hostile_rust_contracts_end_in_their_statuses() {
    let m = reverted("panic_static", &[]);
    assert!(m.starts_with("panicked at hostile/src/lib.rs:"), "{m}");
    assert!(m.ends_with(": boom"), "{m}");
    let m = reverted("panic_formatted", &postcard::to_allocvec(&(7u32,)).unwrap());
    assert!(m.contains("enable verity-sdk feature `panic-fmt`"), "{m}");
    let m = reverted("overflow", &postcard::to_allocvec(&(1u64,)).unwrap());
    assert!(m.ends_with(": attempt to add with overflow"), "{m}");
    let m = reverted("write_then_panic", &[]);
    assert!(m.ends_with(": after writing"), "{m}");
    // The allocator runs into the page cap; Rust's allocation-failure panic
    // reverts the run.
    let m = reverted("allocation_bomb", &[]);
    assert!(m.starts_with("panicked at "), "{m}");

    assert_eq!(hostile("spin", &[], 1_000_000), Status::OutOfFuel);
    assert_eq!(
        hostile("event_flood", &[], 10_000_000),
        Status::Trapped {
            trap: TrapKind::TooManyEvents
        }
    );
    assert_eq!(
        hostile("long_key", &[], 10_000_000),
        Status::Trapped {
            trap: TrapKind::KeyTooLong
        }
    );
    // Shallow recursion succeeds; deep recursion hits the logical stack
    // limit (the golden receipts pin the exact depth on both compilers).
    let shallow = postcard::to_allocvec(&(1_000u32,)).unwrap();
    assert_eq!(hostile("recurse", &shallow, 10_000_000), Status::Success);
    let deep = postcard::to_allocvec(&(10_000_000u32,)).unwrap();
    assert_eq!(
        hostile("recurse", &deep, 100_000_000),
        Status::Trapped {
            trap: TrapKind::StackOverflow
        }
    );
}

#[derive(Deserialize)]
struct Inspected {
    entries: Vec<InspectedEntry>,
    errors: Vec<serde_json::Value>,
    events: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct InspectedEntry {
    name: String,
    doc: String,
    signature: String,
}

#[test]
fn inspect_prints_the_spec_and_run_encodes_args_from_it() {
    let token = fixture("wasm/token.wasm");
    let out = verity()
        .args(["inspect", token.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let spec: Inspected = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = spec.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "init",
            "mint",
            "transfer",
            "approve",
            "transfer_from",
            "allowance",
            "balance_of",
            "total_supply"
        ]
    );
    assert_eq!(
        spec.entries[2].signature,
        "transfer(to: Address, amount: u64) -> Result<(), TokenError>"
    );
    assert_eq!(
        spec.entries[2].doc,
        "Moves `amount` from the caller to `to`."
    );
    // `--spec-out` writes the canonical spec: the escrow's committed copy
    // (which its `contractclient!` reads) must be today's token's.
    let dir = tempfile::tempdir().unwrap();
    let spec_file = dir.path().join("token.spec");
    let out = verity()
        .args(["inspect", token.to_str().unwrap(), "--spec-out"])
        .arg(&spec_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read(&spec_file).unwrap(),
        std::fs::read(fixture("contracts/escrow/token.spec")).unwrap(),
        "fixtures/contracts/escrow/token.spec is stale: rewrite it with \
         `verity inspect fixtures/wasm/token.wasm --spec-out fixtures/contracts/escrow/token.spec`"
    );
    assert_eq!(spec.errors[0]["name"], "TokenError");
    assert_eq!(
        spec.errors[0]["variants"][4],
        serde_json::json!({"name": "InsufficientBalance", "doc": "The sender holds less than the amount.", "code": 5, "message": "insufficient balance"})
    );
    let topics: Vec<&str> = spec
        .events
        .iter()
        .map(|e| e["topic"].as_str().unwrap())
        .collect();
    assert_eq!(topics.len(), 2);
    assert!(
        topics.contains(&"mint") && topics.contains(&"transfer"),
        "{topics:?}"
    );
    // For a terminal: entries in declaration order, each with its doc
    // summary, then the declared events and the error codes.
    let out = verity()
        .args(["inspect", token.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let expected = [
        "entry    init(owner: Address) -> Result<(), TokenError>",
        "           Makes `owner` the only account that may mint. Once.",
        "entry    mint(to: Address, amount: u64) -> Result<(), TokenError>",
        "entry    transfer(to: Address, amount: u64) -> Result<(), TokenError>",
        "entry    balance_of(owner: Address) -> u64",
        "entry    total_supply() -> u64",
        "           All tokens minted so far.",
        "event    \"transfer\": struct Transfer { from: Address, to: Address, amount: u64 }",
        "           Tokens moved.",
        "error    TokenError",
        "           Why a token call reverted.",
        "            1 AlreadyInitialised: token is already initialised",
        "            5 InsufficientBalance: insufficient balance",
    ];
    let mut at = 0;
    for line in expected {
        let found = text[at..].find(&format!("{line}\n"));
        assert!(found.is_some(), "`{line}` after byte {at} of:\n{text}");
        at += found.unwrap();
    }
    // A module without a spec: exit 1 with a reason.
    let out = verity()
        .args(["inspect", fixture("counter.wat").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no verity.spec section"));

    // --arg encodes exactly what the SDK decodes: same input as postcard.
    let dir = tempfile::tempdir().unwrap();
    let receipt = dir.path().join("r.json");
    let owner = hex::encode(OWNER);
    let out = verity()
        .args(["run", token.to_str().unwrap(), "--entry", "init"])
        .args(["--arg", &format!("owner={owner}"), "--json"])
        .args(["--receipt", receipt.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["input"],
        hex::encode(postcard::to_allocvec(&(OWNER,)).unwrap())
    );
    let out = verity()
        .args(["verify", receipt.to_str().unwrap(), "--module"])
        .arg(&token)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // Bad --arg use is a usage error naming the problem.
    for (args, needle) in [
        (vec!["--arg", "owner=zz"], "argument owner: `zz` is not hex"),
        (vec!["--arg", "who=00"], "has no argument `who`"),
        (
            vec!["--arg", "owner=00", "--input", "00"],
            "cannot be used with",
        ),
    ] {
        let out = verity()
            .args(["run", token.to_str().unwrap(), "--entry", "init"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn token_fits_the_size_gate_and_the_sdk_guide_reports_every_fixture_size() {
    let guide = std::fs::read_to_string(root().join("docs/sdk.md")).unwrap();
    for name in [
        "counter",
        "token",
        "escrow",
        "hasher",
        "hostile",
        "kernels",
        "multisig",
        "workloads",
    ] {
        let size = wasm(name).len();
        let row = format!("| `{name}.wasm` | {size} |");
        assert!(
            guide.contains(&row),
            "docs/sdk.md must report `{row}` (rebuild changed the size?)"
        );
    }
    // The gate is on code: the spec section (metadata for tools, with the
    // doc comments) is reported beside it.
    let token = wasm("token");
    let spec = spec_section_bytes(&token);
    assert!(spec > 0, "token.wasm carries its spec");
    let code = token.len() - spec;
    assert!(
        code <= 10 * 1024 + 512,
        "token.wasm is {code} bytes without its spec, over 10.5 KiB"
    );
    let row = format!("| `token.wasm` | {} | {spec} |", token.len());
    assert!(guide.contains(&row), "docs/sdk.md must report `{row}`");
}

/// The bytes of `verity.spec` custom sections in `module`, headers
/// included.
fn spec_section_bytes(module: &[u8]) -> usize {
    wasmparser::Parser::new(0)
        .parse_all(module)
        .filter_map(|p| match p.unwrap() {
            wasmparser::Payload::CustomSection(c) if c.name() == "verity.spec" => {
                // id byte + LEB128 size + the name and its length + data.
                let body = c.range().len();
                Some(1 + leb128_len(body) + body)
            }
            _ => None,
        })
        .sum()
}

fn leb128_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// The README's native test (a log line and a signature check) is the
/// multisig fixture's own test, which `cargo test` in fixtures/contracts
/// runs.
#[test]
fn the_readme_native_test_is_the_multisigs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let source = std::fs::read_to_string(fixture("contracts/multisig/src/lib.rs")).unwrap();
    let start = source
        .find("    #[test]\n    fn a_forged_signature_is_refused_and_logged()")
        .expect("the multisig keeps its logged-signature test");
    let end = start + source[start..].find("\n    }\n").unwrap() + "\n    }\n".len();
    let test: String = source[start..end]
        .lines()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        readme.contains(&test),
        "README must show the multisig's test as written:\n{test}"
    );
}

#[test]
fn the_readme_walkthrough_is_the_counter_fixture() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let source = std::fs::read_to_string(fixture("contracts/counter/src/lib.rs")).unwrap();
    let contract = source.split("#[cfg(test)]").next().unwrap().trim_end();
    assert!(
        readme.contains(contract),
        "README's walkthrough must show fixtures/contracts/counter/src/lib.rs (up to its tests)"
    );
}

/// The `[profile...]` sections of a manifest: section headers and
/// settings, without comments or blank lines.
fn profile_sections(manifest: &str) -> Vec<String> {
    let start = manifest
        .find("[profile.release]")
        .expect("[profile.release]");
    manifest[start..]
        .lines()
        .map(|l| l.split('#').next().unwrap().trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn the_readme_walkthrough_has_the_fixtures_release_profile() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let manifest = readme_block(&readme, "2. `Cargo.toml`", "toml");
    let fixtures = std::fs::read_to_string(fixture("contracts/Cargo.toml")).unwrap();
    assert_eq!(
        profile_sections(&manifest),
        profile_sections(&fixtures),
        "README's walkthrough Cargo.toml must carry fixtures/contracts/Cargo.toml's profile"
    );
}

/// Runs a command from the repository root; fails the test with its output
/// if it fails.
fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd.current_dir(root()).output().unwrap();
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn fixture_contracts_rebuild_to_the_committed_bytes() {
    run_ok(
        Command::new("bash")
            .args(["fixtures/contracts/build.sh", "--check"])
            .env("VERITY", env!("CARGO_BIN_EXE_verity")),
        "fixtures/contracts/build.sh --check",
    );
}

#[test]
fn fixture_contracts_pass_their_native_sdk_tests() {
    run_ok(
        Command::new(env!("CARGO"))
            .args(["test", "--locked", "--quiet", "--manifest-path"])
            .arg(root().join("fixtures/contracts/Cargo.toml"))
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS"),
        "cargo test in fixtures/contracts",
    );
}

/// The fenced block of `lang` that follows `marker` in the README.
fn readme_block(readme: &str, marker: &str, lang: &str) -> String {
    let after = &readme[readme.find(marker).expect(marker)..];
    let fence = format!("```{lang}\n");
    let start = after.find(&fence).expect(&fence) + fence.len();
    let len = after[start..].find("```").unwrap();
    after[start..start + len].to_string()
}

/// The README's example of a call between contracts is the escrow's own
/// code, line for line (the README cannot compile it alone).
#[test]
fn the_readme_call_example_is_the_escrows() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let block = readme_block(&readme, "### Calling another contract", "rust,ignore");
    let escrow = std::fs::read_to_string(fixture("contracts/escrow/src/lib.rs")).unwrap();
    assert!(block.lines().count() >= 5);
    for line in block.lines() {
        assert!(
            escrow.lines().any(|l| l == line),
            "README line not in the escrow: {line:?}"
        );
    }
}

#[test]
fn the_readme_walkthrough_builds_runs_with_args_and_verifies() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let manifest = readme_block(&readme, "2. `Cargo.toml`", "toml")
        .replace("/path/to/verity", root().to_str().unwrap());
    let source = readme_block(&readme, "3. `src/lib.rs`", "rust,ignore");
    let dir = tempfile::tempdir().unwrap();
    let krate = dir.path().join("mycounter");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(krate.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(krate.join("src/lib.rs"), source).unwrap();
    std::fs::create_dir_all(krate.join(".cargo")).unwrap();
    std::fs::write(
        krate.join(".cargo/config.toml"),
        readme_block(&readme, "And `.cargo/config.toml`", "toml"),
    )
    .unwrap();
    // The fixtures' lock file pins the same dependency versions (cargo
    // adapts it to the new package), so the build needs no fresh resolution.
    std::fs::copy(fixture("contracts/Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    // Step 4 builds with `verity build`; plain cargo (which reads the
    // step's .cargo/config.toml) gives the same module.
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .current_dir(&krate)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building the walkthrough failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = krate.join("target/wasm32-unknown-unknown/release/mycounter.wasm");
    let by_cargo = std::fs::read(&wasm).unwrap();
    assert!(readme.contains("verity build "));
    verity_in(&krate, &["build"]);
    let by_verity = std::fs::read(&wasm).unwrap();
    assert_eq!(
        by_cargo.len(),
        by_verity.len(),
        "cargo with the walkthrough's config and verity build differ in size"
    );
    // What a reader builds is what the README's size table says: the same
    // source and profile as the counter fixture. (Only embedded paths may
    // differ: the fixtures are built with remapped ones.)
    let built = std::fs::metadata(&wasm).unwrap().len() as i64;
    let fixture_size = std::fs::metadata(fixture("wasm/counter.wasm"))
        .unwrap()
        .len() as i64;
    assert!(
        (built - fixture_size).abs() <= 256,
        "the walkthrough builds to {built} bytes, the counter fixture is {fixture_size}"
    );
    // The small stack took effect: as few initial pages as the fixture.
    let pages = |wasm: &std::path::Path| {
        let out = verity()
            .arg("check")
            .arg(wasm)
            .arg("--json")
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["fuel"]["initial_pages"].as_u64().unwrap()
    };
    assert_eq!(pages(&wasm), pages(&fixture("wasm/counter.wasm")));
    assert!(pages(&wasm) <= 3, "{} initial pages", pages(&wasm));
    let state = krate.join("state");
    let init = verity()
        .args(["state", "init"])
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(init.status.code(), Some(0));
    let inspect = verity().arg("inspect").arg(&wasm).output().unwrap();
    assert!(String::from_utf8_lossy(&inspect.stdout).contains("entry    add(by: u64) -> u64"));
    let first = verity()
        .arg("run")
        .arg(&wasm)
        .args(["--entry", "add", "--arg", "by=5", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&first.stdout).contains("returns  5 (u64)"));
    let receipt = krate.join("r.json");
    let second = verity()
        .arg("run")
        .arg(&wasm)
        .args(["--entry", "add", "--arg", "by=7", "--json", "--state"])
        .arg(&state)
        .arg("--receipt")
        .arg(&receipt)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(
        json["output"],
        hex::encode(postcard::to_allocvec(&12u64).unwrap())
    );
    let verify = verity()
        .arg("verify")
        .arg(&receipt)
        .arg("--module")
        .arg(&wasm)
        .output()
        .unwrap();
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

/// The README's multisig block, run as written: keys and signatures made
/// by openssl, approvals, execution, verification, a reused signature.
#[test]
fn the_readme_multisig_runs_with_openssl_signatures() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let script = readme_block(&readme, "### A multisig with signatures made outside", "sh");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .args(["-e", "-c", &script])
        .current_dir(dir.path())
        .env("V", env!("CARGO_BIN_EXE_verity"))
        .env("VERITY_CACHE_DIR", crate::common::cache_dir())
        .env("MS", fixture("wasm/multisig.wasm"))
        .output()
        .expect("bash, openssl and xxd run the README's multisig");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("returns  2 (u32)"), "{stdout}");
    assert!(stdout.contains("state: authenticated"), "{stdout}");
    assert!(
        stdout.contains("message   error 5: the signature does not verify"),
        "{stdout}"
    );
    assert!(stdout.contains("reused: refused"), "{stdout}");
    assert!(
        stdout.contains(r#"event    Executed {"nonce":0,"action":{"Note":"pay the auditors"}}"#),
        "{stdout}"
    );
    assert!(
        stdout.contains("error    MultisigError::BadSignature"),
        "{stdout}"
    );
}

/// `verity` run in `dir` with cargo's environment removed (as a user's
/// shell would have it), failing the test with its output if it fails.
fn verity_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let out = verity()
        .args(args)
        .current_dir(dir)
        // `verity build` ignores a target directory from the environment
        // (its build and its reading of cargo's metadata alike).
        .env(
            "CARGO_TARGET_DIR",
            std::env::temp_dir().join("verity-build-ignores-this"),
        )
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "verity {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A new user's path: `verity new` makes the counter, `verity build` builds
/// it to the fixture's bytes whatever directory it is in, and the module
/// deploys, runs and verifies.
#[test]
fn verity_new_and_build_take_a_user_to_a_verified_contract_from_any_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut hashes = Vec::new();
    for parent in ["a", "a-much-longer-directory/with/more/parts"] {
        let parent = dir.path().join(parent);
        std::fs::create_dir_all(&parent).unwrap();
        verity_in(&parent, &["new", "counter", "--template", "counter"]);
        let krate = parent.join("counter");
        // The fixtures' lock pins the same versions with no resolution.
        std::fs::copy(fixture("contracts/Cargo.lock"), krate.join("Cargo.lock")).unwrap();
        let out = verity_in(&krate, &["build", "--json"]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let built = &json["built"][0];
        assert_eq!(built["check"]["accepted"], true, "{json}");
        assert_eq!(built["check"]["initial_pages"], 3, "{json}");
        let wasm = std::fs::read(built["path"].as_str().unwrap()).unwrap();
        assert_eq!(
            wasm,
            std::fs::read(fixture("wasm/counter.wasm")).unwrap(),
            "the counter template built in {} is not the counter fixture",
            krate.display()
        );
        hashes.push(built["code_hash"].as_str().unwrap().to_string());
        if hashes.len() == 1 {
            let wasm = built["path"].as_str().unwrap().to_string();
            verity_in(&krate, &["state", "init", "state"]);
            let out = verity_in(&krate, &["deploy", &wasm, "--state", "state", "--json"]);
            let deployed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let contract = deployed["contract"].as_str().unwrap().to_string();
            let out = verity_in(
                &krate,
                &[
                    "call",
                    &contract,
                    "--entry",
                    "add",
                    "--arg",
                    "by=5",
                    "--state",
                    "state",
                    "--receipt",
                    "r.json",
                ],
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains("returns  5 (u64)"));
            verity_in(&krate, &["verify", "r.json", "--module", &wasm]);
        }
    }
    assert_eq!(hashes[0], hashes[1]);
}

/// In a workspace whose other member turns on the SDK's `alloc` feature,
/// `cargo build` of the whole workspace changes the counter (feature
/// unification); `verity build` builds each member alone and does not.
#[test]
fn verity_build_is_not_changed_by_the_rest_of_a_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    verity_in(&ws, &["new", "counter"]);
    verity_in(&ws, &["new", "other", "--template", "empty"]);
    let other = ws.join("other/Cargo.toml");
    let manifest = std::fs::read_to_string(&other).unwrap();
    let sdk_line = manifest
        .lines()
        .find(|l| l.starts_with("verity-sdk"))
        .unwrap()
        .to_string();
    let with_alloc = sdk_line.replace(" }", ", features = [\"alloc\"] }");
    assert_ne!(sdk_line, with_alloc);
    std::fs::write(&other, manifest.replace(&sdk_line, &with_alloc)).unwrap();
    // One workspace: the members' own profiles move to the root (cargo
    // ignores a member's), and the fixtures' lock covers both.
    let profile = "[profile.release]";
    for m in ["counter", "other"] {
        let path = ws.join(m).join("Cargo.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let cut = text.find(profile).unwrap();
        std::fs::write(&path, &text[..cut]).unwrap();
        if m == "counter" {
            std::fs::write(
                ws.join("Cargo.toml"),
                format!(
                    "[workspace]\nmembers = [\"counter\", \"other\"]\nresolver = \"3\"\n\n{}",
                    &text[cut..]
                ),
            )
            .unwrap();
        }
        std::fs::remove_dir_all(ws.join(m).join(".cargo")).unwrap();
    }
    std::fs::copy(fixture("contracts/Cargo.lock"), ws.join("Cargo.lock")).unwrap();
    let out = verity_in(&ws, &["build", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let counter = json["built"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["package"] == "counter")
        .unwrap()
        .clone();
    let alone = std::fs::read(counter["path"].as_str().unwrap()).unwrap();
    assert_eq!(alone, std::fs::read(fixture("wasm/counter.wasm")).unwrap());
    // The same workspace built by cargo as a whole: the counter changes.
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "--workspace",
        ])
        .current_dir(&ws)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env("RUSTFLAGS", "-C link-arg=-zstack-size=65536")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unified =
        std::fs::read(ws.join("target/wasm32-unknown-unknown/release/counter.wasm")).unwrap();
    assert_ne!(
        unified, alone,
        "feature unification did not change the counter"
    );
}

/// `verity build` refuses what it cannot build, with the reason.
#[test]
fn verity_build_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let out = verity().arg("build").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("is not a Cargo.toml or a directory holding one"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    verity_in(dir.path(), &["new", "c", "--template", "empty"]);
    std::fs::copy(
        fixture("contracts/Cargo.lock"),
        dir.path().join("c/Cargo.lock"),
    )
    .unwrap();
    let out = verity()
        .args(["build", "--package", "nope"])
        .current_dir(dir.path().join("c"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no package nope in this workspace"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = verity()
        .args(["new", "c"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}

/// A contract that takes a `String` (or has one in a `#[contracttype]`)
/// without the SDK's `alloc` feature: the wasm build fails with a message
/// that names the feature (it used to be serde's `the trait bound String:
/// Serialize is not satisfied` alone); with the feature it builds.
#[test]
fn a_missing_alloc_feature_is_named_by_the_build_error() {
    let dir = tempfile::tempdir().unwrap();
    verity_in(dir.path(), &["new", "strings", "--template", "empty"]);
    let krate = dir.path().join("strings");
    std::fs::copy(fixture("contracts/Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    let lib = krate.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    for (what, added, expected) in [
        (
            "an entry's argument",
            "pub fn greet(name: alloc::string::String) -> u64 { name.len() as u64 }\n",
            "`String` (argument `name` of entry `greet`) needs verity-sdk's `alloc` feature",
        ),
        (
            "a contract type's field",
            "pub fn count(list: List) -> u64 { list.items.len() as u64 }\n",
            "`Vec` (a field of `List`) needs verity-sdk's `alloc` feature",
        ),
    ] {
        let with = source
            .replace(
                "use verity_sdk::contract;",
                "extern crate alloc;\nuse verity_sdk::{contract, contracttype};\n\n\
                 /// A list.\n#[contracttype]\npub struct List {\n    /// Its items.\n    pub items: alloc::vec::Vec<u32>,\n}",
            )
            .replace("    pub fn next(", &format!("    /// Added.\n    {added}    pub fn next("));
        std::fs::write(&lib, with).unwrap();
        let out = verity()
            .arg("build")
            .current_dir(&krate)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(stderr.contains(expected), "{what}: {stderr}");
        assert!(
            stderr.contains("add `features = [\"alloc\"]` to the verity-sdk dependency"),
            "{stderr}"
        );
    }
    // With the feature, the same source builds.
    let manifest = krate.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let line = text.lines().find(|l| l.starts_with("verity-sdk")).unwrap();
    let with_alloc = line.replace(" }", ", features = [\"alloc\"] }");
    std::fs::write(&manifest, text.replace(line, &with_alloc)).unwrap();
    verity_in(&krate, &["build"]);
}
