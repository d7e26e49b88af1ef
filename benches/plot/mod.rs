//! An at-a-glance SVG chart of a criterion run: for each case, every implementation's median
//! time as a ratio to a reference implementation, on a log scale. Hand-written SVG, no
//! dependencies beyond `serde_json` for criterion's `estimates.json`.

use std::path::{Path, PathBuf};

/// What to draw: which criterion groups and functions, in which order, under which names.
pub struct Chart<'a> {
    pub title: &'a str,
    pub subtitle: &'a str,
    /// The function every other one is divided by, and its name in the chart.
    pub reference: (&'a str, &'a str),
    /// `(criterion group, label)`, top to bottom. Groups without results are left out.
    pub cases: &'a [(&'a str, &'a str)],
    /// `(criterion function, legend label, colour)`, one bar each per case.
    pub series: &'a [(&'a str, &'a str, &'a str)],
    /// Small print under the axis.
    pub notes: &'a [&'a str],
}

/// One case's medians: the reference's, and each series' (`None` when it has no result).
struct Row<'a> {
    label: &'a str,
    reference: f64,
    medians: Vec<Option<f64>>,
}

/// Whether this process is a real benchmark run, as criterion 0.5 decides it: `cargo bench`
/// passes `--bench`, and `--test`, `--list` and `--profile-time` measure nothing.
pub fn benchmarks_ran() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |flag: &str| {
        args.iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    has("--bench") && !has("--test") && !has("--list") && !has("--profile-time")
}

/// Where criterion 0.5 writes its results: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`,
/// else `<manifest dir>/target/criterion` (criterion asks `cargo metadata`, which gives that
/// unless the target directory is configured elsewhere).
pub fn criterion_dir(manifest_dir: &Path) -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        PathBuf::from(home)
    } else if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        PathBuf::from(target).join("criterion")
    } else {
        manifest_dir.join("target").join("criterion")
    }
}

/// The median point estimate (ns) in `<dir>/<group>/<function>/new/estimates.json`, `None` if
/// the file does not exist.
fn median(dir: &Path, group: &str, function: &str) -> Result<Option<f64>, String> {
    let path = dir
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    parse_median(&text)
        .map(Some)
        .ok_or_else(|| format!("{}: no positive median.point_estimate", path.display()))
}

/// `median.point_estimate` of criterion's `estimates.json`, if it is a positive number.
fn parse_median(json: &str) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let x = v.get("median")?.get("point_estimate")?.as_f64()?;
    (x.is_finite() && x > 0.0).then_some(x)
}

/// Reads the medians and renders the chart. `Ok(None)` when no case has results.
pub fn render(dir: &Path, chart: &Chart) -> Result<Option<String>, String> {
    let mut rows = Vec::new();
    for &(group, label) in chart.cases {
        let Some(reference) = median(dir, group, chart.reference.0)? else {
            continue;
        };
        let medians = chart
            .series
            .iter()
            .map(|&(function, ..)| median(dir, group, function))
            .collect::<Result<Vec<_>, _>>()?;
        if medians.iter().any(Option::is_some) {
            rows.push(Row {
                label,
                reference,
                medians,
            });
        }
    }
    Ok((!rows.is_empty()).then(|| svg(chart, &rows)))
}

// ---------------------------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------------------------

const WIDTH: f64 = 800.0;
const FONT: &str = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif";
const INK: &str = "#24292f";
const MUTED: &str = "#57606a";
const GRID: &str = "#d0d7de";

const LABEL_RIGHT: f64 = 176.0; // case names end here
const PLOT_LEFT: f64 = 192.0;
const PLOT_RIGHT: f64 = WIDTH - 16.0;
const VALUE_ROOM: f64 = 44.0; // room for a value label beyond the axis' ends
const BAR: f64 = 13.0;
const BAR_GAP: f64 = 3.0;
const CASE_PAD: f64 = 11.0;

