//! Batch normalization (per channel, with running statistics) and layer
//! normalization (per row of the last axis).

use dlwb_dsl::graph::{param, Node, Shape};

use super::{Ctx, ParamsOf};
use crate::autograd::{grad_mut, unary, TapeKind, Value};

#[derive(Debug, Clone, Copy)]
pub struct BatchNorm {
    /// `[weight, bias, running_mean, running_var]`.
    p: [usize; 4],
    momentum: f32,
    eps: f32,
    channels: usize,
    /// Elements per channel per sample (H * W for images, else 1).
    inner: usize,
}

impl BatchNorm {
    pub fn new(n: &Node, p: &ParamsOf<'_>, momentum: f32, eps: f32) -> Self {
        let (channels, inner) = match n.input {
            Shape::Image {
                channels,
                height,
                width,
            } => (channels, height * width),
            other => (*other.dims().last().expect("normalized features"), 1),
        };
        BatchNorm {
            p: [
                param::WEIGHT,
                param::BIAS,
                param::RUNNING_MEAN,
                param::RUNNING_VAR,
            ]
            .map(|short| p.get(short)),
            momentum,
            eps,
            channels,
            inner,
        }
    }

    pub fn forward<T: TapeKind>(&self, x: Value<T>, cx: &mut Ctx<'_>) -> Value<T> {
        let BatchNorm {
            p,
            momentum,
            eps,
            channels,
            inner,
        } = *self;
        let xs = x.host();
        let ch = move |i: usize| (i / inner) % channels;
        let count = xs.len() / channels;
        let (mean, var) = if cx.train {
            let mut mean = vec![0f64; channels];
            let mut sq = vec![0f64; channels];
            for (i, v) in xs.iter().enumerate() {
                mean[ch(i)] += *v as f64;
                sq[ch(i)] += (*v as f64) * (*v as f64);
            }
            let n = count as f64;
            let mean: Vec<f32> = mean.iter().map(|m| (m / n) as f32).collect();
            let var: Vec<f32> = sq
                .iter()
                .zip(&mean)
                .map(|(s, m)| ((s / n) - (*m as f64) * (*m as f64)).max(0.0) as f32)
                .collect();
            // PyTorch keeps the unbiased variance in its running estimate.
            let unbias = if count > 1 { n / (n - 1.0) } else { 1.0 };
            let rm: Vec<f32> = cx.host[p[2]]
                .iter()
                .zip(&mean)
                .map(|(r, m)| (1.0 - momentum) * r + momentum * m)
                .collect();
            let rv: Vec<f32> = cx.host[p[3]]
                .iter()
                .zip(&var)
                .map(|(r, v)| (1.0 - momentum) * r + momentum * (*v as f64 * unbias) as f32)
                .collect();
            cx.updates.push((p[2], rm));
            cx.updates.push((p[3], rv));
            (mean, var)
        } else {
            (cx.host[p[2]].to_vec(), cx.host[p[3]].to_vec())
        };
        let inv: Vec<f32> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
        let (gamma, beta) = (cx.host[p[0]].clone(), cx.host[p[1]].clone());
        let xhat: Vec<f32> = xs
            .iter()
            .enumerate()
            .map(|(i, v)| (v - mean[ch(i)]) * inv[ch(i)])
            .collect();
        let y: Vec<f32> = xhat
            .iter()
            .enumerate()
            .map(|(i, h)| h * gamma[ch(i)] + beta[ch(i)])
            .collect();
        let (wg, bg) = (
            cx.params.list[p[0]].t.ghost(),
            cx.params.list[p[1]].t.ghost(),
        );
        let train = cx.train;
        let shape = x.shape.clone();
        unary(cx.dev, x, y, shape, move |gy, grads, want_dx| {
            let mut sum_g = vec![0f32; channels];
            let mut sum_gx = vec![0f32; channels];
            for (i, (g, h)) in gy.iter().zip(&xhat).enumerate() {
                sum_g[ch(i)] += g;
                sum_gx[ch(i)] += g * h;
            }
            grad_mut!(grads, &wg)?
                .iter_mut()
                .zip(&sum_gx)
                .for_each(|(d, v)| *d += v);
            grad_mut!(grads, &bg)?
                .iter_mut()
                .zip(&sum_g)
                .for_each(|(d, v)| *d += v);
            Ok(want_dx.then(|| {
                let n = count as f32;
                gy.iter()
                    .zip(&xhat)
                    .enumerate()
                    .map(|(i, (g, h))| {
                        let c = ch(i);
                        if train {
                            gamma[c] * inv[c] / n * (n * g - sum_g[c] - h * sum_gx[c])
                        } else {
                            g * gamma[c] * inv[c]
                        }
                    })
                    .collect()
            }))
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct LayerNorm {
    w: usize,
    b: usize,
    eps: f32,
    width: usize,
}

impl LayerNorm {
    pub fn new(n: &Node, p: &ParamsOf<'_>, eps: f32) -> Self {
        LayerNorm {
            w: p.get(param::WEIGHT),
            b: p.get(param::BIAS),
            eps,
            width: *n.input.dims().last().expect("normalized features"),
        }
    }

    pub fn forward<T: TapeKind>(&self, x: Value<T>, cx: &mut Ctx<'_>) -> Value<T> {
        let LayerNorm { w, b, eps, width } = *self;
        let xs = x.host();
        let (gamma, beta) = (cx.host[w].clone(), cx.host[b].clone());
        let mut xhat = vec![0.0; xs.len()];
        let mut inv = Vec::with_capacity(xs.len() / width);
        for (row, out) in xs.chunks(width).zip(xhat.chunks_mut(width)) {
            let mean = row.iter().sum::<f32>() / width as f32;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / width as f32;
            let s = 1.0 / (var + eps).sqrt();
            inv.push(s);
            out.iter_mut()
                .zip(row)
                .for_each(|(o, v)| *o = (v - mean) * s);
        }
        let y: Vec<f32> = xhat
            .iter()
            .enumerate()
            .map(|(i, h)| h * gamma[i % width] + beta[i % width])
            .collect();
        let (wg, bg) = (cx.params.list[w].t.ghost(), cx.params.list[b].t.ghost());
        let shape = x.shape.clone();
        unary(cx.dev, x, y, shape, move |gy, grads, want_dx| {
            let dw = grad_mut!(grads, &wg)?;
            for (g, h) in gy.chunks(width).zip(xhat.chunks(width)) {
                for j in 0..width {
                    dw[j] += g[j] * h[j];
                }
            }
            let db = grad_mut!(grads, &bg)?;
            for g in gy.chunks(width) {
                db.iter_mut().zip(g).for_each(|(d, v)| *d += v);
            }
            Ok(want_dx.then(|| {
                let n = width as f32;
                let mut dx = vec![0.0; gy.len()];
                for (r, ((g, h), d)) in gy
                    .chunks(width)
                    .zip(xhat.chunks(width))
                    .zip(dx.chunks_mut(width))
                    .enumerate()
                {
                    let gh: Vec<f32> = g.iter().zip(gamma.iter()).map(|(g, w)| g * w).collect();
                    let s1: f32 = gh.iter().sum();
                    let s2: f32 = gh.iter().zip(h).map(|(a, b)| a * b).sum();
                    for j in 0..width {
                        d[j] = inv[r] / n * (n * gh[j] - s1 - h[j] * s2);
                    }
                }
                dx
            }))
        })
    }
}
