//! Corrupted modules (valid ones with bytes overwritten, truncated or
//! extended) end in a receipt, never a panic, and in the same receipt twice.
//! A bounded, always-on version of the `execute_module` fuzz target
//! (docs/fuzzing.md).

use std::sync::OnceLock;

use proptest::prelude::*;
use verity_runtime::{MemoryState, Profile, Runtime, Transaction, module_bytes};

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(Profile::default()).unwrap())
}

fn seeds() -> &'static Vec<Vec<u8>> {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/");
        [
            "counter.wat",
            "kitchen_sink.wat",
            "fuel_edge.wat",
            "wasm/token.wasm",
            "wasm/hasher.wasm",
        ]
        .iter()
        .map(|f| module_bytes(&std::fs::read(format!("{root}{f}")).unwrap()).unwrap())
        .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn corrupted_modules_end_in_a_deterministic_receipt(
        seed in 0usize..5,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in prop::option::of(any::<prop::sample::Index>()),
        tail in prop::collection::vec(any::<u8>(), 0..16),
        entry in prop::sample::select(vec!["run", "increment", "loop1000", "mint", "hash"]),
    ) {
        let mut code = seeds()[seed].clone();
        for (at, byte) in edits {
            let i = at.index(code.len());
            code[i] = byte;
        }
        if let Some(cut) = cut {
            code.truncate(cut.index(code.len() + 1));
        }
        code.extend(tail);
        let tx = Transaction::new(entry).with_fuel(200_000);
        let state = MemoryState::default();
        let a = runtime().execute(&code, &tx, &state).expect("a memory state never fails");
        let b = runtime().execute(&code, &tx, &state).unwrap();
        prop_assert_eq!(a.encode(), b.encode());
        prop_assert!(a.fuel_used <= a.fuel_limit);
    }
}
