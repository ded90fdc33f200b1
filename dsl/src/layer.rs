//! A layer, defined once for both stages of a file's life: as parsed
//! (`LayerKind`: sizes may name the data, `pad=same`, bodies of
//! declarations, block scopes) and as checked (`Op`: every size a number,
//! bodies of checked nodes, no scopes left). A kind added here is a kind
//! for both.

use serde::{Serialize, Serializer};

use crate::experiment::{Activation, Cell, LayerDecl, Padding, PoolMode, SizeArg};
use crate::graph::Node;

/// What differs between the two stages.
pub trait Stage {
    /// A size: `classes` or `2 * d` before checking, a number after.
    type Size: std::fmt::Debug + Clone + PartialEq;
    /// A convolution's padding: `same` resolves to a number.
    type Pad: std::fmt::Debug + Clone + PartialEq;
    /// The token count of an embedding, known only once the data is.
    type Vocab: std::fmt::Debug + Clone + PartialEq;
    /// A residual's body.
    type Body: std::fmt::Debug + Clone + PartialEq;
    /// A naming scope (a block call, a `repeat` iteration).
    type Scope: std::fmt::Debug + Clone + PartialEq;
}

/// As lowered from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed;

/// As checked against the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked;

/// A block call or a `repeat` iteration: only a naming scope, flattened
/// by checking.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub name: String,
    pub body: Vec<LayerDecl>,
}

/// No value: checked graphs have no scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Never {}

impl Serialize for Never {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        match *self {}
    }
}

impl Stage for Parsed {
    type Size = SizeArg;
    type Pad = Padding;
    type Vocab = ();
    type Body = Vec<LayerDecl>;
    type Scope = Scope;
}

impl Stage for Checked {
    type Size = usize;
    type Pad = usize;
    type Vocab = usize;
    type Body = Vec<Node>;
    type Scope = Never;
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    rename_all = "snake_case",
    tag = "kind",
    bound(
        serialize = "S::Size: Serialize, S::Pad: Serialize, S::Vocab: Serialize, S::Body: Serialize, S::Scope: Serialize"
    )
)]
pub enum Layer<S: Stage> {
    Dense {
        units: S::Size,
        bias: bool,
    },
    Conv {
        filters: S::Size,
        kernel: usize,
        stride: usize,
        pad: S::Pad,
    },
    Pool {
        mode: PoolMode,
        kernel: usize,
        stride: usize,
    },
    Flatten,
    Dropout {
        p: f32,
    },
    BatchNorm {
        momentum: f32,
        eps: f32,
    },
    LayerNorm {
        eps: f32,
    },
    Embed {
        vocab: S::Vocab,
        dim: S::Size,
    },
    Recurrent {
        cell: Cell,
        hidden: S::Size,
        last: bool,
    },
    Last,
    Activation {
        activation: Activation,
    },
    /// `output = input + body(input)`.
    Residual {
        body: S::Body,
    },
    Scope(S::Scope),
}

impl<S: Stage> Layer<S> {
    /// The word the language writes the kind with, which also names
    /// unnamed layers (`dense1`): a recurrent layer's cell, an
    /// activation's name.
    pub fn keyword(&self) -> &'static str {
        match self {
            Layer::Dense { .. } => "dense",
            Layer::Conv { .. } => "conv",
            Layer::Pool { .. } => "pool",
            Layer::Flatten => "flatten",
            Layer::Dropout { .. } => "dropout",
            Layer::BatchNorm { .. } => "batchnorm",
            Layer::LayerNorm { .. } => "layernorm",
            Layer::Embed { .. } => "embed",
            Layer::Recurrent { cell, .. } => cell.name(),
            Layer::Last => "last",
            Layer::Activation { activation } => activation.name(),
            Layer::Residual { .. } => "residual",
            Layer::Scope(_) => "scope",
        }
    }
}

/// A layer as parsed.
pub type LayerKind = Layer<Parsed>;
/// A layer as checked.
pub type Op = Layer<Checked>;
