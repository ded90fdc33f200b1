//! Matrix products: the packed kernel of `packed/` (AVX-512, or AVX2 with
//! FMA) where the CPU has one, else the `gemm` crate (dfdx's own backend).

use std::sync::atomic::{AtomicUsize, Ordering};

use super::packed::{self, OutPtr, PackedB, Strided, NR};

static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Threads the matrix products may use (0: all cores).
pub fn set_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

/// Threads a kernel may use from here: 1 inside a part of a job (its
/// siblings have the other threads).
pub fn threads() -> usize {
    if super::workers::in_part() {
        return 1;
    }
    match THREADS.load(Ordering::Relaxed) {
        0 => cores(),
        n => n,
    }
}

/// The cores this process may use, asked once: `available_parallelism`
/// reads the cgroup's quota files on every call, which cost more than the
/// small products that asked.
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Products smaller than this many multiply-adds (about 10 µs of one core's
/// work) run on one thread. With rayon, whose workers sleep between jobs,
/// the threshold had to be 1 << 24 (a wake-up cost more than the MLP's
/// products); the workers' pool hands a part to a spinning helper in well
/// under a microsecond, so the MLP's 64x784x128 products split now. Measured
/// on 2 cores (AMD EPYC): 1 << 20 and 1 << 18 alike, and the MLP's
/// inference on 2 threads went from 455k to 696k samples/s.
const PARALLEL_WORK: usize = 1 << 20;

/// Threads for a product of `work` multiply-adds.
fn threads_for(work: usize) -> usize {
    match threads() {
        t if work > PARALLEL_WORK => t,
        _ => 1,
    }
}

/// How reports name the float products this CPU runs.
pub fn kernel_name() -> &'static str {
    match packed::isa() {
        Some(packed::Isa::Avx512) => "f32 avx512",
        Some(packed::Isa::Avx2) => "f32 avx2",
        None => "f32 gemm",
    }
}

/// How reports describe the float products on this CPU: the kernel and,
/// for the packed one, its block sizes and the caches they were sized
/// from, so that figures from different machines say what ran.
pub fn products_description() -> String {
    match packed::available() {
        true => format!(
            "{}, blocks {} for {}",
            kernel_name(),
            packed::Blocking::of_this_cpu(),
            packed::Caches::of_this_cpu()
        ),
        false => kernel_name().to_string(),
    }
}

/// `x` (`rows x cols`, row-major) transposed to `cols x rows`.
pub fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    for (r, row) in x.chunks(cols).enumerate() {
        for (c, v) in row.iter().enumerate() {
            out[c * rows + r] = *v;
        }
    }
    out
}

/// A matrix operand: its data and whether it is used transposed.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    pub data: &'a [f32],
    pub transposed: bool,
}

pub fn mat(data: &[f32]) -> Mat<'_> {
    Mat {
        data,
        transposed: false,
    }
}

pub fn mat_t(data: &[f32]) -> Mat<'_> {
    Mat {
        data,
        transposed: true,
    }
}

/// What a product does with the values already in its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Out {
    /// `c = a · b`.
    Overwrite,
    /// `c += a · b` (gradients summed over a batch, or two paths).
    Accumulate,
}

/// `c[m, n] (+)= a[m, k] · b[k, n]`, where a transposed operand is stored
/// as its transpose (`[k, m]` for `a`).
pub fn matmul(c: &mut [f32], a: Mat<'_>, b: Mat<'_>, m: usize, k: usize, n: usize, out: Out) {
    let acc = out == Out::Accumulate;
    assert_eq!(c.len(), m * n, "output size");
    assert_eq!(a.data.len(), m * k, "left operand size");
    assert_eq!(b.data.len(), k * n, "right operand size");
    if empty(c, m, k, n, acc) {
        return;
    }
    let threads = threads_for(m * n * k);
    let kernel = match packed::available() {
        true => Kernel::Packed,
        false => Kernel::Portable,
    };
    product_with(c, (a, b), (m, k, n), acc, threads, kernel);
}

/// `a · b` (`m x n`) in a new buffer that no pass zeroes first: the
/// packed kernel stores every value of a product it overwrites. Zeroing
/// it on one thread, memory the other thread wrote last, was a twelfth
/// of a 2-thread MLP step on a VM whose cores share no cache.
pub fn matmul_new(a: Mat<'_>, b: Mat<'_>, m: usize, k: usize, n: usize) -> Vec<f32> {
    assert_eq!(a.data.len(), m * k, "left operand size");
    assert_eq!(b.data.len(), k * n, "right operand size");
    if m * k * n == 0 || !packed::available() {
        let mut c = vec![0.0; m * n];
        matmul(&mut c, a, b, m, k, n, Out::Overwrite);
        return c;
    }
    let (a, b, threads) = (strided(a, m, k), strided(b, k, n), threads_for(m * n * k));
    // SAFETY: `available` found a packed kernel; the asserts bound the operands;
    // with `acc` false and `k > 0` every block of the split stores each of
    // its values in its first depth block, before any later block loads.
    unsafe {
        written(m * n, |c| {
            split((m, n, k), a, b, c, n, false, threads, Kernel::Packed)
        })
    }
}

