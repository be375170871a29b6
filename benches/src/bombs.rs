//! Compile bombs: generated modules at the profile's size limits, shaped to
//! be slow to validate, instrument or compile (straight-line branches,
//! calls, nested blocks), timed through `Runtime::prepare` on a fresh
//! runtime each. Accepted ones must prepare within 1 s, and within 20 ns
//! per unit of the fuel a deploy of them is charged (`wasm_prepare`,
//! docs/costs.md); those past the instrumented-size limits must be
//! rejected.

use std::time::Instant;

use anyhow::Result;
use verity_runtime::{Profile, Runtime};

/// The `compile_bombs` row: the slowest accepted bomb, in ms, and counts.
pub(crate) fn row() -> Result<crate::Row> {
    let profile = Profile::default();
    let (mut worst, mut worst_name) = (0.0f64, String::new());
    let (mut accepted, mut rejected) = (0u32, 0u32);
    let mut worst_rejection = 0.0f64;
    let mut worst_per_fuel = 0.0f64;
    for (name, code) in bombs(&profile) {
        let runtime = Runtime::new(profile.clone())?;
        let start = Instant::now();
        let prepared = runtime.prepare(&code);
        let ms = start.elapsed().as_secs_f64() * 1e3;
        // What a deploy of it is charged for preparing it, and the time
        // per unit of that fuel: the 2 s-per-max_fuel rule allows 20 ns.
        let (compiler, per_fuel) = match &prepared {
            Ok(p) => {
                let ns = ms * 1e6 / p.preparation_fuel(&profile.costs) as f64;
                worst_per_fuel = worst_per_fuel.max(ns);
                (p.compiler().name().to_string(), format!("{ns:.1}"))
            }
            Err(_) => ("rejected".to_string(), "-".to_string()),
        };
        eprintln!(
            "compile_bombs: | {name} | {} | {compiler} | {ms:.0} ms | {per_fuel} ns per fuel |",
            code.len()
        );
        if prepared.is_ok() {
            accepted += 1;
            if ms > worst {
                (worst, worst_name) = (ms, name);
            }
        } else {
            rejected += 1;
            worst_rejection = worst_rejection.max(ms);
        }
    }
    eprintln!("compile_bombs: slowest accepted: {worst_name}, {worst:.0} ms");
    let mut row = crate::Row::new("compile_bombs", "ms", false);
    row.verity = Some(worst);
    row.ratios.insert("accepted".into(), f64::from(accepted));
    row.ratios.insert("rejected".into(), f64::from(rejected));
    row.ratios
        .insert("slowest_rejection_ms".into(), worst_rejection);
    row.ratios
        .insert("worst_ns_per_fuel".into(), worst_per_fuel);
    Ok(row)
}

