//! The first `n` lanes of a vector, for the kernels' partial vectors at the
//! end of a row: AVX-512's masks, and AVX2's (a vector of all-ones lanes
//! for `maskload`) with a store that avoids `maskstore`.

use std::arch::x86_64::*;

/// The first `n` (at most 16) lanes, as AVX-512's masked loads and stores
/// take them.
#[inline(always)]
pub(crate) fn lanes(n: usize) -> __mmask16 {
    ((1u32 << n.min(16)) - 1) as __mmask16
}

/// The masks of `V` consecutive vectors of 16 that hold the first `n`
/// values of a row.
#[inline(always)]
pub(crate) fn masks16<const V: usize>(n: usize) -> [__mmask16; V] {
    std::array::from_fn(|q| lanes(n.saturating_sub(16 * q)))
}

/// The first `n` (at most 8) lanes, as AVX2's masked loads take them.
#[inline(always)]
pub(crate) unsafe fn lanes8(n: usize) -> __m256i {
    let index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_cmpgt_epi32(_mm256_set1_epi32(n.min(8) as i32), index)
}

/// The masks of `V` consecutive vectors of 8 that hold the first `n`
/// values of a row. Compiled for AVX2 itself: `inline(always)` alone left
/// the array's closure out of line in the direct convolution's input
/// gradient, a call per mask, which ran it 4x slower.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) unsafe fn masks8<const V: usize>(n: usize) -> [__m256i; V] {
    std::array::from_fn(|q| lanes8(n.saturating_sub(8 * q)))
}

/// The first `n` (at most 8) lanes of `v` to `dst`: a plain store for all
/// eight, else lane by lane (AMD's cores run a masked store as a string of
/// micro-ops, about a dozen cycles each).
#[inline(always)]
pub(crate) unsafe fn store8(dst: *mut f32, v: __m256, n: usize) {
    if n >= 8 {
        return _mm256_storeu_ps(dst, v);
    }
    let mut lanes = [0f32; 8];
    _mm256_storeu_ps(lanes.as_mut_ptr(), v);
    for (i, x) in lanes.iter().enumerate().take(n) {
        *dst.add(i) = *x;
    }
}
