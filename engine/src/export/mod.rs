//! A trained model in the formats other tools read: ONNX.

mod builder;
pub(crate) mod onnx;
mod recurrent;

use std::path::Path;

use dlwb_dsl::Graph;

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
    let data = crate::data::load(&g.experiment.data, req.base, g.experiment.train.seed)?;
    // Int8 weights export as their float values.
    let (net, _) = crate::trained::trained(g, req.weights)?;
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
