//! The direct convolution's kernels on AVX2 with FMA: AVX-512's loops
//! (`avx512.rs`) at eight lanes and in sixteen registers. Whole vectors run
//! on plain loads; only the last, partial one of each pass is masked, and
//! it is stored lane by lane (`store8`): AVX2's masked loads cost more than
//! plain ones, and AMD's masked stores a dozen cycles each.

use std::arch::x86_64::*;

use super::{blocks, Kernels, Wide};
use crate::kernels::lanes::{lanes8, masks8, store8};

pub(super) const KERNELS: Kernels = Kernels {
    lanes: 8,
    forward: forward_wide,
    dw: dw_wide,
    dx: for_each_width!(dx_passes),
};

/// Filters per forward block: 6 x 2 accumulators, two input vectors and a
/// broadcast fill 15 of the 16 registers.
const FORWARD_ROWS: usize = 6;
/// Taps and filters per weight-gradient block: 3 x 3 accumulators, three
/// input vectors and one of the gradient, 13 registers, two loads for
/// every three FMAs.
const DW_TAPS: usize = 3;
const DW_ROWS: usize = 3;

/// A vector at `p`: a plain load where the pass is whole (`FULL`), else
/// the lanes `m` holds and zero in the others.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn load<const FULL: bool>(p: *const f32, m: __m256i) -> __m256 {
    if FULL {
        _mm256_loadu_ps(p)
    } else {
        _mm256_maskload_ps(p, m)
    }
}

/// Runs `pass::<true>` over every whole span of `span` values of `0..len`
/// and `pass::<false>` over the partial one at the end.
macro_rules! spans {
    ($len:expr, $span:expr, |$j:ident, $full:ident| $pass:expr) => {{
        let (len, span) = ($len, $span);
        let whole = len / span * span;
        for $j in (0..whole).step_by(span) {
            const $full: bool = true;
            $pass;
        }
        if whole < len {
            let $j = whole;
            const $full: bool = false;
            $pass;
        }
    }};
}

#[target_feature(enable = "avx2,fma")]
unsafe fn forward_wide(x: &[f32], w: &[f32], bias: &[f32], n: usize, wd: &Wide, yw: &mut [f32]) {
    let taps = wd.offsets.len();
    for (first, rows) in blocks(n, FORWARD_ROWS) {
        let (wb, bb, yb) = (
            w.as_ptr().add(first * taps),
            bias.as_ptr().add(first),
            yw.as_mut_ptr().add(first * wd.len),
        );
        macro_rules! by_rows {
            ($($r:literal)*) => {
                match rows {
                    $($r => spans!(wd.len, 16, |j, FULL| {
                        forward_pass::<$r, FULL>(x.as_ptr(), wb, bb, &wd.offsets, wd.len, yb, j)
                    }),)*
                    _ => unreachable!("blocks are 1..=6 rows"),
                }
            };
        }
        by_rows!(1 2 3 4 5 6);
    }
}

