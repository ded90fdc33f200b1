//! A trained model in the formats other tools read: ONNX.

mod builder;
pub(crate) mod onnx;
mod recurrent;

use std::path::Path;
use std::sync::Arc;

use dlwb_dsl::Graph;

use crate::backend::cpu::Cpu;
use crate::network::compile_on;
use crate::params::{Fit, LoadError};
use crate::run::Error;

/// What to export.
pub struct ExportRequest<'a> {
    /// The run's graph, checked against its data.
    pub graph: &'a Graph,
    /// The folder the data paths are relative to: the data's normalization
    /// becomes the model's first operation.
    pub base: &'a Path,
    /// A checkpoint, or a compressed `model.*.safetensors`.
    pub weights: &'a Path,
}

/// The ONNX model of `req`'s graph and weights, as bytes.
pub fn onnx(req: &ExportRequest<'_>) -> Result<Vec<u8>, Error> {
    let g = req.graph;
    let seed = g.experiment.train.seed;
    let data = crate::data::load(&g.experiment.data, req.base, seed)?;
    let file = crate::eval::read_model(req.weights).map_err(Error::Refused)?;
    let mut net = compile_on(Arc::new(Cpu::default()), g, seed)?;
    net.params.load(&file, Fit::Every).map_err(|e| match e {
        LoadError::Unmatched(u) => Error::Refused(format!(
            "{} has no tensor {u}: it holds another model's weights",
            req.weights.display()
        )),
        LoadError::Backend(e) => Error::Device(e),
    })?;
    let host = net.params.all_host()?;
    let weights = |name: &str| -> Vec<f32> {
        let i = net
            .params
            .index(name)
            .unwrap_or_else(|| panic!("the checker declares {name}"));
        host[i].clone()
    };
    let normalize = data.normalize.as_ref().map(|n| onnx::Normalize {
        mean: &n.mean,
        std: &n.std,
    });
    onnx::model(g, &weights, normalize).map_err(Error::Refused)
}
