//! End-to-end tests of the `verity` binary: exit codes, run -> verify round
//! trips, tampering (every field of a receipt edited in turn), corrupt
//! input, persistent state.

use std::path::Path;
use std::process::Output;

use crate::common::{code, fixture, path_str, run_cli, stdout_json, verity, with_spec};
use serde_json::Value;
use verity_runtime::{AccountKey, Scheme};

/// kitchen_sink `run`'s arguments, signed by the golden Ed25519 key (so
/// that its sender is a key's address) with a fixed nonce.
fn sink_args() -> Vec<String> {
    let key = fixture("keys/golden-ed25519.key");
    let argv = [
        "--input",
        "68656c6c6f",
        "--key",
        path_str(&key),
        "--nonce",
        "1",
        "--context",
        "2a",
        "--entry",
        "run",
    ];
    argv.map(String::from).to_vec()
}

/// A key account of the tests: the Ed25519 key of the secret `[seed; 32]`,
/// in a key file under `dir`.
struct Account {
    /// The key file's path.
    key: String,
    /// The account's address, hex.
    address: String,
}

fn account(dir: &Path, seed: u8) -> Account {
    let key = AccountKey::from_secret(Scheme::Ed25519, &[seed; 32]).unwrap();
    let path = dir.join(format!("account-{seed}.key"));
    if !path.exists() {
        let line = format!("verity-key-v1 ed25519 {}\n", hex::encode([seed; 32]));
        std::fs::write(&path, line).unwrap();
    }
    Account {
        key: path_str(&path).to_string(),
        address: hex::encode(key.address()),
    }
}

/// Runs kitchen_sink `run` (every host function) and saves its receipt.
fn sink_receipt(dir: &Path) -> (std::path::PathBuf, Value) {
    let receipt = dir.join("receipt.json");
    let module = fixture("kitchen_sink.wat");
    let mut argv: Vec<&str> = vec!["run", path_str(&module)];
    let args = sink_args();
    argv.extend(args.iter().map(String::as_str));
    let witness = dir.join("witness.bin");
    argv.extend(["--json", "--receipt", path_str(&receipt)]);
    argv.extend(["--witness", path_str(&witness)]);
    let out = run_cli(&argv);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    (receipt, stdout_json(&out))
}

#[test]
fn run_prints_one_success_receipt_and_verify_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let (receipt, json) = sink_receipt(dir.path());
    assert_eq!(json["status"], "success");
    assert_eq!(json["entry"], "run");
    assert_eq!(json["input"], "68656c6c6f");
    // sha256("hello") ++ the golden key's address (the sender) ++ 0x2a
    assert_eq!(
        json["output"],
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\
         02078d14f20c1dd3906f4920d3272e5ebb6e3b1c92df9811bd95c9bad5070714\
         2a"
    );
    assert_eq!(json["receipt_hash"].as_str().unwrap().len(), 64);
    let saved: Value = serde_json::from_slice(&std::fs::read(&receipt).unwrap()).unwrap();
    assert_eq!(saved, json, "--receipt file and stdout differ");

    let module = fixture("kitchen_sink.wat");
    let out = run_cli(&["verify", path_str(&receipt), "--module", path_str(&module)]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    // Without a witness the computation verifies and the output says
    // plainly that the state was not authenticated.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("state: NOT authenticated"), "{text}");
    let out = run_cli(&[
        "verify",
        path_str(&receipt),
        "--module",
        path_str(&module),
        "--json",
    ]);
    assert_eq!(stdout_json(&out)["verified"], true);
    assert_eq!(stdout_json(&out)["state_authenticated"], false);
    // With it, the transition is checked too.
    let witness = dir.path().join("witness.bin");
    let with = |json: bool| {
        let mut argv = vec!["verify", path_str(&receipt), "--module", path_str(&module)];
        argv.extend(["--witness", path_str(&witness)]);
        if json {
            argv.push("--json");
        }
        run_cli(&argv)
    };
    let out = with(false);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("state: authenticated"), "{text}");
    assert_eq!(stdout_json(&with(true))["state_authenticated"], true);
}

/// A new value for `field` that differs from `v` but keeps the JSON's shape.
fn tamper(field: &str, v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::from(n.as_u64().unwrap() + 1),
        Value::String(s) if field == "status" => {
            assert_eq!(s, "success");
            Value::from("out_of_fuel")
        }
        Value::String(s) if field == "entry" => Value::from(format!("{s}x")),
        Value::String(s) if field == "action" => {
            assert_eq!(s, "run");
            Value::from("call")
        }
        Value::String(s) if s.is_empty() => Value::from("00"),
        Value::String(s) => {
            let mut b = hex::decode(s).unwrap();
            b[0] ^= 1;
            Value::from(hex::encode(b))
        }
        Value::Array(a) if a.is_empty() => {
            let item = if field == "events" {
                serde_json::json!({"topic": "00", "data": "00"})
            } else {
                serde_json::json!({"key": "00", "value": null})
            };
            Value::Array(vec![item])
        }
        Value::Array(a) => Value::Array(a[1..].to_vec()),
        // An asserted sender claimed as signed, with a key and signature
        // of the right sizes.
        Value::Object(_) if field == "auth" => serde_json::json!({
            "kind": "signed",
            "scheme": "ed25519",
            "public_key": "01".repeat(32),
            "nonce": 1,
            "valid_until": 1,
            "signature": "02".repeat(64),
        }),
        other => panic!("unexpected JSON value for {field}: {other}"),
    }
}

