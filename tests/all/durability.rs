//! The state directory survives crashes and concurrent writers: after any
//! kill, at any point of a commit, it holds the old or the new state, never
//! a mix and never a corrupt file; concurrent runs never lose an update.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::common::{fixture, verity};
use verity_runtime::StateView;
use verity_store::DirState;

/// Held by each test for its whole run. The tests read state directories
/// in this process while spawning `verity` processes; were two tests to
/// run at once, a child forked for one would inherit, until its `exec`,
/// the lock file descriptor another test is about to close, and that
/// test's next open would find the directory busy (seen in CI: the lock
/// is flock(2), shared by every copy of the descriptor).
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The counter fixture's value in `dir` (0 if never written). Panics if the
/// state file is corrupt.
fn count(dir: &Path) -> u64 {
    let state = DirState::open(dir).unwrap_or_else(|e| panic!("state unreadable: {e}"));
    state
        .get(&crate::common::one_shot_key("counter.wat", b"count"))
        .unwrap()
        .map(|v| u64::from_le_bytes(v.try_into().unwrap()))
        .unwrap_or(0)
}

/// A fresh, empty state directory (`verity state init`).
fn new_state() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    drop(DirState::create(dir.path()).unwrap());
    dir
}

fn increment(dir: &Path) -> Command {
    let mut cmd = verity();
    cmd.arg("run")
        .arg(fixture("counter.wat"))
        .args(["--entry", "increment", "--state"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

#[test]
fn a_crash_at_each_step_of_a_commit_leaves_the_old_or_the_new_state() {
    let _serial = serial();
    let dir = new_state();
    assert!(increment(dir.path()).status().unwrap().success());
    assert_eq!(count(dir.path()), 1);
    // Before the database's commit the old state stands; from it on, the new.
    for (step, delta) in [("before-commit", 0), ("after-commit", 1)] {
        let before = count(dir.path());
        let status = increment(dir.path())
            .env("VERITY_CRASH_AT", step)
            .status()
            .unwrap();
        assert!(!status.success(), "{step}: the process was meant to crash");
        assert_eq!(count(dir.path()), before + delta, "{step}");
        // A later run picks up from there.
        let after = count(dir.path());
        assert!(increment(dir.path()).status().unwrap().success(), "{step}");
        assert_eq!(count(dir.path()), after + 1, "{step}");
    }
}

#[test]
fn killing_runs_at_random_moments_never_corrupts_the_state() {
    let _serial = serial();
    let dir = new_state();
    let mut value = count(dir.path());
    // Deterministic spread of kill delays, 0..~25 ms: most land inside
    // process start-up, compilation, the run or the commit.
    let mut seed: u64 = 0x5EED;
    for round in 0..40 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_micros((seed >> 33) % 25_000);
        let mut child = increment(dir.path()).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let now = count(dir.path());
        assert!(
            now == value || now == value + 1,
            "round {round}: count went from {value} to {now}"
        );
        value = now;
    }
}

#[test]
fn a_held_directory_is_refused_with_a_clear_message() {
    let _serial = serial();
    let dir = new_state();
    let held = DirState::open(dir.path()).unwrap();
    let out = increment(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is in use by another process"), "{err}");
    drop(held);
    assert!(increment(dir.path()).status().unwrap().success());
    assert_eq!(count(dir.path()), 1);
}

#[test]
fn concurrent_runs_never_lose_an_update() {
    let _serial = serial();
    let dir = new_state();
    // Eight runs at once; each refused for the lock is retried (a bounded
    // number of rounds), so all eight commit and the count is exactly 8.
    let mut pending = 8;
    let mut committed = 0;
    for _round in 0..200 {
        if pending == 0 {
            break;
        }
        let children: Vec<_> = (0..pending)
            .map(|_| increment(dir.path()).spawn().unwrap())
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            match out.status.code() {
                Some(0) => {
                    committed += 1;
                    pending -= 1;
                }
                Some(2) => assert!(
                    String::from_utf8_lossy(&out.stderr).contains("in use by another process"),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                ),
                other => panic!("unexpected exit {other:?}"),
            }
        }
    }
    assert_eq!(committed, 8, "every run committed in the end");
    assert_eq!(count(dir.path()), 8, "no update was lost");
}