/// Modules at the profile's size limits shaped to be slow to compile.
pub(crate) fn bombs(profile: &Profile) -> Vec<(String, Vec<u8>)> {
    let body_limit = profile.limits.max_function_body_bytes as usize;
    let module_limit = profile.limits.max_module_bytes as usize;
    let mut out = Vec::new();
    // Straight-line basic blocks: `i32.const 0; br_if 0` (4 bytes each).
    let branches = |n: usize| {
        let mut b: Vec<u8> = vec![0x00, 0x02, 0x40];
        for _ in 0..n {
            b.extend_from_slice(&[0x41, 0x00, 0x0d, 0x00]);
        }
        b.extend_from_slice(&[0x0b, 0x0b]);
        b
    };
    // Calls (2 bytes each), each instrumented with a frame push and pop.
    let calls = |n: usize| {
        let mut b: Vec<u8> = vec![0x00];
        for _ in 0..n {
            b.extend_from_slice(&[0x10, 0x00]);
        }
        b.push(0x0b);
        b
    };
    // Nested blocks, as deep as one body allows.
    let nested = |n: usize| {
        let mut b: Vec<u8> = vec![0x00];
        for _ in 0..n {
            b.extend_from_slice(&[0x02, 0x40]);
        }
        b.extend(std::iter::repeat_n(0x0b, n + 1));
        b
    };
    // Each shape with bodies of the full body limit down to an eighth of
    // it, as many as the module limit holds: the worst accepted one is the
    // bound (larger ones are rejected by the instrumented-size limits).
    let limits = &profile.limits;
    let fn_limit = limits.max_instrumented_function_bytes as f64;
    let module_instr_limit = limits.max_instrumented_bytes as f64;
    // (shape, generator, bytes per unit, instrumented bytes per input byte)
    for (shape, f, unit, growth) in [
        ("branches", &branches as &dyn Fn(usize) -> Vec<u8>, 4, 6.0),
        ("calls", &calls, 2, 15.5),
        ("nested blocks", &nested, 3, 1.0),
    ] {
        for div in [1, 2, 4, 8] {
            let body = f((body_limit / div - 16) / unit);
            let copies = ((module_limit - 64) / (body.len() + 8)).max(1);
            out.push((
                format!("{shape}, {copies} bodies of {} KiB", body.len() >> 10),
                module(&vec![body; copies]),
            ));
        }
        // Just under the instrumented size past which Winch compiles: the
        // most code Cranelift is given, in one body and in several.
        let cranelift = verity_runtime::CRANELIFT_MAX_INSTRUMENTED_BYTES as f64 * 0.96 / growth;
        for copies in [1usize, 8] {
            let body = f((cranelift as usize / copies).min(body_limit - 16) / unit);
            out.push((
                format!(
                    "{shape} under the Cranelift bound, {copies} bodies of {} KiB",
                    body.len() >> 10
                ),
                module(&vec![body; copies]),
            ));
        }
        // Just under every limit at once: the worst module of this shape
        // that the profile accepts.
        let body_bytes = (fn_limit * 0.97 / growth).min((body_limit - 16) as f64) as usize;
        let body = f(body_bytes / unit);
        let copies = ((module_instr_limit * 0.97 / growth) as usize / (body.len() + 8))
            .clamp(1, (module_limit - 64) / (body.len() + 8));
        out.push((
            format!(
                "{shape} at the limits, {copies} bodies of {} KiB",
                body.len() >> 10
            ),
            module(&vec![body; copies]),
        ));
    }
    out
}

/// A module just past the instrumented size at which Winch compiles instead
/// of Cranelift, and cheap enough for a deploy to pay for: straight-line
/// branches in 8 bodies.
pub(crate) fn winch_module() -> Vec<u8> {
    let target = verity_runtime::CRANELIFT_MAX_INSTRUMENTED_BYTES * 5 / 4;
    // About 24 instrumented bytes per 4-byte `i32.const 0; br_if 0`.
    let per_body = target / 8 / 24;
    let mut body: Vec<u8> = vec![0x00, 0x02, 0x40];
    for _ in 0..per_body {
        body.extend_from_slice(&[0x41, 0x00, 0x0d, 0x00]);
    }
    body.extend_from_slice(&[0x0b, 0x0b]);
    module(&vec![body; 8])
}

fn leb(mut x: usize, out: &mut Vec<u8>) {
    loop {
        let b = (x & 0x7f) as u8;
        x >>= 7;
        if x == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A module of `() -> ()` functions with these bodies (locals included),
/// the first exported as `run`.
fn module(bodies: &[Vec<u8>]) -> Vec<u8> {
    let section = |id: u8, payload: Vec<u8>| {
        let mut s = vec![id];
        leb(payload.len(), &mut s);
        s.extend(payload);
        s
    };
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend(section(1, vec![1, 0x60, 0, 0]));
    let mut funcs = Vec::new();
    leb(bodies.len(), &mut funcs);
    funcs.extend(std::iter::repeat_n(0u8, bodies.len()));
    m.extend(section(3, funcs));
    m.extend(section(7, b"\x01\x03run\x00\x00".to_vec()));
    let mut code = Vec::new();
    leb(bodies.len(), &mut code);
    for b in bodies {
        leb(b.len(), &mut code);
        code.extend_from_slice(b);
    }
    m.extend(section(10, code));
    m
}
