//! Choosing one treatment per account to maximise total expected net recovery within daily
//! capacities per channel.
//!
//! Account `i` has `k` options, option `j` worth `v[i][j]` and using channel `c[i][j]`; some
//! channels have a capacity (at most that many accounts), the others none. The problem
//!
//! ```text
//! maximise Σ_i v[i][x_i]   subject to   #{i : c[i][x_i] = c} ≤ cap_c for every capped c
//! ```
//!
//! is solved by **Lagrangian relaxation** with a price `λ_c ≥ 0` per capped channel: each
//! account takes the option of highest `v − λ_c`, and
//! `L(λ) = Σ_i max_j (v[i][j] − λ_{c[i][j]}) + Σ_c λ_c · cap_c` bounds every feasible plan's
//! value from above. Prices are set channel by channel, exactly: with the others fixed, an
//! account uses channel `c` when its best option there beats its best elsewhere by more than
//! `λ_c`, so the smallest price that keeps `c` within capacity is the `(cap + 1)`-th largest of
//! those margins. Sweeps over the channels repeat until no price moves (or [`MAX_SWEEPS`]).
//!
//! With **one** capped channel a single sweep is the whole method, and it is exact: the plan
//! gives the channel to the `cap` accounts that gain most from it, which no other plan beats
//! (the bound equals the value). With several, the prices' choices may leave a channel over
//! capacity where accounts tie or prices interact; a **repair** moves the accounts that lose
//! least to their best option in a channel with room until every capacity holds. The
//! optimality gap reported is `L(λ) − value`, an upper bound on how far the plan is from the
//! best one.

/// Most sweeps over the capped channels.
pub const MAX_SWEEPS: usize = 50;

/// The options of every account.
#[derive(Debug, Clone, Copy)]
pub struct Problem<'a> {
    /// Options per account.
    pub k: usize,
    /// `v[i * k + j]`: option `j` of account `i`'s value (NaN: not available).
    pub values: &'a [f64],
    /// `c[i * k + j]`: the channel option `j` of account `i` uses (an index into `capacity`).
    pub channels: &'a [u16],
    /// Per channel, its capacity (`None`: no limit).
    pub capacity: &'a [Option<u64>],
}

/// A plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// Per account, the option chosen.
    pub choice: Vec<u8>,
    /// Total value of the plan.
    pub value: f64,
    /// The Lagrangian bound: no feasible plan is worth more.
    pub bound: f64,
    /// Per channel, its price (0 for channels without a capacity or with room).
    pub prices: Vec<f64>,
    /// Per channel, the accounts the plan gives it.
    pub usage: Vec<u64>,
    /// Sweeps run.
    pub sweeps: usize,
    /// Accounts the repair moved.
    pub repaired: u64,
    /// Channels whose capacity no plan can keep (accounts with no option elsewhere).
    pub infeasible: Vec<usize>,
}

impl Solution {
    /// `bound − value`, as a share of `|value|` (0 when exact).
    pub fn relative_gap(&self) -> f64 {
        let gap = (self.bound - self.value).max(0.0);
        if gap == 0.0 {
            0.0
        } else {
            gap / self.value.abs().max(f64::MIN_POSITIVE)
        }
    }
}

