//! `verity-bench`: the same workloads, in one process and one run, on
//! native Rust, plain wasmtime (unmetered), Verity (metered, full
//! pipeline: instrumented module, fresh pooled instance, host functions
//! with read/write sets, receipt built and hashed) and wasmi 2 (its own
//! fuel on). Prints medians and ratios; `--json` prints one document,
//! `--svg` draws the chart, `--write-docs` publishes the run (report.rs).
//!
//! ```sh
//! cargo run --release -p verity-bench -- [--json] [--quick] [--svg docs/bench.svg]
//! cargo run --release -p verity-bench -- --write-docs
//! cargo run --release -p verity-bench -- --scale [--quick] [--json]
//! ```

mod adversarial;
mod authenticated;
mod bombs;
mod calls;
mod chart;
mod cold;
mod hosts;
mod report;
mod scale;
mod signed;
mod state_tree;
mod store;
mod third_party;
mod tiers;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use clap::Parser;
use verity_runtime::{
    MemoryState, Profile, Receipt, Runtime, StateBackend, StateError, StateRoots, StateView,
    Status, Transaction, WriteEntry,
};

/// `Rejection` into anyhow (it is `Send + Sync + 'static`).
fn prepare(rt: &Runtime, code: &[u8]) -> Result<Arc<verity_runtime::PreparedModule>> {
    rt.prepare(code).map_err(|e| anyhow::anyhow!("{e}"))
}

use hosts::MiniHost;
use hosts::wasmi_host::Wasmi;
use hosts::wasmtime_host::Wasmtime;
use report::{Report, Row};

#[derive(Parser)]
#[command(about = "Side-by-side benchmark: native, wasmtime unmetered, Verity, wasmi")]
struct Args {
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
    /// Fewer repetitions (finishes in well under a minute).
    #[arg(long)]
    quick: bool,
    /// Run only the workloads whose name contains this (e.g. `token`, `kernel`).
    #[arg(long, value_name = "SUBSTRING")]
    only: Option<String>,
    /// Also draw the chart (relative time per workload) as SVG to this file.
    #[arg(long, value_name = "FILE")]
    svg: Option<std::path::PathBuf>,
    /// Publish the run: save it as docs/bench.json and render from it
    /// docs/bench.svg, docs/performance.md's results and the README's
    /// summary (a full run only).
    #[arg(long)]
    write_docs: bool,
    /// Run only the state directory at scale (scale.rs: 10k, 1M and 10M
    /// keys, or 10k and 100k with --quick); minutes and gigabytes of disk.
    #[arg(long, conflicts_with_all = ["only", "write_docs", "from_json", "svg"])]
    scale: bool,
    /// Run nothing: take the results from this JSON document (as `--json`
    /// printed it), e.g. to render the docs again.
    #[arg(long, value_name = "FILE")]
    from_json: Option<std::path::PathBuf>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median seconds per call of `f` over `reps` timed batches of `batch` calls.
fn per_call(reps: usize, batch: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?; // warm-up
    let mut samples = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        for _ in 0..batch {
            f()?;
        }
        samples.push(start.elapsed().as_secs_f64() / batch as f64);
    }
    Ok(median(samples))
}

/// Median seconds per call of each of `fs`, timed in turns (one batch of
/// each per round), so that a slow spell of a shared machine slows every
/// engine alike instead of whichever happened to be running.
fn interleaved<const N: usize>(
    reps: usize,
    batch: usize,
    fs: [&dyn Fn() -> Result<()>; N],
) -> Result<[f64; N]> {
    let mut samples: [Vec<f64>; N] = std::array::from_fn(|_| Vec::with_capacity(reps));
    for f in &fs {
        f()?; // warm-up
    }
    for _ in 0..reps {
        for (f, out) in fs.iter().zip(samples.iter_mut()) {
            let start = Instant::now();
            for _ in 0..batch {
                f()?;
            }
            out.push(start.elapsed().as_secs_f64() / batch as f64);
        }
    }
    Ok(samples.map(median))
}

