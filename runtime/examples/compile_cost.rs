//! What preparing a module costs: validation, instrumentation and
//! compilation timed apart, on both compilers, with the instrumented size.
//!
//! ```sh
//! cargo run --release -p verity-runtime --example compile_cost -- MODULE.wasm...
//! ```
//!
//! The generated compile bombs are timed by `verity-bench --only
//! compile_bombs`; this example times the modules it is given.

use std::time::Instant;

use verity_runtime::{Compiler, Profile, instrument, validate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let profile = Profile::default();
    let mut modules: Vec<(String, Vec<u8>)> = Vec::new();
    for path in std::env::args().skip(1) {
        modules.push((
            path.clone(),
            verity_runtime::module_bytes(&std::fs::read(&path)?)?,
        ));
    }
    if modules.is_empty() {
        return Err("usage: compile_cost MODULE.wasm...".into());
    }
    println!(
        "| module | bytes | validate ms | instrument ms | instrumented bytes | cranelift ms | winch ms | Runtime::prepare ms (compiler) | peak RSS MB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, code) in modules {
        let t = Instant::now();
        let v = validate::validate(&profile, &code);
        let validate_ms = t.elapsed().as_secs_f64() * 1e3;
        if let Err(e) = v {
            println!(
                "| {name} | {} | {validate_ms:.1} | rejected: {e} | | | | | |",
                code.len()
            );
            continue;
        }
        // The real pipeline, as a node runs it (a fresh runtime, so nothing
        // is cached).
        let runtime = verity_runtime::Runtime::new(profile.clone())?;
        let t = Instant::now();
        let prepared = runtime.prepare(&code);
        let prepare_ms = t.elapsed().as_secs_f64() * 1e3;
        let prepared = match prepared {
            Ok(p) => format!("{prepare_ms:.0} ({})", p.compiler().name()),
            Err(e) => format!("{prepare_ms:.0} (rejected: {e})"),
        };
        let t = Instant::now();
        let inst = instrument::instrument(&code, &profile)?;
        let instrument_ms = t.elapsed().as_secs_f64() * 1e3;
        let mut times = Vec::new();
        for c in [Compiler::Cranelift, Compiler::Winch] {
            // Only what the runtime would compile: Cranelift is skipped
            // past its size bound (it can take seconds there).
            if c == Compiler::Cranelift
                && inst.code.len() > verity_runtime::CRANELIFT_MAX_INSTRUMENTED_BYTES
            {
                times.push("(Winch tier)".to_string());
                continue;
            }
            let engine = wasmtime::Engine::new(&profile.wasmtime_config(c))?;
            let t = Instant::now();
            match wasmtime::Module::new(&engine, &inst.code) {
                Ok(_) => times.push(format!("{:.0}", t.elapsed().as_secs_f64() * 1e3)),
                Err(_) => times.push("refused".to_string()),
            }
        }
        println!(
            "| {name} | {} | {validate_ms:.1} | {instrument_ms:.1} | {} | {} | {} | {prepared} | {} |",
            code.len(),
            inst.code.len(),
            times[0],
            times[1],
            peak_rss_mb()
        );
    }
    Ok(())
}

/// The process's peak resident memory so far, in MB (Linux).
fn peak_rss_mb() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or("-".into(), |kb| format!("{}", kb / 1024))
}
