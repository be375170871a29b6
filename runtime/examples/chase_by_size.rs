//! The slowest transaction in each tier of load and store prices: a
//! pointer chase over the largest memory of the tier, at `max_fuel`, on
//! both compilers (docs/costs.md, "Loads and stores"). Each tier's price is
//! set so that this stays within 2 s on this machine.
//!
//! ```sh
//! cargo run --release -p verity-runtime --example chase_by_size
//! ```
//!
//! The chase links the 64-byte lines of the memory into one cycle in an
//! order no prefetcher follows (a full-period LCG over line numbers), then
//! follows it until the fuel runs out: every load depends on the one
//! before and, in a large memory, misses the caches and the TLB.

use std::time::Instant;

use verity_runtime::{Compiler, MemoryState, Profile, Runtime, Status, Transaction, module_bytes};

fn chase(pages: u32) -> Vec<u8> {
    let lines = pages * 1024;
    let wat = format!(
        r#"(module (memory {pages})
  (func (export "run") (local $i i32) (local $p i32)
    (loop $fill
      (i32.store (i32.shl (local.get $i) (i32.const 6))
        (i32.shl
          (i32.and (i32.add (i32.mul (local.get $i) (i32.const 1664525)) (i32.const 1013904223))
                   (i32.const {mask}))
          (i32.const 6)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const {lines}))))
    (loop $chase
      (local.set $p (i32.load (local.get $p)))
      (br $chase))))"#,
        mask = lines - 1
    );
    module_bytes(wat.as_bytes()).expect("valid text")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let profile = Profile::default();
    let max_fuel = profile.limits.max_fuel;
    let tiers = profile.costs.memory_access.tiers;
    println!("pointer chase at max_fuel = {max_fuel}, the largest memory of each tier");
    println!("| pages | price | compiler | seconds | ns per load |");
    println!("|---|---|---|---|---|");
    for compiler in [Compiler::Cranelift, Compiler::Winch] {
        let rt = Runtime::builder(profile.clone())
            .compiler(compiler)
            .build()?;
        for tier in tiers {
            let code = chase(tier.up_to_pages);
            let module = rt.prepare(&code)?;
            let tx = Transaction::new("run").with_fuel(max_fuel);
            let start = Instant::now();
            let r = rt.execute_prepared(&module, &tx, &MemoryState::default())?;
            let seconds = start.elapsed().as_secs_f64();
            assert_eq!(r.status, Status::OutOfFuel);
            // Each step: local.get, the load, local.set and br.
            let steps = max_fuel as f64 / (tier.price + 3) as f64;
            println!(
                "| {} | {} | {compiler:?} | {seconds:.2} | {:.1} |",
                tier.up_to_pages,
                tier.price,
                seconds * 1e9 / steps
            );
        }
    }
    Ok(())
}
