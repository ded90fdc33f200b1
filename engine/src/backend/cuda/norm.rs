//! Batch and layer normalization: sums a block per channel or row, the
//! rest elementwise.

use super::{elements, groups, int, launch, Cuda, DevBuf};
use crate::backend::ops::{Channels, Moments, NormGrads, NormOps, NormSaved, Normalized};
use crate::backend::Result;

/// A batch norm's grouping as the kernels take it: channels, inner, outer.
fn sizes(len: usize, c: Channels) -> (i32, i32, i32) {
    let outer = len / (c.channels * c.inner).max(1);
    (int(c.channels), int(c.inner), int(outer))
}

impl NormOps for Cuda {
    fn moments(&self, x: &DevBuf, c: Channels) -> Result<Moments<Self>> {
        let (mut mean, mut var) = (self.alloc(c.channels)?, self.alloc(c.channels)?);
        let (ch, inner, outer) = sizes(x.len, c);
        let (m, v) = (self.writable(&mut mean)?, self.writable(&mut var)?);
        launch!(
            self,
            "moments",
            groups(c.channels),
            x.slice(),
            m,
            v,
            &ch,
            &inner,
            &outer
        )?;
        Ok(Moments { mean, var })
    }

    fn running_update(
        &self,
        running: &DevBuf,
        batch: &DevBuf,
        momentum: f32,
        scale: f64,
    ) -> Result<DevBuf> {
        let mut out = self.alloc(running.len)?;
        let n = int(running.len);
        let o = self.writable(&mut out)?;
        launch!(
            self,
            "running_update",
            elements(running.len),
            running.slice(),
            batch.slice(),
            o,
            &n,
            &momentum,
            &scale
        )?;
        Ok(out)
    }

    fn batch_norm(
        &self,
        x: &DevBuf,
        stats: &Moments<Self>,
        gamma: &DevBuf,
        beta: &DevBuf,
        eps: f32,
        c: Channels,
    ) -> Result<Normalized<Self>> {
        let mut inv = self.alloc(c.channels)?;
        let ch = int(c.channels);
        let iv = self.writable(&mut inv)?;
        launch!(
            self,
            "inv_std",
            elements(c.channels),
            stats.var.slice(),
            iv,
            &ch,
            &eps
        )?;
        let (mut xhat, mut y) = (self.alloc(x.len)?, self.alloc(x.len)?);
        let (n, inner) = (int(x.len), int(c.inner));
        let (h, ym) = (self.writable(&mut xhat)?, self.writable(&mut y)?);
        launch!(
            self,
            "batch_norm",
            elements(x.len),
            x.slice(),
            stats.mean.slice(),
            inv.slice(),
            gamma.slice(),
            beta.slice(),
            h,
            ym,
            &n,
            &ch,
            &inner
        )?;
        Ok(Normalized {
            y,
            saved: NormSaved { xhat, inv },
        })
    }

    fn batch_norm_backward(
        &self,
        gy: &DevBuf,
        s: &NormSaved<Self>,
        gamma: &DevBuf,
        c: Channels,
        train: bool,
        grads: NormGrads<'_, Self>,
        want_dx: bool,
    ) -> Result<Option<DevBuf>> {
        let (mut sum_g, mut sum_gx) = (self.alloc(c.channels)?, self.alloc(c.channels)?);
        let (ch, inner, outer) = sizes(gy.len, c);
        let (sg, sgx) = (self.writable(&mut sum_g)?, self.writable(&mut sum_gx)?);
        let (dgamma, dbeta) = (self.writable(grads.weight)?, self.writable(grads.bias)?);
        launch!(
            self,
            "batch_norm_sums",
            groups(c.channels),
            gy.slice(),
            s.xhat.slice(),
            sg,
            sgx,
            dgamma,
            dbeta,
            &ch,
            &inner,
            &outer
        )?;
        if !want_dx {
            return Ok(None);
        }
        let mut dx = self.alloc(gy.len)?;
        let (n, train) = (int(gy.len), i32::from(train));
        let d = self.writable(&mut dx)?;
        launch!(
            self,
            "batch_norm_dx",
            elements(gy.len),
            gy.slice(),
            s.xhat.slice(),
            gamma.slice(),
            s.inv.slice(),
            sum_g.slice(),
            sum_gx.slice(),
            d,
            &n,
            &ch,
            &inner,
            &train
        )?;
        Ok(Some(dx))
    }

    fn layer_norm(
        &self,
        x: &DevBuf,
        gamma: &DevBuf,
        beta: &DevBuf,
        eps: f32,
        width: usize,
    ) -> Result<Normalized<Self>> {
        let rows = x.len / width.max(1);
        let (mut xhat, mut y, mut inv) =
            (self.alloc(x.len)?, self.alloc(x.len)?, self.alloc(rows)?);
        let (r, w) = (int(rows), int(width));
        let (h, ym, iv) = (
            self.writable(&mut xhat)?,
            self.writable(&mut y)?,
            self.writable(&mut inv)?,
        );
        launch!(
            self,
            "layer_norm",
            groups(rows),
            x.slice(),
            gamma.slice(),
            beta.slice(),
            &eps,
            h,
            ym,
            iv,
            &r,
            &w
        )?;
        Ok(Normalized {
            y,
            saved: NormSaved { xhat, inv },
        })
    }

    fn layer_norm_backward(
        &self,
        gy: &DevBuf,
        s: &NormSaved<Self>,
        gamma: &DevBuf,
        width: usize,
        grads: NormGrads<'_, Self>,
        want_dx: bool,
    ) -> Result<Option<DevBuf>> {
        let rows = gy.len / width.max(1);
        let (r, w) = (int(rows), int(width));
        let (dgamma, dbeta) = (self.writable(grads.weight)?, self.writable(grads.bias)?);
        launch!(
            self,
            "layer_norm_params",
            groups(width),
            gy.slice(),
            s.xhat.slice(),
            dgamma,
            dbeta,
            &r,
            &w
        )?;
        if !want_dx {
            return Ok(None);
        }
        let mut dx = self.alloc(gy.len)?;
        let d = self.writable(&mut dx)?;
        launch!(
            self,
            "layer_norm_dx",
            groups(rows),
            gy.slice(),
            s.xhat.slice(),
            gamma.slice(),
            s.inv.slice(),
            d,
            &r,
            &w
        )?;
        Ok(Some(dx))
    }
}
