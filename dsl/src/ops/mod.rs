//! One file per layer kind, each holding the kind's lowering (its
//! arguments, read from the file) and its shape rule (input shape in;
//! output shape, parameters and FLOPs out, or an error at the layer's
//! line), behind the [`Kind`] trait. `layer::for_each_kind` lists the
//! kinds; the table of layer words (`KINDS`, [`LAYERS`]), "did you mean"
//! and the body check all derive from it.

pub mod conv;
pub mod dense;
pub mod embed;
pub mod norm;
pub mod pool;
pub mod recurrent;
pub mod reshape;
pub mod residual;

use crate::check::{At, Checker, Shaped};
use crate::experiment::{Activation, LayerDecl, LayerKind};
use crate::layer::{Keyword, KINDS};
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

pub(crate) type Lower = fn(&mut Lowerer<'_>, Args, &Command, BodyLowerer<'_>) -> Option<Lowered>;

/// What every kind's arguments (as parsed) say about the kind: the
/// words that write it, whether it takes a body, its lowering, and its
/// shape rule. Implemented in the kind's file; `layer::for_each_kind`
/// lists the kinds.
pub(crate) trait Kind: Keyword {
    /// The words that start a layer of this kind (`rnn`, `lstm`, `gru`).
    const WORDS: &'static [&'static str];
    const TAKES_BODY: bool = false;
    /// Reads the layer's arguments from its line.
    const LOWER: Lower;
    /// Input shape in; output shape, parameters and FLOPs out, or an error
    /// at the layer's line.
    fn rule(&self, c: &mut Checker<'_>, at: &At<'_>) -> Option<Shaped>;
}

/// The `Keyword` and `Kind` of a kind written with one word, whose rule
/// is the `Checker` method `$rule(at, args)`: `kind!(Pool, "pool",
/// lower_pool, pool)`; `Dense<S>` for arguments generic over the stage;
/// `body = true` at the end for a kind that takes one.
macro_rules! kind {
    (@kind $args:ty, $word:literal, $body:expr, $lower:ident, $rule:ident) => {
        impl $crate::ops::Kind for $args {
            const WORDS: &'static [&'static str] = &[$word];
            const TAKES_BODY: bool = $body;
            const LOWER: $crate::ops::Lower = $lower;

            fn rule(
                &self,
                c: &mut $crate::check::Checker<'_>,
                at: &$crate::check::At<'_>,
            ) -> Option<$crate::check::Shaped> {
                c.$rule(at, self)
            }
        }
    };
    (@keyword [$($generics:tt)*] $args:ty, $word:literal) => {
        impl<$($generics)*> $crate::layer::Keyword for $args {
            fn keyword(&self) -> &'static str {
                $word
            }
        }
    };
    ($args:ident<S>, $word:literal, $lower:ident, $rule:ident $(, body = $body:literal)?) => {
        kind!(@keyword [S: $crate::layer::Stage] $args<S>, $word);
        kind!(@kind $args<$crate::layer::Parsed>, $word, kind!(@body $($body)?), $lower, $rule);
    };
    ($args:ident, $word:literal, $lower:ident, $rule:ident $(, body = $body:literal)?) => {
        kind!(@keyword [] $args, $word);
        kind!(@kind $args, $word, kind!(@body $($body)?), $lower, $rule);
    };
    (@body $body:literal) => { $body };
    (@body) => { false };
}
pub(crate) use kind;

/// A kind as the language's table of words holds it.
pub(crate) struct Entry {
    pub words: &'static [&'static str],
    pub takes_body: bool,
    pub lower: Lower,
}

pub(crate) const fn entry<K: Kind>() -> Entry {
    Entry {
        words: K::WORDS,
        takes_body: K::TAKES_BODY,
        lower: K::LOWER,
    }
}

/// `repeat N { ... }` is lowered by the model itself (it expands its body
/// in place), but is a layer word like the kinds.
pub(crate) const REPEAT: &str = "repeat";

const KIND_WORDS: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < KINDS.len() {
        n += KINDS[i].words.len();
        i += 1;
    }
    n
};

/// Every word that starts a layer: the kinds', `repeat`, then activations.
pub const LAYERS: [&str; KIND_WORDS + 1 + Activation::NAMES.len()] = {
    let mut out = [""; KIND_WORDS + 1 + Activation::NAMES.len()];
    let mut n = 0;
    let mut i = 0;
    while i < KINDS.len() {
        let mut j = 0;
        while j < KINDS[i].words.len() {
            out[n] = KINDS[i].words[j];
            n += 1;
            j += 1;
        }
        i += 1;
    }
    out[n] = REPEAT;
    let mut j = 0;
    while j < Activation::NAMES.len() {
        out[n + 1 + j] = Activation::NAMES[j];
        j += 1;
    }
    out
};

/// The kind a word names, if it names one.
pub(crate) fn kind_of(word: &str) -> Option<&'static Entry> {
    KINDS.iter().find(|k| k.words.contains(&word))
}

/// Whether a layer word takes a `{ }` body.
pub(crate) fn takes_body(word: &str) -> bool {
    word == REPEAT || kind_of(word).is_some_and(|k| k.takes_body)
}
