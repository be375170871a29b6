//! Every hostile fixture ends in its expected status, deterministically,
//! without touching the state.
//!
//! The corpus (fixtures/hostile/expected.tsv, one line per case): infinite
//! loops, memory and table bombs, forbidden imports and refused proposals, a
//! bad pointer to every host function, every limit of the profile, garbage
//! and truncated binaries. Each case runs twice and on both compilers with
//! identical receipt bytes; the adversarial cost corpus
//! (fixtures/adversarial) ends alike on both compilers too.

use std::sync::OnceLock;

use crate::common::{fixture, module, runtime};
use verity_runtime::{
    Allocation, Compiler, MemoryState, Profile, Receipt, Runtime, Status, Transaction,
};

struct Case {
    file: String,
    entry: String,
    fuel: u64,
    status: String,
    detail: String,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixture("hostile/expected.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            assert_eq!(c.len(), 5, "bad manifest line: {l:?}");
            Case {
                file: c[0].into(),
                entry: c[1].into(),
                fuel: c[2].parse().unwrap(),
                status: c[3].into(),
                detail: c[4].into(),
            }
        })
        .collect()
}

fn pre_state() -> MemoryState {
    [(b"k".to_vec(), b"before".to_vec())].into_iter().collect()
}

/// The runtimes every case runs on: receipts must not depend on the
/// compiler, nor on whether instances come from the pool or are mapped on
/// demand.
#[derive(Clone, Copy)]
enum Host {
    Cranelift,
    Winch,
    CraneliftOnDemand,
}

/// One shared runtime per host (compiled modules are cached).
fn runtime_for(host: Host) -> &'static Runtime {
    static RUNTIMES: OnceLock<[Runtime; 3]> = OnceLock::new();
    let runtimes = RUNTIMES.get_or_init(|| {
        let build = |c, a| {
            Runtime::builder(Profile::asserted_senders())
                .compiler(c)
                .allocation(a)
                .build()
                .unwrap()
        };
        [
            build(Compiler::Cranelift, Allocation::default()),
            build(Compiler::Winch, Allocation::default()),
            build(Compiler::Cranelift, Allocation::OnDemand),
        ]
    });
    &runtimes[host as usize]
}

fn run(case: &Case, host: Host) -> Receipt {
    let code = module(&fixture(&format!("hostile/{}", case.file)));
    // The manifest's fuel is the run's: a one-shot run first pays for
    // preparing its code (docs/costs.md), so a case meant to run out inside
    // a host call does not run out before it starts.
    let runtime = runtime_for(host);
    let prepare = runtime
        .prepare(&code)
        .map(|m| m.preparation_fuel(&Profile::default().costs))
        .unwrap_or(0);
    let tx = Transaction::new(case.entry.clone())
        .with_input(vec![1])
        .with_sender(vec![2])
        .with_context(vec![3])
        .with_fuel(case.fuel + prepare);
    runtime
        .execute(&code, &tx, &pre_state())
        .unwrap_or_else(|e| panic!("{} {}: host error {e}", case.file, case.entry))
}

fn check(case: &Case, r: &Receipt) {
    let name = format!("{} `{}`", case.file, case.entry);
    assert_eq!(r.status.name(), case.status, "{name}: {}", r.status);
    match &r.status {
        Status::Trapped { trap } => assert_eq!(trap.name(), case.detail, "{name}"),
        Status::Rejected { reason } => {
            assert!(
                reason.contains(&case.detail),
                "{name}: reason {reason:?} lacks {:?}",
                case.detail
            )
        }
        Status::Reverted { message } => assert_eq!(message, &case.detail, "{name}"),
        Status::Success | Status::OutOfFuel => assert!(case.detail.is_empty(), "{name}"),
    }
    if !r.status.is_success() {
        assert!(
            r.writes.is_empty() && r.events.is_empty() && r.output.is_empty(),
            "{name}"
        );
        let mut state = pre_state();
        let t = state.commit(r).unwrap();
        assert_eq!(t.pre_root, t.post_root, "{name}: a failed run committed");
        assert_eq!(r.pre_state_root, r.post_state_root, "{name}");
        assert_eq!(state, pre_state(), "{name}: state changed");
    }
    if r.status == Status::OutOfFuel {
        assert_eq!(r.fuel_used, r.fuel_limit, "{name}");
    }
    assert!(r.fuel_used <= r.fuel_limit, "{name}");
}

