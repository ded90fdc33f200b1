//! A run's middle stage: the steps of every epoch, each epoch's end
//! (metrics, histograms, samples, early stopping, the checkpoint), and the
//! commands a front end sends between steps.

use crate::backend::Backend;
use std::collections::BTreeMap;
use std::time::Instant;

use dlwb_dsl::metric::{Metric, Quantity, Stage};

use super::events::{Event, Metrics, Status};
use super::record::Row;
use super::setup::{io, Run, PANIC_AT_STEP};
use super::tally::evaluate;
use super::{histogram, sample, Error, Worker};
use crate::data::{Batch, Which};
use crate::loss::Objective;
use crate::network::{BatchStats, Pass, Precision};
use crate::optim::learning_rate;
use crate::seeds;
use crate::trainer::{train_step, StepError};

/// Throughput and time-left figures for step events.
struct Clock {
    started: Instant,
    steps: usize,
    window_start: Instant,
    window_samples: usize,
}

/// How an epoch's steps ended.
enum Steps {
    Done,
    Stopped(Status),
}

impl Worker<'_> {
    pub(super) fn train<B: Backend>(&mut self, run: &mut Run<B>) -> Result<Status, Error> {
        let now = Instant::now();
        let mut clock = Clock {
            started: now,
            steps: 0,
            window_start: now,
            window_samples: 0,
        };
        let panic_at: Option<usize> = std::env::var(PANIC_AT_STEP)
            .ok()
            .and_then(|v| v.parse().ok());
        while run.progress.epochs_done < self.cfg.graph.experiment.train.epochs {
            let epoch = run.progress.epochs_done;
            let epoch_start = Instant::now();
            if let Steps::Stopped(st) = self.steps(run, epoch, &mut clock, panic_at)? {
                return Ok(st);
            }
            if self.end_epoch(run, epoch, epoch_start)? {
                break;
            }
        }
        Ok(Status::Completed)
    }

    /// The epoch's remaining steps.
    fn steps<B: Backend>(
        &mut self,
        run: &mut Run<B>,
        epoch: usize,
        clock: &mut Clock,
        panic_at: Option<usize>,
    ) -> Result<Steps, Error> {
        let spe = run.steps_per_epoch();
        let first = run.progress.steps_in_epoch;
        let every = (spe / self.cfg.step_events_per_epoch.max(1)).max(1);
        let plan = std::sync::Arc::clone(&run.plan);
        for (i, batch) in plan.prefetch(epoch, first).enumerate() {
            let step = first + i;
            let global = epoch * spe + step;
            if panic_at == Some(global) {
                panic!("{PANIC_AT_STEP} asked for a panic at step {global}");
            }
            let (stats, lr) = self.step(run, epoch, step, &batch)?;
            run.progress.tally.add(&stats, batch.size);
            run.progress.steps_in_epoch = step + 1;
            clock.steps += 1;
            clock.window_samples += batch.size;
            let mut row = BTreeMap::from([(
                Metric::Of(Stage::Train, Quantity::Loss).name().to_string(),
                stats.loss as f64,
            )]);
            if stats.count > 0 {
                let name = Metric::Of(Stage::Train, Quantity::Accuracy).name();
                row.insert(name.into(), accuracy(&stats));
            }
            run.dir.row(Row::Step, epoch, global, &row).map_err(io)?;
            if (step + 1).is_multiple_of(every) || step + 1 == spe {
                self.step_event(run, epoch, step, &stats, lr, clock);
            }
            if let Some(st) = self.poll_commands(run)? {
                return Ok(Steps::Stopped(st));
            }
            let steps_done = run.progress.steps_done(spe);
            if self.cfg.stop_after_steps.is_some_and(|n| steps_done >= n) {
                self.save(run)?;
                return Ok(Steps::Stopped(Status::Stopped));
            }
        }
        Ok(Steps::Done)
    }

    /// One optimizer step; a non-finite loss or gradient ends the run.
    fn step<B: Backend>(
        &mut self,
        run: &mut Run<B>,
        epoch: usize,
        step: usize,
        batch: &Batch,
    ) -> Result<(BatchStats, f64), Error> {
        let g = &self.cfg.graph;
        let train = &g.experiment.train;
        let spe = run.steps_per_epoch();
        let global = epoch * spe + step;
        let lr = learning_rate(train, epoch as f64 + step as f64 / spe as f64);
        let teacher_logits = run
            .teacher
            .as_ref()
            .map(|(t, ..)| t.forward(&batch.inputs, batch.size, Pass::Eval))
            .transpose()?;
        let objective = match (&run.teacher, &teacher_logits) {
            (Some((_, temperature, alpha)), Some(logits)) => Objective::Distill {
                teacher: &logits.buf,
                temperature: *temperature,
                alpha: *alpha,
            },
            _ => Objective::Loss(g.loss),
        };
        let seed = seeds::step(train.seed, seeds::TRAIN_STEP, global as u64);
        match train_step(&mut run.net, &mut run.opt, batch, objective, seed, lr) {
            Ok(stats) => Ok((stats, lr)),
            Err(StepError::Diverged(what)) => Err(self.diverged(run, epoch, step, what)),
            Err(StepError::Device(e)) => Err(Error::Device(e)),
        }
    }

    fn step_event<B: Backend>(
        &self,
        run: &Run<B>,
        epoch: usize,
        step: usize,
        stats: &BatchStats,
        lr: f64,
        clock: &mut Clock,
    ) {
        let spe = run.steps_per_epoch();
        let epochs = self.cfg.graph.experiment.train.epochs;
        let secs = clock.window_start.elapsed().as_secs_f64().max(1e-9);
        let per_step = clock.started.elapsed().as_secs_f64() / clock.steps.max(1) as f64;
        let remaining = (epochs - epoch) * spe - step - 1;
        self.send(Event::Step {
            epoch,
            step,
            global_step: epoch * spe + step,
            loss: stats.loss as f64,
            accuracy: (stats.count > 0).then(|| accuracy(stats)),
            lr,
            samples_per_s: clock.window_samples as f64 / secs,
            eta_s: per_step * remaining as f64,
        });
        (clock.window_start, clock.window_samples) = (Instant::now(), 0);
    }

    /// The epoch's figures, events and checkpoint; true when early
    /// stopping ends the run here.
    fn end_epoch<B: Backend>(
        &mut self,
        run: &mut Run<B>,
        epoch: usize,
        began: Instant,
    ) -> Result<bool, Error> {
        let g = &self.cfg.graph;
        let train = &g.experiment.train;
        let spe = run.steps_per_epoch();
        let mut metrics = Metrics::new();
        std::mem::take(&mut run.progress.tally).into_metrics(
            Stage::Train,
            run.is_text,
            &mut metrics,
        );
        if run.data.val.is_some() {
            evaluate(
                &run.net,
                &run.data,
                Which::Val,
                g,
                self.cfg.limit_batches,
                Precision::Float,
            )?
            .into_metrics(Stage::Val, run.is_text, &mut metrics);
        }
        run.dir
            .row(Row::Epoch, epoch, (epoch + 1) * spe, &metrics)
            .map_err(io)?;
        run.dir.flush().map_err(io)?;
        self.send(Event::Epoch {
            epoch,
            global_step: (epoch + 1) * spe,
            lr: learning_rate(train, epoch as f64 + (spe - 1) as f64 / spe as f64),
            metrics: metrics.clone(),
            seconds: began.elapsed().as_secs_f64(),
        });
        let weights = run.net.params.all_host()?;
        let trainable: Vec<(&str, &[f32])> = run
            .net
            .params
            .list
            .iter()
            .zip(&weights)
            .filter(|(p, _)| p.trainable)
            .map(|(p, w)| (p.name.as_str(), w.as_slice()))
            .collect();
        run.dir
            .histograms((epoch + 1) * spe, trainable.iter().copied())
            .map_err(io)?;
        run.dir.flush().map_err(io)?;
        self.send(Event::Histograms {
            epoch,
            global_step: (epoch + 1) * spe,
            params: trainable
                .iter()
                .map(|(name, w)| histogram::of(name, w))
                .collect(),
        });
        self.sample_text(run, epoch)?;
        run.progress.epochs_done = epoch + 1;
        run.progress.steps_in_epoch = 0;
        let stop = self.early_stop(run, epoch, &metrics)?;
        if let Some(rec) = &mut self.record {
            rec.epochs_run = epoch + 1;
            rec.metrics = metrics;
            run.dir.write_record(rec).map_err(io)?;
        }
        self.save(run)?;
        Ok(stop)
    }

    fn sample_text<B: Backend>(&self, run: &Run<B>, epoch: usize) -> Result<(), Error> {
        let g = &self.cfg.graph;
        let (Some(s), Some(vocab)) = (&g.experiment.sample, &run.data.vocab) else {
            return Ok(());
        };
        if !(epoch + 1).is_multiple_of(s.every) {
            return Ok(());
        }
        let seed = seeds::step(g.experiment.train.seed, seeds::SAMPLE, epoch as u64);
        let mut rng = crate::params::rng(seed, 0);
        let window = g.facts.input.dims()[0];
        let text = sample::generate(
            &run.net,
            vocab,
            window,
            &s.prompt,
            s.length,
            s.temperature,
            &mut rng,
        )?;
        self.send(Event::Sample {
            epoch,
            text: format!("{}{}", s.prompt, text),
        });
        Ok(())
    }

    /// Writes the run's whole state to its checkpoint.
    pub(super) fn save<B: Backend>(&self, run: &mut Run<B>) -> Result<(), Error> {
        let ck = run.progress.checkpoint(&run.net, &mut run.opt)?;
        ck.save(&run.dir.checkpoint_path())
            .map_err(Error::Checkpoint)
    }

    fn diverged<B: Backend>(&self, run: &Run<B>, epoch: usize, step: usize, what: String) -> Error {
        Error::Diverged(format!(
                "training diverged at epoch {}, step {}: {what}; the last checkpoint, saved before the loss became non-finite, is {} (its weights are finite but may already be far off: try a lower learning rate or `clip_grad`)",
                epoch + 1,
                step + 1,
                run.dir.checkpoint_path().display()
            ),
        )
    }
}

fn accuracy(s: &BatchStats) -> f64 {
    s.correct as f64 / s.count as f64
}
