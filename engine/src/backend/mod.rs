//! The boundary between the engine and the device it computes on.
//!
//! Layers, losses and optimizers are written against [`Backend`]: device
//! buffers of `f32` ([`Storage`]) and the kernels each layer needs,
//! forward and backward, grouped by family in [`ops`]. The tape
//! (`crate::autograd`) is the engine's own and works for any backend: it
//! holds backward closures and gradients keyed by value, as backend
//! buffers. Parameters live on the backend between steps; only what a
//! front end needs (the loss, accuracy counts, histograms, checkpoints)
//! is downloaded.
//!
//! `cpu/` is the host's backend: host buffers, the host kernels of
//! `crate::kernels`, and dfdx's SGD and Adam update kernels. `cuda/` is
//! the GPU's, on cudarc: device buffers, cuBLAS and NVRTC kernels. Nothing
//! above this boundary knows which one it runs on.

pub(crate) mod cpu;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;
pub(crate) mod ops;

pub(crate) use ops::{
    ActivationOps, ConvOps, LinearOps, LossOps, NormOps, PoolOps, SequenceOps, UpdateOps,
};

/// What can go wrong on a device: the CPU backend fails only when memory
/// runs out; a GPU also when a launch or a copy fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("out of memory on the {device}")]
    OutOfMemory { device: &'static str },
    #[error("the {device} failed: {why}")]
    Device { device: &'static str, why: String },
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

/// Device memory: flat buffers of `f32`, moved to and from the host only
/// where a figure or a file needs them.
pub(crate) trait Storage: Send + Sync + 'static {
    /// A flat buffer on the device. Cloning shares it (cheap); writing to
    /// a shared buffer copies it first, so a clone kept by a backward
    /// closure never sees later writes.
    type Buf: Clone + Send + Sync + 'static;

    /// The device's name in run records and `--device`: `cpu`.
    const DEVICE: &'static str;

    /// The device as run records and headers name it: `cpu`, or
    /// `cuda:0 (NVIDIA H200, 140 GiB)`.
    fn describe(&self) -> String {
        Self::DEVICE.to_string()
    }

    fn upload(&self, data: Vec<f32>) -> Result<Self::Buf>;
    /// [`Storage::upload`] of borrowed data: a batch's inputs, which a
    /// device copies without the host copy an owned buffer would take.
    fn upload_slice(&self, data: &[f32]) -> Result<Self::Buf> {
        self.upload(data.to_vec())
    }
    /// [`Storage::upload`] of shared data: the host backend shares it.
    fn upload_shared(&self, data: &std::sync::Arc<Vec<f32>>) -> Result<Self::Buf> {
        self.upload_slice(data)
    }
    fn download(&self, b: &Self::Buf) -> Result<Vec<f32>>;
    fn zeros(&self, len: usize) -> Result<Self::Buf>;
    /// Takes back a buffer nothing will read again (a step's gradients,
    /// once applied), for [`Storage::zeros`] to hand out again. The host
    /// backend keeps large ones: memory a thread has written stays in its
    /// caches, where fresh memory from the allocator cost a VM's 2-thread
    /// MLP step a sixth of its time to zero.
    fn recycle(&self, _b: Self::Buf) {}
    /// `len` values for the caller to overwrite before anything reads
    /// them: a recycled buffer as it was left, where there is one.
    fn overwritable(&self, len: usize) -> Result<Self::Buf> {
        self.zeros(len)
    }
    fn len(&self, b: &Self::Buf) -> usize;
    /// Overwrites `b` with `data` (same length).
    fn write(&self, b: &mut Self::Buf, data: &[f32]) -> Result<()>;
    /// `into += g`: gradients reaching one value along two paths.
    fn add_assign(&self, into: &mut Self::Buf, g: &Self::Buf) -> Result<()>;
    /// `a + b`, elementwise.
    fn add(&self, a: &Self::Buf, b: &Self::Buf) -> Result<Self::Buf>;
    /// `a * b`, elementwise (dropout's mask).
    fn mul(&self, a: &Self::Buf, b: &Self::Buf) -> Result<Self::Buf>;
    fn scale(&self, a: &mut Self::Buf, by: f32) -> Result<()>;
    fn sum_of_squares(&self, a: &Self::Buf) -> Result<f64>;
}

/// Every kernel family a network, its loss and its optimizer need.
pub(crate) trait Backend:
    Storage
    + LinearOps
    + ActivationOps
    + ConvOps
    + PoolOps
    + NormOps
    + SequenceOps
    + LossOps
    + UpdateOps
{
}

impl<B> Backend for B where
    B: Storage
        + LinearOps
        + ActivationOps
        + ConvOps
        + PoolOps
        + NormOps
        + SequenceOps
        + LossOps
        + UpdateOps
{
}
