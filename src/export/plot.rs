//! Charts of properties over time (the `plot` feature): one line per twin and property, a
//! time axis in UTC, a value axis labelled with the properties and their units, and a
//! legend, like the TSI explorer's view. SVG or PNG, chosen by the file's extension.
//!
//! Numeric properties are drawn (Double and Long; Bool as 0/1). A series with more points
//! than four per pixel column is reduced to each column's first, minimum, maximum and last
//! point, which keeps its shape (spikes included) at any length.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;

use crate::engine::Store;
use crate::error::{Error, Result};
use crate::model::{Timestamp, Value};
use crate::query::EventsQuery;

/// The font embedded for the charts' text (DejaVu Sans; see `assets/fonts`), so that charts
/// render the same on machines without system fonts.
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// What to draw.
#[derive(Clone, Debug)]
pub struct PlotSpec {
    /// Twins, one line each per property.
    pub twins: Vec<String>,
    /// Properties (flattened names).
    pub properties: Vec<String>,
    /// Start of the range (inclusive).
    pub from: Timestamp,
    /// End of the range (exclusive).
    pub to: Timestamp,
    /// Units per property, shown on the value axis (`Temperature` -> `°C`).
    pub units: Vec<(String, String)>,
    /// Chart title; the twins and the range when `None`.
    pub title: Option<String>,
    /// Size in pixels.
    pub width: u32,
    /// Size in pixels.
    pub height: u32,
}

/// What was drawn.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlotReport {
    /// The series drawn (`twin · property`), in legend order.
    pub series: Vec<String>,
    /// Points drawn, after reduction.
    pub points: u64,
}

/// One line: its legend label and (seconds since `from`, value) points.
struct Series {
    label: String,
    points: Vec<(f64, f64)>,
}

fn numeric(v: &Value) -> Option<f64> {
    match v {
        Value::Double(x) => Some(*x),
        Value::Long(x) => Some(*x as f64),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// Keeps, per pixel column, the first, lowest, highest and last point.
fn reduce(points: Vec<(f64, f64)>, span: f64, columns: u32) -> Vec<(f64, f64)> {
    if points.len() <= 4 * columns as usize || span <= 0.0 {
        return points;
    }
    let mut out = Vec::with_capacity(4 * columns as usize);
    let column = |x: f64| ((x / span) * f64::from(columns)) as i64;
    let mut start = 0;
    while start < points.len() {
        let c = column(points[start].0);
        let mut end = start;
        while end < points.len() && column(points[end].0) == c {
            end += 1;
        }
        let slice = &points[start..end];
        let lo = slice
            .iter()
            .copied()
            .fold(slice[0], |m, p| if p.1 < m.1 { p } else { m });
        let hi = slice
            .iter()
            .copied()
            .fold(slice[0], |m, p| if p.1 > m.1 { p } else { m });
        let mut keep = [slice[0], lo, hi, slice[slice.len() - 1]];
        keep.sort_by(|a, b| a.0.total_cmp(&b.0));
        for p in keep {
            if out.last() != Some(&p) {
                out.push(p);
            }
        }
        start = end;
    }
    out
}

/// A time axis label: `HH:MM:SS` within an hour, `HH:MM` within two days, `MM-DD HH:MM`
/// beyond.
fn time_label(from: Timestamp, seconds: f64, span: f64) -> String {
    let t = from.saturating_add_nanos((seconds * 1e9) as i64).to_string();
    let (a, b) = if span <= 3_600.0 {
        (11, 19)
    } else if span <= 2.0 * 86_400.0 {
        (11, 16)
    } else {
        (5, 16)
    };
    t.get(a..b).unwrap_or(&t).to_string()
}

fn draw_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        reason: format!("drawing the chart failed: {e}"),
    }
}

