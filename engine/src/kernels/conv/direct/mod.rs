//! Convolution at stride 1 straight from the input: no unfolded copy, no
//! packing.
//!
//! Computed "wide" — each output row as long as an input row, the last
//! `K - 1` columns of each being garbage — kernel tap `t = (c, ky, kx)`
//! reads the input at one fixed offset from output position `j`:
//! `off_t = c·H·W + ky·W + kx`. Every tap is a shifted view of the sample,
//! and the three products of a convolution are sums over those views:
//!
//! ```text
//! y[n, j]        = b[n] + Σ_t W[n, t] · x[off_t + j]
//! dW[n, t]      += Σ_j gy[n, j] · x[off_t + j]
//! dx[off_t + j] += Σ_n W[n, t] · gy[n, j]
//! ```
//!
//! The wide length `L = (Ho − 1)·W + Wo` keeps every read inside the
//! sample; garbage columns are dropped from `y` and are zero in `gy`.
//! Padding is a zero-bordered copy of the sample. For LeNet, unfolding and
//! packing (short runs of 28 and 10 values) cost more than the products.
//!
//! The kernels come in AVX-512 (`avx512.rs`) and AVX2 with FMA
//! (`avx2.rs`), chosen with the product's ([`packed::isa`]). Without the
//! AVX2 ones, LeNet on an AMD EPYC with AVX-512 declined trained at 9.9k
//! samples/s on one thread (unfolded); with them, 15.8k, as on AVX-512.

use super::Geometry;
use crate::kernels::packed::{self, Isa};

/// `kernel::<V>` for every width `V` of an input-gradient pass, 1 to
/// [`MAX_VECTORS`]: the table `Kernels::dx` indexes.
#[cfg(target_arch = "x86_64")]
macro_rules! for_each_width {
    ($kernel:ident) => {
        [
            $kernel::<1>,
            $kernel::<2>,
            $kernel::<3>,
            $kernel::<4>,
            $kernel::<5>,
            $kernel::<6>,
            $kernel::<7>,
            $kernel::<8>,
        ]
    };
}

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

/// Weights (filters x taps) at most for the direct path: its weight
/// gradient keeps a running sum per lane per weight (4 MiB), and a layer
/// this wide has enough work per product for unfolding to pay.
const MAX_WEIGHTS: usize = 1 << 16;

/// Whether a layer of `n` filters over this geometry, on this CPU, takes
/// the direct path.
pub fn available(g: &Geometry, n: usize) -> bool {
    g.stride == 1 && n * g.patch() <= MAX_WEIGHTS && packed::isa().is_some()
}

/// One vector extension's kernels over the wide layout (module comment);
/// each takes the sample as laid out by [`padded`].
#[derive(Clone, Copy)]
pub(super) struct Kernels {
    /// Running sums per weight that `dw` keeps: the vector's lanes.
    lanes: usize,
    /// `yw[n, j] = b[n] + Σ_t W[n, t] · x[off_t + j]`.
    forward: ForwardKernel,
    /// `sums[n, t, :] += Σ_j gy[n, j] · x[off_t + j]`, spread over `lanes`.
    dw: BackwardKernel,
    /// `dx[off_t + j] += Σ_n W[n, t] · gy[n, j]`, with `v + 1` vectors
    /// per pass at index `v` ([`vectors_per_pass`]).
    dx: [BackwardKernel; MAX_VECTORS],
}

/// `(x, w, bias, filters, layout, yw)`.
type ForwardKernel = unsafe fn(&[f32], &[f32], &[f32], usize, &Wide, &mut [f32]);
/// `(x or w, gyw, filters, layout, sums or dx)`.
type BackwardKernel = unsafe fn(&[f32], &[f32], usize, &Wide, &mut [f32]);

