//! A layer, defined once for both stages of a file's life: as parsed
//! (`LayerKind`: sizes may name the data, `pad=same`, bodies of
//! declarations, block scopes) and as checked (`Op`: every size a number,
//! bodies of checked nodes, no scopes left). A kind added here is a kind
//! for both.

use serde::{Serialize, Serializer};

use crate::experiment::{LayerDecl, Padding, SizeArg};
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

/// The one table of layer kinds: each kind's variant and its arguments'
/// type in `ops/`, whose file holds its lowering and its shape rule.
/// Everything else that lists kinds is generated from it: the [`Layer`]
/// enum and its dispatch here, the table of layer words in `ops`, and the
/// engine's layers (`dlwb_engine`'s `layers/mod.rs` calls this with its
/// own callback). Adding a kind adds one line here.
#[macro_export]
macro_rules! for_each_kind {
    ($callback:ident) => {
        $callback! {
            Dense => dense::Dense<S>,
            Conv => conv::Conv<S>,
            Pool => pool::Pool,
            Flatten => reshape::Flatten,
            Dropout => reshape::Dropout,
            BatchNorm => norm::BatchNorm,
            LayerNorm => norm::LayerNorm,
            Embed => embed::Embed<S>,
            Recurrent => recurrent::Recurrent<S>,
            Last => reshape::Last,
            Activation => reshape::Activate,
            Residual => residual::Residual<S>,
        }
    };
}

/// The word a layer's arguments are written with, at either stage.
pub trait Keyword {
    /// The word that names unnamed layers (`dense1`): a recurrent
    /// layer's cell, an activation's name.
    fn keyword(&self) -> &'static str;
}

macro_rules! layer_enum {
    ($($variant:ident => $module:ident :: $args:ident $(<$stage:ident>)?,)*) => {
        /// A layer of either stage: one variant per kind, holding that
        /// kind's arguments (`ops/<kind>.rs`).
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(
            rename_all = "snake_case",
            tag = "kind",
            bound(
                serialize = "S::Size: Serialize, S::Pad: Serialize, S::Vocab: Serialize, S::Body: Serialize, S::Scope: Serialize"
            )
        )]
        pub enum Layer<S: Stage> {
            $($variant(crate::ops::$module::$args $(<$stage>)?),)*
            Scope(S::Scope),
        }

        impl<S: Stage> Layer<S> {
            /// The word the language writes the kind with, which also names
            /// unnamed layers (`dense1`): a recurrent layer's cell, an
            /// activation's name.
            pub fn keyword(&self) -> &'static str {
                match self {
                    $(Layer::$variant(a) => a.keyword(),)*
                    Layer::Scope(_) => "scope",
                }
            }
        }

        impl crate::check::Checker<'_> {
            /// The shape rule of a layer's kind, applied at `at`.
            pub(crate) fn rule(
                &mut self,
                at: &crate::check::At<'_>,
                kind: &LayerKind,
            ) -> Option<crate::check::Shaped> {
                use crate::ops::Kind as _;
                match kind {
                    $(Layer::$variant(a) => a.rule(self, at),)*
                    Layer::Scope(_) => unreachable!("scopes are flattened by `layers`"),
                }
            }
        }

        /// Every kind's words, body flag and lowering, in the table's order.
        pub(crate) const KINDS: &[crate::ops::Entry] = {
            // The arguments as lowered from the file.
            type S = Parsed;
            &[$(crate::ops::entry::<crate::ops::$module::$args $(<$stage>)?>(),)*]
        };
    };
}

for_each_kind!(layer_enum);

/// A layer as parsed.
pub type LayerKind = Layer<Parsed>;
/// A layer as checked.
pub type Op = Layer<Checked>;