/// Like [`per_call`], with batches long enough (at least `min_sample`) that
/// timer resolution and scheduler noise do not dominate short calls.
fn per_call_sized(
    reps: usize,
    min_sample: Duration,
    mut f: impl FnMut() -> Result<()>,
) -> Result<f64> {
    let start = Instant::now();
    f()?;
    let once = start.elapsed().max(Duration::from_nanos(100));
    let batch = (min_sample.as_secs_f64() / once.as_secs_f64()).ceil() as usize;
    per_call(reps, batch.clamp(1, 100_000), f)
}

fn fixture(name: &str) -> Result<Vec<u8>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/wasm/").to_string() + name;
    std::fs::read(&path).with_context(|| format!("cannot read {path}"))
}

const ALICE: [u8; 32] = [2; 32];
const BOB: [u8; 32] = [3; 32];

/// The token's committed state: initialised, with a large balance for
/// ALICE, obtained by running init and mint through Verity.
fn token_state(rt: &Runtime, token: &[u8]) -> Result<MemoryState> {
    let mut state = MemoryState::default();
    let owner = [1u8; 32];
    // Deployed with its constructor (the deploy pays for preparing the
    // code), then called: a transfer is a call, as on a chain.
    let deploy = token_deploy(owner).with_input(postcard::to_allocvec(&(owner,))?);
    let r = rt.execute(token, &deploy, &state)?;
    ensure!(r.status.is_success(), "deploy: {}", r.status);
    state.commit(&r)?;
    let mint = Transaction::call(token_contract(token), "mint")
        .with_input(postcard::to_allocvec(&(ALICE, u64::MAX / 2))?)
        .with_sender(owner.to_vec());
    let r = rt.execute_call(&mint, &state)?;
    ensure!(r.status.is_success(), "mint: {}", r.status);
    state.commit(&r)?;
    Ok(state)
}

/// The deploy of the token by `owner`, running `init`.
fn token_deploy(owner: [u8; 32]) -> Transaction {
    Transaction::deploy(verity_runtime::Hash32::default())
        .with_entry("init")
        .with_sender(owner.to_vec())
}

/// The address the token has in every workload's state.
fn token_contract(token: &[u8]) -> verity_runtime::ContractId {
    token_deploy([1u8; 32]).contract(&verity_runtime::Hash32::of(token))
}

/// A state with no commitment: values by key, zero roots. The
/// execution-only baseline `token_transfer` runs on, as the wasmtime and
/// wasmi hosts beside it commit nothing either; `authenticated.rs` times
/// the same transfers with roots and witnesses.
struct Plain(HashMap<Vec<u8>, Vec<u8>>);

impl Plain {
    fn of(state: &MemoryState) -> Plain {
        Plain(
            state
                .iter()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect(),
        )
    }
}

impl StateView for Plain {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.0.get(key).cloned())
    }
}

impl StateBackend for Plain {
    fn roots(&self, _writes: &[WriteEntry]) -> Result<StateRoots, StateError> {
        Ok(StateRoots::default())
    }
}

/// The transfer both token workloads time: 1 from ALICE to BOB.
fn alice_pays_bob() -> Result<Transaction> {
    Ok(
        Transaction::call(token_contract(&fixture("token.wasm")?), "transfer")
            .with_input(postcard::to_allocvec(&(BOB, 1u64))?)
            .with_sender(ALICE.to_vec())
            .with_fuel(1_000_000),
    )
}

fn check_success(r: &Receipt) -> Result<()> {
    ensure!(r.status == Status::Success, "run ended {}", r.status);
    Ok(())
}

