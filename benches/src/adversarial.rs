//! The adversarial corpus (`fixtures/adversarial/`): wall time per unit of
//! fuel for modules that make the host work hard, against the arithmetic
//! baseline, and the projection of the worst one to `max_fuel`.
//!
//! Fuel is the promise that a transaction cannot cost a machine more than
//! its limit allows; these rows are how that promise is measured
//! (docs/costs.md).

use std::time::Instant;

use anyhow::{Context, Result, ensure};
use verity_runtime::{MemoryState, Profile, Runtime, Transaction};

/// One module of the corpus.
pub(crate) struct Case {
    pub(crate) file: String,
    pub(crate) kind: String,
    pub(crate) fuel: u64,
    pub(crate) status: String,
}

/// The corpus manifest.
pub(crate) fn corpus() -> Result<Vec<Case>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/adversarial");
    let text = std::fs::read_to_string(format!("{dir}/expected.tsv"))
        .context("cannot read fixtures/adversarial/expected.tsv")?;
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            ensure!(c.len() == 4, "bad manifest line {l:?}");
            Ok(Case {
                file: c[0].into(),
                kind: c[1].into(),
                fuel: c[2].parse()?,
                status: c[3].into(),
            })
        })
        .collect()
}

/// One measured module.
pub(crate) struct Measured {
    pub(crate) file: String,
    pub(crate) kind: String,
    pub(crate) ns_per_fuel: f64,
    pub(crate) fuel_used: u64,
    pub(crate) seconds: f64,
}

/// Runs every module of the corpus (each `reps` times, the median kept)
/// and returns ns per fuel.
pub(crate) fn measure(rt: &Runtime, quick: bool) -> Result<Vec<Measured>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/adversarial");
    let reps = if quick { 1 } else { 3 };
    let mut out = Vec::new();
    for case in corpus()? {
        let code = verity_runtime::module_bytes(&std::fs::read(format!("{dir}/{}", case.file))?)?;
        // Quick mode runs a tenth of the fuel.
        let fuel = if quick { case.fuel / 10 } else { case.fuel };
        let tx = Transaction::new("run").with_fuel(fuel);
        rt.prepare(&code)
            .map_err(|e| anyhow::anyhow!("{}: {e}", case.file))?;
        let mut samples = Vec::new();
        let mut used = 0;
        for _ in 0..reps {
            let start = Instant::now();
            let r = rt.execute(&code, &tx, &MemoryState::default())?;
            let t = start.elapsed().as_secs_f64();
            ensure!(
                r.status.name() == case.status || quick,
                "{}: ended {} instead of {}",
                case.file,
                r.status,
                case.status
            );
            used = r.fuel_used;
            samples.push(t);
        }
        samples.sort_by(f64::total_cmp);
        let seconds = samples[samples.len() / 2];
        out.push(Measured {
            file: case.file,
            kind: case.kind,
            ns_per_fuel: seconds * 1e9 / used.max(1) as f64,
            fuel_used: used,
            seconds,
        });
    }
    Ok(out)
}

/// The corpus as rows of the benchmark's table: each module's ns per fuel
/// and its ratio to the baseline; then the worst `op` ratio and the worst
/// projection of any module to the profile's `max_fuel`.
pub(crate) fn rows(rt: &Runtime, quick: bool) -> Result<Vec<crate::Row>> {
    let measured = measure(rt, quick)?;
    let baseline = measured
        .iter()
        .find(|m| m.kind == "baseline")
        .context("no baseline in the corpus")?
        .ns_per_fuel;
    let max_fuel = Profile::default().limits.max_fuel as f64;
    let mut rows = Vec::new();
    let (mut worst_op, mut worst_op_name) = (0.0f64, String::new());
    let (mut worst_projection, mut worst_projection_name) = (0.0f64, String::new());
    for m in &measured {
        let mut row = crate::Row::new(format!("adversarial {}", m.file), "ns/fuel", false);
        row.verity = Some(m.ns_per_fuel);
        let ratio = m.ns_per_fuel / baseline;
        row.ratios.insert("vs_baseline".into(), ratio);
        row.ratios.insert("fuel_used".into(), m.fuel_used as f64);
        row.ratios.insert("seconds".into(), m.seconds);
        let projection = m.ns_per_fuel * max_fuel / 1e9;
        row.ratios.insert("max_fuel_seconds".into(), projection);
        if m.kind == "op" && ratio > worst_op {
            (worst_op, worst_op_name) = (ratio, m.file.clone());
        }
        if projection > worst_projection {
            (worst_projection, worst_projection_name) = (projection, m.file.clone());
        }
        rows.push(row);
    }
    let mut summary = crate::Row::new("adversarial_worst", "ratio", false);
    summary
        .ratios
        .insert("worst_op_vs_baseline".into(), worst_op);
    summary
        .ratios
        .insert("worst_max_fuel_seconds".into(), worst_projection);
    summary
        .ratios
        .insert("baseline_ns_per_fuel".into(), baseline);
    eprintln!(
        "adversarial: worst op class {worst_op_name} at {worst_op:.1}x the baseline's ns per fuel; \
         worst projection to max_fuel: {worst_projection_name}, {worst_projection:.2} s"
    );
    rows.push(summary);
    Ok(rows)
}
