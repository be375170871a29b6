//! Prepared modules and the on-disk artifact cache: the fast paths give the
//! receipts of the slow ones, and a damaged cache costs a compilation,
//! never an outcome.

use verity_runtime::{
    Compiler, MemoryState, Profile, Receipt, Runtime, RuntimeError, Transaction, VerifyError,
    module_bytes,
};

/// Reads and writes state, emits an event, and reverts on request.
const KV: &str = r#"(module
  (import "verity" "storage_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "verity" "storage_write" (func $write (param i32 i32 i32 i32)))
  (import "verity" "event_emit" (func $emit (param i32 i32 i32 i32)))
  (import "verity" "abort" (func $abort (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "keyvaluenope")
  (func (export "run")
    (drop (call $read (i32.const 0) (i32.const 3) (i32.const 100) (i32.const 16)))
    (call $write (i32.const 0) (i32.const 3) (i32.const 3) (i32.const 5))
    (call $emit (i32.const 3) (i32.const 5) (i32.const 0) (i32.const 3)))
  (func (export "fail") (call $abort (i32.const 8) (i32.const 4))))"#;

fn wasm() -> Vec<u8> {
    module_bytes(KV.as_bytes()).unwrap()
}

fn state() -> MemoryState {
    [(b"key".to_vec(), b"old".to_vec())].into_iter().collect()
}

fn txs() -> Vec<Transaction> {
    vec![
        Transaction::new("run").with_sender(b"alice".to_vec()),
        Transaction::new("fail"),
        Transaction::new("run").with_fuel(3),
        Transaction::new("missing"),
        Transaction::new("run").with_input(vec![0; 1 << 20]),
    ]
}

#[test]
fn execute_prepared_gives_the_receipts_of_execute() {
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let module = rt.prepare(&wasm()).unwrap();
    let statuses: Vec<_> = txs()
        .iter()
        .map(|tx| {
            let slow = rt.execute(&wasm(), tx, &state()).unwrap();
            let fast = rt.execute_prepared(&module, tx, &state()).unwrap();
            assert_eq!(slow.encode(), fast.encode(), "{}", slow.status);
            rt.verify_prepared(&module, &fast).unwrap();
            slow.status.name()
        })
        .collect();
    // The cases cover every kind of outcome the fast path must preserve.
    assert_eq!(
        statuses,
        ["success", "reverted", "out_of_fuel", "rejected", "rejected"]
    );
}

#[test]
fn verify_prepared_refuses_what_verify_refuses() {
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let module = rt.prepare(&wasm()).unwrap();
    let receipt = rt.execute_prepared(&module, &txs()[0], &state()).unwrap();

    let mut tampered = receipt.clone();
    tampered.fuel_used += 1;
    assert!(matches!(
        rt.verify_prepared(&module, &tampered),
        Err(VerifyError::Mismatch(m)) if m.len() == 1 && m[0].field == "fuel_used"
    ));

    let other = rt
        .prepare(&module_bytes(b"(module (func (export \"run\")))").unwrap())
        .unwrap();
    assert!(matches!(
        rt.verify_prepared(&other, &receipt),
        Err(VerifyError::CodeMismatch { .. })
    ));
}

#[test]
fn verify_batch_gives_each_receipt_the_verdict_of_verify_prepared() {
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let module = rt.prepare(&wasm()).unwrap();
    let other = rt
        .prepare(&module_bytes(b"(module (func (export \"run\")))").unwrap())
        .unwrap();
    // Every outcome, each also tampered with, and one against the wrong
    // module: 2 x 5 + 1 receipts, good and bad interleaved.
    let mut receipts = Vec::new();
    for tx in txs() {
        let good = rt.execute_prepared(&module, &tx, &state()).unwrap();
        let mut bad = good.clone();
        bad.output.push(1);
        receipts.push((&*module, good));
        receipts.push((&*module, bad));
    }
    receipts.push((&*other, receipts[0].1.clone()));
    let items: Vec<_> = receipts.iter().map(|(m, r)| (*m, r)).collect();
    let expected: Vec<String> = items
        .iter()
        .map(|(m, r)| format!("{:?}", rt.verify_prepared(m, r)))
        .collect();
    let oks = expected.iter().filter(|e| *e == "Ok(())").count();
    assert_eq!((oks, expected.len()), (5, 11), "{expected:#?}");
    for threads in [1, 2, 3, 16] {
        let got: Vec<String> = rt
            .verify_batch(&items, threads.try_into().unwrap())
            .iter()
            .map(|r| format!("{r:?}"))
            .collect();
        assert_eq!(got, expected, "{threads} threads");
    }
    assert!(rt.verify_batch(&[], std::num::NonZeroUsize::MIN).is_empty());
}

#[test]
fn a_module_prepared_by_another_runtime_is_refused() {
    let a = Runtime::new(Profile::asserted_senders()).unwrap();
    let b = Runtime::new(Profile::asserted_senders()).unwrap();
    let module = a.prepare(&wasm()).unwrap();
    assert!(matches!(
        b.execute_prepared(&module, &txs()[0], &state()),
        Err(RuntimeError::ForeignModule)
    ));
}

fn cached(dir: &std::path::Path, compiler: Compiler) -> Runtime {
    Runtime::builder(Profile::asserted_senders())
        .compiler(compiler)
        .artifact_cache_path(dir)
        .unwrap()
        .build()
        .unwrap()
}

fn receipts(rt: &Runtime) -> Vec<Receipt> {
    txs()
        .iter()
        .map(|tx| rt.execute(&wasm(), tx, &state()).unwrap())
        .collect()
}

fn artifact_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "vart"))
        .collect();
    files.sort();
    files
}

