//! What a thread wake-up costs on this machine: the unit every unary call pays at least once on
//! each side, whatever the server does.
//!
//! ```sh
//! cargo bench --bench wakeup
//! ```
//!
//! Two threads pass a turn back and forth, 20,000 round trips each way of waiting:
//! - `blocking`: the waiting thread sleeps (`thread::park`, a futex) and is woken by the other;
//! - `spinning`: the waiting thread spins on an atomic and never sleeps.
//!
//! Reports wall time and CPU time (both threads, from `/proc/self/stat`) per round trip, two
//! wake-ups per round trip when blocking. On a host, a blocking round trip takes a few
//! microseconds; in this VM, see BENCHMARKS.md ("Unary calls and the cost of a wake-up").

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

const ROUND_TRIPS: u32 = 20_000;

/// This process's CPU time (user + system) in seconds.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // The fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

/// Runs `ROUND_TRIPS` round trips; returns (wall µs, CPU µs) per round trip.
fn measure(blocking: bool) -> (f64, f64) {
    // 0: the main thread's turn to send; 1: the echo thread's.
    let turn = Arc::new(AtomicU32::new(0));
    let main = thread::current();
    let echo_turn = turn.clone();
    let echo = thread::spawn(move || {
        for _ in 0..ROUND_TRIPS {
            while echo_turn.load(Ordering::Acquire) != 1 {
                if blocking {
                    thread::park();
                } else {
                    std::hint::spin_loop();
                }
            }
            echo_turn.store(0, Ordering::Release);
            if blocking {
                main.unpark();
            }
        }
    });
    let echo_thread = echo.thread().clone();
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    for _ in 0..ROUND_TRIPS {
        turn.store(1, Ordering::Release);
        if blocking {
            echo_thread.unpark();
        }
        while turn.load(Ordering::Acquire) != 0 {
            if blocking {
                thread::park();
            } else {
                std::hint::spin_loop();
            }
        }
    }
    let per = |seconds: f64| seconds * 1e6 / f64::from(ROUND_TRIPS);
    let result = (per(wall.elapsed().as_secs_f64()), per(cpu_seconds() - cpu));
    let _ = echo.join();
    result
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs benches without `--bench`: nothing to measure then.
        println!("wakeup: run with `cargo bench --bench wakeup`");
        return;
    }
    for (name, blocking) in [("blocking", true), ("spinning", false)] {
        let (wall, cpu) = measure(blocking);
        println!(
            "{}",
            serde_json::json!({
                "mode": name,
                "round_trips": ROUND_TRIPS,
                "wall_us_per_round_trip": (wall * 100.0).round() / 100.0,
                "cpu_us_per_round_trip": (cpu * 100.0).round() / 100.0,
            })
        );
    }
}
