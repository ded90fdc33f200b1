//! The packed product on CPUs with AVX2 and FMA but no AVX-512 (AMD before
//! Zen 4, Intel's client cores): the same panels and strips as the
//! AVX-512 kernel, so a prepared right-hand side is laid out alike, copied
//! with 8 x 8 transposes in registers and multiplied six rows by sixteen
//! columns at a time: twelve independent sums, more than the eight that
//! two FMA units of latency 4 need, and each half panel read from L1 once
//! per six rows, not once per two (a two-row kernel over whole panels
//! reached 65% of the peak on the MLP's product).
//!
//! Without it, those CPUs ran the gemm crate: measured on an AMD EPYC with
//! AVX-512 declined (`DLWB_NO_AVX512`), LSTM inference ran at 0.87x
//! PyTorch's speed on one thread.

use std::arch::x86_64::*;

use super::{Strided, NR};
use crate::kernels::lanes::{masks8, store8};

/// Rows per call of the micro-kernel, against half a panel: 6 x 2
/// accumulators, two registers of the panel and a broadcast fill 15 of the
/// 16 registers (BLIS's Haswell kernel has the same shape).
const ROWS: usize = 6;
/// Columns per call: half a panel.
const HALF: usize = NR / 2;

/// Transposes an 8 x 8 block: lane `j` of `r[i]` becomes lane `i` of the
/// result's `j`. Interleave pairs, then quadruples, then 128-bit halves.
#[target_feature(enable = "avx2,fma")]
unsafe fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
    let t: [__m256; 8] = std::array::from_fn(|i| {
        let (a, b) = (r[(i / 2) * 2], r[(i / 2) * 2 + 1]);
        match i % 2 {
            0 => _mm256_unpacklo_ps(a, b),
            _ => _mm256_unpackhi_ps(a, b),
        }
    });
    // u[g + s]: from t[g + s / 2] and t[g + 2 + s / 2], g in {0, 4}.
    let u: [__m256; 8] = std::array::from_fn(|i| {
        let (g, s) = (i & !3, i % 4);
        let (a, b) = (t[g + s / 2], t[g + 2 + s / 2]);
        match s % 2 {
            0 => _mm256_shuffle_ps::<0x44>(a, b),
            _ => _mm256_shuffle_ps::<0xEE>(a, b),
        }
    });
    std::array::from_fn(|j| {
        let (a, b) = (u[j % 4], u[j % 4 + 4]);
        match j < 4 {
            true => _mm256_permute2f128_ps::<0x20>(a, b),
            false => _mm256_permute2f128_ps::<0x31>(a, b),
        }
    })
}

/// Copies `b[pc.., jc..]` (`kc x nc`) into panels of `NR` columns, as
/// the AVX-512 `pack_b` lays them out.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn pack_b(b: Strided, pc: usize, kc: usize, jc: usize, nc: usize, out: *mut f32) {
    for panel in 0..nc.div_ceil(NR) {
        let j0 = jc + panel * NR;
        let cols = NR.min(jc + nc - j0);
        let dst = out.add(panel * kc * NR);
        if b.cs == 1 {
            // Masked loads read nothing past the edge and zero the padding.
            let masks = masks8::<4>(cols);
            for p in 0..kc {
                let (src, d) = (b.at(pc + p, j0), dst.add(p * NR));
                for (q, mask) in masks.iter().enumerate() {
                    let v = _mm256_maskload_ps(src.wrapping_add(8 * q), *mask);
                    _mm256_store_ps(d.add(8 * q), v);
                }
            }
        } else if b.rs == 1 {
            transposed_panel(b, (pc, kc), (j0, cols), dst);
        } else {
            super::pack::panel_any_layout(b, (pc, kc), (j0, cols), dst);
        }
    }
}

/// One panel of a transposed operand (columns contiguous): 8 x 8 blocks
/// transposed in registers, columns past the edge zero.
#[target_feature(enable = "avx2,fma")]
unsafe fn transposed_panel(
    b: Strided,
    (pc, kc): (usize, usize),
    (j0, cols): (usize, usize),
    dst: *mut f32,
) {
    let whole = kc - kc % 8;
    for group in (0..NR).step_by(8) {
        let here = cols.saturating_sub(group).min(8);
        for p0 in (0..whole).step_by(8) {
            let block = transpose8(std::array::from_fn(|i| match i < here {
                true => _mm256_loadu_ps(b.at(pc + p0, j0 + group + i)),
                false => _mm256_setzero_ps(),
            }));
            for (q, v) in block.iter().enumerate() {
                _mm256_store_ps(dst.add((p0 + q) * NR + group), *v);
            }
        }
        for p in whole..kc {
            for i in 0..8 {
                *dst.add(p * NR + group + i) = match i < here {
                    true => *b.at(pc + p, j0 + group + i),
                    false => 0.0,
                };
            }
        }
    }
}

