//! Shape inference: an [`Experiment`] plus its data's facts becomes a
//! [`Graph`], or every error at the line that causes it.

use crate::diagnostic::{Diagnostic, Sink, Span};
use crate::experiment::{Dim, Experiment, LayerDecl, LayerKind, Loss, Scope, SizeArg, Symbol};
use crate::graph::{DataFacts, Graph, Init, MemoryEstimate, Node, Op, Param, Shape, Target};
use crate::syntax::BinOp;
pub use memory::bytes;

mod loss;
mod memory;
mod names;

use names::{join, Namer};

#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Bytes the machine can give a run; a model needing more is refused.
    pub memory_budget: Option<u64>,
}

pub fn check(
    exp: &Experiment,
    facts: &DataFacts,
    opts: &CheckOptions,
) -> Result<Graph, Vec<Diagnostic>> {
    let mut cx = Checker {
        sink: Sink::default(),
        facts,
    };
    let mut shape = Some(facts.input);
    let nodes = cx.layers(&exp.model, &mut shape, "");
    // After a shape error the output is unknown: checking it against the
    // loss would only echo that error.
    let loss = if shape.is_some() {
        cx.loss(exp, &nodes)
    } else {
        None
    };
    let mut graph = Graph {
        experiment: exp.clone(),
        facts: *facts,
        nodes,
        loss: loss.unwrap_or(Loss::CrossEntropy),
        memory: MemoryEstimate {
            parameters: 0,
            training_state: 0,
            activations: 0,
            data: 0,
        },
        warnings: Vec::new(),
    };
    if let (Some(d), Some(l)) = (exp.compress.as_ref().and_then(|c| c.distill.as_ref()), loss) {
        if l != Loss::CrossEntropy {
            cx.sink.push(
                Diagnostic::error(
                    d.span,
                    "distillation needs a model trained with cross_entropy",
                )
                .with_hint("the teacher's softened outputs are class probabilities"),
            );
        }
    }
    if cx.sink.has_errors() || shape.is_none() {
        return Err(cx.sink.diagnostics);
    }
    graph.memory = memory::estimate(&graph);
    if let Some(refused) = opts.memory_budget.and_then(|b| memory::refusal(&graph, b)) {
        cx.sink.push(refused);
        return Err(cx.sink.diagnostics);
    }
    graph.warnings = cx.sink.diagnostics;
    Ok(graph)
}

/// Where a layer's rule applies: the node's dotted name, its input, and
/// its line.
pub(crate) struct At<'a> {
    pub name: &'a str,
    pub input: Shape,
    pub span: Span,
}

impl At<'_> {
    /// A trainable parameter of this node, named `{node}.{suffix}`.
    pub fn param(&self, suffix: &str, shape: Vec<usize>, init: Init) -> Param {
        Param {
            name: format!("{}.{suffix}", self.name),
            shape,
            init,
            trainable: true,
        }
    }
}

/// What a layer's rule gives: its op, output shape, forward FLOPs per
/// sample (body included), and parameters.
pub(crate) struct Shaped {
    pub op: Op,
    pub output: Shape,
    pub flops: u64,
    pub params: Vec<Param>,
}

pub(crate) struct Checker<'f> {
    pub(crate) sink: Sink,
    pub(crate) facts: &'f DataFacts,
}

