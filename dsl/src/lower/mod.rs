//! Syntax tree to [`Experiment`]: gives every statement its meaning.
//!
//! Every mistake is collected (never only the first), each at its own span.
//! Sizes that need the data stay symbolic; shapes are `check.rs`'s job.

mod args;
mod compress;
mod data;
pub(crate) mod layer_args;
mod model;
mod train;

use std::collections::HashMap;

use crate::diagnostic::{unknown, Diagnostic, Sink, Span};
use crate::experiment::{Expectation, Experiment, SampleSpec, SourceKind};
use crate::syntax::{Command, Stmt};
use crate::value::{eval, Conv, Env};

pub use args::Args;

const SECTIONS: [&str; 9] = [
    "experiment",
    "data",
    "model",
    "train",
    "expect",
    "compress",
    "sample",
    "let",
    "block",
];

/// Metric names a run reports and `expect` and `early_stop` may name.
pub use crate::metric::NAMES as METRICS;

pub(crate) struct Lowerer<'a> {
    pub sink: Sink,
    pub env: Env,
    pub blocks: HashMap<String, (&'a [crate::syntax::Ident], &'a [Stmt], Span)>,
}

impl Lowerer<'_> {
    pub fn conv(&mut self) -> Conv<'_> {
        Conv {
            sink: &mut self.sink,
            env: &self.env,
        }
    }
}

/// The file's top level: its sections found (each once), its name, and
/// its `let`s and blocks taken into the lowerer.
struct TopLevel<'a> {
    sections: HashMap<&'a str, &'a Command>,
    name: String,
    sample: Option<&'a Command>,
}

fn top_level<'a>(lw: &mut Lowerer<'a>, stmts: &'a [Stmt]) -> TopLevel<'a> {
    let mut top = TopLevel {
        sections: HashMap::new(),
        name: String::new(),
        sample: None,
    };
    for stmt in stmts {
        match stmt {
            Stmt::Let { name, value, .. } => {
                if crate::experiment::Symbol::from_name(&name.name).is_some() {
                    lw.sink.push(
                        Diagnostic::error(
                            name.span,
                            format!("`{}` is a data symbol and cannot be redefined", name.name),
                        )
                        .with_hint("choose another name"),
                    );
                    continue;
                }
                let v = eval(value, &lw.env, &mut lw.sink);
                lw.env.insert(name.name.clone(), v);
            }
            Stmt::Block {
                name,
                params,
                body,
                span,
            } => {
                if lw.blocks.contains_key(&name.name) {
                    lw.sink
                        .error(name.span, format!("block `{}` is defined twice", name.name));
                }
                lw.blocks.insert(
                    name.name.clone(),
                    (params.as_slice(), body.as_slice(), *span),
                );
            }
            Stmt::Compare { span, .. } => lw.sink.push(
                Diagnostic::error(*span, "a comparison outside `expect`")
                    .with_hint("put metric goals inside `expect { ... }`"),
            ),
            Stmt::Command(cmd) => section(lw, cmd, &mut top),
        }
    }
    top
}

/// A command at the top level: a section, the name, or a mistake.
fn section<'a>(lw: &mut Lowerer<'a>, cmd: &'a Command, top: &mut TopLevel<'a>) {
    let head = cmd.head.name.as_str();
    match head {
        "experiment" => {
            if let Some(w) = experiment_name(cmd, &mut lw.sink) {
                top.name = w;
            }
        }
        "data" | "model" | "train" | "expect" | "compress" => {
            if top.sections.contains_key(head) {
                lw.sink.push(
                    Diagnostic::error(cmd.head.span, format!("a second `{head}` section"))
                        .with_hint(format!("a file has one `{head}` section: merge the two")),
                );
            } else {
                top.sections.insert(head, cmd);
            }
        }
        "sample" => top.sample = Some(cmd),
        _ if is_layer_word(head) => lw.sink.push(
            Diagnostic::error(cmd.head.span, format!("layer `{head}` outside `model`"))
                .with_hint("layers go inside `model { ... }`"),
        ),
        _ => lw
            .sink
            .push(unknown(cmd.head.span, "section", head, &SECTIONS)),
    }
}