/// [`StripBlocks`](super::pack::StripBlocks) on AVX2: 8 x 8 blocks
/// transposed in registers, eight rows at a time.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn strip_blocks(
    a: Strided,
    (row, rows): (usize, usize),
    (pc, kc): (usize, usize),
    dst: *mut f32,
) -> usize {
    let whole = kc - kc % 8;
    for g in (0..rows).step_by(8) {
        let here = (rows - g).min(8);
        for p0 in (0..whole).step_by(8) {
            let block = transpose8(std::array::from_fn(|r| match r < here {
                true => _mm256_loadu_ps(a.at(row + g + r, pc + p0)),
                false => _mm256_setzero_ps(),
            }));
            for (q, v) in block.iter().enumerate() {
                store8(dst.add((p0 + q) * rows + g), *v, here);
            }
        }
    }
    whole
}

/// `c[rows, cols] (+)= strip · panel`: each half of the panel (16
/// columns) against the strip's rows six at a time.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) unsafe fn micro(
    rows: usize,
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    load: bool,
) {
    for half in (0..cols).step_by(HALF) {
        let here = (cols - half).min(HALF);
        for r in (0..rows).step_by(ROWS) {
            let (a, c) = ((a.add(r), rows), c.add(r * ldc + half));
            let b = b.add(half);
            macro_rules! by_rows {
                ($($n:literal)*) => {
                    match (rows - r).min(ROWS) {
                        $($n => kernel::<$n>(kc, a, b, (c, ldc), here, load),)*
                        _ => unreachable!("1..={ROWS} rows at a time"),
                    }
                };
            }
            by_rows!(1 2 3 4 5 6);
        }
    }
}

/// `c[R, cols] (+)= a[R, kc] · b[kc, HALF]`, `a`'s rows `R` of a strip
/// `lda` rows tall (value `(r, p)` at `a[p * lda + r]`), `b` half a panel
/// (rows `NR` apart), `cols <= HALF` columns of `c` read and written.
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel<const R: usize>(
    kc: usize,
    (a, lda): (*const f32, usize),
    b: *const f32,
    (c, ldc): (*mut f32, usize),
    cols: usize,
    load: bool,
) {
    // No masked stores (see `store_lanes`: they cost this kernel a fifth
    // of its speed), and masked loads only at the matrix edge.
    let whole = cols == HALF;
    let masks = masks8::<2>(cols);
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    if load {
        for (r, row) in acc.iter_mut().enumerate() {
            for (q, v) in row.iter_mut().enumerate() {
                let at = c.add(r * ldc).wrapping_add(8 * q);
                *v = match whole {
                    true => _mm256_loadu_ps(at),
                    false => _mm256_maskload_ps(at, masks[q]),
                };
            }
        }
    }
    for p in 0..kc {
        let bp = b.add(p * NR);
        let (b0, b1) = (_mm256_load_ps(bp), _mm256_load_ps(bp.add(8)));
        for (r, row) in acc.iter_mut().enumerate() {
            let av = _mm256_broadcast_ss(&*a.add(p * lda + r));
            row[0] = _mm256_fmadd_ps(av, b0, row[0]);
            row[1] = _mm256_fmadd_ps(av, b1, row[1]);
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (q, v) in row.iter().enumerate() {
            let at = c.add(r * ldc).wrapping_add(8 * q);
            match whole {
                true => _mm256_storeu_ps(at, *v),
                false => store8(at, *v, cols.saturating_sub(8 * q).min(8)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose8_transposes() {
        if !std::is_x86_feature_detected!("avx2") || !std::is_x86_feature_detected!("fma") {
            return;
        }
        super::super::pack::check_transpose(8, |m, out| {
            // SAFETY: the CPU has AVX2 and FMA; every load and store is
            // inside the 64-value blocks.
            unsafe {
                let t = transpose8(std::array::from_fn(|i| {
                    _mm256_loadu_ps(m.as_ptr().add(8 * i))
                }));
                for (i, v) in t.iter().enumerate() {
                    _mm256_storeu_ps(out.as_mut_ptr().add(8 * i), *v);
                }
            }
        });
    }
}
