//! Weight sharing (the tutorial's "parameter sharing", Han et al.'s
//! trained quantization): each covered layer's non-zero weights replaced by
//! K shared values found by k-means from a linear initialisation, pruned
//! weights staying zero. Fine-tuning moves each shared value by the mean of
//! its members' updates after every step, and ties the members to it again,
//! so exactly K distinct non-zero values remain. (Han et al. sum the
//! members' gradients; with thousands of members per value that sum is a
//! learning rate thousands of times the file's, which Adam's steps do not
//! survive — the mean keeps the file's learning rate meaningful.)

use crate::backend::{Backend, Result};
use crate::params::Params;

/// Lloyd iterations at most; 1-D k-means settles in a few dozen.
const ITERATIONS: usize = 60;

/// One layer's shared values and which one each weight takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Codebook {
    /// The parameter, by index in the list.
    pub param: usize,
    pub values: Vec<f32>,
    /// Each weight's value, `None` for a pruned (zero) weight.
    pub index: Vec<Option<u8>>,
}

impl Codebook {
    /// `weights` as at most `k` shared values (`k` distinct ones wherever
    /// the layer has `k` distinct non-zero weights). Zeros are pruned
    /// weights and stay zero.
    pub fn fit(param: usize, weights: &[f32], k: usize) -> Codebook {
        let mut nonzero: Vec<f32> = weights.iter().copied().filter(|w| *w != 0.0).collect();
        nonzero.sort_by(f32::total_cmp);
        let values = kmeans(&nonzero, k);
        let index = weights
            .iter()
            .map(|w| (*w != 0.0).then(|| nearest(&values, *w) as u8))
            .collect();
        Codebook {
            param,
            values,
            index,
        }
    }

    /// The layer's weights: each its shared value, pruned ones zero.
    pub fn weights(&self) -> Vec<f32> {
        self.index
            .iter()
            .map(|i| i.map_or(0.0, |i| self.values[i as usize]))
            .collect()
    }

    /// After an update of `updated`: each shared value moves to the mean of
    /// its members' new values, and the members take it again.
    pub fn retie(&mut self, updated: &[f32]) -> Vec<f32> {
        let mut sums = vec![(0f64, 0usize); self.values.len()];
        for (w, i) in updated.iter().zip(&self.index) {
            if let Some(i) = i {
                let s = &mut sums[*i as usize];
                *s = (s.0 + *w as f64, s.1 + 1);
            }
        }
        for (v, (sum, n)) in self.values.iter_mut().zip(sums) {
            if n > 0 {
                *v = (sum / n as f64) as f32;
            }
        }
        self.weights()
    }
}

/// The shared values of every clustered layer, held through fine-tuning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Codebooks {
    pub layers: Vec<Codebook>,
}

impl Codebooks {
    /// `k` shared values for each of the `covered` weights, which take them.
    pub fn fit<B: Backend>(params: &mut Params<B>, covered: &[usize], k: usize) -> Result<Self> {
        let mut layers = Vec::new();
        for &i in covered {
            let book = Codebook::fit(i, &params.host(i)?, k);
            params.set(i, &book.weights())?;
            layers.push(book);
        }
        Ok(Codebooks { layers })
    }

    /// After an optimizer step: every layer tied to its shared values again.
    pub fn apply<B: Backend>(&mut self, params: &mut Params<B>) -> Result<()> {
        for book in &mut self.layers {
            let tied = book.retie(&params.host(book.param)?);
            params.set(book.param, &tied)?;
        }
        Ok(())
    }
}

/// The value of `values` (sorted) nearest `w`.
fn nearest(values: &[f32], w: f32) -> usize {
    let at = values.partition_point(|v| *v < w);
    match (at.checked_sub(1), values.get(at)) {
        (Some(lo), Some(hi)) if (w - values[lo]).abs() <= (hi - w).abs() => lo,
        (_, Some(_)) => at,
        (Some(lo), None) => lo,
        (None, None) => 0,
    }
}

