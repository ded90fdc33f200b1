//! The network's named parameters: the one list that optimizers,
//! checkpoints, histograms, pruning and warm starts all walk.

use std::collections::HashMap;
use std::sync::Arc;

use dlwb_dsl::graph::Init;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::autograd::Id;
use crate::backend::{Backend, Result};

pub(crate) struct Param<B: Backend> {
    /// Dotted, stable name: `conv1.weight`.
    pub name: String,
    pub shape: Vec<usize>,
    /// Its values, on the backend.
    pub buf: B::Buf,
    /// Its gradient's key on the tape.
    pub id: Id,
    /// False for buffers (batch norm's running statistics).
    pub trainable: bool,
}

impl<B: Backend> Param<B> {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Every parameter of a network, on its backend, in the graph's order.
pub(crate) struct Params<B: Backend = crate::backend::cpu::Cpu> {
    be: Arc<B>,
    pub list: Vec<Param<B>>,
    by_name: HashMap<String, usize>,
}

impl<B: Backend> Params<B> {
    pub fn new(be: Arc<B>) -> Self {
        Params {
            be,
            list: Vec::new(),
            by_name: HashMap::new(),
        }
    }

    pub fn backend(&self) -> &Arc<B> {
        &self.be
    }

    /// Adds a parameter initialized as the graph says, from `rng`.
    pub fn add(&mut self, p: &dlwb_dsl::Param, rng: &mut ChaCha8Rng) -> Result<usize> {
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
            buf: self.be.upload(data)?,
            id: Id::fresh(),
            trainable: p.trainable,
        });
        Ok(i)
    }

    #[cfg(test)]
    pub fn get(&self, name: &str) -> Option<&Param<B>> {
        self.by_name.get(name).map(|&i| &self.list[i])
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Parameter `i`'s values, downloaded.
    pub fn host(&self, i: usize) -> Result<Vec<f32>> {
        self.be.download(&self.list[i].buf)
    }

    /// Every parameter's values, downloaded, in list order.
    pub fn all_host(&self) -> Result<Vec<Vec<f32>>> {
        (0..self.list.len()).map(|i| self.host(i)).collect()
    }

    /// Overwrites parameter `i`.
    pub fn set(&mut self, i: usize, data: &[f32]) -> Result<()> {
        let p = &mut self.list[i];
        assert_eq!(data.len(), p.len(), "{}: wrong length", p.name);
        self.be.write(&mut p.buf, data)
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

/// Named tensors weights can be loaded from: a checkpoint.
pub(crate) trait Tensors {
    /// The tensor called `name`: its shape and data.
    fn tensor(&self, name: &str) -> Option<(&[usize], &[f32])>;
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

impl<B: Backend> Params<B> {
    /// Loads parameters from a checkpoint by name; the one way weights
    /// come from a file, whatever for.
    pub fn load(&mut self, ck: &impl Tensors, fit: Fit) -> std::result::Result<Loaded, LoadError> {
        let mut done = Loaded::default();
        for i in 0..self.list.len() {
            let p = &self.list[i];
            match ck.tensor(&p.name) {
                Some((shape, data)) if shape == p.shape.as_slice() => {
                    self.set(i, data)?;
                    done.kept += 1;
                }
                _ if fit == Fit::Every => {
                    return Err(LoadError::Unmatched(Unmatched {
                        name: p.name.clone(),
                        shape: p.shape.clone(),
                    }))
                }
                _ => done.reinitialized += 1,
            }
        }
        Ok(done)
    }
}

/// Why a checkpoint did not load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Unmatched(Unmatched),
    #[error(transparent)]
    Backend(#[from] crate::backend::Error),
}

/// A seeded generator for one purpose (initialization, dropout, ...).
pub fn rng(seed: u64, purpose: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(crate::seeds::mix(seed, purpose))
}
