//! Batch normalization (per channel) and layer normalization (per row),
//! forward and backward. Element `i` of a batch-norm input belongs to
//! channel `(i / inner) % channels`.

/// How a batch norm's input is grouped into channels.
#[derive(Debug, Clone, Copy)]
pub struct Grouping {
    pub channels: usize,
    pub inner: usize,
}

impl Grouping {
    fn of(self, i: usize) -> usize {
        (i / self.inner) % self.channels
    }
}

/// The mean and biased variance per channel, summed in f64.
pub fn moments(x: &[f32], g: Grouping) -> (Vec<f32>, Vec<f32>) {
    let mut mean = vec![0f64; g.channels];
    let mut sq = vec![0f64; g.channels];
    for (i, v) in x.iter().enumerate() {
        mean[g.of(i)] += *v as f64;
        sq[g.of(i)] += (*v as f64) * (*v as f64);
    }
    let n = (x.len() / g.channels) as f64;
    let mean: Vec<f32> = mean.iter().map(|m| (m / n) as f32).collect();
    let var = sq
        .iter()
        .zip(&mean)
        .map(|(s, m)| ((s / n) - (*m as f64) * (*m as f64)).max(0.0) as f32)
        .collect();
    (mean, var)
}

/// `(1 - momentum) * running + momentum * scale * batch`, elementwise.
pub fn running_update(running: &[f32], batch: &[f32], momentum: f32, scale: f64) -> Vec<f32> {
    running
        .iter()
        .zip(batch)
        .map(|(r, b)| (1.0 - momentum) * r + momentum * (*b as f64 * scale) as f32)
        .collect()
}

/// What a normalization's backward needs.
pub struct Normalized {
    pub y: Vec<f32>,
    pub xhat: Vec<f32>,
    pub inv: Vec<f32>,
}

/// Per channel: `xhat = (x - mean) / sqrt(var + eps)`, `y = xhat * gamma + beta`.
pub fn batch_norm(
    x: &[f32],
    (mean, var): (&[f32], &[f32]),
    (gamma, beta): (&[f32], &[f32]),
    eps: f32,
    g: Grouping,
) -> Normalized {
    let inv: Vec<f32> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let xhat: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(i, v)| (v - mean[g.of(i)]) * inv[g.of(i)])
        .collect();
    let y = xhat
        .iter()
        .enumerate()
        .map(|(i, h)| h * gamma[g.of(i)] + beta[g.of(i)])
        .collect();
    Normalized { y, xhat, inv }
}

/// Adds the weight and bias gradients into `dgamma`, `dbeta`; returns the
/// input's when `want_dx`, through the batch statistics when `train`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward(
    gy: &[f32],
    saved: (&[f32], &[f32]),
    gamma: &[f32],
    g: Grouping,
    train: bool,
    (dgamma, dbeta): (&mut [f32], &mut [f32]),
    want_dx: bool,
) -> Option<Vec<f32>> {
    let (xhat, inv) = saved;
    let mut sum_g = vec![0f32; g.channels];
    let mut sum_gx = vec![0f32; g.channels];
    for (i, (d, h)) in gy.iter().zip(xhat).enumerate() {
        sum_g[g.of(i)] += d;
        sum_gx[g.of(i)] += d * h;
    }
    dgamma.iter_mut().zip(&sum_gx).for_each(|(d, v)| *d += v);
    dbeta.iter_mut().zip(&sum_g).for_each(|(d, v)| *d += v);
    want_dx.then(|| {
        let n = (gy.len() / g.channels) as f32;
        gy.iter()
            .zip(xhat)
            .enumerate()
            .map(|(i, (d, h))| {
                let c = g.of(i);
                if train {
                    gamma[c] * inv[c] / n * (n * d - sum_g[c] - h * sum_gx[c])
                } else {
                    d * gamma[c] * inv[c]
                }
            })
            .collect()
    })
}

/// Normalizes each row of `width`, then `* gamma + beta`.
pub fn layer_norm(
    x: &[f32],
    (gamma, beta): (&[f32], &[f32]),
    eps: f32,
    width: usize,
) -> Normalized {
    let mut xhat = vec![0.0; x.len()];
    let mut inv = Vec::with_capacity(x.len() / width);
    for (row, out) in x.chunks(width).zip(xhat.chunks_mut(width)) {
        let mean = row.iter().sum::<f32>() / width as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / width as f32;
        let s = 1.0 / (var + eps).sqrt();
        inv.push(s);
        out.iter_mut()
            .zip(row)
            .for_each(|(o, v)| *o = (v - mean) * s);
    }
    let y = xhat
        .iter()
        .enumerate()
        .map(|(i, h)| h * gamma[i % width] + beta[i % width])
        .collect();
    Normalized { y, xhat, inv }
}

/// Adds the weight and bias gradients; returns the input's when `want_dx`.
pub fn layer_norm_backward(
    gy: &[f32],
    (xhat, inv): (&[f32], &[f32]),
    gamma: &[f32],
    width: usize,
    (dgamma, dbeta): (&mut [f32], &mut [f32]),
    want_dx: bool,
) -> Option<Vec<f32>> {
    for (g, h) in gy.chunks(width).zip(xhat.chunks(width)) {
        for j in 0..width {
            dgamma[j] += g[j] * h[j];
        }
    }
    for g in gy.chunks(width) {
        dbeta.iter_mut().zip(g).for_each(|(d, v)| *d += v);
    }
    want_dx.then(|| {
        let n = width as f32;
        let mut dx = vec![0.0; gy.len()];
        for (r, ((g, h), d)) in gy
            .chunks(width)
            .zip(xhat.chunks(width))
            .zip(dx.chunks_mut(width))
            .enumerate()
        {
            let gh: Vec<f32> = g.iter().zip(gamma).map(|(g, w)| g * w).collect();
            let s1: f32 = gh.iter().sum();
            let s2: f32 = gh.iter().zip(h).map(|(a, b)| a * b).sum();
            for j in 0..width {
                d[j] = inv[r] / n * (n * gh[j] - s1 - h[j] * s2);
            }
        }
        dx
    })
}
