//! Convolution (direct or unfolded, split by samples over threads) and
//! pooling.

use std::sync::Arc;

use super::{write, Cpu, HostBuf};
use dlwb_dsl::experiment::Activation;

use crate::backend::ops::{ConvGrads, ConvOps, PoolOps, Window};
use crate::backend::Result;
use crate::kernels::conv::Rectify;
use crate::kernels::int8::QuantWeight;
use crate::kernels::{conv, pool};

impl ConvOps for Cpu {
    fn conv(
        &self,
        x: &HostBuf,
        w: &HostBuf,
        b: &HostBuf,
        filters: usize,
        at: Window,
    ) -> Result<HostBuf> {
        Ok(Arc::new(conv::conv_forward(
            x, w, b, at.batch, filters, &at.geom,
        )))
    }

    fn conv_int8(
        &self,
        x: &HostBuf,
        w: &QuantWeight,
        b: &HostBuf,
        (filters, at): (usize, Window),
        act: Option<Activation>,
    ) -> Result<(HostBuf, Option<Activation>)> {
        let (rectify, rest) = Rectify::of(act);
        let y = conv::conv_forward_int8(x, w, b, (at.batch, filters), &at.geom, rectify);
        Ok((Arc::new(y), rest))
    }

    fn conv_int8_pooled(
        &self,
        x: &HostBuf,
        w: &QuantWeight,
        b: &HostBuf,
        (filters, at): (usize, Window),
        act: Option<Activation>,
    ) -> Result<Option<HostBuf>> {
        // Only an activation the kernel applies itself keeps the pool exact.
        let (rectify, None) = Rectify::of(act) else {
            return Ok(None);
        };
        let y = conv::conv_pool_forward_int8(x, w, b, (at.batch, filters), &at.geom, rectify);
        Ok(y.map(Arc::new))
    }

    fn conv_backward(
        &self,
        gy: &HostBuf,
        x: &HostBuf,
        w: &HostBuf,
        grads: ConvGrads<'_, Self>,
        filters: usize,
        at: Window,
    ) -> Result<()> {
        conv::conv_backward(
            gy,
            x,
            w,
            write(grads.weight),
            write(grads.bias),
            grads.input.map(write),
            at.batch,
            filters,
            &at.geom,
        );
        Ok(())
    }
}

impl PoolOps for Cpu {
    type Argmax = Vec<u32>;

    fn max_pool(&self, x: &HostBuf, at: Window) -> Result<(HostBuf, Vec<u32>)> {
        let (y, arg) = pool::max_pool(x, at.batch, &at.geom);
        Ok((Arc::new(y), arg))
    }

    fn max_pool_values(&self, x: &HostBuf, at: Window) -> Result<HostBuf> {
        Ok(Arc::new(pool::max_pool_values(x, at.batch, &at.geom)))
    }

    fn max_pool_backward(
        &self,
        gy: &HostBuf,
        arg: &Vec<u32>,
        at: Window,
        in_len: usize,
    ) -> Result<HostBuf> {
        let dx = pool::max_pool_backward(gy, arg, at.batch, &at.geom);
        debug_assert_eq!(dx.len(), in_len, "the input's length");
        Ok(Arc::new(dx))
    }

    fn avg_pool(&self, x: &HostBuf, at: Window) -> Result<HostBuf> {
        Ok(Arc::new(pool::avg_pool(x, at.batch, &at.geom)))
    }

    fn avg_pool_backward(&self, gy: &HostBuf, at: Window, in_len: usize) -> Result<HostBuf> {
        let mut dx = vec![0.0; in_len];
        pool::avg_pool_backward(gy, &mut dx, at.batch, &at.geom);
        Ok(Arc::new(dx))
    }
}
