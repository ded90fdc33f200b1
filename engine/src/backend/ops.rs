//! The kernel families a backend provides, forward and backward. Shapes
//! are plain numbers (the layers know them from the graph); buffers are
//! flat, row-major, batch first. Backward kernels that produce parameter
//! gradients add into the buffer they are given, so a parameter used by
//! several layers (or steps) sums every contribution.

use dlwb_dsl::experiment::{Activation, Cell, Loss, OptimizerSpec};

use super::{Result, Storage};
use crate::data::Targets;
use crate::kernels::conv::Geometry;
use crate::kernels::int8::QuantWeight;
use crate::kernels::matmul::Out;
use crate::kernels::recurrent::Dims;
use crate::kernels::sparse::Csr;

/// A matrix operand of [`LinearOps::matmul`]: a buffer, used transposed
/// or not (a transposed `[m, k]` operand is stored as `[k, m]`).
pub(crate) struct Operand<'a, B: Storage> {
    pub buf: &'a B::Buf,
    pub transposed: bool,
}

impl<'a, B: Storage> Operand<'a, B> {
    pub fn plain(buf: &'a B::Buf) -> Self {
        Operand {
            buf,
            transposed: false,
        }
    }

    pub fn transposed(buf: &'a B::Buf) -> Self {
        Operand {
            buf,
            transposed: true,
        }
    }
}

/// The sizes of `c[m, n] = a[m, k] · b[k, n]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mnk {
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

/// Matrix products, and the bias terms beside them.
pub(crate) trait LinearOps: Storage {
    /// A weight matrix made ready to be the right-hand side of many
    /// products (packed, on the CPU).
    type Prepared: Send + Sync + 'static;

    /// `wᵀ` of `w` (`rows x cols`), prepared.
    fn prepare_transposed(&self, w: &Self::Buf, rows: usize, cols: usize)
        -> Result<Self::Prepared>;
    /// `x[rows, k] · w`, with `w` prepared.
    fn product(&self, x: &Self::Buf, rows: usize, w: &Self::Prepared) -> Result<Self::Buf>;
    /// `c (+)= a · b`.
    fn matmul(
        &self,
        c: &mut Self::Buf,
        a: Operand<'_, Self>,
        b: Operand<'_, Self>,
        dims: Mnk,
        out: Out,
    ) -> Result<()>
    where
        Self: Sized;
    /// `a · b` in a new buffer (a backend may skip zeroing it first).
    fn matmul_new(&self, a: Operand<'_, Self>, b: Operand<'_, Self>, dims: Mnk) -> Result<Self::Buf>
    where
        Self: Sized,
    {
        let mut c = self.zeros(dims.m * dims.n)?;
        self.matmul(&mut c, a, b, dims, Out::Overwrite)?;
        Ok(c)
    }
    /// Adds `bias` to every row of `y` (rows of `bias`'s length).
    fn add_bias(&self, y: &mut Self::Buf, bias: &Self::Buf) -> Result<()>;
    /// Adds the column sums of `g` (rows of `into`'s length) into `into`:
    /// a bias's gradient.
    fn add_column_sums(&self, into: &mut Self::Buf, g: &Self::Buf) -> Result<()>;
    /// `x[rows, k] · wᵀ` through integer products.
    fn product_int8(&self, x: &Self::Buf, rows: usize, w: &QuantWeight) -> Result<Self::Buf>;
    /// `x[rows, k] · wᵀ` over a pruned `w`'s non-zero weights.
    fn product_sparse(&self, x: &Self::Buf, rows: usize, w: &Csr) -> Result<Self::Buf>;
}

/// What an activation's backward needs from its forward.
pub(crate) struct Activated<B: Storage> {
    pub activation: Activation,
    /// The input, where the derivative needs it (GELU).
    pub pre: Option<B::Buf>,
    pub out: B::Buf,
}

pub(crate) trait ActivationOps: Storage {
    /// Applies `a` in place over rows of `width` (softmax needs rows).
    fn activate(&self, a: Activation, y: &mut Self::Buf, width: usize) -> Result<()>;
    /// Turns `g`, the gradient of the output, into that of the input.
    fn activate_backward(
        &self,
        g: &mut Self::Buf,
        saved: &Activated<Self>,
        width: usize,
    ) -> Result<()>
    where
        Self: Sized;
}

/// The batch and window of a convolution or pooling.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub batch: usize,
    pub geom: Geometry,
}

/// Where a convolution's backward writes.
pub(crate) struct ConvGrads<'a, B: Storage> {
    pub weight: &'a mut B::Buf,
    pub bias: &'a mut B::Buf,
    /// The input's gradient, when something upstream wants it.
    pub input: Option<&'a mut B::Buf>,
}

