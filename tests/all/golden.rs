//! Golden receipts: committed receipts and their witnesses that this build
//! must reproduce byte for byte, that `verity verify --witness` accepts, and
//! whose hashes and state transitions an independent Python implementation
//! of docs/receipt.md and docs/state-tree.md checks (tests/receipt_hash.py),
//! refusing a lying read and a tampered witness.
//!
//! fixtures/receipts covers every status and action (a one-shot run, a
//! deploy with its constructor, a call, a deploy to a taken address, a call
//! of an empty address), a read the pre-state proves, the fuel edges
//! (exactly enough fuel, one unit short) and recursion at and one call past
//! the stack limit, each reproduced by both compilers.
//!
//! After an intended change of the receipt format or the profile, rewrite
//! them with `VERITY_BLESS=1 cargo test --release --test all golden`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{fixture, root, verity};
use verity_host_abi::json::ReceiptJson;

/// One golden receipt: the `verity` command that makes it, after `setup`
/// commands run in the same fresh state directory. In arguments, `@PATH`
/// is a fixture, `STATE` the state directory and `TOKEN` the address the
/// token's deploy below creates.
struct Case {
    name: &'static str,
    setup: &'static [&'static [&'static str]],
    args: &'static [&'static str],
}

const fn run(name: &'static str, args: &'static [&'static str]) -> Case {
    Case {
        name,
        setup: &[],
        args,
    }
}

/// The token's owner, who deploys it: the address of the committed test
/// key fixtures/keys/golden-ed25519.key (a test checks it).
const OWNER: &str = "02078d14f20c1dd3906f4920d3272e5ebb6e3b1c92df9811bd95c9bad5070714";
/// Alice, the address of fixtures/keys/golden-p256.key.
const ALICE: &str = "e6d4961e31729ec468be9a2d3431a7d24844383bdcdec1573cafefcf115061cf";
const OWNER_KEY: &str = "@keys/golden-ed25519.key";
const ALICE_KEY: &str = "@keys/golden-p256.key";
const SALT: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

/// Deploys the token (constructor `init`), signed by OWNER with nonce 1,
/// with SALT.
const DEPLOY_TOKEN: &[&str] = &[
    "deploy",
    "@wasm/token.wasm",
    "--salt",
    SALT,
    "--entry",
    "init",
    "--arg",
    "owner=02078d14f20c1dd3906f4920d3272e5ebb6e3b1c92df9811bd95c9bad5070714",
    "--key",
    OWNER_KEY,
    "--nonce",
    "1",
    "--state",
    "STATE",
];

/// The same deploy with another nonce: refused for its taken address.
const DEPLOY_TOKEN_AGAIN: &[&str] = &[
    "deploy",
    "@wasm/token.wasm",
    "--salt",
    SALT,
    "--entry",
    "init",
    "--arg",
    "owner=02078d14f20c1dd3906f4920d3272e5ebb6e3b1c92df9811bd95c9bad5070714",
    "--key",
    OWNER_KEY,
    "--nonce",
    "2",
    "--state",
    "STATE",
];

const MINT_TO_ALICE: &[&str] = &[
    "call",
    "TOKEN",
    "--entry",
    "mint",
    "--arg",
    "to=e6d4961e31729ec468be9a2d3431a7d24844383bdcdec1573cafefcf115061cf",
    "--arg",
    "amount=1000",
    "--key",
    OWNER_KEY,
    "--nonce",
    "3",
    "--state",
    "STATE",
];

/// Deploys the counter as OWNER with SALT: at the token's address.
const DEPLOY_COUNTER: &[&str] = &[
    "deploy",
    "@counter.wat",
    "--salt",
    SALT,
    "--key",
    OWNER_KEY,
    "--nonce",
    "1",
    "--state",
    "STATE",
];

/// The counter's increment, in the case's state directory.
const INCREMENT_IN_STATE: &[&str] = &[
    "run",
    "@counter.wat",
    "--entry",
    "increment",
    "--state",
    "STATE",
];

const GOLDEN: &[Case] = &[
    run(
        "counter_increment",
        &["run", "@counter.wat", "--entry", "increment"],
    ),
    // A read of a key the pre-state holds, proven by the witness.
    Case {
        name: "counter_increment_again",
        setup: &[INCREMENT_IN_STATE],
        args: INCREMENT_IN_STATE,
    },
    // Contracts: a deploy with its constructor, a call, the refusals.
    Case {
        name: "token_deploy",
        setup: &[],
        args: DEPLOY_TOKEN,
    },
    Case {
        name: "token_transfer_call",
        setup: &[DEPLOY_TOKEN, MINT_TO_ALICE],
        args: &[
            "call",
            "TOKEN",
            "--entry",
            "transfer",
            "--arg",
            "to=0303030303030303030303030303030303030303030303030303030303030303",
            "--arg",
            "amount=30",
            "--key",
            ALICE_KEY,
            "--nonce",
            "1",
            "--state",
            "STATE",
        ],
    },
    Case {
        name: "token_deploy_again",
        setup: &[DEPLOY_TOKEN],
        args: DEPLOY_TOKEN_AGAIN,
    },
    // Calls between contracts: the counter deployed (at TOKEN's address:
    // same deployer and salt), then a contract calling it, succeeding,
    // running out of its cap, reading, and refused.
    Case {
        name: "call_tree",
        setup: &[DEPLOY_COUNTER],
        args: &[
            "run",
            "@call_counter.wat",
            "--entry",
            "run",
            "--input",
            "TOKEN",
            "--state",
            "STATE",
        ],
    },
    // Code stored under its hash, for an upgrade to switch to.
    Case {
        name: "code_upload",
        setup: &[],
        args: &["upload", "@counter.wat", "--state", "STATE"],
    },
    Case {
        name: "call_without_contract",
        setup: &[],
        args: &["call", "TOKEN", "--entry", "transfer", "--state", "STATE"],
    },
    run(
        "kitchen_sink_run",
        &[
            "run",
            "@kitchen_sink.wat",
            "--entry",
            "run",
            "--input",
            "68656c6c6f",
            "--key",
            OWNER_KEY,
            "--nonce",
            "1",
            "--context",
            "2a",
        ],
    ),
    // The chain context, read by the guest and committed.
    run(
        "chain_context",
        &[
            "run",
            "@chain_context.wat",
            "--entry",
            "run",
            "--height",
            "18446744073709551614",
            "--time",
            "1700000000",
            "--chain-id",
            "verity-test-1",
        ],
    ),
    run(
        "kitchen_sink_fail",
        &["run", "@kitchen_sink.wat", "--entry", "fail"],
    ),
    // Signed transactions (docs/auth.md): the committed test keys in
    // fixtures/keys sign; a failed run still consumes its nonce.
    run(
        "signed_counter_increment",
        &[
            "run",
            "@counter.wat",
            "--entry",
            "increment",
            "--key",
            "@keys/golden-ed25519.key",
            "--nonce",
            "7",
            "--valid-until",
            "100",
            "--height",
            "5",
            "--chain-id",
            "verity-test-1",
        ],
    ),
    run(
        "signed_run_fail",
        &[
            "run",
            "@kitchen_sink.wat",
            "--entry",
            "fail",
            "--key",
            "@keys/golden-p256.key",
            "--nonce",
            "1",
            "--valid-until",
            "9",
            "--chain-id",
            "verity-test-1",
        ],
    ),
    run(
        "infinite_loop",
        &[
            "run",
            "@hostile/infinite_loop.wat",
            "--entry",
            "run",
            "--fuel",
            "100000",
        ],
    ),
    run(
        "unreachable",
        &["run", "@hostile/unreachable.wat", "--entry", "run"],
    ),
    run(
        "memory_bomb",
        &["run", "@hostile/memory_bomb.wat", "--entry", "run"],
    ),
    run(
        "forbidden_import",
        &["run", "@hostile/forbidden_import.wat", "--entry", "run"],
    ),
    run(
        "bad_pointer",
        &["run", "@hostile/bad_pointers.wat", "--entry", "sha256_dst"],
    ),
    // Fuel at the edge: exactly enough, and one unit short (each limit
    // includes preparing the 296 instrumented bytes: 400,000 + 256 x 296).
    run(
        "fuel_edge_loop_exact",
        &[
            "run",
            "@fuel_edge.wat",
            "--entry",
            "loop1000",
            "--fuel",
            "486848",
        ],
    ),
    run(
        "fuel_edge_loop_short",
        &[
            "run",
            "@fuel_edge.wat",
            "--entry",
            "loop1000",
            "--fuel",
            "486847",
        ],
    ),
    run(
        "fuel_edge_fill_exact",
        &[
            "run",
            "@fuel_edge.wat",
            "--entry",
            "fill",
            "--fuel",
            "544515",
        ],
    ),
    // Recursion at the logical stack limit and one call past it.
    run(
        "deep_recursion",
        &["run", "@hostile/deep_recursion.wat", "--entry", "run"],
    ),
    run(
        "rust_recursion_at_limit",
        &[
            "run",
            "@wasm/hostile.wasm",
            "--entry",
            "recurse",
            "--arg",
            "depth=2182",
        ],
    ),
    run(
        "rust_recursion_over_limit",
        &[
            "run",
            "@wasm/hostile.wasm",
            "--entry",
            "recurse",
            "--arg",
            "depth=2183",
        ],
    ),
];

fn golden_path(name: &str) -> PathBuf {
    fixture(&format!("receipts/{name}.json"))
}

fn witness_path(name: &str) -> PathBuf {
    fixture(&format!("receipts/{name}.witness"))
}

/// OWNER and ALICE are the addresses of the keys that sign as them.
#[test]
fn the_golden_accounts_are_the_committed_keys() {
    for (key, address) in [(OWNER_KEY, OWNER), (ALICE_KEY, ALICE)] {
        let path = fixture(key.strip_prefix('@').unwrap());
        let out = verity()
            .args(["key", "show", "--json"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(shown["address"], address, "{key}");
    }
}

/// The token's address: deployed by OWNER with SALT.
fn token_address() -> String {
    let owner = hex::decode(OWNER).unwrap();
    let salt = verity_runtime::Hash32::from_hex(SALT).unwrap();
    verity_runtime::ContractId::deployed(&owner, &salt).to_string()
}

/// `args` with the placeholders filled in.
fn resolve(args: &[&str], state: &Path) -> Vec<String> {
    args.iter()
        .map(|a| match *a {
            "STATE" => state.display().to_string(),
            "TOKEN" => token_address(),
            _ => match a.strip_prefix('@') {
                Some(rel) => fixture(rel).display().to_string(),
                None => a.to_string(),
            },
        })
        .collect()
}

/// The module a case's receipt ran, if it names one (a call's is the token).
fn module_of(case: &Case) -> Option<PathBuf> {
    // The module, not a key that signs.
    let named = case
        .args
        .iter()
        .find_map(|a| a.strip_prefix('@').filter(|rel| !rel.starts_with("keys/")));
    match (named, case.args[0]) {
        (Some(rel), _) => Some(fixture(rel)),
        (None, "call") if case.name != "call_without_contract" => Some(fixture("wasm/token.wasm")),
        _ => None,
    }
}

/// The receipt (JSON) and witness `case` produces with `compiler`, in a
/// fresh state directory.
fn produce(case: &Case, compiler: &str) -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let init = verity()
        .arg("state")
        .arg("init")
        .arg(&state)
        .output()
        .unwrap();
    assert!(init.status.success());
    for step in case.setup {
        let out = verity().args(resolve(step, &state)).output().unwrap();
        assert!(
            out.status.success(),
            "{}: setup {step:?}: {}",
            case.name,
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let witness = dir.path().join("witness");
    // The receipt file, not standard output: `--json` output adds what the
    // contract spec decodes, which is not part of the receipt.
    let receipt = dir.path().join("receipt.json");
    let out = verity()
        .args(resolve(case.args, &state))
        .args(["--json", "--compiler", compiler, "--witness"])
        .arg(&witness)
        .arg("--receipt")
        .arg(&receipt)
        .output()
        .unwrap();
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{}: {}",
        case.name,
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::read(&receipt).unwrap(),
        std::fs::read(&witness).unwrap(),
    )
}

#[test]
fn this_build_reproduces_every_golden_receipt_with_both_compilers() {
    let bless = std::env::var_os("VERITY_BLESS").is_some();
    for case in GOLDEN {
        let name = case.name;
        let (produced, witness) = produce(case, "cranelift");
        let (winch, winch_witness) = produce(case, "winch");
        assert_eq!(
            String::from_utf8_lossy(&produced),
            String::from_utf8_lossy(&winch),
            "{name}: Cranelift and Winch disagree"
        );
        assert_eq!(witness, winch_witness, "{name}: witnesses differ");
        let path = golden_path(name);
        if bless {
            std::fs::write(&path, &produced).unwrap();
            std::fs::write(witness_path(name), &witness).unwrap();
            continue;
        }
        let golden = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (bless with VERITY_BLESS=1)", path.display()));
        assert_eq!(
            String::from_utf8_lossy(&produced),
            String::from_utf8_lossy(&golden),
            "{name}: receipt differs from the committed golden receipt"
        );
        assert_eq!(
            witness,
            std::fs::read(witness_path(name)).unwrap(),
            "{name}: witness differs from the committed one"
        );
    }
}

#[test]
fn golden_receipts_verify_with_their_witnesses() {
    for case in GOLDEN {
        let mut cmd = verity();
        cmd.arg("verify").arg(golden_path(case.name));
        if let Some(module) = module_of(case) {
            cmd.arg("--module").arg(module);
        }
        // The code of the contracts the transaction called.
        if case.name == "call_tree" {
            cmd.arg("--module").arg(fixture("counter.wat"));
        }
        let out = cmd
            .arg("--witness")
            .arg(witness_path(case.name))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{}: {text}", case.name);
        assert!(
            text.contains("state: authenticated"),
            "{}: {text}",
            case.name
        );
    }
}

/// `verity verify RECEIPT --module MODULE --witness WITNESS`.
fn verify_with(receipt: &Path, module: &Path, witness: &Path) -> std::process::Output {
    verity()
        .arg("verify")
        .arg(receipt)
        .arg("--module")
        .arg(module)
        .arg("--witness")
        .arg(witness)
        .output()
        .unwrap()
}

fn python(args: &[&str]) -> (bool, String) {
    let out = Command::new("python3")
        .arg(root().join("tests/receipt_hash.py"))
        .args(args)
        .output()
        .expect("python3 is needed for the independent receipt check");
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "receipt_hash.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap().trim().to_string(),
    )
}

#[test]
fn an_independent_python_implementation_agrees_on_encoding_hash_and_witness() {
    let mut statuses = std::collections::BTreeSet::new();
    let mut actions = std::collections::BTreeSet::new();
    let mut schemes = std::collections::BTreeSet::new();
    for case in GOLDEN {
        let name = case.name;
        let path = golden_path(name);
        let p = path.to_str().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let json: ReceiptJson = serde_json::from_str(&text).unwrap();
        statuses.insert(json.status.clone());
        actions.insert(json.action.clone());
        let (receipt, stated) = json.into_receipt().unwrap();
        let w = witness_path(name);
        let w = w.to_str().unwrap();
        let (ok, out) = python(&[p, "--witness", w]);
        assert!(ok, "{name}: {out}");
        // A signed receipt's transaction hash, derived by the checker from
        // the receipt's fields as docs/auth.md specifies.
        let signed = match receipt.tx_hash() {
            Some(h) => {
                if let verity_runtime::Auth::Signed(s) = &receipt.auth {
                    schemes.insert(s.scheme.name());
                }
                format!("tx_hash: {}\n", h.to_hex())
            }
            None => String::new(),
        };
        assert_eq!(
            out,
            format!("{}\n{signed}witness: ok", stated.to_hex()),
            "{name}"
        );
        let encoding = python(&[p, "--encoding"]).1;
        assert_eq!(
            encoding.lines().next().unwrap_or_default(),
            hex::encode(receipt.encode()),
            "{name}: encoding"
        );
    }
    assert_eq!(
        schemes.len(),
        2,
        "signed goldens of both schemes: {schemes:?}"
    );
    assert_eq!(
        statuses.len(),
        5,
        "golden receipts must cover every status: {statuses:?}"
    );
    assert_eq!(actions.len(), 4, "and every action: {actions:?}");
}

/// The same lies `verity verify --witness` catches, caught by the Python
/// checker from the docs alone: a read value the pre-state does not hold, a
/// tampered witness, a witness for another root.
#[test]
fn the_python_checker_and_verify_reject_a_lying_read_and_a_tampered_witness() {
    let dir = tempfile::tempdir().unwrap();
    let name = "token_transfer_call";
    let module = fixture("wasm/token.wasm");
    let text = std::fs::read_to_string(golden_path(name)).unwrap();
    let witness = std::fs::read(witness_path(name)).unwrap();

    // A read value the pre-state does not hold (its hash restated, so only
    // the witness can tell).
    let mut json: ReceiptJson = serde_json::from_str(&text).unwrap();
    let read = json
        .reads
        .iter_mut()
        .find(|r| r.value.as_deref() == Some("e807")) // ALICE's 1,000
        .expect("the transfer read ALICE's balance");
    read.value = Some("ffff03".into());
    let lied_key = read.key.clone();
    let (lie, _) = json.clone().into_receipt().unwrap();
    json.receipt_hash = lie.hash().to_hex();
    let lying = dir.path().join("lying.json");
    std::fs::write(&lying, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    let w = witness_path(name);
    let (ok, out) = python(&[lying.to_str().unwrap(), "--witness", w.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("read of {lied_key}")), "{out}");
    let out = verify_with(&lying, &module, &w);
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(report.contains(&lied_key), "the key is named: {report}");

    // A tampered witness: one byte of a hash flipped.
    let mut tampered = witness.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let bad = dir.path().join("tampered.witness");
    std::fs::write(&bad, &tampered).unwrap();
    let p = golden_path(name);
    let (ok, out) = python(&[p.to_str().unwrap(), "--witness", bad.to_str().unwrap()]);
    assert!(!ok && out.contains("witness: error"), "{out}");
    let out = verify_with(&p, &module, &bad);
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("the state transition does not check: witness:"),
        "{report}"
    );

    // A witness for another state: the deploy's, made against the empty
    // state.
    let other = witness_path("token_deploy");
    let (ok, out) = python(&[p.to_str().unwrap(), "--witness", other.to_str().unwrap()]);
    assert!(
        !ok && out.contains("witness: error: root mismatch"),
        "{out}"
    );
    let out = verify_with(&p, &module, &other);
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8_lossy(&out.stdout);
    let pre = serde_json::from_str::<ReceiptJson>(&text)
        .unwrap()
        .pre_state_root;
    assert!(
        report.contains(&format!(
            "the proof is for root {}, not {pre}",
            "0".repeat(64)
        )),
        "{report}"
    );
}

/// A deploy carries its code; a call's receipt without its module names the
/// code hash it needs.
#[test]
fn verify_takes_a_deploys_code_from_its_receipt_and_names_a_calls_missing_code() {
    let out = verity()
        .arg("verify")
        .arg(golden_path("token_deploy"))
        .arg("--witness")
        .arg(witness_path("token_deploy"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = verity()
        .arg("verify")
        .arg(golden_path("token_transfer_call"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let token = verity_runtime::Hash32::of(&std::fs::read(fixture("wasm/token.wasm")).unwrap());
    assert!(
        text.contains(&format!("runs code {token}, which was not given")),
        "{text}"
    );
}

/// The Python checker refuses a signed receipt whose key has the wrong
/// size for its scheme, and one whose stated transaction hash is not the
/// one its fields make.
#[test]
fn the_python_checker_refuses_a_malformed_or_misstated_signature() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(golden_path("signed_counter_increment")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let (ok, _) = python(&[golden_path("signed_counter_increment").to_str().unwrap()]);
    assert!(ok);
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit); 2] = [
        ("long_key", |j| {
            let k = j["auth"]["public_key"].as_str().unwrap().to_string();
            j["auth"]["public_key"] = format!("{k}00").into();
        }),
        ("tx_hash", |j| j["auth"]["tx_hash"] = "00".repeat(32).into()),
    ];
    for (name, edit) in edits {
        let mut edited = json.clone();
        edit(&mut edited);
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec(&edited).unwrap()).unwrap();
        let (ok, out) = python(&[path.to_str().unwrap()]);
        assert!(!ok, "{name}: the checker accepted it: {out}");
    }
}
