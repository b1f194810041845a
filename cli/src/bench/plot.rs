//! SVG charts of benchmark results: grouped bars on a logarithmic axis, so figures that differ
//! by orders of magnitude (a runaway's seconds beside a policy's microseconds) stay readable.

use std::fmt::Write;

/// Colours of the series, in order; repeated when there are more series.
const PALETTE: [&str; 6] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1",
];

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

/// A grouped bar chart: for every category (a job group), one bar per series (a policy).
pub struct BarChart<'a> {
    /// The chart's title.
    pub title: &'a str,
    /// The value axis' label, with its unit.
    pub unit: &'a str,
    /// The series names, in legend order.
    pub series: Vec<String>,
    /// Per category: its name and one value per series (`None`: not measured).
    pub categories: Vec<(String, Vec<Option<f64>>)>,
}

impl BarChart<'_> {
    /// The chart as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let values = || {
            self.categories
                .iter()
                .flat_map(|(_, values)| values.iter().flatten().copied())
                .filter(|v| v.is_finite() && *v > 0.0)
        };
        let low = values().fold(f64::INFINITY, f64::min);
        let high = values().fold(0.0, f64::max);
        let (low_exp, high_exp) = if high > 0.0 {
            (
                low.log10().floor(),
                high.log10().ceil().max(low.log10().floor() + 1.0),
            )
        } else {
            (0.0, 1.0)
        };
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let y = |v: f64| {
            let t = (v.max(10f64.powf(low_exp)).log10() - low_exp) / (high_exp - low_exp);
            TOP + plot_h * (1.0 - t)
        };
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = write!(
            svg,
            r#"<rect width="100%" height="100%" fill="white"/><text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>"#,
            LEFT + plot_w / 2.0,
            escape(self.title)
        );
        // Decades of the log axis, with grid lines.
        let mut exp = low_exp;
        while exp <= high_exp {
            let v = 10f64.powf(exp);
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT + plot_w,
                LEFT - 6.0,
                y(v) + 4.0,
                trim(v),
                y = y(v)
            );
            exp += 1.0;
        }
        let _ = write!(
            svg,
            r#"<text transform="translate(16,{}) rotate(-90)" text-anchor="middle">{}</text>"#,
            TOP + plot_h / 2.0,
            escape(self.unit)
        );
        let groups = self.categories.len().max(1) as f64;
        let slot = plot_w / groups;
        let bar = (slot * 0.8) / self.series.len().max(1) as f64;
        for (index, (name, values)) in self.categories.iter().enumerate() {
            let x0 = LEFT + slot * index as f64 + slot * 0.1;
            for (series, value) in values.iter().enumerate() {
                let Some(value) = value.filter(|v| v.is_finite() && *v > 0.0) else {
                    continue;
                };
                let top = y(value);
                let _ = write!(
                    svg,
                    r#"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {}</title></rect>"#,
                    x0 + bar * series as f64,
                    (bar - 2.0).max(1.0),
                    (TOP + plot_h - top).max(0.0),
                    PALETTE[series % PALETTE.len()],
                    escape(self.series.get(series).map_or("", String::as_str)),
                    trim(value)
                );
                let _ = write!(
                    svg,
                    r#"<text x="{:.1}" y="{:.1}" font-size="9" text-anchor="middle">{}</text>"#,
                    x0 + bar * series as f64 + bar / 2.0 - 1.0,
                    top - 3.0,
                    trim(value)
                );
            }
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x0 + slot * 0.4,
                TOP + plot_h + 20.0,
                escape(name)
            );
        }
        for (series, name) in self.series.iter().enumerate() {
            let ly = TOP + 10.0 + 20.0 * series as f64;
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
                WIDTH - RIGHT + 20.0,
                ly - 10.0,
                PALETTE[series % PALETTE.len()],
                WIDTH - RIGHT + 38.0,
                ly,
                escape(name)
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

/// A number without needless digits: 0.001, 0.25, 12, 1500.
fn trim(v: f64) -> String {
    let text = if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_drawn_on_a_log_axis_with_a_legend() {
        let chart = BarChart {
            title: "p99 <latency>",
            unit: "ms",
            series: vec!["fifo".into(), "edf".into()],
            categories: vec![
                ("bulk".into(), vec![Some(1000.0), Some(0.5)]),
                ("latency_sensitive".into(), vec![Some(2.0), None]),
            ],
        };
        let svg = chart.to_svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(
            svg.matches("<title>").count(),
            3,
            "one bar per measured value"
        );
        assert!(svg.contains("<title>fifo: 1000</title>"));
        assert!(svg.contains("<title>edf: 0.5</title>"));
        assert!(svg.contains("p99 &lt;latency&gt;"), "text is escaped");
        // Decades from 0.1 to 1000 label the axis.
        for label in [">0.1<", ">1<", ">10<", ">100<", ">1000<"] {
            assert!(svg.contains(label), "{label} missing");
        }
        // The larger value's bar is taller.
        let height = |series: &str| -> f64 {
            let at = svg.find(&format!("<title>{series}")).unwrap();
            let rect = &svg[svg[..at].rfind("<rect").unwrap()..at];
            let h = rect.split("height=\"").nth(1).unwrap();
            h[..h.find('"').unwrap()].parse().unwrap()
        };
        assert!(height("fifo: 1000") > height("edf: 0.5"));
    }
}
