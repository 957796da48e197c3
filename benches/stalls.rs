//! How often, and for how long, this machine stops running a thread that never sleeps: the
//! floor under any latency percentile, whatever the server does.
//!
//! ```sh
//! cargo bench --bench stalls              # 10 s
//! cargo bench --bench stalls -- 30        # 30 s
//! ```
//!
//! One thread per core, each pinned to its core, spins on the monotonic clock and records every
//! gap between two readings longer than 20 µs: time the thread did not run (the host took the
//! vCPU, or an interrupt ran). Nothing else should run meanwhile. Prints one JSON line per
//! core: the gaps by length, the share of time stalled, the longest gap, and `late_2ms`, the
//! share of time at which a request arriving would wait more than 2 ms for this core to run
//! again (the sum over gaps of `gap - 2 ms`, divided by the run's length). A unary call needs
//! its client's core and its server's core, so at a p99 target of 2 ms, the `late_2ms` of the
//! two cores together should stay well under 1 %.

use std::time::{Duration, Instant};

/// Gaps shorter than this are the loop itself (a clock read takes tens of nanoseconds).
const MIN_GAP: Duration = Duration::from_micros(20);
/// Upper bounds of the reported gap classes.
const CLASSES_US: [u64; 7] = [50, 100, 500, 1_000, 2_000, 5_000, u64::MAX];

#[cfg(target_os = "linux")]
fn pin_to(core: usize) {
    // SAFETY: `set` is a plain bit set on the stack, initialised by `CPU_ZERO` before use, and
    // `sched_setaffinity(0, …)` only changes the calling thread's allowed cores.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

#[cfg(not(target_os = "linux"))]
fn pin_to(_core: usize) {}

/// Spins for `length`, returning the gaps longer than [`MIN_GAP`].
fn spin(length: Duration) -> Vec<Duration> {
    let start = Instant::now();
    let mut gaps = Vec::new();
    let mut last = start;
    loop {
        let now = Instant::now();
        let gap = now - last;
        if gap > MIN_GAP {
            gaps.push(gap);
        }
        last = now;
        if now - start >= length {
            return gaps;
        }
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs benches without `--bench`: nothing to measure then.
        println!("stalls: run with `cargo bench --bench stalls`");
        return;
    }
    let seconds: f64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(10.0);
    let length = Duration::from_secs_f64(seconds);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runs: Vec<_> = (0..cores)
        .map(|core| {
            std::thread::spawn(move || {
                pin_to(core);
                spin(length)
            })
        })
        .collect();
    for (core, run) in runs.into_iter().enumerate() {
        let gaps = run.join().unwrap_or_default();
        let mut classes = [0u64; CLASSES_US.len()];
        for g in &gaps {
            let us = g.as_micros() as u64;
            let class = CLASSES_US
                .iter()
                .position(|&bound| us < bound)
                .unwrap_or(CLASSES_US.len() - 1);
            classes[class] += 1;
        }
        let stalled: Duration = gaps.iter().sum();
        let late: Duration = gaps
            .iter()
            .map(|g| g.saturating_sub(Duration::from_millis(2)))
            .sum();
        let longest = gaps.iter().max().copied().unwrap_or_default();
        let share = |d: Duration| (d.as_secs_f64() / length.as_secs_f64() * 1e4).round() / 1e2;
        println!(
            "{}",
            serde_json::json!({
                "core": core,
                "seconds": seconds,
                "gaps_20_50us": classes[0],
                "gaps_50_100us": classes[1],
                "gaps_100_500us": classes[2],
                "gaps_500us_1ms": classes[3],
                "gaps_1_2ms": classes[4],
                "gaps_2_5ms": classes[5],
                "gaps_over_5ms": classes[6],
                "stalled_pct": share(stalled),
                "late_2ms_pct": share(late),
                "longest_ms": (longest.as_secs_f64() * 1e5).round() / 1e2,
            })
        );
    }
}