#[test]
fn a_second_runtime_loads_the_compiled_module_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let plain = receipts(&Runtime::new(Profile::asserted_senders()).unwrap());

    let first = cached(dir.path(), Compiler::Cranelift);
    assert_eq!(receipts(&first), plain);
    let s = first.cache_stats();
    assert_eq!((s.compiled, s.artifact_writes, s.artifact_loads), (1, 1, 0));
    assert_eq!(artifact_files(dir.path()).len(), 1);

    let second = cached(dir.path(), Compiler::Cranelift);
    assert_eq!(receipts(&second), plain);
    let s = second.cache_stats();
    assert_eq!((s.compiled, s.artifact_loads, s.artifact_errors), (0, 1, 0));

    // Another compiler's artifacts live under another name.
    let winch = cached(dir.path(), Compiler::Winch);
    assert_eq!(receipts(&winch), plain);
    assert_eq!(winch.cache_stats().compiled, 1);
    assert_eq!(artifact_files(dir.path()).len(), 2);
}

#[test]
fn a_damaged_artifact_is_recompiled_and_replaced() {
    let plain = receipts(&Runtime::new(Profile::asserted_senders()).unwrap());
    type Damage = fn(&mut Vec<u8>);
    let damages: [(&str, Damage); 5] = [
        ("a flipped bit in the code", |b| {
            let at = b.len() - 100;
            b[at] ^= 4
        }),
        ("truncated", |b| b.truncate(b.len() / 2)),
        ("empty", |b| b.clear()),
        ("a flipped bit in the key", |b| b[9] ^= 1),
        ("a metadata length past the end", |b| {
            b[72..76].copy_from_slice(&u32::MAX.to_le_bytes())
        }),
    ];
    for (what, damage) in damages {
        let dir = tempfile::tempdir().unwrap();
        drop(receipts(&cached(dir.path(), Compiler::Cranelift)));
        let [file] = artifact_files(dir.path()).try_into().unwrap();
        let mut bytes = std::fs::read(&file).unwrap();
        damage(&mut bytes);
        std::fs::write(&file, &bytes).unwrap();

        let rt = cached(dir.path(), Compiler::Cranelift);
        assert_eq!(receipts(&rt), plain, "{what}");
        let s = rt.cache_stats();
        assert_eq!(
            (s.artifact_errors, s.compiled, s.artifact_writes),
            (1, 1, 1),
            "{what}"
        );
        assert!(rt.artifact_cache_error().is_some(), "{what}");

        // The file was replaced: the next runtime loads it.
        let next = cached(dir.path(), Compiler::Cranelift);
        assert_eq!(receipts(&next), plain, "{what}");
        assert_eq!(next.cache_stats().artifact_loads, 1, "{what}");
    }
}

