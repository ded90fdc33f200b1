//! Max and average pooling.

use super::conv::Geometry;
use super::packed::Isa;
use super::parts;

/// Fewest planes worth a part of their own.
const PLANES_PER_PART: usize = 64;

/// How max pooling cuts its planes into parts, forward and backward alike:
/// the values of an input plane, of an output plane, and each part's planes.
fn plane_parts(batch: usize, g: &Geometry) -> (usize, usize, Vec<usize>) {
    let (ho, wo) = g.out_hw();
    let rows = parts::rows(batch * g.channels, PLANES_PER_PART);
    (g.height * g.width, ho * wo, rows)
}

/// Max pooling: the output, and for each output the input index it took.
/// A NaN in a window wins it, as in PyTorch. Planes are shared between
/// threads, and each part zeroes its own chunks of both outputs: one thread
/// zeroing them for all (LeNet's first pool: 2.4 MB a batch) left the other
/// idle, and on cores that share no cache made every line cross.
pub fn max_pool(x: &[f32], batch: usize, g: &Geometry) -> (Vec<f32>, Vec<u32>) {
    let (hw, out, rows) = plane_parts(batch, g);
    let mut arg: Vec<u32> = parts::filled(&rows, out, vec![(); rows.len()], |(), _| {});
    let jobs = parts::chunks_mut(&mut arg, &rows, out)
        .into_iter()
        .zip(parts::starts(&rows))
        .collect();
    let y = parts::filled(&rows, out, jobs, |(arg, first), y| {
        for (p, (yp, ap)) in y.chunks_mut(out).zip(arg.chunks_mut(out)).enumerate() {
            let plane = first + p;
            max_pool_plane(&x[plane * hw..][..hw], plane * hw, g, yp, ap);
        }
    });
    (y, arg)
}

/// The gradient of [`max_pool`]'s input: each output's gradient added at
/// the input it took. Every window lies in its own plane, so the planes
/// are cut into parts as the forward pass cut them.
pub fn max_pool_backward(gy: &[f32], arg: &[u32], batch: usize, g: &Geometry) -> Vec<f32> {
    let (hw, out, rows) = plane_parts(batch, g);
    let jobs = parts::chunks(gy, &rows, out)
        .into_iter()
        .zip(parts::chunks(arg, &rows, out))
        .zip(parts::starts(&rows))
        .collect();
    parts::filled(&rows, hw, jobs, |((gy, arg), first), dx| {
        let base = first * hw;
        for (g, &i) in gy.iter().zip(arg) {
            dx[i as usize - base] += g;
        }
    })
}

/// One plane of [`max_pool`]; `base` is the plane's offset in the input.
fn max_pool_plane(plane: &[f32], base: usize, g: &Geometry, y: &mut [f32], arg: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    if g.kernel == 2 && g.stride == 2 {
        return pool2x2::plane(plane, base, g.width, g.out_hw(), y, arg);
    }
    max_pool_plane_any(plane, base, g, y, arg)
}

/// [`max_pool_plane`] for any window. Each window tap is swept across a whole output row, with the choice made
/// without branches: a branch per comparison mispredicts half the time on
/// real activations (it took a third of LeNet's training step).
fn max_pool_plane_any(plane: &[f32], base: usize, g: &Geometry, y: &mut [f32], arg: &mut [u32]) {
    let (ho, wo) = g.out_hw();
    for oy in 0..ho {
        let best = &mut y[oy * wo..][..wo];
        let at = &mut arg[oy * wo..][..wo];
        best.fill(f32::NEG_INFINITY);
        // A window of -inf alone takes its first tap.
        for (ox, a) in at.iter_mut().enumerate() {
            *a = (base + oy * g.stride * g.width + ox * g.stride) as u32;
        }
        for ky in 0..g.kernel {
            for kx in 0..g.kernel {
                let first = (oy * g.stride + ky) * g.width + kx;
                for (ox, (b, a)) in best.iter_mut().zip(at.iter_mut()).enumerate() {
                    let i = first + ox * g.stride;
                    let v = plane[i];
                    let take = (v > *b) | (v.is_nan() & !b.is_nan());
                    // All ones where taken: blended with bit operations,
                    // which the compiler keeps (it turns `if` into jumps).
                    let m = 0u32.wrapping_sub(u32::from(take));
                    *b = f32::from_bits((b.to_bits() & !m) | (v.to_bits() & m));
                    *a = (*a & !m) | ((base + i) as u32 & m);
                }
            }
        }
    }
}

