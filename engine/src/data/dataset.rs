//! Samples held in memory, and splits of them. Images stay as bytes and
//! are converted per batch, so that MNIST costs 47 MB and not 188 MB.

use std::sync::Arc;

/// All samples of a source.
#[derive(Debug)]
pub enum Samples {
    /// Images as bytes, `shape` = [channels, height, width]; labels per image.
    Images {
        pixels: Vec<u8>,
        labels: Vec<u8>,
        shape: [usize; 3],
    },
    /// Float features of `dim` values each (any input shape, flattened).
    Features {
        x: Vec<f32>,
        labels: Vec<u32>,
        dim: usize,
    },
    /// A token stream cut into windows: sample `i` reads
    /// `tokens[i * window .. i * window + window + 1]` (inputs, then the
    /// same shifted by one as targets).
    Text { tokens: Vec<u32>, window: usize },
    /// Sequences with a real target per step (`len` steps, one feature).
    Series {
        x: Vec<f32>,
        y: Vec<f32>,
        len: usize,
    },
}

impl Samples {
    pub fn len(&self) -> usize {
        match self {
            Samples::Images { labels, .. } => labels.len(),
            Samples::Features { labels, .. } => labels.len(),
            Samples::Text { tokens, window } => tokens.len().saturating_sub(1) / window,
            Samples::Series { x, len, .. } => x.len() / len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements of one input sample.
    pub fn input_len(&self) -> usize {
        match self {
            Samples::Images { shape, .. } => shape.iter().product(),
            Samples::Features { dim, .. } => *dim,
            Samples::Text { window, .. } => *window,
            Samples::Series { len, .. } => *len,
        }
    }

    /// The class label of sample `i`, for sources that have one.
    pub fn label(&self, i: usize) -> Option<u32> {
        match self {
            Samples::Images { labels, .. } => Some(labels[i] as u32),
            Samples::Features { labels, .. } => Some(labels[i]),
            _ => None,
        }
    }

    /// Writes sample `i`'s input as floats (images scaled to [0, 1]).
    pub fn write_floats(&self, i: usize, out: &mut [f32]) {
        match self {
            Samples::Images { pixels, shape, .. } => {
                let n = shape.iter().product::<usize>();
                for (o, p) in out.iter_mut().zip(&pixels[i * n..(i + 1) * n]) {
                    *o = *p as f32 / 255.0;
                }
            }
            Samples::Features { x, dim, .. } => out.copy_from_slice(&x[i * dim..(i + 1) * dim]),
            Samples::Series { x, len, .. } => out.copy_from_slice(&x[i * len..(i + 1) * len]),
            Samples::Text { .. } => unreachable!("text inputs are tokens"),
        }
    }
}

/// A subset of a source's samples, by index.
#[derive(Debug, Clone)]
pub struct Split {
    pub samples: Arc<Samples>,
    pub indices: Vec<usize>,
}

impl Split {
    pub fn all(samples: Arc<Samples>) -> Self {
        let indices = (0..samples.len()).collect();
        Split { samples, indices }
    }

    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}
