//! The multisig wallet end to end: members sign approvals off-chain with
//! ed25519-dalek (a standard crate, as a wallet would), the contract checks
//! them with the host's Ed25519; through the CLI (deploy with its
//! constructor, approvals as typed arguments, execution, verification with
//! the witness) and through verity-testkit. A forged signature and a reused
//! one are refused with the contract's typed error.

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{fixture, verity};

const CHAIN: &str = "verity-test";

fn member(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[i + 1; 32])
}

fn key_hex(k: &SigningKey) -> String {
    hex::encode(k.verifying_key().to_bytes())
}

/// `k`'s signature approving `proposal` at `nonce`.
fn sign(k: &SigningKey, nonce: u64, proposal: [u8; 32]) -> [u8; 64] {
    let (m, n) = multisig::message(CHAIN, nonce, &proposal);
    k.sign(&m[..n]).to_bytes()
}

fn cli(args: &[String]) -> (i32, Value, String) {
    let out = verity().args(args).output().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn members_approve_with_off_chain_signatures_and_a_reused_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = state.to_str().unwrap();
    assert_eq!(cli(&strings(&["state", "init", s])).0, 0);
    let wasm = fixture("wasm/multisig.wasm");
    let [a, b, c] = [0, 1, 2].map(member);
    // A `Vec<Address>` argument as JSON.
    let members = json!([key_hex(&a), key_hex(&b), key_hex(&c)]);
    let deploy = cli(&strings(&[
        "deploy",
        wasm.to_str().unwrap(),
        "--entry",
        "init",
        "--arg",
        &format!("members={members}"),
        "--arg",
        "threshold=2",
        "--state",
        s,
        "--json",
    ]));
    assert_eq!(deploy.0, 0, "{}", deploy.2);
    let wallet = deploy.1["contract"].as_str().unwrap().to_string();
    let call_with = |entry: &str, args: Vec<String>, extra: &[&str]| {
        let mut argv = strings(&["call", &wallet, "--entry", entry, "--state", s]);
        argv.extend(strings(&["--chain-id", CHAIN]));
        argv.extend(strings(extra));
        for a in args {
            argv.push("--arg".into());
            argv.push(a);
        }
        argv
    };
    let call = |entry: &str, args: Vec<String>, out: Option<&std::path::Path>| {
        let mut argv = call_with(entry, args, &["--json"]);
        if let Some(out) = out {
            argv.extend(strings(&["--receipt", out.to_str().unwrap()]));
            let w = out.with_extension("witness");
            argv.extend(strings(&["--witness", w.to_str().unwrap()]));
        }
        cli(&argv)
    };
    // An enum argument, given in one --args object; the [u8; 32] it
    // returns prints decoded.
    let action = json!({"SetThreshold": 3});
    let hashed = cli(&call_with(
        "proposal_hash",
        vec![],
        &["--json", "--args", &json!({ "action": action }).to_string()],
    ));
    assert_eq!(hashed.0, 0, "{}", hashed.2);
    assert_eq!(hashed.1["decoded"]["output"]["type"], "[u8; 32]");
    let p = hashed.1["decoded"]["output"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    // The contract hashes the encoding of the enum: variant 1, then 3.
    let expected: [u8; 32] =
        Sha256::digest([&b"verity-multisig-action\0"[..], &[1, 3]].concat()).into();
    assert_eq!(p, hex::encode(expected));
    let proposal: [u8; 32] = expected;

    // A struct argument as JSON.
    let approve = |k: &SigningKey, sig: [u8; 64]| {
        let approval = json!({"proposal": p, "signer": key_hex(k), "sig": hex::encode(sig)});
        call("approve", vec![format!("approval={approval}")], None)
    };
    let revert = |r: &(i32, Value, String)| r.1["message"].as_str().unwrap_or("").to_string();

    // A forged approval: c's signature claimed for a; --debug shows the
    // contract's log line, which the receipt does not hold.
    let approval =
        json!({"proposal": p, "signer": key_hex(&a), "sig": hex::encode(sign(&c, 0, proposal))});
    let forged = cli(&call_with(
        "approve",
        vec![format!("approval={approval}")],
        &["--json", "--debug"],
    ));
    assert_eq!(forged.0, 1);
    assert_eq!(revert(&forged), "error 5: the signature does not verify");
    assert_eq!(forged.1["decoded"]["error"], "MultisigError::BadSignature");
    assert_eq!(
        forged.2.lines().next(),
        Some("log [approve] approve: signature rejected")
    );
    assert!(!forged.1.to_string().contains("signature rejected"));

    // Two genuine approvals, then execution; outputs and events decoded.
    assert_eq!(approve(&a, sign(&a, 0, proposal)).0, 0);
    let second = approve(&c, sign(&c, 0, proposal));
    assert_eq!(second.0, 0, "{}", second.2);
    assert_eq!(second.1["output"], "02", "two approvals");
    assert_eq!(
        second.1["decoded"]["output"],
        json!({"type": "u32", "value": 2})
    );
    assert_eq!(
        second.1["decoded"]["events"],
        json!([{"event": "Approved", "data": {"nonce": 0, "proposal": p, "signer": key_hex(&c)}}])
    );
    let executed_at = dir.path().join("execute.json");
    let executed = call(
        "execute",
        vec![format!("action={action}")],
        Some(&executed_at),
    );
    assert_eq!(executed.0, 0, "{}", executed.2);
    assert_eq!(executed.1["output"], "00", "executed at nonce 0");
    assert_eq!(
        executed.1["decoded"]["events"],
        json!([{"event": "Executed", "data": {"nonce": 0, "action": {"SetThreshold": 3}}}])
    );

    // The same, for a terminal: a struct with a Vec<Address> returned, and
    // a reverted call's typed error.
    let shown = verity()
        .args(call_with("wallet", vec![], &[]))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    let expected_wallet = json!({"members": members, "threshold": 3, "nonce": 1});
    assert!(
        text.contains(&format!("returns  {expected_wallet} (Wallet)")),
        "{text}"
    );
    let approval =
        json!({"proposal": p, "signer": key_hex(&b), "sig": hex::encode(sign(&b, 1, proposal))});
    let shown = verity()
        .args(call_with(
            "approve",
            vec![format!("approval={approval}")],
            &[],
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.contains(&format!(
            "event    Approved {}",
            json!({"nonce": 1, "proposal": p, "signer": key_hex(&b)})
        )),
        "{text}"
    );
    let refused = verity()
        .args(call_with("execute", vec![format!("action={action}")], &[]))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&refused.stdout);
    assert!(
        text.contains("error    MultisigError::NotEnoughApprovals"),
        "{text}"
    );

    // The execution verifies with its witness and no database, and so does
    // the printed --json document (its `decoded` member is not receipt).
    let printed = dir.path().join("printed.json");
    std::fs::write(&printed, serde_json::to_vec(&executed.1).unwrap()).unwrap();
    for receipt in [&executed_at, &printed] {
        let out = verity()
            .arg("verify")
            .arg(receipt)
            .arg("--module")
            .arg(&wasm)
            .arg("--witness")
            .arg(executed_at.with_extension("witness"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(text.contains("state: authenticated"), "{text}");
        assert!(
            text.contains(r#"event    Executed {"nonce":0,"action":{"SetThreshold":3}}"#),
            "verify decodes by the module's spec: {text}"
        );
    }

    // The same signature again: refused, the nonce moved on.
    let reused = approve(&a, sign(&a, 0, proposal));
    assert_eq!(reused.0, 1);
    assert_eq!(revert(&reused), "error 5: the signature does not verify");
    let again = call("execute", vec![format!("action={action}")], None);
    assert_eq!(revert(&again), "error 6: not enough approvals");
}

#[test]
fn the_testkit_runs_the_wallet_with_signed_approvals() {
    use verity_testkit::{ChainContext, Harness};
    let code = std::fs::read(fixture("wasm/multisig.wasm")).unwrap();
    let mut h = Harness::new(&code).unwrap();
    h.set_chain(ChainContext {
        chain_id: CHAIN.into(),
        ..ChainContext::default()
    });
    let keys = [0, 1, 2].map(member);
    let members: Vec<[u8; 32]> = keys.iter().map(|k| k.verifying_key().to_bytes()).collect();
    assert!(h.call("init", &(members, 3u32)).unwrap().is_success());
    let action = multisig::Action::Note("ship it".into());
    let p: [u8; 32] = h
        .call("proposal_hash", &(&action,))
        .unwrap()
        .output()
        .unwrap();
    for (i, k) in keys.iter().enumerate() {
        let approval = multisig::Approval {
            proposal: p,
            signer: verity_sdk::Address(k.verifying_key().to_bytes()),
            sig: verity_sdk::Signature(sign(k, 0, p)),
        };
        let call = h.call("approve", &(approval,)).unwrap();
        assert_eq!(call.output::<u32>().unwrap(), i as u32 + 1);
        h.verify(&call).unwrap();
    }
    let done = h.call("execute", &(&action,)).unwrap();
    assert_eq!(done.output::<u64>().unwrap(), 0);
    let wallet: multisig::Wallet = h.call("wallet", &()).unwrap().output().unwrap();
    assert_eq!(wallet.nonce, 1);
}

/// The wallet as an owner of token funds (docs/auth.md): tokens minted to
/// its address move only by an executed `Transfer`, which needs the
/// threshold of members' approvals; the token sees the wallet as its
/// caller. Nobody else can move them, by any sender.
#[test]
fn the_wallet_owns_token_funds_and_spends_them_only_with_approvals() {
    use verity_runtime::{AccountKey, Scheme};
    use verity_testkit::{ChainContext, Harness};
    let (token_code, wallet_code) = (
        std::fs::read(fixture("wasm/token.wasm")).unwrap(),
        std::fs::read(fixture("wasm/multisig.wasm")).unwrap(),
    );
    let owner = AccountKey::from_secret(Scheme::Ed25519, &[9; 32]).unwrap();
    let bob = AccountKey::from_secret(Scheme::Ed25519, &[10; 32]).unwrap();
    let mut h = Harness::new(&token_code).unwrap();
    h.set_chain(ChainContext {
        chain_id: CHAIN.into(),
        ..ChainContext::default()
    });
    h.set_signer(&owner);
    let token = h.deploy(&token_code, "init", &(owner.address(),)).unwrap();
    assert!(token.is_success(), "{:?}", token.receipt.status);
    let token = token.receipt.contract;
    let keys = [0, 1, 2].map(member);
    let members: Vec<[u8; 32]> = keys.iter().map(|k| k.verifying_key().to_bytes()).collect();
    let wallet = h.deploy(&wallet_code, "init", &(members, 2u32)).unwrap();
    assert!(wallet.is_success(), "{:?}", wallet.receipt.status);
    let wallet = wallet.receipt.contract;
    let mint = h.call_at(token, "mint", &(wallet.0, 100u64)).unwrap();
    assert!(mint.is_success(), "{:?}", mint.receipt.status);
    let balance = |h: &mut Harness, who: [u8; 32]| -> u64 {
        h.call_at(token, "balance_of", &(who,))
            .unwrap()
            .output()
            .unwrap()
    };
    // Bob cannot spend the wallet's tokens: the token debits its caller.
    h.set_signer(&bob);
    let out = h
        .call_at(token, "transfer", &(bob.address(), 40u64))
        .unwrap();
    assert!(!out.is_success());
    let action = multisig::Action::Transfer(
        verity_sdk::Address(token.0),
        verity_sdk::Address(bob.address()),
        40,
    );
    // Without approvals nothing moves.
    let early = h.call_at(wallet, "execute", &(&action,)).unwrap();
    assert_eq!(
        early.revert_message(),
        Some("error 6: not enough approvals")
    );
    let proposal = |h: &mut Harness, action: &multisig::Action| -> [u8; 32] {
        h.call_at(wallet, "proposal_hash", &(action,))
            .unwrap()
            .output()
            .unwrap()
    };
    let p = proposal(&mut h, &action);
    for k in &keys[..2] {
        let approval = multisig::Approval {
            proposal: p,
            signer: verity_sdk::Address(k.verifying_key().to_bytes()),
            sig: verity_sdk::Signature(sign(k, 0, p)),
        };
        assert!(
            h.call_at(wallet, "approve", &(approval,))
                .unwrap()
                .is_success()
        );
    }
    assert_eq!(balance(&mut h, bob.address()), 0);
    let done = h.call_at(wallet, "execute", &(&action,)).unwrap();
    assert!(done.is_success(), "{:?}", done.receipt.status);
    h.verify(&done).unwrap();
    assert_eq!(done.receipt.calls.len(), 1, "the wallet called the token");
    assert_eq!(done.receipt.calls[0].callee, token);
    assert_eq!(balance(&mut h, bob.address()), 40);
    assert_eq!(balance(&mut h, wallet.0), 60);
    // The approvals were for nonce 0: executing again needs new ones.
    let again = h.call_at(wallet, "execute", &(&action,)).unwrap();
    assert_eq!(
        again.revert_message(),
        Some("error 6: not enough approvals")
    );
    // More than the wallet holds: the token refuses, the wallet reverts
    // and its nonce stays.
    let greedy = multisig::Action::Transfer(
        verity_sdk::Address(token.0),
        verity_sdk::Address(bob.address()),
        1_000,
    );
    let p = proposal(&mut h, &greedy);
    for k in &keys[..2] {
        let approval = multisig::Approval {
            proposal: p,
            signer: verity_sdk::Address(k.verifying_key().to_bytes()),
            sig: verity_sdk::Signature(sign(k, 1, p)),
        };
        assert!(
            h.call_at(wallet, "approve", &(approval,))
                .unwrap()
                .is_success()
        );
    }
    let refused = h.call_at(wallet, "execute", &(&greedy,)).unwrap();
    assert_eq!(
        refused.revert_message(),
        Some("error 9: the token refused the transfer")
    );
    assert_eq!(balance(&mut h, wallet.0), 60);
}
