//! Hand-written inline SVG charts for report.html.
//!
//! A few kilobytes of SVG per chart keep the report one self-contained file
//! that opens from disk with no network and no JavaScript. Every piece of
//! text (series names, category labels, tooltips) goes through [`esc`],
//! because fleet names, outcome codes and step names can come from the
//! target; the HTML template marks the finished SVG safe, so this module is
//! where escaping must happen.

use std::fmt::Write;

/// Series colours (Okabe-Ito-like, readable on white and for most colour-blind readers).
pub const PALETTE: &[&str] = &[
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#7f7f7f", "#000000",
];

const W: f64 = 560.0;
const H: f64 = 270.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 46.0;
/// Bar charts leave room for slanted category labels (outcome codes are long).
const BAR_BOTTOM: f64 = 74.0;
/// Above this many points per series, dots with tooltips are left out and
/// the polyline's own tooltip summarises it.
const MAX_DOTS: usize = 400;

/// Bidirectional-text controls (embeddings, overrides, isolates, marks).
/// Inside a string from the target they can make a report read backwards
/// (`U+202E` turns `exe.txt` into what looks like `txt.exe`).
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// `s` with every bidi control shown as the text `\u{XXXX}` instead of
/// being obeyed by the browser.
pub fn show_bidi(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(is_bidi_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_bidi_control(c) {
            out.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Escapes text for SVG/HTML content and attribute values; bidi controls
/// are shown, not obeyed ([`show_bidi`]).
pub fn esc(s: &str) -> String {
    let s = show_bidi(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The colour of series `i`.
pub fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: &'static str,
    /// (x, y) in data units; a non-finite point is not drawn and breaks
    /// the line there (a gap in the data, e.g. `(x, f64::NAN)`).
    pub points: Vec<(f64, f64)>,
}

/// How the x axis maps data to pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum XAxis {
    /// Seconds (or any linear unit) with the given label.
    Linear(&'static str),
    /// Percentiles in [0, 100] on a log scale of 1/(1-p), HdrHistogram style.
    Percentile,
}

/// A line chart description.
pub struct LineChart<'a> {
    pub title: &'a str,
    pub y_label: &'a str,
    pub x: XAxis,
    pub series: &'a [Series],
    /// Formats a y value for ticks and tooltips.
    pub fmt_y: fn(f64) -> String,
}

/// A "nice" step (1, 2 or 5 × 10^k) giving about `n` ticks up to `max`.
fn nice_step(max: f64, n: f64) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let raw = max / n;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Percentile `p` (0..=100) to the log axis position log10(1/(1-p)),
/// clamped so 100% lands at `cap`.
fn pct_x(p: f64, cap: f64) -> f64 {
    if p >= 100.0 {
        return cap;
    }
    (1.0 / (1.0 - p / 100.0)).log10().clamp(0.0, cap)
}

const PCT_TICKS: &[(f64, &str)] = &[
    (0.0, "0%"),
    (50.0, "50%"),
    (90.0, "90%"),
    (99.0, "99%"),
    (99.9, "99.9%"),
    (99.99, "99.99%"),
    (99.999, "99.999%"),
];

fn open(out: &mut String, title: &str, kind: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" viewBox="0 0 {W} {H}" role="img" aria-label="{t}"><title>{t}</title><text class="ct" x="{LEFT}" y="18">{t}</text>"#,
        t = esc(title)
    );
}

fn no_data(out: &mut String) {
    let _ = write!(
        out,
        r#"<text class="nodata" x="{}" y="{}" text-anchor="middle">no data</text></svg>"#,
        W / 2.0,
        H / 2.0
    );
}

fn legend(out: &mut String, names: &[(&str, &str)]) {
    let mut x = W - RIGHT;
    for (name, color) in names.iter().rev() {
        let label: String = name.chars().take(24).collect();
        x -= 22.0 + 6.5 * label.chars().count() as f64;
        let _ = write!(
            out,
            r#"<g class="legend"><rect x="{x:.1}" y="24" width="12" height="4" fill="{color}"/><text x="{:.1}" y="30">{}</text></g>"#,
            x + 16.0,
            esc(&label)
        );
    }
}

fn y_axis(out: &mut String, y_max: f64, y_label: &str, fmt: fn(f64) -> String, bottom: f64) -> f64 {
    let step = nice_step(y_max, 4.0);
    let top = (y_max / step).ceil().max(1.0) * step;
    let plot_h = H - TOP - bottom;
    let mut v = 0.0;
    while v <= top * 1.000_001 {
        let y = H - bottom - v / top * plot_h;
        let label = if v == 0.0 { "0".to_string() } else { fmt(v) };
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            esc(&label)
        );
        v += step;
    }
    let _ = write!(
        out,
        r#"<text class="axis" transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        TOP + plot_h / 2.0,
        esc(y_label)
    );
    top
}

/// A shaded x range drawn behind the lines (e.g. a fault window).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band<'a> {
    pub from: f64,
    pub to: f64,
    /// Short label at the top of the band, also its tooltip.
    pub label: &'a str,
}