#[test]
fn an_unwritable_cache_costs_nothing_but_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::builder(Profile::asserted_senders())
        .artifact_cache(
            cap_std::fs::Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority()).unwrap(),
        )
        .build()
        .unwrap();
    drop(dir); // the directory is gone: every write fails
    let plain = receipts(&Runtime::new(Profile::asserted_senders()).unwrap());
    assert_eq!(receipts(&rt), plain);
    let s = rt.cache_stats();
    assert_eq!(
        (s.compiled, s.artifact_writes, s.artifact_errors),
        (1, 0, 1)
    );
}

/// The cache evicts the least recently used module, not the oldest: a
/// module used between a stream of distinct one-shot modules (as cheap to
/// submit as anyone likes) is never compiled again.
#[test]
fn a_hot_module_survives_a_stream_of_cold_ones() {
    let rt = Runtime::builder(Profile::asserted_senders())
        .cache_capacity(4)
        .build()
        .unwrap();
    let hot = wasm();
    let run = |code: &[u8]| {
        rt.execute(code, &Transaction::new("run"), &MemoryState::default())
            .unwrap()
    };
    run(&hot);
    for i in 0..40u32 {
        let cold = module_bytes(
            format!(r#"(module (func (export "run")) (global i32 (i32.const {i})))"#).as_bytes(),
        )
        .unwrap();
        run(&cold);
        run(&hot);
    }
    let s = rt.cache_stats();
    assert_eq!(s.compiled, 41, "the hot module once, each cold one once");
    assert_eq!(s.memory_hits, 40, "every later run of the hot module hit");
}

/// Threads that miss on the same module at once compile it once.
#[test]
fn racing_threads_compile_a_module_once() {
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let code = wasm();
    let start = std::sync::Barrier::new(4);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                start.wait();
                rt.prepare(&code).unwrap();
            });
        }
    });
    // The others found it ready or waited for the first's compilation.
    let s = rt.cache_stats();
    assert_eq!(s.compiled, 1);
    assert!(s.memory_hits <= 3);
}

/// The fuel a transaction bringing `code` pays to prepare it, computed from
/// the rule (docs/costs.md), not from the runtime.
fn preparation_fuel(code: &[u8]) -> u64 {
    let profile = Profile::default();
    let instrumented = verity_runtime::instrument::instrument(code, &profile)
        .unwrap()
        .code
        .len() as u64;
    let rule = profile.costs.wasm_prepare;
    assert_eq!((rule.base, rule.per_unit), (400_000, 352));
    rule.base + rule.per_unit * instrumented
}

#[test]
fn preparation_is_charged_the_same_cold_and_warm() {
    let code = wasm();
    let costs = Profile::default().costs;
    let store = costs.storage_write.total(code.len() as u64);
    let prepare = preparation_fuel(&code);
    let dir = tempfile::tempdir().unwrap();
    let deploy = |salt: u8| Transaction::deploy(verity_runtime::Hash32([salt; 32]));
    // Cold (compiled here), warm (the memory cache), and from disk (a
    // second runtime loading the artifact): one charge.
    let cold = cached(dir.path(), Compiler::Cranelift);
    let first = cold
        .execute(&code, &deploy(1), &MemoryState::default())
        .unwrap();
    let warm = cold
        .execute(&code, &deploy(2), &MemoryState::default())
        .unwrap();
    assert_eq!(cold.cache_stats().memory_hits, 1);
    let loaded = cached(dir.path(), Compiler::Cranelift);
    let disk = loaded
        .execute(&code, &deploy(3), &MemoryState::default())
        .unwrap();
    assert_eq!(loaded.cache_stats().artifact_loads, 1);
    for r in [&first, &warm, &disk] {
        assert!(r.status.is_success(), "{}", r.status);
        assert_eq!(r.fuel_used, store + prepare);
    }
    // A one-shot run pays for preparing its code; a call of deployed code
    // pays to load it instead: the difference is exactly the two charges,
    // cold or warm.
    let mut state = MemoryState::default();
    state.commit(&first).unwrap();
    let call = Transaction::call(first.contract, "run");
    let called = cold.execute_call(&call, &state).unwrap();
    for rt in [&Runtime::new(Profile::asserted_senders()).unwrap(), &cold] {
        let ran = rt.execute(&code, &Transaction::new("run"), &state).unwrap();
        assert!(ran.status.is_success() && called.status.is_success());
        let load = rt.prepare(&code).unwrap().load_fuel(&costs);
        assert_eq!(ran.fuel_used + load, called.fuel_used + prepare);
    }
}

