//! The checked layer graph: the one truth that summary, compile, histograms
//! and warm starts read. Only `check.rs` builds it, so holding a [`Graph`]
//! means every shape fits.

use std::fmt;

use serde::Serialize;

use crate::diagnostic::{Diagnostic, Span};
use crate::experiment::{Activation, Experiment, Loss, PoolMode};

/// The shape of one sample as it flows between layers (no batch axis).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Shape {
    /// Float features.
    Vector { features: usize },
    /// Float features at every time step.
    Sequence { steps: usize, features: usize },
    /// Float channels of a height by width grid.
    Image {
        channels: usize,
        height: usize,
        width: usize,
    },
    /// Integer token ids, one per time step.
    Tokens { steps: usize },
}

impl Shape {
    pub fn dims(&self) -> Vec<usize> {
        match *self {
            Shape::Vector { features } => vec![features],
            Shape::Sequence { steps, features } => vec![steps, features],
            Shape::Image {
                channels,
                height,
                width,
            } => vec![channels, height, width],
            Shape::Tokens { steps } => vec![steps],
        }
    }

    pub fn elements(&self) -> usize {
        self.dims().iter().product()
    }

    /// A shape from a list of dimensions, as `synthetic` declares it.
    pub fn from_dims(dims: &[usize]) -> Option<Shape> {
        Some(match *dims {
            [features] => Shape::Vector { features },
            [steps, features] => Shape::Sequence { steps, features },
            [channels, height, width] => Shape::Image {
                channels,
                height,
                width,
            },
            _ => return None,
        })
    }

    pub fn is_tokens(&self) -> bool {
        matches!(self, Shape::Tokens { .. })
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self.dims().iter().map(|d| d.to_string()).collect();
        write!(f, "[{}]", dims.join(", "))?;
        if self.is_tokens() {
            write!(f, " tokens")?;
        }
        Ok(())
    }
}

/// What the data asks the model to predict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Target {
    /// One class label per sample.
    Classes { classes: usize },
    /// The next token at every step of a sequence.
    NextToken { vocab: usize },
    /// Real values of the given shape (regression).
    Values { shape: Shape },
}

/// What the model needs to know about its data: supplied by the data source
/// (declared in the file, or learnt by the engine from the files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DataFacts {
    pub input: Shape,
    pub target: Target,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Init {
    /// Uniform in `[-bound, bound]`.
    Uniform {
        bound: f32,
    },
    Normal {
        std: f32,
    },
    Zeros,
    Ones,
}

/// The last part of parameter names (`dense1.weight`), PyTorch's: the
/// checker names a node's parameters with these, and the engine asks for
/// them by the same words.
pub mod param {
    pub const WEIGHT: &str = "weight";
    pub const BIAS: &str = "bias";
    pub const RUNNING_MEAN: &str = "running_mean";
    pub const RUNNING_VAR: &str = "running_var";
    pub const WEIGHT_IH: &str = "weight_ih";
    pub const WEIGHT_HH: &str = "weight_hh";
    pub const BIAS_IH: &str = "bias_ih";
    pub const BIAS_HH: &str = "bias_hh";
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Param {
    /// Dotted, stable name: `conv1.weight`.
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
    /// False for buffers such as batch norm's running statistics.
    pub trainable: bool,
}

impl Param {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub use crate::layer::Op;

impl Op {
    /// The kind as the model summary shows it: the keyword, with pooling's
    /// mode (`maxpool`).
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Pool(p) => match p.mode {
                PoolMode::Max => "maxpool",
                PoolMode::Avg => "avgpool",
            },
            other => other.keyword(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    pub name: String,
    pub op: Op,
    /// Fused trailing activation (`dense 128 relu`).
    pub activation: Option<Activation>,
    pub input: Shape,
    pub output: Shape,
    /// This node's own parameters (a residual's body holds its own).
    pub params: Vec<Param>,
    /// Forward floating-point operations for one sample, body included.
    pub flops: u64,
    pub span: Span,
}

impl Node {
    /// Trainable parameter count, body included.
    pub fn param_count(&self) -> usize {
        let own: usize = self
            .params
            .iter()
            .filter(|p| p.trainable)
            .map(Param::len)
            .sum();
        own + self.body().iter().map(Node::param_count).sum::<usize>()
    }

    pub fn body(&self) -> &[Node] {
        match &self.op {
            Op::Residual(r) => &r.body,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MemoryEstimate {
    pub parameters: u64,
    /// Gradients and optimizer state.
    pub training_state: u64,
    /// Activations and their gradients at the file's batch size.
    pub activations: u64,
    /// The data set as it is held in memory.
    pub data: u64,
}

impl MemoryEstimate {
    pub fn total(&self) -> u64 {
        self.parameters
            .saturating_add(self.training_state)
            .saturating_add(self.activations)
            .saturating_add(self.data)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    pub experiment: Experiment,
    pub facts: DataFacts,
    pub nodes: Vec<Node>,
    pub loss: Loss,
    pub memory: MemoryEstimate,
    /// Things worth saying that do not stop the file from running.
    pub warnings: Vec<Diagnostic>,
}

impl Graph {
    pub fn output(&self) -> Shape {
        self.nodes.last().map_or(self.facts.input, |n| n.output)
    }

    /// Every parameter in network order, bodies included.
    pub fn params(&self) -> Vec<&Param> {
        fn walk<'a>(nodes: &'a [Node], out: &mut Vec<&'a Param>) {
            for n in nodes {
                out.extend(n.params.iter());
                walk(n.body(), out);
            }
        }
        let mut out = Vec::new();
        walk(&self.nodes, &mut out);
        out
    }

    pub fn param_count(&self) -> usize {
        self.nodes.iter().map(Node::param_count).sum()
    }

    pub fn flops(&self) -> u64 {
        self.nodes.iter().map(|n| n.flops).sum()
    }
}