fn token_transfer(
    quick: bool,
    rt: &Runtime,
    wt: &Wasmtime,
    wi: &Wasmi,
) -> Result<(Row, Vec<Receipt>)> {
    let token = fixture("token.wasm")?;
    let minted = token_state(rt, &token)?;
    let state = Plain::of(&minted);
    let tx = alice_pays_bob()?;
    let input = tx.input.clone();
    let (reps, batch) = if quick { (5, 200) } else { (21, 2000) };
    let mut row = Row::new("token_transfer", "tx/s", true);

    // A node prepares a contract once, when it is deployed.
    let module = prepare(rt, &token)?;
    let mut receipts = Vec::new();
    let verity = || -> Result<()> {
        let r = rt.execute_prepared(&module, &tx, &state)?;
        check_success(&r)?;
        std::hint::black_box(r.hash());
        Ok(())
    };
    // The same through `execute`, which hashes the module's bytes and looks
    // them up in the module cache on every call.
    let by_code = || -> Result<()> {
        let r = rt.execute(&token, &tx, &state)?;
        check_success(&r)?;
        std::hint::black_box(r.hash());
        Ok(())
    };
    for _ in 0..256 {
        let r = rt.execute_prepared(&module, &tx, &state)?;
        check_success(&r)?;
        receipts.push(r);
    }

    // The other hosts see the contract's own keys, as its guest names them.
    let base: Arc<HashMap<Vec<u8>, Vec<u8>>> = Arc::new(
        minted
            .iter()
            .map(|(k, v)| (k[33..].to_vec(), v.to_vec()))
            .collect(),
    );
    let host = || MiniHost {
        input: input.clone(),
        sender: ALICE.to_vec(),
        base: base.clone(),
        ..MiniHost::default()
    };
    let pre = wt.prepare(&wt.compile(&token)?)?;
    let plain = || -> Result<()> {
        let h = wt.call(&pre, "transfer", host())?;
        ensure!(h.writes.len() == 2 && h.events.len() == 1);
        std::hint::black_box(h.digest());
        Ok(())
    };
    let wi_module = wi.compile(&token)?;
    let interpreted = || -> Result<()> {
        let h = wi.call(&wi_module, "transfer", host(), 1_000_000)?;
        ensure!(h.writes.len() == 2 && h.events.len() == 1);
        std::hint::black_box(h.digest());
        Ok(())
    };
    let [verity, by_code, plain, interpreted] =
        interleaved(reps, batch, [&verity, &by_code, &plain, &interpreted])?;
    row.verity = Some(1.0 / verity);
    row.ratios
        .insert("verity_execute_by_code_tx_per_s".into(), 1.0 / by_code);
    row.wasmtime_unmetered = Some(1.0 / plain);
    row.wasmi = Some(1.0 / interpreted);
    // What one transfer is charged (issue 21's target: at most 40,000).
    row.ratios
        .insert("fuel_used".into(), receipts[0].fuel_used as f64);
    Ok((row.finish(), receipts))
}

/// Token transfers on the runtime that just ran the adversarial corpus, as
/// a ratio to the same runtime's rate before it (`token_transfer`): what
/// hostile modules cost the transactions after them.
fn token_after_adversarial(quick: bool, rt: &Runtime, rows: &[Row]) -> Result<Row> {
    let token = fixture("token.wasm")?;
    let state = Plain::of(&token_state(rt, &token)?);
    let module = prepare(rt, &token)?;
    let tx = alice_pays_bob()?;
    let (reps, batch) = if quick { (3, 200) } else { (11, 2000) };
    let t = per_call(reps, batch, || {
        let r = rt.execute_prepared(&module, &tx, &state)?;
        check_success(&r)?;
        std::hint::black_box(r.hash());
        Ok(())
    })?;
    let mut row = Row::new("token_after_adversarial", "tx/s", true);
    row.verity = Some(1.0 / t);
    if let Some(fresh) = rows
        .iter()
        .find(|r| r.name == "token_transfer")
        .and_then(|r| r.verity)
    {
        row.ratios
            .insert("vs_fresh_runtime".into(), 1.0 / t / fresh);
    }
    Ok(row)
}

/// A compute kernel: its entry, argument, and the native function.
struct Kernel {
    name: &'static str,
    entry: &'static str,
    arg: u32,
    quick_arg: u32,
    native: fn(u32) -> Vec<u8>,
    /// Fuel a call of the deployed contract with `arg` used before issue
    /// 21 (at 4c92169: every load and store 8, 18 initial pages at 16384,
    /// `max_fuel` 100,000,000): the reference for work per `max_fuel`
    /// transaction.
    fuel_before: u64,
}

