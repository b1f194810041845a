//! Charts of benchmark results, drawn with plotters as SVG and PNG: lines (latency
//! distributions, latency over time, curves against workers or batch size) and grouped bars
//! (figures per policy). Every chart has a title, axes named with their units and a legend.
//! Text in PNGs is drawn with the DejaVu Sans font built into the binary, so no system font is
//! needed.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::FontStyle;

/// Pixels of every chart.
const SIZE: (u32, u32) = (800, 480);

/// Colours of the series, in order; repeated when there are more series.
const PALETTE: [RGBColor; 6] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0xb0, 0x7a, 0xa1),
];

/// The font family every text of a chart is drawn in.
const FONT: &str = "sans-serif";

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The chart has no value it could draw.
    #[error("chart \"{0}\" has no values to draw (every figure was 0 or missing)")]
    Empty(String),
    /// plotters failed (an I/O error writing the file, most likely).
    #[error("drawing {path}: {message}")]
    Draw {
        /// The file.
        path: String,
        /// What plotters said.
        message: String,
    },
    /// The output directory could not be made.
    #[error("creating {path}: {source}")]
    Dir {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// How an axis maps values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// Evenly.
    Linear,
    /// By decades (only values above 0 are drawn).
    Log,
}

/// One named line of points.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend's name for it.
    pub name: String,
    /// (x, y) points, in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// Lines on two axes.
#[derive(Debug, Clone)]
pub struct LineChart {
    /// The chart's title.
    pub title: String,
    /// The x axis' name, with its unit.
    pub x_label: String,
    /// The y axis' name, with its unit.
    pub y_label: String,
    /// How x values map.
    pub x_axis: Axis,
    /// How y values map.
    pub y_axis: Axis,
    /// The lines.
    pub series: Vec<Series>,
    /// Vertical marks (x value, label), e.g. where a burst starts and ends.
    pub marks: Vec<(f64, String)>,
}

/// A grouped bar chart: for every category, one bar per series, on a log axis when the values
/// differ by orders of magnitude.
#[derive(Debug, Clone)]
pub struct BarChart {
    /// The chart's title.
    pub title: String,
    /// The value axis' name, with its unit.
    pub unit: String,
    /// The category axis' name.
    pub category_label: String,
    /// The series names, in legend order.
    pub series: Vec<String>,
    /// Per category: its name and one value per series (`None`: not measured).
    pub categories: Vec<(String, Vec<Option<f64>>)>,
    /// How values map.
    pub axis: Axis,
}

/// A chart of either kind.
#[derive(Debug, Clone)]
pub enum Chart {
    /// Lines.
    Line(LineChart),
    /// Grouped bars.
    Bar(BarChart),
}

impl Chart {
    /// Writes the chart as `STEM.svg` and `STEM.png` under `dir` (made if missing); returns
    /// the two paths.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>, PlotError> {
        std::fs::create_dir_all(dir).map_err(|source| PlotError::Dir {
            path: dir.display().to_string(),
            source,
        })?;
        register_font();
        let svg = dir.join(format!("{stem}.svg"));
        let png = dir.join(format!("{stem}.png"));
        let failed = |path: &Path| {
            let path = path.display().to_string();
            move |message: String| PlotError::Draw { path, message }
        };
        self.draw(SVGBackend::new(&svg, SIZE).into_drawing_area())
            .map_err(failed(&svg))?;
        self.draw(BitMapBackend::new(&png, SIZE).into_drawing_area())
            .map_err(failed(&png))?;
        Ok(vec![svg, png])
    }

    /// The chart as an SVG document.
    #[cfg(test)]
    pub fn to_svg(&self) -> Result<String, PlotError> {
        register_font();
        let mut text = String::new();
        self.draw(SVGBackend::with_string(&mut text, SIZE).into_drawing_area())
            .map_err(|message| PlotError::Draw {
                path: "an SVG string".to_string(),
                message,
            })?;
        Ok(text)
    }

    fn title(&self) -> &str {
        match self {
            Chart::Line(chart) => &chart.title,
            Chart::Bar(chart) => &chart.title,
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        match self {
            Chart::Line(chart) => chart.draw(&root)?,
            Chart::Bar(chart) => chart.draw(&root)?,
        }
        root.present().map_err(|e| e.to_string())
    }

    /// Refuses a chart without a single value it could draw.
    pub fn check(&self) -> Result<(), PlotError> {
        let drawable = match self {
            Chart::Line(chart) => chart.series.iter().any(|s| {
                s.points
                    .iter()
                    .any(|&(x, y)| chart.x_axis.keeps(x) && chart.y_axis.keeps(y))
            }),
            Chart::Bar(chart) => chart
                .categories
                .iter()
                .flat_map(|(_, values)| values.iter().flatten())
                .any(|&v| chart.axis.keeps(v) && v > 0.0),
        };
        if drawable {
            Ok(())
        } else {
            Err(PlotError::Empty(self.title().to_string()))
        }
    }
}

