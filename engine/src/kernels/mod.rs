//! Host kernels on contiguous `f32` slices: the arithmetic of every layer,
//! forward and backward. Layers wrap them as dfdx backward ops.

pub mod activation;
pub mod conv;
pub mod fastmath;
pub mod matmul;
mod packed;
mod parts;
pub mod pool;
pub mod recurrent;
pub mod reduce;

pub use matmul::matmul;