/// `max_fuel` before issue 21.
const MAX_FUEL_BEFORE: u64 = 100_000_000;

fn kernels() -> Vec<Kernel> {
    use kernels::compute;
    vec![
        Kernel {
            name: "kernel_int_loop",
            entry: "int_loop",
            // Within max_fuel (docs/costs.md): about 47 fuel per iteration.
            arg: 1_000_000,
            quick_arg: 100_000,
            native: |n| postcard::to_allocvec(&compute::int_loop(n)).unwrap(),
            fuel_before: 47_295_641,
        },
        Kernel {
            name: "kernel_sha256",
            entry: "sha256_chain",
            arg: 5_000,
            quick_arg: 500,
            native: |n| postcard::to_allocvec(&compute::sha256_chain(n)).unwrap(),
            fuel_before: 27_700_388,
        },
        Kernel {
            name: "kernel_keccak256",
            entry: "keccak256_chain",
            arg: 5_000,
            quick_arg: 500,
            native: |n| postcard::to_allocvec(&compute::keccak256_chain(n)).unwrap(),
            fuel_before: 58_350_374,
        },
        Kernel {
            name: "kernel_sort",
            entry: "sort",
            arg: 7,
            quick_arg: 7,
            native: |n| postcard::to_allocvec(&compute::sort(n)).unwrap(),
            fuel_before: 2_866_389,
        },
        Kernel {
            name: "kernel_matmul",
            entry: "matmul",
            arg: 7,
            quick_arg: 7,
            native: |n| postcard::to_allocvec(&compute::matmul(n)).unwrap(),
            fuel_before: 3_469_027,
        },
    ]
}

/// `wt` is plain wasmtime without and with its own fuel metering.
fn kernel(
    quick: bool,
    k: &Kernel,
    rt: &Runtime,
    [wt, wt_fuel]: [&Wasmtime; 2],
    wi: &Wasmi,
) -> Result<Row> {
    let code = fixture("kernels.wasm")?;
    let arg = if quick { k.quick_arg } else { k.arg };
    let input = postcard::to_allocvec(&(arg,))?;
    let expected = (k.native)(arg);
    let (reps, sample) = if quick {
        (5, Duration::from_millis(2))
    } else {
        (11, Duration::from_millis(20))
    };
    let mut row = Row::new(k.name, "ms", false);

    let t = per_call_sized(reps, sample, || {
        std::hint::black_box((k.native)(std::hint::black_box(arg)));
        Ok(())
    })?;
    row.native = Some(t * 1e3);

    let tx = Transaction::new(k.entry)
        .with_input(input.clone())
        .with_fuel(Profile::default().limits.max_fuel);
    let module = prepare(rt, &code)?;
    let t = per_call_sized(reps, sample, || {
        let r = rt.execute_prepared(&module, &tx, &MemoryState::default())?;
        check_success(&r)?;
        ensure!(r.output == expected, "{}: wrong output", k.name);
        Ok(())
    })?;
    row.verity = Some(t * 1e3);
    // Work per max_fuel transaction: how many calls of this size to the
    // deployed contract one transaction at max_fuel pays for (preparing
    // the code is the deploy's), now and before issue 21.
    if !quick {
        let mut state = MemoryState::default();
        let deploy = rt.execute(&code, &Transaction::deploy(Default::default()), &state)?;
        check_success(&deploy)?;
        state.commit(&deploy)?;
        let call = Transaction::call(deploy.contract, k.entry)
            .with_input(input.clone())
            .with_fuel(Profile::default().limits.max_fuel);
        let r = rt.execute_call(&call, &state)?;
        check_success(&r)?;
        ensure!(r.output == expected, "{}: wrong output", k.name);
        let used = r.fuel_used;
        let max_fuel = Profile::default().limits.max_fuel as f64;
        let per_tx = max_fuel / used as f64;
        let before = MAX_FUEL_BEFORE as f64 / k.fuel_before as f64;
        row.ratios.insert("fuel_used".into(), used as f64);
        row.ratios.insert("calls_per_max_fuel".into(), per_tx);
        row.ratios
            .insert("work_per_max_fuel_vs_before".into(), per_tx / before);
    }

    let host = || MiniHost {
        input: input.clone(),
        ..MiniHost::default()
    };
    let module = wt.compile(&code)?;
    let pre = wt.prepare(&module)?;
    let t = per_call_sized(reps, sample, || {
        let h = wt.call(&pre, k.entry, host())?;
        ensure!(h.output == expected, "{}: wrong output", k.name);
        Ok(())
    })?;
    row.wasmtime_unmetered = Some(t * 1e3);

    // wasmtime's own fuel, the metering Verity's instrumentation replaces.
    let pre = wt_fuel.prepare(&wt_fuel.compile(&code)?)?;
    let fueled = per_call_sized(reps, sample, || {
        let h = wt_fuel.call(&pre, k.entry, host())?;
        ensure!(h.output == expected, "{}: wrong output", k.name);
        Ok(())
    })?;
    row.ratios
        .insert("wasmtime_fuel_vs_wasmtime_unmetered".into(), fueled / t);

    let module = wi.compile(&code)?;
    let t = per_call_sized(reps, sample, || {
        let h = wi.call(&module, k.entry, host(), u64::MAX)?;
        ensure!(h.output == expected, "{}: wrong output", k.name);
        Ok(())
    })?;
    row.wasmi = Some(t * 1e3);
    Ok(row.finish())
}

