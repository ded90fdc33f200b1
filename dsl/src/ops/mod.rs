//! One file per layer kind, each holding the kind's lowering (its
//! arguments, read from the file) and its shape rule (input shape in;
//! output shape, parameters and FLOPs out, or an error at the layer's
//! line). [`KINDS`] is the one table of kinds: keyword, whether it takes a
//! body, and its lowering; the layer words, "did you mean" and the body
//! check all read it.

mod conv;
mod dense;
mod embed;
mod norm;
mod pool;
mod recurrent;
mod reshape;
mod residual;

use crate::check::{At, Checker, Shaped};
use crate::experiment::{Activation, LayerDecl, LayerKind};
use crate::lower::layer_args::{Args, Lowerer};
use crate::syntax::{Command, Stmt};

/// A layer as read from its line: its kind and fused activation.
pub(crate) struct Lowered {
    pub kind: LayerKind,
    pub activation: Option<Activation>,
}

impl Lowered {
    pub fn plain(kind: LayerKind) -> Self {
        Lowered {
            kind,
            activation: None,
        }
    }
}

/// Lowers the layers of a body (a residual's).
pub(crate) type BodyLowerer<'a> = &'a dyn Fn(&mut Lowerer<'_>, &[Stmt]) -> Vec<LayerDecl>;

type Lower = fn(&mut Lowerer<'_>, Args, &Command, BodyLowerer<'_>) -> Option<Lowered>;

/// One layer kind as the language knows it.
pub(crate) struct Kind {
    pub keyword: &'static str,
    pub takes_body: bool,
    pub lower: Lower,
}

const fn kind(keyword: &'static str, lower: Lower) -> Kind {
    Kind {
        keyword,
        takes_body: false,
        lower,
    }
}

/// Every layer kind, in the order the language reference lists them.
pub(crate) const KINDS: [Kind; 13] = [
    kind("dense", dense::lower_dense),
    kind("conv", conv::lower_conv),
    kind("pool", pool::lower_pool),
    kind("flatten", reshape::lower_flatten),
    kind("dropout", reshape::lower_dropout),
    kind("batchnorm", norm::lower_batchnorm),
    kind("layernorm", norm::lower_layernorm),
    kind("embed", embed::lower_embed),
    kind("rnn", recurrent::lower_recurrent),
    kind("lstm", recurrent::lower_recurrent),
    kind("gru", recurrent::lower_recurrent),
    kind("last", reshape::lower_last),
    Kind {
        keyword: "residual",
        takes_body: true,
        lower: residual::lower_residual,
    },
];

/// `repeat N { ... }` is lowered by the model itself (it expands its body
/// in place), but is a layer word like the kinds.
pub(crate) const REPEAT: &str = "repeat";

/// Every word that starts a layer: the kinds, `repeat`, then activations.
pub const LAYERS: [&str; KINDS.len() + 1 + Activation::NAMES.len()] = {
    let mut out = [""; KINDS.len() + 1 + Activation::NAMES.len()];
    let mut i = 0;
    while i < KINDS.len() {
        out[i] = KINDS[i].keyword;
        i += 1;
    }
    out[i] = REPEAT;
    let mut j = 0;
    while j < Activation::NAMES.len() {
        out[i + 1 + j] = Activation::NAMES[j];
        j += 1;
    }
    out
};

impl Checker<'_> {
    /// The shape rule of a layer's kind, applied at `at`.
    pub(crate) fn rule(&mut self, at: &At<'_>, kind: &LayerKind) -> Option<Shaped> {
        match kind {
            LayerKind::Dense { units, bias } => self.dense(at, units, bias),
            LayerKind::Conv {
                filters,
                kernel,
                stride,
                pad,
            } => self.conv(at, filters, kernel, stride, pad),
            LayerKind::Pool {
                mode,
                kernel,
                stride,
            } => self.pool(at, mode, kernel, stride),
            LayerKind::Flatten => self.flatten(at),
            LayerKind::Dropout { p } => self.dropout(at, p),
            LayerKind::BatchNorm { momentum, eps } => self.batchnorm(at, momentum, eps),
            LayerKind::LayerNorm { eps } => self.layernorm(at, eps),
            LayerKind::Embed { dim, .. } => self.embed(at, dim),
            LayerKind::Recurrent { cell, hidden, last } => self.recurrent(at, cell, hidden, last),
            LayerKind::Last => self.last(at),
            LayerKind::Activation { activation: a } => self.activation(at, a),
            LayerKind::Residual { body } => self.residual(at, body),
            LayerKind::Scope(_) => unreachable!("scopes are flattened by `layers`"),
        }
    }
}

/// The kind a word names, if it names one.
pub(crate) fn kind_of(word: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.keyword == word)
}

/// Whether a layer word takes a `{ }` body.
pub(crate) fn takes_body(word: &str) -> bool {
    word == REPEAT || kind_of(word).is_some_and(|k| k.takes_body)
}