/// Registers the built-in font once, under the family every chart uses.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_err()
        {
            tracing::warn!("the built-in font could not be read: PNG charts will lack text");
        }
    });
}

impl Axis {
    /// True if `v` can be drawn on this axis.
    fn keeps(self, v: f64) -> bool {
        v.is_finite() && (self == Axis::Linear || v > 0.0)
    }

    /// The range spanning `values` (padded, or whole decades on a log axis).
    fn range(self, values: impl Iterator<Item = f64>) -> (f64, f64) {
        let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|&v| self.keeps(v)) {
            low = low.min(v);
            high = high.max(v);
        }
        if low > high {
            return (1.0, 10.0);
        }
        match self {
            Axis::Log => {
                let low = 10f64.powf(low.log10().floor());
                let high = 10f64.powf(high.log10().ceil());
                (low, if high > low { high } else { low * 10.0 })
            }
            Axis::Linear => {
                let low = low.min(0.0);
                let pad = (high - low).abs() * 0.05;
                (low, if high > low { high + pad } else { low + 1.0 })
            }
        }
    }
}

/// A number without needless digits: 0.001, 0.25, 12, 1500.
pub fn trim(v: f64) -> String {
    let text = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn text_style(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

impl LineChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0));
        let ys = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1));
        let marks = self.marks.iter().map(|m| m.0);
        let xs: Vec<f64> = xs.chain(marks).filter(|&x| self.x_axis.keeps(x)).collect();
        let (mut x0, x1) = self.x_axis.range(xs.iter().copied());
        if self.x_axis == Axis::Linear {
            // The x axis spans the data (workers 1..N, seconds of a run), not from 0.
            x0 = xs.iter().copied().fold(x1, f64::min).min(x1 - f64::EPSILON);
        }
        let (y0, y1) = self.y_axis.range(ys);
        match (self.x_axis, self.y_axis) {
            (Axis::Linear, Axis::Linear) => self.draw_on(root, x0..x1, y0..y1),
            (Axis::Log, Axis::Linear) => self.draw_on(root, (x0..x1).log_scale(), y0..y1),
            (Axis::Linear, Axis::Log) => self.draw_on(root, x0..x1, (y0..y1).log_scale()),
            (Axis::Log, Axis::Log) => {
                self.draw_on(root, (x0..x1).log_scale(), (y0..y1).log_scale())
            }
        }
    }

    fn draw_on<DB, X, Y>(&self, root: &DrawingArea<DB, Shift>, x: X, y: Y) -> Result<(), String>
    where
        DB: DrawingBackend,
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
        Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, text_style(20))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d(x, y)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&|v| trim(*v))
            .y_label_formatter(&|v| trim(*v))
            .label_style(text_style(13))
            .axis_desc_style(text_style(14))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        let y_range = chart.y_range();
        let (y_low, y_high) = (y_range.start, y_range.end);
        for (index, series) in self.series.iter().enumerate() {
            let color = PALETTE[index % PALETTE.len()];
            let points = series
                .points
                .iter()
                .copied()
                .filter(|&(x, y)| self.x_axis.keeps(x) && self.y_axis.keeps(y));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(err)?
                .label(series.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        for (x, label) in &self.marks {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(*x, y_low), (*x, y_high)],
                    BLACK.mix(0.5).stroke_width(1),
                )))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    label.clone(),
                    (*x, y_high),
                    text_style(12),
                )))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(text_style(13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(err)
    }
}

