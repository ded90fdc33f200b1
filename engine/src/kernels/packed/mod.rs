//! A packed matrix product for any operand layout, on AVX-512 (here) or
//! AVX2 with FMA (`avx2.rs`).
//!
//! The loops are BLIS's: the right-hand side is copied into panels of
//! [`NR`] columns and the left-hand side into strips of at most [`MR`]
//! rows, each `kc` deep (sized from this CPU's caches: [`Blocking`]), so
//! the micro-kernel reads both contiguously and keeps a `rows x 32` block
//! of the result in registers. Packing is also what takes transposed
//! operands: a weight matrix used as `Wᵀ` costs one copy per block (16 x
//! 16 transposes in registers), not a transpose of its own.
//!
//! The gemm crate that dfdx uses has only AVX2 micro-kernels on stable
//! Rust, which leaves half of an AVX-512 core idle, and on AVX2 it ran
//! LSTM inference at 0.87x PyTorch; it remains the path on CPUs with
//! neither extension (see `matmul/`).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;
use std::cell::RefCell;
use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
use crate::kernels::lanes::masks16;

#[cfg(target_arch = "x86_64")]
mod avx2;
/// Off x86-64 no packed kernel runs (`isa` is `None`); these name the
/// unreachable stubs so that the dispatch compiles.
#[cfg(not(target_arch = "x86_64"))]
mod avx2 {
    pub(super) use super::{micro, pack::pack_b, pack::strip_blocks};
}
pub(crate) mod blocking;
mod pack;
mod rhs;

use blocking::Block;
pub(crate) use blocking::{Blocking, Caches};
use pack::{pack_a, pack_b};
pub use rhs::PackedB;

/// Columns per panel: two registers of 16 lanes.
pub const NR: usize = 32;
/// Rows per strip at most: 12 x 2 accumulators leave registers for the
/// right-hand side and the broadcast.
pub const MR: usize = 12;

/// Set (to anything but `0`), the float kernels run as on a CPU without
/// AVX-512: products and direct convolutions on their AVX2 kernels. For
/// measuring or debugging that path on a machine that has AVX-512;
/// elementwise and int8 kernels keep what they detect.
pub const NO_AVX512: &str = "DLWB_NO_AVX512";

/// The vector extension a packed product runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    Avx512,
    /// AVX2 with FMA.
    Avx2,
}

/// The packed kernel this CPU runs: AVX-512 where it has it (unless
/// [`NO_AVX512`] declines it), else AVX2 with FMA, else none (the gemm
/// crate's products).
pub(crate) fn isa() -> Option<Isa> {
    static ISA: OnceLock<Option<Isa>> = OnceLock::new();
    *ISA.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            let declined = std::env::var_os(NO_AVX512).is_some_and(|v| v != "0");
            if std::is_x86_feature_detected!("avx512f") && !declined {
                return Some(Isa::Avx512);
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return Some(Isa::Avx2);
            }
        }
        None
    })
}

/// Every extension this CPU can run, whichever [`isa`] chose: for tests
/// that hold each path to the same results.
#[cfg(test)]
pub(crate) fn supported() -> Vec<Isa> {
    let mut all = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            all.push(Isa::Avx512);
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            all.push(Isa::Avx2);
        }
    }
    all
}

/// Whether this CPU runs a packed product.
pub fn available() -> bool {
    isa().is_some()
}

/// Whether the AVX-512 float kernels run: this product's and those chosen
/// with it (direct convolutions, pooling, unfolding's copies).
pub fn avx512() -> bool {
    isa() == Some(Isa::Avx512)
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

/// Where a kernel writes from several threads: a buffer's first value.
#[derive(Clone, Copy)]
pub(crate) struct OutPtr(pub(crate) *mut f32);

// SAFETY: every user hands its threads disjoint parts of the buffer to
// write (a product's blocks, a packing's panels) and reads none of it
// until all have finished.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The buffer from value `offset` on (a method, so that closures
    /// capture the wrapper, which is `Sync`, rather than its pointer).
    pub(crate) unsafe fn at(self, offset: usize) -> *mut f32 {
        self.0.add(offset)
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

/// `c[m, n] (+)= a[m, k] · b[k, n]`; `c` is row-major with row stride
/// `ldc`. Accumulates into `c` when `acc`, else overwrites it. Blocked
/// for this CPU's caches ([`Blocking::of_this_cpu`]).
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
    let isa = isa().expect("`available` said a packed kernel runs");
    gemm_blocked(
        (isa, &Blocking::of_this_cpu()),
        (m, n, k),
        a,
        b,
        (c, ldc),
        acc,
    )
}

/// [`gemm`] on `isa`'s kernel, cut into the blocks `blocking` sizes.
///
/// # Safety
/// As for [`gemm`], and the CPU must have `isa`.
pub(crate) unsafe fn gemm_blocked(
    (isa, blocking): (Isa, &Blocking),
    (m, n, k): (usize, usize, usize),
    a: Strided,
    b: Strided,
    (c, ldc): (*mut f32, usize),
    acc: bool,
) {
    BUFFERS.with(|buffers| {
        let mut buffers = buffers.borrow_mut();
        let Buffers { a: pa, b: pb } = &mut *buffers;
        let rows = blocking.rows(m);
        for cut in blocking.blocks(k, n, acc) {
            let bp = aligned(pb, cut.packed_len());
            pack_b_on(isa, b, &cut, bp);
            block_product(isa, (m, rows), a, &cut, bp, (c, ldc), pa);
        }
    });
}

/// One depth block against its packed columns `bp`: `a`'s `m` rows are
/// packed `rows` at a time and every strip meets every panel.
#[inline(always)]
unsafe fn block_product(
    isa: Isa,
    (m, rows): (usize, usize),
    a: Strided,
    cut: &Block,
    bp: *const f32,
    (c, ldc): (*mut f32, usize),
    pa: &mut Vec<f32>,
) {
    let &Block {
        pc,
        kc,
        jc,
        nc,
        load,
    } = cut;
    for ic in (0..m).step_by(rows) {
        let mc = rows.min(m - ic);
        let ap = aligned(pa, mc * kc);
        let blocks = match isa {
            Isa::Avx512 => pack::strip_blocks,
            Isa::Avx2 => avx2::strip_blocks,
        };
        let strips = pack_a(a, (ic, mc), (pc, kc), ap, blocks);
        for panel in 0..nc.div_ceil(NR) {
            let j = jc + panel * NR;
            let cols = NR.min(jc + nc - j);
            let bpanel = bp.add(panel * kc * NR);
            let mut a_off = 0;
            let mut row = ic;
            let micro = match isa {
                Isa::Avx512 => micro,
                Isa::Avx2 => avx2::micro,
            };
            for height in strips.heights() {
                micro(
                    height,
                    kc,
                    ap.add(a_off),
                    bpanel,
                    c.add(row * ldc + j),
                    ldc,
                    cols,
                    load,
                );
                a_off += height * kc;
                row += height;
            }
        }
    }
}

/// Packs `b`'s columns for one block with `isa`'s copies.
#[inline(always)]
unsafe fn pack_b_on(isa: Isa, b: Strided, cut: &Block, bp: *mut f32) {
    match isa {
        Isa::Avx512 => pack_b(b, cut.pc, cut.kc, cut.jc, cut.nc, bp),
        Isa::Avx2 => avx2::pack_b(b, cut.pc, cut.kc, cut.jc, cut.nc, bp),
    }
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
    let [m0, m1] = masks16(cols);
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
