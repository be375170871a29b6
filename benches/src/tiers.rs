//! The slowest transaction of each tier of load and store prices: a
//! pointer chase over the largest memory of the tier, at `max_fuel`, on
//! both compilers (docs/costs.md, "Why `max_fuel` is what it is"). Each
//! must stay within 2 s.

use std::time::Instant;

use anyhow::{Result, ensure};
use verity_runtime::{Compiler, MemoryState, Profile, Runtime, Status, Transaction, module_bytes};

use crate::report::Row;

/// A module that links the 64-byte lines of a `pages`-page memory into one
/// cycle no prefetcher follows (a full-period LCG over line numbers), then
/// chases it until the fuel runs out.
fn chase(pages: u32) -> Result<Vec<u8>> {
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
    Ok(module_bytes(wat.as_bytes())?)
}

/// One row: seconds at `max_fuel` for each tier and compiler (quick mode
/// runs a twentieth of the fuel and scales the time up).
pub(crate) fn row(quick: bool) -> Result<Row> {
    let profile = Profile::default();
    let max_fuel = profile.limits.max_fuel;
    let fuel = if quick { max_fuel / 20 } else { max_fuel };
    let mut row = Row::new("memory_tiers", "s", false);
    let mut worst = 0f64;
    for (compiler, name) in [
        (Compiler::Cranelift, "cranelift"),
        (Compiler::Winch, "winch"),
    ] {
        let rt = Runtime::builder(profile.clone())
            .compiler(compiler)
            .build()?;
        for tier in profile.costs.memory_access.tiers {
            let module = rt.prepare(&chase(tier.up_to_pages)?)?;
            let tx = Transaction::new("run").with_fuel(fuel);
            let start = Instant::now();
            let r = rt.execute_prepared(&module, &tx, &MemoryState::default())?;
            let seconds = start.elapsed().as_secs_f64() * (max_fuel as f64 / fuel as f64);
            ensure!(
                r.status == Status::OutOfFuel,
                "the chase ended {}",
                r.status
            );
            row.ratios
                .insert(format!("{name}_{}_pages_s", tier.up_to_pages), seconds);
            worst = worst.max(seconds);
        }
    }
    row.verity = Some(worst);
    row.ratios.insert("worst_max_fuel_seconds".into(), worst);
    Ok(row.finish())
}
