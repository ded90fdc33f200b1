//! Data that needs no files: seeded noise of any shape (for benchmarks and
//! smoke tests) and small learnable problems.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::dataset::Samples;

/// Noise inputs of `dim` values with uniformly random labels.
pub fn random(samples: usize, dim: usize, classes: usize, seed: u64) -> Samples {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = (0..samples * dim)
        .map(|_| rng.sample::<f32, _>(StandardNormal))
        .collect();
    let labels = (0..samples)
        .map(|_| rng.gen_range(0..classes as u32))
        .collect();
    Samples::Features { x, labels, dim }
}

/// Interleaved spirals, one arm per class (as in CS231n's classic example).
pub fn spirals(samples: usize, classes: usize, noise: f64, seed: u64) -> Samples {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(samples * 2);
    let mut labels = Vec::with_capacity(samples);
    for i in 0..samples {
        let class = i % classes;
        let t = rng.gen::<f64>();
        let r = t;
        let theta = (class as f64 + t) * 4.0 + noise * rng.sample::<f64, _>(StandardNormal);
        x.push((r * theta.sin()) as f32);
        x.push((r * theta.cos()) as f32);
        labels.push(class as u32);
    }
    Samples::Features { x, labels, dim: 2 }
}

/// Gaussian clusters with seeded centres in [-4, 4]^dim.
pub fn blobs(samples: usize, dim: usize, classes: usize, noise: f64, seed: u64) -> Samples {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<f64> = (0..classes * dim)
        .map(|_| rng.gen_range(-4.0..4.0))
        .collect();
    let mut x = Vec::with_capacity(samples * dim);
    let mut labels = Vec::with_capacity(samples);
    for i in 0..samples {
        let class = i % classes;
        for d in 0..dim {
            let v = centres[class * dim + d] + noise * rng.sample::<f64, _>(StandardNormal);
            x.push(v as f32);
        }
        labels.push(class as u32);
    }
    Samples::Features { x, labels, dim }
}

/// Sine waves of random phase and frequency; the target at each step is
/// the next (noise-free) value.
pub fn sine(samples: usize, steps: usize, noise: f64, seed: u64) -> Samples {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(samples * steps);
    let mut y = Vec::with_capacity(samples * steps);
    for _ in 0..samples {
        let phase = rng.gen_range(0.0..std::f64::consts::TAU);
        let freq = rng.gen_range(0.1..0.4);
        for t in 0..steps {
            let v = (freq * t as f64 + phase).sin();
            x.push((v + noise * rng.sample::<f64, _>(StandardNormal)) as f32);
            y.push((freq * (t + 1) as f64 + phase).sin() as f32);
        }
    }
    Samples::Series { x, y, len: steps }
}