pub(crate) trait ConvOps: Storage {
    /// `[B, C, H, W]` to `[B, filters, Ho, Wo]`.
    fn conv(
        &self,
        x: &Self::Buf,
        w: &Self::Buf,
        b: &Self::Buf,
        filters: usize,
        at: Window,
    ) -> Result<Self::Buf>;
    /// The convolution through int8 weights, and the part of the layer's
    /// activation it did not apply on the way out (ReLU it applies).
    fn conv_int8(
        &self,
        x: &Self::Buf,
        w: &QuantWeight,
        b: &Self::Buf,
        shape: (usize, Window),
        act: Option<Activation>,
    ) -> Result<(Self::Buf, Option<Activation>)>;
    /// [`ConvOps::conv_int8`] and the 2x2, stride-2 max pool after it in
    /// one pass: `[B, N, Ho / 2, Wo / 2]`, or `None` where this backend has
    /// no such kernel for the layer (the two then run apart).
    fn conv_int8_pooled(
        &self,
        x: &Self::Buf,
        w: &QuantWeight,
        b: &Self::Buf,
        shape: (usize, Window),
        act: Option<Activation>,
    ) -> Result<Option<Self::Buf>> {
        let _ = (x, w, b, shape, act);
        Ok(None)
    }
    fn conv_backward(
        &self,
        gy: &Self::Buf,
        x: &Self::Buf,
        w: &Self::Buf,
        grads: ConvGrads<'_, Self>,
        filters: usize,
        at: Window,
    ) -> Result<()>
    where
        Self: Sized;
}

pub(crate) trait PoolOps: Storage {
    /// Which input each max came from.
    type Argmax: Send + Sync + 'static;
    fn max_pool(&self, x: &Self::Buf, at: Window) -> Result<(Self::Buf, Self::Argmax)>;
    /// [`PoolOps::max_pool`]'s values alone, for a pass that records no
    /// gradient.
    fn max_pool_values(&self, x: &Self::Buf, at: Window) -> Result<Self::Buf> {
        Ok(self.max_pool(x, at)?.0)
    }
    fn max_pool_backward(
        &self,
        gy: &Self::Buf,
        arg: &Self::Argmax,
        at: Window,
        in_len: usize,
    ) -> Result<Self::Buf>;
    fn avg_pool(&self, x: &Self::Buf, at: Window) -> Result<Self::Buf>;
    fn avg_pool_backward(&self, gy: &Self::Buf, at: Window, in_len: usize) -> Result<Self::Buf>;
}

/// How a normalization groups its input: element `i` belongs to channel
/// `(i / inner) % channels`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Channels {
    pub channels: usize,
    pub inner: usize,
}

/// A normalized batch and what its backward needs.
pub(crate) struct Normalized<B: Storage> {
    pub y: B::Buf,
    pub saved: NormSaved<B>,
}

pub(crate) struct NormSaved<B: Storage> {
    pub xhat: B::Buf,
    /// `1 / sqrt(var + eps)` per channel (batch norm) or per row (layer norm).
    pub inv: B::Buf,
}

/// Where a normalization's backward writes.
pub(crate) struct NormGrads<'a, B: Storage> {
    pub weight: &'a mut B::Buf,
    pub bias: &'a mut B::Buf,
}

/// The per-channel statistics a batch norm normalizes with.
pub(crate) struct Moments<B: Storage> {
    pub mean: B::Buf,
    pub var: B::Buf,
}

pub(crate) trait NormOps: Storage {
    /// The batch's mean and (biased) variance per channel.
    fn moments(&self, x: &Self::Buf, c: Channels) -> Result<Moments<Self>>
    where
        Self: Sized;
    /// `(1 - momentum) * running + momentum * scale * batch`.
    fn running_update(
        &self,
        running: &Self::Buf,
        batch: &Self::Buf,
        momentum: f32,
        scale: f64,
    ) -> Result<Self::Buf>;
    /// `(x - mean) / sqrt(var + eps) * gamma + beta` per channel.
    #[allow(clippy::too_many_arguments)]
    fn batch_norm(
        &self,
        x: &Self::Buf,
        stats: &Moments<Self>,
        gamma: &Self::Buf,
        beta: &Self::Buf,
        eps: f32,
        c: Channels,
    ) -> Result<Normalized<Self>>
    where
        Self: Sized;
    /// Adds the weight and bias gradients; returns the input's when
    /// `want_dx` (through the batch statistics when `train`).
    #[allow(clippy::too_many_arguments)]
    fn batch_norm_backward(
        &self,
        gy: &Self::Buf,
        saved: &NormSaved<Self>,
        gamma: &Self::Buf,
        c: Channels,
        train: bool,
        grads: NormGrads<'_, Self>,
        want_dx: bool,
    ) -> Result<Option<Self::Buf>>
    where
        Self: Sized;
    /// Normalizes each row of `width`.
    fn layer_norm(
        &self,
        x: &Self::Buf,
        gamma: &Self::Buf,
        beta: &Self::Buf,
        eps: f32,
        width: usize,
    ) -> Result<Normalized<Self>>
    where
        Self: Sized;
    fn layer_norm_backward(
        &self,
        gy: &Self::Buf,
        saved: &NormSaved<Self>,
        gamma: &Self::Buf,
        width: usize,
        grads: NormGrads<'_, Self>,
        want_dx: bool,
    ) -> Result<Option<Self::Buf>>
    where
        Self: Sized;
}

