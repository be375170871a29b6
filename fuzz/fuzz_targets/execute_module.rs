//! Arbitrary bytes as a module: validation, instrumentation, compilation and
//! a run must end in a receipt (any status), never a panic or a hang, and
//! the same receipt twice.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use verity_runtime::{MemoryState, Profile, Runtime, Transaction};

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(Profile::default()).unwrap())
}

fuzz_target!(|code: &[u8]| {
    let tx = Transaction::new("run").with_fuel(100_000);
    let state = MemoryState::default();
    let a = runtime().execute(code, &tx, &state).expect("no host error with a memory state");
    let b = runtime().execute(code, &tx, &state).unwrap();
    assert_eq!(a.encode(), b.encode());
});
