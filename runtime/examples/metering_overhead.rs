//! Cost of Verity's metering (instrumented fuel + logical stack + NaN
//! canonicalisation) against wasmtime's built-in fuel and against no
//! metering, on three small kernels, in one process:
//!
//! ```sh
//! cargo run --release -p verity-runtime --example metering_overhead
//! ```
//!
//! This is a spot measurement for docs/costs.md; the side-by-side benchmark
//! of the performance issue is `verity-bench`.

use std::time::{Duration, Instant};

use verity_runtime::Profile;
use verity_runtime::instrument::{self, DEPTH_GLOBAL, FUEL_GLOBAL};
use wasmtime::{Config, Engine, Instance, Module, Store, Val};

const KERNELS: &[(&str, &str)] = &[
    (
        "int_loop (10M iterations)",
        r#"(module (func (export "run") (local $i i32) (local $acc i64)
            (loop $l
              (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (local.get $i))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (i32.const 10000000))))))"#,
    ),
    (
        "fib(27), recursive calls",
        r#"(module
            (func $fib (param $n i32) (result i32)
              (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
                (then (local.get $n))
                (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                               (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
            (func (export "run") (drop (call $fib (i32.const 27)))))"#,
    ),
    (
        "memory sum (16 x 1 MiB)",
        r#"(module (memory 16)
            (func (export "run") (local $round i32) (local $i i32) (local $acc i32)
              (loop $r
                (local.set $i (i32.const 0))
                (loop $l
                  (local.set $acc (i32.add (local.get $acc) (i32.load (local.get $i))))
                  (local.set $i (i32.add (local.get $i) (i32.const 4)))
                  (br_if $l (i32.lt_u (local.get $i) (i32.const 1048576))))
                (local.set $round (i32.add (local.get $round) (i32.const 1)))
                (br_if $r (i32.lt_u (local.get $round) (i32.const 16))))))"#,
    ),
];

fn engine(fuel: bool) -> Engine {
    let mut c = Config::new();
    c.consume_fuel(fuel).cranelift_nan_canonicalization(true);
    Engine::new(&c).unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(
    engine: &Engine,
    fuel: bool,
    code: &[u8],
    setup: impl Fn(&mut Store<()>, &Instance),
) -> Duration {
    let module = Module::new(engine, code).unwrap();
    let runs = (0..7)
        .map(|_| {
            let mut store = Store::new(engine, ());
            if fuel {
                store.set_fuel(u64::MAX / 2).unwrap();
            }
            let instance = Instance::new(&mut store, &module, &[]).unwrap();
            setup(&mut store, &instance);
            let run = instance
                .get_typed_func::<(), ()>(&mut store, "run")
                .unwrap();
            let start = Instant::now();
            run.call(&mut store, ()).unwrap();
            start.elapsed()
        })
        .collect();
    median(runs)
}

fn main() {
    let profile = Profile::default();
    let plain = engine(false);
    let fueled = engine(true);
    println!(
        "| kernel | unmetered | wasmtime fuel | Verity metering | fuel / unmetered | Verity / unmetered |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, wat) in KERNELS {
        let code = wat::parse_str(wat).unwrap();
        let inst = instrument::instrument(&code, &profile).unwrap();
        let frame = inst.export_frames["run"];
        let t_plain = time(&plain, false, &code, |_, _| {});
        let t_fuel = time(&fueled, true, &code, |_, _| {});
        let t_verity = time(&plain, false, &inst.code, |store, instance| {
            let g = |s: &mut Store<()>, n| instance.get_global(&mut *s, n).unwrap();
            g(store, FUEL_GLOBAL)
                .set(&mut *store, Val::I64(i64::MAX))
                .unwrap();
            g(store, DEPTH_GLOBAL)
                .set(&mut *store, Val::I32(frame as i32))
                .unwrap();
        });
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
        let ratio = |d: Duration| format!("{:.2}x", d.as_secs_f64() / t_plain.as_secs_f64());
        println!(
            "| {name} | {} | {} | {} | {} | {} |",
            ms(t_plain),
            ms(t_fuel),
            ms(t_verity),
            ratio(t_fuel),
            ratio(t_verity)
        );
    }
}