/// The geometric means of the kernels' ratios (the issue's targets are
/// stated over the kernels as a set).
fn kernels_geomean(rows: &[Row]) -> Option<Row> {
    let kernels: Vec<&Row> = rows
        .iter()
        .filter(|r| r.name.starts_with("kernel_"))
        .collect();
    if kernels.is_empty() {
        return None;
    }
    let mut row = Row::new("kernels_geomean", "ratio", false);
    for key in [
        "verity_vs_native",
        "verity_vs_wasmtime_unmetered",
        "wasmtime_fuel_vs_wasmtime_unmetered",
        "wasmi_vs_verity",
    ] {
        let logs: Vec<f64> = kernels
            .iter()
            .filter_map(|r| r.ratios.get(key).map(|v| v.ln()))
            .collect();
        if !logs.is_empty() {
            let mean = logs.iter().sum::<f64>() / logs.len() as f64;
            row.ratios.insert(key.into(), mean.exp());
        }
    }
    Some(row)
}

const NOOP: &str = r#"(module (memory (export "memory") 1) (func (export "run")))"#;

fn instantiate(quick: bool, rt: &Runtime, wt: &Wasmtime, wi: &Wasmi) -> Result<Row> {
    let code = wat::parse_str(NOOP)?;
    let (reps, batch) = if quick { (5, 500) } else { (11, 5000) };
    let mut row = Row::new("instantiate", "us", false);
    let tx = Transaction::new("run");
    let module = prepare(rt, &code)?;
    let t = per_call(reps, batch, || {
        check_success(&rt.execute_prepared(&module, &tx, &MemoryState::default())?)
    })?;
    row.verity = Some(t * 1e6);
    let pre = wt.prepare(&wt.compile(&code)?)?;
    let t = per_call(reps, batch, || {
        wt.call(&pre, "run", MiniHost::default()).map(drop)
    })?;
    row.wasmtime_unmetered = Some(t * 1e6);
    let module = wi.compile(&code)?;
    let t = per_call(reps, batch, || {
        wi.call(&module, "run", MiniHost::default(), 1_000)
            .map(drop)
    })?;
    row.wasmi = Some(t * 1e6);
    Ok(row.finish())
}

