//! Progress of long steps on a terminal: spinners and bars drawn on stderr only when it is a
//! terminal (indicatif hides them otherwise), so scripts and CI logs stay clean; every step's
//! duration is logged.

use std::time::{Duration, Instant};

/// Runs one long step under a spinner with its elapsed time and logs how long it took.
pub(crate) fn stage<T, E>(label: &str, step: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(label.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    let started = Instant::now();
    let result = step();
    bar.finish_and_clear();
    tracing::info!(
        step = label,
        seconds = started.elapsed().as_secs_f64(),
        ok = result.is_ok(),
        "step finished"
    );
    result
}

/// Runs a step that reports rounds done out of `rounds` under a bar, and logs how long it took.
pub(crate) fn rounds<T>(
    label: &str,
    rounds: u64,
    step: impl FnOnce(&(dyn Fn(usize) + Sync)) -> T,
) -> T {
    let bar = indicatif::ProgressBar::new(rounds);
    let template = format!("{label} [{{bar:30}}] {{pos}}/{{len}} rounds ({{elapsed}})");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    let started = Instant::now();
    let result = step(&|r| bar.set_position(r as u64));
    bar.finish_and_clear();
    tracing::info!(
        step = label,
        seconds = started.elapsed().as_secs_f64(),
        "step finished"
    );
    result
}
