//! Batches: assembled from a split (shuffled per epoch, augmented and
//! normalized from the seed) on a background thread, so that training never
//! waits on decoding.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use dlwb_dsl::experiment::Augment;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::dataset::{Samples, Split};
use super::transform::{self, Normalization};
use crate::seeds::{self, mix};

/// One batch, row-major, ready to become tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub size: usize,
    pub inputs: Inputs,
    pub targets: Targets,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Inputs {
    /// Shared, so that a host backend takes a batch without copying it.
    Floats(std::sync::Arc<Vec<f32>>),
    Tokens(Vec<u32>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// One class per sample.
    Classes(Vec<u32>),
    /// A token per step of every sample.
    Tokens(Vec<u32>),
    /// Real values, as many per sample as the model outputs.
    Values(Vec<f32>),
}

/// How batches of one split are made.
#[derive(Debug, Clone)]
pub struct BatchPlan {
    pub split: Split,
    pub batch: usize,
    /// Shuffle with this seed; `None` keeps the split's order.
    pub shuffle: Option<u64>,
    /// Training augmentations (image shape given), empty for evaluation.
    pub augment: Vec<Augment>,
    pub image_shape: Option<[usize; 3]>,
    pub normalize: Option<Normalization>,
    /// Stop after this many batches.
    pub limit: Option<usize>,
}

impl BatchPlan {
    /// Sample order for an epoch: reproducible from the seed and the epoch.
    fn order(&self, epoch: usize) -> Vec<usize> {
        let mut idx = self.split.indices.clone();
        if let Some(seed) = self.shuffle {
            let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, epoch as u64));
            idx.shuffle(&mut rng);
        }
        idx
    }

    pub fn batches_per_epoch(&self) -> usize {
        let n = self.split.len().div_ceil(self.batch);
        self.limit.map_or(n, |l| l.min(n))
    }

    /// All batches of an epoch, made in the calling thread.
    pub fn epoch(&self, epoch: usize) -> impl Iterator<Item = Batch> + '_ {
        self.epoch_from(epoch, 0)
    }

    /// The batches of an epoch from batch `first` on: the same batches the
    /// whole epoch would have given there, since each batch's augmentation
    /// draws from a stream of its own (a resumed run sees the same data).
    pub fn epoch_from(&self, epoch: usize, first: usize) -> impl Iterator<Item = Batch> + '_ {
        let order = self.order(epoch);
        let epoch_stream = mix(self.shuffle.unwrap_or(0) ^ seeds::AUGMENT, epoch as u64);
        let mut scratch = Vec::new();
        let n = self.batches_per_epoch();
        (first.min(n)..n).map(move |b| {
            let ids = &order[b * self.batch..((b + 1) * self.batch).min(order.len())];
            let mut rng = ChaCha8Rng::seed_from_u64(mix(epoch_stream, b as u64));
            self.make(ids, &mut rng, &mut scratch)
        })
    }

    /// Batches of an epoch from batch `first` on, made on a background
    /// thread a few ahead.
    pub fn prefetch(self: &Arc<Self>, epoch: usize, first: usize) -> Prefetch {
        let (tx, rx) = sync_channel(4);
        let plan = Arc::clone(self);
        let handle = std::thread::Builder::new()
            .name("dlwb-loader".into())
            .spawn(move || {
                crate::panic::mark_run_thread();
                for batch in plan.epoch_from(epoch, first) {
                    if tx.send(batch).is_err() {
                        break; // The consumer stopped early.
                    }
                }
            })
            .expect("spawning the loader thread");
        Prefetch {
            rx,
            handle: Some(handle),
        }
    }

    fn make(&self, ids: &[usize], rng: &mut ChaCha8Rng, scratch: &mut Vec<f32>) -> Batch {
        let s: &Samples = &self.split.samples;
        let size = ids.len();
        match s {
            Samples::Text { tokens, window } => {
                let mut inputs = Vec::with_capacity(size * window);
                let mut targets = Vec::with_capacity(size * window);
                for &i in ids {
                    let start = i * window;
                    inputs.extend_from_slice(&tokens[start..start + window]);
                    targets.extend_from_slice(&tokens[start + 1..start + window + 1]);
                }
                Batch {
                    size,
                    inputs: Inputs::Tokens(inputs),
                    targets: Targets::Tokens(targets),
                }
            }
            _ => {
                let len = s.input_len();
                let mut x = vec![0.0f32; size * len];
                scratch.resize(len, 0.0);
                for (row, &i) in x.chunks_mut(len).zip(ids) {
                    s.write_floats(i, row);
                    if let (Some(shape), false) = (self.image_shape, self.augment.is_empty()) {
                        transform::augment(row, scratch, shape, &self.augment, rng);
                    }
                    if let Some(n) = &self.normalize {
                        n.apply(row);
                    }
                }
                let targets = match s {
                    Samples::Series { y, len, .. } => Targets::Values(
                        ids.iter()
                            .flat_map(|&i| &y[i * len..(i + 1) * len])
                            .copied()
                            .collect(),
                    ),
                    _ => Targets::Classes(ids.iter().map(|&i| s.label(i).unwrap()).collect()),
                };
                Batch {
                    size,
                    inputs: Inputs::Floats(std::sync::Arc::new(x)),
                    targets,
                }
            }
        }
    }
}

/// Batches arriving from the loader thread.
pub struct Prefetch {
    rx: Receiver<Batch>,
    handle: Option<JoinHandle<()>>,
}

impl Iterator for Prefetch {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        match self.rx.recv() {
            Ok(b) => Some(b),
            // The loader ended: at the epoch's end, or by a panic, which
            // must reach the training thread rather than end the epoch
            // early as if it were complete.
            Err(_) => {
                if let Some(Err(payload)) = self.handle.take().map(JoinHandle::join) {
                    std::panic::resume_unwind(payload);
                }
                None
            }
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        // Closing the receiver ends the thread at its next send.
        let (_, dead) = sync_channel(0);
        drop(std::mem::replace(&mut self.rx, dead));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
