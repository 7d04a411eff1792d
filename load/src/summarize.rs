//! `summarize`: JSON reports of several runs → markdown tables, one per scenario and
//! configuration, a row per server label, with ratios to baseline labels.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde_json::Value;

/// Flags of `summarize`.
#[derive(Debug, Clone, Args)]
pub(crate) struct SummarizeArgs {
    /// JSON reports written with `--json`.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Labels to compare every row with (a ratio column each), e.g. `floor`.
    #[arg(long, value_delimiter = ',')]
    baseline: Vec<String>,
    /// Writes the markdown here (default: stdout).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also draws, per scenario and configuration, every server's latency curve in one SVG
    /// in this directory (`<scenario>-<n>.svg`), linked from the markdown.
    #[arg(long)]
    svg_dir: Option<PathBuf>,
}

/// The latency curve a report carries (`results.latency.curve`), if any.
fn curve(latency: &Value) -> Option<crate::report::Curve> {
    let points: Vec<(f64, f64)> = latency["curve"]
        .as_array()?
        .iter()
        .filter_map(|p| Some((p[0].as_f64()?, p[1].as_f64()? / 1000.0)))
        .collect();
    let max_ms = latency["max_us"].as_f64()? / 1000.0;
    (!points.is_empty()).then_some(crate::report::Curve { points, max_ms })
}

/// Runs `summarize`.
pub(crate) fn run(args: &SummarizeArgs) -> anyhow::Result<()> {
    let mut groups: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for path in &args.files {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let report: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let scenario = report["scenario"].as_str().unwrap_or("?").to_owned();
        let config = report["config"].to_string();
        groups.entry((scenario, config)).or_default().push(report);
    }
    let mut md = String::new();
    let mut plots = 0;
    for ((scenario, _), reports) in &groups {
        let spec = spec(scenario);
        let config = &reports[0]["config"];
        let transport = match config["transport"].as_str() {
            Some(t) => format!(", {t} clients"),
            None => String::new(),
        };
        let _ = writeln!(
            md,
            "### {scenario}: {}{transport}\n",
            describe(scenario, config)
        );
        if let Some(dir) = &args.svg_dir {
            let curves: Vec<(&str, crate::report::Curve)> = reports
                .iter()
                .filter_map(|r| Some((r["label"].as_str()?, curve(&r["results"]["latency"])?)))
                .collect();
            if !curves.is_empty() {
                plots += 1;
                let path = dir.join(format!("{scenario}-{plots}.svg"));
                let title = format!("{scenario}: latency by server");
                crate::report::write_curves(&path, &title, &curves)?;
                let _ = writeln!(md, "Latency plot: `{}`\n", path.display());
            }
        }
        let mut header: Vec<String> = spec.iter().map(|c| c.title.to_owned()).collect();
        let key = spec.iter().find(|c| c.ratio);
        // Ratio columns for the baselines that ran this configuration.
        let baselines: Vec<&String> = args
            .baseline
            .iter()
            .filter(|b| {
                reports
                    .iter()
                    .any(|r| r["label"].as_str() == Some(b.as_str()))
            })
            .collect();
        for b in &baselines {
            if let Some(k) = key {
                header.push(format!("{} ÷ {b}", k.title));
            }
        }
        let _ = writeln!(md, "| {} |", header.join(" | "));
        let _ = writeln!(md, "|{}", "---|".repeat(header.len()));
        for r in reports {
            let mut cells: Vec<String> = spec.iter().map(|c| (c.get)(r)).collect();
            for b in &baselines {
                let Some(k) = key else { continue };
                let base = reports
                    .iter()
                    .find(|x| x["label"].as_str() == Some(b.as_str()));
                let ratio = match (base.and_then(|x| (k.value)(x)), (k.value)(r)) {
                    (Some(b), Some(v)) if b > 0.0 => format!("{:.2}", v / b),
                    _ => "–".to_owned(),
                };
                cells.push(ratio);
            }
            let _ = writeln!(md, "| {} |", cells.join(" | "));
        }
        md.push('\n');
    }
    match &args.out {
        Some(path) => {
            std::fs::write(path, md).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{md}"),
    }
    Ok(())
}

/// A column: its title, how to show it, its value for ratios, and whether ratios use it.
struct Column {
    title: &'static str,
    get: fn(&Value) -> String,
    value: fn(&Value) -> Option<f64>,
    ratio: bool,
}

fn num(v: &Value) -> String {
    match v {
        Value::Null => "–".to_owned(),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{}", f as i64)
            } else if f.abs() >= 100.0 {
                format!("{f:.0}")
            } else {
                format!("{f:.2}")
            }
        }
        other => other.to_string(),
    }
}

