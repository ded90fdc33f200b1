//! Shape inference: an [`Experiment`] plus its data's facts becomes a
//! [`Graph`], or every error at the line that causes it.

use crate::diagnostic::{Diagnostic, Sink, Span};
use crate::experiment::{Dim, Experiment, LayerDecl, LayerKind, Loss, Padding, SizeArg, Symbol};
use crate::graph::{param, DataFacts, Graph, Init, MemoryEstimate, Node, Op, Param, Shape, Target};
use crate::syntax::BinOp;
pub use memory::bytes;

mod loss;
mod memory;
mod names;

use names::{base_name, join, Namer};

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

struct Checker<'f> {
    sink: Sink,
    facts: &'f DataFacts,
}

impl Checker<'_> {
    /// Infers a sequence of layers. `shape` is `None` once an error has made
    /// the rest unknowable; later layers are then not checked (their errors
    /// would only echo the first).
    fn layers(
        &mut self,
        decls: &[LayerDecl],
        shape: &mut Option<Shape>,
        prefix: &str,
    ) -> Vec<Node> {
        let mut namer = Namer::reserving(decls);
        let mut out = Vec::new();
        for d in decls {
            let Some(input) = *shape else { break };
            if let LayerKind::Scope { name, body } = &d.kind {
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
            let base = base_name(&d.kind);
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

    fn size(&mut self, s: &SizeArg) -> Option<usize> {
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

    fn node(&mut self, d: &LayerDecl, input: Shape, name: String) -> Option<Node> {
        let span = d.span;
        let mut params = Vec::new();
        let p = |suffix: &str, shape: Vec<usize>, init: Init| Param {
            name: format!("{name}.{suffix}"),
            shape,
            init,
            trainable: true,
        };
        let float_only = |cx: &mut Self, what: &str| -> bool {
            if input.is_tokens() {
                cx.sink.push(
                    Diagnostic::error(span, format!("{what} needs float features, got {input}"))
                        .with_hint("add `embed N` before it to turn tokens into vectors"),
                );
                return false;
            }
            true
        };
        let (op, output, flops) = match &d.kind {
            LayerKind::Dense { units, bias } => {
                let units = self.size(units)?;
                let (fan_in, output, steps) = match input {
                    Shape::Vector { features } => (features, Shape::Vector { features: units }, 1),
                    Shape::Sequence { steps, features } => (
                        features,
                        Shape::Sequence {
                            steps,
                            features: units,
                        },
                        steps,
                    ),
                    Shape::Image { .. } => {
                        self.sink.push(
                            Diagnostic::error(span, format!("dense needs a vector, got {input}"))
                                .with_hint("add `flatten` before it"),
                        );
                        return None;
                    }
                    Shape::Tokens { .. } => {
                        float_only(self, "dense");
                        return None;
                    }
                };
                let bound = 1.0 / (fan_in as f32).sqrt();
                params.push(p(
                    param::WEIGHT,
                    vec![units, fan_in],
                    Init::Uniform { bound },
                ));
                if *bias {
                    params.push(p(param::BIAS, vec![units], Init::Uniform { bound }));
                }
                (
                    Op::Dense { units, bias: *bias },
                    output,
                    (2 * fan_in * units * steps) as u64,
                )
            }
            LayerKind::Conv {
                filters,
                kernel,
                stride,
                pad,
            } => {
                let filters = self.size(filters)?;
                let Shape::Image {
                    channels,
                    height,
                    width,
                } = input
                else {
                    let hint = match input {
                        Shape::Vector { .. } => {
                            "conv needs image data [C, H, W]; this input is flat"
                        }
                        _ => "conv needs image data [C, H, W]",
                    };
                    self.sink.push(
                        Diagnostic::error(
                            span,
                            format!("conv needs an image [C, H, W], got {input}"),
                        )
                        .with_hint(hint),
                    );
                    return None;
                };
                let pad = match pad {
                    Padding::Explicit(p) => *p,
                    Padding::Same => {
                        if kernel % 2 == 0 || *stride != 1 {
                            self.sink.push(
                                Diagnostic::error(
                                    span,
                                    "`pad=same` needs an odd kernel and stride 1",
                                )
                                .with_hint(format!(
                                    "give the padding as a number, e.g. `pad={}`",
                                    kernel / 2
                                )),
                            );
                            return None;
                        }
                        kernel / 2
                    }
                };
                let (h, w) = (height + 2 * pad, width + 2 * pad);
                if *kernel > h || *kernel > w {
                    self.sink.push(
                        Diagnostic::error(
                            span,
                            format!("kernel {kernel} is larger than its input {height}x{width} (padding {pad})"),
                        )
                        .with_hint("use a smaller kernel, add padding, or pool less before it"),
                    );
                    return None;
                }
                let (ho, wo) = ((h - kernel) / stride + 1, (w - kernel) / stride + 1);
                let fan_in = channels * kernel * kernel;
                let bound = 1.0 / (fan_in as f32).sqrt();
                params.push(p(
                    param::WEIGHT,
                    vec![filters, channels, *kernel, *kernel],
                    Init::Uniform { bound },
                ));
                params.push(p(param::BIAS, vec![filters], Init::Uniform { bound }));
                let out = Shape::Image {
                    channels: filters,
                    height: ho,
                    width: wo,
                };
                (
                    Op::Conv {
                        filters,
                        kernel: *kernel,
                        stride: *stride,
                        pad,
                    },
                    out,
                    (2 * fan_in * filters * ho * wo) as u64,
                )
            }
            LayerKind::Pool {
                mode,
                kernel,
                stride,
            } => {
                let Shape::Image {
                    channels,
                    height,
                    width,
                } = input
                else {
                    self.sink.push(
                        Diagnostic::error(
                            span,
                            format!("pool needs an image [C, H, W], got {input}"),
                        )
                        .with_hint("pooling works on the height and width of image data"),
                    );
                    return None;
                };
                if *kernel > height || *kernel > width {
                    self.sink.push(
                        Diagnostic::error(
                            span,
                            format!("pool size {kernel} is larger than its input {height}x{width}"),
                        )
                        .with_hint("pool less, or remove this pool"),
                    );
                    return None;
                }
                let (ho, wo) = (
                    (height - kernel) / stride + 1,
                    (width - kernel) / stride + 1,
                );
                let out = Shape::Image {
                    channels,
                    height: ho,
                    width: wo,
                };
                (
                    Op::Pool {
                        mode: *mode,
                        kernel: *kernel,
                        stride: *stride,
                    },
                    out,
                    (kernel * kernel * out.elements()) as u64,
                )
            }
            LayerKind::Flatten => {
                if !float_only(self, "flatten") {
                    return None;
                }
                (
                    Op::Flatten,
                    Shape::Vector {
                        features: input.elements(),
                    },
                    0,
                )
            }
            LayerKind::Dropout { p } => {
                if !float_only(self, "dropout") {
                    return None;
                }
                (Op::Dropout { p: *p }, input, input.elements() as u64)
            }
            LayerKind::BatchNorm { momentum, eps } => {
                let n = match input {
                    Shape::Vector { features } | Shape::Sequence { features, .. } => features,
                    Shape::Image { channels, .. } => channels,
                    Shape::Tokens { .. } => {
                        float_only(self, "batchnorm");
                        return None;
                    }
                };
                params.push(p(param::WEIGHT, vec![n], Init::Ones));
                params.push(p(param::BIAS, vec![n], Init::Zeros));
                for (s, init) in [
                    (param::RUNNING_MEAN, Init::Zeros),
                    (param::RUNNING_VAR, Init::Ones),
                ] {
                    params.push(Param {
                        trainable: false,
                        ..p(s, vec![n], init)
                    });
                }
                (
                    Op::BatchNorm {
                        momentum: *momentum,
                        eps: *eps,
                    },
                    input,
                    4 * input.elements() as u64,
                )
            }
            LayerKind::LayerNorm { eps } => {
                let n = match input {
                    Shape::Vector { features } | Shape::Sequence { features, .. } => features,
                    Shape::Image { .. } => {
                        self.sink.push(
                            Diagnostic::error(
                                span,
                                format!("layernorm needs a vector or a sequence, got {input}"),
                            )
                            .with_hint("use `batchnorm` for images, or `flatten` first"),
                        );
                        return None;
                    }
                    Shape::Tokens { .. } => {
                        float_only(self, "layernorm");
                        return None;
                    }
                };
                params.push(p(param::WEIGHT, vec![n], Init::Ones));
                params.push(p(param::BIAS, vec![n], Init::Zeros));
                (
                    Op::LayerNorm { eps: *eps },
                    input,
                    5 * input.elements() as u64,
                )
            }
            LayerKind::Embed { dim } => {
                let dim = self.size(dim)?;
                let Shape::Tokens { steps } = input else {
                    self.sink.push(
                        Diagnostic::error(span, format!("embed needs token ids, got {input}"))
                            .with_hint(
                                "embed turns text tokens into vectors; use it first on `data text`",
                            ),
                    );
                    return None;
                };
                let Target::NextToken { vocab } = self.facts.target else {
                    self.sink
                        .error(span, "embed needs a vocabulary from text data");
                    return None;
                };
                params.push(p(
                    param::WEIGHT,
                    vec![vocab, dim],
                    Init::Normal { std: 1.0 },
                ));
                (
                    Op::Embed { vocab, dim },
                    Shape::Sequence {
                        steps,
                        features: dim,
                    },
                    0,
                )
            }
            LayerKind::Recurrent { cell, hidden, last } => {
                let hidden = self.size(hidden)?;
                let (steps, features) = match input {
                    Shape::Sequence { steps, features } => (steps, features),
                    Shape::Tokens { .. } => {
                        float_only(self, cell.name());
                        return None;
                    }
                    other => {
                        self.sink.push(
                            Diagnostic::error(span, format!("{} needs a sequence [steps, features], got {other}", cell.name()))
                                .with_hint("recurrent layers read sequences: text through `embed`, or sequence data"),
                        );
                        return None;
                    }
                };
                let g = cell.gates() * hidden;
                let bound = 1.0 / (hidden as f32).sqrt();
                let init = Init::Uniform { bound };
                params.push(p(param::WEIGHT_IH, vec![g, features], init));
                params.push(p(param::WEIGHT_HH, vec![g, hidden], init));
                params.push(p(param::BIAS_IH, vec![g], init));
                params.push(p(param::BIAS_HH, vec![g], init));
                let out = if *last {
                    Shape::Vector { features: hidden }
                } else {
                    Shape::Sequence {
                        steps,
                        features: hidden,
                    }
                };
                let flops = steps * (2 * g * (features + hidden) + 4 * g);
                (
                    Op::Recurrent {
                        cell: *cell,
                        hidden,
                        last: *last,
                    },
                    out,
                    flops as u64,
                )
            }
            LayerKind::Last => {
                let Shape::Sequence { features, .. } = input else {
                    self.sink.push(
                        Diagnostic::error(span, format!("last needs a sequence, got {input}"))
                            .with_hint("`last` takes the final step of a recurrent layer's output"),
                    );
                    return None;
                };
                (Op::Last, Shape::Vector { features }, 0)
            }
            LayerKind::Activation(a) => {
                if !float_only(self, a.name()) {
                    return None;
                }
                (
                    Op::Activation { activation: *a },
                    input,
                    4 * input.elements() as u64,
                )
            }
            LayerKind::Residual(body) => {
                let mut shape = Some(input);
                let nodes = self.layers(body, &mut shape, &name);
                let out = shape?;
                if out != input {
                    self.sink.push(
                        Diagnostic::error(
                            span,
                            format!("the residual body turns {input} into {out}; a residual needs both the same"),
                        )
                        .with_hint(format!("make the body's last layer output {input}")),
                    );
                    return None;
                }
                let flops = nodes.iter().map(|n| n.flops).sum::<u64>() + input.elements() as u64;
                (Op::Residual { body: nodes }, input, flops)
            }
            LayerKind::Scope { .. } => unreachable!("scopes are flattened by `layers`"),
        };
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
