//! Convolution as unfolding plus one cuBLAS product over the whole batch
//! (the unfolded input is recomputed in backward rather than kept), and
//! pooling.

use cudarc::driver::CudaSlice;

use super::{driver_error, elements, groups, int, launch, plain, transposed, Cuda, DevBuf};
use dlwb_dsl::experiment::Activation;

use crate::backend::ops::{ConvGrads, ConvOps, PoolOps, Window};
use crate::backend::{Result, Storage};
use crate::kernels::int8::QuantWeight;
use crate::kernels::matmul::Out;

/// A window's sizes as the kernels take them: batch, c, h, w, k, s, p, ho, wo.
struct Sizes([i32; 9]);

impl Sizes {
    fn of(at: &Window) -> Sizes {
        let g = at.geom;
        let (ho, wo) = g.out_hw();
        Sizes(
            [
                at.batch, g.channels, g.height, g.width, g.kernel, g.stride, g.pad, ho, wo,
            ]
            .map(int),
        )
    }

    fn pixels(&self) -> usize {
        (self.0[7] * self.0[8]) as usize
    }

    /// Rows of the unfolded input: `C * K * K`.
    fn patch(&self) -> usize {
        (self.0[1] * self.0[4] * self.0[4]) as usize
    }
}

impl Cuda {
    /// `x` unfolded to `[C * K * K, B * Ho * Wo]`.
    fn unfold(&self, x: &DevBuf, z: &Sizes) -> Result<DevBuf> {
        let bp = z.0[0] as usize * z.pixels();
        let mut cols = self.alloc(z.patch() * bp)?;
        let c = self.writable(&mut cols)?;
        let [b, ch, h, w, k, s, p, ho, wo] = &z.0;
        launch!(
            self,
            "im2col",
            elements(z.patch() * bp),
            x.slice(),
            c,
            b,
            ch,
            h,
            w,
            k,
            s,
            p,
            ho,
            wo
        )?;
        Ok(cols)
    }

    /// `[N, B, P]` to `[B, N, P]`, plus `bias` per channel.
    fn to_batch_major(
        &self,
        src: &CudaSlice<f32>,
        bias: &DevBuf,
        n: usize,
        z: &Sizes,
    ) -> Result<DevBuf> {
        let total = n * z.0[0] as usize * z.pixels();
        let mut y = self.alloc(total)?;
        let d = self.writable(&mut y)?;
        let (nn, b, px) = (int(n), z.0[0], int(z.pixels()));
        launch!(
            self,
            "nbp_to_bnp",
            elements(total),
            src,
            d,
            bias.slice(),
            &nn,
            &b,
            &px
        )?;
        Ok(y)
    }
}

impl ConvOps for Cuda {
    fn conv(
        &self,
        x: &DevBuf,
        w: &DevBuf,
        b: &DevBuf,
        filters: usize,
        at: Window,
    ) -> Result<DevBuf> {
        let z = Sizes::of(&at);
        let cols = self.unfold(x, &z)?;
        let bp = at.batch * z.pixels();
        let mut cm = self.alloc(filters * bp)?;
        self.gemm(
            self.writable(&mut cm)?,
            (plain(w), plain(&cols)),
            (filters, z.patch(), bp),
            Out::Overwrite,
        )?;
        self.to_batch_major(cm.slice(), b, filters, &z)
    }

    fn conv_int8(
        &self,
        x: &DevBuf,
        w: &QuantWeight,
        b: &DevBuf,
        (filters, at): (usize, Window),
        act: Option<Activation>,
    ) -> Result<(DevBuf, Option<Activation>)> {
        use crate::kernels::conv::{conv_forward_int8, Rectify};
        let (x, b) = (self.download(x)?, self.download(b)?);
        let (rectify, rest) = Rectify::of(act);
        let y = conv_forward_int8(&x, w, &b, (at.batch, filters), &at.geom, rectify);
        Ok((self.upload(y)?, rest))
    }