/// Renders a line chart with one polyline per series, a legend, and a
/// `<title>` tooltip on every point (or on the line, for long series).
pub fn line_chart(c: &LineChart<'_>) -> String {
    line_chart_with_band(c, None)
}

/// [`line_chart`] with an optional shaded x range (linear x axes only),
/// clipped to the plotted range.
pub fn line_chart_with_band(c: &LineChart<'_>, band: Option<Band<'_>>) -> String {
    let mut out = String::new();
    let kind = match c.x {
        XAxis::Percentile => "spectrum",
        XAxis::Linear(_) => "series",
    };
    open(&mut out, c.title, kind);
    let pts: Vec<Vec<(f64, f64)>> = c
        .series
        .iter()
        .map(|s| s.points.iter().copied().filter(finite).collect())
        .collect();
    if pts.iter().all(Vec::is_empty) {
        no_data(&mut out);
        return out;
    }
    let (x_min, x_max, cap) = x_range(c.x, &pts);
    let y_max = pts.iter().flatten().map(|p| p.1).fold(0.0, f64::max);
    let top = y_axis(&mut out, y_max, c.y_label, c.fmt_y, BOTTOM);
    let f = Frame {
        axis: c.x,
        x_min,
        x_max,
        cap,
        top,
    };
    if let (Some(b), XAxis::Linear(_)) = (band, c.x) {
        shade(&mut out, &f, b);
    }
    x_ticks(&mut out, &f);
    for (s, points) in c.series.iter().zip(&pts) {
        series(&mut out, &f, c, s, points);
    }
    let names: Vec<(&str, &str)> = c
        .series
        .iter()
        .map(|s| (s.name.as_str(), s.color))
        .collect();
    legend(&mut out, &names);
    out.push_str("</svg>");
    out
}

fn finite(&(x, y): &(f64, f64)) -> bool {
    x.is_finite() && y.is_finite()
}

/// Where a line chart's values land: its x range (and the percentile
/// axis' cap) and the top of its y axis.
struct Frame {
    axis: XAxis,
    x_min: f64,
    x_max: f64,
    cap: f64,
    top: f64,
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        let x = match self.axis {
            XAxis::Percentile => pct_x(x, self.cap),
            XAxis::Linear(_) => x,
        };
        LEFT + (x - self.x_min) / (self.x_max - self.x_min) * (W - LEFT - RIGHT)
    }

    fn py(&self, y: f64) -> f64 {
        H - BOTTOM - (y.max(0.0) / self.top) * (H - TOP - BOTTOM)
    }
}

/// The x range to plot (and, for percentiles, the cap of the log scale).
fn x_range(axis: XAxis, pts: &[Vec<(f64, f64)>]) -> (f64, f64, f64) {
    match axis {
        XAxis::Percentile => {
            let below: f64 = pts
                .iter()
                .flatten()
                .filter(|p| p.0 < 100.0)
                .map(|p| pct_x(p.0, 5.0))
                .fold(0.0, f64::max);
            let cap = below.ceil().clamp(2.0, 5.0);
            (0.0, cap, cap)
        }
        XAxis::Linear(_) => {
            let lo = pts
                .iter()
                .flatten()
                .map(|p| p.0)
                .fold(f64::INFINITY, f64::min);
            let hi = pts
                .iter()
                .flatten()
                .map(|p| p.0)
                .fold(f64::NEG_INFINITY, f64::max);
            (lo, if hi > lo { hi } else { lo + 1.0 }, 0.0)
        }
    }
}

/// The shaded band, clipped to the plotted range.
fn shade(out: &mut String, f: &Frame, b: Band<'_>) {
    if !(b.from.is_finite() && b.to.is_finite()) {
        return;
    }
    let (x0, x1) = (b.from.max(f.x_min), b.to.min(f.x_max));
    if x1 <= x0 {
        return;
    }
    let (l, r) = (f.px(x0), f.px(x1));
    let plot_h = H - TOP - BOTTOM;
    let _ = write!(
        out,
        r##"<g class="band"><title>{t}</title><rect x="{l:.1}" y="{TOP}" width="{:.1}" height="{plot_h:.1}" fill="#e69f00" fill-opacity="0.16"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#9a6a00">{t}</text></g>"##,
        r - l,
        (l + r) / 2.0,
        TOP + 12.0,
        t = esc(b.label)
    );
}

