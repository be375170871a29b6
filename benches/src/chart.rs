//! The benchmark chart: for each workload, the time (or inverse throughput)
//! of every engine relative to Verity's, on a log scale, as SVG.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::Row;

/// One engine's bars: its label, colour, and its column of a row.
type Series = (&'static str, RGBColor, fn(&Row) -> Option<f64>);

/// The engines drawn.
const SERIES: [Series; 4] = [
    ("native", RGBColor(90, 90, 90), |r| r.native),
    ("wasmtime unmetered", RGBColor(66, 133, 244), |r| {
        r.wasmtime_unmetered
    }),
    ("Verity (metered)", RGBColor(219, 68, 55), |r| r.verity),
    ("wasmi (fuel)", RGBColor(244, 180, 0), |r| r.wasmi),
];

/// Cost of `value` relative to Verity's (1.0 = as fast as Verity, 2.0 =
/// twice Verity's time), or `None` where a column is missing.
fn relative(row: &Row, value: Option<f64>) -> Option<f64> {
    let (v, verity) = (value?, row.verity?);
    let cost = |x: f64| if row.higher_is_better { 1.0 / x } else { x };
    Some(cost(v) / cost(verity)).filter(|r| r.is_finite() && *r > 0.0)
}

/// Draws the workloads that have at least one column besides Verity.
pub(crate) fn draw(path: &Path, rows: &[Row]) -> Result<()> {
    let rows: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            SERIES
                .iter()
                .filter(|(_, _, get)| relative(r, get(r)).is_some())
                .count()
                > 1
        })
        .collect();
    let plot = |e| anyhow!("drawing {}: {e}", path.display());
    let root = SVGBackend::new(path, (960, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(plot)?;
    let n = rows.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "verity-bench: time relative to Verity (log scale; lower is faster)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(70)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..n, (0.005f64..50.0).log_scale())
        .map_err(plot)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(rows.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            // One label per group, at its centre.
            if (x - i as f64 - 0.5).abs() < 1e-6 {
                rows.get(i).map_or(String::new(), |r| r.name.to_string())
            } else {
                String::new()
            }
        })
        .y_desc("× Verity's time")
        .draw()
        .map_err(plot)?;
    let width = 0.8 / SERIES.len() as f64;
    for (s, (label, colour, get)) in SERIES.iter().enumerate() {
        let bars = rows.iter().enumerate().filter_map(|(i, row)| {
            let r = relative(row, get(row))?;
            let x0 = i as f64 + 0.1 + s as f64 * width;
            Some(Rectangle::new(
                [(x0, 0.005), (x0 + width * 0.9, r)],
                colour.filled(),
            ))
        });
        chart
            .draw_series(bars)
            .map_err(plot)?
            .label(*label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(plot)?;
    root.present().map_err(plot)?;
    Ok(())
}
