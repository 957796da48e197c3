//! How the workers of one fit share work. They live for the whole fit and run the same rounds in
//! step: a thread spawned per tree cost 35–40 µs on the project's VMs and a sleeping pool thread
//! about as much to wake, against about 1 ms for a whole round, so between phases they wait at a
//! spinning [`Barrier`] instead. What they share, in order of use within a round:
//!
//! 1. the round's sample and features, drawn by the first worker before the round;
//! 2. the tree, grown by every worker at once (each builds and searches its own features, see
//!    [`super::grow`]), so every worker holds the same nodes and the same leaf partition;
//! 3. the margins of the sampled rows, each worker adding the leaf values of its own share of the
//!    leaves;
//! 4. a pass over all rows in [`Chunks`] that whichever worker is free claims: the out-of-bag rows'
//!    tree values, then every row's gradient and hessian for the next round.
//!
//! Per-row arrays written in one phase and read by all in the next are [`Cells`]. No result
//! depends on which worker did what: every row's value has one writer and one formula.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Spins before a waiting worker starts yielding its core.
const SPINS_BEFORE_YIELD: u32 = 1 << 14;

/// A barrier whose waiters spin (the waits are microseconds; a sleeping thread takes far longer
/// to wake), and that stops waiting, by panicking, once a worker has unwound.
pub(super) struct Barrier {
    workers: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    /// Set when a worker unwinds, so that the others stop waiting for it.
    abandoned: AtomicBool,
}

impl Barrier {
    pub(super) fn new(workers: usize) -> Barrier {
        Barrier {
            workers,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            abandoned: AtomicBool::new(false),
        }
    }

    /// How many workers meet here.
    pub(super) fn workers(&self) -> usize {
        self.workers
    }

    /// Waits until every worker has arrived. Everything a worker wrote before arriving is visible
    /// to every worker after.
    pub(super) fn wait(&self) {
        if self.workers == 1 {
            return;
        }
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.workers {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            assert!(
                !self.abandoned.load(Ordering::Relaxed),
                "a gradient-boosting worker panicked"
            );
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Marks the barrier abandoned if the calling worker unwinds while the guard lives.
    pub(super) fn guard(&self) -> AbandonOnPanic<'_> {
        AbandonOnPanic(self)
    }
}

/// Marks its barrier abandoned if its worker unwinds.
pub(super) struct AbandonOnPanic<'a>(&'a Barrier);

impl Drop for AbandonOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.abandoned.store(true, Ordering::Relaxed);
        }
    }
}

/// Per-row `f64`s that any worker may write in one phase and every worker reads in the next (the
/// barrier between orders them). Relaxed atomics compile to plain loads and stores.
pub(super) struct Cells(Box<[AtomicU64]>);

impl Cells {
    pub(super) fn new(len: usize, value: f64) -> Cells {
        Cells((0..len).map(|_| AtomicU64::new(value.to_bits())).collect())
    }

    #[inline]
    pub(super) fn get(&self, i: usize) -> f64 {
        f64::from_bits(self.0[i].load(Ordering::Relaxed))
    }

    #[inline]
    pub(super) fn set(&self, i: usize, value: f64) {
        self.0[i].store(value.to_bits(), Ordering::Relaxed);
    }

    /// Adds `value` to cell `i` (one writer per cell and phase: not a read-modify-write that
    /// races).
    #[inline]
    pub(super) fn add(&self, i: usize, value: f64) {
        self.set(i, self.get(i) + value);
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }
}

/// Rows per claimed chunk of a pass.
pub(super) const CHUNK: usize = 2048;

/// The chunks of a pass over `len` rows, claimed in turn by whichever worker asks. Passes
/// alternate between two counters: at the start of a round the first worker readies the counter
/// of the pass after this round's, whose parity belongs to the pass every worker has just left.
pub(super) struct Chunks {
    len: usize,
    next: [AtomicUsize; 2],
}

impl Chunks {
    pub(super) fn new(len: usize) -> Chunks {
        Chunks {
            len,
            next: [AtomicUsize::new(0), AtomicUsize::new(0)],
        }
    }

    /// Readies pass `pass`'s counter; call only while no worker can be in a pass of the same
    /// parity.
    pub(super) fn reset(&self, pass: usize) {
        self.next[pass % 2].store(0, Ordering::Relaxed);
    }

    /// The next unclaimed row range of pass `pass`, if any.
    pub(super) fn claim(&self, pass: usize) -> Option<std::ops::Range<usize>> {
        let start = self.next[pass % 2].fetch_add(1, Ordering::Relaxed) * CHUNK;
        (start < self.len).then(|| start..(start + CHUNK).min(self.len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of a pass is claimed exactly once, whoever claims, and a reset pass starts over.
    #[test]
    fn chunks_cover_every_row_once_across_workers() {
        let chunks = Chunks::new(10 * CHUNK + 17);
        let barrier = Barrier::new(3);
        let seen = Cells::new(10 * CHUNK + 17, 0.0);
        for pass in 0..3 {
            std::thread::scope(|scope| {
                for _ in 0..3 {
                    scope.spawn(|| {
                        let _guard = barrier.guard();
                        while let Some(rows) = chunks.claim(pass) {
                            for r in rows {
                                seen.add(r, 1.0);
                            }
                        }
                        barrier.wait();
                    });
                }
            });
            chunks.reset(pass + 2);
            assert!((0..seen.len()).all(|r| seen.get(r) == (pass + 1) as f64));
        }
    }
}