/// The 2x2, stride-2 window (LeNet's, VGG's), four outputs at a time in
/// SSE2 (every x86-64 CPU has it). The compiler turns the scalar loop's
/// selects back into jumps, which mispredict on real activations; here the
/// choice is made with masks, in the scalar loop's order and NaN rule.
#[cfg(target_arch = "x86_64")]
mod pool2x2 {
    use std::arch::x86_64::*;

    pub fn plane(
        plane: &[f32],
        base: usize,
        width: usize,
        (ho, wo): (usize, usize),
        y: &mut [f32],
        arg: &mut [u32],
    ) {
        assert!(plane.len() >= 2 * ho * width && 2 * wo <= width);
        assert!(y.len() >= ho * wo && arg.len() >= ho * wo);
        for oy in 0..ho {
            let row = 2 * oy * width;
            let whole = wo - wo % 4;
            // SAFETY: SSE2 is part of x86-64; the asserts bound every load
            // (row + width + 2 * ox + 8 <= plane.len() for ox + 4 <= wo)
            // and store.
            unsafe {
                four_at_a_time(
                    plane,
                    base,
                    row,
                    width,
                    whole,
                    &mut y[oy * wo..],
                    &mut arg[oy * wo..],
                )
            };
            for ox in whole..wo {
                let mut best = f32::NEG_INFINITY;
                let mut at = base + row + 2 * ox;
                for i in [
                    row + 2 * ox,
                    row + 2 * ox + 1,
                    row + width + 2 * ox,
                    row + width + 2 * ox + 1,
                ] {
                    let v = plane[i];
                    if v > best || (v.is_nan() && !best.is_nan()) {
                        (best, at) = (v, base + i);
                    }
                }
                y[oy * wo + ox] = best;
                arg[oy * wo + ox] = at as u32;
            }
        }
    }

    #[inline(always)]
    unsafe fn four_at_a_time(
        plane: &[f32],
        base: usize,
        row: usize,
        width: usize,
        whole: usize,
        y: &mut [f32],
        arg: &mut [u32],
    ) {
        let (p, yo, ao) = (plane.as_ptr(), y.as_mut_ptr(), arg.as_mut_ptr());
        let lanes = _mm_setr_epi32(0, 2, 4, 6);
        for ox in (0..whole).step_by(4) {
            let taps = |at: usize| {
                let (a, b) = (_mm_loadu_ps(p.add(at)), _mm_loadu_ps(p.add(at + 4)));
                (
                    _mm_shuffle_ps::<0b10_00_10_00>(a, b),
                    _mm_shuffle_ps::<0b11_01_11_01>(a, b),
                )
            };
            let (t00, t01) = taps(row + 2 * ox);
            let (t10, t11) = taps(row + width + 2 * ox);
            let i00 = _mm_add_epi32(_mm_set1_epi32((base + row + 2 * ox) as i32), lanes);
            let i10 = _mm_add_epi32(i00, _mm_set1_epi32(width as i32));
            let one = _mm_set1_epi32(1);
            let (mut best, mut at) = (t00, i00);
            for (t, i) in [
                (t01, _mm_add_epi32(i00, one)),
                (t10, i10),
                (t11, _mm_add_epi32(i10, one)),
            ] {
                let nan_t = _mm_cmpunord_ps(t, t);
                let nan_best = _mm_cmpunord_ps(best, best);
                let take = _mm_or_ps(_mm_cmpgt_ps(t, best), _mm_andnot_ps(nan_best, nan_t));
                best = _mm_or_ps(_mm_and_ps(take, t), _mm_andnot_ps(take, best));
                let take = _mm_castps_si128(take);
                at = _mm_or_si128(_mm_and_si128(take, i), _mm_andnot_si128(take, at));
            }
            _mm_storeu_ps(yo.add(ox), best);
            _mm_storeu_si128(ao.add(ox).cast(), at);
        }
    }
}