/// A new buffer of `len` values, all of them stored by `product` through
/// the pointer it gets.
///
/// # Safety
/// `product` must store every one of the `len` values before it reads any.
unsafe fn written(len: usize, product: impl FnOnce(OutPtr)) -> Vec<f32> {
    let mut c = Vec::with_capacity(len);
    product(OutPtr(c.as_mut_ptr()));
    c.set_len(len);
    c
}

fn product_with(
    c: &mut [f32],
    (a, b): (Mat<'_>, Mat<'_>),
    (m, k, n): (usize, usize, usize),
    acc: bool,
    threads: usize,
    kernel: Kernel,
) {
    let (a, b) = (strided(a, m, k), strided(b, k, n));
    // SAFETY: `Packed` is picked only where `available` found its kernel; the
    // caller's asserts bound every index the strides reach, and `c` is
    // borrowed mutably so it cannot alias `a` or `b`.
    unsafe {
        split(
            (m, n, k),
            a,
            b,
            OutPtr(c.as_mut_ptr()),
            n,
            acc,
            threads,
            kernel,
        )
    };
}

/// A right-hand operand prepared once for many products: packed for the
/// packed kernel, or kept as it is for the gemm crate.
pub enum Prepared {
    Packed(PackedB),
    Plain {
        data: Vec<f32>,
        transposed: bool,
        k: usize,
        n: usize,
    },
}

impl Prepared {
    /// Prepares `b` (`k x n`).
    pub fn new(b: Mat<'_>, k: usize, n: usize) -> Self {
        assert_eq!(b.data.len(), k * n, "right operand size");
        if packed::available() {
            // SAFETY: the CPU runs a packed kernel and the assert bounds `b`.
            Prepared::Packed(unsafe { PackedB::new(strided(b, k, n), k, n) })
        } else {
            Prepared::Plain {
                data: b.data.to_vec(),
                transposed: b.transposed,
                k,
                n,
            }
        }
    }

    /// `k`: the depth of every product with it.
    pub fn rows(&self) -> usize {
        match self {
            Prepared::Packed(p) => p.rows(),
            Prepared::Plain { k, .. } => *k,
        }
    }

    /// `n`: the columns of every product with it.
    pub fn cols(&self) -> usize {
        match self {
            Prepared::Packed(p) => p.cols(),
            Prepared::Plain { n, .. } => *n,
        }
    }

    /// `c[m, n] (+)= a[m, k] · self`.
    pub fn product(&self, c: &mut [f32], a: Mat<'_>, m: usize, out: Out) {
        self.product_in_parts(c, a, m, out, self.parts_for(m))
    }

    /// `a · self` (`m` rows) in a new buffer that no pass zeroes first,
    /// as [`matmul_new`].
    pub fn product_new(&self, a: Mat<'_>, m: usize) -> Vec<f32> {
        let (k, n) = (self.rows(), self.cols());
        match self {
            Prepared::Packed(p) if m * k * n > 0 => {
                assert_eq!(a.data.len(), m * k, "left operand size");
                let parts = self.parts_for(m);
                // SAFETY: as in `product_in_parts`, with `acc` false and
                // `k > 0`: every part stores each value of its rows in its
                // first depth block, before any later block loads.
                unsafe {
                    written(m * n, |c| {
                        packed_rows(p, strided(a, m, k), m, c, false, parts)
                    })
                }
            }
            _ => {
                let mut c = vec![0.0; m * n];
                self.product(&mut c, a, m, Out::Overwrite);
                c
            }
        }
    }

    /// Parts to cut `m` rows into.
    fn parts_for(&self, m: usize) -> usize {
        let parts = threads_for(m * self.cols() * self.rows()).min(m.div_ceil(packed::MR));
        parts.max(1)
    }

    /// [`Prepared::product`] with the rows cut into `parts`.
    fn product_in_parts(&self, c: &mut [f32], a: Mat<'_>, m: usize, out: Out, parts: usize) {
        let acc = out == Out::Accumulate;
        match self {
            Prepared::Packed(p) => {
                let (k, n) = (p.rows(), p.cols());
                assert_eq!(c.len(), m * n, "output size");
                assert_eq!(a.data.len(), m * k, "left operand size");
                if empty(c, m, k, n, acc) {
                    return;
                }
                // SAFETY: packing checked the CPU; the asserts bound `a`
                // and `c`, which cannot alias (one is borrowed mutably).
                unsafe { packed_rows(p, strided(a, m, k), m, OutPtr(c.as_mut_ptr()), acc, parts) }
            }
            Prepared::Plain {
                data,
                transposed,
                k,
                n,
            } => {
                let b = Mat {
                    data,
                    transposed: *transposed,
                };
                matmul(c, a, b, m, *k, *n, out);
            }
        }
    }
}

