//! Early stopping: the monitored metric's best value and the epochs since,
//! kept in the run's `Progress` (so a resumed run remembers them), and the
//! best weights when the file restores them.

use super::events::{Event, Metrics};
use super::setup::Run;
use super::Error;
use super::Worker;
use crate::backend::Backend;

impl Worker<'_> {
    /// Early stopping, keeping the best weights; true when it stops.
    pub(super) fn early_stop<B: Backend>(
        &self,
        run: &mut Run<B>,
        epoch: usize,
        metrics: &Metrics,
    ) -> Result<bool, Error> {
        let Some(es) = &self.cfg.graph.experiment.train.early_stop else {
            return Ok(false);
        };
        let Some(&v) = metrics.get(&es.monitor) else {
            return Ok(false);
        };
        let early = &mut run.progress.early;
        let better = match early.best {
            None => true,
            Some(b) if es.minimize() => v < b - es.min_delta,
            Some(b) => v > b + es.min_delta,
        };
        if better {
            early.best = Some(v);
            early.since_best = 0;
            if es.restore_best {
                early.best_weights = Some(run.net.params.all_host()?);
            }
        } else {
            early.since_best += 1;
        }
        if early.since_best < es.patience {
            return Ok(false);
        }
        self.send(Event::Log {
            message: format!(
                "early stop after epoch {}: {} has not improved for {} epochs",
                epoch + 1,
                es.monitor,
                es.patience
            ),
        });
        if let Some(w) = &early.best_weights {
            for (i, w) in w.iter().enumerate() {
                run.net.params.set(i, w)?;
            }
        }
        Ok(true)
    }
}
