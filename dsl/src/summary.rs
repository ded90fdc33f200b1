//! The model summary table, as Keras' `model.summary()` prints it: one row
//! per layer (residual bodies indented), then totals and training memory.

use std::fmt::Write;

use crate::check::bytes;
use crate::graph::{Graph, Node};

/// One row of the summary; the dashboard draws these itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub depth: usize,
    pub name: String,
    pub kind: String,
    pub output: String,
    pub params: usize,
    pub flops: u64,
}

pub fn rows(g: &Graph) -> Vec<Row> {
    fn walk(nodes: &[Node], depth: usize, out: &mut Vec<Row>) {
        for n in nodes {
            let kind = match n.activation {
                Some(a) => format!("{}+{}", n.op.kind(), a.name()),
                None => n.op.kind().to_string(),
            };
            out.push(Row {
                depth,
                name: n.name.clone(),
                kind,
                output: n.output.to_string(),
                params: n.param_count(),
                flops: n.flops,
            });
            walk(n.body(), depth + 1, out);
        }
    }
    let mut out = vec![Row {
        depth: 0,
        name: "input".into(),
        kind: "input".into(),
        output: g.facts.input.to_string(),
        params: 0,
        flops: 0,
    }];
    walk(&g.nodes, 0, &mut out);
    out
}

/// `1234567` as `1,234,567`.
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The whole table as text.
pub fn render(g: &Graph) -> String {
    let rows = rows(g);
    let name_w = rows
        .iter()
        .map(|r| r.name.len() + 2 * r.depth)
        .max()
        .unwrap_or(0)
        .max(5);
    let kind_w = rows.iter().map(|r| r.kind.len()).max().unwrap_or(0).max(4);
    let out_w = rows
        .iter()
        .map(|r| r.output.len())
        .max()
        .unwrap_or(0)
        .max(12);
    let mut s = String::new();
    let exp = &g.experiment;
    if !exp.name.is_empty() {
        let _ = writeln!(s, "experiment {}", exp.name);
    }
    let header = format!(
        "{:name_w$}  {:kind_w$}  {:out_w$}  {:>12}  {:>14}",
        "layer", "kind", "output shape", "params", "flops"
    );
    let rule = "-".repeat(header.len());
    let _ = writeln!(s, "{header}\n{rule}");
    for r in &rows {
        let name = format!("{}{}", "  ".repeat(r.depth), r.name);
        let _ = writeln!(
            s,
            "{name:name_w$}  {:kind_w$}  {:out_w$}  {:>12}  {:>14}",
            r.kind,
            r.output,
            grouped(r.params as u64),
            grouped(r.flops)
        );
    }
    let _ = writeln!(s, "{rule}");
    let total = g.param_count();
    let _ = writeln!(s, "parameters: {}", grouped(total as u64));
    let _ = writeln!(s, "flops per sample (forward): {}", grouped(g.flops()));
    let _ = writeln!(
        s,
        "training memory at batch {}: {} (parameters {}, gradients and optimizer {}, activations {}, data {})",
        exp.train.batch,
        bytes(g.memory.total()),
        bytes(g.memory.parameters),
        bytes(g.memory.training_state),
        bytes(g.memory.activations),
        bytes(g.memory.data)
    );
    s
}
