//! The direct int8 convolution's sums on AVX512-VNNI. A block is up to 6
//! output channels by up to 6 vectors of 16 wide positions, at most 24
//! accumulators. Per `(channel, quad)`, the block loads its vectors of
//! 4-byte lanes once and `vpdpbusd`s each with every output's four weight
//! bytes, broadcast. Blocks are balanced (16 outputs as 6, 5 and 5, not 6,
//! 6 and 4), so that no block is left with too few accumulators to hide
//! its loads.

use std::arch::x86_64::*;

use super::direct::VECTOR;
use super::Rectify;
use crate::kernels::lanes::lanes;

/// Output channels and position vectors per block at most, and
/// accumulators at most (the other registers hold the loaded vectors and
/// a broadcast weight).
const OUTPUTS: usize = 6;
const VECTORS: usize = 6;
const ACCUMULATORS: usize = 24;

/// `sums[j * len + p] = Σ_t lanes[offsets[t] + p] · weights[t * n + j]`,
/// each product four u8 · i8 pairs, for `n` outputs and `len` positions.
///
/// # Safety
/// The CPU has AVX-512F and AVX512-VNNI; `len` is a multiple of 16;
/// `offsets[t] + len <= lanes.len()` for every `t`; `weights` holds
/// `offsets.len() * n` values and `sums` at least `n * len`.
#[target_feature(enable = "avx512f,avx512vnni")]
pub unsafe fn sums(
    lanes: &[u32],
    offsets: &[usize],
    weights: &[i32],
    n: usize,
    len: usize,
    sums: &mut [i32],
) {
    debug_assert!(len.is_multiple_of(VECTOR) && sums.len() >= n * len);
    let at = Operands {
        lanes: lanes.as_ptr(),
        offsets,
        weights: weights.as_ptr(),
        n,
        len,
        sums: sums.as_mut_ptr(),
    };
    let vectors = len / VECTOR;
    for (j, outputs) in balanced(n, OUTPUTS) {
        let most = VECTORS.min(ACCUMULATORS / outputs);
        for (v, count) in balanced(vectors, most) {
            at.block(outputs, count, j, v * VECTOR);
        }
    }
}

/// `n` cut into as few runs of at most `most` as can be, of balanced
/// lengths: each run's start and length.
fn balanced(n: usize, most: usize) -> impl Iterator<Item = (usize, usize)> {
    let count = n.div_ceil(most.max(1));
    (0..count).scan(0, move |start, i| {
        let len = n / count + usize::from(i < n % count);
        let first = *start;
        *start += len;
        Some((first, len))
    })
}

/// `out[i]`'s four bytes: `plane[i + d * step]` for `d` in `0..4` — a
/// position's next four bytes along a row (`step` 1) or down a column.
///
/// # Safety
/// The CPU has AVX-512F; `out.len()` is a multiple of 16 and `plane` holds
/// `out.len() + 3 * step` bytes at least.
#[target_feature(enable = "avx512f")]
pub unsafe fn gather(plane: &[u8], step: usize, out: &mut [u32]) {
    debug_assert!(out.len().is_multiple_of(VECTOR) && plane.len() >= out.len() + 3 * step);
    let (p, o) = (plane.as_ptr(), out.as_mut_ptr());
    for i in (0..out.len()).step_by(VECTOR) {
        let at = |d: usize| p.add(i + d * step) as *const __m128i;
        let b0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(at(0)));
        let b1 = _mm512_cvtepu8_epi32(_mm_loadu_si128(at(1)));
        let b2 = _mm512_cvtepu8_epi32(_mm_loadu_si128(at(2)));
        let b3 = _mm512_cvtepu8_epi32(_mm_loadu_si128(at(3)));
        let low = _mm512_or_si512(b0, _mm512_slli_epi32::<8>(b1));
        let high = _mm512_or_si512(_mm512_slli_epi32::<16>(b2), _mm512_slli_epi32::<24>(b3));
        let lane = _mm512_or_si512(low, high);
        _mm512_storeu_si512(o.add(i) as *mut __m512i, lane);
    }
}

/// One output channel's values from its wide sums: each output row is the
/// first `wo` sums of a wide row `wp` long, rescaled by `(offset, scale,
/// bias, rectify)` with [`super::dequantize`]'s operations in its order.
///
/// # Safety
/// The CPU has AVX-512F; `wide` holds a wide row for each output row, and
/// `wo <= wp`.
#[target_feature(enable = "avx512f")]
pub unsafe fn rescale(
    wide: &[i32],
    wp: usize,
    wo: usize,
    rescale: (i32, f32, f32, Rectify),
    plane: &mut [f32],
) {
    debug_assert!(wo <= wp && wide.len() >= plane.len() / wo.max(1) * wp);
    let rescale = Dequantize::new(rescale);
    for (oy, row) in plane.chunks_mut(wo).enumerate() {
        let sums = wide.as_ptr().add(oy * wp);
        for i in (0..wo).step_by(VECTOR) {
            let mask = lanes(wo - i);
            let s = _mm512_maskz_loadu_epi32(mask, sums.add(i));
            let v = rescale.apply(s);
            _mm512_mask_storeu_ps(row.as_mut_ptr().add(i), mask, v);
        }
    }
}

/// [`super::dequantize`]'s operations in its order, on sixteen sums at
/// a time.
#[derive(Clone, Copy)]
struct Dequantize {
    offset: __m512i,
    scale: __m512,
    bias: __m512,
    rectify: Rectify,
}

