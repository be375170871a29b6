//! Token transfers per second on a fresh runtime, then on the same runtime
//! after it ran the adversarial corpus (`fixtures/adversarial`, each module
//! three times at its benchmark fuel, as `verity-bench` does).
//!
//! ```sh
//! cargo run --release -p verity-runtime --example after_adversarial [-- FILTER]
//! ```
//!
//! An open problem this reproduces (2026-11-26, docs/performance.md): the
//! rate falls from about 160,000 to about 58,000 transfers/s after the whole
//! corpus (to 26,000 with 1 MiB kept resident, the default until then). It
//! is the instance pool: on-demand allocation does not degrade, and neither
//! does a pool of 64 slots (the corpus has 31 modules), while pools of 8 and
//! 16 do. No single module does it (`FILTER`, comma-separated parts of file
//! names, runs only the matching modules), nor do 40 distinct small
//! modules; the first ten or so of the corpus, including `pointer_chase`
//! and `page_touch`, do. A hostile sender could use it to slow a node down.

use std::time::Instant;

use verity_runtime::{MemoryState, Profile, Runtime, Transaction, module_bytes};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = Runtime::new(Profile::asserted_senders())?;
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");
    let token = std::fs::read(format!("{root}/wasm/token.wasm"))?;
    let owner = [1u8; 32];
    let mut state = MemoryState::default();
    for (entry, input) in [
        ("init", postcard::to_allocvec(&(owner,))?),
        ("mint", postcard::to_allocvec(&([2u8; 32], 1u64 << 40))?),
    ] {
        let tx = Transaction::new(entry)
            .with_input(input)
            .with_sender(owner.to_vec());
        let r = rt.execute(&token, &tx, &state)?;
        state.commit(&r)?;
    }
    let module = rt.prepare(&token)?;
    let tx = Transaction::new("transfer")
        .with_input(postcard::to_allocvec(&([3u8; 32], 1u64))?)
        .with_sender(vec![2u8; 32]);
    let rate = || -> Result<f64, Box<dyn std::error::Error>> {
        let start = Instant::now();
        for _ in 0..20_000 {
            rt.execute_prepared(&module, &tx, &state)?;
        }
        Ok(20_000.0 / start.elapsed().as_secs_f64())
    };
    println!("fresh runtime: {:.0} transfers/s", rate()?);

    let filter = std::env::args().nth(1);
    let corpus = std::fs::read_to_string(format!("{root}/adversarial/expected.tsv"))?;
    for line in corpus
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        if filter
            .as_deref()
            .is_some_and(|f| !f.split(',').any(|f| cols[0].contains(f)))
        {
            continue;
        }
        let code = module_bytes(&std::fs::read(format!("{root}/adversarial/{}", cols[0]))?)?;
        let tx = Transaction::new("run").with_fuel(cols[2].parse()?);
        for _ in 0..3 {
            rt.execute(&code, &tx, &MemoryState::default())?;
        }
    }
    println!("after the adversarial corpus: {:.0} transfers/s", rate()?);
    Ok(())
}
