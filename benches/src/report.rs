//! The benchmark's results as data. One run is one [`Report`]; `--json`
//! prints it and `--write-docs` saves it as docs/bench.json, from which every
//! published figure is rendered: the results section of
//! docs/performance.md, the README's summary and docs/bench.svg. A test
//! renders them again from the JSON and compares, so no figure is copied by
//! hand and none can drift from the run it came from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// One workload's row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) unit: String,
    pub(crate) native: Option<f64>,
    pub(crate) wasmtime_unmetered: Option<f64>,
    pub(crate) verity: Option<f64>,
    pub(crate) wasmi: Option<f64>,
    pub(crate) ratios: BTreeMap<String, f64>,
    /// Whether a larger value is better (tx/s) or a smaller one (time).
    pub(crate) higher_is_better: bool,
}

impl Row {
    pub(crate) fn new(name: impl Into<String>, unit: &str, higher_is_better: bool) -> Row {
        Row {
            name: name.into(),
            unit: unit.into(),
            native: None,
            wasmtime_unmetered: None,
            verity: None,
            wasmi: None,
            ratios: BTreeMap::new(),
            higher_is_better,
        }
    }

    /// Ratios as "how many times slower than X" for Verity, and Verity's
    /// speed-up over wasmi.
    pub(crate) fn finish(mut self) -> Row {
        let cost = |v: f64| if self.higher_is_better { 1.0 / v } else { v };
        if let Some(v) = self.verity {
            if let Some(n) = self.native {
                self.ratios
                    .insert("verity_vs_native".into(), cost(v) / cost(n));
            }
            if let Some(w) = self.wasmtime_unmetered {
                self.ratios
                    .insert("verity_vs_wasmtime_unmetered".into(), cost(v) / cost(w));
            }
            if let Some(i) = self.wasmi {
                self.ratios
                    .insert("wasmi_vs_verity".into(), cost(i) / cost(v));
            }
        }
        self
    }

    fn ratio(&self, key: &str) -> Result<f64> {
        self.ratios
            .get(key)
            .copied()
            .with_context(|| format!("{} has no ratio {key}", self.name))
    }
}

/// One run of the benchmark.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Report {
    /// The day of the run (UTC), `YYYY-MM-DD`.
    pub(crate) date: String,
    /// Wall time of the whole run.
    pub(crate) seconds: f64,
    /// Cores the machine offered.
    pub(crate) cores: usize,
    /// Whether it was a `--quick` run (not for publishing).
    pub(crate) quick: bool,
    pub(crate) workloads: Vec<Row>,
}

/// A performance target: a bound on one figure of one row.
struct Target {
    text: &'static str,
    row: &'static str,
    /// The ratio measured and how to show it (e.g. `"×"`), or `None` for
    /// the row's own value in its unit.
    ratio: Option<(&'static str, &'static str)>,
    bound: f64,
    /// Whether the figure must be at least (or at most) the bound.
    at_least: bool,
}

const fn target(
    text: &'static str,
    row: &'static str,
    ratio: Option<(&'static str, &'static str)>,
    bound: f64,
    at_least: bool,
) -> Target {
    Target {
        text,
        row,
        ratio,
        bound,
        at_least,
    }
}

