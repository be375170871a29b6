//! What memory costs the machine per run on the instance pool: declared
//! pages never touched, pages touched (one store per 4 KiB), and the fixed
//! cost of a run, for several `keep_resident_bytes`. The numbers behind the
//! page prices in docs/costs.md ("What a page costs").
//!
//! ```sh
//! cargo run --release -p verity-runtime --example page_cost
//! ```

use std::time::Instant;

use verity_runtime::{
    Allocation, MemoryState, PoolOptions, Profile, Runtime, Transaction, module_bytes,
};

/// `declared` initial pages; the run stores one byte into each of the
/// first `touched` 4 KiB OS pages, from the top of the first `span` bytes
/// downward (as a shadow stack does) when `down`.
fn module(declared: u32, touched: u32, down: bool) -> Vec<u8> {
    let (start, step) = if down {
        (touched.saturating_sub(1) * 4096, -4096i32)
    } else {
        (0, 4096)
    };
    let wat = format!(
        r#"(module (memory {declared})
          (func (export "run") (local $a i32) (local $n i32)
            (local.set $a (i32.const {start}))
            (block $done (loop $l
              (br_if $done (i32.ge_u (local.get $n) (i32.const {touched})))
              (i32.store8 (local.get $a) (i32.const 1))
              (local.set $a (i32.add (local.get $a) (i32.const {step})))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br $l)))))"#
    );
    module_bytes(wat.as_bytes()).unwrap()
}

fn per_run(rt: &Runtime, code: &[u8], runs: u32) -> f64 {
    let module = rt.prepare(code).unwrap();
    let tx = Transaction::new("run").with_fuel(100_000_000);
    let state = MemoryState::default();
    for _ in 0..runs / 10 {
        rt.execute_prepared(&module, &tx, &state).unwrap();
    }
    let mut samples: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..runs {
                let r = rt.execute_prepared(&module, &tx, &state).unwrap();
                assert_eq!(r.status.name(), "success");
            }
            start.elapsed().as_secs_f64() * 1e6 / runs as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for keep in [0usize, 64 << 10, 1 << 20, 16 << 20] {
        let rt = Runtime::builder(Profile::default())
            .allocation(Allocation::Pooling(PoolOptions {
                slots: 8,
                keep_resident_bytes: keep,
            }))
            .build()?;
        println!("keep_resident_bytes = {} KiB", keep >> 10);
        let base = per_run(&rt, &module(1, 0, false), 4000);
        println!("  1 page declared, none touched: {base:.2} µs/run");
        for declared in [3u32, 18, 64, 256] {
            let t = per_run(&rt, &module(declared, 0, false), 2000);
            println!(
                "  {declared:>3} pages declared, none touched: {t:.2} µs/run ({:+.3} µs per extra page)",
                (t - base) / (declared - 1) as f64
            );
        }
        for touched in [1u32, 4, 16, 48, 256, 4096] {
            let declared = (touched * 4096).div_ceil(65536).max(1);
            let runs = if touched > 256 { 100 } else { 1000 };
            let t = per_run(&rt, &module(declared, touched, false), runs);
            println!(
                "  {touched:>4} OS pages touched ({declared} declared): {t:.2} µs/run ({:.3} µs per OS page)",
                (t - base) / touched as f64
            );
        }
    }
    Ok(())
}
