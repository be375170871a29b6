//! The peak memory of the `verity` process, in a test binary of its own.
//!
//! On Linux a child's `ru_maxrss` starts at its parent's peak: `exec`
//! folds the high-water mark of the address space it replaces (the
//! parent's, spawned through `vfork`) into the new process's. The peak a
//! test measures of the CLI is therefore at least this process's own,
//! which `tests/all`, running its other tests (compilers and large states
//! among them) on parallel threads, does not keep small: there the state
//! test below measured 159 MB for a CLI that peaks at 19 MB. This binary
//! runs only these measurements, and each keeps what it holds small.

use std::path::Path;

use serde_json::Value;
use verity_runtime::Profile;

#[path = "all/common.rs"]
#[allow(
    dead_code,
    reason = "the helpers of tests/all, of which this binary uses some"
)]
mod common;

use common::{code, fixture, path_str, run_cli, stdout_json, verity, with_spec};

/// Runs the CLI with `args` and returns its exit code, its standard output
/// and the peak resident memory, in bytes, of that one process (not of
/// the other processes this test binary runs, a compiler among them).
fn run_measured(args: &[&str]) -> (i32, Vec<u8>, u64) {
    use std::io::{Read, Seek};
    let mut stdout = tempfile::tempfile().unwrap();
    #[expect(
        clippy::zombie_processes,
        reason = "reaped by wait4 below, which also reports its resource use"
    )]
    let child = verity()
        .args(args)
        .stdout(stdout.try_clone().unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `wait4` waits for the child `pid` (ours, not yet waited for:
    // `child` is never waited on or killed) and writes its exit status and
    // a `rusage` to the two pointers, which point to memory of those types.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, usage.as_mut_ptr()) };
    assert_eq!(waited, pid, "wait4 failed");
    // SAFETY: wait4 returned the child's pid, so it filled the struct.
    let usage = unsafe { usage.assume_init() };
    assert!(libc::WIFEXITED(status), "the CLI did not exit normally");
    let mut out = Vec::new();
    stdout.rewind().unwrap();
    stdout.read_to_end(&mut out).unwrap();
    // ru_maxrss is in KiB on Linux.
    let peak = u64::try_from(usage.ru_maxrss).unwrap() * 1024;
    (libc::WEXITSTATUS(status), out, peak)
}

/// Everything a transaction can make the host hold at once (memory grown
/// and filled to the cap, the most and largest events, a full write set,
/// the largest output), run through the CLI with its JSON receipt: the
/// process stays under the 256 MB the profile promises (docs/costs.md).
#[test]
fn the_worst_transaction_stays_under_256_mb() {
    let (code, stdout, peak) = run_measured(&[
        "run",
        path_str(&fixture("adversarial/memory_worst.wat")),
        "--entry",
        "run",
        "--fuel",
        "100000000",
        "--json",
    ]);
    assert_eq!(code, 0);
    let receipt: Value = serde_json::from_slice(&stdout).unwrap();
    assert_eq!(receipt["events"].as_array().unwrap().len(), 256);
    assert!(
        peak < 256 << 20,
        "the CLI process peaked at {} MB",
        peak >> 20
    );
    // The measurement is of this process: it did hold the 16 MiB memory.
    assert!(peak > 16 << 20, "implausible peak of {} KB", peak >> 10);
}

/// The deepest, largest frames at once: a contract that grows its memory
/// to the cap, makes every page resident, and calls itself (a direct
/// self-call is allowed) until `max_call_depth` refuses, so that every
/// frame's 16 MiB is live at the bottom. Through the CLI, the process stays
/// under the 256 MB the profile promises (docs/calls.md, "Memory").
#[test]
fn the_deepest_chain_of_largest_frames_stays_under_256_mb() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let module = dir.path().join("deep.wat");
    std::fs::write(
        &module,
        r#"(module
  (import "verity" "current_contract" (func $me (param i32)))
  (import "verity" "call" (func $call (param i32 i32 i32 i32 i32 i64) (result i32)))
  (import "verity" "output_set" (func $out (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "run")
  (func (export "run") (local $p i32)
    (drop (memory.grow (i32.const 255)))
    (loop $touch
      (i32.store8 (local.get $p) (i32.const 1))
      (local.set $p (i32.add (local.get $p) (i32.const 4096)))
      (br_if $touch (i32.lt_u (local.get $p) (i32.const 0x1000000))))
    (call $me (i32.const 0))
    (i32.store8 (i32.const 32)
      (call $call (i32.const 0) (i32.const 64) (i32.const 3) (i32.const 0) (i32.const 0) (i64.const 0)))
    (call $out (i32.const 32) (i32.const 1))))"#,
    )
    .unwrap();
    let s = path_str(&state);
    assert_eq!(code(&run_cli(&["state", "init", s])), 0);
    let out = run_cli(&["deploy", path_str(&module), "--state", s, "--json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let contract = stdout_json(&out)["contract"].as_str().unwrap().to_string();
    let (exit, stdout, peak) = run_measured(&[
        "call",
        &contract,
        "--entry",
        "run",
        "--fuel",
        "400000000",
        "--state",
        s,
        "--json",
    ]);
    let receipt: Value = serde_json::from_slice(&stdout).unwrap();
    assert_eq!(exit, 0, "{receipt}");
    let depth = Profile::default().limits.max_call_depth as usize;
    let calls = receipt["calls"].as_array().unwrap();
    assert_eq!(calls.len(), depth, "one frame per depth, the last refused");
    assert_eq!(calls[depth - 1]["depth"], Value::from(depth));
    // The deepest frame's call was refused; every other frame saw success.
    assert_eq!(receipt["output"], Value::from("00"));
    assert!(
        peak < 256 << 20,
        "the CLI process peaked at {} MB",
        peak >> 20
    );
    // It did hold every frame's memory at once.
    let frames = (depth as u64 + 1) * (16 << 20);
    assert!(
        peak > frames,
        "peak of {} MB is below the frames' {} MB",
        peak >> 20,
        frames >> 20
    );
}

/// The decode bomb of issue 20: a spec declaring `Vec<Vec<S>>` (`S` a
/// zero-sized struct whose long name shares a prefix with 56 others) and a
/// run emitting 256 events of 8 KiB of such data, which asked for millions
/// of JSON values per event. One budget covers the whole receipt: the
/// receipt prints, with a note, within 64 MB, through `run` and `verify`.
#[test]
fn a_decode_bomb_prints_within_its_budget() {
    use verity_runtime::abi::spec::{
        ContractSpec, EntrySpec, EventDef, Fields, TypeBody, TypeDef, TypeSpec,
    };
    let long = "S".repeat(200);
    let spec = ContractSpec {
        entries: vec![EntrySpec {
            name: "run".into(),
            doc: String::new(),
            args: vec![],
            returns: TypeSpec::Unit,
            error: None,
        }],
        types: (0..57)
            .map(|i| TypeDef {
                name: format!("{long}{i}"),
                doc: String::new(),
                body: TypeBody::Struct(Fields::Unit),
            })
            .collect(),
        errors: vec![],
        events: vec![EventDef {
            name: "Bomb".into(),
            doc: String::new(),
            topic: "b".into(),
            data: TypeSpec::Vec(Box::new(TypeSpec::Vec(Box::new(TypeSpec::Named(format!(
                "{long}56"
            )))))),
        }],
    };
    // 8 KiB of data: an outer length, then inner lengths of 1,024 + what
    // is left, each a 2-byte varint: about 4,000 vecs of 8,000 values.
    let size = 8 << 10;
    let mut data = vec![0xff, 0x1f]; // 4,095 inner vecs
    while data.len() < size {
        data.extend_from_slice(&[0x80 | 0x7f, 0x3f]); // 8,191 elements each
    }
    let hexed: String = data.iter().map(|b| format!("\\{b:02x}")).collect();
    let wat = format!(
        r#"(module
  (import "verity" "event_emit" (func $emit (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "b")
  (data (i32.const 16) "{hexed}")
  (func (export "run") (local $i i32)
    (loop $l
      (call $emit (i32.const 0) (i32.const 1) (i32.const 16) (i32.const {size}))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 256))))))"#
    );
    let module = with_spec(&wat, &spec);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.wasm");
    std::fs::write(&path, &module).unwrap();
    let receipt = dir.path().join("r.json");

    let (code, stdout, peak) = run_measured(&[
        "run",
        path_str(&path),
        "--entry",
        "run",
        "--receipt",
        path_str(&receipt),
    ]);
    let text = String::from_utf8_lossy(&stdout);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("note     decoding stopped after"),
        "{}",
        &text[..text.len().min(2000)]
    );
    assert!(peak < 64 << 20, "run peaked at {} MB", peak >> 20);
    let (code, stdout, peak) =
        run_measured(&["verify", path_str(&receipt), "--module", path_str(&path)]);
    let text = String::from_utf8_lossy(&stdout);
    assert_eq!(code, 0, "{}", &text[..text.len().min(2000)]);
    assert!(text.contains("note     decoding stopped after"));
    assert!(peak < 64 << 20, "verify peaked at {} MB", peak >> 20);
}

