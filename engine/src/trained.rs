//! A trained model read back from its files: the run's graph compiled,
//! and its weights from a checkpoint or a compressed model
//! (`model.int8.safetensors` holds int8 tensors with a `.scale` per row).
//! What `eval`, `export` and `predict` start from.

use std::path::Path;
use std::sync::Arc;

use dlwb_dsl::Graph;

use crate::backend::cpu::Cpu;
use crate::compress::model_file::read_model;
use crate::compress::Int8Weights;
use crate::network::{compile_on, Network};
use crate::params::{Fit, LoadError};
use crate::run::Error;

/// `g` on the CPU with the weights of `path`, and its int8 weights (none
/// for a float checkpoint), or why they do not fit.
pub(crate) fn trained(g: &Graph, path: &Path) -> Result<(Network, Int8Weights), Error> {
    let file = read_model(path).map_err(Error::Refused)?;
    let mut net = compile_on(Arc::new(Cpu::default()), g, g.experiment.train.seed)?;
    net.params.load(&file, Fit::Every).map_err(|e| match e {
        LoadError::Unmatched(u) => Error::Refused(format!(
            "{} has no tensor {u}: it holds another model's weights",
            path.display()
        )),
        LoadError::Backend(e) => Error::Device(e),
    })?;
    let int8 = file
        .int8
        .into_iter()
        .filter_map(|(name, w)| net.params.index(&name).map(|i| (i, w)))
        .collect();
    Ok((net, int8))
}
