//! A packed AVX-512 matrix product for any operand layout.
//!
//! The loops are BLIS's: the right-hand side is copied into panels of
//! [`NR`] columns and the left-hand side into strips of at most [`MR`]
//! rows, each `KC` deep, so the micro-kernel reads both contiguously and
//! keeps a `rows x 32` block of the result in registers. Packing is also
//! what takes transposed operands: a weight matrix used as `Wᵀ` costs one
//! copy per block (16 x 16 transposes in registers), not a transpose of
//! its own.
//!
//! The gemm crate that dfdx uses has only AVX2 micro-kernels on stable
//! Rust, which leaves half of an AVX-512 core idle; it remains the path on
//! CPUs without AVX-512 (see `matmul.rs`).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;
use std::cell::RefCell;
use std::sync::OnceLock;

/// Columns per panel: two registers of 16 lanes.
pub const NR: usize = 32;
/// Rows per strip at most: 12 x 2 accumulators leave registers for the
/// right-hand side and the broadcast.
pub const MR: usize = 12;
/// Depth of one block: a packed panel (`KC x NR`, 32 KiB) stays in L1.
const KC: usize = 256;
/// Rows of the left-hand side packed at once (a block stays in L2).
const MC: usize = 144;
/// Columns of the right-hand side packed at once.
const NC: usize = 2048;

/// Whether this CPU runs the kernel.
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// An operand: element `(r, c)` lives at `ptr[r * rs + c * cs]`.
#[derive(Clone, Copy)]
pub struct Strided {
    pub ptr: *const f32,
    pub rs: usize,
    pub cs: usize,
}

impl Strided {
    #[inline(always)]
    unsafe fn at(&self, r: usize, c: usize) -> *const f32 {
        self.ptr.add(r * self.rs + c * self.cs)
    }
}

/// Reusable packing buffers, one pair per thread, so that a training step
/// allocates (and zeroes) nothing here.
struct Buffers {
    a: Vec<f32>,
    b: Vec<f32>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = const { RefCell::new(Buffers { a: Vec::new(), b: Vec::new() }) };
}

/// A 64-byte aligned slice of at least `len` values inside `v`.
fn aligned(v: &mut Vec<f32>, len: usize) -> *mut f32 {
    if v.len() < len + 16 {
        v.resize(len + 16, 0.0);
    }
    let offset = v.as_ptr().align_offset(64).min(15);
    // SAFETY: offset + len <= v.len() by the resize above.
    unsafe { v.as_mut_ptr().add(offset) }
}

/// A buffer holding `len` values from a 64-byte aligned offset, all
/// written by `fill`, with no pass zeroing them first (a weight packed
/// every training step is hundreds of kilobytes, and that pass ran on one
/// thread before the product split); the values around them are zeroed.
/// The buffer and the offset.
///
/// # Safety
/// `fill` writes every one of the `len` values from the pointer it gets.
unsafe fn written_aligned(len: usize, fill: impl FnOnce(*mut f32)) -> (Vec<f32>, usize) {
    let mut v = Vec::<f32>::with_capacity(len + 16);
    let base = v.as_mut_ptr();
    let offset = base.align_offset(64).min(15);
    fill(base.add(offset));
    for i in (0..offset).chain(offset + len..len + 16) {
        base.add(i).write(0.0);
    }
    // SAFETY: `fill` wrote `offset..offset + len`, the loop the rest.
    v.set_len(len + 16);
    (v, offset)
}

/// `c[m, n] (+)= a[m, k] · b[k, n]`; `c` is row-major with row stride
/// `ldc`. Accumulates into `c` when `acc`, else overwrites it.
///
/// # Safety
/// [`available`] must be true; every `(r, c)` inside the given sizes must
/// be in bounds of its operand, and `c` must not overlap `a` or `b`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm(
    m: usize,
    n: usize,
    k: usize,
    a: Strided,
    b: Strided,
    c: *mut f32,
    ldc: usize,
    acc: bool,
) {
    debug_assert!(available());
    BUFFERS.with(|buffers| {
        let mut buffers = buffers.borrow_mut();
        let Buffers { a: pa, b: pb } = &mut *buffers;
        let depth = block_depth(k);
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            for (block, pc) in (0..k).step_by(depth).enumerate() {
                let kc = depth.min(k - pc);
                let bp = aligned(pb, nc.div_ceil(NR) * kc * NR);
                pack_b(b, pc, kc, jc, nc, bp);
                let load = acc || block > 0;
                block_product(m, a, pc, kc, bp, jc, nc, c, ldc, load, pa);
            }
        }
    });
}

/// The depth of the blocks `k` is cut into, all equal: 784 is four blocks
/// of 196, not three of 256 and one of 16.
fn block_depth(k: usize) -> usize {
    k.div_ceil(k.div_ceil(KC)).max(1)
}

