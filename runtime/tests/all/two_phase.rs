//! Execution in two phases: a run against a read-only view (`Runtime::run`,
//! which computes no root), then sealing with the state's roots. Many runs
//! share one view on many threads and each seals to the receipt that
//! `execute` gives; a refused or failed run seals to equal roots; the view
//! and the runtime are `Send + Sync` (a compile-time check).

use verity_runtime::{
    Execution, MemoryState, Profile, Runtime, StateBackend, StateView, Transaction,
};

fn token() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/wasm/token.wasm");
    std::fs::read(path).unwrap()
}

fn tx(entry: &str, sender: u8, input: Vec<u8>) -> Transaction {
    Transaction::new(entry)
        .with_input(input)
        .with_sender([sender; 32].to_vec())
}

/// A token with 1,000 minted to each of accounts 10..18.
fn minted(rt: &Runtime, code: &[u8]) -> MemoryState {
    let mut state = MemoryState::default();
    let init = tx("init", 1, postcard::to_allocvec(&([1u8; 32],)).unwrap());
    let r = rt.execute(code, &init, &state).unwrap();
    state.commit(&r).unwrap();
    for to in 10..18u8 {
        let mint = tx(
            "mint",
            1,
            postcard::to_allocvec(&([to; 32], 1_000u64)).unwrap(),
        );
        let r = rt.execute(code, &mint, &state).unwrap();
        assert!(r.status.is_success(), "{}", r.status);
        state.commit(&r).unwrap();
    }
    state
}

#[test]
fn runs_on_many_threads_against_one_view_seal_to_the_receipts_of_execute() {
    fn shared<T: Send + Sync + ?Sized>() {}
    shared::<Runtime>();
    shared::<Execution>();
    shared::<dyn StateView>();

    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let code = token();
    let state = minted(&rt, &code);
    let txs: Vec<Transaction> = (10..18u8)
        .map(|from| {
            let to = if from == 17 { 10 } else { from + 1 };
            tx(
                "transfer",
                from,
                postcard::to_allocvec(&([to; 32], 7u64)).unwrap(),
            )
        })
        .collect();
    let view: &dyn StateView = &state;
    let executions: Vec<Execution> = std::thread::scope(|s| {
        let handles: Vec<_> = txs
            .iter()
            .map(|t| s.spawn(|| rt.run(Some(&code), t, view).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (t, execution) in txs.iter().zip(executions) {
        assert!(execution.status().is_success(), "{}", execution.status());
        assert!(!execution.writes().is_empty());
        let roots = state.roots(execution.writes()).unwrap();
        let sealed = execution.seal(roots);
        assert_eq!(sealed.receipt, rt.execute(&code, t, &state).unwrap());
        assert_ne!(
            sealed.receipt.pre_state_root,
            sealed.receipt.post_state_root
        );
    }
}

#[test]
fn a_failed_run_has_no_writes_and_seals_to_equal_roots() {
    let rt = Runtime::new(Profile::asserted_senders()).unwrap();
    let code = token();
    let state = minted(&rt, &code);
    // Account 20 holds nothing: the transfer reverts.
    let t = tx(
        "transfer",
        20,
        postcard::to_allocvec(&([10u8; 32], 1u64)).unwrap(),
    );
    let execution = rt.run(Some(&code), &t, &state).unwrap();
    assert_eq!(execution.status().name(), "reverted");
    assert!(execution.writes().is_empty());
    assert!(
        !execution.reads().is_empty(),
        "it read the balance it lacked"
    );
    let sealed = execution.seal_with(&state).unwrap();
    assert_eq!(sealed.receipt.pre_state_root, state.root());
    assert_eq!(sealed.receipt.post_state_root, state.root());
    assert_eq!(sealed.receipt, rt.execute(&code, &t, &state).unwrap());
}
