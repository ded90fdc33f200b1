//! Int8 weights: symmetric, one scale per output channel, and the integer
//! matrix product that evaluates them: activations quantized per batch row
//! at run time to unsigned bytes (`rows.rs`), multiplied by the signed
//! weight bytes with i32 sums on the CPU's dot-product instructions —
//! AVX512-VNNI, else AVX-VNNI, else a portable loop — chosen at run time
//! (`Kernel`); each gives the integer definition's sums exactly.

mod panels;
mod rows;
#[cfg(target_arch = "x86_64")]
mod vnni256;
#[cfg(target_arch = "x86_64")]
mod vnni512;

use std::sync::OnceLock;

use panels::{Panels, LANES};
pub use rows::{padded, quantize_row, QuantRows};

/// A weight tensor `[out, rest...]` as int8 with per-row scales.
#[derive(Debug, Clone)]
pub struct QuantWeight {
    pub q: Vec<i8>,
    pub scales: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
    /// The layout the dot-product kernels read, made on first use.
    panels: OnceLock<Panels>,
    /// Each output's weight sum: what a row's zero point contributes.
    sums: OnceLock<Vec<i32>>,
}

impl PartialEq for QuantWeight {
    fn eq(&self, o: &Self) -> bool {
        (&self.q, &self.scales, self.rows, self.cols) == (&o.q, &o.scales, o.rows, o.cols)
    }
}
impl QuantWeight {
    /// `w ≈ q * scale[row]`, with |q| <= 127.
    pub fn quantize(w: &[f32], rows: usize) -> Self {
        let cols = w.len() / rows.max(1);
        let mut q = Vec::with_capacity(w.len());
        let mut scales = Vec::with_capacity(rows);
        for row in w.chunks(cols.max(1)) {
            let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
            scales.push(scale);
            q.extend(
                row.iter()
                    .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8),
            );
        }
        QuantWeight::new(q, scales, rows, cols)
    }

    /// Weights `q` (`rows x cols`) with a scale per row.
    pub fn new(q: Vec<i8>, scales: Vec<f32>, rows: usize, cols: usize) -> Self {
        QuantWeight {
            q,
            scales,
            rows,
            cols,
            panels: OnceLock::new(),
            sums: OnceLock::new(),
        }
    }

    fn panels(&self) -> &Panels {
        self.panels
            .get_or_init(|| Panels::new(&self.q, self.rows, self.cols))
    }

    /// Inputs per output, padded to the kernels' groups of four.
    pub fn k4(&self) -> usize {
        rows::padded(self.cols)
    }

    /// Each output's weight sum: what a row's zero point contributes.
    pub fn weight_sums(&self) -> &[i32] {
        self.sums.get_or_init(|| {
            self.q
                .chunks(self.cols.max(1))
                .map(|r| r.iter().map(|v| *v as i32).sum())
                .collect()
        })
    }

    pub fn dequantize(&self) -> Vec<f32> {
        self.q
            .chunks(self.cols.max(1))
            .zip(&self.scales)
            .flat_map(|(r, s)| r.iter().map(move |v| *v as f32 * s))
            .collect()
    }

    /// Bytes as stored: one per weight plus a float scale per row.
    pub fn bytes(&self) -> usize {
        self.q.len() + 4 * self.scales.len()
    }
}

/// An integer product kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    Avx512Vnni,
    AvxVnni,
    Portable,
}

impl Kernel {
    /// The fastest this CPU runs, asked once.
    pub fn best() -> Kernel {
        static BEST: OnceLock<Kernel> = OnceLock::new();
        *BEST.get_or_init(|| Kernel::available()[0])
    }

    /// Every kernel this CPU can run, fastest first.
    pub fn available() -> Vec<Kernel> {
        let mut k = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512vnni")
            {
                k.push(Kernel::Avx512Vnni);
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("avxvnni") {
                k.push(Kernel::AvxVnni);
            }
        }
        k.push(Kernel::Portable);
        k
    }