/// The targets the performance work was set (docs/performance.md).
const TARGETS: &[Target] = &[
    target(
        "token_transfer ≥ 2× wasmi",
        "token_transfer",
        Some(("wasmi_vs_verity", "×")),
        2.0,
        true,
    ),
    target(
        "token_transfer ≥ 200k tx/s per core",
        "token_transfer",
        None,
        200_000.0,
        true,
    ),
    target(
        "kernels ≤ 1.5× wasmtime unmetered (geomean)",
        "kernels_geomean",
        Some(("verity_vs_wasmtime_unmetered", "×")),
        1.5,
        false,
    ),
    target(
        "kernels ≤ 2× native (geomean)",
        "kernels_geomean",
        Some(("verity_vs_native", "×")),
        2.0,
        false,
    ),
    target(
        "kernels ≥ 10× faster than wasmi (geomean)",
        "kernels_geomean",
        Some(("wasmi_vs_verity", "×")),
        10.0,
        true,
    ),
    target("instantiate ≤ 2 µs", "instantiate", None, 2.0, false),
    target(
        "cached_load ≤ 200 µs",
        "cached_load_token",
        None,
        200.0,
        false,
    ),
    target(
        "load_cost: loading a stored module ≤ 5 ns per fuel charged (worst median)",
        "load_cost",
        None,
        5.0,
        false,
    ),
    target(
        "cold_callees on a node just started (warmed) ≤ 5 ns per fuel",
        "cold_callees",
        Some(("ns_per_fuel", " ns")),
        5.0,
        false,
    ),
    target(
        "call_chain: deepest, largest-memory chains ≤ 5 ns per fuel",
        "call_chain",
        None,
        5.0,
        false,
    ),
    target(
        "cold_compile of token ≤ 10 ms",
        "cold_compile_token",
        None,
        10.0,
        false,
    ),
    target(
        "verify_parallel ≥ 1.8× on 2 cores",
        "verify_parallel",
        Some(("speedup_all_cores_vs_one", "×")),
        1.8,
        true,
    ),
    target(
        "slowest transaction at max_fuel ≤ 2 s",
        "adversarial_worst",
        Some(("worst_max_fuel_seconds", " s")),
        2.0,
        false,
    ),
    target(
        "token_transfer_authenticated ≥ 75k tx/s (1M keys, roots and witness per transaction)",
        "token_transfer_authenticated",
        None,
        75_000.0,
        true,
    ),
    target(
        "token_transfer_authenticated ≤ 2× the time of token_transfer",
        "token_transfer_authenticated",
        Some(("time_vs_unauthenticated", "×")),
        2.0,
        false,
    ),
    target(
        "witness of a transfer ≤ 1.5 KiB",
        "token_transfer_authenticated",
        Some(("witness_bytes", " bytes")),
        1536.0,
        false,
    ),
    target(
        "verify_witness ≥ 0.8× the execution rate per core",
        "verify_witness",
        Some(("single_core_vs_execution", "×")),
        0.8,
        true,
    ),
    target(
        "verify_witness ≥ 1.8× on 2 cores",
        "verify_witness",
        Some(("speedup_all_cores_vs_one", "×")),
        1.8,
        true,
    ),
    target(
        "state_commit: committing into 1M keys ≤ 2× into 10k keys",
        "state_commit",
        Some(("large_vs_small_commit_time", "×")),
        2.0,
        false,
    ),
    target(
        "token transfers after the adversarial corpus ≥ 0.8× a fresh runtime's rate",
        "token_after_adversarial",
        Some(("vs_fresh_runtime", "×")),
        0.8,
        true,
    ),
    target(
        "worst operator class ≤ 20× the baseline's time per fuel",
        "adversarial_worst",
        Some(("worst_op_vs_baseline", "×")),
        20.0,
        false,
    ),
];

/// The region of a document that `--write-docs` owns: between
/// `<!-- verity-bench:NAME -->` and `<!-- /verity-bench:NAME -->`.
fn markers(name: &str) -> (String, String) {
    (
        format!("<!-- verity-bench:{name} -->\n"),
        format!("<!-- /verity-bench:{name} -->"),
    )
}

/// The content of region `name` of `doc`.
pub(crate) fn region<'a>(doc: &'a str, name: &str) -> Result<&'a str> {
    let (open, close) = markers(name);
    let start = doc.find(&open).with_context(|| format!("no {open}"))? + open.len();
    let len = doc[start..]
        .find(&close)
        .with_context(|| format!("no {close}"))?;
    Ok(&doc[start..start + len])
}

/// `doc` with region `name` replaced by `content`.
pub(crate) fn replace_region(doc: &str, name: &str, content: &str) -> Result<String> {
    let old = region(doc, name)?;
    let start = old.as_ptr() as usize - doc.as_ptr() as usize;
    Ok(format!(
        "{}{content}{}",
        &doc[..start],
        &doc[start + old.len()..]
    ))
}

/// A value as the tables show it.
pub(crate) fn fmt(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x >= 1000.0 => format!("{x:.0}"),
        Some(x) if x >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.3}"),
    }
}