/// A right-hand side packed once for many products (a weight matrix used
/// at every step of a sequence, or for every batch of an evaluation).
pub struct PackedB {
    k: usize,
    n: usize,
    data: Vec<f32>,
    /// Where the packed values start in `data` (64-byte aligned).
    offset: usize,
}

// SAFETY: the packed copy owns its values and is only read after packing.
unsafe impl Send for PackedB {}
unsafe impl Sync for PackedB {}

impl PackedB {
    /// Packs `b` (`k x n`).
    ///
    /// # Safety
    /// [`available`] must be true and every `(r, c)` in `k x n` in bounds.
    pub unsafe fn new(b: Strided, k: usize, n: usize) -> Self {
        let depth = block_depth(k);
        let total = n.div_ceil(NR) * NR * k;
        // SAFETY: the panels below fill `total` values: `pack_b` writes
        // each panel whole, padding included, and NC is a multiple of NR.
        let (data, offset) = written_aligned(total, |start| {
            let mut at = start;
            for jc in (0..n).step_by(NC) {
                let nc = NC.min(n - jc);
                for pc in (0..k).step_by(depth) {
                    let kc = depth.min(k - pc);
                    pack_b(b, pc, kc, jc, nc, at);
                    at = at.add(nc.div_ceil(NR) * kc * NR);
                }
            }
        });
        PackedB { k, n, data, offset }
    }

    pub fn rows(&self) -> usize {
        self.k
    }

    pub fn cols(&self) -> usize {
        self.n
    }

    /// `c[m, n] (+)= a[m, k] · self`.
    ///
    /// # Safety
    /// [`available`] must be true; `a` must hold `m x k` and `c` (row
    /// stride `ldc`) `m x n` in bounds, not overlapping `a`.
    pub unsafe fn product(&self, m: usize, a: Strided, c: *mut f32, ldc: usize, acc: bool) {
        let (k, n) = (self.k, self.n);
        let depth = block_depth(k);
        BUFFERS.with(|buffers| {
            let pa = &mut buffers.borrow_mut().a;
            let mut at = self.data.as_ptr().add(self.offset);
            for jc in (0..n).step_by(NC) {
                let nc = NC.min(n - jc);
                for (block, pc) in (0..k).step_by(depth).enumerate() {
                    let kc = depth.min(k - pc);
                    let load = acc || block > 0;
                    block_product(m, a, pc, kc, at, jc, nc, c, ldc, load, pa);
                    at = at.add(nc.div_ceil(NR) * kc * NR);
                }
            }
        });
    }
}

/// One depth block against packed columns `jc..jc + nc`: `a`'s rows are
/// packed `MC` at a time and every strip meets every panel.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn block_product(
    m: usize,
    a: Strided,
    pc: usize,
    kc: usize,
    bp: *const f32,
    jc: usize,
    nc: usize,
    c: *mut f32,
    ldc: usize,
    load: bool,
    pa: &mut Vec<f32>,
) {
    for ic in (0..m).step_by(MC) {
        let mc = MC.min(m - ic);
        let ap = aligned(pa, mc * kc);
        let strips = pack_a(a, ic, mc, pc, kc, ap);
        for panel in 0..nc.div_ceil(NR) {
            let j = jc + panel * NR;
            let cols = NR.min(jc + nc - j);
            let bpanel = bp.add(panel * kc * NR);
            let mut a_off = 0;
            let mut row = ic;
            for &rows in strips.iter().take_while(|&&r| r > 0) {
                micro(
                    rows,
                    kc,
                    ap.add(a_off),
                    bpanel,
                    c.add(row * ldc + j),
                    ldc,
                    cols,
                    load,
                );
                a_off += rows * kc;
                row += rows;
            }
        }
    }
}