#[test]
fn editing_any_field_of_the_receipt_makes_verify_fail() {
    let dir = tempfile::tempdir().unwrap();
    let (_, json) = sink_receipt(dir.path());
    let module = fixture("kitchen_sink.wat");
    let fields: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
    assert!(fields.len() >= 15, "{fields:?}");
    for field in fields {
        let mut edited = json.clone();
        edited[&field] = tamper(&field, &json[&field]);
        let path = dir.path().join(format!("tampered-{field}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&edited).unwrap()).unwrap();
        let witness = dir.path().join("witness.bin");
        let out = run_cli(&[
            "verify",
            path_str(&path),
            "--module",
            path_str(&module),
            "--witness",
            path_str(&witness),
            "--json",
        ]);
        assert_eq!(code(&out), 1, "editing `{field}` still verifies");
        let report = stdout_json(&out);
        assert_eq!(report["verified"], false);
        // Transaction fields are inputs of the re-execution, so editing one
        // shows as a stated-hash mismatch (and usually different results);
        // every other field is named.
        let named: Vec<&str> = report["mismatches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["field"].as_str().unwrap())
            .collect();
        let is_input = [
            "entry",
            "sender",
            "context",
            "height",
            "time",
            "chain_id",
            "input",
            "fuel_limit",
        ]
        .contains(&field.as_str());
        assert!(
            named.contains(&field.as_str())
                || (is_input && named.contains(&"receipt_hash"))
                || report["error"].is_string(),
            "report for `{field}` names neither the field nor an error: {report}"
        );
    }
}

#[test]
fn a_tampered_field_with_a_recomputed_hash_is_caught_by_reexecution() {
    let dir = tempfile::tempdir().unwrap();
    let (_, json) = sink_receipt(dir.path());
    let mut edited = json.clone();
    edited["output"] = Value::from("00");
    // Make the stated hash consistent with the forged contents.
    let (forged, _) = serde_json::from_value::<verity_host_abi::json::ReceiptJson>(edited.clone())
        .unwrap()
        .into_receipt()
        .unwrap();
    edited["receipt_hash"] = Value::from(forged.hash().to_hex());
    let path = dir.path().join("forged.json");
    std::fs::write(&path, edited.to_string()).unwrap();
    let module = fixture("kitchen_sink.wat");
    let out = run_cli(&[
        "verify",
        path_str(&path),
        "--module",
        path_str(&module),
        "--json",
    ]);
    assert_eq!(code(&out), 1);
    let report = stdout_json(&out);
    let fields: Vec<&str> = report["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["output"]);
}

#[test]
fn receipts_are_identical_across_processes() {
    let module = fixture("kitchen_sink.wat");
    let mut argv: Vec<&str> = vec!["run", path_str(&module), "--json"];
    let args = sink_args();
    argv.extend(args.iter().map(String::as_str));
    let a = run_cli(&argv);
    let b = run_cli(&argv);
    assert_eq!(code(&a), 0);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn failed_runs_print_their_receipt_and_exit_1() {
    let module = fixture("kitchen_sink.wat");
    let out = run_cli(&["run", path_str(&module), "--entry", "fail", "--json"]);
    assert_eq!(code(&out), 1);
    let json = stdout_json(&out);
    assert_eq!(json["status"], "reverted");
    assert_eq!(json["message"], "kitchen sink says no");
    assert_eq!(json["writes"], serde_json::json!([]));
    assert_eq!(json["events"], serde_json::json!([]));
    assert_eq!(json["output"], "");

    let garbage = fixture("hostile/garbage.wasm");
    let out = run_cli(&["run", path_str(&garbage), "--entry", "run"]);
    assert_eq!(code(&out), 1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("rejected") && text.contains("invalid module"),
        "{text}"
    );
}

#[test]
fn usage_and_io_errors_exit_2_with_one_line_and_no_receipt() {
    let module = fixture("counter.wat");
    let m = path_str(&module);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["run", "/nonexistent/x.wasm", "--entry", "run"],
            "cannot read module",
        ),
        (
            vec!["run", m, "--entry", "increment", "--input", "zz"],
            "--input: `zz` is not hex",
        ),
        (
            vec!["run", m, "--entry", "increment", "--input", "@/nonexistent"],
            "--input: cannot read",
        ),
        (
            vec!["run", m, "--entry", "increment", "--fuel", "lots"],
            "invalid value",
        ),
        (vec!["run", m], "--entry"),
        (vec!["run", m, "--entry", "increment", "--bogus"], "--bogus"),
        (
            vec!["verify", "/nonexistent.json", "--module", m],
            "cannot read receipt",
        ),
        (vec!["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, needle) in cases {
        let out = run_cli(&args);
        assert_eq!(code(&out), 2, "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    }
    // A syntax error in a .wat file is a usage error too.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.wat");
    std::fs::write(&bad, "(module (func").unwrap();
    let out = run_cli(&["run", path_str(&bad), "--entry", "run"]);
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn corrupt_receipts_fail_verification_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (receipt, _) = sink_receipt(dir.path());
    let full = std::fs::read(&receipt).unwrap();
    let module = fixture("kitchen_sink.wat");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", full[..full.len() / 2].to_vec()),
        ("empty", vec![]),
        ("binary garbage", vec![0x01, 0x00, 0x00, 0x00, 0xff, 0x13]),
        ("not json", b"{ this is not json".to_vec()),
        ("wrong shape", b"{\"status\": 3}".to_vec()),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = run_cli(&["verify", path_str(&path), "--module", path_str(&module)]);
        assert_eq!(code(&out), 1, "{name}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("NOT VERIFIED") && text.contains("receipt"),
            "{name}: {text}"
        );
    }
}

#[test]
fn verify_with_another_module_names_the_code_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (receipt, _) = sink_receipt(dir.path());
    let other = fixture("counter.wat");
    let out = run_cli(&["verify", path_str(&receipt), "--module", path_str(&other)]);
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("code_hash"));
}

#[test]
fn state_directory_persists_successes_and_ignores_failures() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let counter = fixture("counter.wat");
    let s = path_str(&state);
    assert_eq!(code(&run_cli(&["state", "init", s])), 0);
    let mut increment_fuel = 0;
    for expected in 1u64..=3 {
        let out = run_cli(&[
            "run",
            path_str(&counter),
            "--entry",
            "increment",
            "--state",
            s,
            "--json",
        ]);
        assert_eq!(code(&out), 0);
        assert_eq!(
            stdout_json(&out)["output"],
            hex::encode(expected.to_le_bytes())
        );
        increment_fuel = stdout_json(&out)["fuel_used"].as_u64().unwrap();
    }
    let root = || verity_store::DirState::open(&state).unwrap().root();
    let before = root();
    // A reverted run that writes before aborting leaves the state as it was.
    let sink = fixture("kitchen_sink.wat");
    let out = run_cli(&["run", path_str(&sink), "--entry", "fail", "--state", s]);
    assert_eq!(code(&out), 1);
    // So does running out of fuel one unit short of the end of an
    // increment (preparing the module, which a run pays for first, then
    // the run itself): it has read the count, its write is gone.
    let prepare = crate::common::preparation_fuel(&crate::common::module(&counter));
    assert!(
        increment_fuel > prepare + 2_000,
        "the write is paid after the read"
    );
    let fuel = increment_fuel - 1;
    let out = run_cli(&[
        "run",
        path_str(&counter),
        "--entry",
        "increment",
        "--state",
        s,
        "--fuel",
        &fuel.to_string(),
        "--json",
    ]);
    assert_eq!(code(&out), 1);
    let json = stdout_json(&out);
    assert_eq!(json["status"], "out_of_fuel");
    assert_eq!(json["reads"].as_array().unwrap().len(), 1);
    assert_eq!(json["writes"].as_array().unwrap().len(), 0);
    assert_eq!(root(), before);
    // The read set shows the value the run saw.
    let out = run_cli(&[
        "run",
        path_str(&counter),
        "--entry",
        "get",
        "--state",
        s,
        "--json",
    ]);
    let json = stdout_json(&out);
    assert_eq!(
        json["reads"][0]["key"],
        hex::encode(crate::common::one_shot_key("counter.wat", b"count"))
    );
    assert_eq!(json["reads"][0]["value"], hex::encode(3u64.to_le_bytes()));
    assert_eq!(json["writes"], serde_json::json!([]));
}

#[test]
fn corrupt_state_directory_is_an_error_not_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("state.redb"), b"garbage").unwrap();
    let out = increment_in(dir.path());
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a valid Verity state"), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("state.redb")).unwrap(),
        b"garbage"
    );
    // A state of the format before contracts is named as such.
    let old = tempfile::tempdir().unwrap();
    std::fs::write(old.path().join("state.bin"), b"verity-state-v1\n").unwrap();
    let out = increment_in(old.path());
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("earlier Verity"), "{err}");
}

#[test]
fn check_accepts_and_rejects_with_reasons() {
    let out = run_cli(&["check", path_str(&fixture("counter.wat")), "--json"]);
    assert_eq!(code(&out), 0);
    let json = stdout_json(&out);
    assert_eq!(json["accepted"], true);
    assert_eq!(json["exports"]["increment"], "() -> ()");
    // The fuel it reports is what a deploy of it is charged.
    let fuel = &json["fuel"];
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s");
    assert_eq!(code(&run_cli(&["state", "init", path_str(&state)])), 0);
    let deployed = run_cli(&[
        "deploy",
        path_str(&fixture("counter.wat")),
        "--state",
        path_str(&state),
        "--json",
    ]);
    assert_eq!(
        stdout_json(&deployed)["fuel_used"].as_u64().unwrap(),
        fuel["deploy_store"].as_u64().unwrap() + fuel["deploy_prepare"].as_u64().unwrap()
    );
    let pages = fuel["initial_pages"].as_u64().unwrap();
    let costs = verity_runtime::Profile::default().costs;
    assert_eq!(
        fuel["per_run_instance"].as_u64().unwrap(),
        costs.wasm_instance.total(pages)
    );
    assert_eq!(
        fuel["access_price"].as_u64().unwrap(),
        costs.memory_access.price(pages)
    );
    let human = run_cli(&["check", path_str(&fixture("counter.wat"))]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains(&format!(
            "every run or call pays {} for its instance and {pages} initial pages, and {} per load or store at that size",
            fuel["per_run_instance"], fuel["access_price"]
        )),
        "{text}"
    );

    let out = run_cli(&["check", path_str(&fixture("hostile/forbidden_import.wat"))]);
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("`env`.`clock_time_get`"));

    let out = run_cli(&[
        "check",
        path_str(&fixture("counter.wat")),
        "--entry",
        "nope",
    ]);
    assert_eq!(code(&out), 1);
}

#[test]
fn profile_prints_the_hash_receipts_carry() {
    let out = run_cli(&["profile", "--json"]);
    assert_eq!(code(&out), 0);
    let profile = stdout_json(&out);
    let module = fixture("counter.wat");
    let out = run_cli(&["run", path_str(&module), "--entry", "get", "--json"]);
    assert_eq!(stdout_json(&out)["profile_hash"], profile["profile_hash"]);
    assert_eq!(
        profile["settings"]["wasmtime"],
        verity_runtime::profile::WASMTIME_VERSION
    );
}

/// `verity run` of the counter's `increment` against the state in `state`.
fn increment_in(state: &Path) -> Output {
    run_cli(&[
        "run",
        path_str(&fixture("counter.wat")),
        "--entry",
        "increment",
        "--state",
        path_str(state),
    ])
}

/// The counter's committed value in a state directory (0 if never set).
fn committed_count(state: &Path) -> u64 {
    let s = verity_store::DirState::open(state).unwrap();
    use verity_runtime::StateView;
    s.get(&crate::common::one_shot_key("counter.wat", b"count"))
        .unwrap()
        .map_or(0, |v| u64::from_le_bytes(v.try_into().unwrap()))
}

#[test]
fn a_missing_state_directory_is_an_error_not_a_new_state() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("sttae");
    let out = increment_in(&typo);
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("verity state init"), "{err}");
    assert!(!typo.exists(), "a mistyped --state created a directory");
    // An existing directory that holds no state is refused too.
    let out = increment_in(dir.path());
    assert_eq!(code(&out), 2);
    assert!(!dir.path().join("state.redb").exists());
    // `state init` makes one, once.
    assert_eq!(code(&run_cli(&["state", "init", path_str(&typo)])), 0);
    let again = run_cli(&["state", "init", path_str(&typo)]);
    assert_eq!(code(&again), 2);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds"));
}

