//! Transfers against a tree of N keys, for profiling the executor's side
//! (`perf record` this; verity-bench `--only state_tree` has the figures).
//!
//! ```sh
//! cargo run --release -p verity-state-tree --example transfers -- [KEYS] [TRANSFERS]
//! ```

use std::time::Instant;

use verity_state_tree::{Tree, key_path, value_hash};

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().expect("a number"));
    let keys = args.next().unwrap_or(1_000_000);
    let transfers = args.next().unwrap_or(200_000);
    let account = |i: u64| key_path(&i.to_le_bytes());
    let mut tree = Tree::new();
    tree.update((0..keys).map(|i| (account(i), Some(value_hash(&i.to_le_bytes())))));
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % keys
    };
    let start = Instant::now();
    let mut bytes = 0;
    for t in 0..transfers {
        let (a, b) = (account(next()), account(next()));
        let writes = [
            (a, Some(value_hash(&t.to_le_bytes()))),
            (b, Some(value_hash(&(!t).to_le_bytes()))),
        ];
        bytes += tree.prove(&[a, b], &[]).len();
        tree.update(writes);
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / transfers as f64;
    println!(
        "{keys} keys: {us:.2} us per transfer, {} witness bytes on average",
        bytes / transfers as usize
    );
}
