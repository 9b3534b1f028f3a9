//! Table cells the reports share: how a figure is written, or a dash when
//! it was not measured, and a target's verdict. Used by the suite, scenario
//! E's report, F's and G's, so their tables read alike.

/// Milliseconds: two decimals below 100 ms, none above.
pub(crate) fn ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 100.0 => format!("{v:.0} ms"),
        Some(v) => format!("{v:.2} ms"),
        None => "-".to_string(),
    }
}

/// Mebibytes, one decimal.
pub(crate) fn mib(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.1} MiB"))
}

/// A percentage, whole.
pub(crate) fn pct(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.0}%"))
}

/// A target's verdict, a miss in bold.
pub(crate) fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**missed**"
    }
}

/// A latency: as [`ms`] below a second, in seconds from one up; with
/// `at_least`, marked as a lower bound (it counts lines that never arrived).
pub(crate) fn latency(v: Option<f64>, at_least: bool) -> String {
    let figure = match v {
        Some(v) if v >= 1000.0 => format!("{:.2} s", v / 1000.0),
        other => ms(other),
    };
    if at_least && v.is_some() {
        format!("≥ {figure}")
    } else {
        figure
    }
}
