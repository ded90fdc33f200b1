//! Where a run stands, as a checkpoint keeps it: the epoch and the step
//! within it, the epoch's running sums, early stopping's memory, and the
//! weights it would restore. Every random stream is a function of the seed
//! and this position (`seeds`), so resuming from any checkpoint continues
//! the run exactly as if it had never stopped.

use super::checkpoint::Checkpoint;
use super::tally::Tally;
use crate::backend::Backend;
use crate::network::Network;
use crate::optim::Optimizer;

const BEST: &str = "early_stop.best.";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Epochs whose end (metrics, checkpoint) is behind the run.
    pub epochs_done: usize,
    /// Steps of the next epoch already taken; may equal the steps per
    /// epoch when only the epoch's end is left.
    pub steps_in_epoch: usize,
    /// The next epoch's sums so far.
    pub tally: Tally,
    pub early: EarlyState,
}

/// Early stopping's memory between epochs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EarlyState {
    pub best: Option<f64>,
    pub since_best: usize,
    /// The weights at the best epoch, when the file restores them.
    pub best_weights: Option<Vec<Vec<f32>>>,
}

impl Progress {
    pub fn steps_done(&self, steps_per_epoch: usize) -> usize {
        self.epochs_done * steps_per_epoch + self.steps_in_epoch
    }

    /// The whole state of a run: parameters, optimizer slots and this.
    pub(crate) fn checkpoint<B: Backend>(
        &self,
        net: &Network<B>,
        opt: &mut Optimizer<B>,
    ) -> Result<Checkpoint, crate::backend::Error> {
        let mut ck = Checkpoint::of_params(&net.params)?;
        for (name, data) in opt.export(&net.params)? {
            let n = data.len();
            ck.tensors.push((name, vec![n], data));
        }
        if let Some(best) = &self.early.best_weights {
            for (p, w) in net.params.list.iter().zip(best) {
                ck.tensors
                    .push((format!("{BEST}{}", p.name), p.shape.clone(), w.clone()));
            }
        }
        let m = &mut ck.metadata;
        m.insert("epochs_done".into(), self.epochs_done.to_string());
        m.insert("steps_in_epoch".into(), self.steps_in_epoch.to_string());
        m.insert("optimizer_steps".into(), opt.steps.to_string());
        m.insert("dlwb_version".into(), env!("CARGO_PKG_VERSION").into());
        if let Some(b) = self.early.best {
            m.insert("early_stop.best".into(), b.to_string());
        }
        m.insert(
            "early_stop.since_best".into(),
            self.early.since_best.to_string(),
        );
        self.tally.to_metadata(m);
        Ok(ck)
    }

    /// The position a checkpoint was saved at; `net` gives the names of
    /// the best weights to look for.
    pub(crate) fn of<B: Backend>(ck: &Checkpoint, net: &Network<B>) -> Progress {
        let n = |k: &str| ck.meta::<usize>(k).unwrap_or(0);
        let best_weights: Option<Vec<Vec<f32>>> = net
            .params
            .list
            .iter()
            .map(|p| {
                ck.get(&format!("{BEST}{}", p.name))
                    .map(|(_, d)| d.to_vec())
            })
            .collect();
        Progress {
            epochs_done: n("epochs_done"),
            steps_in_epoch: n("steps_in_epoch"),
            tally: Tally::from_metadata(&ck.metadata),
            early: EarlyState {
                best: ck.meta("early_stop.best"),
                since_best: n("early_stop.since_best"),
                best_weights: best_weights.filter(|w| !w.is_empty()),
            },
        }
    }
}

/// The optimizer's step count in a checkpoint.
pub fn optimizer_steps(ck: &Checkpoint) -> i32 {
    ck.meta("optimizer_steps").unwrap_or(0)
}