impl Dequantize {
    #[target_feature(enable = "avx512f")]
    unsafe fn new((offset, scale, bias, rectify): (i32, f32, f32, Rectify)) -> Self {
        Dequantize {
            offset: _mm512_set1_epi32(offset),
            scale: _mm512_set1_ps(scale),
            bias: _mm512_set1_ps(bias),
            rectify,
        }
    }

    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn apply(self, sums: __m512i) -> __m512 {
        let v = _mm512_cvtepi32_ps(_mm512_sub_epi32(sums, self.offset));
        let v = _mm512_add_ps(_mm512_mul_ps(v, self.scale), self.bias);
        match self.rectify {
            Rectify::No => v,
            // 0 as the second operand: a NaN becomes 0, as `f32::max`.
            Rectify::Relu => _mm512_max_ps(v, _mm512_setzero_ps()),
        }
    }
}

/// One output channel's values pooled 2x2 at stride 2 from its wide sums:
/// the largest of each window's four sums, rescaled as [`rescale`] does.
/// Rescaling is monotonic (both scales are positive), so this is the max
/// of the four rescaled values, to the bit, for a quarter of the float
/// work and no full-size output written and read back.
///
/// # Safety
/// The CPU has AVX-512F; `wide` holds a wide row of `wp` for each of
/// `2 * plane.len() / qo` rows, and `2 * qo <= wp`.
#[target_feature(enable = "avx512f")]
pub unsafe fn rescale_pooled(
    wide: &[i32],
    wp: usize,
    qo: usize,
    rescale: (i32, f32, f32, Rectify),
    plane: &mut [f32],
) {
    debug_assert!(2 * qo <= wp && wide.len() >= 2 * plane.len() / qo.max(1) * wp);
    let rescale = Dequantize::new(rescale);
    let evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
    for (py, row) in plane.chunks_mut(qo).enumerate() {
        let top = wide.as_ptr().add(2 * py * wp);
        for px in (0..qo).step_by(VECTOR) {
            let n = (qo - px).min(VECTOR);
            let at = top.add(2 * px);
            let s = _mm512_max_epi32(
                pair_max(at, n, evens, odds),
                pair_max(at.add(wp), n, evens, odds),
            );
            let v = rescale.apply(s);
            _mm512_mask_storeu_ps(row.as_mut_ptr().add(px), lanes(n), v);
        }
    }
}

/// The maxima of `n` (at most 16) neighbouring pairs of sums in a row.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn pair_max(at: *const i32, n: usize, evens: __m512i, odds: __m512i) -> __m512i {
    // The masks keep the loads inside the row's first 2n sums.
    let a = _mm512_maskz_loadu_epi32(lanes(2 * n), at);
    let b = _mm512_maskz_loadu_epi32(lanes((2 * n).saturating_sub(16)), at.add(16));
    _mm512_max_epi32(
        _mm512_permutex2var_epi32(a, evens, b),
        _mm512_permutex2var_epi32(a, odds, b),
    )
}

/// The operands every block reads or writes.
struct Operands<'a> {
    lanes: *const u32,
    offsets: &'a [usize],
    weights: *const i32,
    n: usize,
    len: usize,
    sums: *mut i32,
}

/// `$f::<outputs, vectors>` for the sizes a block can take.
macro_rules! by_vectors {
    ($at:ident, $j:expr, $v:expr, $args:tt) => {
        match $v {
            1 => $at.tile::<$j, 1> $args,
            2 => $at.tile::<$j, 2> $args,
            3 => $at.tile::<$j, 3> $args,
            4 => $at.tile::<$j, 4> $args,
            5 => $at.tile::<$j, 5> $args,
            _ => $at.tile::<$j, VECTORS> $args,
        }
    };
}

impl Operands<'_> {
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn block(&self, outputs: usize, vectors: usize, j: usize, p: usize) {
        match outputs {
            1 => by_vectors!(self, 1, vectors, (j, p)),
            2 => by_vectors!(self, 2, vectors, (j, p)),
            3 => by_vectors!(self, 3, vectors, (j, p)),
            4 => by_vectors!(self, 4, vectors, (j, p)),
            5 => by_vectors!(self, 5, vectors, (j, p)),
            _ => by_vectors!(self, OUTPUTS, vectors, (j, p)),
        }
    }

    /// Outputs `j..j+J` at positions `p..p+16V`.
    #[target_feature(enable = "avx512f,avx512vnni")]
    #[inline]
    unsafe fn tile<const J: usize, const V: usize>(&self, j: usize, p: usize) {
        let mut acc = [[_mm512_setzero_si512(); V]; J];
        for (t, &offset) in self.offsets.iter().enumerate() {
            let src = self.lanes.add(offset + p);
            let mut x = [_mm512_setzero_si512(); V];
            for (v, xv) in x.iter_mut().enumerate() {
                *xv = _mm512_loadu_si512(src.add(v * VECTOR) as *const __m512i);
            }
            let w = self.weights.add(t * self.n + j);
            for (o, row) in acc.iter_mut().enumerate() {
                let wv = _mm512_set1_epi32(w.add(o).read());
                for (a, xv) in row.iter_mut().zip(&x) {
                    *a = _mm512_dpbusd_epi32(*a, *xv, wv);
                }
            }
        }
        for (o, row) in acc.iter().enumerate() {
            let out = self.sums.add((j + o) * self.len + p);
            for (v, a) in row.iter().enumerate() {
                _mm512_storeu_si512(out.add(v * VECTOR) as *mut __m512i, *a);
            }
        }
    }
}
