//! Whether the loss fits the data's target and the model's output.

use super::Checker;
use crate::diagnostic::Diagnostic;
use crate::experiment::{Activation, Experiment, Loss};
use crate::graph::{Node, Op, Shape, Target};

impl Checker<'_> {
    pub(super) fn loss(&mut self, exp: &Experiment, nodes: &[Node]) -> Option<Loss> {
        let target = self.facts.target;
        let loss = exp.train.loss.unwrap_or(match target {
            Target::Values { .. } => Loss::Mse,
            _ => Loss::CrossEntropy,
        });
        let last = nodes.last()?;
        let out = last.output;
        let span = last.span;
        let fix_classes = "end the model with `dense classes`";
        let err = |cx: &mut Self, msg: String, hint: &str| {
            cx.sink
                .push(Diagnostic::error(span, msg).with_hint(hint.to_string()));
            None
        };
        match (loss, target) {
            (Loss::CrossEntropy, Target::Classes { classes }) => match out {
                Shape::Vector { features } if features == classes => {}
                Shape::Vector { features } => {
                    return err(self, format!("the model outputs {features} values but the data has {classes} classes"), fix_classes)
                }
                other => {
                    return err(self, format!("cross_entropy over classes needs a vector output, got {other}"), "add `flatten` (or `last` after a recurrent layer) and `dense classes`")
                }
            },
            (Loss::CrossEntropy, Target::NextToken { vocab }) => match out {
                Shape::Sequence { features, .. } if features == vocab => {}
                Shape::Sequence { features, .. } => {
                    return err(self, format!("the model outputs {features} values per step but the vocabulary has {vocab} tokens"), "end the model with `dense vocab`")
                }
                other => {
                    return err(self, format!("next-token prediction needs an output at every step, got {other}"), "keep every step (no `last`) and end with `dense vocab`")
                }
            },
            (Loss::CrossEntropy | Loss::Bce, Target::Values { .. }) => {
                return err(self, format!("{} needs classes, but this data is a regression", loss_name(loss)), "use `loss mse`")
            }
            (Loss::Mse, Target::Values { shape }) => {
                if out != shape {
                    return err(self, format!("the model outputs {out} but the targets are {shape}"), "make the last layer output the target's shape");
                }
            }
            (Loss::Mse, Target::Classes { classes }) | (Loss::Bce, Target::Classes { classes }) => {
                let ok = matches!(out, Shape::Vector { features } if features == classes
                    || (loss == Loss::Bce && classes == 2 && features == 1));
                if !ok {
                    let want = if loss == Loss::Bce && classes == 2 { "1 or 2".to_string() } else { classes.to_string() };
                    return err(self, format!("{} over {classes} classes needs an output of {want} values, got {out}", loss_name(loss)), fix_classes);
                }
            }
            (Loss::Mse | Loss::Bce, Target::NextToken { .. }) => {
                return err(self, format!("{} does not fit next-token prediction", loss_name(loss)), "use `loss cross_entropy`")
            }
        }
        if loss == Loss::CrossEntropy
            && (last.activation == Some(Activation::Softmax)
                || matches!(
                    last.op,
                    Op::Activation(crate::ops::reshape::Activate {
                        activation: Activation::Softmax
                    })
                ))
        {
            self.sink.push(
                Diagnostic::warning(span, "softmax before cross_entropy").with_hint(
                    "cross_entropy applies softmax itself; remove it to avoid squashing gradients",
                ),
            );
        }
        Some(loss)
    }
}

fn loss_name(l: Loss) -> &'static str {
    match l {
        Loss::CrossEntropy => "cross_entropy",
        Loss::Mse => "mse",
        Loss::Bce => "bce",
    }
}
