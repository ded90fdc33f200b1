//! The network's named parameters: the one list that optimizers,
//! checkpoints, histograms, pruning and warm starts all walk.

use std::collections::HashMap;

use dlwb_dsl::graph::Init;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::autograd::{Dev, Flat};

pub struct Param {
    /// Dotted, stable name: `conv1.weight`.
    pub name: String,
    pub shape: Vec<usize>,
    pub t: Flat,
    /// False for buffers (batch norm's running statistics).
    pub trainable: bool,
}

impl Param {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn host(&self) -> Vec<f32> {
        crate::autograd::to_host(&self.t)
    }

    pub fn set(&mut self, data: &[f32]) {
        assert_eq!(data.len(), self.len(), "{}: wrong length", self.name);
        self.t.copy_from(data);
    }
}

#[derive(Default)]
pub struct Params {
    pub list: Vec<Param>,
    by_name: HashMap<String, usize>,
}

impl Params {
    /// Adds a parameter initialized as the graph says, from `rng`.
    pub fn add(&mut self, dev: &Dev, p: &dlwb_dsl::Param, rng: &mut ChaCha8Rng) -> usize {
        let n = p.len();
        let data: Vec<f32> = match p.init {
            Init::Uniform { bound } => (0..n).map(|_| rng.gen_range(-bound..=bound)).collect(),
            Init::Normal { std } => (0..n)
                .map(|_| std * rng.sample::<f32, _>(StandardNormal))
                .collect(),
            Init::Zeros => vec![0.0; n],
            Init::Ones => vec![1.0; n],
        };
        let i = self.list.len();
        self.by_name.insert(p.name.clone(), i);
        self.list.push(Param {
            name: p.name.clone(),
            shape: p.shape.clone(),
            t: crate::autograd::flat(dev, data),
            trainable: p.trainable,
        });
        i
    }

    pub fn get(&self, name: &str) -> Option<&Param> {
        self.by_name.get(name).map(|&i| &self.list[i])
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Trainable element count.
    pub fn count(&self) -> usize {
        self.list
            .iter()
            .filter(|p| p.trainable)
            .map(Param::len)
            .sum()
    }
}

/// How a checkpoint's tensors must fit the parameters they load into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Every parameter, by name and shape (resume, a teacher).
    Every,
    /// Wherever name and shape match; the rest keep their initial values
    /// (`--init`, a warm restart after an edit).
    WhereTheyMatch,
}

/// What loading a checkpoint did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loaded {
    pub kept: usize,
    pub reinitialized: usize,
}

/// A parameter the checkpoint has no tensor of that name and shape for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} of shape {shape:?}")]
pub struct Unmatched {
    pub name: String,
    pub shape: Vec<usize>,
}

impl Params {
    /// Loads parameters from a checkpoint by name; the one way weights
    /// come from a file, whatever for.
    pub fn load(&mut self, ck: &crate::run::Checkpoint, fit: Fit) -> Result<Loaded, Unmatched> {
        let mut done = Loaded::default();
        for p in self.list.iter_mut() {
            match ck.get(&p.name) {
                Some((shape, data)) if shape == p.shape.as_slice() => {
                    p.set(data);
                    done.kept += 1;
                }
                _ if fit == Fit::Every => {
                    return Err(Unmatched {
                        name: p.name.clone(),
                        shape: p.shape.clone(),
                    })
                }
                _ => done.reinitialized += 1,
            }
        }
        Ok(done)
    }
}

/// A seeded generator for one purpose (initialization, dropout, ...).
pub fn rng(seed: u64, purpose: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(crate::data::loader::mix(seed, purpose))
}
