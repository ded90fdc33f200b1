//! Per-sample transforms applied while a batch is assembled: augmentation
//! (training only, seeded) on values in [0, 1], then normalization.

use dlwb_dsl::experiment::Augment;
use rand::Rng;

/// Per-channel affine normalization: `(x - mean[c]) / std[c]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalization {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Normalization {
    /// Applies to one sample of `channels` planes (one plane per feature
    /// for vectors when the statistics are per feature).
    pub fn apply(&self, sample: &mut [f32]) {
        let channels = self.mean.len();
        let plane = sample.len() / channels;
        for (c, chunk) in sample.chunks_mut(plane).enumerate() {
            let (m, inv) = (self.mean[c], 1.0 / self.std[c]);
            for v in chunk {
                *v = (*v - m) * inv;
            }
        }
    }
}

/// Applies the augmentations to one image `[c, h, w]` in place; `scratch`
/// must hold as many values.
pub fn augment(
    sample: &mut [f32],
    scratch: &mut [f32],
    shape: [usize; 3],
    augs: &[Augment],
    rng: &mut impl Rng,
) {
    for aug in augs {
        match *aug {
            Augment::FlipHorizontal => {
                if rng.gen::<bool>() {
                    flip_horizontal(sample, shape);
                }
            }
            Augment::FlipVertical => {
                if rng.gen::<bool>() {
                    flip_vertical(sample, shape);
                }
            }
            Augment::RandomCrop { size, pad } => {
                let [_, h, w] = shape;
                // The crop's top-left in padded coordinates.
                let max_y = (h + 2 * pad).saturating_sub(size);
                let max_x = (w + 2 * pad).saturating_sub(size);
                let dy = rng.gen_range(0..=max_y) as isize - pad as isize;
                let dx = rng.gen_range(0..=max_x) as isize - pad as isize;
                crop(sample, scratch, shape, dy, dx);
            }
        }
    }
}

/// Mirrors each row.
pub fn flip_horizontal(sample: &mut [f32], [c, h, w]: [usize; 3]) {
    for row in sample[..c * h * w].chunks_mut(w) {
        row.reverse();
    }
}

pub fn flip_vertical(sample: &mut [f32], [c, h, w]: [usize; 3]) {
    for plane in sample[..c * h * w].chunks_mut(h * w) {
        for y in 0..h / 2 {
            let (top, bottom) = plane.split_at_mut((h - 1 - y) * w);
            top[y * w..(y + 1) * w].swap_with_slice(&mut bottom[..w]);
        }
    }
}

/// Shifts the image so that output pixel (y, x) reads input (y + dy,
/// x + dx), zero outside: a crop of a zero-padded image, same size out.
pub fn crop(sample: &mut [f32], scratch: &mut [f32], [c, h, w]: [usize; 3], dy: isize, dx: isize) {
    let n = c * h * w;
    scratch[..n].fill(0.0);
    for ch in 0..c {
        for y in 0..h {
            let sy = y as isize + dy;
            if sy < 0 || sy >= h as isize {
                continue;
            }
            let x0 = (-dx).max(0) as usize;
            let x1 = (w as isize - dx).min(w as isize).max(0) as usize;
            if x0 >= x1 {
                continue;
            }
            let src = ch * h * w + sy as usize * w;
            let dst = ch * h * w + y * w;
            let sx0 = (x0 as isize + dx) as usize;
            scratch[dst + x0..dst + x1].copy_from_slice(&sample[src + sx0..src + sx0 + (x1 - x0)]);
        }
    }
    sample[..n].copy_from_slice(&scratch[..n]);
}
