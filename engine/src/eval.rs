//! `dlwb eval`: a trained model evaluated on a split of its data. The run's
//! own graph (its `experiment.net`, checked), its weights from a checkpoint
//! or a compressed model file, the same data with the same seed (so the
//! same held-out samples), the evaluation a run's test pass uses: on the
//! split a run was tested on, with its threads, the figures are its
//! `run.yaml`'s, bit for bit.

use std::path::{Path, PathBuf};

use dlwb_dsl::metric::Stage;
use dlwb_dsl::Graph;

use crate::data::{self, Which};
use crate::network::Precision;
use crate::run::tally::evaluate;
use crate::run::{Error, Metrics};
use crate::trained::trained;

/// What to evaluate.
pub struct EvalRequest<'a> {
    /// The run's graph, checked against its data.
    pub graph: &'a Graph,
    /// The folder the data paths are relative to (the run's `.net` file's).
    pub base: &'a Path,
    /// A checkpoint, or a compressed `model.*.safetensors`.
    pub weights: &'a Path,
    pub split: Which,
    pub threads: Option<usize>,
    /// Batches at most, as the run's `--limit-batches`.
    pub limit_batches: Option<usize>,
}

/// The split's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    pub metrics: Metrics,
    pub samples: usize,
    pub weights: PathBuf,
}

/// Evaluates the weights of `req` on its split.
pub fn run(req: &EvalRequest<'_>) -> Result<EvalReport, Error> {
    if let Some(t) = req.threads {
        crate::kernels::matmul::set_threads(t);
    }
    let g = req.graph;
    let seed = g.experiment.train.seed;
    let data = data::load(&g.experiment.data, req.base, seed)?;
    let (net, int8) = trained(g, req.weights)?;
    let precision = Precision::of(&int8);
    let stage = match req.split {
        Which::Train => Stage::Train,
        Which::Val => Stage::Val,
        Which::Test => Stage::Test,
    };
    let is_text = g.experiment.data.source == dlwb_dsl::experiment::SourceKind::Text;
    let t = evaluate(&net, &data, req.split, g, req.limit_batches, precision)?;
    if t.samples == 0 {
        return Err(Error::Refused(format!(
            "the data has no {} split to evaluate on",
            match req.split {
                Which::Train => "train",
                Which::Val => "validation",
                Which::Test => "test",
            }
        )));
    }
    let samples = t.samples;
    let mut metrics = Metrics::new();
    t.into_metrics(stage, is_text, &mut metrics);
    Ok(EvalReport {
        metrics,
        samples,
        weights: req.weights.to_path_buf(),
    })
}