/// Solves `p` (see the module docs).
pub fn solve(p: &Problem<'_>) -> Solution {
    let n = p.values.len() / p.k.max(1);
    let channels = p.capacity.len();
    let mut prices = vec![0.0; channels];
    let capped: Vec<usize> = (0..channels).filter(|&c| p.capacity[c].is_some()).collect();
    let mut margins = vec![0.0; n];
    let mut sweeps = 0;
    let mut infeasible = Vec::new();
    for _ in 0..MAX_SWEEPS.max(1) {
        sweeps += 1;
        let mut moved = false;
        for &c in &capped {
            let cap = p.capacity[c].unwrap_or(u64::MAX);
            let mut mandatory = 0u64;
            for (i, m) in margins.iter_mut().enumerate() {
                let (mut inside, mut outside) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
                for j in 0..p.k {
                    let v = p.values[i * p.k + j];
                    if v.is_nan() {
                        continue;
                    }
                    let ch = usize::from(p.channels[i * p.k + j]);
                    if ch == c {
                        inside = inside.max(v);
                    } else {
                        outside = outside.max(v - prices[ch]);
                    }
                }
                *m = if inside == f64::NEG_INFINITY {
                    f64::NEG_INFINITY
                } else if outside == f64::NEG_INFINITY {
                    mandatory += 1;
                    f64::INFINITY
                } else {
                    inside - outside
                };
            }
            if mandatory > cap && !infeasible.contains(&c) {
                infeasible.push(c);
            }
            let wanting = margins.iter().filter(|&&m| m > 0.0).count() as u64;
            let price = if wanting <= cap {
                0.0
            } else {
                // The (cap + 1)-th largest margin: exactly the accounts above it keep the channel.
                let mut finite: Vec<f64> = margins
                    .iter()
                    .copied()
                    .filter(|m| m.is_finite() && *m > 0.0)
                    .collect();
                let room = cap.saturating_sub(mandatory) as usize;
                if room >= finite.len() {
                    0.0
                } else {
                    let (_, nth, _) = finite.select_nth_unstable_by(room, |a, b| b.total_cmp(a));
                    *nth
                }
            };
            if (price - prices[c]).abs() > 1e-9 * price.abs().max(1.0) {
                moved = true;
            }
            prices[c] = price;
        }
        if !moved {
            break;
        }
    }
    // The prices' plan: each account's best priced option (the first of equals).
    let priced = |i: usize, prices: &[f64]| -> Option<(usize, f64)> {
        let mut best: Option<(usize, f64)> = None;
        for j in 0..p.k {
            let v = p.values[i * p.k + j];
            if v.is_nan() {
                continue;
            }
            let adjusted = v - prices[usize::from(p.channels[i * p.k + j])];
            if best.is_none_or(|(_, b)| adjusted > b) {
                best = Some((j, adjusted));
            }
        }
        best
    };
    let mut choice = vec![0u8; n];
    let mut usage = vec![0u64; channels];
    let mut bound: f64 = (0..channels)
        .map(|c| prices[c] * p.capacity[c].unwrap_or(0) as f64)
        .sum();
    for (i, x) in choice.iter_mut().enumerate() {
        if let Some((j, adjusted)) = priced(i, &prices) {
            *x = j as u8;
            bound += adjusted;
            usage[usize::from(p.channels[i * p.k + j])] += 1;
        }
    }
    let repaired = repair(p, &mut choice, &mut usage);
    let value = (0..n)
        .map(|i| p.values[i * p.k + usize::from(choice[i])])
        .filter(|v| !v.is_nan())
        .sum();
    Solution {
        choice,
        value,
        bound,
        prices,
        usage,
        sweeps,
        repaired,
        infeasible,
    }
}