fn us_as_ms(v: &Value) -> String {
    v.as_f64()
        .map_or("–".to_owned(), |us| format!("{:.3}", us / 1000.0))
}

macro_rules! col {
    ($title:expr, $get:expr) => {
        Column {
            title: $title,
            get: $get,
            value: |_| None,
            ratio: false,
        }
    };
    ($title:expr, $get:expr, $value:expr) => {
        Column {
            title: $title,
            get: $get,
            value: $value,
            ratio: true,
        }
    };
}

fn spec(scenario: &str) -> Vec<Column> {
    match scenario {
        "connect" => vec![
            col!("server", |r| r["label"].as_str().unwrap_or("").to_owned()),
            col!("opened", |r| format!(
                "{} / {}",
                num(&r["results"]["opened"]),
                num(&r["results"]["requested"])
            )),
            col!("failed", |r| num(&r["results"]["failed"])),
            col!("handshake p50 ms", |r| us_as_ms(
                &r["results"]["handshake"]["p50_us"]
            )),
            col!("p99 ms", |r| us_as_ms(&r["results"]["handshake"]["p99_us"])),
            col!("max ms", |r| us_as_ms(&r["results"]["handshake"]["max_us"])),
            col!("server CPU µs/handshake", |r| num(
                &r["results"]["server_cpu_us_per_handshake"]
            )),
            col!(
                "RSS bytes/conn",
                |r| num(&r["results"]["rss_per_connection_bytes"]),
                |r| r["results"]["rss_per_connection_bytes"].as_f64()
            ),
        ],
        "fanout" => vec![
            col!("server", |r| r["label"].as_str().unwrap_or("").to_owned()),
            col!("deliveries/s", |r| num(&r["results"]["deliveries_per_s"])),
            col!("lost", |r| num(&r["results"]["lost"])),
            col!("dup", |r| num(&r["results"]["duplicates"])),
            col!("reordered", |r| num(&r["results"]["reordered"])),
            col!("p50 ms", |r| us_as_ms(&r["results"]["latency"]["p50_us"])),
            col!("p99 ms", |r| us_as_ms(&r["results"]["latency"]["p99_us"])),
            col!("p99.9 ms", |r| us_as_ms(
                &r["results"]["latency"]["p999_us"]
            )),
            col!("max ms", |r| us_as_ms(&r["results"]["latency"]["max_us"])),
            col!("generator load", |r| num(&r["usage"]["generator_load"])),
            col!("generator µs/delivery", |r| num(
                &r["results"]["generator_cpu_us_per_delivery"]
            )),
            col!(
                "server CPU µs/delivery",
                |r| num(&r["results"]["server_cpu_us_per_delivery"]),
                |r| r["results"]["server_cpu_us_per_delivery"].as_f64()
            ),
        ],
        "saturate" => vec![
            col!("server", |r| r["label"].as_str().unwrap_or("").to_owned()),
            col!("deliveries/s", |r| num(&r["results"]["deliveries_per_s"])),
            col!(
                "deliveries/s per server core",
                |r| num(&r["results"]["deliveries_per_s_per_server_core"]),
                |r| r["results"]["deliveries_per_s_per_server_core"].as_f64()
            ),
            col!("lost", |r| num(&r["results"]["lost"])),
            col!("dup", |r| num(&r["results"]["duplicates"])),
            col!("reordered", |r| num(&r["results"]["reordered"])),
            col!("server CPU µs/delivery", |r| num(
                &r["results"]["server_cpu_us_per_delivery"]
            )),
            col!("server core share", |r| num(
                &r["results"]["server_core_share"]
            )),
            col!("p50 ms", |r| us_as_ms(&r["results"]["latency"]["p50_us"])),
            col!("p99 ms", |r| us_as_ms(&r["results"]["latency"]["p99_us"])),
            col!("generator µs/delivery", |r| num(
                &r["results"]["generator_cpu_us_per_delivery"]
            )),
            col!("generator load", |r| num(&r["usage"]["generator_load"])),
        ],
        "echo" => vec![
            col!("server", |r| r["label"].as_str().unwrap_or("").to_owned()),
            col!("calls/s", |r| num(&r["results"]["calls_per_s"])),
            col!("unanswered", |r| num(&r["results"]["unanswered"])),
            col!("p50 ms", |r| us_as_ms(&r["results"]["latency"]["p50_us"])),
            col!("p99 ms", |r| us_as_ms(&r["results"]["latency"]["p99_us"])),
            col!("p99.9 ms", |r| us_as_ms(
                &r["results"]["latency"]["p999_us"]
            )),
            col!("max ms", |r| us_as_ms(&r["results"]["latency"]["max_us"])),
            col!("generator load", |r| num(&r["usage"]["generator_load"])),
            col!(
                "server CPU µs/call",
                |r| num(&r["results"]["server_cpu_us_per_call"]),
                |r| r["results"]["server_cpu_us_per_call"].as_f64()
            ),
        ],
        "cross-node" => vec![
            col!("server", |r| r["label"].as_str().unwrap_or("").to_owned()),
            col!("lost (one / cross)", |r| format!(
                "{} / {}",
                num(&r["single"]["results"]["lost"]),
                num(&r["cross"]["results"]["lost"])
            )),
            col!("p50 ms (one / cross)", |r| format!(
                "{} / {}",
                us_as_ms(&r["single"]["results"]["latency"]["p50_us"]),
                us_as_ms(&r["cross"]["results"]["latency"]["p50_us"])
            )),
            col!("p99 ms (one / cross)", |r| format!(
                "{} / {}",
                us_as_ms(&r["single"]["results"]["latency"]["p99_us"]),
                us_as_ms(&r["cross"]["results"]["latency"]["p99_us"])
            )),
            col!("server CPU µs/delivery (one / cross)", |r| format!(
                "{} / {}",
                num(&r["single"]["results"]["server_cpu_us_per_delivery"]),
                num(&r["cross"]["results"]["server_cpu_us_per_delivery"])
            )),
            col!(
                "cross ÷ one (CPU/delivery)",
                |r| num(&r["ratios"]["server_cpu_us_per_delivery"]),
                |r| r["ratios"]["server_cpu_us_per_delivery"].as_f64()
            ),
        ],
        _ => vec![col!("server", |r| r["label"]
            .as_str()
            .unwrap_or("")
            .to_owned())],
    }
}