/// An integer with thousands separators: 150716 -> "150,716".
fn thousands(v: f64) -> String {
    let digits = format!("{v:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Report {
    /// The row named `name`.
    fn row(&self, name: &str) -> Result<&Row> {
        self.workloads
            .iter()
            .find(|r| r.name == name)
            .with_context(|| format!("the report has no {name} row (not a full run?)"))
    }

    /// Every row as a markdown table.
    pub(crate) fn table(&self) -> String {
        let mut out = String::from(
            "| workload | unit | native | wasmtime unmetered | Verity | wasmi | ratios |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for r in &self.workloads {
            let ratios = r
                .ratios
                .iter()
                .map(|(k, v)| format!("{k} {v:.2}"))
                .collect::<Vec<_>>()
                .join(", ");
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                r.name,
                r.unit,
                fmt(r.native),
                fmt(r.wasmtime_unmetered),
                fmt(r.verity),
                fmt(r.wasmi),
                ratios
            ));
        }
        out
    }

    /// The performance targets, each with what this run measured and
    /// whether it met it.
    fn targets(&self) -> String {
        let mut out = String::from("| target | measured | met |\n|---|---|---|\n");
        for t in TARGETS {
            let Ok(row) = self.row(t.row) else { continue };
            let (measured, unit) = match t.ratio {
                Some((key, unit)) => (row.ratios.get(key).copied(), unit),
                None => (row.verity, row.unit.as_str()),
            };
            let Some(m) = measured else { continue };
            let met = if t.at_least {
                m >= t.bound
            } else {
                m <= t.bound
            };
            let shown = match t.ratio {
                Some(_) => format!("{m:.2}{unit}"),
                None => format!("{} {unit}", fmt(Some(m))),
            };
            out.push_str(&format!(
                "| {} | {shown} | {} |\n",
                t.text,
                if met { "yes" } else { "no" }
            ));
        }
        out
    }

    /// docs/performance.md's results section: the targets, then every row.
    pub(crate) fn results_section(&self) -> String {
        format!(
            "One full run of `cargo run --release -p verity-bench -- --write-docs` on {}, \
             {} cores, {:.1} s (docs/bench.json holds it).\n\n{}\n{}",
            self.date,
            self.cores,
            self.seconds,
            self.targets(),
            self.table()
        )
    }

    /// The README's summary of the run.
    pub(crate) fn summary(&self) -> Result<String> {
        let token = self.row("token_transfer")?;
        let kernels = self.row("kernels_geomean")?;
        let cold = self.row("cold_compile_token")?;
        let cached = self.row("cached_load_token")?;
        let verify = self.row("verify_parallel")?;
        let worst = self.row("adversarial_worst")?;
        let authenticated = self.row("token_transfer_authenticated")?;
        let witness = self.row("verify_witness")?;
        let commit = self.row("state_commit")?;
        let value = |r: &Row| r.verity.with_context(|| format!("{} has no value", r.name));
        Ok(format!(
            "On {cores} cores ({date}): a token transfer call (a fresh instance, 3 reads: the contract record and two balances, 2 \
             writes, an event, a hashed receipt) runs at {tx} transactions/s, \
             {vs_wt:.2}× the time of plain wasmtime without metering and {wasmi:.1}× \
             faster than wasmi. Compute kernels take {k_wt:.2}× unmetered wasmtime's \
             time and {k_native:.2}× native's, and run {k_wasmi:.1}× faster than wasmi \
             (geometric means). Compiling the token takes {cold:.1} ms, loading it from \
             the artifact cache {cached:.0} µs; verification runs {speedup:.2}× faster \
             on {cores} cores than on one. The slowest transaction the profile allows \
             takes {slowest:.2} s. On an authenticated state of {keys} keys (both state \
             roots in every receipt and a {witness_bytes:.0}-byte witness per \
             transaction), transfers run at {auth_tx} transactions/s ({auth_ratio:.2}× \
             the time) and verify with no state at {verify_tx} receipts/s on one core. \
             Committing to the store behind `--state` takes {commit_ratio:.2}× as long at \
             {large} keys as at {small}.\n",
            cores = self.cores,
            date = self.date,
            tx = thousands(value(token)?),
            vs_wt = token.ratio("verity_vs_wasmtime_unmetered")?,
            wasmi = token.ratio("wasmi_vs_verity")?,
            k_wt = kernels.ratio("verity_vs_wasmtime_unmetered")?,
            k_native = kernels.ratio("verity_vs_native")?,
            k_wasmi = kernels.ratio("wasmi_vs_verity")?,
            cold = value(cold)?,
            cached = value(cached)?,
            speedup = verify.ratio("speedup_all_cores_vs_one")?,
            slowest = worst.ratio("worst_max_fuel_seconds")?,
            keys = thousands(authenticated.ratio("state_keys")?),
            witness_bytes = authenticated.ratio("witness_bytes")?,
            auth_tx = thousands(value(authenticated)?),
            auth_ratio = authenticated.ratio("time_vs_unauthenticated")?,
            verify_tx = thousands(witness.ratio("single_core_receipts_per_s")?),
            commit_ratio = commit.ratio("large_vs_small_commit_time")?,
            large = thousands(commit.ratio("large_keys")?),
            small = thousands(commit.ratio("small_keys")?),
        ))
    }
}

