//! Layer names: Keras-like defaults per scope (`dense1`, `dense2`), labels
//! checked for uniqueness, and dotted paths through blocks.

use std::collections::HashMap;

use crate::diagnostic::{Diagnostic, Sink, Span};
use crate::experiment::LayerDecl;

/// Per-scope counters that give unnamed layers Keras-like names.
#[derive(Default)]
pub(super) struct Namer {
    counts: HashMap<String, usize>,
    taken: HashMap<String, Span>,
}

impl Namer {
    /// A scope's namer with its labels taken first, so that an automatic
    /// name never takes a label's name.
    pub(super) fn reserving(decls: &[LayerDecl]) -> Namer {
        let mut namer = Namer::default();
        for d in decls {
            if let Some(l) = &d.label {
                namer.taken.entry(l.clone()).or_insert(d.span);
            }
        }
        namer
    }

    pub(super) fn name(
        &mut self,
        base: &str,
        label: Option<&str>,
        span: Span,
        sink: &mut Sink,
    ) -> String {
        let name = match label {
            Some(l) => l.to_string(),
            None => loop {
                let n = self.counts.entry(base.to_string()).or_insert(0);
                *n += 1;
                let candidate = format!("{base}{n}");
                if !self.taken.contains_key(&candidate) {
                    break candidate;
                }
            },
        };
        if let Some(prev) = self.taken.insert(name.clone(), span) {
            if label.is_some() && prev != span {
                sink.push(
                    Diagnostic::error(span, format!("two layers are named `{name}`"))
                        .with_hint("layer names must be unique: they name the parameters"),
                );
            }
        }
        name
    }
}

pub(super) fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}