impl Kernels {
    /// The kernels of `isa`, which this CPU must have.
    pub(super) fn of(isa: Isa) -> Self {
        #[cfg(target_arch = "x86_64")]
        match isa {
            Isa::Avx512 => avx512::KERNELS,
            Isa::Avx2 => avx2::KERNELS,
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("no vector extension is detected off x86-64: {isa:?}")
    }

    /// The kernels [`available`] chose.
    fn chosen() -> Self {
        Self::of(packed::isa().expect("`available` said a vector extension runs"))
    }
}

/// The wide layout of one sample.
struct Wide {
    /// Padded input height and width.
    hp: usize,
    wp: usize,
    ho: usize,
    wo: usize,
    /// Wide output length per channel.
    len: usize,
    /// Input offset of every tap, in the weights' `(c, ky, kx)` order.
    offsets: Vec<usize>,
}

impl Wide {
    fn of(g: &Geometry) -> Self {
        let (hp, wp) = (g.height + 2 * g.pad, g.width + 2 * g.pad);
        let (ho, wo) = g.out_hw();
        let k = g.kernel;
        let mut offsets = Vec::with_capacity(g.patch());
        for c in 0..g.channels {
            for ky in 0..k {
                for kx in 0..k {
                    offsets.push(c * hp * wp + ky * wp + kx);
                }
            }
        }
        Wide {
            hp,
            wp,
            ho,
            wo,
            len: (ho - 1) * wp + wo,
            offsets,
        }
    }