pub fn lower(stmts: &[Stmt]) -> Result<Experiment, Vec<Diagnostic>> {
    let mut lw = Lowerer {
        sink: Sink::default(),
        env: Env::new(),
        blocks: HashMap::new(),
    };
    let TopLevel {
        sections,
        name,
        sample: sample_cmd,
    } = top_level(&mut lw, stmts);

    let data = match sections.get("data") {
        Some(cmd) => data::lower_data(&mut lw, cmd),
        None => {
            lw.sink.push(
                Diagnostic::error(Span::new(0, 0), "no `data` section")
                    .with_hint("add one, e.g. `data synthetic spirals { classes 3 }`"),
            );
            None
        }
    };
    let (model, model_span) = match sections.get("model") {
        Some(cmd) => (model::lower_model(&mut lw, cmd), cmd.span),
        None => {
            lw.sink.push(
                Diagnostic::error(Span::new(0, 0), "no `model` section")
                    .with_hint("add `model { ... }` with the network's layers"),
            );
            (Vec::new(), Span::default())
        }
    };
    let train = train::lower_train(&mut lw, sections.get("train").copied());
    let expect = sections
        .get("expect")
        .map(|cmd| lower_expect(&mut lw, cmd))
        .unwrap_or_default();
    let compress = sections
        .get("compress")
        .map(|cmd| compress::lower_compress(&mut lw, cmd));
    let sample = sample_cmd.and_then(|cmd| lower_sample(&mut lw, cmd));

    if let Some(data) = &data {
        check_metrics_available(&mut lw.sink, data, &expect, &train, compress.is_some());
        if let (Some(s), false) = (&sample, data.source == SourceKind::Text) {
            lw.sink.push(
                Diagnostic::error(
                    s.span,
                    format!("`sample` needs text data, not {}", data.source.name()),
                )
                .with_hint("remove `sample`, or train a character model on `data text`"),
            );
        }
    }

    if lw.sink.has_errors() {
        return Err(lw.sink.diagnostics);
    }
    Ok(Experiment {
        name,
        data: data.expect("no errors means the data section lowered"),
        model,
        model_span,
        train,
        expect,
        compress,
        sample,
    })
}

pub(crate) fn is_layer_word(w: &str) -> bool {
    model::LAYERS.contains(&w)
}

fn experiment_name(cmd: &Command, sink: &mut Sink) -> Option<String> {
    let mut it = cmd.args();
    match (it.next(), it.next()) {
        (Some(crate::syntax::Arg::Pos(e)), None) => match &e.kind {
            crate::syntax::ExprKind::Path(p) | crate::syntax::ExprKind::Str(p) => {
                match folder_name_fault(p) {
                    None => Some(p.clone()),
                    Some(why) => {
                        sink.push(Diagnostic::error(e.span, why).with_hint(
                            "runs are kept in runs/<experiment>/: use letters, digits, `-`, `_` and `.`",
                        ));
                        None
                    }
                }
            }
            _ => {
                sink.error(
                    e.span,
                    "the experiment name must be a word, like `mnist_mlp`",
                );
                None
            }
        },
        _ => {
            sink.push(
                Diagnostic::error(cmd.span, "`experiment` takes one name")
                    .with_hint("e.g. `experiment mnist_mlp`"),
            );
            None
        }
    }
}

/// Why a name cannot be a run folder's, if it cannot: the experiment's
/// name becomes `runs/<name>/`, which must stay inside the runs folder.
fn folder_name_fault(name: &str) -> Option<String> {
    let shown = name.escape_debug();
    if name.is_empty() {
        return Some("the experiment name is empty".into());
    }
    // File systems allow 255 bytes; the run folder adds nothing to the
    // name, but copies and archives of it may.
    if name.len() > 128 {
        return Some(format!(
            "the experiment name is {} characters long; a folder name takes at most 128",
            name.chars().count()
        ));
    }
    if name.chars().all(|c| c == '.') {
        return Some(format!(
            "the experiment name `{shown}` is not a folder name"
        ));
    }
    if name.contains("..") {
        return Some(format!(
            "the experiment name `{shown}` holds `..`, which would lead out of the runs folder"
        ));
    }
    let bad = name
        .chars()
        .find(|&c| !crate::experiment::is_folder_char(c))?;
    Some(format!(
        "the experiment name `{shown}` holds `{}`, which is not safe in a folder name",
        bad.escape_debug()
    ))
}

/// The body of a section, or an error when it has none.
pub(crate) fn body_of<'c>(cmd: &'c Command, sink: &mut Sink, example: &str) -> &'c [Stmt] {
    match &cmd.body {
        Some(b) => b,
        None => {
            sink.push(
                Diagnostic::error(
                    cmd.span,
                    format!("`{}` needs a body in braces", cmd.head.name),
                )
                .with_hint(format!("e.g. `{example}`")),
            );
            &[]
        }
    }
}