impl Checker<'_> {
    /// Infers a sequence of layers. `shape` is `None` once an error has made
    /// the rest unknowable; later layers are then not checked (their errors
    /// would only echo the first).
    pub(crate) fn layers(
        &mut self,
        decls: &[LayerDecl],
        shape: &mut Option<Shape>,
        prefix: &str,
    ) -> Vec<Node> {
        let mut namer = Namer::reserving(decls);
        let mut out = Vec::new();
        for d in decls {
            let Some(input) = *shape else { break };
            if let LayerKind::Scope(Scope { name, body }) = &d.kind {
                let scope = if name.chars().all(|c| c.is_ascii_digit()) && !name.is_empty() {
                    name.clone()
                } else {
                    let base = if name.is_empty() {
                        "repeat"
                    } else {
                        name.as_str()
                    };
                    namer.name(base, d.label.as_deref(), d.span, &mut self.sink)
                };
                out.extend(self.layers(body, shape, &join(prefix, &scope)));
                continue;
            }
            let base = d.kind.keyword();
            let name = join(
                prefix,
                &namer.name(base, d.label.as_deref(), d.span, &mut self.sink),
            );
            match self.node(d, input, name) {
                Some(node) => {
                    *shape = Some(node.output);
                    out.push(node);
                }
                None => *shape = None,
            }
        }
        out
    }

    pub(crate) fn size(&mut self, s: &SizeArg) -> Option<usize> {
        let v = self.dim(&s.dim, s.span)?;
        if v.fract() != 0.0 || !(1.0..=1e9).contains(&v) {
            self.sink.error(
                s.span,
                format!(
                    "a size must be a positive whole number, got {}",
                    crate::value::fmt_num(v)
                ),
            );
            return None;
        }
        Some(v as usize)
    }

    fn dim(&mut self, d: &Dim, span: Span) -> Option<f64> {
        Some(match d {
            Dim::Lit(v) => *v,
            Dim::Sym(s) => self.symbol(*s, span)? as f64,
            Dim::Bin(op, a, b) => {
                let (a, b) = (self.dim(a, span)?, self.dim(b, span)?);
                match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    BinOp::Div if b == 0.0 => {
                        self.sink.error(span, "division by zero");
                        return None;
                    }
                    BinOp::Div => a / b,
                }
            }
        })
    }

    fn symbol(&mut self, s: Symbol, span: Span) -> Option<usize> {
        let f = self.facts;
        let found = match (s, f.target, f.input) {
            (Symbol::Classes, Target::Classes { classes }, _) => Some(classes),
            (Symbol::Vocab, Target::NextToken { vocab }, _) => Some(vocab),
            (Symbol::Features, _, input) => Some(input.elements()),
            (Symbol::Channels, _, Shape::Image { channels, .. }) => Some(channels),
            _ => None,
        };
        if found.is_none() {
            let (msg, hint) = match s {
                Symbol::Classes => (
                    "this data has no classes",
                    match f.target {
                        Target::NextToken { .. } => "text data predicts tokens: use `vocab`",
                        _ => "a regression predicts values: give the output size as a number",
                    },
                ),
                Symbol::Vocab => (
                    "this data has no vocabulary",
                    "`vocab` comes from `data text`; use `classes` for labels",
                ),
                Symbol::Channels => (
                    "this data has no channels",
                    "`channels` is the first dimension of image data",
                ),
                Symbol::Features => unreachable!("every input has features"),
            };
            self.sink.push(Diagnostic::error(span, msg).with_hint(hint));
        }
        found
    }

    /// An error for a layer that needs float features when `at`'s input
    /// is tokens; false then.
    pub(crate) fn float_only(&mut self, at: &At<'_>, what: &str) -> bool {
        if at.input.is_tokens() {
            self.sink.push(
                Diagnostic::error(
                    at.span,
                    format!("{what} needs float features, got {}", at.input),
                )
                .with_hint("add `embed N` before it to turn tokens into vectors"),
            );
            return false;
        }
        true
    }

    fn node(&mut self, d: &LayerDecl, input: Shape, name: String) -> Option<Node> {
        let span = d.span;
        let at = At {
            name: &name,
            input,
            span,
        };
        let Shaped {
            op,
            output,
            flops,
            params,
        } = self.rule(&at, &d.kind)?;
        let act_flops = d.activation.map_or(0, |_| 4 * output.elements() as u64);
        Some(Node {
            name,
            op,
            activation: d.activation,
            input,
            output,
            params,
            flops: flops + act_flops,
            span,
        })
    }
}