fn cold_compile(quick: bool, wt: &Wasmtime, wi: &Wasmi) -> Result<Row> {
    let token = fixture("token.wasm")?;
    let reps = if quick { 3 } else { 9 };
    let mut row = Row::new("cold_compile_token", "ms", false);
    let t = per_call(reps, 1, || {
        // A fresh runtime has an empty cache: validation, instrumentation
        // and compilation all happen.
        let rt = Runtime::new(Profile::default())?;
        rt.prepare(&token).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    })?;
    // Subtract building the runtime itself (engine and linker).
    let t_rt = per_call(reps, 1, || {
        Runtime::new(Profile::default())
            .map(drop)
            .map_err(Into::into)
    })?;
    row.verity = Some((t - t_rt).max(0.0) * 1e3);
    let t = per_call(reps, 1, || wt.compile(&token).map(drop))?;
    row.wasmtime_unmetered = Some(t * 1e3);
    let t = per_call(reps, 1, || wi.compile(&token).map(drop))?;
    row.wasmi = Some(t * 1e3);
    Ok(row.finish())
}

/// Loading token.wasm's compiled module from the on-disk artifact cache, as
/// a restarted node does: `prepare` on a runtime whose in-memory cache does
/// not hold it. The wasmtime column deserializes its own (uninstrumented)
/// compilation of the same module from a file.
fn cached_load(quick: bool, wt: &Wasmtime) -> Result<Row> {
    let token = fixture("token.wasm")?;
    let other = fixture("counter.wasm")?;
    let dir = tempfile::tempdir()?;
    // Room for one module in memory: preparing `other` evicts the token.
    let rt = Runtime::builder(Profile::default())
        .cache_capacity(1)
        .artifact_cache_path(dir.path())?
        .build()?;
    prepare(&rt, &token)?;
    prepare(&rt, &other)?;
    let before = rt.cache_stats();
    let samples = if quick { 21 } else { 201 };
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        prepare(&rt, &other)?;
        let start = Instant::now();
        std::hint::black_box(prepare(&rt, &token)?);
        times.push(start.elapsed().as_secs_f64());
    }
    let after = rt.cache_stats();
    ensure!(
        after.compiled == before.compiled
            // (The first `other` is still in memory.)
            && after.artifact_loads - before.artifact_loads == 2 * samples as u64 - 1,
        "cached_load compiled instead of loading: {before:?} -> {after:?}"
    );
    let mut row = Row::new("cached_load_token", "us", false);
    row.verity = Some(median(times) * 1e6);

    let path = dir.path().join("token.wasmtime");
    std::fs::write(&path, wt.compile(&token)?.serialize()?)?;
    let t = per_call(if quick { 21 } else { 201 }, 1, || {
        wt.load_file(&path).map(drop)
    })?;
    row.wasmtime_unmetered = Some(t * 1e6);
    Ok(row.finish())
}

/// `Runtime::verify_batch` over the token receipts, on one thread and on
/// every core, alternating so that both see the same machine.
fn verify_parallel(quick: bool, rt: &Runtime, receipts: &[Receipt]) -> Result<Row> {
    let token = prepare(rt, &fixture("token.wasm")?)?;
    let cores = std::thread::available_parallelism().unwrap_or(std::num::NonZeroUsize::MIN);
    // The batch: the receipts, repeated.
    let copies = if quick { 2 } else { 40 };
    let items: Vec<_> = (0..copies)
        .flat_map(|_| receipts.iter().map(|r| (&*token, r)))
        .collect();
    let run = |threads: std::num::NonZeroUsize| -> Result<f64> {
        let start = Instant::now();
        for result in rt.verify_batch(&items, threads) {
            result.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Ok(items.len() as f64 / start.elapsed().as_secs_f64())
    };
    let (mut one, mut all) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        one.push(run(std::num::NonZeroUsize::MIN)?);
        all.push(run(cores)?);
    }
    let (one, all) = (median(one), median(all));
    let mut row = Row::new("verify_parallel", "receipts/s", true);
    row.verity = Some(all);
    row.ratios.insert("single_core_receipts_per_s".into(), one);
    row.ratios.insert("cores".into(), cores.get() as f64);
    row.ratios
        .insert("speedup_all_cores_vs_one".into(), all / one);
    Ok(row)
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.scale {
        let points = scale::run(args.quick, &Runtime::new(Profile::asserted_senders())?)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&points)?);
        } else {
            print!("{}", scale::table(&points));
        }
        return Ok(());
    }
    let report = match &args.from_json {
        Some(path) => serde_json::from_str(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
        )?,
        None => run(&args)?,
    };
    if let Some(path) = &args.svg {
        chart::draw(path, &report.workloads)?;
    }
    if args.write_docs {
        ensure!(
            args.only.is_none(),
            "--write-docs publishes a full run: drop --only"
        );
        report::Docs::in_repo().write(&report)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
        eprintln!("(one run, {:.1} s)", report.seconds);
    }
    Ok(())
}