/// 1-D k-means of `sorted` values into at most `k` centroids (sorted),
/// from centroids spread evenly between the extremes. Each iteration finds
/// the boundaries (midpoints) by binary search and the clusters' means
/// from prefix sums; an emptied cluster is re-seeded inside the widest.
fn kmeans(sorted: &[f32], k: usize) -> Vec<f32> {
    let distinct = {
        let mut d = sorted.to_vec();
        d.dedup();
        d
    };
    if distinct.len() <= k {
        return distinct;
    }
    let (lo, hi) = (sorted[0], sorted[sorted.len() - 1]);
    let mut c: Vec<f32> = (0..k)
        .map(|j| lo + (hi - lo) * j as f32 / (k - 1) as f32)
        .collect();
    let mut prefix = Vec::with_capacity(sorted.len() + 1);
    prefix.push(0f64);
    for v in sorted {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + *v as f64);
    }
    for _ in 0..ITERATIONS {
        let bounds = boundaries(sorted, &c);
        let mut next = c.clone();
        let mut empty = Vec::new();
        for j in 0..k {
            let (a, b) = (bounds[j], bounds[j + 1]);
            if b > a {
                next[j] = ((prefix[b] - prefix[a]) / (b - a) as f64) as f32;
            } else {
                empty.push(j);
            }
        }
        // Emptied clusters leave; each comes back inside the widest one.
        let mut next: Vec<f32> = next
            .into_iter()
            .enumerate()
            .filter(|(j, _)| !empty.contains(j))
            .map(|(_, v)| v)
            .collect();
        next.sort_by(f32::total_cmp);
        for _ in &empty {
            let v = reseed(sorted, &boundaries(sorted, &next));
            let at = next.partition_point(|c| *c < v);
            next.insert(at, v);
        }
        if next == c {
            break;
        }
        c = next;
    }
    c
}

/// Where each centroid's members begin in `sorted`, and the end.
fn boundaries(sorted: &[f32], c: &[f32]) -> Vec<usize> {
    let mut b = vec![0];
    for w in c.windows(2) {
        let mid = (w[0] + w[1]) / 2.0;
        b.push(sorted.partition_point(|v| *v <= mid));
    }
    b.push(sorted.len());
    b
}

/// A new centroid for an emptied cluster: the middle member of the
/// cluster spanning the most members.
fn reseed(sorted: &[f32], bounds: &[usize]) -> f32 {
    let widest = bounds
        .windows(2)
        .max_by_key(|w| w[1].saturating_sub(w[0]))
        .expect("at least one cluster");
    sorted[(widest[0] + widest[1]) / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_takes_exactly_k_values_and_pruned_weights_stay_zero() {
        let w: Vec<f32> = (0..5000)
            .map(|i| {
                if i % 7 == 0 {
                    0.0
                } else {
                    (((i * 7919) % 2003) as f32 - 1001.0) / 700.0
                }
            })
            .collect();
        for k in [2, 5, 32, 256] {
            let book = Codebook::fit(0, &w, k);
            let got = book.weights();
            let mut distinct: Vec<f32> = got.iter().copied().filter(|v| *v != 0.0).collect();
            distinct.sort_by(f32::total_cmp);
            distinct.dedup();
            assert_eq!(distinct.len(), k, "k = {k}");
            for (a, b) in w.iter().zip(&got) {
                assert_eq!(*a == 0.0, *b == 0.0);
            }
        }
    }

    #[test]
    fn k_means_finds_well_separated_groups() {
        let mut w = Vec::new();
        for (centre, n) in [(-2.0f32, 300), (0.5, 500), (3.0, 200)] {
            w.extend((0..n).map(|i| centre + (i % 11) as f32 * 0.001));
        }
        let book = Codebook::fit(0, &w, 3);
        for (v, c) in book.values.iter().zip([-2.0, 0.5, 3.0]) {
            assert!((v - c).abs() < 0.01, "{:?}", book.values);
        }
    }

    #[test]
    fn retying_moves_each_value_to_its_members_mean() {
        let mut book = Codebook {
            param: 0,
            values: vec![-1.0, 1.0],
            index: vec![Some(0), Some(0), None, Some(1)],
        };
        let tied = book.retie(&[-0.5, -1.5, 0.3, 2.0]);
        assert_eq!(tied, vec![-1.0, -1.0, 0.0, 2.0]);
        assert_eq!(book.values, vec![-1.0, 2.0]);
    }
}