/// Copies `b[pc.., jc..]` (`kc x nc`) into panels of `NR` columns, each
/// `kc` rows of `NR` values, zero-padding the last panel.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pack_b(b: Strided, pc: usize, kc: usize, jc: usize, nc: usize, out: *mut f32) {
    for panel in 0..nc.div_ceil(NR) {
        let j0 = jc + panel * NR;
        let cols = NR.min(jc + nc - j0);
        let dst = out.add(panel * kc * NR);
        if b.cs == 1 {
            // Rows are contiguous: two masked loads per row, which also
            // zero the padding (a `copy` of a run-time length is a call).
            let (m0, m1) = (lanes(cols), lanes(cols.saturating_sub(16)));
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
                    let block = transpose16(std::array::from_fn(|i| {
                        if i < here {
                            _mm512_loadu_ps(b.at(pc + p0, j0 + half + i))
                        } else {
                            _mm512_setzero_ps()
                        }
                    }));
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
            // Any other layout: element by element.
            for p in 0..kc {
                for jj in 0..NR {
                    *dst.add(p * NR + jj) = if jj < cols {
                        *b.at(pc + p, j0 + jj)
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn pack_b(_: Strided, _: usize, _: usize, _: usize, _: usize, _: *mut f32) {
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

/// The first `n` (at most 16) lanes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn lanes(n: usize) -> __mmask16 {
    ((1u32 << n.min(16)) - 1) as __mmask16
}

/// Copies `a[ic.., pc..]` (`mc x kc`) into strips of balanced heights (at
/// most `MR`), each stored `kc` columns of `rows` values. Returns the
/// strip heights (zeros after the last).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pack_a(
    a: Strided,
    ic: usize,
    mc: usize,
    pc: usize,
    kc: usize,
    out: *mut f32,
) -> [usize; MC / 4] {
    let count = mc.div_ceil(MR);
    let mut heights = [0; MC / 4];
    let (base, extra) = (mc / count, mc % count);
    let mut row = ic;
    let mut dst = out;
    for (s, height) in heights.iter_mut().enumerate().take(count) {
        let rows = base + usize::from(s < extra);
        *height = rows;
        if a.cs == 1 {
            // Rows are contiguous: 16 x 16 blocks transposed in registers,
            // `rows` lanes of each stored.
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
            for r in 0..rows {
                let src = a.at(row + r, pc);
                for p in whole..kc {
                    *dst.add(p * rows + r) = *src.add(p);
                }
            }
        } else {
            for p in 0..kc {
                let src = a.at(row, pc + p);
                for r in 0..rows {
                    *dst.add(p * rows + r) = *src.add(r * a.rs);
                }
            }
        }
        row += rows;
        dst = dst.add(rows * kc);
    }
    heights
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn pack_a(
    _: Strided,
    _: usize,
    _: usize,
    _: usize,
    _: usize,
    _: *mut f32,
) -> [usize; MC / 4] {
    unreachable!("`available` is false off x86-64")
}

/// Dispatches to the micro-kernel for `rows` rows.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn micro(
    rows: usize,
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    load: bool,
) {
    macro_rules! by_rows {
        ($($r:literal)*) => {
            match rows {
                $($r => kernel::<$r>(kc, a, b, c, ldc, cols, load),)*
                _ => unreachable!("strips are 1..={MR} rows"),
            }
        };
    }
    by_rows!(1 2 3 4 5 6 7 8 9 10 11 12);
}

/// `c[R, cols] (+)= a[R, kc] · b[kc, NR]` from packed operands; `cols <=
/// NR` columns of `c` are read and written (masked), so panels past the
/// matrix edge need no scratch tile.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn kernel<const R: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    load: bool,
) {
    let (m0, m1) = (lanes(cols), lanes(cols.saturating_sub(16)));
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    if load {
        for (r, row) in acc.iter_mut().enumerate() {
            let cr = c.add(r * ldc);
            row[0] = _mm512_maskz_loadu_ps(m0, cr);
            row[1] = _mm512_maskz_loadu_ps(m1, cr.wrapping_add(16));
        }
    }
    for p in 0..kc {
        let b0 = _mm512_load_ps(b.add(p * NR));
        let b1 = _mm512_load_ps(b.add(p * NR + 16));
        let ap = a.add(p * R);
        for (r, row) in acc.iter_mut().enumerate() {
            let av = _mm512_set1_ps(*ap.add(r));
            row[0] = _mm512_fmadd_ps(av, b0, row[0]);
            row[1] = _mm512_fmadd_ps(av, b1, row[1]);
        }
    }
    for (r, row) in acc.iter().enumerate() {
        let cr = c.add(r * ldc);
        _mm512_mask_storeu_ps(cr, m0, row[0]);
        _mm512_mask_storeu_ps(cr.wrapping_add(16), m1, row[1]);
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn kernel<const R: usize>(
    _: usize,
    _: *const f32,
    _: *const f32,
    _: *mut f32,
    _: usize,
    _: usize,
    _: bool,
) {
    unreachable!("`available` is false off x86-64")
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn transpose16_transposes() {
        if !available() {
            return;
        }
        let m: Vec<f32> = (0..256).map(|i| i as f32).collect();
        let mut out = [0f32; 256];
        // SAFETY: the CPU has AVX-512F; every load and store is inside the
        // 256-value arrays.
        unsafe {
            let t = transpose16(std::array::from_fn(|i| {
                _mm512_loadu_ps(m.as_ptr().add(16 * i))
            }));
            for (i, v) in t.iter().enumerate() {
                _mm512_storeu_ps(out.as_mut_ptr().add(16 * i), *v);
            }
        }
        for i in 0..16 {
            for j in 0..16 {
                assert_eq!(out[16 * j + i], m[16 * i + j], "({i}, {j})");
            }
        }
    }
}
