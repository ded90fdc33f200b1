//! Losses on host slices: each gives its mean over the batch (over every
//! step for sequence outputs), its gradient with respect to the outputs,
//! and the batch's accuracy counts.

use dlwb_dsl::experiment::Loss;

use crate::data::Targets;
use crate::kernels::activation::sigmoid;
use crate::kernels::fastmath;

/// A loss's value and gradient, with the accuracy counts.
pub struct HostLoss {
    pub value: f32,
    pub grad: Vec<f32>,
    /// Correct predictions, and how many were made (0 for regression).
    pub correct: usize,
    pub count: usize,
}

impl HostLoss {
    fn new((value, grad, correct, count): (f32, Vec<f32>, usize, usize)) -> Self {
        HostLoss {
            value,
            grad,
            correct,
            count,
        }
    }
}

/// Distillation's loss of the outputs `out`, against the teacher's
/// outputs and the labels.
pub fn distilled(
    out: &[f32],
    teacher: &[f32],
    targets: &Targets,
    temperature: f64,
    alpha: f64,
) -> HostLoss {
    let (Targets::Classes(t) | Targets::Tokens(t)) = targets else {
        unreachable!("checked: distillation needs class or token targets")
    };
    HostLoss::new(distill(out, teacher, t, temperature, alpha))
}

/// The loss `kind` of the outputs `out` against `targets`.
pub fn of(kind: Loss, out: &[f32], targets: &Targets) -> HostLoss {
    HostLoss::new(match (kind, targets) {
        (Loss::CrossEntropy, Targets::Classes(t) | Targets::Tokens(t)) => cross_entropy(out, t),
        (Loss::Mse, Targets::Values(t)) => {
            let (v, g) = mse(out, t);
            (v, g, 0, 0)
        }
        (Loss::Mse, Targets::Classes(t)) => {
            let k = out.len() / t.len();
            let (v, g) = mse(out, &one_hot(t, k));
            let (c, n) = accuracy(out, t);
            (v, g, c, n)
        }
        (Loss::Bce, Targets::Classes(t)) => bce_classes(out, t),
        (k, t) => unreachable!("checked: {k:?} does not pair with {t:?}"),
    })
}

/// Binary cross-entropy against class targets: one logit per sample
/// (classes 0 and 1) or one per class.
fn bce_classes(out: &[f32], t: &[u32]) -> (f32, Vec<f32>, usize, usize) {
    let k = out.len() / t.len();
    let target: Vec<f32> = if k == 1 {
        t.iter().map(|&c| c as f32).collect()
    } else {
        one_hot(t, k)
    };
    let (v, g) = bce(out, &target);
    let (c, n) = if k == 1 {
        let c = out
            .iter()
            .zip(t)
            .filter(|(x, t)| (**x > 0.0) == (**t == 1))
            .count();
        (c, t.len())
    } else {
        accuracy(out, t)
    };
    (v, g, c, n)
}

fn one_hot(t: &[u32], k: usize) -> Vec<f32> {
    let mut v = vec![0.0; t.len() * k];
    for (i, &c) in t.iter().enumerate() {
        v[i * k + c as usize] = 1.0;
    }
    v
}

/// Correct argmax predictions over rows of `out`.
pub fn accuracy(out: &[f32], t: &[u32]) -> (usize, usize) {
    let k = out.len() / t.len();
    let correct = out
        .chunks(k)
        .zip(t)
        .filter(|(row, &c)| argmax(row) == c as usize)
        .count();
    (correct, t.len())
}

pub fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv {
                (i, v)
            } else {
                (bi, bv)
            }
        })
        .0
}

/// Mean negative log-likelihood of the targets under softmax(logits), its
/// gradient `(softmax - onehot) / rows`, and the correct count.
fn cross_entropy(out: &[f32], t: &[u32]) -> (f32, Vec<f32>, usize, usize) {
    let rows = t.len();
    let k = out.len() / rows;
    let mut grad = vec![0.0; out.len()];
    let mut total = 0f64;
    let mut correct = 0;
    for ((row, g), &c) in out.chunks(k).zip(grad.chunks_mut(k)).zip(t) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for (gi, v) in g.iter_mut().zip(row) {
            *gi = fastmath::exp(v - max);
        }
        let sum: f32 = g.iter().sum();
        let log_z = max + sum.ln();
        total += (log_z - row[c as usize]) as f64;
        let scale = 1.0 / (sum * rows as f32);
        g.iter_mut().for_each(|gi| *gi *= scale);
        g[c as usize] -= 1.0 / rows as f32;
        if argmax(row) == c as usize {
            correct += 1;
        }
    }
    ((total / rows as f64) as f32, grad, correct, rows)
}

fn softmax_at(row: &[f32], temperature: f32) -> Vec<f32> {
    let mut p: Vec<f32> = row.iter().map(|v| v / temperature).collect();
    crate::kernels::activation::softmax_row(&mut p);
    p
}

fn distill(
    out: &[f32],
    teacher: &[f32],
    t: &[u32],
    temperature: f64,
    alpha: f64,
) -> (f32, Vec<f32>, usize, usize) {
    let (hard, hard_grad, correct, rows) = cross_entropy(out, t);
    let k = out.len() / rows;
    let tt = temperature as f32;
    let mut kl = 0f64;
    let mut grad = vec![0.0; out.len()];
    for ((s, te), g) in out.chunks(k).zip(teacher.chunks(k)).zip(grad.chunks_mut(k)) {
        let (ps, pt) = (softmax_at(s, tt), softmax_at(te, tt));
        for j in 0..k {
            if pt[j] > 0.0 {
                kl += (pt[j] as f64)
                    * ((pt[j].max(1e-30) as f64).ln() - (ps[j].max(1e-30) as f64).ln());
            }
            // d/ds of T² KL(pt || softmax(s / T)) is T (ps - pt).
            g[j] = (alpha as f32) * tt * (ps[j] - pt[j]) / rows as f32;
        }
    }
    for (g, h) in grad.iter_mut().zip(&hard_grad) {
        *g += (1.0 - alpha as f32) * h;
    }
    let value = alpha * temperature * temperature * kl / rows as f64 + (1.0 - alpha) * hard as f64;
    (value as f32, grad, correct, rows)
}

fn mse(out: &[f32], t: &[f32]) -> (f32, Vec<f32>) {
    let n = out.len() as f32;
    let loss = out
        .iter()
        .zip(t)
        .map(|(y, t)| ((y - t) as f64).powi(2))
        .sum::<f64>()
        / n as f64;
    let grad = out.iter().zip(t).map(|(y, t)| 2.0 * (y - t) / n).collect();
    (loss as f32, grad)
}

/// Binary cross-entropy on logits, in the numerically stable form.
fn bce(out: &[f32], t: &[f32]) -> (f32, Vec<f32>) {
    let n = out.len() as f32;
    let loss = out
        .iter()
        .zip(t)
        .map(|(x, t)| (x.max(0.0) - x * t + (-x.abs()).exp().ln_1p()) as f64)
        .sum::<f64>()
        / n as f64;
    let grad = out
        .iter()
        .zip(t)
        .map(|(x, t)| (sigmoid(*x) - t) / n)
        .collect();
    (loss as f32, grad)
}
