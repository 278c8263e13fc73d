//! Bar charts as inline SVG, drawn by hand: two charts do not justify a
//! plotting crate (and its fonts), and hand-built SVG prints crisply, needs
//! no script and no network. Every text is escaped.

use std::fmt::Write as _;

use super::html::escape;

/// One bar. `value: None` draws no bar (no data that day) but keeps the slot.
#[derive(Clone, Debug)]
pub struct Bar {
    pub label: String,
    pub value: Option<f64>,
    /// Printed above the bar.
    pub text: String,
    /// CSS class of the bar: `ok`, `late` or `rate`.
    pub class: &'static str,
    /// Tooltip.
    pub title: String,
}

#[derive(Clone, Debug)]
pub struct BarChart {
    /// Accessible name of the chart.
    pub title: String,
    pub y_max: f64,
    /// Horizontal grid lines: value and label.
    pub y_ticks: Vec<(f64, String)>,
    pub bars: Vec<Bar>,
    /// A dashed vertical line after bar `n`, with its label.
    pub marker_after: Option<(usize, String)>,
}

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 66.0;

impl BarChart {
    fn plot_height(&self) -> f64 {
        HEIGHT - TOP - BOTTOM
    }

    fn slot(&self) -> f64 {
        (WIDTH - LEFT - RIGHT) / self.bars.len().max(1) as f64
    }

    /// Height in pixels of a bar of `value`.
    pub fn bar_height(&self, value: f64) -> f64 {
        if self.y_max <= 0.0 {
            return 0.0;
        }
        let h = (value / self.y_max).clamp(0.0, 1.0) * self.plot_height();
        // A non-zero bar stays visible however small.
        if value > 0.0 { h.max(1.5) } else { h }
    }
}

/// The chart as an `<svg>` element scaled to its container's width.
pub fn bar_chart(c: &BarChart) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = escape(&c.title)
    );
    let base = TOP + c.plot_height();
    for (v, label) in &c.y_ticks {
        let y = base - c.bar_height(*v).min(c.plot_height());
        let y = if *v <= 0.0 { base } else { y };
        let _ = write!(
            s,
            r#"<line class="grid" x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{tx}" y="{ty:.1}" text-anchor="end">{l}</text>"#,
            x2 = WIDTH - RIGHT,
            tx = LEFT - 6.0,
            ty = y + 4.0,
            l = escape(label)
        );
    }
    if c.bars.is_empty() {
        let _ = write!(
            s,
            r#"<text class="empty" x="{x}" y="{y}" text-anchor="middle">No data for this period</text>"#,
            x = WIDTH / 2.0,
            y = HEIGHT / 2.0
        );
    }
    let slot = c.slot();
    let bar_w = (slot * 0.7).max(1.0);
    let rotate = c.bars.len() > 16;
    for (i, b) in c.bars.iter().enumerate() {
        let cx = LEFT + slot * (i as f64 + 0.5);
        if let Some(v) = b.value {
            let h = c.bar_height(v);
            let _ = write!(
                s,
                r#"<rect class="bar {cl}" x="{x:.1}" y="{y:.1}" width="{bar_w:.1}" height="{h:.1}"><title>{t}</title></rect>"#,
                cl = b.class,
                x = cx - bar_w / 2.0,
                y = base - h,
                t = escape(&b.title)
            );
            if !b.text.is_empty() {
                let _ = write!(
                    s,
                    r#"<text class="value" x="{cx:.1}" y="{y:.1}" text-anchor="middle">{t}</text>"#,
                    y = base - h - 4.0,
                    t = escape(&b.text)
                );
            }
        }
        if b.value.is_none() && !b.text.is_empty() {
            let _ = write!(
                s,
                r#"<text class="value none" x="{cx:.1}" y="{y:.1}" text-anchor="middle">{t}</text>"#,
                y = base - 4.0,
                t = escape(&b.text)
            );
        }
        let ly = base + 16.0;
        if rotate {
            let _ = write!(
                s,
                r#"<text class="label" x="{cx:.1}" y="{ly:.1}" text-anchor="end" transform="rotate(-45 {cx:.1} {ly:.1})">{l}</text>"#,
                l = escape(&b.label)
            );
        } else {
            let _ = write!(
                s,
                r#"<text class="label" x="{cx:.1}" y="{ly:.1}" text-anchor="middle">{l}</text>"#,
                l = escape(&b.label)
            );
        }
    }
    if let Some((after, label)) = &c.marker_after
        && *after < c.bars.len()
    {
        let x = LEFT + slot * (*after as f64 + 1.0);
        let _ = write!(
            s,
            r#"<line class="marker" x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{base:.1}"/><text class="marker-label" x="{tx:.1}" y="{ty}">{l}</text>"#,
            tx = x + 4.0,
            ty = TOP + 10.0,
            l = escape(label)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(label: &str, value: Option<f64>) -> Bar {
        Bar {
            label: label.into(),
            value,
            text: value.map(|v| format!("{v}")).unwrap_or_default(),
            class: "ok",
            title: format!("{label}: {value:?}"),
        }
    }

    fn chart(bars: Vec<Bar>) -> BarChart {
        BarChart {
            title: "Delays <test> & co".into(),
            y_max: 100.0,
            y_ticks: vec![
                (0.0, "0".into()),
                (50.0, "50".into()),
                (100.0, "100".into()),
            ],
            bars,
            marker_after: Some((0, "promise".into())),
        }
    }

    #[test]
    fn bars_are_proportional_and_texts_escaped() {
        let c = chart(vec![
            bar("a<b", Some(50.0)),
            bar("c", Some(100.0)),
            bar("d", None),
        ]);
        let svg = bar_chart(&c);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 2, "no bar without a value");
        assert!(svg.contains("Delays &lt;test&gt; &amp; co"));
        assert!(svg.contains("a&lt;b") && !svg.contains("a<b"));
        let plot = HEIGHT - TOP - BOTTOM;
        assert!((c.bar_height(50.0) - plot / 2.0).abs() < 1e-9);
        assert!((c.bar_height(100.0) - plot).abs() < 1e-9);
        assert!(svg.contains(&format!(r#"height="{:.1}""#, plot)));
        assert!(svg.contains("class=\"marker\""));
        // Tiny values stay visible; zero stays zero; overflow is clipped.
        assert_eq!(c.bar_height(0.0), 0.0);
        assert!(c.bar_height(0.001) >= 1.5);
        assert_eq!(c.bar_height(1e9), plot);
    }

    #[test]
    fn empty_chart_says_so() {
        let svg = bar_chart(&chart(vec![]));
        assert!(svg.contains("No data for this period"));
        assert!(!svg.contains("<rect"));
    }

    #[test]
    fn many_bars_get_rotated_labels() {
        let bars = (0..20).map(|i| bar(&i.to_string(), Some(1.0))).collect();
        assert!(bar_chart(&chart(bars)).contains("rotate(-45"));
    }
}