    fn conv_backward(
        &self,
        gy: &DevBuf,
        x: &DevBuf,
        w: &DevBuf,
        grads: ConvGrads<'_, Self>,
        filters: usize,
        at: Window,
    ) -> Result<()> {
        let z = Sizes::of(&at);
        let (bp, patch) = (at.batch * z.pixels(), z.patch());
        let (nn, b, px) = (int(filters), z.0[0], int(z.pixels()));
        let db = self.writable(grads.bias)?;
        launch!(
            self,
            "channel_sums",
            groups(filters),
            db,
            gy.slice(),
            &b,
            &nn,
            &px
        )?;
        // The output's gradient channel-major, as the product wants it.
        let mut g = self.alloc(filters * bp)?;
        let gm = self.writable(&mut g)?;
        launch!(
            self,
            "bnp_to_nbp",
            elements(filters * bp),
            gy.slice(),
            gm,
            &nn,
            &b,
            &px
        )?;
        let cols = self.unfold(x, &z)?;
        let dw = self.writable(grads.weight)?;
        self.gemm(
            dw,
            (plain(&g), transposed(&cols)),
            (filters, bp, patch),
            Out::Accumulate,
        )?;
        let Some(dx) = grads.input else {
            return Ok(());
        };
        let mut dcols = self.alloc(patch * bp)?;
        let dc = self.writable(&mut dcols)?;
        self.gemm(
            dc,
            (transposed(w), plain(&g)),
            (patch, filters, bp),
            Out::Overwrite,
        )?;
        let dx = self.writable(dx)?;
        let [b, ch, h, w, k, s, p, ho, wo] = &z.0;
        let n = at.batch * at.geom.channels * at.geom.height * at.geom.width;
        launch!(
            self,
            "col2im",
            elements(n),
            dcols.slice(),
            dx,
            b,
            ch,
            h,
            w,
            k,
            s,
            p,
            ho,
            wo
        )
    }
}

impl PoolOps for Cuda {
    type Argmax = CudaSlice<u32>;

    fn max_pool(&self, x: &DevBuf, at: Window) -> Result<(DevBuf, CudaSlice<u32>)> {
        let z = Sizes::of(&at);
        let planes = at.batch * at.geom.channels;
        let n = planes * z.pixels();
        let mut y = self.alloc(n)?;
        // SAFETY: the kernel writes every element.
        let mut arg = unsafe { self.stream.alloc::<u32>(n.max(1)) }
            .map_err(|e| driver_error("allocating", e))?;
        let ym = self.writable(&mut y)?;
        let [_, _, h, w, k, s, _, ho, wo] = &z.0;
        let pl = int(planes);
        launch!(
            self,
            "max_pool",
            elements(n),
            x.slice(),
            ym,
            &mut arg,
            &pl,
            h,
            w,
            k,
            s,
            ho,
            wo
        )?;
        Ok((y, arg))
    }

    fn max_pool_backward(
        &self,
        gy: &DevBuf,
        arg: &CudaSlice<u32>,
        _: Window,
        in_len: usize,
    ) -> Result<DevBuf> {
        let mut dx = self.zeroed(in_len)?;
        let d = self.writable(&mut dx)?;
        let n = int(gy.len);
        launch!(
            self,
            "max_pool_backward",
            elements(gy.len),
            gy.slice(),
            arg,
            d,
            &n
        )?;
        Ok(dx)
    }

    fn avg_pool(&self, x: &DevBuf, at: Window) -> Result<DevBuf> {
        let z = Sizes::of(&at);
        let planes = at.batch * at.geom.channels;
        let mut y = self.alloc(planes * z.pixels())?;
        let ym = self.writable(&mut y)?;
        let [_, _, h, w, k, s, _, ho, wo] = &z.0;
        let pl = int(planes);
        launch!(
            self,
            "avg_pool",
            elements(planes * z.pixels()),
            x.slice(),
            ym,
            &pl,
            h,
            w,
            k,
            s,
            ho,
            wo
        )?;
        Ok(y)
    }

    fn avg_pool_backward(&self, gy: &DevBuf, at: Window, in_len: usize) -> Result<DevBuf> {
        let z = Sizes::of(&at);
        let planes = at.batch * at.geom.channels;
        let mut dx = self.alloc(in_len)?;
        let d = self.writable(&mut dx)?;
        let [_, _, h, w, k, s, _, ho, wo] = &z.0;
        let pl = int(planes);
        launch!(
            self,
            "avg_pool_backward",
            elements(in_len),
            gy.slice(),
            d,
            &pl,
            h,
            w,
            k,
            s,
            ho,
            wo
        )?;
        Ok(dx)
    }
}
