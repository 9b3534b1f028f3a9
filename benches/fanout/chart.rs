//! The sweep's chart as a hand-written SVG: client count on a log-scale x axis,
//! deliveries per second on the left axis (linear), p99 latency on the right
//! (log scale: it spans milliseconds to seconds). No plotting crate needed.

use std::fmt::Write as _;

/// One point of the sweep; `None` where nothing was delivered (one client).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Point {
    /// Clients connected.
    pub(crate) clients: f64,
    /// Deliveries per second.
    pub(crate) rate: Option<f64>,
    /// p99 latency in milliseconds.
    pub(crate) p99_ms: Option<f64>,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 80.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
const RATE_COLOUR: &str = "#1f77b4";
const LATENCY_COLOUR: &str = "#d62728";

/// The chart for `points`, titled `title`.
pub(crate) fn svg(title: &str, points: &[Point]) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    // x: decades that cover every client count.
    let max_clients = points.iter().map(|p| p.clients).fold(1.0, f64::max);
    let x_decades = max_clients.log10().ceil().max(1.0);
    let x = |clients: f64| LEFT + plot_w * clients.max(1.0).log10() / x_decades;
    // Left y: 0 to a round number of millions above the highest rate.
    let max_rate = points.iter().filter_map(|p| p.rate).fold(0.0, f64::max);
    let rate_step = nice_step(max_rate / 5.0);
    let rate_top = (max_rate / rate_step).ceil().max(1.0) * rate_step;
    let y_rate = |rate: f64| TOP + plot_h * (1.0 - rate / rate_top);
    // Right y: whole decades of milliseconds around the latencies.
    let latencies: Vec<f64> = points.iter().filter_map(|p| p.p99_ms).collect();
    let low = latencies.iter().copied().fold(f64::MAX, f64::min);
    let high = latencies.iter().copied().fold(0.0, f64::max);
    let (lat_lo, lat_hi) = if latencies.is_empty() {
        (0.0, 3.0)
    } else {
        let lo = low.max(1e-3).log10().floor();
        let hi = high.max(1e-3).log10().ceil();
        (lo, if hi > lo { hi } else { lo + 1.0 })
    };
    let y_lat =
        |ms: f64| TOP + plot_h * (1.0 - (ms.max(1e-3).log10() - lat_lo) / (lat_hi - lat_lo));

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    // Grid and x ticks: every decade.
    for decade in 0..=(x_decades as u32) {
        let value = 10f64.powi(decade as i32);
        let px = x(value);
        let _ = writeln!(
            s,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#ddd"/>"##,
            TOP + plot_h
        );
        let _ = writeln!(
            s,
            r#"<text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            TOP + plot_h + 18.0,
            value
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">clients connected (log scale)</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 15.0
    );
    // Left axis: rate.
    let mut tick = 0.0;
    while tick <= rate_top + rate_step / 2.0 {
        let py = y_rate(tick);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#eee"/>"##,
            LEFT + plot_w
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="{RATE_COLOUR}">{}</text>"#,
            LEFT - 6.0,
            py + 4.0,
            millions(tick)
        );
        tick += rate_step;
    }
    let _ = writeln!(
        s,
        r#"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle" fill="{RATE_COLOUR}">deliveries per second</text>"#,
        TOP + plot_h / 2.0
    );
    // Right axis: p99 latency, one tick per decade.
    for decade in (lat_lo as i32)..=(lat_hi as i32) {
        let ms = 10f64.powi(decade);
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" fill="{LATENCY_COLOUR}">{}</text>"#,
            LEFT + plot_w + 6.0,
            y_lat(ms) + 4.0,
            format_ms(ms)
        );
    }
    let _ = writeln!(
        s,
        r#"<text transform="translate({:.1} {:.1}) rotate(90)" text-anchor="middle" fill="{LATENCY_COLOUR}">p99 latency (log scale)</text>"#,
        WIDTH - 18.0,
        TOP + plot_h / 2.0
    );
    // Frame.
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>"##
    );
    // The two series: a line through the points, and a marker on each.
    series(
        &mut s,
        points,
        |p| p.rate.map(|r| (x(p.clients), y_rate(r))),
        RATE_COLOUR,
        false,
    );
    series(
        &mut s,
        points,
        |p| p.p99_ms.map(|ms| (x(p.clients), y_lat(ms))),
        LATENCY_COLOUR,
        true,
    );
    // Legend.
    let _ = writeln!(
        s,
        r#"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{RATE_COLOUR}"/><text x="{:.1}" y="{:.1}">deliveries/s (left)</text>"#,
        LEFT + 10.0,
        TOP + 8.0,
        LEFT + 26.0,
        TOP + 17.0
    );
    let _ = writeln!(
        s,
        r#"<circle cx="{:.1}" cy="{:.1}" r="5" fill="{LATENCY_COLOUR}"/><text x="{:.1}" y="{:.1}">p99 latency (right)</text>"#,
        LEFT + 15.0,
        TOP + 31.0,
        LEFT + 26.0,
        TOP + 35.0
    );
    s.push_str("</svg>\n");
    s
}

fn series(
    s: &mut String,
    points: &[Point],
    at: impl Fn(&Point) -> Option<(f64, f64)>,
    colour: &str,
    round: bool,
) {
    let coords: Vec<(f64, f64)> = points.iter().filter_map(at).collect();
    if coords.len() > 1 {
        let path: Vec<String> = coords
            .iter()
            .map(|(px, py)| format!("{px:.1},{py:.1}"))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            path.join(" ")
        );
    }
    for (px, py) in coords {
        if round {
            let _ = writeln!(
                s,
                r#"<circle cx="{px:.1}" cy="{py:.1}" r="5" fill="{colour}"/>"#
            );
        } else {
            let _ = writeln!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{colour}"/>"#,
                px - 5.0,
                py - 5.0
            );
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `rough`.
fn nice_step(rough: f64) -> f64 {
    if rough <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(rough.log10().floor());
    for factor in [1.0, 2.0, 5.0, 10.0] {
        if factor * power >= rough {
            return factor * power;
        }
    }
    10.0 * power
}

fn millions(value: f64) -> String {
    if value == 0.0 {
        "0".to_string()
    } else if value >= 1e6 {
        format!("{}M", trim(value / 1e6))
    } else {
        format!("{}k", trim(value / 1e3))
    }
}

fn format_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{} s", trim(ms / 1000.0))
    } else {
        format!("{} ms", trim(ms))
    }
}

fn trim(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
