//! What a pass over batches adds up to, and evaluation over a split.

use crate::backend::Backend;
use std::collections::HashMap;

use dlwb_dsl::metric::{Metric, Quantity, Stage};
use dlwb_dsl::Graph;

use super::checkpoint::meta;
use super::events::Metrics;
use crate::data::{Data, Which};
use crate::network::{BatchStats, Network, Pass, Precision};

/// Sums over the batches of a pass; kept in checkpoints so that an epoch
/// resumed in its middle reports the same figures as one never stopped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub loss: f64,
    pub samples: usize,
    pub correct: usize,
    pub count: usize,
}

impl Tally {
    pub fn add(&mut self, s: &BatchStats, batch: usize) {
        self.loss += s.loss as f64 * batch as f64;
        self.samples += batch;
        self.correct += s.correct;
        self.count += s.count;
    }

    /// The split's figures; none at all when no sample was seen, since a
    /// metric never measured must not read as a number.
    pub fn into_metrics(self, stage: Stage, text: bool, out: &mut Metrics) {
        if self.samples == 0 {
            return;
        }
        let mut put = |q: Quantity, v: f64| out.insert(Metric::Of(stage, q).name().into(), v);
        let loss = self.loss / self.samples as f64;
        put(Quantity::Loss, loss);
        if self.count > 0 {
            put(Quantity::Accuracy, self.correct as f64 / self.count as f64);
        }
        if text {
            put(Quantity::Bpc, loss / std::f64::consts::LN_2);
        }
    }

    /// As checkpoint metadata (`tally.loss`, ...); Rust prints an f64 so
    /// that it parses back to the same bits.
    pub fn to_metadata(&self, out: &mut HashMap<String, String>) {
        out.insert("tally.loss".into(), self.loss.to_string());
        out.insert("tally.samples".into(), self.samples.to_string());
        out.insert("tally.correct".into(), self.correct.to_string());
        out.insert("tally.count".into(), self.count.to_string());
    }

    pub fn from_metadata(m: &HashMap<String, String>) -> Tally {
        let n = |k: &str| meta(m, k).unwrap_or(0);
        Tally {
            loss: meta(m, "tally.loss").unwrap_or(0.0),
            samples: n("tally.samples"),
            correct: n("tally.correct"),
            count: n("tally.count"),
        }
    }
}

/// Evaluates the network over a split (in order, no dropout), through
/// float or integer products.
pub(crate) fn evaluate<B: Backend>(
    net: &Network<B>,
    data: &Data,
    which: Which,
    g: &Graph,
    limit: Option<usize>,
    precision: Precision<'_>,
) -> Result<Tally, crate::backend::Error> {
    let mut t = Tally::default();
    let Some(plan) = data.plan(which, g.experiment.train.batch, 0, limit) else {
        return Ok(t);
    };
    let weights = net.weights();
    for b in plan.epoch(0) {
        let s = net.evaluate_in(&weights, &b, g.loss, Pass::Eval, precision)?;
        t.add(&s, b.size);
    }
    Ok(t)
}
