//! Showing a run: the progress bar, the summary table, the JSON file and the SVG plot of the
//! latency distribution.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

/// A progress bar on stderr (hidden with `quiet` or when stderr is not a terminal).
pub(crate) fn bar(quiet: bool, len: u64, prefix: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(len),
        if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr_with_hz(5)
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(prefix.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Prints a phase line on stderr (visible in logs, where the bar is not drawn).
pub(crate) fn phase(quiet: bool, msg: &str) {
    if !quiet {
        eprintln!("sio-load: {msg}");
    }
}

/// Rows of a summary table: a name and a value.
#[derive(Debug, Default)]
pub(crate) struct Table {
    rows: Vec<(String, String)>,
}

impl Table {
    /// Adds a row.
    pub(crate) fn row(&mut self, name: &str, value: impl std::fmt::Display) {
        self.rows.push((name.to_owned(), value.to_string()));
    }

    /// Adds the resource rows every scenario reports: the servers' CPU (with `per_unit`, e.g.
    /// "2.10 µs per call", when known), each server's RSS, and the generator's own load.
    pub(crate) fn usage(
        &mut self,
        usage: &crate::stats::Usage,
        per_unit: Option<String>,
        threads: usize,
    ) {
        if let Some(per_unit) = per_unit {
            self.row(
                "server CPU",
                format!(
                    "{:.2} s = {per_unit} ({:.0}% of one core)",
                    usage.server_cpu_s.unwrap_or(0.0),
                    usage.server_cpu_s.unwrap_or(0.0) / usage.wall_s.max(1e-9) * 100.0
                ),
            );
        }
        for (pid, _, rss0, rss1) in &usage.servers {
            self.row(
                &format!("server {pid} RSS"),
                format!("{} → {} KiB", rss0.unwrap_or(0), rss1.unwrap_or(0)),
            );
        }
        let gen_load = usage.own_load(threads);
        self.row(
            "generator",
            format!(
                "{:.2} s CPU over {:.1} s ({:.0}% of {threads} thread(s)){}",
                usage.own_cpu_s,
                usage.wall_s,
                gen_load * 100.0,
                if gen_load > 0.85 {
                    "  ← near saturation: the generator may be the bottleneck"
                } else {
                    ""
                }
            ),
        );
    }

    /// Adds the latency percentiles of `h` (nanoseconds), in microseconds.
    pub(crate) fn latency(&mut self, name: &str, h: &Histogram<u64>) {
        if h.is_empty() {
            self.row(name, "no samples");
            return;
        }
        let us = |ns: u64| ns as f64 / 1000.0;
        self.row(
            name,
            format!(
                "p50 {:.1} µs  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  (n={})",
                us(h.value_at_quantile(0.5)),
                us(h.value_at_quantile(0.9)),
                us(h.value_at_quantile(0.99)),
                us(h.value_at_quantile(0.999)),
                us(h.max()),
                h.len()
            ),
        );
    }

    /// Prints the table on stdout.
    pub(crate) fn print(&self, title: &str) {
        let width = self
            .rows
            .iter()
            .map(|r| r.0.chars().count())
            .max()
            .unwrap_or(0);
        println!("\n== {title} ==");
        for (name, value) in &self.rows {
            if name.is_empty() {
                println!("{value}");
            } else {
                println!("  {name:<width$}  {value}");
            }
        }
    }
}

/// Writes `report` as pretty JSON to `path`.
pub(crate) fn write_json(path: &Path, report: &Value) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Writes the latency distributions (nanosecond histograms) as an SVG percentile plot: the
/// x axis is the percentile on a log scale of 1/(1-q) (50%, 90%, 99%, ... 99.999%), as
/// HdrHistogram's plots; the y axis is the latency in milliseconds.
pub(crate) fn write_svg(
    path: &Path,
    title: &str,
    series: &[(&str, &Histogram<u64>)],
) -> anyhow::Result<()> {
    let curves: Vec<(&str, Curve)> = series
        .iter()
        .map(|(name, h)| (*name, Curve::of(h, 200)))
        .collect();
    write_curves(path, title, &curves)
}

/// Writes latency curves (from histograms or from reports) as the SVG percentile plot.
pub(crate) fn write_curves(
    path: &Path,
    title: &str,
    series: &[(&str, Curve)],
) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, svg(title, series)).with_context(|| format!("writing {}", path.display()))
}

/// A latency distribution as points (decades of the percentile axis, milliseconds): at `d`
/// decades the quantile is `1 − 10^−d` (0 → p0, 2 → p99, 3 → p99.9).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Curve {
    pub(crate) points: Vec<(f64, f64)>,
    pub(crate) max_ms: f64,
}

impl Curve {
    /// `n + 1` points spread evenly over the axis.
    pub(crate) fn of(h: &Histogram<u64>, n: u32) -> Curve {
        if h.is_empty() {
            return Curve::default();
        }
        let points = (0..=n)
            .map(|i| {
                let decades = DECADES * f64::from(i) / f64::from(n);
                let q = 1.0 - 10f64.powf(-decades);
                (decades, h.value_at_quantile(q) as f64 / 1e6)
            })
            .collect();
        Curve {
            points,
            max_ms: h.max() as f64 / 1e6,
        }
    }

