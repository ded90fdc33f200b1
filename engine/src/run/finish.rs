//! A run's last stage: the test split, the `compress` section, each
//! `expect` judged, and the record closed.

use crate::backend::Backend;
use dlwb_dsl::experiment::Expectation;
use dlwb_dsl::metric::Stage;

use super::events::{Event, ExpectResult, Metrics, Status};
use super::record::{self, Row, RunStatus};
use super::setup::{io, Run};
use super::tally::evaluate;
use super::{compression, Error, Worker};
use crate::data::Which;
use crate::network::Precision;

impl Worker<'_> {
    pub(super) fn finish<B: Backend>(
        &mut self,
        run: &mut Run<B>,
        status: Status,
    ) -> Result<(), Error> {
        let g = &self.cfg.graph;
        let exp = &g.experiment;
        let mut metrics = self
            .record
            .as_ref()
            .map(|r| r.metrics.clone())
            .unwrap_or_default();
        let completed = status == Status::Completed;
        if run.data.test.is_some() && completed {
            evaluate(
                &run.net,
                &run.data,
                Which::Test,
                g,
                self.cfg.limit_batches,
                Precision::Float,
            )?
            .into_metrics(Stage::Test, run.is_text, &mut metrics);
        }
        let mut reports = Vec::new();
        if let (Some(spec), true) = (&exp.compress, completed) {
            if spec.prune.is_some() || spec.quantize_int8 {
                let out = compression::compress(
                    spec,
                    compression::Subject {
                        net: &mut run.net,
                        opt: &mut run.opt,
                        data: &run.data,
                        graph: g,
                        dir: &run.dir.path,
                        limit: self.cfg.limit_batches,
                    },
                )?;
                for message in out.log {
                    self.send(Event::Log { message });
                }
                metrics.extend(out.metrics);
                reports = out.reports;
                self.send(Event::Compression {
                    reports: reports.clone(),
                });
            }
        }
        let expect = judge(&exp.expect, &metrics, &self.cfg.source);
        let spe = run.steps_per_epoch();
        let epochs_run = run.progress.epochs_done;
        if let Some(rec) = &mut self.record {
            rec.finished = Some(record::now());
            rec.status = match status {
                Status::Completed => RunStatus::Completed,
                Status::Stopped => RunStatus::Stopped,
                Status::Interrupted => RunStatus::Interrupted,
            };
            rec.metrics = metrics.clone();
            rec.expect = expect.clone();
            rec.compression = reports;
            run.dir.write_record(rec).map_err(io)?;
        }
        if completed {
            // Final rows only for a run that ended: a stopped one resumes,
            // and its metrics.csv must read as the uninterrupted run's.
            run.dir
                .row(Row::Final, epochs_run, epochs_run * spe, &metrics)
                .map_err(io)?;
        }
        run.dir.flush().map_err(io)?;
        self.send(Event::Finished {
            status,
            metrics,
            expect,
            run_dir: run.dir.path.clone(),
        });
        Ok(())
    }
}

/// Each `expect` line against the final metrics.
pub fn judge(expect: &[Expectation], metrics: &Metrics, source: &str) -> Vec<ExpectResult> {
    expect
        .iter()
        .map(|e| {
            let value = metrics.get(&e.metric).copied();
            ExpectResult {
                expect: e.text(),
                metric: e.metric.clone(),
                value,
                met: value.is_some_and(|v| e.op.holds(v, e.value)),
                line: dlwb_dsl::diagnostic::line_col(source, e.span.start).0,
            }
        })
        .collect()
}
