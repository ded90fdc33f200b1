//! Magnitude pruning of dense and conv weights, with masks that keep
//! pruned weights at zero through fine-tuning.

use crate::backend::Backend;
use dlwb_dsl::experiment::PruneScope;
use dlwb_dsl::graph::{Node, Op};
use dlwb_dsl::Graph;

use crate::backend::Result;
use crate::params::Params;

/// Zeroed positions per covered parameter (by index in the list).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Masks {
    pub keep: Vec<(usize, Vec<bool>)>,
}

/// The weights pruning covers: every dense and conv layer's `weight`.
pub fn covered<B: Backend>(g: &Graph, params: &Params<B>) -> Vec<usize> {
    fn walk(nodes: &[Node], out: &mut Vec<String>) {
        for n in nodes {
            if matches!(n.op, Op::Dense { .. } | Op::Conv { .. }) {
                out.push(format!("{}.{}", n.name, dlwb_dsl::graph::param::WEIGHT));
            }
            walk(n.body(), out);
        }
    }
    let mut names = Vec::new();
    walk(&g.nodes, &mut names);
    names.iter().filter_map(|n| params.index(n)).collect()
}

/// Zeroes exactly `round(fraction * n)` smallest-magnitude weights: of each
/// covered tensor (`Layer`), or of all of them together (`Global`).
pub fn magnitude<B: Backend>(
    params: &mut Params<B>,
    covered: &[usize],
    fraction: f64,
    scope: PruneScope,
) -> Result<Masks> {
    let values: Vec<Vec<f32>> = covered
        .iter()
        .map(|&i| params.host(i))
        .collect::<Result<_>>()?;
    let mut keep: Vec<Vec<bool>> = values.iter().map(|v| vec![true; v.len()]).collect();
    let smallest = |cands: &mut Vec<(usize, usize, f32)>, k: usize, keep: &mut Vec<Vec<bool>>| {
        // Ties break by position, so the count is exact.
        cands.sort_by(|a, b| a.2.total_cmp(&b.2).then((a.0, a.1).cmp(&(b.0, b.1))));
        for &(t, j, _) in cands.iter().take(k) {
            keep[t][j] = false;
        }
    };
    match scope {
        PruneScope::Layer => {
            for (t, v) in values.iter().enumerate() {
                let mut cands: Vec<_> =
                    v.iter().enumerate().map(|(j, w)| (t, j, w.abs())).collect();
                let k = (fraction * v.len() as f64).round() as usize;
                smallest(&mut cands, k, &mut keep);
            }
        }
        PruneScope::Global => {
            let mut cands: Vec<_> = values
                .iter()
                .enumerate()
                .flat_map(|(t, v)| v.iter().enumerate().map(move |(j, w)| (t, j, w.abs())))
                .collect();
            let k = (fraction * cands.len() as f64).round() as usize;
            smallest(&mut cands, k, &mut keep);
        }
    }
    let masks = Masks {
        keep: covered.iter().copied().zip(keep).collect(),
    };
    masks.apply(params)?;
    Ok(masks)
}

impl Masks {
    /// Sets every pruned weight back to zero.
    pub fn apply<B: Backend>(&self, params: &mut Params<B>) -> Result<()> {
        for (i, keep) in &self.keep {
            let mut w = params.host(*i)?;
            for (w, k) in w.iter_mut().zip(keep) {
                if !k {
                    *w = 0.0;
                }
            }
            params.set(*i, &w)?;
        }
        Ok(())
    }

    /// Pruned weights over covered weights.
    pub fn sparsity(&self) -> f64 {
        let total: usize = self.keep.iter().map(|(_, k)| k.len()).sum();
        let zero: usize = self
            .keep
            .iter()
            .map(|(_, k)| k.iter().filter(|k| !**k).count())
            .sum();
        zero as f64 / total.max(1) as f64
    }
}
