//! The product with a pruned weight matrix in compressed sparse rows:
//! `y[m, out] = x[m, in] · Wᵀ` touching only the non-zero weights. With
//! the batch transposed, each weight adds its multiple of one input's
//! column to one output's row — a run of `m` contiguous multiply-adds that
//! vectorizes — so the work falls with the sparsity.

use super::matmul::transpose;

/// A weight matrix `[rows, cols]` by its non-zero entries, row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    pub rows: usize,
    pub cols: usize,
    /// Where each row's entries begin in `col` and `val`, and the end.
    pub start: Vec<usize>,
    pub col: Vec<u32>,
    pub val: Vec<f32>,
}

impl Csr {
    pub fn new(w: &[f32], rows: usize, cols: usize) -> Csr {
        let mut start = Vec::with_capacity(rows + 1);
        let (mut col, mut val) = (Vec::new(), Vec::new());
        for row in w.chunks(cols.max(1)).take(rows) {
            start.push(col.len());
            for (c, v) in row.iter().enumerate() {
                if *v != 0.0 {
                    col.push(c as u32);
                    val.push(*v);
                }
            }
        }
        start.push(col.len());
        Csr {
            rows,
            cols,
            start,
            col,
            val,
        }
    }

    /// The share of zero weights.
    pub fn sparsity(&self) -> f64 {
        1.0 - self.val.len() as f64 / (self.rows * self.cols).max(1) as f64
    }
}

/// `x[m, cols] · Wᵀ` for the sparse `w`.
pub fn product(x: &[f32], m: usize, w: &Csr) -> Vec<f32> {
    let xt = transpose(x, m, w.cols);
    let mut yt = vec![0f32; w.rows * m];
    for (j, out) in yt.chunks_mut(m.max(1)).enumerate() {
        for e in w.start[j]..w.start[j + 1] {
            let (c, v) = (w.col[e] as usize, w.val[e]);
            for (o, xv) in out.iter_mut().zip(&xt[c * m..(c + 1) * m]) {
                *o += v * xv;
            }
        }
    }
    transpose(&yt, w.rows, m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sparse_product_is_the_dense_one() {
        let (m, k, n) = (5, 37, 11);
        let w: Vec<f32> = (0..n * k)
            .map(|i| {
                if i % 4 == 0 {
                    (i % 13) as f32 / 7.0 - 0.9
                } else {
                    0.0
                }
            })
            .collect();
        let x: Vec<f32> = (0..m * k)
            .map(|i| (i * 31 % 17) as f32 / 5.0 - 1.5)
            .collect();
        let csr = Csr::new(&w, n, k);
        assert!((csr.sparsity() - 0.75).abs() < 0.01);
        let y = product(&x, m, &csr);
        for i in 0..m {
            for j in 0..n {
                let want: f32 = (0..k).map(|p| x[i * k + p] * w[j * k + p]).sum();
                assert!((y[i * n + j] - want).abs() < 1e-4, "{i},{j}");
            }
        }
    }
}
