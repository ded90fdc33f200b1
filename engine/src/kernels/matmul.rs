//! Row-major matrix products through the `gemm` crate (dfdx's own backend).

use std::sync::atomic::{AtomicUsize, Ordering};

static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Threads the matrix products may use (0: all cores).
pub fn set_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// Products smaller than this many multiply-adds run on one thread: waking
/// rayon's workers costs more than it saves. Measured on 2 cores: the MNIST
/// MLP trains at 92k samples/s below this threshold and 47k at 1<<17; the
/// char LSTM at 550 and 395 sequences/s.
const PARALLEL_WORK: usize = 1 << 24;

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

/// `c[m, n] (+)= a[m, k] · b[k, n]`, where a transposed operand is stored
/// as its transpose (`[k, m]` for `a`). Accumulates when `acc` is true.
pub fn matmul(c: &mut [f32], a: Mat<'_>, b: Mat<'_>, m: usize, k: usize, n: usize, acc: bool) {
    assert_eq!(c.len(), m * n, "output size");
    assert_eq!(a.data.len(), m * k, "left operand size");
    assert_eq!(b.data.len(), k * n, "right operand size");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !acc {
            c.fill(0.0);
        }
        return;
    }
    // Strides of element (row, col) in each operand.
    let (a_rs, a_cs) = if a.transposed {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (b_rs, b_cs) = if b.transposed {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    let work = m * n * k;
    if !a.transposed && !b.transposed && avx512::fits(k, n) {
        if work > PARALLEL_WORK && threads() > 1 && m > 1 {
            // Halves of the rows on two threads; each half is contiguous.
            let half = m / 2;
            let (c0, c1) = c.split_at_mut(half * n);
            let (a0, a1) = a.data.split_at(half * k);
            rayon::join(
                || matmul(c0, mat(a0), b, half, k, n, acc),
                || matmul(c1, mat(a1), b, m - half, k, n, acc),
            );
            return;
        }
        // SAFETY: `fits` checked the CPU supports AVX-512F and that `n` is
        // whole column blocks; the asserts above bound every index.
        unsafe { avx512::matmul(c, a.data, b.data, m, k, n, acc) };
        return;
    }
    let par = match threads() {
        t if t > 1 && work > PARALLEL_WORK => gemm::Parallelism::Rayon(t),
        _ => gemm::Parallelism::None,
    };
    // SAFETY: the asserts above bound every index gemm computes from these
    // sizes and strides within the three slices, and `c` is borrowed
    // mutably so it cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            acc,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// A register-blocked AVX-512 kernel for small row-major products. The
/// gemm crate has only AVX2 microkernels on stable Rust, which leaves half
/// of an AVX-512 core idle on the per-step products of recurrent layers.
mod avx512 {
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    /// Rows and columns per block: 4 x 64 is 16 accumulator registers.
    const MR: usize = 4;
    const NR: usize = 64;

    fn available() -> bool {
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

    /// The kernel streams `b` once per block of rows without packing it, so
    /// it only wins while `b` stays in cache (the LSTM's `W_hh`, 256 KiB);
    /// larger right-hand sides (a convolution's unfolded input, tens of MB)
    /// are measurably faster through gemm's packing: 12.1k vs 10.3k LeNet
    /// inference samples/s.
    pub fn fits(k: usize, n: usize) -> bool {
        const CACHED: usize = 1 << 18; // values: 1 MiB of f32
        n > 0 && n.is_multiple_of(NR) && k * n <= CACHED && available()
    }

    /// `c[m, n] (+)= a[m, k] · b[k, n]`, all row-major.
    ///
    /// # Safety
    /// The CPU must support AVX-512F; `n % 64 == 0`, and the slices hold
    /// `m * k`, `k * n` and `m * n` values.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn matmul(
        c: &mut [f32],
        a: &[f32],
        b: &[f32],
        m: usize,
        k: usize,
        n: usize,
        acc: bool,
    ) {
        let whole = m - m % MR;
        block::<MR>(c, a, b, 0..whole, k, n, acc);
        // Leftover rows, one at a time.
        for i in whole..m {
            block::<1>(c, a, b, i..i + 1, k, n, acc);
        }
    }

    /// Rows `rows` (a multiple of `R` long) of the product, `R` at a time.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn block<const R: usize>(
        c: &mut [f32],
        a: &[f32],
        b: &[f32],
        rows: std::ops::Range<usize>,
        k: usize,
        n: usize,
        acc: bool,
    ) {
        for i in rows.step_by(R) {
            for j in (0..n).step_by(NR) {
                let mut r = [[_mm512_setzero_ps(); 4]; R];
                if acc {
                    for (rr, row) in r.iter_mut().enumerate() {
                        for (q, v) in row.iter_mut().enumerate() {
                            *v = _mm512_loadu_ps(c.as_ptr().add((i + rr) * n + j + 16 * q));
                        }
                    }
                }
                for p in 0..k {
                    let bp = b.as_ptr().add(p * n + j);
                    let bv = [
                        _mm512_loadu_ps(bp),
                        _mm512_loadu_ps(bp.add(16)),
                        _mm512_loadu_ps(bp.add(32)),
                        _mm512_loadu_ps(bp.add(48)),
                    ];
                    for (rr, row) in r.iter_mut().enumerate() {
                        let av = _mm512_set1_ps(*a.get_unchecked((i + rr) * k + p));
                        for (v, bq) in row.iter_mut().zip(bv) {
                            *v = _mm512_fmadd_ps(av, bq, *v);
                        }
                    }
                }
                for (rr, row) in r.iter().enumerate() {
                    for (q, v) in row.iter().enumerate() {
                        _mm512_storeu_ps(c.as_mut_ptr().add((i + rr) * n + j + 16 * q), *v);
                    }
                }
            }
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    pub unsafe fn matmul(
        _: &mut [f32],
        _: &[f32],
        _: &[f32],
        _: usize,
        _: usize,
        _: usize,
        _: bool,
    ) {
        unreachable!("`fits` is false off x86-64")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn whole_block_shapes_match_the_definition() {
        // The shapes the AVX-512 kernel takes where the CPU has it: whole
        // blocks, leftover rows, and (last) a product large enough to be
        // split across two threads with a right-hand side still in cache.
        for (m, k, n) in [
            (4, 1, 64),
            (32, 128, 512),
            (8, 37, 128),
            (64, 5, 192),
            (6, 75, 1024),
            (7, 3, 64),
            (1, 9, 128),
            (256, 128, 1024),
        ] {
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 31 % 97) as f32 - 48.0) / 37.0)
                .collect();
            let b: Vec<f32> = (0..k * n)
                .map(|i| ((i * 17 % 89) as f32 - 44.0) / 41.0)
                .collect();
            let want = naive(&a, &b, m, k, n);
            let mut c = vec![0.5; m * n];
            matmul(&mut c, mat(&a), mat(&b), m, k, n, false);
            for (x, y) in c.iter().zip(&want) {
                assert!(
                    (x - y).abs() < 1e-4 * (1.0 + y.abs()),
                    "{m}x{k}x{n}: {x} vs {y}"
                );
            }
            matmul(&mut c, mat(&a), mat(&b), m, k, n, true);
            for (x, y) in c.iter().zip(&want) {
                assert!(
                    (x - 2.0 * y).abs() < 2e-4 * (1.0 + y.abs()),
                    "accumulate {m}x{k}x{n}"
                );
            }
        }
    }

    #[test]
    fn every_transpose_combination_matches_the_definition() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut c = vec![1.0; m * n];
            let am = if ta { mat_t(&at) } else { mat(&a) };
            let bm = if tb { mat_t(&bt) } else { mat(&b) };
            matmul(&mut c, am, bm, m, k, n, false);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() < 1e-5, "{ta} {tb}");
            }
            matmul(&mut c, am, bm, m, k, n, true);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - 2.0 * y).abs() < 1e-5, "accumulate {ta} {tb}");
            }
        }
    }
}