impl BarChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let values = self
            .categories
            .iter()
            .flat_map(|(_, values)| values.iter().flatten().copied())
            .filter(|&v| v > 0.0);
        let (y0, y1) = self.axis.range(values);
        let n = self.categories.len().max(1) as f64;
        match self.axis {
            Axis::Linear => self.draw_on(root, 0.0..n, y0..y1, y0),
            Axis::Log => self.draw_on(root, 0.0..n, (y0..y1).log_scale(), y0),
        }
    }

    fn draw_on<DB, Y>(
        &self,
        root: &DrawingArea<DB, Shift>,
        x: std::ops::Range<f64>,
        y: Y,
        floor: f64,
    ) -> Result<(), String>
    where
        DB: DrawingBackend,
        Y: AsRangedCoord<Value = f64>,
        Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, text_style(20))
            .margin(12)
            .x_label_area_size(56)
            .y_label_area_size(70)
            .build_cartesian_2d(x, y)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .x_desc(&self.category_label)
            .y_desc(&self.unit)
            .y_label_formatter(&|v| trim(*v))
            .label_style(text_style(13))
            .axis_desc_style(text_style(14))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        let width = 0.8 / self.series.len().max(1) as f64;
        for (index, name) in self.series.iter().enumerate() {
            let color = PALETTE[index % PALETTE.len()];
            let bars: Vec<(f64, f64)> = self
                .categories
                .iter()
                .enumerate()
                .filter_map(|(c, (_, values))| {
                    let v = values.get(index).copied().flatten()?;
                    (v > 0.0 && v.is_finite()).then_some((c as f64 + 0.1 + width * index as f64, v))
                })
                .collect();
            chart
                .draw_series(bars.iter().map(|&(x, v)| {
                    Rectangle::new([(x, floor), (x + width * 0.92, v)], color.filled())
                }))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
            chart
                .draw_series(bars.iter().map(|&(x, v)| {
                    Text::new(
                        trim(v),
                        (x, v),
                        text_style(10).pos(plotters::style::text_anchor::Pos::new(
                            plotters::style::text_anchor::HPos::Left,
                            plotters::style::text_anchor::VPos::Bottom,
                        )),
                    )
                }))
                .map_err(err)?;
        }
        // Category names under their groups of bars.
        for (c, (name, _)) in self.categories.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(c as f64 + 0.5, floor));
            root.draw(&Text::new(
                name.clone(),
                (px, py + 8),
                text_style(13).pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Top,
                )),
            ))
            .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(text_style(13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars() -> Chart {
        Chart::Bar(BarChart {
            title: "p99 <latency>".into(),
            unit: "p99 latency, ms".into(),
            category_label: "job group".into(),
            series: vec!["fifo".into(), "edf".into()],
            categories: vec![
                ("bulk".into(), vec![Some(1000.0), Some(0.5)]),
                ("latency_sensitive".into(), vec![Some(2.0), None]),
            ],
            axis: Axis::Log,
        })
    }

    #[test]
    fn bars_have_a_title_axes_a_legend_and_one_bar_per_value() {
        let svg = bars().to_svg().unwrap();
        assert!(svg.contains("p99 &lt;latency&gt;"), "title, escaped");
        for text in ["p99 latency, ms", "job group", "fifo", "edf", "bulk"] {
            assert!(svg.contains(text), "{text} missing");
        }
        // The value labels of the bars.
        assert!(svg.contains("0.5"), "the label of the 0.5 bar");
    }

    #[test]
    fn a_log_line_chart_is_written_as_svg_and_png() {
        let dir = tempfile::tempdir().unwrap();
        let chart = Chart::Line(LineChart {
            title: "latency CDF".into(),
            x_label: "latency, ms (log)".into(),
            y_label: "share of outputs".into(),
            x_axis: Axis::Log,
            y_axis: Axis::Linear,
            series: vec![Series {
                name: "fifo".into(),
                points: vec![(0.1, 0.0), (1.0, 0.5), (0.0, 0.6), (30.0, 1.0)],
            }],
            marks: vec![(2.0, "burst".into())],
        });
        chart.check().unwrap();
        let paths = chart.write(dir.path(), "cdf").unwrap();
        let png = std::fs::read(&paths[1]).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG file");
        let svg = std::fs::read_to_string(&paths[0]).unwrap();
        assert!(svg.contains("latency CDF") && svg.contains("burst"));
    }

    #[test]
    fn a_chart_without_values_is_refused() {
        let chart = Chart::Bar(BarChart {
            title: "nothing".into(),
            unit: "ms".into(),
            category_label: "group".into(),
            series: vec!["fifo".into()],
            categories: vec![("g".into(), vec![None])],
            axis: Axis::Log,
        });
        let err = chart.check().unwrap_err().to_string();
        assert!(err.contains("\"nothing\" has no values"), "{err}");
    }
}