/// The repository's root (the benchmark's package is `benches/`).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ has a parent")
        .to_path_buf()
}

/// Where `--write-docs` writes: the JSON, the chart, and the two documents
/// whose regions are rendered from it.
pub(crate) struct Docs {
    pub(crate) json: PathBuf,
    pub(crate) svg: PathBuf,
    pub(crate) performance: PathBuf,
    pub(crate) readme: PathBuf,
}

impl Docs {
    pub(crate) fn in_repo() -> Docs {
        let root = repo_root();
        Docs {
            json: root.join("docs/bench.json"),
            svg: root.join("docs/bench.svg"),
            performance: root.join("docs/performance.md"),
            readme: root.join("README.md"),
        }
    }

    /// Saves `report` and renders every published figure from it.
    pub(crate) fn write(&self, report: &Report) -> Result<()> {
        if report.quick {
            bail!("a --quick run is not published: run without --quick");
        }
        let summary = report.summary()?;
        std::fs::write(&self.json, serde_json::to_string_pretty(report)? + "\n")?;
        crate::chart::draw(&self.svg, &report.workloads)?;
        for (path, name, content) in [
            (&self.performance, "results", report.results_section()),
            (&self.readme, "summary", summary),
        ] {
            let doc = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            std::fs::write(path, replace_region(&doc, name, &content)?)?;
        }
        Ok(())
    }
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub(crate) fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    civil_date((secs / 86_400) as i64)
}

/// The proleptic Gregorian date of day `days` since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(11_016), "2000-02-29");
        assert_eq!(civil_date(20_418), "2025-11-26");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(150_716.4), "150,716");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_000_000.0), "1,000,000");
    }

    #[test]
    fn regions_are_replaced_in_place() {
        let doc = "a\n<!-- verity-bench:x -->\nold\n<!-- /verity-bench:x -->\nb\n";
        let new = replace_region(doc, "x", "new\n").unwrap();
        assert_eq!(
            new,
            "a\n<!-- verity-bench:x -->\nnew\n<!-- /verity-bench:x -->\nb\n"
        );
        assert!(replace_region(doc, "y", "").is_err());
    }

    /// The published figures are exactly what docs/bench.json renders to:
    /// nobody edited a number by hand, and the JSON is the run they show.
    #[test]
    fn published_figures_are_rendered_from_docs_bench_json() {
        let docs = Docs::in_repo();
        let report: Report =
            serde_json::from_str(&std::fs::read_to_string(&docs.json).unwrap()).unwrap();
        assert!(!report.quick);
        let performance = std::fs::read_to_string(&docs.performance).unwrap();
        assert_eq!(
            region(&performance, "results").unwrap(),
            report.results_section(),
            "docs/performance.md's results differ from docs/bench.json: \
             run `cargo run --release -p verity-bench -- --from-json docs/bench.json --write-docs`"
        );
        let readme = std::fs::read_to_string(&docs.readme).unwrap();
        assert_eq!(
            region(&readme, "summary").unwrap(),
            report.summary().unwrap(),
            "README's benchmark summary differs from docs/bench.json"
        );
        let dir = tempfile::tempdir().unwrap();
        let svg = dir.path().join("bench.svg");
        crate::chart::draw(&svg, &report.workloads).unwrap();
        assert_eq!(
            std::fs::read_to_string(&svg).unwrap(),
            std::fs::read_to_string(&docs.svg).unwrap(),
            "docs/bench.svg is not drawn from docs/bench.json"
        );
    }
}
