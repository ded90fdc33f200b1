//! Layers without parameters that reshape or gate their input: `flatten`, `dropout P`, `last`, and activations as layers.

use crate::check::{At, Checker, Shaped};
use crate::diagnostic::Diagnostic;
use crate::experiment::Activation;
use crate::graph::{Op, Shape};

impl Checker<'_> {
    pub(crate) fn flatten(&mut self, at: &At<'_>) -> Option<Shaped> {
        let input = at.input;
        if !self.float_only(at, "flatten") {
            return None;
        }
        Some(Shaped {
            op: Op::Flatten,
            output: Shape::Vector {
                features: input.elements(),
            },
            flops: 0,
            params: Vec::new(),
        })
    }

    pub(crate) fn dropout(&mut self, at: &At<'_>, p: &f32) -> Option<Shaped> {
        let input = at.input;
        if !self.float_only(at, "dropout") {
            return None;
        }
        Some(Shaped {
            op: Op::Dropout { p: *p },
            output: input,
            flops: input.elements() as u64,
            params: Vec::new(),
        })
    }

    pub(crate) fn last(&mut self, at: &At<'_>) -> Option<Shaped> {
        let (span, input) = (at.span, at.input);
        let Shape::Sequence { features, .. } = input else {
            self.sink.push(
                Diagnostic::error(span, format!("last needs a sequence, got {input}"))
                    .with_hint("`last` takes the final step of a recurrent layer's output"),
            );
            return None;
        };
        Some(Shaped {
            op: Op::Last,
            output: Shape::Vector { features },
            flops: 0,
            params: Vec::new(),
        })
    }

    pub(crate) fn activation(&mut self, at: &At<'_>, a: &Activation) -> Option<Shaped> {
        let input = at.input;
        if !self.float_only(at, a.name()) {
            return None;
        }
        Some(Shaped {
            op: Op::Activation { activation: *a },
            output: input,
            flops: 4 * input.elements() as u64,
            params: Vec::new(),
        })
    }
}