    /// The latency at `decades` (linear between points).
    fn at(&self, decades: f64) -> f64 {
        let i = self.points.partition_point(|(d, _)| *d < decades);
        match (i.checked_sub(1).map(|j| self.points[j]), self.points.get(i)) {
            (Some((d0, v0)), Some(&(d1, v1))) if d1 > d0 => {
                v0 + (v1 - v0) * (decades - d0) / (d1 - d0)
            }
            (_, Some(&(_, v))) | (Some((_, v)), None) => v,
            (None, None) => 0.0,
        }
    }

    fn min_ms(&self) -> f64 {
        self.points.first().map_or(0.0, |p| p.1)
    }
}

const W: f64 = 760.0;
const H: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
/// Decades of the x axis: up to 99.999%.
const DECADES: f64 = 5.0;
const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The SVG document.
pub(crate) fn svg(title: &str, series: &[(&str, Curve)]) -> String {
    let max_ms = series
        .iter()
        .filter(|(_, c)| !c.points.is_empty())
        .map(|(_, c)| c.max_ms)
        .fold(0.0f64, f64::max);
    let min_ms = series
        .iter()
        .filter(|(_, c)| !c.points.is_empty())
        .map(|(_, c)| c.min_ms())
        .fold(f64::MAX, f64::min)
        .max(0.001);
    let y_max = nice_ceiling(max_ms.max(0.001));
    // Series that differ by orders of magnitude get a log scale (a decade per grid line).
    let (lo_exp, hi_exp) = (min_ms.log10().floor(), max_ms.max(0.001).log10().ceil());
    let log = hi_exp - lo_exp >= 2.0;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let x_of = |decades: f64| LEFT + plot_w * (decades / DECADES);
    let y_of = |ms: f64| {
        let f = if log {
            (ms.max(1e-3).log10() - lo_exp) / (hi_exp - lo_exp)
        } else {
            ms / y_max
        };
        TOP + plot_h * (1.0 - f.clamp(0.0, 1.0))
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        W / 2.0,
        escape(title)
    );
    // Grid and axes.
    for (i, label) in ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]
        .iter()
        .enumerate()
    {
        let x = x_of(i as f64);
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 16.0
        );
    }
    let ticks: Vec<f64> = if log {
        (lo_exp as i32..=hi_exp as i32)
            .map(|e| 10f64.powi(e))
            .collect()
    } else {
        (0..=5).map(|i| y_max * f64::from(i) / 5.0).collect()
    };
    for ms in ticks {
        let label = if log || y_max < 5.0 {
            fmt_ms(ms)
        } else {
            format!("{ms:.0}")
        };
        let y = y_of(ms);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            label
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text>"#,
        LEFT + plot_w / 2.0,
        H - 10.0
    );
    let _ = writeln!(
        out,
        r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">latency (ms{})</text>"#,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0,
        if log { ", log scale" } else { "" }
    );
    // One line per series: 200 points spread evenly over the log axis.
    for (n, (name, curve)) in series.iter().enumerate() {
        if curve.points.is_empty() {
            continue;
        }
        let color = COLORS[n % COLORS.len()];
        let mut points = String::new();
        for &(decades, ms) in &curve.points {
            let _ = write!(points, "{:.1},{:.1} ", x_of(decades), y_of(ms));
        }
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            points.trim_end()
        );
        let ly = TOP + 16.0 + 18.0 * n as f64;
        let _ = writeln!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="14" height="3" fill="{color}"/><text x="{:.1}" y="{:.1}">{} (p50 {} ms, p99 {} ms, max {} ms)</text>"#,
            LEFT + 12.0,
            ly - 4.0,
            LEFT + 32.0,
            ly,
            escape(name),
            fmt_ms(curve.at(std::f64::consts::LOG10_2)),
            fmt_ms(curve.at(2.0)),
            fmt_ms(curve.max_ms),
        );
    }
    out.push_str("</svg>\n");
    out
}

fn fmt_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 1.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.3}")
    }
}

/// 1, 2 or 5 times a power of ten, at least `v`.
fn nice_ceiling(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_a_line_per_series() {
        let mut a = crate::stats::histogram();
        let mut b = crate::stats::histogram();
        for i in 1..1000u64 {
            a.record(i * 1000).unwrap();
            b.record(i * 2000).unwrap();
        }
        let doc = svg(
            "t <x>",
            &[("a", Curve::of(&a, 200)), ("b", Curve::of(&b, 200))],
        );
        assert_eq!(doc.matches("<polyline").count(), 2);
        assert!(doc.contains("t &lt;x&gt;"));
        let c = Curve::of(&a, 50);
        assert_eq!(c.points.len(), 51);
        // p50 of 1..999 µs is ~0.5 ms; p99 ~0.99 ms.
        assert!(
            (c.at(std::f64::consts::LOG10_2) - 0.5).abs() < 0.02,
            "{}",
            c.at(std::f64::consts::LOG10_2)
        );
        assert!((c.at(2.0) - 0.99).abs() < 0.02);
        assert_eq!(nice_ceiling(3.2), 5.0);
        assert_eq!(nice_ceiling(0.7), 1.0);
    }
}