    fn padded_len(&self, g: &Geometry) -> usize {
        g.channels * self.hp * self.wp
    }
}

/// The sample itself, or (with padding) its copy inside `buf`'s zero
/// border. `buf` is zero once and only its interior is ever written.
fn padded<'a>(x: &'a [f32], g: &Geometry, wd: &Wide, buf: &'a mut [f32]) -> &'a [f32] {
    if g.pad == 0 {
        return x;
    }
    let (h, w, p) = (g.height, g.width, g.pad);
    for c in 0..g.channels {
        for y in 0..h {
            buf[(c * wd.hp + y + p) * wd.wp + p..][..w].copy_from_slice(&x[(c * h + y) * w..][..w]);
        }
    }
    buf
}

/// Forward convolution of the samples `x` (`[S, C, H, W]`) into `y`
/// (`[S, N, Ho, Wo]`).
pub fn forward(x: &[f32], w: &[f32], bias: &[f32], n: usize, g: &Geometry, y: &mut [f32]) {
    forward_on(Kernels::chosen(), x, w, bias, n, g, y)
}

/// [`forward`] on the given kernels.
pub(super) fn forward_on(
    k: Kernels,
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    n: usize,
    g: &Geometry,
    y: &mut [f32],
) {
    let wd = Wide::of(g);
    let (in_len, pixels) = (g.channels * g.height * g.width, wd.ho * wd.wo);
    let mut xp = vec![0.0; if g.pad > 0 { wd.padded_len(g) } else { 0 }];
    let mut yw = vec![0.0; n * wd.len];
    assert!(w.len() == n * wd.offsets.len() && bias.len() == n);
    for (yb, xb) in y.chunks_mut(n * pixels).zip(x.chunks(in_len)) {
        let src = padded(xb, g, &wd, &mut xp);
        // SAFETY: `Kernels::of` holds the CPU to the kernels' extension;
        // they read `src` at `off_t + j` for j < len, inside the padded
        // sample (module comment), and the asserts above size `w` and `bias`.
        unsafe { (k.forward)(src, w, bias, n, &wd, &mut yw) };
        for (r, yr) in yb.chunks_mut(pixels).enumerate() {
            for (oy, row) in yr.chunks_mut(wd.wo).enumerate() {
                row.copy_from_slice(&yw[r * wd.len + oy * wd.wp..][..wd.wo]);
            }
        }
    }
}

/// Backward convolution of the samples `x` given `gy`: accumulates into
/// `dw` and (if given) `dx`.
pub fn backward(
    gy: &[f32],
    x: &[f32],
    w: &[f32],
    dw: &mut [f32],
    dx: Option<&mut [f32]>,
    n: usize,
    g: &Geometry,
) {
    backward_on(Kernels::chosen(), gy, x, w, dw, dx, n, g)
}

/// [`backward`] on the given kernels.
#[allow(clippy::too_many_arguments)]
pub(super) fn backward_on(
    k: Kernels,
    gy: &[f32],
    x: &[f32],
    w: &[f32],
    dw: &mut [f32],
    mut dx: Option<&mut [f32]>,
    n: usize,
    g: &Geometry,
) {
    let wd = Wide::of(g);
    let taps = wd.offsets.len();
    let (in_len, pixels) = (g.channels * g.height * g.width, wd.ho * wd.wo);
    let padded_len = wd.padded_len(g);
    assert!(w.len() == n * taps && dw.len() == n * taps);
    let mut xp = vec![0.0; if g.pad > 0 { padded_len } else { 0 }];
    let mut dxp = vec![
        0.0;
        if g.pad > 0 && dx.is_some() {
            padded_len
        } else {
            0
        }
    ];
    // Garbage columns are never written, so they stay zero.
    let mut gyw = vec![0.0; n * wd.len];
    // dW as running sums per weight, one per lane, summed at the end.
    let mut sums = vec![0.0; n * taps * k.lanes];
    let dx_kernel = k.dx[vectors_per_pass(wd.len, k.lanes) - 1];
    for (s, (gyb, xb)) in gy.chunks(n * pixels).zip(x.chunks(in_len)).enumerate() {
        let src = padded(xb, g, &wd, &mut xp);
        for (r, gr) in gyb.chunks(pixels).enumerate() {
            for (oy, row) in gr.chunks(wd.wo).enumerate() {
                gyw[r * wd.len + oy * wd.wp..][..wd.wo].copy_from_slice(row);
            }
        }
        // SAFETY: as in `forward`; `dx` and `dxp` hold the (padded)
        // sample, which every `off_t + j` stays inside.
        unsafe {
            (k.dw)(src, &gyw, n, &wd, &mut sums);
            if let Some(dx) = dx.as_deref_mut() {
                let dxb = &mut dx[s * in_len..][..in_len];
                if g.pad == 0 {
                    dx_kernel(w, &gyw, n, &wd, dxb);
                } else {
                    dxp.fill(0.0);
                    dx_kernel(w, &gyw, n, &wd, &mut dxp);
                    let (h, wi, p) = (g.height, g.width, g.pad);
                    for c in 0..g.channels {
                        for y in 0..h {
                            let from = &dxp[(c * wd.hp + y + p) * wd.wp + p..][..wi];
                            dxb[(c * h + y) * wi..][..wi]
                                .iter_mut()
                                .zip(from)
                                .for_each(|(d, v)| *d += v);
                        }
                    }
                }
            }
        }
    }
    for (d, l) in dw.iter_mut().zip(sums.chunks(k.lanes)) {
        *d += l.iter().sum::<f32>();
    }
}

/// Vectors per pass of the input gradient at most: eight independent sums
/// over the filters.
const MAX_VECTORS: usize = 8;

/// Vectors of `lanes` per pass of the input gradient over a wide row of
/// `len`: at most [`MAX_VECTORS`], as even as the passes the row needs
/// allow. Eight a pass left LeNet's second layer (136 values) computing 16
/// vectors on AVX-512 for the 9 it has.
fn vectors_per_pass(len: usize, lanes: usize) -> usize {
    let vectors = len.div_ceil(lanes).max(1);
    vectors.div_ceil(vectors.div_ceil(MAX_VECTORS))
}

/// Heights of balanced blocks of at most `max` rows covering `n`.
fn blocks(n: usize, max: usize) -> impl Iterator<Item = (usize, usize)> {
    let count = n.div_ceil(max);
    (0..count).scan(0, move |start, b| {
        let rows = n / count + usize::from(b < n % count);
        let first = *start;
        *start += rows;
        Some((first, rows))
    })
}
