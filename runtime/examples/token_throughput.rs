//! Token transfers per second on one thread under each instance allocation
//! setting, and receipts verified per second: the measurements behind the
//! defaults in docs/performance.md.
//!
//! ```sh
//! cargo run --release -p verity-runtime --example token_throughput [-- TXS]
//! ```
//!
//! Each setting runs the fixture token's `transfer` TXS times (default
//! 100,000) on a fresh runtime, through `execute_prepared`, hashing every
//! receipt; the best of three rounds is printed, since on a shared machine
//! noise only ever slows a round down.

use std::time::Instant;

use verity_runtime::{
    Allocation, MemoryState, PoolOptions, PreparedModule, Profile, Runtime, Transaction,
};

const ALICE: [u8; 32] = [2; 32];
const BOB: [u8; 32] = [3; 32];

/// postcard of `(address, amount)`: the address's 32 bytes, then the amount
/// as a varint.
fn address_and_amount(address: [u8; 32], mut amount: u64) -> Vec<u8> {
    let mut out = address.to_vec();
    loop {
        let byte = (amount & 0x7f) as u8;
        amount >>= 7;
        if amount == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// The token's state after `init` and a large `mint` to ALICE.
fn token_state(rt: &Runtime, token: &PreparedModule) -> MemoryState {
    let owner = [1u8; 32];
    let mut state = MemoryState::default();
    for (entry, input) in [
        ("init", owner.to_vec()),
        ("mint", address_and_amount(ALICE, u64::MAX / 2)),
    ] {
        let tx = Transaction::new(entry)
            .with_input(input)
            .with_sender(owner.to_vec());
        let receipt = rt.execute_prepared(token, &tx, &state).expect("host works");
        assert!(receipt.status.is_success(), "{entry}: {}", receipt.status);
        state.commit(&receipt).expect("made against this state");
    }
    state
}

/// Best of three rounds of `n` calls of `f`, in calls per second.
fn best_rate(n: usize, mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                f();
            }
            n as f64 / start.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("TXS must be a number"))
        .unwrap_or(100_000);
    let token = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/wasm/token.wasm"
    ))
    .expect("fixtures/wasm/token.wasm");
    let pooled = |keep_resident_bytes| {
        Allocation::Pooling(PoolOptions {
            keep_resident_bytes,
            ..PoolOptions::default()
        })
    };
    let settings = [
        ("on demand (mmap per instance)", Allocation::OnDemand),
        ("pooled, nothing kept resident", pooled(0)),
        ("pooled, 64 KiB kept resident", pooled(64 << 10)),
        ("pooled, 1 MiB kept resident", pooled(1 << 20)),
        ("pooled, 4 MiB kept resident", pooled(4 << 20)),
        ("pooled, 16 MiB kept resident (default)", pooled(16 << 20)),
    ];
    println!("| allocation | transfers/s | receipts verified/s |");
    println!("|---|---|---|");
    for (name, allocation) in settings {
        let rt = Runtime::builder(Profile::asserted_senders())
            .allocation(allocation)
            .build()
            .expect("runtime");
        let module = rt.prepare(&token).expect("token.wasm is valid");
        let state = token_state(&rt, &module);
        let tx = Transaction::new("transfer")
            .with_input(address_and_amount(BOB, 1))
            .with_sender(ALICE.to_vec())
            .with_fuel(10_000_000);
        let receipt = rt
            .execute_prepared(&module, &tx, &state)
            .expect("host works");
        assert!(receipt.status.is_success(), "transfer: {}", receipt.status);
        let execute = best_rate(n, || {
            let r = rt
                .execute_prepared(&module, &tx, &state)
                .expect("host works");
            std::hint::black_box(r.hash());
        });
        let verify = best_rate(n, || {
            rt.verify_prepared(&module, &receipt)
                .expect("receipt verifies");
        });
        println!("| {name} | {execute:.0} | {verify:.0} |");
    }
}
