//! Products on cuBLAS, bias terms, and activations. Integer and sparse
//! products (compressed models' inference) run on the host: the GPU has
//! no kernel of ours for them yet, and each step of a compression report
//! names the kernel that ran.

use dlwb_dsl::experiment::Activation;

use super::{elements, groups, int, launch, plain, transposed, Cuda, DevBuf, Mat};
use crate::backend::ops::{Activated, ActivationOps, LinearOps, Mnk, Operand};
use crate::backend::{Result, Storage};
use crate::kernels::int8::QuantWeight;
use crate::kernels::matmul::Out;
use crate::kernels::sparse::Csr;

/// A weight `w` (`rows x cols`) as the right-hand side `wᵀ`: cuBLAS reads
/// it transposed in place, so preparing shares the buffer.
pub(crate) struct Prepared {
    w: DevBuf,
    rows: usize,
    cols: usize,
}

fn operand<'a>(o: &Operand<'a, Cuda>) -> Mat<'a> {
    Mat {
        buf: o.buf.slice().as_view(),
        transposed: o.transposed,
    }
}

impl LinearOps for Cuda {
    type Prepared = Prepared;

    fn prepare_transposed(&self, w: &DevBuf, rows: usize, cols: usize) -> Result<Prepared> {
        Ok(Prepared {
            w: w.clone(),
            rows,
            cols,
        })
    }

    fn product(&self, x: &DevBuf, rows: usize, w: &Prepared) -> Result<DevBuf> {
        let mut y = self.alloc(rows * w.rows)?;
        let dims = (rows, w.cols, w.rows);
        self.gemm(
            self.writable(&mut y)?,
            (plain(x), transposed(&w.w)),
            dims,
            Out::Overwrite,
        )?;
        Ok(y)
    }

    fn matmul(
        &self,
        c: &mut DevBuf,
        a: Operand<'_, Self>,
        b: Operand<'_, Self>,
        Mnk { m, k, n }: Mnk,
        out: Out,
    ) -> Result<()> {
        let (a, b) = (operand(&a), operand(&b));
        self.gemm(self.writable(c)?, (a, b), (m, k, n), out)
    }

    fn add_bias(&self, y: &mut DevBuf, bias: &DevBuf) -> Result<()> {
        let (n, width) = (int(y.len), int(bias.len));
        let y = self.writable(y)?;
        launch!(
            self,
            "add_bias",
            elements(n as usize),
            y,
            bias.slice(),
            &n,
            &width
        )
    }

    fn add_column_sums(&self, into: &mut DevBuf, g: &DevBuf) -> Result<()> {
        let width = into.len;
        let (rows, w) = (int(g.len / width.max(1)), int(width));
        let into = self.writable(into)?;
        launch!(
            self,
            "column_sums",
            groups(width),
            into,
            g.slice(),
            &rows,
            &w
        )
    }

    fn product_int8(&self, x: &DevBuf, rows: usize, w: &QuantWeight) -> Result<DevBuf> {
        let host = self.download(x)?;
        self.upload(crate::kernels::int8::matmul_int8(&host, rows, w))
    }

    fn product_sparse(&self, x: &DevBuf, rows: usize, w: &Csr) -> Result<DevBuf> {
        let host = self.download(x)?;
        self.upload(crate::kernels::sparse::product(&host, rows, w))
    }
}

/// An elementwise activation's code in `elementwise.cu`, and its slope.
fn code(a: Activation) -> Option<(i32, f32)> {
    match a {
        Activation::Relu => Some((0, 0.0)),
        Activation::LeakyRelu { slope } => Some((1, slope)),
        Activation::Sigmoid => Some((2, 0.0)),
        Activation::Tanh => Some((3, 0.0)),
        Activation::Gelu => Some((4, 0.0)),
        Activation::Softmax => None,
    }
}

impl ActivationOps for Cuda {
    fn activate(&self, a: Activation, y: &mut DevBuf, width: usize) -> Result<()> {
        let n = y.len;
        let y = self.writable(y)?;
        match code(a) {
            Some((kind, slope)) => {
                let len = int(n);
                launch!(self, "activate", elements(n), y, &len, &kind, &slope)
            }
            None => {
                let (rows, w) = (int(n / width.max(1)), int(width));
                launch!(self, "softmax_rows", elements(rows as usize), y, &rows, &w)
            }
        }
    }

    fn activate_backward(
        &self,
        g: &mut DevBuf,
        saved: &Activated<Self>,
        width: usize,
    ) -> Result<()> {
        let n = g.len;
        let g = self.writable(g)?;
        let y = saved.out.slice();
        match code(saved.activation) {
            Some((kind, slope)) => {
                // Only GELU reads its input; the others are given the output.
                let x = saved.pre.as_ref().map_or(y, DevBuf::slice);
                let len = int(n);
                launch!(
                    self,
                    "activate_backward",
                    elements(n),
                    g,
                    y,
                    x,
                    &len,
                    &kind,
                    &slope
                )
            }
            None => {
                let (rows, w) = (int(n / width.max(1)), int(width));
                launch!(
                    self,
                    "softmax_backward_rows",
                    elements(rows as usize),
                    g,
                    y,
                    &rows,
                    &w
                )
            }
        }
    }
}
