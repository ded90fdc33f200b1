//! Host kernels on contiguous `f32` slices: the arithmetic of every layer,
//! forward and backward. The CPU backend (`backend/cpu/`) is built on them.

pub mod activation;
pub mod conv;
pub mod fastmath;
pub mod int8;
#[cfg(target_arch = "x86_64")]
mod lanes;
pub(crate) mod loss;
pub mod matmul;
pub(crate) mod norm;
mod packed;
pub(crate) mod parts;
pub mod pool;
pub mod recurrent;
pub mod reduce;
pub mod scratch;
pub mod sparse;
pub mod workers;

pub use matmul::matmul;
