//! Tests of the engine's internals — layers, losses and optimizers against
//! finite differences and PyTorch, compression's building blocks — which
//! the crate keeps to itself. Tests of what the crate offers (data, runs)
//! are in `engine/tests/`.

mod compression;
#[cfg(feature = "cuda")]
mod cuda_parity;
mod gradients;
mod onnx;
mod torch_fixtures;

/// A CPU parameter's values read and written directly, as the tests
/// perturb and compare them.
impl crate::params::Param<crate::backend::cpu::Cpu> {
    pub fn host(&self) -> Vec<f32> {
        self.buf.to_vec()
    }

    pub fn set(&mut self, data: &[f32]) {
        std::sync::Arc::make_mut(&mut self.buf).copy_from_slice(data);
    }
}
