//! The multisig wallet end to end: members sign approvals off-chain with
//! ed25519-dalek (a standard crate, as a wallet would), the contract checks
//! them with the host's Ed25519; through the CLI (deploy with its
//! constructor, approvals as typed arguments, execution, verification with
//! the witness) and through verity-testkit. A forged signature and a reused
//! one are refused with the contract's typed error.

use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;

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
    let deploy = cli(&strings(&[
        "deploy",
        wasm.to_str().unwrap(),
        "--entry",
        "init",
        "--arg",
        &format!("a={}", key_hex(&a)),
        "--arg",
        &format!("b={}", key_hex(&b)),
        "--arg",
        &format!("c={}", key_hex(&c)),
        "--arg",
        "threshold=2",
        "--state",
        s,
        "--json",
    ]));
    assert_eq!(deploy.0, 0, "{}", deploy.2);
    let wallet = deploy.1["contract"].as_str().unwrap().to_string();
    let call = |entry: &str, args: Vec<String>, out: Option<&std::path::Path>| {
        let mut argv = strings(&["call", &wallet, "--entry", entry, "--state", s]);
        argv.extend(strings(&["--chain-id", CHAIN, "--json"]));
        for a in args {
            argv.push("--arg".into());
            argv.push(a);
        }
        if let Some(out) = out {
            argv.extend(strings(&["--receipt", out.to_str().unwrap()]));
            let w = out.with_extension("witness");
            argv.extend(strings(&["--witness", w.to_str().unwrap()]));
        }
        cli(&argv)
    };
    let proposal = [0x5a; 32];
    let approve = |k: &SigningKey, sig: [u8; 64]| {
        call(
            "approve",
            vec![
                format!("proposal={}", hex::encode(proposal)),
                format!("signer={}", key_hex(k)),
                format!("sig={}", hex::encode(sig)),
            ],
            None,
        )
    };
    let revert = |r: &(i32, Value, String)| r.1["message"].as_str().unwrap_or("").to_string();

    // A forged approval: c's signature claimed for a.
    let forged = approve(&a, sign(&c, 0, proposal));
    assert_eq!(forged.0, 1);
    assert_eq!(revert(&forged), "error 5: the signature does not verify");

    // Two genuine approvals, then execution.
    assert_eq!(approve(&a, sign(&a, 0, proposal)).0, 0);
    let second = approve(&c, sign(&c, 0, proposal));
    assert_eq!(second.0, 0, "{}", second.2);
    assert_eq!(second.1["output"], "02", "two approvals");
    let executed_at = dir.path().join("execute.json");
    let executed = call(
        "execute",
        vec![format!("proposal={}", hex::encode(proposal))],
        Some(&executed_at),
    );
    assert_eq!(executed.0, 0, "{}", executed.2);
    assert_eq!(executed.1["output"], "00", "executed at nonce 0");

    // The execution verifies with its witness and no database.
    let out = verity()
        .arg("verify")
        .arg(&executed_at)
        .arg("--module")
        .arg(&wasm)
        .arg("--witness")
        .arg(executed_at.with_extension("witness"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("state: authenticated"), "{text}");

    // The same signature again: refused, the nonce moved on.
    let reused = approve(&a, sign(&a, 0, proposal));
    assert_eq!(reused.0, 1);
    assert_eq!(revert(&reused), "error 5: the signature does not verify");
    let again = call(
        "execute",
        vec![format!("proposal={}", hex::encode(proposal))],
        None,
    );
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
    let [a, b, c] = [0, 1, 2].map(|i| keys[i].verifying_key().to_bytes());
    assert!(h.call("init", &(a, b, c, 3u32)).unwrap().is_success());
    let p = [1u8; 32];
    for (i, k) in keys.iter().enumerate() {
        let sig = verity_sdk::Signature(sign(k, 0, p));
        let call = h
            .call("approve", &(p, k.verifying_key().to_bytes(), sig))
            .unwrap();
        assert_eq!(call.output::<u32>().unwrap(), i as u32 + 1);
        h.verify(&call).unwrap();
    }
    let done = h.call("execute", &(p,)).unwrap();
    assert_eq!(done.output::<u64>().unwrap(), 0);
    assert_eq!(h.call("nonce", &()).unwrap().output::<u64>().unwrap(), 1);
}