/// The x axis' ticks and its label.
fn x_ticks(out: &mut String, f: &Frame) {
    let plot_w = W - LEFT - RIGHT;
    let label = match f.axis {
        XAxis::Percentile => {
            for (p, label) in PCT_TICKS
                .iter()
                .filter(|(p, _)| pct_x(*p, 9.0) <= f.cap + 1e-9)
            {
                tick_x(out, f.px(*p), label);
            }
            "percentile (log scale of 1/(1-p))"
        }
        XAxis::Linear(label) => {
            let step = nice_step(f.x_max - f.x_min, 6.0);
            let mut v = (f.x_min / step).ceil() * step;
            while v <= f.x_max + 1e-9 {
                tick_x(out, f.px(v), &super::format::decimal(v, 3));
                v += step;
            }
            label
        }
    };
    let _ = write!(
        out,
        r#"<text class="axis" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        H - 6.0,
        esc(label)
    );
}

/// One series: a polyline per run of finite points (a lone point drawn as
/// a dot, a zero-length line with round caps), and a dot with its value
/// on every point of a short series.
fn series(out: &mut String, f: &Frame, c: &LineChart<'_>, s: &Series, points: &[(f64, f64)]) {
    if points.is_empty() {
        return;
    }
    let peak = points.iter().map(|p| p.1).fold(0.0, f64::max);
    for run in s.points.split(|p| !finite(p)).filter(|r| !r.is_empty()) {
        let mut coords: Vec<String> = run
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", f.px(x), f.py(y)))
            .collect();
        if coords.len() == 1 {
            coords.push(coords[0].clone());
        }
        let _ = write!(
            out,
            r#"<polyline class="line" fill="none" stroke="{}" stroke-width="2" stroke-linecap="round" points="{}"><title>{}: peak {}</title></polyline>"#,
            s.color,
            coords.join(" "),
            esc(&s.name),
            esc(&(c.fmt_y)(peak))
        );
    }
    if points.len() > MAX_DOTS {
        return;
    }
    for &(x, y) in points {
        let at = match c.x {
            XAxis::Percentile => format!("p{}", super::format::decimal(x, 4)),
            XAxis::Linear(_) => format!("t={}", super::format::decimal(x, 3)),
        };
        let _ = write!(
            out,
            r#"<circle class="pt" cx="{:.1}" cy="{:.1}" r="3.5" fill="{}"><title>{} {at}: {}</title></circle>"#,
            f.px(x),
            f.py(y),
            s.color,
            esc(&s.name),
            esc(&(c.fmt_y)(y))
        );
    }
}

fn tick_x(out: &mut String, x: f64, label: &str) {
    // Labels at the right edge would be clipped if centred.
    let anchor = if x > W - RIGHT - 24.0 {
        "end"
    } else {
        "middle"
    };
    let _ = write!(
        out,
        r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}"/><text class="tick" x="{x:.1}" y="{}" text-anchor="{anchor}">{}</text>"#,
        H - BOTTOM,
        H - BOTTOM + 15.0,
        esc(label)
    );
}

/// A grouped bar chart: for each category, one bar per series.
pub struct BarChart<'a> {
    pub title: &'a str,
    pub y_label: &'a str,
    pub categories: &'a [String],
    /// (series name, colour, one value per category).
    pub series: &'a [(String, &'static str, Vec<f64>)],
    pub fmt_y: fn(f64) -> String,
    /// Extra tooltip text per series and category (e.g. raw counts).
    pub notes: Option<&'a [Vec<String>]>,
}

