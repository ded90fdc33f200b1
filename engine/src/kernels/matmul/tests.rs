//! Every path of the product against the definition.

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

/// Operands `a[m, k]` and `b[k, n]` of varied values.
fn operands(m: usize, k: usize, n: usize) -> (Vec<f32>, Vec<f32>) {
    let a = (0..m * k).map(|i| ((i * 31 % 97) as f32 - 48.0) / 37.0);
    let b = (0..k * n).map(|i| ((i * 17 % 89) as f32 - 44.0) / 41.0);
    (a.collect(), b.collect())
}

/// Every layout and the accumulate flag, on shapes that cover strips
/// of every height, partial panels, several depth blocks (k past the
/// blocks' depth), several row and column blocks where the blocking is
/// small enough (see `blockings`), and (the last) a product split across
/// threads.
fn check(product: impl Fn(&mut [f32], Mat<'_>, Mat<'_>, usize, usize, usize, Out)) {
    for (m, k, n) in [
        (1, 1, 1),
        (4, 1, 64),
        (5, 7, 3),
        (6, 75, 784),
        (7, 3, 33),
        (13, 9, 31),
        (32, 128, 512),
        (16, 150, 100),
        (64, 784, 128),
        (150, 16, 100),
        (300, 600, 70),
        (3, 5, 2100),
        (256, 300, 256),
    ] {
        let (a, b) = operands(m, k, n);
        let want = naive(&a, &b, m, k, n);
        let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let am = if ta { mat_t(&at) } else { mat(&a) };
            let bm = if tb { mat_t(&bt) } else { mat(&b) };
            let mut c = vec![0.5; m * n];
            product(&mut c, am, bm, m, k, n, Out::Overwrite);
            for (x, y) in c.iter().zip(&want) {
                let tol = 1e-4 * (1.0 + y.abs());
                assert!((x - y).abs() < tol, "{m}x{k}x{n} {ta} {tb}: {x} vs {y}");
            }
            product(&mut c, am, bm, m, k, n, Out::Accumulate);
            for (x, y) in c.iter().zip(&want) {
                let tol = 2e-4 * (1.0 + y.abs());
                assert!(
                    (x - 2.0 * y).abs() < tol,
                    "accumulate {m}x{k}x{n} {ta} {tb}"
                );
            }
        }
    }
}

#[test]
fn products_match_the_definition() {
    // The packed kernel where the CPU has AVX-512, else the gemm crate.
    check(matmul);
}

#[test]
fn every_split_of_the_packed_product_matches_the_definition() {
    if !packed::available() {
        return;
    }
    for threads in [1, 2, 3] {
        check(|c, a, b, m, k, n, out| {
            let acc = out == Out::Accumulate;
            product_with(c, (a, b), (m, k, n), acc, threads, Kernel::Packed)
        });
    }
}

#[test]
fn the_portable_path_matches_the_definition() {
    for threads in [1, 2, 3] {
        check(|c, a, b, m, k, n, out| {
            let acc = out == Out::Accumulate;
            product_with(c, (a, b), (m, k, n), acc, threads, Kernel::Portable)
        });
    }
}

#[test]
fn prepared_operands_match_the_definition_in_any_number_of_parts() {
    check(|c, a, b, m, k, n, out| Prepared::new(b, k, n).product(c, a, m, out));
    for parts in [1, 2, 3, 5] {
        check(|c, a, b, m, k, n, out| Prepared::new(b, k, n).product_in_parts(c, a, m, out, parts));
    }
}

/// A product into a new, unzeroed buffer, plain or against a prepared
/// operand, gives the definition (added in for `Out::Accumulate`).
#[test]
fn new_products_match_the_definition() {
    let into = |c: &mut [f32], new: Vec<f32>, out| match out {
        Out::Overwrite => c.copy_from_slice(&new),
        Out::Accumulate => c.iter_mut().zip(new).for_each(|(c, v)| *c += v),
    };
    check(|c, a, b, m, k, n, out| into(c, matmul_new(a, b, m, k, n), out));
    check(|c, a, b, m, k, n, out| into(c, Prepared::new(b, k, n).product_new(a, m), out));
}

#[test]
fn a_prepared_product_gives_the_same_bits_whatever_the_cut() {
    let (m, k, n) = (64, 784, 128);
    let (a, b) = operands(m, k, n);
    let p = Prepared::new(mat(&b), k, n);
    let run = |parts| {
        let mut c = vec![0.0; m * n];
        p.product_in_parts(&mut c, mat(&a), m, Out::Overwrite, parts);
        c
    };
    let whole = run(1);
    for parts in [2, 3, 4] {
        assert!(run(parts) == whole, "{parts} parts differ from one");
    }
}

#[test]
fn an_empty_depth_zeroes_or_keeps_the_result() {
    let mut c = vec![3.0; 6];
    matmul(&mut c, mat(&[]), mat(&[]), 2, 0, 3, Out::Accumulate);
    assert_eq!(c, [3.0; 6]);
    matmul(&mut c, mat(&[]), mat(&[]), 2, 0, 3, Out::Overwrite);
    assert_eq!(c, [0.0; 6]);
}

/// Block sizes that cross every boundary at the shapes `check` runs: depth,
/// row and column blocks of one strip or panel, sizes that are no multiple
/// of either, the sizes fixed before they were read from the caches, this
/// CPU's own, and those assumed where CPUID reports nothing.
fn blockings() -> Vec<packed::Blocking> {
    use packed::{Blocking, Caches};
    let sizes = [(16, 12, 32), (64, 24, 64), (100, 37, 40), (256, 144, 2048)];
    let mut all: Vec<Blocking> = sizes
        .iter()
        .map(|&(kc, mc, nc)| Blocking::new(kc, mc, nc))
        .collect();
    all.push(Blocking::of_this_cpu());
    all.push(Blocking::for_caches(&Caches::ASSUMED, 1));
    all
}

#[test]
fn every_kernel_and_blocking_matches_the_definition() {
    for isa in packed::supported() {
        for blocking in blockings() {
            // SAFETY: the CPU has `isa`; `check` hands operands and
            // results of the sizes it names.
            check(|c, a, b, m, k, n, out| unsafe {
                let (a, b, acc) = (strided(a, m, k), strided(b, k, n), out == Out::Accumulate);
                let plan = (isa, &blocking);
                packed::gemm_blocked(plan, (m, n, k), a, b, (c.as_mut_ptr(), n), acc)
            });
            check(|c, a, b, m, k, n, out| unsafe {
                let plan = (isa, blocking);
                let packed = PackedB::new_in_parts(strided(b, k, n), (k, n), 2, plan);
                let acc = out == Out::Accumulate;
                packed.product(m, strided(a, m, k), c.as_mut_ptr(), n, acc)
            });
        }
    }
}
