//! The copies that lay operands out for the micro-kernel: the right-hand
//! side in panels of [`NR`] columns, the left-hand side in strips of at
//! most [`MR`] rows. Transposed operands are taken here, 16 x 16 at a time
//! in registers.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::{Strided, MR, NR};
#[cfg(target_arch = "x86_64")]
use crate::kernels::lanes::{lanes, masks16};

/// Copies `b[pc.., jc..]` (`kc x nc`) into panels of `NR` columns, each
/// `kc` rows of `NR` values, zero-padding the last panel.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn pack_b(b: Strided, pc: usize, kc: usize, jc: usize, nc: usize, out: *mut f32) {
    for panel in 0..nc.div_ceil(NR) {
        let j0 = jc + panel * NR;
        let cols = NR.min(jc + nc - j0);
        let dst = out.add(panel * kc * NR);
        if b.cs == 1 {
            // Rows are contiguous: two masked loads per row, which also
            // zero the padding (a `copy` of a run-time length is a call).
            let [m0, m1] = masks16(cols);
            for p in 0..kc {
                let (src, d) = (b.at(pc + p, j0), dst.add(p * NR));
                _mm512_store_ps(d, _mm512_maskz_loadu_ps(m0, src));
                // Past a narrow edge the address is formed, never read.
                _mm512_store_ps(d.add(16), _mm512_maskz_loadu_ps(m1, src.wrapping_add(16)));
            }
        } else if b.rs == 1 {
            // Columns are contiguous (a transposed operand): 16 x 16 blocks
            // transposed in registers. Columns past the edge read as zero.
            for half in [0, 16] {
                let here = cols.saturating_sub(half).min(16);
                let whole = kc - kc % 16;
                for p0 in (0..whole).step_by(16) {
                    let column = |i: usize| _mm512_loadu_ps(b.at(pc + p0, j0 + half + i));
                    // Whole blocks load without a test per column: the
                    // tests compiled to a chain of branches and a spill of
                    // the block, half the cost of packing a weight.
                    let block = transpose16(match here {
                        16 => std::array::from_fn(column),
                        _ => std::array::from_fn(|i| match i < here {
                            true => column(i),
                            false => _mm512_setzero_ps(),
                        }),
                    });
                    for (q, v) in block.iter().enumerate() {
                        _mm512_store_ps(dst.add((p0 + q) * NR + half), *v);
                    }
                }
                for p in whole..kc {
                    for i in 0..16 {
                        *dst.add(p * NR + half + i) = if i < here {
                            *b.at(pc + p, j0 + half + i)
                        } else {
                            0.0
                        };
                    }
                }
            }
        } else {
            panel_any_layout(b, (pc, kc), (j0, cols), dst);
        }
    }
}

/// One panel of `b` in any layout, element by element: `b[pc.., j0..]`
/// (`kc x cols`), zero-padded to `NR` columns.
pub(super) unsafe fn panel_any_layout(
    b: Strided,
    (pc, kc): (usize, usize),
    (j0, cols): (usize, usize),
    dst: *mut f32,
) {
    for p in 0..kc {
        for jj in 0..NR {
            *dst.add(p * NR + jj) = match jj < cols {
                true => *b.at(pc + p, j0 + jj),
                false => 0.0,
            };
        }
    }
}

/// One strip of `a` in any layout, element by element: rows `row..row +
/// rows`, depth `pc..pc + kc`, stored `kc` columns of `rows` values.
pub(super) unsafe fn strip_any_layout(
    a: Strided,
    (row, rows): (usize, usize),
    (pc, kc): (usize, usize),
    dst: *mut f32,
) {
    for p in 0..kc {
        for r in 0..rows {
            *dst.add(p * rows + r) = *a.at(row + r, pc + p);
        }
    }
}

