//! The integer product on AVX-VNNI (the 256-bit `vpdpbusd` of CPUs with
//! AVX2 but not AVX-512, such as Intel's client cores): a panel of 16
//! outputs as two 32-byte halves, tiles of 4 rows keeping 8 accumulators
//! in the 16 registers.

use std::arch::x86_64::*;

use super::panels::{Panels, LANES};

const MR: usize = 4;

/// As [`super::vnni512::product`].
///
/// # Safety
/// The CPU has AVX2 and AVX-VNNI; `x` holds `m * k4` bytes with
/// `k4 == w.k4`, `c` holds `m * w.panels * 16` values.
#[target_feature(enable = "avx2,avxvnni")]
pub unsafe fn product(x: &[u8], m: usize, w: &Panels, c: &mut [i32]) {
    let (k4, ldc, stride) = (w.k4, w.panels * LANES, w.stride());
    debug_assert!(x.len() >= m * k4 && c.len() >= m * ldc);
    let (x, wp, cp) = (x.as_ptr(), w.data.as_ptr(), c.as_mut_ptr());
    let mut r = 0;
    while r < m {
        let mr = (m - r).min(MR);
        for p in 0..w.panels {
            let (xr, wq) = (x.add(r * k4), wp.add(p * stride));
            let cq = cp.add(r * ldc + p * LANES);
            if mr == MR {
                tile::<MR>(xr, k4, wq, cq, ldc);
            } else {
                for i in 0..mr {
                    tile::<1>(xr.add(i * k4), k4, wq, cq.add(i * ldc), ldc);
                }
            }
        }
        r += mr;
    }
}

#[target_feature(enable = "avx2,avxvnni")]
#[inline]
unsafe fn tile<const R: usize>(x: *const u8, k4: usize, w: *const i8, c: *mut i32, ldc: usize) {
    let mut acc = [[_mm256_setzero_si256(); 2]; R];
    for g in 0..k4 / 4 {
        let w0 = _mm256_loadu_si256(w.add(g * 64) as *const __m256i);
        let w1 = _mm256_loadu_si256(w.add(g * 64 + 32) as *const __m256i);
        for (r, row) in acc.iter_mut().enumerate() {
            let a = _mm256_set1_epi32((x.add(r * k4 + g * 4) as *const i32).read_unaligned());
            row[0] = _mm256_dpbusd_avx_epi32(row[0], a, w0);
            row[1] = _mm256_dpbusd_avx_epi32(row[1], a, w1);
        }
    }
    for (r, row) in acc.iter().enumerate() {
        _mm256_storeu_si256(c.add(r * ldc) as *mut __m256i, row[0]);
        _mm256_storeu_si256(c.add(r * ldc + 8) as *mut __m256i, row[1]);
    }
}
