//! A small SVG chart kit for the reports: line and step charts with axes, ticks, a legend and
//! an optional diagonal, drawn as text; and HTML escaping.

use std::fmt::Write;

pub(super) const WIDTH: f64 = 460.0;
pub(super) const HEIGHT: f64 = 300.0;
pub(super) const MARGIN: f64 = 46.0;
/// Height of one legend line under a chart.
pub(super) const LEGEND_LINE: f64 = 15.0;
pub(super) const PAYER: &str = "#1b7837";
pub(super) const DEFAULTER: &str = "#b2182b";
pub(super) const NEUTRAL: &str = "#2166ac";
/// Line colours of the models on a comparison (champion, challenger).
pub(super) const MODEL_COLORS: [&str; 2] = [NEUTRAL, "#e08214"];

/// One drawn series.
pub(super) struct Series {
    pub(super) name: String,
    pub(super) color: &'static str,
    pub(super) points: Vec<(f64, f64)>,
    pub(super) bars: bool,
    /// Dashed line (the challenger's on a comparison).
    pub(super) dashed: bool,
    /// Per point, the JSON pointer of its value in the page's JSON (empty: none). A point with
    /// a key carries it and its exact value as `data-json` and `data-value`, so a test can
    /// check every drawn figure against the JSON.
    pub(super) keys: Vec<String>,
}

/// The `data-json`/`data-value` attributes of point `i` of `series` (empty without a key).
pub(super) fn data(series: &Series, i: usize, value: f64) -> String {
    series.keys.get(i).map_or(String::new(), |key| {
        format!(r#" data-json="{}" data-value="{value}""#, escape(key))
    })
}

/// Axis labels and ranges of a chart.
pub(super) struct Frame<'a> {
    pub(super) x_label: &'a str,
    pub(super) y_label: &'a str,
    pub(super) x_max: f64,
    pub(super) y_max: f64,
}

/// An SVG chart over `[0, x_max] x [0, y_max]` (with the diagonal when `diagonal`).
pub(super) fn chart(
    id: &str,
    title: &str,
    frame: Frame<'_>,
    series: &[Series],
    diagonal: bool,
) -> String {
    let Frame {
        x_label,
        y_label,
        x_max,
        y_max,
    } = frame;
    let (w, h) = (WIDTH - 2.0 * MARGIN, HEIGHT - 2.0 * MARGIN);
    let x = |v: f64| MARGIN + v / x_max * w;
    let y = |v: f64| HEIGHT - MARGIN - v / y_max * h;
    // The legend sits under the plot, one line per series, so it never covers the data.
    let total_height = HEIGHT + 12.0 + LEGEND_LINE * series.len() as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<figure id="{id}"><svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{total_height}" viewBox="0 0 {WIDTH} {total_height}" role="img" aria-label="{title}">"#
    );
    let _ = write!(
        s,
        r##"<rect x="{MARGIN}" y="{MARGIN}" width="{w}" height="{h}" fill="#fafafa" stroke="#999"/>"##
    );
    // Bar charts label their categories (1, 2, ...) under the bars; line charts get quartiles.
    let categories = series
        .iter()
        .filter(|s| s.bars)
        .map(|s| s.points.len())
        .max();
    for k in 0..=4 {
        let f = f64::from(k) / 4.0;
        if categories.is_none() {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"#,
                x(f * x_max),
                HEIGHT - MARGIN + 14.0,
                tick(f * x_max)
            );
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end">{}</text>"#,
            MARGIN - 4.0,
            y(f * y_max) + 3.0,
            tick(f * y_max)
        );
    }
    if let Some(n) = categories {
        let slot = w / n.max(1) as f64;
        for i in 0..n {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"#,
                MARGIN + slot * (i as f64 + 0.5),
                HEIGHT - MARGIN + 14.0,
                i + 1
            );
        }
    }
    if diagonal {
        let _ = write!(
            s,
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#bbb" stroke-dasharray="4 3"/>"##,
            x(0.0),
            y(0.0),
            x(x_max),
            y(y_max.min(x_max))
        );
    }
    let bar_series = series.iter().filter(|s| s.bars).count().max(1) as f64;
    for (k, series) in series.iter().enumerate() {
        if series.bars {
            let n = series.points.len().max(1) as f64;
            let slot = w / n;
            let width = slot * 0.8 / bar_series;
            for (i, &(_, v)) in series.points.iter().enumerate() {
                let left = MARGIN
                    + slot * i as f64
                    + slot * 0.1
                    + width * (k as f64).min(bar_series - 1.0);
                let _ = write!(
                    s,
                    r#"<rect x="{left:.1}" y="{:.1}" width="{width:.1}" height="{:.1}" fill="{}" fill-opacity="0.75"{}/>"#,
                    y(v),
                    (y(0.0) - y(v)).max(0.0),
                    series.color,
                    data(series, i, v)
                );
            }
        } else {
            let path: Vec<String> = series
                .points
                .iter()
                .map(|&(a, b)| format!("{:.1},{:.1}", x(a), y(b)))
                .collect();
            let _ = write!(
                s,
                r#"<polyline fill="none" stroke="{}" stroke-width="2"{} points="{}"/>"#,
                series.color,
                if series.dashed {
                    r#" stroke-dasharray="6 3""#
                } else {
                    ""
                },
                path.join(" ")
            );
            for (i, &(a, b)) in series.points.iter().enumerate() {
                if i < series.keys.len() {
                    let _ = write!(
                        s,
                        r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{}"{}/>"#,
                        x(a),
                        y(b),
                        series.color,
                        data(series, i, b)
                    );
                }
            }
        }
        let swatch_y = HEIGHT + 12.0 + LEGEND_LINE * k as f64;
        let _ = write!(
            s,
            r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="{}"{}/><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#,
            MARGIN,
            swatch_y - 4.0,
            MARGIN + 22.0,
            swatch_y - 4.0,
            series.color,
            if series.bars { 8 } else { 2 },
            if series.dashed {
                r#" stroke-dasharray="6 3""#
            } else {
                ""
            },
            MARGIN + 28.0,
            swatch_y,
            escape(&series.name)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"#,
        MARGIN + w / 2.0,
        HEIGHT - 8.0,
        escape(x_label)
    );
    let _ = write!(
        s,
        r#"<text x="12" y="{:.1}" font-size="11" text-anchor="middle" transform="rotate(-90 12 {:.1})">{}</text>"#,
        MARGIN + h / 2.0,
        MARGIN + h / 2.0,
        escape(y_label)
    );
    let _ = write!(
        s,
        "</svg><figcaption>{}</figcaption></figure>",
        escape(title)
    );
    s
}

pub(super) fn tick(v: f64) -> String {
    if v == 0.0 || v.abs() >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