/// `c (+)= a · p` for `m` rows, cut into `parts` runs of rows. Rows of
/// the result never meet: each part takes a run of them against the one
/// packed operand (so nothing is packed twice), and each element's sum
/// runs over `k` in the same order whatever the cut, so every thread
/// count gives the same bits.
///
/// # Safety
/// The CPU runs `p`'s kernel (it was packed); `a` holds `m` rows and `c` `m`
/// rows of `p.cols()` values, not overlapping `a`.
unsafe fn packed_rows(p: &PackedB, a: Strided, m: usize, c: OutPtr, acc: bool, parts: usize) {
    let n = p.cols();
    let bound = |j: usize| j * m / parts;
    super::workers::run(parts, |j| {
        let (lo, hi) = (bound(j), bound(j + 1));
        let a = a.skip_rows(lo);
        // SAFETY: the caller's bounds, and the parts' rows are disjoint.
        unsafe { p.product(hi - lo, a, c.at(lo * n), n, acc) }
    });
}

/// Finishes a product with a zero size (no result, or a sum of nothing:
/// zeros), returning whether it was one.
fn empty(c: &mut [f32], m: usize, k: usize, n: usize, acc: bool) -> bool {
    if k == 0 && !acc {
        c.fill(0.0);
    }
    m == 0 || n == 0 || k == 0
}

/// Element `(r, c)` of a `rows x cols` operand at `r * rs + c * cs`.
fn strided(x: Mat<'_>, rows: usize, cols: usize) -> Strided {
    let (rs, cs) = if x.transposed { (1, rows) } else { (cols, 1) };
    Strided {
        ptr: x.data.as_ptr(),
        rs,
        cs,
    }
}

unsafe impl Send for Strided {}
unsafe impl Sync for Strided {}

impl Strided {
    /// The operand from row `r` on (a method, so that closures capture
    /// the whole operand, which is `Sync`, rather than its pointer).
    fn skip_rows(self, r: usize) -> Strided {
        Strided {
            ptr: self.ptr.wrapping_add(r * self.rs),
            ..self
        }
    }
}

/// The single-threaded product a block runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    /// `packed/`'s kernel (AVX-512 or AVX2).
    Packed,
    /// The gemm crate, on CPUs with neither.
    Portable,
}

/// The product on `threads` threads: the columns cut into runs of whole
/// panels or, for results narrower than two panels, the rows; each block
/// packs its own operands.
#[allow(clippy::too_many_arguments)]
unsafe fn split(
    (m, n, k): (usize, usize, usize),
    a: Strided,
    b: Strided,
    c: OutPtr,
    ldc: usize,
    acc: bool,
    threads: usize,
    kernel: Kernel,
) {
    let by_cols = n >= 2 * NR;
    let units = if by_cols { n.div_ceil(NR) } else { m };
    let parts = threads.min(units).max(1);
    let bound = |j: usize| j * units / parts;
    super::workers::run(parts, |j| {
        let (lo, hi) = (bound(j), bound(j + 1));
        // SAFETY: each block starts inside the operands and the result,
        // and blocks never overlap in the result.
        unsafe {
            if by_cols {
                let (lo, hi) = (lo * NR, (hi * NR).min(n));
                let b = Strided {
                    ptr: b.ptr.add(lo * b.cs),
                    ..b
                };
                block((m, hi - lo, k), a, b, c.at(lo), ldc, acc, kernel)
            } else {
                let a = Strided {
                    ptr: a.ptr.add(lo * a.rs),
                    ..a
                };
                block((hi - lo, n, k), a, b, c.at(lo * ldc), ldc, acc, kernel)
            }
        }
    });
}

/// One block's product on the calling thread.
unsafe fn block(
    (m, n, k): (usize, usize, usize),
    a: Strided,
    b: Strided,
    c: *mut f32,
    ldc: usize,
    acc: bool,
    kernel: Kernel,
) {
    if kernel == Kernel::Packed {
        return packed::gemm(m, n, k, a, b, c, ldc, acc);
    }
    gemm::gemm(
        m,
        n,
        k,
        c,
        1,
        ldc as isize,
        acc,
        a.ptr,
        a.cs as isize,
        a.rs as isize,
        b.ptr,
        b.cs as isize,
        b.rs as isize,
        1.0,
        1.0,
        false,
        false,
        false,
        gemm::Parallelism::None,
    );
}

#[cfg(test)]
mod tests;