#[test]
fn a_deploy_that_cannot_pay_for_its_compile_changes_nothing() {
    let code = wasm();
    let costs = Profile::default().costs;
    let needed = costs.storage_write.total(code.len() as u64) + preparation_fuel(&code);
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let state = MemoryState::default();
    let deploy = Transaction::deploy(verity_runtime::Hash32::default());
    let short = rt
        .execute(&code, &deploy.clone().with_fuel(needed - 1), &state)
        .unwrap();
    assert_eq!(short.status.name(), "out_of_fuel");
    assert_eq!(short.fuel_used, needed - 1);
    assert!(short.writes.is_empty());
    assert_eq!(short.pre_state_root, short.post_state_root);
    let paid = rt
        .execute(&code, &deploy.with_fuel(needed), &state)
        .unwrap();
    assert!(paid.status.is_success(), "{}", paid.status);
    assert_eq!(paid.fuel_used, needed);
    // A one-shot run short of the charge runs nothing either.
    let run = Transaction::new("run").with_fuel(preparation_fuel(&code) - 1);
    let r = rt.execute(&code, &run, &state).unwrap();
    assert_eq!(
        (r.status.name(), r.writes.len(), r.events.len()),
        ("out_of_fuel", 0, 0)
    );
}

#[test]
fn a_transaction_that_cannot_pay_for_preparing_never_compiles() {
    let code = wasm();
    let prepare = preparation_fuel(&code);
    let store = Profile::default()
        .costs
        .storage_write
        .total(code.len() as u64);
    let deploy = |entry: &str, fuel: u64| {
        Transaction::deploy(verity_runtime::Hash32::default())
            .with_entry(entry)
            .with_fuel(fuel)
    };
    // The address of the deploy, already in use in `taken`.
    let mut taken = MemoryState::default();
    let first = Runtime::new(Profile::asserted_senders())
        .unwrap()
        .execute(&code, &deploy("", store + prepare), &taken)
        .unwrap();
    taken.commit(&first).unwrap();
    let empty = MemoryState::default();
    let cases: [(Transaction, &MemoryState, &str); 6] = [
        (
            Transaction::new("run").with_fuel(prepare - 1),
            &empty,
            "out_of_fuel",
        ),
        (
            Transaction::new("missing").with_fuel(prepare - 1),
            &empty,
            "rejected",
        ),
        (deploy("", store + prepare - 1), &empty, "out_of_fuel"),
        (deploy("run", store + prepare - 1), &empty, "out_of_fuel"),
        (deploy("missing", store + prepare - 1), &empty, "rejected"),
        (deploy("", store + prepare - 1), &taken, "rejected"),
    ];
    for (tx, state, status) in cases {
        // A node that never saw the code validates and instruments it, and
        // stops there; a node that has it compiled gives the same receipt.
        let cold = Runtime::new(Profile::asserted_senders()).unwrap();
        let receipt = cold.execute(&code, &tx, state).unwrap();
        assert_eq!(
            cold.cache_stats().compiled,
            0,
            "{} {}",
            tx.entry,
            receipt.status
        );
        assert_eq!(
            receipt.status.name(),
            status,
            "{}: {}",
            tx.entry,
            receipt.status
        );
        let warm = Runtime::new(Profile::asserted_senders()).unwrap();
        warm.prepare(&code).unwrap();
        assert_eq!(
            warm.execute(&code, &tx, state).unwrap().encode(),
            receipt.encode()
        );
        cold.verify(&code, &receipt).unwrap();
    }
    // One unit more and it compiles and runs.
    let cold = Runtime::new(Profile::asserted_senders()).unwrap();
    let paid = cold
        .execute(&code, &deploy("", store + prepare), &empty)
        .unwrap();
    assert!(paid.status.is_success());
    assert_eq!(cold.cache_stats().compiled, 1);
}