fn describe(scenario: &str, c: &Value) -> String {
    match scenario {
        "connect" => format!(
            "{} connections at {}/s, held {} s",
            num(&c["connections"]),
            num(&c["rate"]),
            num(&c["hold_s"])
        ),
        "fanout" | "cross-node" => format!(
            "{} rooms × {} subscribers, {} publishers, {} deliveries/s offered, {} s ({} s warm-up)",
            num(&c["rooms"]),
            num(&c["room_size"]),
            num(&c["publishers"]),
            num(&c["offered_deliveries_per_s"]),
            num(&c["duration_s"]),
            num(&c["warmup_s"])
        ),
        "saturate" => format!(
            "{} rooms × {} subscribers, {} publishers closed-loop with {} publishes in flight each, {} s ({} s warm-up)",
            num(&c["rooms"]),
            num(&c["room_size"]),
            num(&c["publishers"]),
            num(&c["window"]),
            num(&c["duration_s"]),
            num(&c["warmup_s"])
        ),
        "echo" => format!(
            "{} connections, {} calls/s offered, {} s ({} s warm-up), {}-byte payload",
            num(&c["connections"]),
            num(&c["rate"]),
            num(&c["duration_s"]),
            num(&c["warmup_s"]),
            num(&c["payload_bytes"])
        ),
        _ => c.to_string(),
    }
}
