//! Int8 weights: symmetric, one scale per output channel, and the integer
//! matrix product that evaluates them (activations quantized per row at run
//! time, products accumulated in i32).

/// A weight tensor `[out, rest...]` as int8 with per-row scales.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantWeight {
    pub q: Vec<i8>,
    pub scales: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
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
        QuantWeight {
            q,
            scales,
            rows,
            cols,
        }
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

/// `y[m, rows] = x[m, cols] · Wᵀ` through integers: each row of `x` is
/// quantized symmetrically to int8, dotted with the int8 weights in i32,
/// and rescaled by both scales.
pub fn matmul_int8(x: &[f32], m: usize, w: &QuantWeight) -> Vec<f32> {
    let k = w.cols;
    let mut y = vec![0.0; m * w.rows];
    let mut xq = vec![0i8; k];
    for (xr, yr) in x.chunks(k).zip(y.chunks_mut(w.rows)) {
        let max = xr.iter().fold(0f32, |a, v| a.max(v.abs()));
        let sx = if max > 0.0 { max / 127.0 } else { 1.0 };
        let inv = 1.0 / sx;
        for (q, v) in xq.iter_mut().zip(xr) {
            *q = (v * inv).round().clamp(-127.0, 127.0) as i8;
        }
        for ((out, wr), sw) in yr.iter_mut().zip(w.q.chunks(k)).zip(&w.scales) {
            *out = dot_i8(&xq, wr) as f32 * sx * sw;
        }
    }
    y
}

/// Integer dot product; the widening loop vectorizes.
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    // i8 * i8 fits in i16; multiplying there lets the compiler pair products (pmaddwd).
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as i16 * *y as i16) as i32)
        .sum()
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
}
