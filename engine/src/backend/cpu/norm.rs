//! Batch and layer normalization over host buffers.

use std::sync::Arc;

use super::{write, Cpu, HostBuf};
use crate::backend::ops::{Channels, Moments, NormGrads, NormOps, NormSaved, Normalized};
use crate::backend::Result;
use crate::kernels::norm::{self, Grouping};

fn grouping(c: Channels) -> Grouping {
    Grouping {
        channels: c.channels,
        inner: c.inner,
    }
}

fn saved(n: norm::Normalized) -> Normalized<Cpu> {
    Normalized {
        y: Arc::new(n.y),
        saved: NormSaved {
            xhat: Arc::new(n.xhat),
            inv: Arc::new(n.inv),
        },
    }
}

impl NormOps for Cpu {
    fn moments(&self, x: &HostBuf, c: Channels) -> Result<Moments<Self>> {
        let (mean, var) = norm::moments(x, grouping(c));
        Ok(Moments {
            mean: Arc::new(mean),
            var: Arc::new(var),
        })
    }

    fn running_update(
        &self,
        running: &HostBuf,
        batch: &HostBuf,
        momentum: f32,
        scale: f64,
    ) -> Result<HostBuf> {
        Ok(Arc::new(norm::running_update(
            running, batch, momentum, scale,
        )))
    }

    fn batch_norm(
        &self,
        x: &HostBuf,
        stats: &Moments<Self>,
        gamma: &HostBuf,
        beta: &HostBuf,
        eps: f32,
        c: Channels,
    ) -> Result<Normalized<Self>> {
        Ok(saved(norm::batch_norm(
            x,
            (&stats.mean, &stats.var),
            (gamma, beta),
            eps,
            grouping(c),
        )))
    }

    fn batch_norm_backward(
        &self,
        gy: &HostBuf,
        s: &NormSaved<Self>,
        gamma: &HostBuf,
        c: Channels,
        train: bool,
        grads: NormGrads<'_, Self>,
        want_dx: bool,
    ) -> Result<Option<HostBuf>> {
        Ok(norm::batch_norm_backward(
            gy,
            (&s.xhat, &s.inv),
            gamma,
            grouping(c),
            train,
            (write(grads.weight), write(grads.bias)),
            want_dx,
        )
        .map(Arc::new))
    }

    fn layer_norm(
        &self,
        x: &HostBuf,
        gamma: &HostBuf,
        beta: &HostBuf,
        eps: f32,
        width: usize,
    ) -> Result<Normalized<Self>> {
        Ok(saved(norm::layer_norm(x, (gamma, beta), eps, width)))
    }

    fn layer_norm_backward(
        &self,
        gy: &HostBuf,
        s: &NormSaved<Self>,
        gamma: &HostBuf,
        width: usize,
        grads: NormGrads<'_, Self>,
        want_dx: bool,
    ) -> Result<Option<HostBuf>> {
        Ok(norm::layer_norm_backward(
            gy,
            (&s.xhat, &s.inv),
            gamma,
            width,
            (write(grads.weight), write(grads.bias)),
            want_dx,
        )
        .map(Arc::new))
    }
}