/// A recurrent layer's four tensors.
pub(crate) struct CellWeights<'a, B: Storage> {
    pub w_ih: &'a B::Buf,
    pub w_hh: &'a B::Buf,
    pub b_ih: &'a B::Buf,
    pub b_hh: &'a B::Buf,
}

/// A recurrent layer's weight matrices, prepared as right-hand sides.
pub(crate) struct CellPrepared<'a, B: LinearOps> {
    pub w_ih: &'a B::Prepared,
    pub w_hh: &'a B::Prepared,
}

/// Where a recurrent layer's backward adds its weight gradients.
pub(crate) struct CellGrads<'a, B: Storage> {
    pub w_ih: &'a mut B::Buf,
    pub w_hh: &'a mut B::Buf,
    pub b_ih: &'a mut B::Buf,
    pub b_hh: &'a mut B::Buf,
}

/// Token ids, embeddings, recurrent cells and steps of sequences.
pub(crate) trait SequenceOps: LinearOps {
    /// Token ids on the device.
    type Ids: Send + Sync + 'static;
    /// What a recurrent backward needs from its forward.
    type Saved: Send + Sync + 'static;

    fn upload_ids(&self, ids: &[u32]) -> Result<Self::Ids>;
    /// A row of `table` (rows of `dim`) per id.
    fn gather(&self, table: &Self::Buf, ids: &Self::Ids, dim: usize) -> Result<Self::Buf>;
    /// Adds each row of `gy` into the row of `table` its id names.
    fn scatter_add(
        &self,
        table: &mut Self::Buf,
        ids: &Self::Ids,
        gy: &Self::Buf,
        dim: usize,
    ) -> Result<()>;
    /// Every hidden state of `[B, T, F]` as `[B, T, H]`; what backward
    /// needs when `keep`.
    fn recurrent(
        &self,
        cell: Cell,
        d: Dims,
        x: &Self::Buf,
        w: &CellWeights<'_, Self>,
        wt: &CellPrepared<'_, Self>,
        keep: bool,
    ) -> Result<(Self::Buf, Option<Self::Saved>)>
    where
        Self: Sized;
    #[allow(clippy::too_many_arguments)]
    fn recurrent_backward(
        &self,
        cell: Cell,
        d: Dims,
        x: &Self::Buf,
        w: &CellWeights<'_, Self>,
        saved: &Self::Saved,
        gy: &Self::Buf,
        grads: CellGrads<'_, Self>,
        want_dx: bool,
    ) -> Result<Option<Self::Buf>>
    where
        Self: Sized;
    /// `[B, T, F]` to `[B, F]`: each sequence's final step.
    fn last_step(&self, x: &Self::Buf, batch: usize, steps: usize) -> Result<Self::Buf>;
    /// `[B, F]` back to `[B, T, F]`, zeros but at the final steps.
    fn last_step_backward(&self, gy: &Self::Buf, batch: usize, steps: usize) -> Result<Self::Buf>;
}

/// What a training step minimizes.
pub(crate) enum Objective<'a, B: Storage> {
    Loss(Loss),
    /// Hinton et al. 2015: `alpha * T² * KL(teacher_T || student_T)` plus
    /// `(1 - alpha)` times cross-entropy with the labels, against the
    /// teacher's outputs for the batch (on the device).
    Distill {
        teacher: &'a B::Buf,
        temperature: f64,
        alpha: f64,
    },
}

// Derived, they would ask `B: Copy`; only a reference is copied.
impl<B: Storage> Clone for Objective<'_, B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<B: Storage> Copy for Objective<'_, B> {}

/// A loss over a batch: its value, its gradient, and the accuracy counts.
pub(crate) struct LossValue<B: Storage> {
    pub value: f32,
    pub grad: B::Buf,
    /// Correct predictions, and how many were made (0 for regression).
    pub correct: usize,
    pub count: usize,
}

pub(crate) trait LossOps: Storage {
    fn loss(
        &self,
        objective: &Objective<'_, Self>,
        y: &Self::Buf,
        targets: &Targets,
    ) -> Result<LossValue<Self>>
    where
        Self: Sized;
}

/// One parameter's update: its optimizer, the step it is at, its rate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Update<'a> {
    pub rule: &'a OptimizerSpec,
    /// Updates taken so far, this one included (Adam counts from 1).
    pub step: i32,
    pub lr: f64,
}

pub(crate) trait UpdateOps: Storage {
    /// An optimizer's state for one parameter of `len` elements.
    type Slots: Send + 'static;

    fn slots(&self, len: usize) -> Result<Self::Slots>;
    /// The slots as two buffers of the parameter's length, for checkpoints.
    fn export_slots(&self, s: &Self::Slots) -> Result<[Vec<f32>; 2]>;
    fn import_slots(&self, s: &mut Self::Slots, values: [Option<Vec<f32>>; 2]) -> Result<()>;
    /// `g += l1 * sign(w) + 2 * l2 * w`.
    fn penalize(&self, g: &mut Self::Buf, w: &Self::Buf, l1: f64, l2: f64) -> Result<()>;
    fn update(
        &self,
        u: Update<'_>,
        w: &mut Self::Buf,
        g: &mut Self::Buf,
        slots: &mut Self::Slots,
    ) -> Result<()>;
}