/// Renders a grouped bar chart with a `<title>` tooltip on each bar.
pub fn bar_chart(c: &BarChart<'_>) -> String {
    let mut out = String::new();
    open(&mut out, c.title, "bars");
    let y_max = c
        .series
        .iter()
        .flat_map(|s| s.2.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    if c.categories.is_empty() || c.series.is_empty() {
        no_data(&mut out);
        return out;
    }
    let top = y_axis(&mut out, y_max, c.y_label, c.fmt_y, BAR_BOTTOM);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BAR_BOTTOM;
    let slot = plot_w / c.categories.len() as f64;
    let bar_w = (slot * 0.8 / c.series.len() as f64).max(1.0);
    let rotate = c.categories.len() > 6 || c.categories.iter().any(|l| l.chars().count() > 10);
    for (ci, cat) in c.categories.iter().enumerate() {
        let x0 = LEFT + slot * ci as f64 + slot * 0.1;
        for (si, (name, color, values)) in c.series.iter().enumerate() {
            let v = values
                .get(ci)
                .copied()
                .filter(|v| v.is_finite())
                .unwrap_or(0.0);
            let h = (v.max(0.0) / top) * plot_h;
            let note = c
                .notes
                .and_then(|n| n.get(si))
                .and_then(|n| n.get(ci))
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            let _ = write!(
                out,
                r#"<rect class="bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{color}"><title>{} · {}: {}{}</title></rect>"#,
                x0 + bar_w * si as f64,
                H - BAR_BOTTOM - h,
                bar_w,
                esc(name),
                esc(cat),
                esc(&(c.fmt_y)(v)),
                esc(&note)
            );
        }
        let label: String = cat.chars().take(18).collect();
        let cx = x0 + slot * 0.4;
        let ly = H - BAR_BOTTOM + 14.0;
        if rotate {
            let _ = write!(
                out,
                r#"<text class="tick" transform="translate({cx:.1} {ly:.1}) rotate(-30)" text-anchor="end">{}</text>"#,
                esc(&label)
            );
        } else {
            let _ = write!(
                out,
                r#"<text class="tick" x="{cx:.1}" y="{ly:.1}" text-anchor="middle">{}</text>"#,
                esc(&label)
            );
        }
    }
    let names: Vec<(&str, &str)> = c.series.iter().map(|s| (s.0.as_str(), s.1)).collect();
    legend(&mut out, &names);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVIL: &str = "<script>alert('x')</script>&\"";

    #[test]
    fn report_svg_shows_bidi_controls_as_text() {
        let all = [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
        ];
        for c in all {
            let shown = esc(&format!("a{c}b"));
            assert_eq!(shown, format!("a\\u{{{:04X}}}b", u32::from(c)));
            assert!(!shown.contains(c));
        }
        assert_eq!(esc("cod\u{202E}gnp.exe"), "cod\\u{202E}gnp.exe");
        // Neighbours that are not bidi controls pass through.
        assert_eq!(
            esc("\u{2065}\u{2070}\u{200D}é"),
            "\u{2065}\u{2070}\u{200D}é"
        );
        assert!(matches!(
            show_bidi("plain"),
            std::borrow::Cow::Borrowed("plain")
        ));
    }

    #[test]
    fn report_svg_escapes_every_text() {
        let series = [Series {
            name: EVIL.into(),
            color: color(0),
            points: vec![(0.0, 1.0), (50.0, 2.0), (99.9, 5.0), (100.0, 9.0)],
        }];
        let svg = line_chart(&LineChart {
            title: EVIL,
            y_label: EVIL,
            x: XAxis::Percentile,
            series: &series,
            fmt_y: |v| format!("{v} <ms>"),
        });
        assert!(!svg.contains("<script") && !svg.contains("'x'"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"));
        assert!(svg.contains("&lt;ms&gt;"));
        assert!(svg.contains("<polyline") && svg.contains("99.9%"));
        let bars = bar_chart(&BarChart {
            title: "t",
            y_label: "y",
            categories: &[EVIL.to_string()],
            series: &[(EVIL.to_string(), color(1), vec![3.0])],
            fmt_y: |v| v.to_string(),
            notes: Some(&[vec![EVIL.to_string()]]),
        });
        assert!(
            !bars.contains("<script") && bars.contains("<rect class=\"bar\""),
            "{bars}"
        );
    }

    #[test]
    fn report_svg_survives_empty_and_non_finite() {
        let series = [Series {
            name: "a".into(),
            color: color(0),
            points: vec![(f64::NAN, 1.0), (1.0, f64::INFINITY)],
        }];
        let svg = line_chart(&LineChart {
            title: "empty",
            y_label: "y",
            x: XAxis::Linear("s"),
            series: &series,
            fmt_y: |v| v.to_string(),
        });
        assert!(svg.contains("no data") && svg.ends_with("</svg>"));
        let one = [Series {
            name: "a".into(),
            color: color(0),
            points: vec![(3.0, 0.0)],
        }];
        let svg = line_chart(&LineChart {
            title: "flat",
            y_label: "y",
            x: XAxis::Linear("s"),
            series: &one,
            fmt_y: |v| v.to_string(),
        });
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert_eq!(svg.matches("<polyline").count(), 1, "a lone point is a dot");
        // A gap (a non-finite point) breaks the line in two.
        let gap = [Series {
            name: "a".into(),
            color: color(0),
            points: vec![
                (0.0, 1.0),
                (1.0, 2.0),
                (1.5, f64::NAN),
                (3.0, 1.0),
                (4.0, 1.0),
            ],
        }];
        let svg = line_chart(&LineChart {
            title: "gap",
            y_label: "y",
            x: XAxis::Linear("s"),
            series: &gap,
            fmt_y: |v| v.to_string(),
        });
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(!svg.contains("NaN"), "{svg}");
    }
}