/// Moves accounts out of channels over capacity, those that lose least first, to their best
/// option in a channel with room. Returns how many moved.
fn repair(p: &Problem<'_>, choice: &mut [u8], usage: &mut [u64]) -> u64 {
    let n = choice.len();
    let mut moved = 0;
    for _ in 0..p.capacity.len().max(1) * 2 {
        let over: Vec<usize> = (0..p.capacity.len())
            .filter(|&c| p.capacity[c].is_some_and(|cap| usage[c] > cap))
            .collect();
        if over.is_empty() {
            break;
        }
        for c in over {
            let cap = p.capacity[c].unwrap_or(u64::MAX);
            let has_room =
                |ch: usize, usage: &[u64]| p.capacity[ch].is_none_or(|cap| usage[ch] < cap);
            // (loss, account, option) for every account in `c` with somewhere to go.
            let mut moves: Vec<(f64, usize, usize)> = (0..n)
                .filter(|&i| usize::from(p.channels[i * p.k + usize::from(choice[i])]) == c)
                .filter_map(|i| {
                    let here = p.values[i * p.k + usize::from(choice[i])];
                    (0..p.k)
                        .filter(|&j| {
                            let ch = usize::from(p.channels[i * p.k + j]);
                            ch != c && !p.values[i * p.k + j].is_nan() && has_room(ch, usage)
                        })
                        .max_by(|&a, &b| {
                            p.values[i * p.k + a]
                                .total_cmp(&p.values[i * p.k + b])
                                .then(b.cmp(&a))
                        })
                        .map(|j| (here - p.values[i * p.k + j], i, j))
                })
                .collect();
            moves.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for (_, i, j) in moves {
                if usage[c] <= cap {
                    break;
                }
                let ch = usize::from(p.channels[i * p.k + j]);
                if !has_room(ch, usage) {
                    continue;
                }
                usage[c] -= 1;
                usage[ch] += 1;
                choice[i] = j as u8;
                moved += 1;
            }
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every plan of a small problem, the best feasible one's value (None if none is).
    fn brute_force(p: &Problem<'_>) -> Option<f64> {
        let n = p.values.len() / p.k;
        let mut best: Option<f64> = None;
        let mut x = vec![0usize; n];
        loop {
            let mut usage = vec![0u64; p.capacity.len()];
            let mut value = 0.0;
            for (i, &j) in x.iter().enumerate() {
                usage[usize::from(p.channels[i * p.k + j])] += 1;
                value += p.values[i * p.k + j];
            }
            let feasible =
                (0..p.capacity.len()).all(|c| p.capacity[c].is_none_or(|cap| usage[c] <= cap));
            if feasible && best.is_none_or(|b| value > b) {
                best = Some(value);
            }
            let mut pos = 0;
            loop {
                if pos == n {
                    return best;
                }
                x[pos] += 1;
                if x[pos] < p.k {
                    break;
                }
                x[pos] = 0;
                pos += 1;
            }
        }
    }

    /// On random small problems: with one capped channel the plan is the best one (value =
    /// brute force = bound); with two, it is feasible, no better than the best, and the bound
    /// is no lower than the best.
    #[test]
    fn plans_are_exact_for_one_capacity_and_bounded_for_several() {
        let mut state = 17u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut exact, mut within) = (0, 0);
        for trial in 0..300 {
            let n = 7;
            let k = 3;
            let several = trial % 2 == 1;
            // Option 0 is free (channel 0, no capacity); 1 and 2 use channels 1 and 2.
            let mut values = Vec::new();
            let mut channels = Vec::new();
            for _ in 0..n {
                values.push(10.0 * next());
                channels.push(0u16);
                for j in 1..k {
                    values.push(10.0 * next() + 3.0);
                    channels.push(if several { j as u16 } else { 1 });
                }
            }
            let capacity = [None, Some(2), Some(if several { 3 } else { 2 })];
            let p = Problem {
                k,
                values: &values,
                channels: &channels,
                capacity: &capacity,
            };
            let s = solve(&p);
            let best = brute_force(&p).expect("feasible: option 0 is free");
            for (used, cap) in s.usage.iter().zip(capacity).skip(1) {
                assert!(*used <= cap.unwrap_or(u64::MAX), "{trial}");
            }
            assert!(s.value <= best + 1e-9, "{trial}: {} > {best}", s.value);
            assert!(
                s.bound >= best - 1e-9,
                "{trial}: bound {} < {best}",
                s.bound
            );
            if several {
                within += usize::from(best - s.value <= 0.05 * best);
            } else {
                assert!(
                    (s.value - best).abs() < 1e-9,
                    "{trial}: {} vs {best}",
                    s.value
                );
                assert!((s.bound - best).abs() < 1e-9, "{trial}");
                exact += 1;
            }
        }
        assert_eq!(exact, 150);
        assert!(within >= 140, "{within} of 150 within 5 % of the best");
    }

    /// A channel that accounts cannot leave is reported infeasible rather than looping.
    #[test]
    fn an_unavoidable_channel_over_capacity_is_reported() {
        let values = [5.0, 4.0, 3.0];
        let channels = [1u16, 1, 1];
        let capacity = [None, Some(1)];
        let s = solve(&Problem {
            k: 1,
            values: &values,
            channels: &channels,
            capacity: &capacity,
        });
        assert_eq!(s.infeasible, vec![1]);
        assert_eq!(s.usage[1], 3);
    }
}