/// Outputs `j..j + 16` of `R` filters.
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_pass<const R: usize, const FULL: bool>(
    x: *const f32,
    w: *const f32,
    bias: *const f32,
    offsets: &[usize],
    len: usize,
    y: *mut f32,
    j: usize,
) {
    let taps = offsets.len();
    let m = masks8::<2>(len - j);
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    for (r, row) in acc.iter_mut().enumerate() {
        let b = _mm256_broadcast_ss(&*bias.add(r));
        *row = [b, b];
    }
    for (t, &off) in offsets.iter().enumerate() {
        let p = x.add(off + j);
        let xv = [load::<FULL>(p, m[0]), load::<FULL>(p.wrapping_add(8), m[1])];
        for (r, row) in acc.iter_mut().enumerate() {
            let wv = _mm256_broadcast_ss(&*w.add(r * taps + t));
            row[0] = _mm256_fmadd_ps(wv, xv[0], row[0]);
            row[1] = _mm256_fmadd_ps(wv, xv[1], row[1]);
        }
    }
    let left = len - j;
    for (r, row) in acc.iter().enumerate() {
        let p = y.add(r * len + j);
        store8(p, row[0], left);
        store8(p.wrapping_add(8), row[1], left.saturating_sub(8));
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn dw_wide(x: &[f32], gyw: &[f32], n: usize, wd: &Wide, sums: &mut [f32]) {
    let taps = wd.offsets.len();
    for t0 in (0..taps).step_by(DW_TAPS) {
        let count = DW_TAPS.min(taps - t0);
        // Missing taps of the last group read tap t0 again; their sums are
        // dropped.
        let offs: [usize; DW_TAPS] =
            std::array::from_fn(|q| wd.offsets[t0 + if q < count { q } else { 0 }]);
        for (first, rows) in blocks(n, DW_ROWS) {
            let g = gyw.as_ptr().add(first * wd.len);
            let l = sums.as_mut_ptr().add((first * taps + t0) * 8);
            macro_rules! by_rows {
                ($($r:literal)*) => {
                    match rows {
                        $($r => dw_block::<$r>(x.as_ptr(), offs, count, g, wd.len, l, taps),)*
                        _ => unreachable!("blocks are 1..=3 rows"),
                    }
                };
            }
            by_rows!(1 2 3);
        }
    }
}

/// The weight-gradient sums of `R` filters by `DW_TAPS` taps, over the
/// whole wide row.
#[target_feature(enable = "avx2,fma")]
unsafe fn dw_block<const R: usize>(
    x: *const f32,
    offs: [usize; DW_TAPS],
    count: usize,
    gy: *const f32,
    len: usize,
    sums: *mut f32,
    taps: usize,
) {
    let mut acc = [[_mm256_setzero_ps(); DW_TAPS]; R];
    spans!(len, 8, |j, FULL| {
        let m = lanes8(len - j);
        let xv: [__m256; DW_TAPS] = std::array::from_fn(|q| load::<FULL>(x.add(offs[q] + j), m));
        for (r, row) in acc.iter_mut().enumerate() {
            let gv = load::<FULL>(gy.add(r * len + j), m);
            for (a, xq) in row.iter_mut().zip(xv) {
                *a = _mm256_fmadd_ps(gv, xq, *a);
            }
        }
    });
    for (r, row) in acc.iter().enumerate() {
        for (q, a) in row.iter().enumerate().take(count) {
            let p = sums.add((r * taps + q) * 8);
            _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), *a));
        }
    }
}

/// As AVX-512's: `V` vectors of `j` per pass.
#[target_feature(enable = "avx2,fma")]
unsafe fn dx_passes<const V: usize>(w: &[f32], gyw: &[f32], n: usize, wd: &Wide, dx: &mut [f32]) {
    let taps = wd.offsets.len();
    let (w, g, d) = (w.as_ptr(), gyw.as_ptr(), dx.as_mut_ptr());
    for (t, &off) in wd.offsets.iter().enumerate() {
        spans!(wd.len, 8 * V, |j, FULL| {
            dx_pass::<V, FULL>(
                w.add(t),
                taps,
                n,
                g.add(j),
                wd.len,
                d.add(off + j),
                wd.len - j,
            )
        });
    }
}

/// `dx[q] += Σ_r w[r * taps] · gy[r * len + q]` for the first `left`
/// (at most `8 V`) values `q`.
#[target_feature(enable = "avx2,fma")]
unsafe fn dx_pass<const V: usize, const FULL: bool>(
    w: *const f32,
    taps: usize,
    n: usize,
    gy: *const f32,
    len: usize,
    dx: *mut f32,
    left: usize,
) {
    let m = masks8::<V>(left);
    let mut acc = [_mm256_setzero_ps(); V];
    for r in 0..n {
        let wv = _mm256_broadcast_ss(&*w.add(r * taps));
        let row = gy.add(r * len);
        for (q, a) in acc.iter_mut().enumerate() {
            *a = _mm256_fmadd_ps(wv, load::<FULL>(row.wrapping_add(8 * q), m[q]), *a);
        }
    }
    for (q, a) in acc.iter().enumerate() {
        let p = dx.wrapping_add(8 * q);
        let here = left.saturating_sub(8 * q);
        if FULL || here > 0 {
            store8(p, _mm256_add_ps(load::<FULL>(p, m[q]), *a), here);
        }
    }
}