/// A statement inside a section that holds only commands.
pub(crate) fn only_commands<'s>(
    stmts: &'s [Stmt],
    sink: &mut Sink,
    section: &str,
) -> Vec<&'s Command> {
    let mut out = Vec::new();
    for s in stmts {
        match s {
            Stmt::Command(c) => out.push(c),
            other => sink.error(
                other.span(),
                format!("this kind of statement does not belong in `{section}`"),
            ),
        }
    }
    out
}

fn lower_expect(lw: &mut Lowerer<'_>, cmd: &Command) -> Vec<Expectation> {
    let body = body_of(cmd, &mut lw.sink, "expect { test.accuracy >= 0.97 }");
    let mut out = Vec::new();
    for s in body {
        match s {
            Stmt::Compare {
                metric,
                op,
                value,
                span,
            } => {
                if !METRICS.contains(&metric.name.as_str()) {
                    lw.sink
                        .push(unknown(metric.span, "metric", &metric.name, &METRICS));
                    continue;
                }
                let v = eval(value, &lw.env, &mut lw.sink);
                let Some(v) = lw.conv().number(&v, value.span, "an expected value") else {
                    continue;
                };
                out.push(Expectation {
                    metric: metric.name.clone(),
                    op: *op,
                    value: v,
                    span: *span,
                });
            }
            other => lw.sink.push(
                Diagnostic::error(other.span(), "`expect` holds comparisons of final metrics")
                    .with_hint("e.g. `test.accuracy >= 0.97`"),
            ),
        }
    }
    out
}

fn check_metrics_available(
    sink: &mut Sink,
    data: &crate::experiment::DataSpec,
    expect: &[Expectation],
    train: &crate::experiment::TrainSpec,
    has_compress: bool,
) {
    let is_text = data.source == SourceKind::Text;
    let regression = data.generator == crate::experiment::Generator::Sine;
    let problem = |metric: &str| -> Option<String> {
        use crate::metric::{Metric, Quantity, Stage};
        match Metric::parse(metric)? {
            Metric::Of(Stage::Val, _) if data.validation.is_none() => {
                Some("there is no validation split: add `validation 10%` to `data`".into())
            }
            Metric::Of(Stage::Test, _) if data.test.is_none() && !data.source.has_test_split() => {
                Some(format!(
                    "{} data has no test split: add `test 10%` to `data`",
                    data.source.name()
                ))
            }
            Metric::Sparsity | Metric::SizeRatio | Metric::AccuracyDrop if !has_compress => {
                Some("there is no `compress` section".into())
            }
            Metric::Of(_, Quantity::Bpc) if !is_text => {
                Some("bits per character need text data".into())
            }
            Metric::Of(_, Quantity::Accuracy) if regression => {
                Some("accuracy needs classes; this data is a regression".into())
            }
            _ => None,
        }
    };
    for e in expect {
        if let Some(why) = problem(&e.metric) {
            sink.push(
                Diagnostic::error(e.span, format!("`{}` is never measured", e.metric))
                    .with_hint(why),
            );
        }
    }
    if let Some(es) = &train.early_stop {
        if let Some(why) = problem(&es.monitor) {
            sink.push(
                Diagnostic::error(
                    es.span,
                    format!(
                        "`early_stop` monitors `{}`, which is never measured",
                        es.monitor
                    ),
                )
                .with_hint(why),
            );
        }
    }
}

fn lower_sample(lw: &mut Lowerer<'_>, cmd: &Command) -> Option<SampleSpec> {
    const USAGE: &str = "sample every=1 length=200 prompt=\"...\" temperature=0.8";
    let mut a = Args::of(cmd, &lw.env, &mut lw.sink);
    let mut spec = SampleSpec {
        every: 1,
        length: 200,
        prompt: String::new(),
        temperature: 1.0,
        span: cmd.span,
    };
    if let Some((v, s)) = a.kw("every") {
        spec.every = lw.conv().count(&v, s, "`every`", 1)?;
    }
    if let Some((v, s)) = a.kw("length") {
        spec.length = lw.conv().count(&v, s, "the sample length", 1)?;
    }
    if let Some((v, s)) = a.kw("prompt") {
        spec.prompt = lw.conv().string(&v, s, "the prompt")?;
    }
    if let Some((v, s)) = a.kw("temperature") {
        spec.temperature = lw.conv().positive(&v, s, "the temperature")?;
    }
    a.finish(
        &mut lw.sink,
        USAGE,
        &["every", "length", "prompt", "temperature"],
    );
    Some(spec)
}