/// Max pooling's values alone, for a pass that keeps no gradient: the
/// values [`max_pool`] gives, without the work of tracking where each came
/// from. Windows of 2 at stride 2 (nearly every network's) take sixteen
/// outputs at a time on AVX-512, four in SSE2 on any other x86-64 CPU.
pub fn max_pool_values(x: &[f32], batch: usize, g: &Geometry) -> Vec<f32> {
    max_pool_values_on(crate::kernels::packed::isa(), x, batch, g)
}

/// [`max_pool_values`] with the vector extension given (SSE2 for any but
/// AVX-512), which this CPU must have.
pub(crate) fn max_pool_values_on(
    isa: Option<Isa>,
    x: &[f32],
    batch: usize,
    g: &Geometry,
) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    if g.kernel == 2 && g.stride == 2 {
        let (ho, wo) = g.out_hw();
        let (hw, out, rows) = plane_parts(batch, g);
        let avx512 = isa == Some(Isa::Avx512);
        return parts::filled(&rows, out, parts::starts(&rows), |first, y| {
            for (p, yp) in y.chunks_mut(out).enumerate() {
                let plane = &x[(first + p) * hw..][..hw];
                // SAFETY: AVX-512F where asked for, SSE2 on every x86-64
                // CPU; `plane` is a whole input plane and `yp` a whole
                // output plane of this geometry.
                unsafe {
                    if avx512 {
                        pool2x2_values::plane(plane, g.width, (ho, wo), yp)
                    } else {
                        pool2x2_values::plane_sse2(plane, g.width, (ho, wo), yp)
                    }
                }
            }
        });
    }
    max_pool(x, batch, g).0
}

#[cfg(target_arch = "x86_64")]
mod pool2x2_values {
    use std::arch::x86_64::*;

    use crate::kernels::lanes::lanes;

    /// The larger of `a` and `b`, a NaN in either winning.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn nan_max(a: __m512, b: __m512) -> __m512 {
        // `max` returns its second operand when either is NaN.
        let m = _mm512_max_ps(a, b);
        _mm512_mask_mov_ps(m, _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, a), a)
    }

    /// The maxima of `n` (at most 16) neighbouring pairs in a row: its
    /// first `2n` values split into even and odd columns and compared.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn pair_max(row: *const f32, n: usize, evens: __m512i, odds: __m512i) -> __m512 {
        // The masks keep every load inside the row's first 2n values.
        let a = _mm512_maskz_loadu_ps(lanes(2 * n), row);
        let b = _mm512_maskz_loadu_ps(lanes((2 * n).saturating_sub(16)), row.add(16));
        nan_max(
            _mm512_permutex2var_ps(a, evens, b),
            _mm512_permutex2var_ps(a, odds, b),
        )
    }

    /// [`nan_max`] in SSE2.
    #[inline(always)]
    unsafe fn nan_max4(a: __m128, b: __m128) -> __m128 {
        let nan = _mm_cmpunord_ps(a, a);
        _mm_or_ps(_mm_and_ps(nan, a), _mm_andnot_ps(nan, _mm_max_ps(a, b)))
    }

    /// [`pair_max`] of four pairs, in SSE2.
    #[inline(always)]
    unsafe fn pair_max4(row: *const f32) -> __m128 {
        let (a, b) = (_mm_loadu_ps(row), _mm_loadu_ps(row.add(4)));
        nan_max4(
            _mm_shuffle_ps::<0b10_00_10_00>(a, b),
            _mm_shuffle_ps::<0b11_01_11_01>(a, b),
        )
    }

    /// [`plane`] four outputs at a time in SSE2, the last few one by one,
    /// comparing in the same order.
    ///
    /// # Safety
    /// As for [`plane`], on any x86-64 CPU.
    pub unsafe fn plane_sse2(plane: &[f32], width: usize, (ho, wo): (usize, usize), y: &mut [f32]) {
        assert!(plane.len() >= 2 * ho * width && 2 * wo <= width && y.len() >= ho * wo);
        let nan_max = |a: f32, b: f32| {
            if a.is_nan() {
                a
            } else {
                _mm_cvtss_f32(_mm_max_ss(_mm_set_ss(a), _mm_set_ss(b)))
            }
        };
        let whole = wo - wo % 4;
        for oy in 0..ho {
            let top = plane.as_ptr().add(2 * oy * width);
            let bottom = top.add(width);
            let out = y.as_mut_ptr().add(oy * wo);
            for ox in (0..whole).step_by(4) {
                let m = nan_max4(pair_max4(top.add(2 * ox)), pair_max4(bottom.add(2 * ox)));
                _mm_storeu_ps(out.add(ox), m);
            }
            for ox in whole..wo {
                let pair = |r: *const f32| nan_max(*r.add(2 * ox), *r.add(2 * ox + 1));
                *out.add(ox) = nan_max(pair(top), pair(bottom));
            }
        }
    }

    /// One plane's 2x2 maxima, sixteen outputs at a time.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `plane` holds `2 * ho` rows of `width >= 2 * wo`
    /// values and `y` holds `ho * wo`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn plane(plane: &[f32], width: usize, (ho, wo): (usize, usize), y: &mut [f32]) {
        assert!(plane.len() >= 2 * ho * width && 2 * wo <= width && y.len() >= ho * wo);
        let evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
        for oy in 0..ho {
            let top = plane.as_ptr().add(2 * oy * width);
            let bottom = top.add(width);
            for ox in (0..wo).step_by(16) {
                let n = (wo - ox).min(16);
                let m = nan_max(
                    pair_max(top.add(2 * ox), n, evens, odds),
                    pair_max(bottom.add(2 * ox), n, evens, odds),
                );
                _mm512_mask_storeu_ps(y.as_mut_ptr().add(oy * wo + ox), lanes(n), m);
            }
        }
    }
}