/// Draws `spec` from `store` into `path` (`.svg` or `.png`).
pub fn plot(store: &Store, spec: &PlotSpec, path: &Path) -> Result<PlotReport> {
    if spec.twins.is_empty() || spec.properties.is_empty() {
        return Err(Error::InvalidArgument(
            "a chart needs at least one twin and one property".into(),
        ));
    }
    if spec.from >= spec.to {
        return Err(Error::InvalidArgument(format!(
            "empty range {}..{}",
            spec.from, spec.to
        )));
    }
    if spec.width < 200 || spec.height < 150 || spec.width > 10_000 || spec.height > 10_000 {
        return Err(Error::InvalidArgument(format!(
            "a chart of {}x{} pixels; use 200x150 to 10000x10000",
            spec.width, spec.height
        )));
    }
    let span = (spec.to.as_nanos() as f64 - spec.from.as_nanos() as f64) / 1e9;
    let mut series = Vec::new();
    for twin in &spec.twins {
        let events = store.events(
            &EventsQuery::new(twin.as_str())
                .from(spec.from)
                .to(spec.to)
                .properties(spec.properties.iter().cloned()),
        )?;
        for property in &spec.properties {
            let points: Vec<(f64, f64)> = events
                .iter()
                .filter_map(|e| {
                    let v = e.values.iter().find(|(n, _)| &**n == property.as_str())?;
                    let x = (e.ts.as_nanos() as f64 - spec.from.as_nanos() as f64) / 1e9;
                    Some((x, numeric(&v.1)?))
                })
                .collect();
            series.push(Series {
                label: format!("{twin} · {property}"),
                points: reduce(points, span, spec.width),
            });
        }
    }
    let (lo, hi) = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let (lo, hi) = if lo.is_finite() {
        let pad = ((hi - lo) * 0.05).max(if hi == lo { 1.0 } else { 0.0 });
        (lo - pad, hi + pad)
    } else {
        (0.0, 1.0)
    };
    let unit_of = |p: &str| spec.units.iter().find(|(n, _)| n == p).map(|(_, u)| u.as_str());
    let y_label = spec
        .properties
        .iter()
        .map(|p| match unit_of(p) {
            Some(u) => format!("{p} ({u})"),
            None => p.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let title = spec
        .title
        .clone()
        .unwrap_or_else(|| format!("{} — {} to {}", spec.twins.join(", "), spec.from, spec.to));
    let size = (spec.width, spec.height);
    let is_png = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
    let is_svg = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    let chart = ChartText {
        title: &title,
        y_label: &y_label,
        from: spec.from,
        span,
        y: (lo, hi),
    };
    // Both backends measure text with the font (SVG to lay out labels).
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The embedded font is valid; a failure shows as a drawing error below.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
    if is_png {
        let root = BitMapBackend::new(path, size).into_drawing_area();
        draw(root, &chart, &series).map_err(|e| draw_error(path, e))?;
    } else if is_svg {
        let root = SVGBackend::new(path, size).into_drawing_area();
        draw(root, &chart, &series).map_err(|e| draw_error(path, e))?;
    } else {
        return Err(Error::InvalidArgument(format!(
            "{}: the chart's file name must end in .svg or .png",
            path.display()
        )));
    }
    Ok(PlotReport {
        series: series.iter().map(|s| s.label.clone()).collect(),
        points: series.iter().map(|s| s.points.len() as u64).sum(),
    })
}

/// The texts and ranges of a chart.
struct ChartText<'a> {
    title: &'a str,
    y_label: &'a str,
    from: Timestamp,
    span: f64,
    y: (f64, f64),
}

/// A distinct color per line (Tableau 10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    text: &ChartText<'_>,
    series: &[Series],
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(text.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..text.span, text.y.0..text.y.1)?;
    chart
        .configure_mesh()
        .x_desc("time (UTC)")
        .y_desc(text.y_label)
        .x_labels(8)
        .x_label_formatter(&|x| time_label(text.from, *x, text.span))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))?
            .label(s.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        // Sparse series get a mark per point, so that a single value shows.
        if s.points.len() <= 200 {
            chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}
