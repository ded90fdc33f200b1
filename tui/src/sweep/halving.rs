//! Successive halving (Jamieson and Talwalkar 2016): every trial trains a
//! first rung of epochs; the best 1/ETA by the monitored metric go on from
//! their own checkpoints to the next rung, up to the file's epochs.

use super::record::{SweepRecord, TrialStatus};

/// Each rung's epochs, the last the file's own: with `n` trials there are
/// as many rungs as halvings leave at least one trial, each ETA times the
/// one before.
pub fn rungs(epochs: usize, n: usize, eta: usize) -> Vec<usize> {
    let eta = eta.max(2);
    let mut halvings = 0;
    let mut left = n;
    while left >= eta {
        left /= eta;
        halvings += 1;
    }
    let mut out: Vec<usize> = (0..=halvings)
        .map(|i| (epochs / eta.pow((halvings - i) as u32)).max(1))
        .collect();
    out.dedup();
    *out.last_mut().expect("at least one rung") = epochs;
    out
}

/// Which of `trials` go on: the best `ceil(len / eta)` completed ones by
/// the monitored metric.
pub fn promoted(record: &SweepRecord, trials: &[usize], eta: usize) -> Vec<usize> {
    let keep = trials.len().div_ceil(eta.max(2));
    record
        .ranked()
        .into_iter()
        .filter(|t| trials.contains(&t.trial) && t.status == TrialStatus::Completed)
        .filter(|t| t.metrics.contains_key(&record.monitor))
        .take(keep)
        .map(|t| t.trial)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_grow_by_eta_up_to_the_files_epochs() {
        assert_eq!(rungs(27, 9, 3), [3, 9, 27]);
        assert_eq!(rungs(10, 4, 2), [2, 5, 10]);
        assert_eq!(rungs(2, 8, 2), [1, 2]);
        assert_eq!(rungs(5, 1, 3), [5]);
    }
}
