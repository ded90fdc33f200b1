//! Activations quantized at run time, one scale and zero point per batch
//! row, as unsigned bytes: `x ≈ (q - zero) * scale` with `q` in 0..=255.
//!
//! Dynamic (per row, per call) rather than calibrated: nothing to calibrate
//! on or to store, no accuracy lost when inputs drift from the training
//! batches, and a row's pass over its values costs `k` against the product's
//! `k * n`. Asymmetric, because ReLU outputs are never negative: a
//! symmetric scale would spend half of the 256 levels on values that never
//! occur.

/// A batch's rows as bytes, each row `k4` long (`k` rounded up to a whole
/// number of 4-byte groups, the padding zero).
pub struct QuantRows {
    pub q: Vec<u8>,
    pub k4: usize,
    pub scales: Vec<f32>,
    pub zeros: Vec<i32>,
}

/// `k` rounded up to a multiple of 4: the dot-product instructions take
/// four bytes per lane.
pub fn padded(k: usize) -> usize {
    k.div_ceil(4) * 4
}

impl QuantRows {
    pub fn new(x: &[f32], m: usize, k: usize) -> QuantRows {
        let k4 = padded(k);
        let mut q = vec![0u8; m * k4];
        let mut scales = Vec::with_capacity(m);
        let mut zeros = Vec::with_capacity(m);
        for (row, out) in x.chunks(k.max(1)).take(m).zip(q.chunks_mut(k4.max(1))) {
            let (scale, zero) = quantize_row(row, out);
            scales.push(scale);
            zeros.push(zero);
        }
        QuantRows {
            q,
            k4,
            scales,
            zeros,
        }
    }
}

/// One row's bytes into `out` (at least as long), on the widest vectors
/// this CPU has; its scale and zero point.
pub fn quantize_row(row: &[f32], out: &mut [u8]) -> (f32, i32) {
    assert!(out.len() >= row.len(), "a byte per value");
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F; `out` is at least `row` long.
        return unsafe { wide::quantize(row, out) };
    }
    quantize(row, out)
}

/// A row's scale and zero point from its extremes. The range always holds
/// 0, so that 0 is exact (padding, ReLU).
fn scale_and_zero(lo: f32, hi: f32) -> (f32, f32) {
    let scale = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
    (scale, (-lo / scale).round().clamp(0.0, 255.0))
}

/// The bytes of `row` into `out`: `⌊x / scale + zero + ½⌋` within 0..=255
/// (a NaN becomes 0). Both versions do these very operations in this
/// order, so they give the same bytes.
fn quantize(row: &[f32], out: &mut [u8]) -> (f32, i32) {
    let (lo, hi) = row
        .iter()
        .fold((0f32, 0f32), |(a, b), v| (a.min(*v), b.max(*v)));
    let (scale, zero) = scale_and_zero(lo, hi);
    let (inv, half_up) = (1.0 / scale, zero + 0.5);
    for (o, v) in out.iter_mut().zip(row) {
        // Not `clamp`: it keeps a NaN, and `max` turns it into 0.
        #[allow(clippy::manual_clamp)]
        let t = (v * inv + half_up).max(0.0).min(255.0);
        // SAFETY: `t` is within 0..=255 (never NaN: `max` drops it).
        *o = unsafe { t.to_int_unchecked::<i32>() } as u8;
    }
    (scale, zero as i32)
}

#[cfg(target_arch = "x86_64")]
mod wide {
    use std::arch::x86_64::*;

    /// [`super::quantize`], sixteen values at a time.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `out` is at least `row` long.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn quantize(row: &[f32], out: &mut [u8]) -> (f32, i32) {
        let (n, p, o) = (row.len(), row.as_ptr(), out.as_mut_ptr());
        let tail = (1u16 << (n % 16)) - 1;
        let (mut lo, mut hi) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        for i in 0..n / 16 {
            let v = _mm512_loadu_ps(p.add(16 * i));
            // NaN lanes keep the running extreme (the second operand).
            lo = _mm512_min_ps(v, lo);
            hi = _mm512_max_ps(v, hi);
        }
        let v = _mm512_maskz_loadu_ps(tail, p.add(n / 16 * 16));
        lo = _mm512_min_ps(v, lo);
        hi = _mm512_max_ps(v, hi);
        let (scale, zero) =
            super::scale_and_zero(_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi));
        let inv = _mm512_set1_ps(1.0 / scale);
        let half_up = _mm512_set1_ps(zero + 0.5);
        let (floor, ceiling) = (_mm512_setzero_ps(), _mm512_set1_ps(255.0));
        let bytes = |v: __m512| {
            let t = _mm512_add_ps(_mm512_mul_ps(v, inv), half_up);
            // A NaN lane takes the second operand, 0, as `f32::max` does.
            let t = _mm512_min_ps(_mm512_max_ps(t, floor), ceiling);
            _mm512_cvttps_epi32(t)
        };
        for i in 0..n / 16 {
            let b = bytes(_mm512_loadu_ps(p.add(16 * i)));
            _mm512_mask_cvtepi32_storeu_epi8(o.add(16 * i) as *mut i8, 0xffff, b);
        }
        let b = bytes(_mm512_maskz_loadu_ps(tail, p.add(n / 16 * 16)));
        _mm512_mask_cvtepi32_storeu_epi8(o.add(n / 16 * 16) as *mut i8, tail, b);
        (scale, zero as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wide_and_the_portable_bytes_agree_exactly() {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") {
            for n in [1, 15, 16, 17, 40, 784] {
                let mut row: Vec<f32> = (0..n)
                    .map(|i| ((i * 7919 % 1013) as f32 - 300.0) / 97.0)
                    .collect();
                row[n / 2] = f32::NAN;
                let (mut a, mut b) = (vec![0u8; n], vec![0u8; n]);
                let pa = quantize(&row, &mut a);
                // SAFETY: checked above; `b` is as long as `row`.
                let pb = unsafe { wide::quantize(&row, &mut b) };
                assert_eq!(pa, pb, "{n}");
                assert_eq!(a, b, "{n}");
                assert_eq!(a[n / 2], 0, "a NaN is 0");
            }
        }
    }

    #[test]
    fn rows_round_trip_within_half_a_step_and_zero_is_exact() {
        let x = [-1.0, 0.0, 0.5, 3.0, 0.0, 0.25, 0.75, 1.0, 2.0, 0.0];
        let r = QuantRows::new(&x, 2, 5);
        assert_eq!(r.k4, 8);
        for (i, row) in x.chunks(5).enumerate() {
            let (s, z) = (r.scales[i], r.zeros[i]);
            for (j, v) in row.iter().enumerate() {
                let back = (r.q[i * 8 + j] as i32 - z) as f32 * s;
                assert!((back - v).abs() <= s / 2.0 + 1e-6, "{v} vs {back}");
                if *v == 0.0 {
                    assert_eq!(back, 0.0);
                }
            }
            assert!(r.q[i * 8 + 5..i * 8 + 8].iter().all(|b| *b == 0));
        }
        // A row without negatives uses the whole range from zero.
        assert_eq!(r.zeros[1], 0);
        assert!((r.scales[1] - 2.0 / 255.0).abs() < 1e-7);
    }
}