#[test]
fn a_receipt_that_cannot_be_written_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = path_str(&state);
    assert_eq!(code(&run_cli(&["state", "init", s])), 0);
    let counter = fixture("counter.wat");
    let increment_to = |receipt: &Path| {
        run_cli(&[
            "run",
            path_str(&counter),
            "--entry",
            "increment",
            "--state",
            s,
            "--receipt",
            path_str(receipt),
        ])
    };
    // Exit 2 means nothing happened: the transaction was not committed,
    // so running it again is safe.
    let out = increment_to(&dir.path().join("no/such/dir/r.json"));
    assert_eq!(code(&out), 2);
    assert_eq!(committed_count(&state), 0);
    // With a writable path, the receipt lands and the state moves on, and
    // no temporary file is left beside it.
    let good = dir.path().join("r.json");
    let out = increment_to(&good);
    assert_eq!(code(&out), 0);
    assert_eq!(committed_count(&state), 1);
    let receipt: Value = serde_json::from_slice(&std::fs::read(&good).unwrap()).unwrap();
    assert_eq!(receipt["status"], "success");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains("tmp")),
        "left behind: {names:?}"
    );
}

#[test]
fn a_closed_stdout_is_an_error_before_the_commit_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = path_str(&state);
    assert_eq!(code(&run_cli(&["state", "init", s])), 0);
    for json in [false, true] {
        // A pipe whose reading end is already closed: every write fails.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut cmd = verity();
        cmd.args([
            "run",
            path_str(&fixture("counter.wat")),
            "--entry",
            "increment",
            "--state",
            s,
        ]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "json={json}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.contains("standard output"), "{err}");
        assert_eq!(committed_count(&state), 0, "committed without delivering");
    }
    // Other commands too: an error, not a panic.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = verity()
        .arg("profile")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// An upgrade through the CLI: a contract asks to run code that `verity
/// upload` stored; `state contract` then names the new code and
/// its history, and the upgrade's receipt verifies with its witness and
/// both modules.
#[test]
fn an_upgrade_through_the_cli_shows_in_the_record_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = path_str(&state);
    let module = |v: u8| {
        let path = dir.path().join(format!("v{v}.wat"));
        std::fs::write(
            &path,
            format!(
                r#"(module
  (import "verity" "input_read" (func $input_read (param i32)))
  (import "verity" "update_current_contract_code" (func $update (param i32) (result i32)))
  (import "verity" "output_set" (func $output_set (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 300) "\{v:02x}")
  (func (export "version") (call $output_set (i32.const 300) (i32.const 1)))
  (func (export "upgrade")
    (call $input_read (i32.const 0))
    (i32.store8 (i32.const 100) (call $update (i32.const 0)))
    (call $output_set (i32.const 100) (i32.const 1))))"#
            ),
        )
        .unwrap();
        path
    };
    let (v1, v2) = (module(1), module(2));
    assert_eq!(code(&run_cli(&["state", "init", s])), 0);
    let deploy = |m: &Path, salt: &str| {
        let out = run_cli(&[
            "deploy",
            path_str(m),
            "--salt",
            salt,
            "--state",
            s,
            "--json",
        ]);
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        stdout_json(&out)
    };
    let contract = deploy(&v1, &"00".repeat(32))["contract"]
        .as_str()
        .unwrap()
        .to_string();
    // `verity upload` stores v2's code and creates no contract.
    let out = run_cli(&["upload", path_str(&v2), "--state", s, "--json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let upload = stdout_json(&out);
    assert_eq!(upload["action"], "upload");
    assert_eq!(upload["writes"].as_array().unwrap().len(), 1);
    let v2_hash = upload["code_hash"].as_str().unwrap().to_string();
    let receipt = dir.path().join("up.json");
    let witness = dir.path().join("up.witness");
    let out = run_cli(&[
        "call",
        &contract,
        "--entry",
        "upgrade",
        "--input",
        &v2_hash,
        "--height",
        "9",
        "--state",
        s,
        "--receipt",
        path_str(&receipt),
        "--witness",
        path_str(&witness),
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let out = run_cli(&["state", "contract", s, &contract, "--json"]);
    let record = stdout_json(&out);
    assert_eq!(record["code_hash"], Value::from(v2_hash.clone()));
    assert_eq!(
        record["code_history"],
        serde_json::json!([{"height": 9, "code_hash": v2_hash}])
    );
    let out = run_cli(&["state", "contract", s, &contract]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(&format!("upgraded  at height 9 to {v2_hash}")),
        "{shown}"
    );
    let out = run_cli(&[
        "verify",
        path_str(&receipt),
        "--module",
        path_str(&v1),
        "--module",
        path_str(&v2),
        "--witness",
        path_str(&witness),
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let out = run_cli(&[
        "call", &contract, "--entry", "version", "--state", s, "--json",
    ]);
    assert_eq!(stdout_json(&out)["output"], Value::from("02"));
}

/// `--simulate` and the `state` read commands run against the state under
/// a shared lock and commit nothing: they run while another reader holds
/// the directory (where a committing call is busy), the simulation's
/// receipt is the one the real call then gives, and the state's root does
/// not move.
#[test]
fn simulate_reads_under_a_shared_lock_and_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = path_str(&state);
    let (owner, bob) = (account(dir.path(), 1), "03".repeat(32));
    let token = deploy_token(&state, &owner)["contract"]
        .as_str()
        .unwrap()
        .to_string();
    // A simulation and the real call sign the same envelope: one nonce.
    let call = |entry: &str, args: &[String], simulate: bool, nonce: &str| {
        let mut argv = vec![
            "call", &token, "--entry", entry, "--key", &owner.key, "--nonce", nonce, "--state", s,
            "--json",
        ];
        for a in args {
            argv.extend(["--arg", a]);
        }
        if simulate {
            argv.push("--simulate");
        }
        run_cli(&argv)
    };
    let mint = [format!("to={}", owner.address), "amount=50".to_string()];
    assert_eq!(code(&call("mint", &mint, false, "1")), 0);
    let root = |s: &str| {
        stdout_json(&run_cli(&["state", "info", s, "--json"]))["root"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let before = root(s);
    let transfer = [format!("to={bob}"), "amount=5".to_string()];
    {
        let _reader = verity_store::DirState::open_shared(&state).unwrap();
        let out = call(
            "balance_of",
            &[format!("owner={}", owner.address)],
            true,
            "2",
        );
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            stdout_json(&out)["decoded"]["output"]["value"],
            Value::from(50)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was committed"));
        let key = format!("62616c00{}", owner.address);
        for read in [
            &["state", "info", s][..],
            &["state", "check", s],
            &["state", "contracts", s],
            &["state", "contract", s, &token],
            &["state", "keys", s, &token],
            &["state", "get", s, &token, &key],
            &["state", "warm", s],
        ] {
            let out = run_cli(read);
            assert_eq!(
                code(&out),
                0,
                "{read:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // A call that would commit is refused while a reader holds it, and
        // so is an upgrade, which writes.
        let out = run_cli(&["state", "upgrade", s]);
        assert_eq!(code(&out), 2);
        assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another process"));
        let out = call("transfer", &transfer, false, "3");
        assert_eq!(code(&out), 2);
        assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another process"));
    }
    let simulated = call("transfer", &transfer, true, "3");
    assert_eq!(code(&simulated), 0);
    assert_eq!(root(s), before, "a simulation commits nothing");
    let real = call("transfer", &transfer, false, "3");
    assert_eq!(code(&real), 0);
    assert_eq!(stdout_json(&simulated), stdout_json(&real));
    assert_ne!(root(s), before);
    let out = run_cli(&["state", "upgrade", s]);
    assert_eq!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("is in the current format"));
}

/// A new state at `state` holding the fixture token, deployed by `owner`
/// with itself as the token's owner; the deploy's receipt (JSON).
fn deploy_token(state: &Path, owner: &Account) -> Value {
    let s = path_str(state);
    assert_eq!(code(&run_cli(&["state", "init", s])), 0);
    let out = run_cli(&[
        "deploy",
        path_str(&fixture("wasm/token.wasm")),
        "--entry",
        "init",
        "--arg",
        &format!("owner={}", owner.address),
        "--key",
        &owner.key,
        "--state",
        s,
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    stdout_json(&out)
}

/// The README's escrow walkthrough: deploy the token and the escrow, fund
/// a deal, release it, and verify the release (a call tree of two
/// contracts) with its witness, the two modules and no database.
#[test]
fn escrow_through_the_cli_verifies_with_two_modules_and_a_witness() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = path_str(&state);
    let (owner, alice) = (account(dir.path(), 1), account(dir.path(), 2));
    let bob = "03".repeat(32);
    let token = deploy_token(&state, &owner)["contract"]
        .as_str()
        .unwrap()
        .to_string();
    let (token_wasm, escrow_wasm) = (
        path_str(&fixture("wasm/token.wasm")).to_string(),
        path_str(&fixture("wasm/escrow.wasm")).to_string(),
    );
    let out = run_cli(&[
        "deploy",
        &escrow_wasm,
        "--entry",
        "init",
        "--arg",
        &format!("token={token}"),
        "--key",
        &owner.key,
        "--salt",
        &format!("{}01", "00".repeat(31)),
        "--state",
        s,
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let escrow = stdout_json(&out)["contract"].as_str().unwrap().to_string();
    assert_ne!(escrow, token);
    let call =
        |contract: &str, entry: &str, sender: &Account, args: &[String], files: Option<&str>| {
            let mut argv: Vec<String> = [
                "call",
                contract,
                "--entry",
                entry,
                "--key",
                &sender.key,
                "--state",
                s,
                "--json",
            ]
            .map(String::from)
            .to_vec();
            for a in args {
                argv.extend(["--arg".to_string(), a.clone()]);
            }
            if let Some(stem) = files {
                argv.extend([
                    "--receipt".into(),
                    dir.path()
                        .join(format!("{stem}.json"))
                        .to_string_lossy()
                        .into_owned(),
                    "--witness".into(),
                    dir.path()
                        .join(format!("{stem}.witness"))
                        .to_string_lossy()
                        .into_owned(),
                ]);
            }
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let out = run_cli(&argv);
            assert_eq!(
                code(&out),
                0,
                "{entry}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
            stdout_json(&out)
        };
    call(
        &token,
        "mint",
        &owner,
        &[format!("to={}", alice.address), "amount=100".into()],
        None,
    );
    call(
        &token,
        "approve",
        &alice,
        &[format!("spender={escrow}"), "amount=40".into()],
        None,
    );
    let open = call(
        &escrow,
        "open",
        &alice,
        &[
            format!("seller={bob}"),
            format!("arbiter={}", owner.address),
            "amount=40".into(),
        ],
        None,
    );
    assert_eq!(open["calls"][0]["entry"], "transfer_from");
    let release = call(
        &escrow,
        "release",
        &alice,
        &["id=0".into()],
        Some("release"),
    );
    assert_eq!(release["calls"][0]["callee"], Value::from(token.clone()));
    assert_eq!(release["events"][0]["contract"], Value::from(token.clone()));
    let balance = call(
        &token,
        "balance_of",
        &owner,
        &[format!("owner={bob}")],
        None,
    );
    assert_eq!(balance["decoded"]["output"]["value"], Value::from(40));
    let receipt = dir.path().join("release.json");
    let witness = dir.path().join("release.witness");
    let verify = |modules: &[&str]| {
        let mut argv = vec![
            "verify",
            path_str(&receipt),
            "--witness",
            path_str(&witness),
        ];
        for m in modules {
            argv.extend(["--module", m]);
        }
        run_cli(&argv)
    };
    let out = verify(&[&escrow_wasm, &token_wasm]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("authenticated"), "{shown}");
    // Without the callee's code the tree cannot be re-executed.
    let out = verify(&[&escrow_wasm]);
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stdout));
}

/// The issue's isolation attack, as a user at a terminal would try it:
/// deploy the token, mint, then run a ten-line module on the same state
/// that writes the token's balance key. The balance does not move.
#[test]
fn a_module_run_beside_a_contract_cannot_rewrite_its_storage() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = path_str(&state);
    let owner = account(dir.path(), 1);
    let alice = "02".repeat(32);
    let deployed = deploy_token(&state, &owner);
    assert_eq!(deployed["action"], "deploy");
    let address = deployed["contract"].as_str().unwrap().to_string();
    let call = |entry: &str, args: &[String], sender: &Account| {
        let mut argv = vec!["call", &address, "--entry", entry, "--state", s, "--json"];
        for a in args {
            argv.extend(["--arg", a]);
        }
        argv.extend(["--key", &sender.key]);
        run_cli(&argv)
    };
    let out = call(
        "mint",
        &[format!("to={alice}"), "amount=1000".into()],
        &owner,
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));

    // The attack: `bal\0<alice>` set to 2^56 - 1.
    let attack = dir.path().join("attack.wat");
    let key: String = b"bal\0"
        .iter()
        .chain(&[2u8; 32])
        .map(|b| format!("\\{b:02x}"))
        .collect();
    std::fs::write(
        &attack,
        format!(
            r#"(module
  (import "verity" "storage_write" (func $w (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{key}")
  (data (i32.const 64) "\ff\ff\ff\ff\ff\ff\ff\7f")
  (func (export "run") (call $w (i32.const 0) (i32.const 36) (i32.const 64) (i32.const 8))))"#
        ),
    )
    .unwrap();
    let out = run_cli(&["run", path_str(&attack), "--entry", "run", "--state", s]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));

    let out = call("balance_of", &[format!("owner={alice}")], &owner);
    assert_eq!(code(&out), 0);
    let output = stdout_json(&out)["output"].as_str().unwrap().to_string();
    assert_eq!(
        output,
        hex::encode(postcard::to_allocvec(&1000u64).unwrap())
    );
}

#[test]
fn calls_need_a_state_and_a_well_formed_address() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = path_str(&state);
    assert_eq!(code(&run_cli(&["state", "init", s])), 0);
    let address = "ab".repeat(32);
    let out = run_cli(&["call", &address, "--entry", "run"]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --state"));
    let out = run_cli(&["call", "abc", "--entry", "run", "--state", s]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a contract address"));
    // A well-formed address with no contract: a rejected receipt, exit 1.
    let out = run_cli(&["call", &address, "--entry", "run", "--state", s]);
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no contract at address"));
    // With --arg, which needs the contract's spec: the error says why there
    // is none (it named the empty code as a module rejected in its header).
    let out = run_cli(&[
        "call", &address, "--entry", "run", "--arg", "x=1", "--state", s,
    ]);
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no contract is deployed at that address in this state"),
        "{stderr}"
    );
    let out = run_cli(&[
        "deploy",
        path_str(&fixture("counter.wat")),
        "--salt",
        "0102",
    ]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--salt is 2 bytes"));
}

/// `verity state`: the root and counts, a contract's record, and a value
/// with a proof that checks against the root, present and absent.
#[test]
fn state_commands_show_the_root_a_contract_and_proven_values() {
    use verity_state_tree::{Proof, key_path, value_hash};
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = path_str(&state);
    let owner = account(dir.path(), 1);
    let deployed = deploy_token(&state, &owner);
    let address = deployed["contract"].as_str().unwrap();

    let info = stdout_json(&run_cli(&["state", "info", s, "--json"]));
    assert_eq!(info["root"], deployed["post_state_root"]);
    assert_eq!(
        (&info["code"], &info["contracts"], &info["storage_keys"]),
        (&Value::from(1), &Value::from(1), &Value::from(1))
    );
    // The signed deploy's nonce.
    assert_eq!(info["nonces"], 1);
    let record = stdout_json(&run_cli(&["state", "contract", s, address, "--json"]));
    assert_eq!(record["code_hash"], deployed["code_hash"]);
    assert_eq!(record["admin"], owner.address.as_str());

    let root = verity_runtime::Hash32::from_hex(info["root"].as_str().unwrap()).unwrap();
    for (key, want) in [("owner", Some(owner.address.clone())), ("nothing", None)] {
        let out = run_cli(&["state", "get", s, address, &hex::encode(key), "--json"]);
        assert_eq!(code(&out), if want.is_some() { 0 } else { 1 });
        let got = stdout_json(&out);
        assert_eq!(got["value"].as_str().map(str::to_string), want);
        let state_key = hex::decode(got["state_key"].as_str().unwrap()).unwrap();
        let bytes = hex::decode(got["proof"].as_str().unwrap()).unwrap();
        let mut proof = Proof::decode(&bytes, &[key_path(&state_key)], &[]).unwrap();
        proof.check_root(&root.0).unwrap();
        let proven = proof.get(&key_path(&state_key)).unwrap();
        assert_eq!(proven, want.map(|v| value_hash(&hex::decode(v).unwrap())));
    }
    let out = run_cli(&["state", "contract", s, &"77".repeat(32)]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no contract at address"));
}

/// `--debug` prints the guest's log lines, with the entry, on standard
/// error; the receipt is the same with and without it.
#[test]
fn debug_prints_log_lines_and_changes_no_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("log.wat");
    std::fs::write(
        &module,
        r#"(module
  (import "verity" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "checking balance")
  (func (export "run") (call $log (i32.const 0) (i32.const 16))))"#,
    )
    .unwrap();
    let m = path_str(&module);
    let plain = run_cli(&["run", m, "--entry", "run", "--json"]);
    let debug = run_cli(&["run", m, "--entry", "run", "--json", "--debug"]);
    assert_eq!(code(&plain), 0);
    assert_eq!(code(&debug), 0);
    // The receipt is the same; --debug adds its fuel profile beside it,
    // which sums to fuel_used.
    let mut with_profile = stdout_json(&debug);
    let profile = with_profile
        .as_object_mut()
        .unwrap()
        .remove("fuel_profile")
        .expect("a fuel_profile member");
    assert_eq!(
        with_profile,
        stdout_json(&plain),
        "--debug changed the receipt"
    );
    let sum: u64 = profile
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fuel"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, with_profile["fuel_used"].as_u64().unwrap());
    let log = profile
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["class"] == "event")
        .expect("the log call's class (`log` costs as `event` does)");
    assert_eq!(log["calls"], 1);
    let err = String::from_utf8_lossy(&debug.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines[0], "log [run] checking balance");
    assert!(lines[1].starts_with("debug: code: "), "{err}");
    assert_eq!(lines[2], "debug: fuel by class:", "{err}");
    let total = lines.last().unwrap();
    assert!(total.trim_start().starts_with("total"), "{err}");
    assert!(
        total.ends_with(&with_profile["fuel_used"].to_string()),
        "{err}"
    );
    assert!(plain.stderr.is_empty(), "no log without --debug");
    // Its JSON verifies: the profile is said to be ignored.
    let file = dir.path().join("r.json");
    std::fs::write(&file, &debug.stdout).unwrap();
    let out = run_cli(&["verify", path_str(&file), "--module", m]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`fuel_profile` member"));
}

/// `verify` of a JSON receipt file: a member named twice (the last one a
/// lie that a last-wins parser would believe) is refused, naming the
/// member; a `decoded` member is said to be ignored; anything wrong in a
/// call receipt's read set or code hash is a failed verification (exit 1),
/// never a host error (exit 2).
#[test]
fn verify_refuses_duplicate_members_and_blames_the_receipt_for_its_reads() {
    let dir = tempfile::tempdir().unwrap();
    let receipt = dir.path().join("r.json");
    let counter = path_str(&fixture("counter.wat")).to_string();
    let out = run_cli(&["run", &counter, "--entry", "increment", "--json"]);
    assert_eq!(code(&out), 0);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(r#""status": "success""#), "{text}");
    let verify = |doc: &str, module: &str| {
        std::fs::write(&receipt, doc).unwrap();
        run_cli(&["verify", path_str(&receipt), "--module", module])
    };
    assert_eq!(code(&verify(&text, &counter)), 0);

    let twice = text.replacen(
        r#""status": "success""#,
        r#""status": "reverted", "message": "x", "status": "success""#,
        1,
    );
    let out = verify(&twice, &counter);
    assert_eq!(code(&out), 1);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("NOT VERIFIED"), "{shown}");
    assert!(
        shown.contains("the member `status` appears twice"),
        "{shown}"
    );

    let lying = text.replacen('{', r#"{"decoded": {"output": "a lie"},"#, 1);
    let out = verify(&lying, &counter);
    assert_eq!(code(&out), 0);
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        note.contains("`decoded` member") && note.contains("ignored"),
        "{note}"
    );

    // A call receipt: every read value replaced, and the code hash swapped.
    let state = dir.path().join("state");
    let owner = account(dir.path(), 1);
    let deployed = deploy_token(&state, &owner);
    let address = deployed["contract"].as_str().unwrap();
    let token = path_str(&fixture("wasm/token.wasm")).to_string();
    let out = run_cli(&[
        "call",
        address,
        "--entry",
        "mint",
        "--arg",
        &format!("to={}", owner.address),
        "--arg",
        "amount=5",
        "--key",
        &owner.key,
        "--state",
        path_str(&state),
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let call: Value = stdout_json(&out);
    assert_eq!(code(&verify(&call.to_string(), &token)), 0);
    let reads = call["reads"].as_array().unwrap().len();
    assert!(reads >= 2, "the call reads its record and its storage");
    for i in 0..reads {
        let mut forged = call.clone();
        forged["reads"][i]["value"] = Value::from("00");
        let out = verify(&forged.to_string(), &token);
        assert_eq!(
            code(&out),
            1,
            "read {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut forged = call.clone();
    forged["code_hash"] = Value::from(module_hash(&counter));
    let out = verify(&forged.to_string(), &counter);
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("read set does not agree"), "{shown}");
}

/// The code hash the CLI gives a module (as `verity check --json` prints it).
fn module_hash(path: &str) -> String {
    let out = run_cli(&["check", path, "--json"]);
    stdout_json(&out)["code_hash"].as_str().unwrap().to_string()
}

/// The delivery contract of `run`, `deploy` and `call`: exit 2 means that
/// nothing was committed and no receipt file was written, whatever failed;
/// staged files are never written through a planted link.
mod delivery {
    use super::*;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    struct Setup {
        _dir: tempfile::TempDir,
        root: PathBuf,
        state: PathBuf,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let state = root.join("state");
        assert_eq!(code(&run_cli(&["state", "init", path_str(&state)])), 0);
        Setup {
            _dir: dir,
            root,
            state,
        }
    }

    impl Setup {
        fn state_root(&self) -> String {
            let info = stdout_json(&run_cli(&[
                "state",
                "info",
                path_str(&self.state),
                "--json",
            ]));
            info["root"].as_str().unwrap().to_string()
        }

        /// `verity run counter.wat --entry increment --state DIR` and `extra`.
        fn increment(&self, extra: &[&str]) -> Command {
            let mut cmd = verity();
            cmd.args([
                "run",
                path_str(&fixture("counter.wat")),
                "--entry",
                "increment",
            ])
            .args(["--state", path_str(&self.state)])
            .args(extra);
            cmd
        }

        /// Runs `cmd`, asserts exit 2 and that the state did not move.
        fn refused(&self, mut cmd: Command, why: &str) -> String {
            let before = self.state_root();
            let out = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr).to_string();
            assert_eq!(code(&out), 2, "{why}: {stderr}");
            assert_eq!(self.state_root(), before, "{why}: the state moved");
            stderr
        }

        fn leftovers(&self) -> Vec<String> {
            std::fs::read_dir(&self.root)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".verity-tmp"))
                .collect()
        }
    }

    #[test]
    fn stdout_closed_full_or_broken_commits_nothing() {
        let s = setup();
        let mut closed = Command::new("sh");
        closed
            .env("VERITY_CACHE_DIR", crate::common::cache_dir())
            .arg("-c")
            .arg(r#"exec "$0" "$@" >&-"#)
            .arg(env!("CARGO_BIN_EXE_verity"))
            .args([
                "run",
                path_str(&fixture("counter.wat")),
                "--entry",
                "increment",
            ])
            .args(["--state", path_str(&s.state)]);
        let why = s.refused(closed, "closed stdout");
        assert!(why.contains("standard output is closed"), "{why}");

        let mut full = s.increment(&[]);
        full.stdout(std::fs::File::create("/dev/full").unwrap());
        let why = s.refused(full, "full stdout");
        assert!(why.contains("cannot write to standard output"), "{why}");

        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut broken = s.increment(&[]);
        broken.stdout(writer);
        s.refused(broken, "broken stdout");

        // And with a working stdout the same run commits.
        let before = s.state_root();
        let mut ok = s.increment(&[]);
        ok.stdout(Stdio::null());
        assert_eq!(code(&ok.output().unwrap()), 0);
        assert_ne!(s.state_root(), before);
    }

    #[test]
    fn bad_receipt_and_witness_paths_commit_nothing() {
        let s = setup();
        let receipt = s.root.join("r.json");
        let a_dir = s.root.join("a-dir");
        std::fs::create_dir(&a_dir).unwrap();
        for (args, needle) in [
            (vec!["--receipt", path_str(&a_dir)], "is a directory"),
            (vec!["--witness", path_str(&a_dir)], "is a directory"),
            (
                vec![
                    "--receipt",
                    path_str(&receipt),
                    "--witness",
                    path_str(&receipt),
                ],
                "name the same file",
            ),
            (
                vec!["--receipt", "nowhere/at/all/r.json"],
                "cannot write nowhere/at/all/r.json",
            ),
        ] {
            let why = s.refused(s.increment(&args), needle);
            assert!(why.contains(needle), "{args:?}: {why}");
            assert!(!receipt.exists(), "{args:?} wrote a receipt");
            assert!(
                s.leftovers().is_empty(),
                "{args:?} left {:?}",
                s.leftovers()
            );
        }
        // The same file under two spellings is the same file.
        let other = s.root.join("a-dir/../r.json");
        let why = s.refused(
            s.increment(&[
                "--receipt",
                path_str(&receipt),
                "--witness",
                path_str(&other),
            ]),
            "two spellings",
        );
        assert!(why.contains("name the same file"), "{why}");
    }

    /// The commit fails (as on a full disk): exit 2, the state as it was,
    /// no receipt file, and stderr says the printed receipt was not
    /// committed.
    #[test]
    fn a_failed_commit_says_the_printed_receipt_was_not_committed() {
        let s = setup();
        let receipt = s.root.join("r.json");
        let mut cmd = s.increment(&["--receipt", path_str(&receipt)]);
        cmd.env("VERITY_FAIL_AT", "commit");
        let why = s.refused(cmd, "failed commit");
        assert!(why.contains("was NOT committed"), "{why}");
        assert!(!receipt.exists());
        assert!(s.leftovers().is_empty(), "{:?}", s.leftovers());
    }

    /// Links planted where the old staging name was, and at the receipt
    /// path itself: their targets are never written; the receipt path ends
    /// as a regular file holding the receipt.
    #[test]
    fn planted_links_are_never_followed() {
        let s = setup();
        let victim = s.root.join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let receipt = s.root.join("r.json");
        std::os::unix::fs::symlink(&victim, s.root.join(".r.json.verity-tmp")).unwrap();
        std::os::unix::fs::symlink(&victim, &receipt).unwrap();
        let out = s
            .increment(&["--receipt", path_str(&receipt), "--json"])
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        let meta = std::fs::symlink_metadata(&receipt).unwrap();
        assert!(
            meta.file_type().is_file(),
            "the link was replaced by the receipt"
        );
        assert_eq!(std::fs::read(&receipt).unwrap(), out.stdout);
    }
}

/// A guest's abort message and log lines that try to redraw the terminal
/// (a fake `status    success` line, an OSC title sequence, a bidi
/// override) print escaped, on stdout and on stderr.
#[test]
fn guest_text_cannot_redraw_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let wat = dir.path().join("liar.wat");
    let lie = "no\\0astatus    success\\1b]0;owned\\07\\e2\\80\\ae";
    std::fs::write(
        &wat,
        format!(
            r#"(module
  (import "verity" "abort" (func $abort (param i32 i32)))
  (import "verity" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{lie}")
  (func (export "run")
    (call $log (i32.const 0) (i32.const 33))
    (call $abort (i32.const 0) (i32.const 33))))"#
        ),
    )
    .unwrap();
    let out = run_cli(&["run", path_str(&wat), "--entry", "run", "--debug"]);
    assert_eq!(code(&out), 1);
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(!text.contains('\u{202e}'), "{text:?}");
        assert!(
            text.contains(r"no\u{a}status    success\u{1b}]0;owned\u{7}\u{202e}"),
            "{text:?}"
        );
    }
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("status"))
            .collect::<Vec<_>>(),
        ["status    reverted"]
    );
}

/// What a new user found contradicting the docs: a rejected deploy printed
/// the (taken) address as its contract; an entry with arguments ran, and
/// reverted, when none were given; usage errors took several lines.
#[test]
fn rejected_deploys_missing_arguments_and_usage_errors_say_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let owner = account(dir.path(), 1);
    let deployed = deploy_token(&state, &owner);
    let address = deployed["contract"].as_str().unwrap();
    let s = path_str(&state);
    let token = path_str(&fixture("wasm/token.wasm")).to_string();

    let again = run_cli(&[
        "deploy",
        &token,
        "--entry",
        "init",
        "--arg",
        &format!("owner={}", owner.address),
        "--key",
        &owner.key,
        "--state",
        s,
    ]);
    assert_eq!(code(&again), 1);
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.contains("status    rejected"), "{text}");
    assert!(
        text.contains("contract  none: nothing was deployed"),
        "{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("contract") && l.contains(address)),
        "the taken address reads as deployed: {text}"
    );

    let before = stdout_json(&run_cli(&["state", "info", s, "--json"]))["root"].clone();
    let bare = run_cli(&[
        "call", address, "--entry", "mint", "--key", &owner.key, "--state", s,
    ]);
    assert_eq!(code(&bare), 2);
    let why = String::from_utf8_lossy(&bare.stderr);
    assert!(
        why.contains("entry `mint` takes arguments (to, amount)"),
        "{why}"
    );
    assert!(bare.stdout.is_empty(), "nothing ran, so no receipt");
    assert_eq!(
        stdout_json(&run_cli(&["state", "info", s, "--json"]))["root"],
        before
    );
    // An entry without arguments still runs with no input.
    let view = run_cli(&[
        "call",
        address,
        "--entry",
        "balance_of",
        "--arg",
        &format!("owner={}", owner.address),
        "--state",
        s,
    ]);
    assert_eq!(code(&view), 0, "{}", String::from_utf8_lossy(&view.stderr));

    for argv in [&["call"][..], &["run", "--bogus"], &["ruun"]] {
        let out = run_cli(argv);
        assert_eq!(code(&out), 2, "{argv:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{argv:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.trim_end().ends_with("see --help"),
            "{err}"
        );
    }
    let help = String::from_utf8_lossy(&run_cli(&["call", "--help"]).stdout).to_string();
    assert!(help.contains("`call` needs one"), "{help}");
}

/// A struct of many fields carried by many events: `inspect` prints it
/// once, so its output stays proportional to the module (it used to print
/// the fields on every event line: 100 MB for a 65 KB module).
#[test]
fn inspect_prints_each_type_once() {
    use verity_runtime::abi::spec::{
        ContractSpec, EventDef, FieldDef, Fields, TypeBody, TypeDef, TypeSpec,
    };
    let fields = (0..100)
        .map(|i| FieldDef {
            name: format!("field_number_{i}"),
            doc: String::new(),
            ty: TypeSpec::U64,
        })
        .collect();
    let spec = ContractSpec {
        entries: vec![],
        types: vec![TypeDef {
            name: "Wide".into(),
            doc: String::new(),
            body: TypeBody::Struct(Fields::Named(fields)),
        }],
        errors: vec![],
        events: (0..1000)
            .map(|i| EventDef {
                name: format!("E{i}"),
                doc: String::new(),
                topic: format!("t{i}"),
                data: TypeSpec::Named("Wide".into()),
            })
            .collect(),
    };
    let module = with_spec("(module)", &spec);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.wasm");
    std::fs::write(&path, &module).unwrap();
    let out = run_cli(&["inspect", path_str(&path)]);
    assert_eq!(code(&out), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("field_number_99: u64").count(),
        1,
        "{}",
        &text[..2000]
    );
    assert_eq!(text.matches("event    ").count(), 1000);
    assert!(
        text.contains("event    \"t999\": Wide\n"),
        "{}",
        &text[text.len() - 200..]
    );
    assert!(
        out.stdout.len() < 2 * module.len(),
        "{} bytes printed for a {}-byte module",
        out.stdout.len(),
        module.len()
    );
}

/// The 84 KB module of 21,000 `i32.const 0; br_if 0`: Cranelift's slowest
/// shape below the Winch bound (docs/costs.md).
fn branch_bomb(dir: &Path) -> std::path::PathBuf {
    let body = "i32.const 0 br_if 0 ".repeat(21_000);
    let wat = format!(r#"(module (func (export "nop")) (func {body}))"#);
    let path = dir.join("branches.wat");
    std::fs::write(&path, wat).unwrap();
    path
}

#[test]
fn a_deploy_pays_for_its_compile_and_calls_load_the_compiled_code() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let state = dir.path().join("state");
    let s = path_str(&state);
    let bomb = branch_bomb(dir.path());
    let wasm = crate::common::module(&bomb);
    let cli = |args: &[&str]| {
        verity()
            .env("VERITY_CACHE_DIR", &cache)
            .args(args)
            .output()
            .unwrap()
    };
    assert_eq!(code(&cli(&["state", "init", s])), 0);
    // The compile is paid at deploy: with the default 10 million fuel the
    // deploy is out of fuel and nothing is deployed.
    let prepare = crate::common::preparation_fuel(&wasm);
    let store = verity_runtime::Profile::default()
        .costs
        .storage_write
        .total(wasm.len() as u64);
    assert!(prepare > 30_000_000, "{prepare}");
    let poor = cli(&["deploy", path_str(&bomb), "--state", s, "--json"]);
    assert_eq!(code(&poor), 1);
    assert_eq!(stdout_json(&poor)["status"], "out_of_fuel");
    let fuel = (store + prepare).to_string();
    let out = cli(&[
        "deploy",
        path_str(&bomb),
        "--state",
        s,
        "--fuel",
        &fuel,
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let deployed = stdout_json(&out);
    assert_eq!(deployed["fuel_used"], store + prepare);
    let contract = deployed["contract"].as_str().unwrap().to_string();
    // Every later command loads what the first one compiled.
    for _ in 0..2 {
        let out = cli(&["call", &contract, "--entry", "nop", "--state", s, "--debug"]);
        assert_eq!(code(&out), 0);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("debug: code: 0 compiled, 1 loaded from the artifact cache"),
            "{stderr}"
        );
    }
    // Without a cache, the call compiles again, and pays the same.
    let out = verity()
        .env("VERITY_CACHE_DIR", "")
        .args([
            "call", &contract, "--entry", "nop", "--state", s, "--debug", "--json",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("debug: code: 1 compiled, 0 loaded"),
        "{stderr}"
    );
    // A call pays for nothing but loading its module and its instance
    // (the module has no memory) and its code: the compile is free.
    assert_eq!(
        stdout_json(&out)["fuel_used"],
        crate::common::load_fuel(&wasm)
            + verity_runtime::Profile::default()
                .costs
                .wasm_instance
                .total(0)
    );
    // `state warm` readies an empty cache from the state: it compiles the
    // stored module once, then every command loads it.
    let fresh = dir.path().join("fresh");
    let in_fresh = |args: &[&str]| {
        verity()
            .env("VERITY_CACHE_DIR", &fresh)
            .args(args)
            .output()
            .unwrap()
    };
    let warmed = in_fresh(&["state", "warm", s, "--json"]);
    assert_eq!(
        code(&warmed),
        0,
        "{}",
        String::from_utf8_lossy(&warmed.stderr)
    );
    let report = stdout_json(&warmed);
    assert_eq!(
        (&report["compiled"], &report["loaded"]),
        (&1.into(), &0.into())
    );
    let out = in_fresh(&["call", &contract, "--entry", "nop", "--state", s, "--debug"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("debug: code: 0 compiled, 1 loaded"),
        "{stderr}"
    );
    let again = stdout_json(&in_fresh(&["state", "warm", s, "--json"]));
    assert_eq!(
        (&again["compiled"], &again["loaded"]),
        (&0.into(), &1.into())
    );
    // With no cache there is nothing to warm: an error, not a silent no-op.
    let none = verity()
        .env("VERITY_CACHE_DIR", "")
        .args(["state", "warm", s])
        .output()
        .unwrap();
    assert_eq!(code(&none), 2);
    assert!(String::from_utf8_lossy(&none.stderr).contains("no artifact cache"));
}

#[test]
fn an_artifact_cache_others_may_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("shared");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = verity()
        .env("VERITY_CACHE_DIR", &cache)
        .args([
            "run",
            path_str(&fixture("counter.wat")),
            "--entry",
            "get",
            "--debug",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("others may write to it") && stderr.contains("1 compiled, 0 loaded"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
}

/// Signed transactions from the command line (docs/auth.md): a key made
/// by `verity key new` deploys the token as its owner and mints with
/// `--key`; the receipt names the key's address and verifies with its
/// witness and no database; the same nonce again is refused and changes
/// nothing; a key file that is not one is a clear error.
#[test]
fn a_key_signs_deploy_and_call_and_the_same_nonce_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (state, keyfile) = (dir.path().join("state"), dir.path().join("owner.key"));
    let (s, k) = (path_str(&state), path_str(&keyfile));
    for scheme in ["ed25519", "p256"] {
        let _ = std::fs::remove_file(&keyfile);
        let _ = std::fs::remove_dir_all(&state);
        let out = run_cli(&["key", "new", k, "--scheme", scheme]);
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        // A second `new` never overwrites a key.
        assert_eq!(code(&run_cli(&["key", "new", k])), 2);
        let shown = stdout_json(&run_cli(&["key", "show", k, "--json"]));
        assert_eq!(shown["scheme"], scheme);
        let owner = shown["address"].as_str().unwrap().to_string();
        assert_eq!(code(&run_cli(&["state", "init", s])), 0);
        let signed = |argv: &[&str], nonce: &str| {
            let mut all = argv.to_vec();
            all.extend([
                "--key",
                k,
                "--nonce",
                nonce,
                "--valid-until",
                "50",
                "--height",
                "5",
                "--chain-id",
                "cli-test",
                "--state",
                s,
                "--json",
            ]);
            run_cli(&all)
        };
        let token = fixture("wasm/token.wasm");
        let owner_arg = format!("owner={owner}");
        let out = signed(
            &[
                "deploy",
                path_str(&token),
                "--entry",
                "init",
                "--arg",
                &owner_arg,
            ],
            "1",
        );
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
        let deployed = stdout_json(&out);
        assert_eq!(deployed["sender"], owner.as_str());
        assert_eq!(deployed["auth"]["kind"], "signed");
        let contract = deployed["contract"].as_str().unwrap().to_string();
        let (receipt, witness) = (
            dir.path().join("mint.json"),
            dir.path().join("mint.witness"),
        );
        let to = format!("to={}", "02".repeat(32));
        let mint = [
            "call",
            &contract,
            "--entry",
            "mint",
            "--arg",
            &to,
            "--arg",
            "amount=7",
            "--receipt",
            path_str(&receipt),
            "--witness",
            path_str(&witness),
        ];
        let out = signed(&mint, "2");
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
        assert_eq!(stdout_json(&out)["auth"]["nonce"], 2);
        let out = run_cli(&[
            "verify",
            path_str(&receipt),
            "--module",
            path_str(&token),
            "--witness",
            path_str(&witness),
        ]);
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
        // The same nonce again: rejected, exit 1, nothing committed.
        let before = run_cli(&["state", "info", s]).stdout;
        let _ = std::fs::remove_file(&receipt);
        let _ = std::fs::remove_file(&witness);
        let again = signed(&mint, "2");
        assert_eq!(code(&again), 1);
        let r = stdout_json(&again);
        assert_eq!(r["status"], "rejected");
        assert!(
            r["reason"].as_str().unwrap().starts_with("auth_nonce_used"),
            "{r}"
        );
        assert_eq!(
            String::from_utf8_lossy(&run_cli(&["state", "info", s]).stdout),
            String::from_utf8_lossy(&before)
        );
    }
    // A nonce or a validity needs a key, and nobody can claim a sender.
    let counter = fixture("counter.wat");
    let out = run_cli(&[
        "run",
        path_str(&counter),
        "--entry",
        "increment",
        "--nonce",
        "1",
    ]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--nonce and --valid-until sign"));
    let out = run_cli(&["run", "x.wat", "--entry", "run", "--sender", "00"]);
    assert_eq!(code(&out), 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unexpected argument '--sender'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A file that is not a key.
    let junk = dir.path().join("junk.key");
    std::fs::write(&junk, "verity-key-v1 ed25519 zz\n").unwrap();
    let out = run_cli(&["key", "show", path_str(&junk)]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a key file"));
}

/// Envelopes (docs/auth.md): a transfer made with `--public-key` is signed
/// by openssl over `verity tx hash`, attached by `tx sign` (which refuses a
/// signature that does not verify), submitted once, verified with its
/// witness; submitting it again is `auth_nonce_used`. A P-256 deploy is
/// signed by `tx sign --key`, refused with another module or another
/// key, and runs with its own.
#[test]
fn an_envelope_signed_by_openssl_is_submitted_once_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("state");
    let s = path_str(&state);
    let owner = account(d, 1);
    let token = deploy_token(&state, &owner)["contract"]
        .as_str()
        .unwrap()
        .to_string();
    let sh = |script: &str| {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    sh("openssl genpkey -algorithm ed25519 -out a.pem");
    let public =
        sh("openssl pkey -in a.pem -pubout -outform DER | tail -c 32 | od -An -tx1 | tr -d ' \\n'");
    assert_eq!(public.len(), 64, "{public}");
    let envelope = d.join("t.env");
    let e = path_str(&envelope);
    let to = format!("to={}", owner.address);
    let out = run_cli(&[
        "call",
        &token,
        "--entry",
        "transfer",
        "--arg",
        &to,
        "--arg",
        "amount=3",
        "--public-key",
        &public,
        "--nonce",
        "5",
        "--valid-until",
        "10",
        "--envelope",
        e,
        "--state",
        s,
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("unsigned"));
    let shown = stdout_json(&run_cli(&["tx", "show", e, "--json"]));
    assert_eq!(shown["signature"], Value::Null);
    assert_eq!(shown["public_key"], public.as_str());
    let alice = shown["sender"].as_str().unwrap().to_string();
    let mint = format!("to={alice}");
    let out = run_cli(&[
        "call",
        &token,
        "--entry",
        "mint",
        "--arg",
        &mint,
        "--arg",
        "amount=50",
        "--key",
        &owner.key,
        "--state",
        s,
    ]);
    assert_eq!(code(&out), 0);
    // Unsigned: refused before anything runs.
    let out = run_cli(&["tx", "submit", e, "--state", s]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not signed"));
    let hash = String::from_utf8(run_cli(&["tx", "hash", e]).stdout).unwrap();
    assert_eq!(hash.trim(), shown["tx_hash"].as_str().unwrap());
    std::fs::write(d.join("h.bin"), hex::decode(hash.trim()).unwrap()).unwrap();
    sh("openssl pkeyutl -sign -rawin -inkey a.pem -in h.bin -out sig.bin");
    let mut wrong = std::fs::read(d.join("sig.bin")).unwrap();
    wrong[0] ^= 1;
    let out = run_cli(&["tx", "sign", e, "--signature", &hex::encode(&wrong)]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("auth_bad_signature"));
    let sig = format!("@{}", path_str(&d.join("sig.bin")));
    assert_eq!(code(&run_cli(&["tx", "sign", e, "--signature", &sig])), 0);
    let (receipt, witness) = (d.join("r.json"), d.join("r.witness"));
    let out = run_cli(&[
        "tx",
        "submit",
        e,
        "--state",
        s,
        "--json",
        "--receipt",
        path_str(&receipt),
        "--witness",
        path_str(&witness),
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let r = stdout_json(&out);
    assert_eq!(r["sender"], alice.as_str());
    assert_eq!(r["auth"]["tx_hash"], shown["tx_hash"]);
    let out = run_cli(&[
        "verify",
        path_str(&receipt),
        "--module",
        path_str(&fixture("wasm/token.wasm")),
        "--witness",
        path_str(&witness),
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let again = stdout_json(&run_cli(&["tx", "submit", e, "--state", s, "--json"]));
    assert!(
        again["reason"]
            .as_str()
            .unwrap()
            .starts_with("auth_nonce_used"),
        "{again}"
    );

    // P-256, a deploy: the envelope signs the module's hash.
    let p256 = d.join("p.key");
    assert_eq!(
        code(&run_cli(&[
            "key",
            "new",
            path_str(&p256),
            "--scheme",
            "p256"
        ])),
        0
    );
    let public = stdout_json(&run_cli(&["key", "show", path_str(&p256), "--json"]))["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    let counter = fixture("counter.wat");
    let deploy = d.join("d.env");
    let out = run_cli(&[
        "deploy",
        path_str(&counter),
        "--public-key",
        &public,
        "--envelope",
        path_str(&deploy),
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let out = run_cli(&["tx", "sign", path_str(&deploy), "--key", &owner.key]);
    assert_eq!(code(&out), 2, "another key signs nothing");
    assert!(String::from_utf8_lossy(&out.stderr).contains("the key is not the envelope's"));
    assert_eq!(
        code(&run_cli(&[
            "tx",
            "sign",
            path_str(&deploy),
            "--key",
            path_str(&p256)
        ])),
        0
    );
    let out = run_cli(&[
        "tx",
        "submit",
        path_str(&deploy),
        "--module",
        path_str(&fixture("kitchen_sink.wat")),
        "--state",
        s,
    ]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("the envelope signs the code"));
    let out = run_cli(&[
        "tx",
        "submit",
        path_str(&deploy),
        "--module",
        path_str(&counter),
        "--state",
        s,
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(stdout_json(&out)["auth"]["scheme"], "p256");
    // Not an envelope.
    std::fs::write(d.join("junk.env"), b"verity.envelope.v1\0\xff").unwrap();
    let out = run_cli(&["tx", "show", path_str(&d.join("junk.env"))]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an envelope"));
}

/// Reading a state and a receipt as a person would (issue 24, section 3):
/// `state contracts` lists contracts in address order with their code;
/// `state keys` pages through a contract's keys in key order, with a
/// prefix; `receipt show` prints a receipt file back, decoded with its
/// module, and refuses an edited one; a mistyped entry gets a suggestion.
#[test]
fn state_contracts_keys_and_receipt_show_read_back_what_ran() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = path_str(&state);
    let owner = account(dir.path(), 1);
    let token = deploy_token(&state, &owner)["contract"]
        .as_str()
        .unwrap()
        .to_string();
    let receipt = dir.path().join("mint.json");
    for (i, to) in ["0a", "0b", "0c"].iter().enumerate() {
        let to = format!("to={}", to.repeat(32));
        let mut argv = vec![
            "call", &token, "--entry", "mint", "--arg", &to, "--arg", "amount=5", "--key",
            &owner.key, "--state", s,
        ];
        if i == 2 {
            argv.extend(["--receipt", path_str(&receipt)]);
        }
        assert_eq!(code(&run_cli(&argv)), 0);
    }
    let listed = stdout_json(&run_cli(&["state", "contracts", s, "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["contract"], token.as_str());
    assert_eq!(listed[0]["admin"], owner.address.as_str());
    // Balances are `bal\0 ‖ address`: three, in key order, two a page.
    let page = |after: Option<&str>| {
        let mut argv = vec![
            "state", "keys", s, &token, "--prefix", "62616c00", "--limit", "2", "--json",
        ];
        if let Some(a) = after {
            argv.extend(["--after", a]);
        }
        stdout_json(&run_cli(&argv))
    };
    let first = page(None);
    let keys: Vec<&str> = first["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            format!("62616c00{}", "0a".repeat(32)),
            format!("62616c00{}", "0b".repeat(32))
        ]
    );
    let next = first["next"].as_str().unwrap().to_string();
    assert_eq!(next, keys[1]);
    let second = page(Some(&next));
    assert_eq!(second["keys"].as_array().unwrap().len(), 1);
    // The same keys as the SDK lays them out: a map key as JSON of its
    // type, an item by its name, values decoded by a type.
    let key_json = format!("\"{}\"", "0b".repeat(32));
    let typed = |extra: &[&str]| {
        let mut argv = vec!["state", "get", s, &token];
        argv.extend_from_slice(extra);
        run_cli(&argv)
    };
    let by_map = typed(&[
        "--map",
        "bal",
        "--key-type",
        "Address",
        "--key-json",
        &key_json,
        "--value-type",
        "u64",
        "--json",
    ]);
    assert_eq!(
        code(&by_map),
        0,
        "{}",
        String::from_utf8_lossy(&by_map.stderr)
    );
    let by_map = stdout_json(&by_map);
    assert_eq!(
        by_map["key"],
        format!("62616c00{}", "0b".repeat(32)).as_str()
    );
    assert_eq!(by_map["decoded"], Value::from(5));
    let by_hex = stdout_json(&typed(&[&format!("62616c00{}", "0b".repeat(32)), "--json"]));
    assert_eq!(by_hex["state_key"], by_map["state_key"]);
    assert_eq!(by_hex["proof"], by_map["proof"]);
    assert!(by_hex.get("decoded").is_none());
    let supply = typed(&["--item", "supply", "--value-type", "u64"]);
    assert_eq!(code(&supply), 0);
    assert!(
        String::from_utf8_lossy(&supply.stdout).contains("as     u64: 15\n"),
        "{}",
        String::from_utf8_lossy(&supply.stdout)
    );
    for (extra, says) in [
        (
            &["--map", "bal", "--key-type", "Vec<", "--key-json", "1"][..],
            "not a type",
        ),
        (
            &[
                "--map",
                "bal",
                "--key-type",
                "Address",
                "--key-json",
                "\"zz\"",
            ],
            "--key-json",
        ),
        (
            &["--map", "bal", "--key-type", "Address", "--key-json", "{"],
            "is not JSON",
        ),
        (&["--map", "bal", "--key-type", "Address"], "--key-json"),
        (&["--item", "owner", "--value-type", "u64"], "--value-type"),
        (&["--item", "owner", "62616c00"], "cannot be used with"),
    ] {
        let out = typed(extra);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), 2, "{extra:?}: {err}");
        assert!(err.contains(says), "{extra:?}: {err}");
    }
    let nobody = "0d".repeat(32);
    let out = run_cli(&[
        "state",
        "get",
        s,
        &nobody,
        "--item",
        "supply",
        "--value-type",
        "u64",
    ]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no contract"));
    assert_eq!(
        second["keys"][0]["key"],
        format!("62616c00{}", "0c".repeat(32)).as_str()
    );
    assert_eq!(second["next"], Value::Null);
    let out = run_cli(&["state", "keys", s, &"77".repeat(32)]);
    assert_eq!(code(&out), 2);

    let token_wasm = fixture("wasm/token.wasm");
    let out = run_cli(&[
        "receipt",
        "show",
        path_str(&receipt),
        "--module",
        path_str(&token_wasm),
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("status    success") && shown.contains("event    Mint"),
        "{shown}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not verified"));
    let json = stdout_json(&run_cli(&["receipt", "show", path_str(&receipt), "--json"]));
    let saved: Value = serde_json::from_slice(&std::fs::read(&receipt).unwrap()).unwrap();
    assert_eq!(json, saved);
    let mut edited = saved.clone();
    edited["fuel_used"] = Value::from(1);
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, edited.to_string()).unwrap();
    let out = run_cli(&["receipt", "show", path_str(&bad)]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("the file was edited"));
    let out = run_cli(&[
        "receipt",
        "show",
        path_str(&receipt),
        "--module",
        path_str(&fixture("counter.wat")),
    ]);
    assert_eq!(code(&out), 2, "another module decodes nothing");

    let out = run_cli(&["call", &token, "--entry", "trasnfer", "--state", s]);
    assert_eq!(code(&out), 1, "the run is still made: a rejected receipt");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did you mean `transfer`?"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