/// A call and the read commands on a large state hold what they touch, not
/// the state: the CLI's peak RSS on a state of 400,000 keys is within 16 MB
/// of its peak on a state of two contracts (redb's page cache is capped at
/// 8 MiB and the tree lives on disk; a tree held in memory took about 42 MB
/// more at this size, docs/state.md),
/// and under the 256 MB the profile promises. The state is grown through
/// the CLI, as any sender could: a process's peak RSS counts its parent's
/// at the moment it was started, so this test process must stay small.
#[test]
fn a_call_in_a_large_state_holds_what_it_touches_not_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = path_str(&state);
    let filler = dir.path().join("filler.wat");
    // `fill` writes 40,000 new keys of 1 byte after those of earlier calls
    // (near the write set's 1 MiB).
    std::fs::write(
        &filler,
        r#"(module
  (import "verity" "storage_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "verity" "storage_write" (func $write (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "n")
  (func (export "fill") (local $i i32) (local $end i32)
    (drop (call $read (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 4)))
    (local.set $i (i32.load (i32.const 8)))
    (local.set $end (i32.add (local.get $i) (i32.const 40000)))
    (loop $next
      (i32.store (i32.const 16) (local.get $i))
      (call $write (i32.const 16) (i32.const 4) (i32.const 64) (i32.const 1))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (local.get $end))))
    (i32.store (i32.const 8) (local.get $i))
    (call $write (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 4))))"#,
    )
    .unwrap();
    assert_eq!(code(&run_cli(&["state", "init", s])), 0);
    let deploy = |module: &Path, salt: &str| {
        let out = run_cli(&[
            "deploy",
            path_str(module),
            "--salt",
            salt,
            "--state",
            s,
            "--json",
        ]);
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        stdout_json(&out)["contract"].as_str().unwrap().to_string()
    };
    let counter = deploy(&fixture("counter.wat"), &"00".repeat(32));
    let filler = deploy(&filler, &"01".repeat(32));
    let peaks = || -> Vec<u64> {
        let commands: [&[&str]; 3] = [
            &[
                "call",
                &counter,
                "--entry",
                "increment",
                "--fuel",
                "1000000",
                "--state",
                s,
                "--json",
            ],
            &["state", "info", s, "--json"],
            &["state", "contract", s, &counter, "--json"],
        ];
        commands
            .iter()
            .map(|args| {
                let (exit, stdout, peak) = run_measured(args);
                assert_eq!(exit, 0, "{args:?}: {}", String::from_utf8_lossy(&stdout));
                peak
            })
            .collect()
    };
    let small = peaks();
    for _ in 0..10 {
        let out = run_cli(&[
            "call",
            &filler,
            "--entry",
            "fill",
            "--fuel",
            "400000000",
            "--state",
            s,
        ]);
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    }
    let info = stdout_json(&run_cli(&["state", "info", s, "--json"]));
    assert!(info["keys"].as_u64().unwrap() > 400_000, "{info}");
    let large = peaks();
    for ((small, large), command) in small.iter().zip(&large).zip(["call", "info", "contract"]) {
        eprintln!(
            "{command}: {} KB small, {} KB large",
            small >> 10,
            large >> 10
        );
        assert!(*large < 256 << 20, "{command} peaked at {} MB", large >> 20);
        assert!(
            *large < small + (16 << 20),
            "{command} peaked at {} MB on the large state, {} MB on the small one",
            large >> 20,
            small >> 20
        );
    }
}
