//! The soak's chart as a hand-written SVG, like the benchmark's
//! (`benches/fanout/chart.rs`): time on the x axis; threads, descriptors
//! and established sockets on the left axis; resident memory on the right;
//! the bursts shaded, the chaos between two dashed lines.

use std::fmt::Write as _;

use crate::sampler::Sample;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 460.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 80.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 90.0;
const THREADS: &str = "#1f77b4";
const FDS: &str = "#2ca02c";
const SOCKETS: &str = "#9467bd";
const MEMORY: &str = "#d62728";

/// What the chart shows besides the samples.
#[derive(Debug)]
pub(crate) struct Marks {
    pub(crate) title: String,
    /// When the chaos began and ended (seconds).
    pub(crate) chaos: (f64, f64),
    /// Each burst: when it began and when its connections were let go.
    pub(crate) bursts: Vec<(f64, f64)>,
    /// The descriptor limit, drawn as a line.
    pub(crate) fd_limit: usize,
}

/// The chart of `samples`.
pub(crate) fn svg(samples: &[Sample], marks: &Marks) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let t_end = samples.last().map_or(1.0, |s| s.t).max(1.0);
    let x = |t: f64| LEFT + plot_w * t / t_end;
    let count_max = samples
        .iter()
        .map(|s| s.threads.max(s.fds).max(s.established))
        .max()
        .unwrap_or(0)
        .max(marks.fd_limit) as f64;
    let count_step = nice_step(count_max / 5.0);
    let count_top = (count_max / count_step).ceil() * count_step;
    let y_count = |n: f64| TOP + plot_h * (1.0 - n / count_top);
    let mib_max = samples
        .iter()
        .map(|s| s.rss_kib as f64 / 1024.0)
        .fold(1.0, f64::max);
    let mib_step = nice_step(mib_max / 5.0);
    let mib_top = (mib_max / mib_step).ceil() * mib_step;
    let y_mib = |m: f64| TOP + plot_h * (1.0 - m / mib_top);

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
        escape(&marks.title)
    );
    for (from, to) in &marks.bursts {
        let _ = writeln!(
            s,
            r##"<rect x="{:.1}" y="{TOP}" width="{:.1}" height="{plot_h}" fill="#eee"/>"##,
            x(*from),
            (x(*to) - x(*from)).max(2.0)
        );
    }
    // x axis: a tick every nice number of seconds.
    let t_step = nice_step(t_end / 8.0);
    let mut t = 0.0;
    while t <= t_end + 1e-9 {
        let px = x(t);
        let _ = writeln!(
            s,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#f4f4f4"/>"##,
            TOP + plot_h
        );
        let _ = writeln!(
            s,
            r#"<text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            TOP + plot_h + 18.0,
            trim(t)
        );
        t += t_step;
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">seconds since the server started (shaded: bursts)</text>"#,
        LEFT + plot_w / 2.0,
        TOP + plot_h + 38.0
    );
    // Left axis: counts.
    let mut n = 0.0;
    while n <= count_top + 1e-9 {
        let py = y_count(n);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#eee"/>"##,
            LEFT + plot_w
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            py + 4.0,
            trim(n)
        );
        n += count_step;
    }
    let _ = writeln!(
        s,
        r#"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">threads, descriptors, sockets</text>"#,
        TOP + plot_h / 2.0
    );
    // Right axis: MiB.
    let mut m = 0.0;
    while m <= mib_top + 1e-9 {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" fill="{MEMORY}">{} MiB</text>"#,
            LEFT + plot_w + 6.0,
            y_mib(m) + 4.0,
            trim(m)
        );
        m += mib_step;
    }
    let _ = writeln!(
        s,
        r#"<text transform="translate({:.1} {:.1}) rotate(90)" text-anchor="middle" fill="{MEMORY}">resident memory (RSS)</text>"#,
        WIDTH - 14.0,
        TOP + plot_h / 2.0
    );
    // The descriptor limit and the chaos.
    let limit = y_count(marks.fd_limit as f64);
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{limit:.1}" x2="{:.1}" y2="{limit:.1}" stroke="{FDS}" stroke-dasharray="2 3"/>"##,
        LEFT + plot_w
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" fill="{FDS}">ulimit -n {}</text>"#,
        LEFT + 6.0,
        limit - 4.0,
        marks.fd_limit
    );
    for edge in [marks.chaos.0, marks.chaos.1] {
        let px = x(edge);
        let _ = writeln!(
            s,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#888" stroke-dasharray="6 4"/>"##,
            TOP + plot_h
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>"##
    );
    line(
        &mut s,
        samples.iter().map(|p| (x(p.t), y_count(p.fds as f64))),
        FDS,
    );
    line(
        &mut s,
        samples.iter().map(|p| (x(p.t), y_count(p.threads as f64))),
        THREADS,
    );
    line(
        &mut s,
        samples
            .iter()
            .map(|p| (x(p.t), y_count(p.established as f64))),
        SOCKETS,
    );
    line(
        &mut s,
        samples
            .iter()
            .map(|p| (x(p.t), y_mib(p.rss_kib as f64 / 1024.0))),
        MEMORY,
    );
    // Legend, under the axis title.
    let legend = [
        (THREADS, "threads (/proc/PID/task)"),
        (FDS, "descriptors (/proc/PID/fd)"),
        (SOCKETS, "established sockets"),
        (MEMORY, "RSS, right axis"),
    ];
    let mut lx = LEFT;
    for (colour, label) in legend {
        let ly = HEIGHT - 22.0;
        let _ = writeln!(
            s,
            r#"<rect x="{lx:.1}" y="{:.1}" width="14" height="4" fill="{colour}"/><text x="{:.1}" y="{ly:.1}">{label}</text>"#,
            ly - 6.0,
            lx + 18.0
        );
        lx += 195.0;
    }
    s.push_str("</svg>\n");
    s
}

fn line(s: &mut String, points: impl Iterator<Item = (f64, f64)>, colour: &str) {
    let path: Vec<String> = points.map(|(px, py)| format!("{px:.1},{py:.1}")).collect();
    if path.len() > 1 {
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="1.5"/>"#,
            path.join(" ")
        );
    }
}

/// 1, 2 or 5 times a power of ten, at least `rough`.
fn nice_step(rough: f64) -> f64 {
    if rough <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * power)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * power)
}

fn trim(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