fn svg(chart: &Chart, rows: &[Row]) -> String {
    let ratios = rows
        .iter()
        .flat_map(|row| row.medians.iter().flatten().map(move |m| m / row.reference));
    let (lo, hi) = ratios.fold((1.0f64, 1.0f64), |(lo, hi), r| (lo.min(r), hi.max(r)));
    let ticks: Vec<f64> = (-3..=3)
        .flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(k)))
        .collect();
    // The axis spans every ratio and at least 0.5 to 2, with a margin; grid lines at 1-2-5.
    let (lo, hi) = (lo.min(0.5) / 1.15, hi.max(2.0) * 1.15);
    let (ax0, ax1) = (PLOT_LEFT + VALUE_ROOM, PLOT_RIGHT - VALUE_ROOM);
    let x = |r: f64| ax0 + (r.ln() - lo.ln()) / (hi.ln() - lo.ln()) * (ax1 - ax0);

    let n = chart.series.len() as f64;
    let case_h = 2.0 * CASE_PAD + n * BAR + (n - 1.0) * BAR_GAP;
    let plot_top = 112.0;
    let plot_bottom = plot_top + case_h * rows.len() as f64;
    let height = plot_bottom + 58.0 + 17.0 * chart.notes.len() as f64;

    let mut s = String::new();
    let mut put = |line: String| {
        s.push_str(&line);
        s.push('\n');
    };
    put(format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="{FONT}" font-size="12" fill="{INK}">"#
    ));
    put(format!(r#"<title>{}</title>"#, esc(chart.title)));
    put(format!(
        r##"<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>"##
    ));
    put(format!(
        r#"<text x="16" y="30" font-size="17" font-weight="600">{}</text>"#,
        esc(chart.title)
    ));
    put(format!(
        r#"<text x="16" y="51" fill="{MUTED}">{}</text>"#,
        esc(chart.subtitle)
    ));

    // Legend: the series, then the reference line.
    let mut lx = 16.0;
    for &(_, label, colour) in chart.series {
        put(format!(
            r#"<rect x="{lx}" y="69" width="12" height="12" rx="2" fill="{colour}"/>"#
        ));
        put(format!(
            r#"<text x="{}" y="79.5">{}</text>"#,
            lx + 17.0,
            esc(label)
        ));
        lx += 17.0 + text_width(label, 12.0) + 22.0;
    }
    put(format!(
        r#"<line x1="{lx}" y1="75" x2="{}" y2="75" stroke="{INK}" stroke-width="2"/>"#,
        lx + 14.0
    ));
    put(format!(
        r#"<text x="{}" y="79.5">{} = 1</text>"#,
        lx + 19.0,
        esc(chart.reference.1)
    ));

    // Grid and tick labels.
    let axis_y = plot_bottom + 17.0;
    for &t in ticks
        .iter()
        .filter(|&&t| t >= lo * 0.9999 && t <= hi * 1.0001)
    {
        let tx = x(t);
        if (t - 1.0).abs() > 1e-9 {
            put(format!(
                r#"<line x1="{tx:.1}" y1="{plot_top}" x2="{tx:.1}" y2="{plot_bottom}" stroke="{GRID}" stroke-width="1"/>"#
            ));
        }
        put(format!(
            r#"<text x="{tx:.1}" y="{axis_y}" text-anchor="middle" fill="{MUTED}">{}×</text>"#,
            number(t)
        ));
    }
    put(format!(
        r#"<text x="{:.1}" y="{}" text-anchor="middle" fill="{MUTED}">time ÷ {} time (log scale)</text>"#,
        (ax0 + ax1) / 2.0,
        axis_y + 19.0,
        esc(chart.reference.1)
    ));
    put(format!(
        r#"<text x="{ax0:.1}" y="{}" fill="{MUTED}">← faster</text>"#,
        axis_y + 19.0
    ));
    put(format!(
        r#"<text x="{ax1:.1}" y="{}" text-anchor="end" fill="{MUTED}">slower →</text>"#,
        axis_y + 19.0
    ));
    for (i, note) in chart.notes.iter().enumerate() {
        put(format!(
            r#"<text x="16" y="{}" font-size="11" fill="{MUTED}">{}</text>"#,
            axis_y + 44.0 + 17.0 * i as f64,
            esc(note)
        ));
    }

    // The cases.
    let x1 = x(1.0);
    for (i, row) in rows.iter().enumerate() {
        let top = plot_top + case_h * i as f64;
        if i > 0 {
            put(format!(
                r#"<line x1="16" y1="{top}" x2="{PLOT_RIGHT}" y2="{top}" stroke="{GRID}" stroke-width="1"/>"#
            ));
        }
        let mid = top + case_h / 2.0;
        put(format!(
            r#"<text x="{LABEL_RIGHT}" y="{:.1}" text-anchor="end" font-size="13" font-weight="600">{}</text>"#,
            mid - 3.0,
            esc(row.label)
        ));
        put(format!(
            r#"<text x="{LABEL_RIGHT}" y="{:.1}" text-anchor="end" font-size="11" fill="{MUTED}">{} {}</text>"#,
            mid + 13.0,
            esc(chart.reference.1),
            duration(row.reference)
        ));
        for (j, (&(_, _, colour), m)) in chart.series.iter().zip(&row.medians).enumerate() {
            let y = top + CASE_PAD + j as f64 * (BAR + BAR_GAP);
            let text_y = y + BAR - 2.5;
            let Some(m) = m else {
                put(format!(
                    r#"<text x="{:.1}" y="{text_y:.1}" font-size="11" font-style="italic" fill="{MUTED}">n/a</text>"#,
                    x1 + 5.0
                ));
                continue;
            };
            let r = m / row.reference;
            let xr = x(r);
            let (left, w) = (x1.min(xr), (xr - x1).abs().max(2.0));
            put(format!(
                r#"<rect x="{left:.1}" y="{y:.1}" width="{w:.1}" height="{BAR}" fill="{colour}"><title>{}: {} ({}×)</title></rect>"#,
                esc(chart.series[j].1),
                duration(*m),
                ratio(r)
            ));
            let (tx, anchor) = if r >= 1.0 {
                (x1.max(xr) + 4.0, "start")
            } else {
                (xr - 4.0, "end")
            };
            put(format!(
                r#"<text x="{tx:.1}" y="{text_y:.1}" text-anchor="{anchor}" font-size="11">{}×</text>"#,
                ratio(r)
            ));
        }
    }
    // The reference line, over the bars.
    put(format!(
        r#"<line x1="{x1:.1}" y1="{}" x2="{x1:.1}" y2="{plot_bottom}" stroke="{INK}" stroke-width="2"/>"#,
        plot_top - 6.0
    ));
    put(format!(
        r#"<text x="{x1:.1}" y="{}" text-anchor="middle" font-size="11" font-weight="600">{}</text>"#,
        plot_top - 10.0,
        esc(chart.reference.1)
    ));
    put("</svg>".to_owned());
    s
}

/// A rough width for laying out the legend (average glyph ≈ 0.56 em).
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.56
}

fn number(t: f64) -> String {
    let s = format!("{t:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn ratio(r: f64) -> String {
    if r >= 9.995 {
        format!("{r:.1}")
    } else {
        format!("{r:.2}")
    }
}

fn duration(ns: f64) -> String {
    let (v, unit) = match ns {
        ns if ns < 1e3 => (ns, "ns"),
        ns if ns < 1e6 => (ns / 1e3, "µs"),
        ns if ns < 1e9 => (ns / 1e6, "ms"),
        ns => (ns / 1e9, "s"),
    };
    let digits = if v < 10.0 {
        2
    } else if v < 100.0 {
        1
    } else {
        0
    };
    format!("{v:.digits$} {unit}")
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
