//! Making a trained model smaller: magnitude pruning with masks held
//! through fine-tuning, int8 weights evaluated through integer products,
//! and distillation from a teacher. `run/compression.rs` applies them after
//! training and reports what each cost.

pub mod cluster;
pub mod model_file;
pub mod prune;
pub mod sparse;
pub mod stored;

use std::collections::HashMap;

use serde::Serialize;

pub use crate::kernels::int8::QuantWeight;
pub use cluster::Codebooks;
pub use prune::Masks;

/// Int8 versions of weights, by parameter index.
pub type Int8Weights = HashMap<usize, QuantWeight>;

/// The parameters `covered` as int8, one scale per output channel: what
/// `quantize int8` stores and evaluates.
pub fn int8_weights<B: crate::backend::Backend>(
    params: &crate::params::Params<B>,
    covered: &[usize],
) -> crate::backend::Result<Int8Weights> {
    covered
        .iter()
        .map(|&i| {
            let rows = params.list[i].shape[0];
            Ok((i, QuantWeight::quantize(&params.host(i)?, rows)))
        })
        .collect()
}

/// Sparse versions of pruned dense weights, by parameter index.
pub type SparseWeights = HashMap<usize, crate::kernels::sparse::Csr>;

/// A model's figures at one point of compression.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub params: usize,
    pub nonzero: usize,
    /// Size of the saved model in bytes.
    pub bytes: usize,
    pub accuracy: Option<f64>,
    pub samples_per_s: f64,
    /// The product kernel inference ran on (`f32 avx512`, `int8 avx512-vnni`).
    pub kernel: String,
}

/// One compression step and what it changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub step: String,
    pub before: Figures,
    pub after: Figures,
}
