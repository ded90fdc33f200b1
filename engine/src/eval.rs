//! `dlwb eval`: a trained model evaluated on a split of its data. The run's
//! own graph (its `experiment.net`, checked), its weights from a checkpoint
//! or a compressed model file, the same data with the same seed (so the
//! same held-out samples), the evaluation a run's test pass uses: on the
//! split a run was tested on, with its threads, the figures are its
//! `run.yaml`'s, bit for bit.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dlwb_dsl::metric::Stage;
use dlwb_dsl::Graph;
use safetensors::tensor::Dtype;

use crate::backend::cpu::Cpu;
use crate::compress::{Int8Weights, QuantWeight};
use crate::data::{self, Which};
use crate::network::{compile_on, Precision};
use crate::params::{Fit, LoadError, Tensors};
use crate::run::tally::evaluate;
use crate::run::{Error, Metrics};

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

/// A model file's tensors: floats by name, and int8 weights (with their
/// `.scale` rows) as the compressed model stores them.
pub(crate) struct ModelFile {
    floats: Vec<(String, Vec<usize>, Vec<f32>)>,
    int8: Vec<(String, QuantWeight)>,
}

impl Tensors for ModelFile {
    fn tensor(&self, name: &str) -> Option<(&[usize], &[f32])> {
        self.floats
            .iter()
            .find(|(n, ..)| n == name)
            .map(|(_, s, d)| (s.as_slice(), d.as_slice()))
    }
}

pub(crate) fn read_model(path: &Path) -> Result<ModelFile, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| format!("{} is not a safetensors file ({e})", path.display()))?;
    let mut file = ModelFile {
        floats: Vec::new(),
        int8: Vec::new(),
    };
    for (name, view) in st.tensors() {
        let shape = view.shape().to_vec();
        match view.dtype() {
            Dtype::F32 => {
                let data = view
                    .data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("four bytes")))
                    .collect();
                file.floats.push((name, shape, data));
            }
            Dtype::I8 => {
                let scale = st.tensor(&format!("{name}.scale")).map_err(|_| {
                    format!("{}: int8 tensor {name} has no {name}.scale", path.display())
                })?;
                let scales: Vec<f32> = scale
                    .data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("four bytes")))
                    .collect();
                let q: Vec<i8> = view.data().iter().map(|b| *b as i8).collect();
                let rows = shape.first().copied().unwrap_or(1);
                let w = QuantWeight {
                    cols: q.len() / rows.max(1),
                    q,
                    scales,
                    rows,
                };
                // Its float form too, so the parameter list is whole.
                file.floats.push((name.clone(), shape, w.dequantize()));
                file.int8.push((name, w));
            }
            other => {
                return Err(format!(
                    "{}: tensor {name} is {other:?}; dlwb reads F32 and int8",
                    path.display()
                ))
            }
        }
    }
    Ok(file)
}

/// Evaluates the weights of `req` on its split.
pub fn run(req: &EvalRequest<'_>) -> Result<EvalReport, Error> {
    if let Some(t) = req.threads {
        crate::kernels::matmul::set_threads(t);
    }
    let g = req.graph;
    let seed = g.experiment.train.seed;
    let data = data::load(&g.experiment.data, req.base, seed)?;
    let file = read_model(req.weights).map_err(Error::Refused)?;
    let mut net = compile_on(Arc::new(Cpu::default()), g, seed)?;
    net.params.load(&file, Fit::Every).map_err(|e| match e {
        LoadError::Unmatched(u) => Error::Refused(format!(
            "{} has no tensor {u}: it holds another model's weights",
            req.weights.display()
        )),
        LoadError::Backend(e) => Error::Device(e),
    })?;
    let int8: Int8Weights = file
        .int8
        .into_iter()
        .filter_map(|(name, w)| net.params.index(&name).map(|i| (i, w)))
        .collect();
    let precision = if int8.is_empty() {
        Precision::Float
    } else {
        Precision::Int8(&int8)
    };
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