#[test]
fn corpus_is_large_and_every_file_is_listed() {
    let cases = cases();
    // Exact, so that a case cannot vanish with its file unnoticed: change
    // the count on purpose when adding or removing one.
    assert_eq!(cases.len(), 61, "hostile cases in the manifest");
    for entry in std::fs::read_dir(fixture("hostile")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".wat") || name.ends_with(".wasm") {
            assert!(
                cases.iter().any(|c| c.file == name),
                "{name} has no expected outcome"
            );
        }
    }
}

#[test]
fn every_hostile_module_ends_in_its_expected_status_alike_on_every_host() {
    for case in cases() {
        let first = run(&case, Host::Cranelift);
        check(&case, &first);
        let second = run(&case, Host::Cranelift);
        assert_eq!(
            first.encode(),
            second.encode(),
            "{} `{}` differs between runs",
            case.file,
            case.entry
        );
        let winch = run(&case, Host::Winch);
        assert_eq!(
            first.encode(),
            winch.encode(),
            "{} `{}` differs between Cranelift and Winch",
            case.file,
            case.entry
        );
        let on_demand = run(&case, Host::CraneliftOnDemand);
        assert_eq!(
            first.encode(),
            on_demand.encode(),
            "{} `{}` differs between pooled and on-demand instances",
            case.file,
            case.entry
        );
    }
}

#[test]
fn memory_bomb_stops_at_the_profile_page_cap() {
    let case = cases()
        .into_iter()
        .find(|c| c.file == "memory_bomb.wat" && c.entry == "run")
        .unwrap();
    let r = run(&case, Host::Cranelift);
    let pages = u32::from_le_bytes(r.output.try_into().unwrap());
    let cap = verity_runtime::Profile::default().limits.max_memory_pages;
    assert_eq!(
        pages,
        cap - 1,
        "grew from 1 page to {} instead of to the cap {cap}",
        pages + 1
    );
}

#[test]
fn data_segments_over_the_limit_are_rejected() {
    let limit = verity_runtime::Profile::default().limits.max_data_bytes as usize;
    let wat = format!(
        r#"(module (memory 32) (data (i32.const 0) "{}") (func (export "run")))"#,
        "A".repeat(limit + 1)
    );
    let wasm = verity_runtime::module_bytes(wat.as_bytes()).unwrap();
    let r = runtime()
        .execute(&wasm, &Transaction::new("run"), &pre_state())
        .unwrap();
    match r.status {
        Status::Rejected { reason } => {
            assert!(reason.contains("bytes of data segments"), "{reason}")
        }
        other => panic!("expected rejection, got {other}"),
    }
}

#[test]
fn oversized_modules_are_rejected_before_parsing() {
    let limit = verity_runtime::Profile::default().limits.max_module_bytes as usize;
    let r = runtime()
        .execute(
            &vec![0u8; limit + 1],
            &Transaction::new("run"),
            &pre_state(),
        )
        .unwrap();
    assert_eq!(
        r.status,
        Status::Rejected {
            reason: format!("module is {} bytes, over the limit of {limit}", limit + 1)
        }
    );
}