/// Runs the workloads `args` asks for.
fn run(args: &Args) -> Result<Report> {
    let started = Instant::now();
    let rt = Runtime::new(Profile::asserted_senders())?;
    let wt = Wasmtime::new(false)?;
    let wt_fuel = Wasmtime::new(true)?;
    let wi = Wasmi::new()?;
    let want = |name: &str| args.only.as_deref().is_none_or(|o| name.contains(o));
    let mut rows = Vec::new();
    let (row, receipts) = token_transfer(args.quick, &rt, &wt, &wi)?;
    if want(&row.name) {
        rows.push(row);
    }
    // Right after the unauthenticated transfer it is compared with.
    if want("authenticated") || want("verify_witness") {
        let plain = rows
            .iter()
            .find(|r| r.name == "token_transfer")
            .and_then(|r| r.verity);
        rows.extend(authenticated::rows(args.quick, &rt, plain)?);
    }
    if want("token_transfer_signed") {
        rows.push(signed::token_transfer_signed(args.quick, &rt)?);
    }
    if want("call_empty") {
        rows.push(calls::call_empty(args.quick, &rt, &wt, &wi)?);
    }
    if want("escrow_transfer") {
        rows.push(calls::escrow_transfer(args.quick, &rt)?);
    }
    if want("call_flood") {
        rows.push(calls::call_flood(args.quick, &rt)?);
    }
    if want("call_chain") {
        rows.push(calls::call_chain(args.quick, &rt)?);
    }
    for k in kernels() {
        if want(k.name) {
            rows.push(kernel(args.quick, &k, &rt, [&wt, &wt_fuel], &wi)?);
        }
    }
    if let Some(row) = kernels_geomean(&rows) {
        rows.push(row);
    }
    rows.extend(third_party::rows(args.quick, &rt, &want)?);
    if want("memory_tiers") {
        rows.push(tiers::row(args.quick)?);
    }
    if want("instantiate") {
        rows.push(instantiate(args.quick, &rt, &wt, &wi)?);
    }
    if want("cold_compile_token") {
        rows.push(cold_compile(args.quick, &wt, &wi)?);
    }
    if want("cached_load_token") {
        rows.push(cached_load(args.quick, &wt)?);
    }
    if want("verify_parallel") {
        rows.push(verify_parallel(args.quick, &rt, &receipts)?);
    }
    if want("compile_bombs") {
        rows.push(bombs::row()?);
    }
    if want("cold_callees") {
        rows.push(cold::row(args.quick)?);
    }
    if want("load_cost") {
        rows.push(cold::load_row(args.quick)?);
    }
    if want("adversarial") {
        rows.extend(adversarial::rows(&rt, args.quick)?);
        // The same runtime, after the corpus (docs/performance.md, "Open").
        rows.push(token_after_adversarial(args.quick, &rt, &rows)?);
    }
    if want("state_tree") {
        rows.extend(state_tree::rows(args.quick)?);
    }
    if want("state_commit") {
        rows.push(store::row(args.quick, &rt)?);
    }

    let elapsed: Duration = started.elapsed();
    Ok(Report {
        date: report::today(),
        seconds: elapsed.as_secs_f64(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        quick: args.quick,
        workloads: rows,
    })
}