/// The last columns of a strip whose rows are contiguous, past the whole
/// blocks the transposes took: depth `p0..p0 + count`, row by row.
pub(super) unsafe fn strip_tail(
    a: Strided,
    (row, rows): (usize, usize),
    (p0, count): (usize, usize),
    dst: *mut f32,
) {
    for r in 0..rows {
        let src = a.at(row + r, p0);
        for p in 0..count {
            *dst.add(p * rows + r) = *src.add(p);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn pack_b(_: Strided, _: usize, _: usize, _: usize, _: usize, _: *mut f32) {
    unreachable!("`available` is false off x86-64")
}

/// Transposes a 16 x 16 block: lane `j` of `r[i]` becomes lane `i` of
/// the result's `j`. Interleave pairs, then quadruples, then 128-bit
/// quarters twice.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
    // Pairs: t[2k] = lo(r[2k], r[2k+1]), t[2k+1] = hi(...).
    let t: [__m512; 16] = std::array::from_fn(|i| {
        let (a, b) = (r[i & !1], r[i | 1]);
        if i % 2 == 0 {
            _mm512_unpacklo_ps(a, b)
        } else {
            _mm512_unpackhi_ps(a, b)
        }
    });
    // Quadruples, within each group of four: from t[g], t[g+2] and
    // t[g+1], t[g+3].
    let u: [__m512; 16] = std::array::from_fn(|i| {
        let g = i & !3;
        let (a, b) = if i % 4 < 2 {
            (t[g], t[g + 2])
        } else {
            (t[g + 1], t[g + 3])
        };
        if i % 2 == 0 {
            _mm512_shuffle_ps::<0b01_00_01_00>(a, b)
        } else {
            _mm512_shuffle_ps::<0b11_10_11_10>(a, b)
        }
    });
    // 128-bit quarters: even then odd quarters of u[i], u[i+4].
    let v: [__m512; 16] = std::array::from_fn(|i| {
        let (g, k) = (i & !7, i % 8);
        let (a, b) = (u[g + k % 4], u[g + k % 4 + 4]);
        if k < 4 {
            _mm512_shuffle_f32x4::<0x88>(a, b)
        } else {
            _mm512_shuffle_f32x4::<0xdd>(a, b)
        }
    });
    std::array::from_fn(|i| {
        let (a, b) = (v[i % 8], v[i % 8 + 8]);
        if i < 8 {
            _mm512_shuffle_f32x4::<0x88>(a, b)
        } else {
            _mm512_shuffle_f32x4::<0xdd>(a, b)
        }
    })
}

/// `mc` rows cut into strips of balanced heights, at most [`MR`] each: 13
/// rows are strips of 7 and 6, not 12 and 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Strips {
    count: usize,
    base: usize,
    extra: usize,
}

impl Strips {
    pub(super) fn new(mc: usize) -> Strips {
        let count = mc.div_ceil(MR);
        let (base, extra) = (mc / count.max(1), mc % count.max(1));
        Strips { count, base, extra }
    }

    /// The strips' heights, first to last (the first `extra` are a row
    /// taller than the rest).
    pub(super) fn heights(self) -> impl Iterator<Item = usize> {
        (0..self.count).map(move |s| self.base + usize::from(s < self.extra))
    }
}

/// Copies a strip whose rows are contiguous (rows `row..row + rows`,
/// from depth `pc`, `kc` deep) in whole blocks of a kernel's transposes;
/// returns the depth the blocks covered, the rest left to [`pack_a`].
pub(super) type StripBlocks = unsafe fn(Strided, (usize, usize), (usize, usize), *mut f32) -> usize;

/// Copies `a[ic.., pc..]` (`mc x kc`) into [`Strips`], each stored `kc`
/// columns of `rows` values: contiguous rows by `blocks` (the kernel's
/// transposes) and value by value past them, other layouts element by
/// element.
///
/// # Safety
/// Every `(r, c)` of the block must be in bounds of `a`, `out` must hold
/// `mc * kc` values, and the CPU must run `blocks`.
#[inline(always)]
pub(super) unsafe fn pack_a(
    a: Strided,
    (ic, mc): (usize, usize),
    (pc, kc): (usize, usize),
    out: *mut f32,
    blocks: StripBlocks,
) -> Strips {
    let strips = Strips::new(mc);
    let (mut row, mut dst) = (ic, out);
    for rows in strips.heights() {
        if a.cs == 1 {
            let whole = blocks(a, (row, rows), (pc, kc), dst);
            strip_tail(
                a,
                (row, rows),
                (pc + whole, kc - whole),
                dst.add(whole * rows),
            );
        } else {
            strip_any_layout(a, (row, rows), (pc, kc), dst);
        }
        row += rows;
        dst = dst.add(rows * kc);
    }
    strips
}

/// [`StripBlocks`] on AVX-512: 16 x 16 blocks transposed in registers,
/// `rows` lanes of each stored.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn strip_blocks(
    a: Strided,
    (row, rows): (usize, usize),
    (pc, kc): (usize, usize),
    dst: *mut f32,
) -> usize {
    let whole = kc - kc % 16;
    let keep = lanes(rows);
    for p0 in (0..whole).step_by(16) {
        let block = transpose16(std::array::from_fn(|r| {
            if r < rows {
                _mm512_loadu_ps(a.at(row + r, pc + p0))
            } else {
                _mm512_setzero_ps()
            }
        }));
        for (q, v) in block.iter().enumerate() {
            _mm512_mask_storeu_ps(dst.add((p0 + q) * rows), keep, *v);
        }
    }
    whole
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn strip_blocks(
    _: Strided,
    _: (usize, usize),
    _: (usize, usize),
    _: *mut f32,
) -> usize {
    unreachable!("`available` is false off x86-64")
}

/// Checks a transpose of an `n x n` block: `transpose(m, out)` must leave
/// `out[n * j + i] == m[n * i + j]`.
#[cfg(test)]
pub(super) fn check_transpose(n: usize, transpose: impl FnOnce(&[f32], &mut [f32])) {
    let m: Vec<f32> = (0..n * n).map(|i| i as f32).collect();
    let mut out = vec![0f32; n * n];
    transpose(&m, &mut out);
    for i in 0..n {
        for j in 0..n {
            assert_eq!(out[n * j + i], m[n * i + j], "({i}, {j})");
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::kernels::packed::avx512;

    #[test]
    fn transpose16_transposes() {
        if !avx512() {
            return;
        }
        check_transpose(16, |m, out| {
            // SAFETY: the CPU has AVX-512F; every load and store is inside
            // the 256-value blocks.
            unsafe {
                let t = transpose16(std::array::from_fn(|i| {
                    _mm512_loadu_ps(m.as_ptr().add(16 * i))
                }));
                for (i, v) in t.iter().enumerate() {
                    _mm512_storeu_ps(out.as_mut_ptr().add(16 * i), *v);
                }
            }
        });
    }
}