/// The adversarial corpus (`fixtures/adversarial/`, timed by `verity-bench
/// --only adversarial`): every module ends in its expected status at the
/// fuel the benchmark gives it, with byte-identical receipts on both
/// compilers. The slowest of them, the pointer chase, runs at `max_fuel`
/// here, so CI runs the worst transaction the profile allows.
#[test]
fn the_adversarial_corpus_ends_alike_on_both_compilers() {
    let dir = fixture("adversarial");
    let manifest = std::fs::read_to_string(dir.join("expected.tsv")).unwrap();
    let limits = Profile::default().limits;
    let mut cases = 0;
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let c: Vec<&str> = line.split('\t').collect();
        let (file, fuel, status) = (c[0], c[2].parse::<u64>().unwrap(), c[3]);
        assert!(fuel <= limits.max_fuel, "{file}: fuel over max_fuel");
        let code = module(&dir.join(file));
        let tx = Transaction::new("run").with_fuel(fuel);
        let [a, b] = [Host::Cranelift, Host::Winch].map(|h| {
            runtime_for(h)
                .execute(&code, &tx, &MemoryState::default())
                .unwrap()
        });
        assert_eq!(a.status.name(), status, "{file}: {}", a.status);
        assert_eq!(a.encode(), b.encode(), "{file}: Cranelift and Winch differ");
        cases += 1;
        if file == "read_flood.wat" {
            // The flood ends at the read-set cap: a precise status, and a
            // read set the profile bounds.
            assert_eq!(
                a.status,
                Status::Trapped {
                    trap: verity_runtime::TrapKind::ReadSetTooLarge
                }
            );
            assert_eq!(a.reads.len(), limits.max_read_keys as usize);
            let bytes: usize = a
                .reads
                .iter()
                .map(|r| r.key.len() + r.value.as_ref().map_or(0, Vec::len))
                .sum();
            assert!(bytes <= limits.max_read_bytes as usize);
            // A receipt that ends at the cap still verifies by re-execution.
            runtime_for(Host::Cranelift).verify(&code, &a).unwrap();
        }
    }
    // Exact, so that a module cannot vanish unnoticed.
    assert_eq!(cases, 36, "adversarial modules in the manifest");
}

/// The read that takes the read set past `max_read_bytes` is recorded
/// before the run traps, so a verifier replaying the receipt's read set
/// sees the same values and reaches the same trap; a receipt that leaves
/// that read out does not verify.
#[test]
fn a_run_stopped_by_the_read_bytes_cap_verifies_and_a_trimmed_read_set_does_not() {
    let limits = Profile::default().limits;
    let value = vec![7u8; limits.max_value_bytes as usize];
    // Reads keys 0, 1, 2, ... (4 bytes each), asking only for the length.
    let wat = r#"(module
      (import "verity" "storage_read" (func $read (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "run") (local $i i32)
        (loop $l
          (i32.store (i32.const 0) (local.get $i))
          (drop (call $read (i32.const 0) (i32.const 4) (i32.const 64) (i32.const 0)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l))))"#;
    let code = verity_runtime::module_bytes(wat.as_bytes()).unwrap();
    let me = verity_runtime::ContractId::one_shot(&verity_runtime::Hash32::of(&code));
    let state: MemoryState = (0u32..100)
        .map(|i| {
            let key = verity_runtime::abi::contract::storage_key(&me, &i.to_le_bytes());
            (key, value.clone())
        })
        .collect();
    let tx = Transaction::new("run").with_fuel(50_000_000);
    let rt = runtime_for(Host::Cranelift);
    let r = rt.execute(&code, &tx, &state).unwrap();
    assert_eq!(
        r.status,
        Status::Trapped {
            trap: verity_runtime::TrapKind::ReadSetTooLarge
        }
    );
    // The budget counts the guest's key (4 bytes), not the contract's prefix.
    let per_read = 4 + value.len();
    let crossing = limits.max_read_bytes as usize / per_read + 1;
    assert_eq!(r.reads.len(), crossing, "the crossing read is recorded");
    rt.verify(&code, &r).unwrap();
    // A lying receipt: the same run without its last read.
    let mut trimmed = r.clone();
    trimmed.reads.pop();
    assert!(rt.verify(&code, &trimmed).is_err());
}
