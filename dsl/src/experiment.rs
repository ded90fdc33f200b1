//! The typed meaning of a `.net` file, before any shape is known.
//!
//! Produced by `lower.rs` from the syntax tree: every key is known, every
//! value has its type and range, blocks and `repeat` are expanded. Sizes that
//! depend on the data (`classes`, `vocab`) stay symbolic as [`Dim`] until
//! `check.rs` is given the data's facts.

use serde::Serialize;

use crate::diagnostic::Span;
use crate::syntax::{BinOp, CmpOp};

/// Whether `c` may stand in an experiment's name, which names its run
/// folder (`runs/<name>/`): letters, digits, `-`, `_` and `.`.
pub fn is_folder_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub name: String,
    pub data: DataSpec,
    pub model: Vec<LayerDecl>,
    pub model_span: Span,
    pub train: TrainSpec,
    pub expect: Vec<Expectation>,
    pub compress: Option<CompressSpec>,
    pub sample: Option<SampleSpec>,
}

// ---------------------------------------------------------------- data

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Mnist,
    FashionMnist,
    Cifar10,
    Csv,
    Text,
    Synthetic,
}

impl SourceKind {
    pub const NAMES: [&'static str; 6] = [
        "mnist",
        "fashion_mnist",
        "cifar10",
        "csv",
        "text",
        "synthetic",
    ];

    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "mnist" => SourceKind::Mnist,
            "fashion_mnist" => SourceKind::FashionMnist,
            "cifar10" => SourceKind::Cifar10,
            "csv" => SourceKind::Csv,
            "text" => SourceKind::Text,
            "synthetic" => SourceKind::Synthetic,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Whether the source comes with its own test split.
    pub fn has_test_split(self) -> bool {
        matches!(
            self,
            SourceKind::Mnist | SourceKind::FashionMnist | SourceKind::Cifar10
        )
    }
}

/// Named learnable problems that `synthetic` can generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Generator {
    /// Seeded noise of any shape with random labels: for benchmarks.
    Random,
    /// Interleaved 2-D spirals, one arm per class.
    Spirals,
    /// Gaussian clusters in `features` dimensions, one per class.
    Blobs,
    /// A noisy sine wave: predict the next value at every step (regression).
    Sine,
}

impl Generator {
    pub const NAMES: [&'static str; 3] = ["spirals", "blobs", "sine"];

    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "spirals" => Generator::Spirals,
            "blobs" => Generator::Blobs,
            "sine" => Generator::Sine,
            _ => return None,
        })
    }

    /// The word a file uses for it (`random` when no generator is named).
    pub fn name(self) -> &'static str {
        match self {
            Generator::Random => "random",
            Generator::Spirals => "spirals",
            Generator::Blobs => "blobs",
            Generator::Sine => "sine",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Fraction(f64),
    Count(usize),
}

