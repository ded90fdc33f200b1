//! Matrix products (the packed AVX-512 kernel, else the gemm crate), bias
//! terms, integer products, and activations.

use crate::kernels::sparse::Csr;
use std::sync::Arc;

use dlwb_dsl::experiment::Activation;

use super::{write, Cpu, HostBuf};
use crate::backend::ops::{Activated, ActivationOps, LinearOps, Mnk, Operand};
use crate::backend::Result;
use crate::kernels::activation;
use crate::kernels::int8::QuantWeight;
use crate::kernels::matmul::{self, mat, mat_t, Mat, Out, Prepared};

fn operand<'a>(o: &Operand<'a, Cpu>) -> Mat<'a> {
    if o.transposed {
        mat_t(o.buf)
    } else {
        mat(o.buf)
    }
}

impl LinearOps for Cpu {
    type Prepared = Prepared;

    fn prepare_transposed(&self, w: &HostBuf, rows: usize, cols: usize) -> Result<Prepared> {
        Ok(Prepared::new(mat_t(w), cols, rows))
    }

    fn product(&self, x: &HostBuf, rows: usize, w: &Prepared) -> Result<HostBuf> {
        Ok(Arc::new(w.product_new(mat(x), rows)))
    }

    fn matmul(
        &self,
        c: &mut HostBuf,
        a: Operand<'_, Self>,
        b: Operand<'_, Self>,
        Mnk { m, k, n }: Mnk,
        out: Out,
    ) -> Result<()> {
        matmul::matmul(write(c), operand(&a), operand(&b), m, k, n, out);
        Ok(())
    }

    fn matmul_new(&self, a: Operand<'_, Self>, b: Operand<'_, Self>, dims: Mnk) -> Result<HostBuf> {
        let Mnk { m, k, n } = dims;
        Ok(Arc::new(matmul::matmul_new(
            operand(&a),
            operand(&b),
            m,
            k,
            n,
        )))
    }

    fn add_bias(&self, y: &mut HostBuf, bias: &HostBuf) -> Result<()> {
        for r in write(y).chunks_mut(bias.len()) {
            r.iter_mut().zip(bias.iter()).for_each(|(y, b)| *y += b);
        }
        Ok(())
    }

    fn add_column_sums(&self, into: &mut HostBuf, g: &HostBuf) -> Result<()> {
        let into = write(into);
        for r in g.chunks(into.len()) {
            into.iter_mut().zip(r).for_each(|(d, v)| *d += v);
        }
        Ok(())
    }

    fn product_int8(&self, x: &HostBuf, rows: usize, w: &QuantWeight) -> Result<HostBuf> {
        Ok(Arc::new(crate::kernels::int8::matmul_int8(x, rows, w)))
    }

    fn product_sparse(&self, x: &HostBuf, rows: usize, w: &Csr) -> Result<HostBuf> {
        Ok(Arc::new(crate::kernels::sparse::product(x, rows, w)))
    }
}

impl ActivationOps for Cpu {
    fn activate(&self, a: Activation, y: &mut HostBuf, width: usize) -> Result<()> {
        activation::forward_in_parts(a, write(y), width);
        Ok(())
    }

    fn activate_backward(
        &self,
        g: &mut HostBuf,
        saved: &Activated<Self>,
        width: usize,
    ) -> Result<()> {
        let pre = saved.pre.as_deref().map(Vec::as_slice);
        activation::backward_in_parts(saved.activation, write(g), &saved.out, pre, width);
        Ok(())
    }
}