    /// How reports name it.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Avx512Vnni => "int8 avx512-vnni",
            Kernel::AvxVnni => "int8 avx-vnni",
            Kernel::Portable => "int8 portable",
        }
    }

    /// The i32 sums `c[r, j] = Σ x[r, ·] w[j, ·]` of `m` quantized rows,
    /// `ldc` (see [`Kernel::width`]) values per row of `c`.
    pub fn sums(self, x: &QuantRows, m: usize, w: &QuantWeight, c: &mut [i32]) {
        let ldc = self.width(w);
        assert!(x.q.len() >= m * x.k4 && c.len() >= m * ldc, "operand sizes");
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => {
                // SAFETY: `available` found the features; the assert bounds
                // both operands, and panels share the rows' padding.
                unsafe { vnni512::product(&x.q, m, w.panels(), c) }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::AvxVnni => {
                // SAFETY: as above.
                unsafe { vnni256::product(&x.q, m, w.panels(), c) }
            }
            _ => portable(&x.q, x.k4, m, w, c),
        }
    }

    /// Values per row of the sums: whole panels for the vector kernels.
    pub fn width(self, w: &QuantWeight) -> usize {
        match self {
            Kernel::Portable => w.rows,
            _ => w.rows.div_ceil(LANES) * LANES,
        }
    }
}

/// The definition: each sum in i32, a row's bytes times an output's.
fn portable(x: &[u8], k4: usize, m: usize, w: &QuantWeight, c: &mut [i32]) {
    let k = w.cols;
    for (xr, cr) in x.chunks(k4.max(1)).take(m).zip(c.chunks_mut(w.rows)) {
        for (out, wr) in cr.iter_mut().zip(w.q.chunks(k.max(1))) {
            // u8 * i8 fits in i16 (255 * 127): the compiler pairs them.
            *out = xr[..k]
                .iter()
                .zip(wr)
                .map(|(a, b)| (*a as i16 * *b as i16) as i32)
                .sum();
        }
    }
}

/// Products smaller than this many multiply-adds run on one thread, as
/// the float products do.
const PARALLEL_WORK: usize = 1 << 20;

/// `y[m, rows] = x[m, cols] · Wᵀ` through integers: each row of `x`
/// quantized to bytes with its own scale and zero point, the products
/// summed in i32 by the best kernel, then rescaled by both scales.
/// Sums stay exact up to about 66,000 inputs (255 · 127 · k < 2³¹).
pub fn matmul_int8(x: &[f32], m: usize, w: &QuantWeight) -> Vec<f32> {
    matmul_int8_with(Kernel::best(), x, m, w)
}

/// [`matmul_int8`] on a given kernel.
pub fn matmul_int8_with(kernel: Kernel, x: &[f32], m: usize, w: &QuantWeight) -> Vec<f32> {
    let threads = match super::matmul::threads() {
        t if m * w.rows * w.cols > PARALLEL_WORK => t,
        _ => 1,
    };
    let parts = if threads > 1 {
        super::parts::rows(m, 8)
    } else {
        vec![m]
    };
    let mut y = vec![0.0; m * w.rows];
    let k = w.cols;
    let starts = super::parts::starts(&parts);
    let run = |(rows, first, out): (usize, usize, &mut [f32])| {
        let x = &x[first * k..(first + rows) * k];
        let q = QuantRows::new(x, rows, k);
        let ldc = kernel.width(w);
        let mut c = vec![0i32; rows * ldc];
        kernel.sums(&q, rows, w, &mut c);
        rescale(&c, ldc, &q, w, out);
    };
    let outs = super::parts::chunks_mut(&mut y, &parts, w.rows);
    let jobs = parts.iter().copied().zip(starts).zip(outs);
    super::workers::each(jobs.map(|((r, s), o)| (r, s, o)).collect(), run);
    y
}