impl Split {
    /// How many of `n` samples the split takes.
    pub fn count_of(self, n: usize) -> usize {
        match self {
            Split::Fraction(f) => ((n as f64) * f).round() as usize,
            Split::Count(c) => c.min(n),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalize {
    /// Per-channel mean and standard deviation, or one value for all.
    Given { mean: Vec<f32>, std: Vec<f32> },
    /// Computed from the training split.
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Augment {
    RandomCrop { size: usize, pad: usize },
    FlipHorizontal,
    FlipVertical,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataSpec {
    pub source: SourceKind,
    pub generator: Generator,
    /// As written, relative to the `.net` file.
    pub path: Option<String>,
    #[serde(skip)]
    pub path_span: Option<Span>,
    pub validation: Option<Split>,
    pub test: Option<Split>,
    pub normalize: Option<Normalize>,
    pub augment: Vec<Augment>,
    /// Text: characters per training sequence.
    pub window: Option<usize>,
    /// Synthetic: the input shape of one sample.
    pub shape: Option<Vec<usize>>,
    pub classes: Option<usize>,
    pub samples: Option<usize>,
    /// Synthetic: standard deviation of the noise added to the generator.
    pub noise: Option<f64>,
    /// CSV: feature columns, and the label column.
    pub features: Vec<String>,
    pub label: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

// ---------------------------------------------------------------- model

/// A size that may depend on the data.
#[derive(Debug, Clone, PartialEq)]
pub enum Dim {
    Lit(f64),
    Sym(Symbol),
    Bin(BinOp, Box<Dim>, Box<Dim>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symbol {
    /// Number of classes of a classification source.
    Classes,
    /// Vocabulary size of a text source.
    Vocab,
    /// Product of the input shape.
    Features,
    /// First dimension of an image input.
    Channels,
}

impl Symbol {
    pub const NAMES: [&'static str; 4] = ["classes", "vocab", "features", "channels"];

    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "classes" => Symbol::Classes,
            "vocab" => Symbol::Vocab,
            "features" => Symbol::Features,
            "channels" => Symbol::Channels,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SizeArg {
    pub dim: Dim,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Activation {
    Relu,
    Sigmoid,
    Tanh,
    LeakyRelu { slope: f32 },
    Gelu,
    Softmax,
}

impl Activation {
    pub const NAMES: [&'static str; 6] =
        ["relu", "sigmoid", "tanh", "leaky_relu", "gelu", "softmax"];

    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Gelu => "gelu",
            Activation::Softmax => "softmax",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolMode {
    Max,
    Avg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cell {
    Rnn,
    Lstm,
    Gru,
}

impl Cell {
    /// Gate blocks per cell: the weight matrices are this many times `hidden` tall.
    pub fn gates(self) -> usize {
        match self {
            Cell::Rnn => 1,
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Cell::Rnn => "rnn",
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    Explicit(usize),
    /// Output keeps the input's height and width (stride 1, odd kernel).
    Same,
}

pub use crate::layer::{LayerKind, Scope};

#[derive(Debug, Clone, PartialEq)]
pub struct LayerDecl {
    pub label: Option<String>,
    pub kind: LayerKind,
    /// A trailing activation word, fused into the layer.
    pub activation: Option<Activation>,
    pub span: Span,
}

// ---------------------------------------------------------------- train

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    CrossEntropy,
    Mse,
    Bce,
}

impl Loss {
    pub const NAMES: [&'static str; 3] = ["cross_entropy", "mse", "bce"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    Sgd,
    Adam,
    AdamW,
    RmsProp,
    Adagrad,
    Adadelta,
}

impl OptimizerKind {
    pub const NAMES: [&'static str; 6] = ["sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta"];
}

/// Every optimizer's hyper-parameters; each kind reads the ones it has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptimizerSpec {
    pub kind: OptimizerKind,
    pub lr: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// L2 penalty for most optimizers; decoupled decay for `adamw`.
    pub weight_decay: f64,
    /// RMSprop's smoothing constant.
    pub alpha: f64,
    /// Adadelta's decay rate.
    pub rho: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Schedule {
    Constant,
    /// Multiply the rate by `gamma` every `every` epochs.
    Step {
        every: usize,
        gamma: f64,
    },
    /// Cosine decay to `min_lr` over the run.
    Cosine {
        min_lr: f64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EarlyStop {
    pub monitor: String,
    pub patience: usize,
    pub min_delta: f64,
    /// Whether to restore the best weights at the end.
    pub restore_best: bool,
    #[serde(skip)]
    pub span: Span,
}

impl EarlyStop {
    /// Losses improve downwards, everything else upwards.
    pub fn minimize(&self) -> bool {
        crate::metric::Metric::parse(&self.monitor).is_some_and(|m| m.minimize())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainSpec {
    pub loss: Option<Loss>,
    pub optimizer: OptimizerSpec,
    pub batch: usize,
    pub epochs: usize,
    pub seed: u64,
    pub schedule: Schedule,
    /// Linear warm-up, in epochs.
    pub warmup: f64,
    pub clip_grad: Option<f64>,
    pub l1: f64,
    pub l2: f64,
    pub early_stop: Option<EarlyStop>,
    /// Where to train (`cpu`, `cuda`, `cuda:N`, `auto`), where the file
    /// says; `--device` wins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

// ---------------------------------------------------------------- the rest

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expectation {
    pub metric: String,
    pub op: CmpOp,
    pub value: f64,
    #[serde(skip)]
    pub span: Span,
}

impl Expectation {
    pub fn text(&self) -> String {
        format!("{} {} {}", self.metric, self.op.symbol(), self.value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PruneScope {
    /// The same fraction of every covered tensor.
    Layer,
    /// One threshold over all covered tensors.
    Global,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Distill {
    pub teacher: String,
    pub checkpoint: Option<String>,
    pub temperature: f64,
    pub alpha: f64,
    /// The `distill` line, where its mistakes are reported.
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompressSpec {
    pub prune: Option<(f64, PruneScope)>,
    pub finetune_epochs: usize,
    /// Weight sharing: K values per layer, then fine-tuning epochs.
    pub cluster: Option<Cluster>,
    pub quantize_int8: bool,
    pub distill: Option<Distill>,
    #[serde(skip)]
    pub span: Span,
}

/// `cluster K [finetune=N]`: each covered layer's weights as K shared
/// values (k-means), then N epochs that train the shared values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cluster {
    pub k: usize,
    pub finetune_epochs: usize,
}

impl Cluster {
    /// The most shared values a layer may have: indices fit in a byte.
    pub const MAX: usize = 256;
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleSpec {
    pub every: usize,
    pub length: usize,
    pub prompt: String,
    pub temperature: f64,
    #[serde(skip)]
    pub span: Span,
}