pub fn avg_pool(x: &[f32], batch: usize, g: &Geometry) -> Vec<f32> {
    let (ho, wo) = g.out_hw();
    let hw = g.height * g.width;
    let inv = 1.0 / (g.kernel * g.kernel) as f32;
    let mut y = Vec::with_capacity(batch * g.channels * ho * wo);
    for bc in 0..batch * g.channels {
        let plane = &x[bc * hw..(bc + 1) * hw];
        for oy in 0..ho {
            for ox in 0..wo {
                let mut s = 0.0;
                for ky in 0..g.kernel {
                    let row = (oy * g.stride + ky) * g.width + ox * g.stride;
                    s += plane[row..row + g.kernel].iter().sum::<f32>();
                }
                y.push(s * inv);
            }
        }
    }
    y
}

pub fn avg_pool_backward(gy: &[f32], dx: &mut [f32], batch: usize, g: &Geometry) {
    let (ho, wo) = g.out_hw();
    let hw = g.height * g.width;
    let inv = 1.0 / (g.kernel * g.kernel) as f32;
    for bc in 0..batch * g.channels {
        let plane = &mut dx[bc * hw..(bc + 1) * hw];
        for oy in 0..ho {
            for ox in 0..wo {
                let v = gy[(bc * ho + oy) * wo + ox] * inv;
                for ky in 0..g.kernel {
                    let row = (oy * g.stride + ky) * g.width + ox * g.stride;
                    plane[row..row + g.kernel].iter_mut().for_each(|d| *d += v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over planes enough for a part per thread, the gradient is the
    /// definition's: each output's gradient added where its window's
    /// maximum was (twice where stride-1 windows share it).
    #[test]
    fn max_pool_backward_adds_each_gradient_where_its_max_was() {
        let batch = 40;
        for (kernel, stride) in [(2, 2), (3, 1)] {
            let g = Geometry {
                channels: 6,
                height: 9,
                width: 8,
                kernel,
                stride,
                pad: 0,
            };
            let n = batch * g.channels * g.height * g.width;
            let x: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32).sin()).collect();
            let (y, arg) = max_pool(&x, batch, &g);
            for (v, &i) in y.iter().zip(&arg) {
                assert_eq!(*v, x[i as usize], "the argmax holds the maximum");
            }
            let gy: Vec<f32> = (0..y.len()).map(|i| (i % 7) as f32 - 3.0).collect();
            let mut want = vec![0.0; n];
            for (d, &i) in gy.iter().zip(&arg) {
                want[i as usize] += d;
            }
            assert_eq!(max_pool_backward(&gy, &arg, batch, &g), want);
        }
    }
}