/// `y = (c - zero · Σw) · sx · sw`: the sums back in the floats' units.
fn rescale(c: &[i32], ldc: usize, q: &QuantRows, w: &QuantWeight, y: &mut [f32]) {
    let sums = w.weight_sums();
    for (r, yr) in y.chunks_mut(w.rows).enumerate() {
        let (sx, z) = (q.scales[r], q.zeros[r]);
        let cr = &c[r * ldc..r * ldc + w.rows];
        for (((o, &v), &s), &sw) in yr.iter_mut().zip(cr).zip(sums).zip(&w.scales) {
            *o = (v - z * s) as f32 * sx * sw;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_error_is_at_most_half_a_step_per_channel() {
        let w: Vec<f32> = (0..60)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013 * (1 + i / 20) as f32)
            .collect();
        let q = QuantWeight::quantize(&w, 3);
        let back = q.dequantize();
        for (r, (row, brow)) in w.chunks(20).zip(back.chunks(20)).enumerate() {
            let step = q.scales[r];
            for (a, b) in row.iter().zip(brow) {
                assert!(
                    (a - b).abs() <= step / 2.0 + 1e-7,
                    "row {r}: {a} vs {b}, step {step}"
                );
            }
            let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!((step - max / 127.0).abs() < 1e-9);
        }
        assert_eq!(q.bytes(), 60 + 12);
    }

    #[test]
    fn the_int8_product_is_close_to_the_float_one() {
        let (m, k, n) = (4, 50, 6);
        let x: Vec<f32> = (0..m * k)
            .map(|i| ((i * 13 % 17) as f32 - 8.0) / 8.0)
            .collect();
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i * 7 % 23) as f32 - 11.0) / 40.0)
            .collect();
        let q = QuantWeight::quantize(&w, n);
        let y = matmul_int8(&x, m, &q);
        for i in 0..m {
            for j in 0..n {
                let exact: f32 = (0..k).map(|p| x[i * k + p] * w[j * k + p]).sum();
                let scale: f32 = (0..k).map(|p| (x[i * k + p] * w[j * k + p]).abs()).sum();
                assert!(
                    (y[i * n + j] - exact).abs() <= 0.02 * scale + 1e-4,
                    "{i},{j}: {} vs {exact}",
                    y[i * n + j]
                );
            }
        }
    }

    /// Pseudo-random bytes from a seed (no generator crate in the kernels).
    fn noise(seed: u64, n: usize) -> Vec<u64> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s
            })
            .collect()
    }

    #[test]
    fn every_kernel_gives_the_definitions_sums_exactly() {
        let kernels = Kernel::available();
        eprintln!("kernels on this CPU: {kernels:?}");
        // Shapes around every edge: tiles (6 and 4 rows, 4 panels), panels
        // (16 outputs), groups of four inputs, and the MLP's and LeNet's.
        let shapes = [
            (1, 1, 1),
            (5, 3, 17),
            (7, 13, 33),
            (13, 64, 65),
            (6, 784, 128),
            (25, 150, 16),
            (3, 5, 70),
            (12, 400, 120),
        ];
        for (seed, &(m, k, n)) in shapes.iter().enumerate() {
            let r = noise(seed as u64, m * k + n * k);
            // Extremes included: bytes 0 and 255, weights -127 and 127.
            let xq: Vec<u8> = r[..m * k].iter().map(|v| (v % 256) as u8).collect();
            let q: Vec<i8> = r[m * k..]
                .iter()
                .map(|v| ((v % 255) as i32 - 127) as i8)
                .collect();
            let w = QuantWeight::new(q.clone(), vec![1.0; n], n, k);
            let k4 = rows::padded(k);
            let mut padded = vec![0u8; m * k4];
            for (dst, src) in padded.chunks_mut(k4).zip(xq.chunks(k)) {
                dst[..k].copy_from_slice(src);
            }
            let rows = QuantRows {
                q: padded,
                k4,
                scales: vec![1.0; m],
                zeros: vec![0; m],
            };
            for &kernel in &kernels {
                let ldc = kernel.width(&w);
                let mut c = vec![0i32; m * ldc];
                kernel.sums(&rows, m, &w, &mut c);
                for i in 0..m {
                    for j in 0..n {
                        let exact: i32 = (0..k)
                            .map(|p| xq[i * k + p] as i32 * q[j * k + p] as i32)
                            .sum();
                        assert_eq!(c[i * ldc + j], exact, "{kernel:?} {m}x{k}x{n} at {i},{j}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_kernel_gives_the_same_floats() {
        let (m, k, n) = (9, 37, 21);
        let r = noise(7, m * k + n * k);
        let x: Vec<f32> = r[..m * k]
            .iter()
            .map(|v| (v % 1000) as f32 / 250.0 - 1.0)
            .collect();
        let wf: Vec<f32> = r[m * k..]
            .iter()
            .map(|v| (v % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let w = QuantWeight::quantize(&wf, n);
        let want = matmul_int8_with(Kernel::Portable, &x, m, &w);
        for kernel in Kernel::available() {
            assert_eq!(matmul_int8_with(kernel, &x, m, &w), want, "{kernel:?}");
        }
    }
}
