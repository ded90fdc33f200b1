//! The `data` section: the source, its files, splits, normalization and
//! augmentation. Which keys apply depends on the source.

use super::{args::Args, body_of, only_commands, Lowerer};
use crate::diagnostic::{unknown, Diagnostic, Span};
use crate::experiment::{Augment, DataSpec, Generator, Normalize, SourceKind, Split};
use crate::syntax::{Arg, Command};
use crate::value::Value;

fn keys_for(source: SourceKind) -> &'static [&'static str] {
    match source {
        SourceKind::Mnist | SourceKind::FashionMnist | SourceKind::Cifar10 => {
            &["path", "validation", "normalize", "augment"]
        }
        SourceKind::Csv => &[
            "path",
            "features",
            "label",
            "classes",
            "validation",
            "test",
            "normalize",
        ],
        SourceKind::Text => &["path", "window", "validation", "test"],
        SourceKind::Synthetic => &[
            "shape",
            "classes",
            "samples",
            "noise",
            "window",
            "validation",
            "test",
            "normalize",
            "augment",
        ],
    }
}

const ALL_KEYS: [&str; 13] = [
    "path",
    "validation",
    "test",
    "normalize",
    "augment",
    "window",
    "shape",
    "classes",
    "samples",
    "noise",
    "features",
    "label",
    "limit",
];

pub fn lower_data(lw: &mut Lowerer<'_>, cmd: &Command) -> Option<DataSpec> {
    let (source, generator) = source_of(lw, cmd)?;
    let mut spec = DataSpec {
        source,
        generator,
        path: None,
        path_span: None,
        validation: None,
        test: None,
        normalize: None,
        augment: Vec::new(),
        window: None,
        shape: None,
        classes: None,
        samples: None,
        noise: None,
        features: Vec::new(),
        label: None,
        span: cmd.span,
    };
    let body = body_of(cmd, &mut lw.sink, "data mnist { path \"data/mnist\" }");
    let allowed = keys_for(source);
    for c in only_commands(body, &mut lw.sink, "data") {
        let key = c.head.name.as_str();
        if !allowed.contains(&key) {
            if ALL_KEYS.contains(&key) {
                lw.sink.push(
                    Diagnostic::error(
                        c.head.span,
                        format!("`{key}` does not apply to {} data", source.name()),
                    )
                    .with_hint(format!(
                        "{} data takes: {}",
                        source.name(),
                        allowed.join(", ")
                    )),
                );
            } else {
                lw.sink.push(unknown(c.head.span, "data key", key, allowed));
            }
            continue;
        }
        if key == "augment" {
            augment(lw, c, &mut spec);
            continue;
        }
        set_key(lw, c, key, &mut spec);
    }
    check_required(lw, &spec);
    Some(spec)
}

/// `data SOURCE [GENERATOR]`: the words before the body.
fn source_of(lw: &mut Lowerer<'_>, cmd: &Command) -> Option<(SourceKind, Generator)> {
    let mut a = Args::of(cmd, &lw.env, &mut lw.sink);
    let source = match a.pos(0) {
        Some((Value::Word(w), s)) => match SourceKind::from_name(&w) {
            Some(k) => k,
            None => {
                lw.sink
                    .push(unknown(s, "data source", &w, &SourceKind::NAMES));
                return None;
            }
        },
        Some((_, s)) => {
            lw.sink.push(
                Diagnostic::error(s, "the data source must be a word")
                    .with_hint(format!("one of: {}", SourceKind::NAMES.join(", "))),
            );
            return None;
        }
        None => {
            a.missing(&mut lw.sink, "a source", "data SOURCE { ... }");
            return None;
        }
    };
    let generator = match (source, a.pos(1)) {
        (SourceKind::Synthetic, Some((v, s))) => {
            let name = lw
                .conv()
                .choice(&v, s, "synthetic generator", &Generator::NAMES)?;
            Generator::from_name(name).expect("a listed generator")
        }
        (_, Some((_, s))) => {
            lw.sink.push(
                Diagnostic::error(s, format!("{} data takes no generator name", source.name()))
                    .with_hint("generators such as `spirals` belong to `data synthetic`"),
            );
            Generator::Random
        }
        (_, None) => Generator::Random,
    };
    a.finish(&mut lw.sink, "data SOURCE [GENERATOR] { ... }", &[]);
    Some((source, generator))
}

/// One key of the data section's body, read into the spec.
fn set_key(lw: &mut Lowerer<'_>, c: &Command, key: &str, spec: &mut DataSpec) {
    let mut a = Args::of(c, &lw.env, &mut lw.sink);
    let usage = usage(key);
    let single = if key == "normalize" { None } else { a.pos(0) };
    if key != "normalize" && single.is_none() {
        a.missing(&mut lw.sink, "a value", usage);
        return;
    }
    match key {
        "path" => {
            let (v, s) = single.unwrap();
            spec.path = lw.conv().string(&v, s, "the path");
            spec.path_span = Some(s);
        }
        "validation" | "test" => {
            let (v, s) = single.unwrap();
            let split = split(lw, key, v, s);
            if key == "validation" {
                spec.validation = split;
            } else {
                spec.test = split;
            }
        }
        "window" => {
            let (v, s) = single.unwrap();
            spec.window = lw.conv().count(&v, s, "the window", 2);
        }
        "classes" => {
            let (v, s) = single.unwrap();
            spec.classes = lw.conv().count(&v, s, "the number of classes", 2);
        }
        "samples" => {
            let (v, s) = single.unwrap();
            spec.samples = lw.conv().count(&v, s, "the number of samples", 1);
        }
        "noise" => {
            let (v, s) = single.unwrap();
            spec.noise = lw.conv().non_negative(&v, s, "the noise");
        }
        "label" => {
            let (v, s) = single.unwrap();
            spec.label = column_name(lw, &v, s);
        }
        "shape" => {
            let (v, s) = single.unwrap();
            spec.shape = shape(lw, v, s);
        }
        "features" => {
            let (v, s) = single.unwrap();
            if let Some(f) = features(lw, v, s) {
                spec.features = f;
            }
        }
        "normalize" => spec.normalize = normalize(lw, &mut a),
        _ => unreachable!("every allowed key is handled"),
    }
    a.finish(&mut lw.sink, usage, &[]);
}

/// A held-out split: a fraction (`10%`, `0.1`) or a count of samples.
fn split(lw: &mut Lowerer<'_>, key: &str, v: Value, s: Span) -> Option<Split> {
    let split = match v {
        Value::Percent(_) => lw
            .conv()
            .fraction(&v, s, "the split", false)
            .map(Split::Fraction),
        Value::Num(n, _) if n < 1.0 => lw
            .conv()
            .fraction(&v, s, "the split", false)
            .map(Split::Fraction),
        _ => lw.conv().count(&v, s, "the split", 1).map(Split::Count),
    };
    // Kept even so, so that `expect` on the split does not echo this error.
    if matches!(split, Some(Split::Fraction(f)) if f <= 0.0) {
        lw.sink.push(
            Diagnostic::error(s, format!("a {key} split of 0 holds no samples"))
                .with_hint(format!("leave `{key}` out to train without one")),
        );
    }
    split
}

/// `shape [C, H, W]`: one to three sizes.
fn shape(lw: &mut Lowerer<'_>, v: Value, s: Span) -> Option<Vec<usize>> {
    match v {
        Value::List(items) if !items.is_empty() && items.len() <= 3 => items
            .iter()
            .map(|i| lw.conv().count(i, s, "each dimension of the shape", 1))
            .collect(),
        _ => {
            lw.sink.push(
                Diagnostic::error(s, "the shape must be a list of one to three sizes")
                    .with_hint("e.g. `shape [3, 32, 32]`"),
            );
            None
        }
    }
}

/// `features ["a", "b"]`: the CSV columns to read.
fn features(lw: &mut Lowerer<'_>, v: Value, s: Span) -> Option<Vec<String>> {
    match v {
        Value::List(items) if !items.is_empty() => {
            Some(items.iter().filter_map(|i| column_name(lw, i, s)).collect())
        }
        _ => {
            lw.sink.push(
                Diagnostic::error(s, "`features` must be a list of column names")
                    .with_hint("e.g. `features [\"sepal_length\", \"sepal_width\"]`"),
            );
            None
        }
    }
}

fn usage(key: &str) -> &'static str {
    match key {
        "path" => "path \"folder or file\"",
        "validation" => "validation 10% (or a count)",
        "test" => "test 10% (or a count)",
        "window" => "window CHARACTERS",
        "classes" => "classes N",
        "samples" => "samples N",
        "noise" => "noise STD",
        "label" => "label \"column\"",
        "shape" => "shape [C, H, W]",
        "features" => "features [\"column\", ...]",
        "normalize" => "normalize mean=M std=S (or `normalize auto`)",
        _ => "",
    }
}

fn column_name(lw: &mut Lowerer<'_>, v: &Value, s: crate::diagnostic::Span) -> Option<String> {
    match v {
        Value::Str(x) | Value::Word(x) => Some(x.clone()),
        _ => lw.conv().string(v, s, "a column name"),
    }
}

fn normalize(lw: &mut Lowerer<'_>, a: &mut Args) -> Option<Normalize> {
    if let Some((v, s)) = a.pos(0) {
        return lw
            .conv()
            .choice(&v, s, "normalization", &["auto"])
            .map(|_| Normalize::Auto);
    }
    let mean = a
        .kw("mean")
        .and_then(|(v, s)| lw.conv().numbers(&v, s, "the mean"));
    let std = a.kw("std");
    let std = match std {
        Some((v, s)) => {
            let std = lw.conv().numbers(&v, s, "the standard deviation")?;
            if let Some(bad) = std.iter().find(|x| **x <= 0.0) {
                lw.sink.error(
                    s,
                    format!("a standard deviation must be positive, got {bad}"),
                );
                return None;
            }
            Some(std)
        }
        None => None,
    };
    match (mean, std) {
        (Some(mean), Some(std)) => Some(Normalize::Given {
            mean: mean.iter().map(|x| *x as f32).collect(),
            std: std.iter().map(|x| *x as f32).collect(),
        }),
        _ => {
            a.missing(
                &mut lw.sink,
                "both `mean=` and `std=`, or `auto`",
                usage("normalize"),
            );
            None
        }
    }
}

fn augment(lw: &mut Lowerer<'_>, c: &Command, spec: &mut DataSpec) {
    const KINDS: [&str; 2] = ["random_crop", "flip"];
    for group in &c.groups {
        let mut a = Args::from_args(c, group.iter(), &lw.env, &mut lw.sink);
        let span = group
            .first()
            .map(|g| match g {
                Arg::Pos(e) => e.span,
                Arg::Kw(k, _) => k.span,
            })
            .unwrap_or(c.span);
        let Some((v, s)) = a.pos(0) else {
            lw.sink.push(
                Diagnostic::error(span, "an augmentation needs a name")
                    .with_hint("e.g. `augment random_crop 32 pad=4, flip horizontal`"),
            );
            continue;
        };
        let Some(kind) = lw.conv().choice(&v, s, "augmentation", &KINDS) else {
            continue;
        };
        match kind {
            "random_crop" => {
                let size = a
                    .pos(1)
                    .and_then(|(v, s)| lw.conv().count(&v, s, "the crop size", 1));
                let pad = a
                    .kw("pad")
                    .and_then(|(v, s)| lw.conv().count(&v, s, "the padding", 0))
                    .unwrap_or(0);
                match size {
                    Some(size) => spec.augment.push(Augment::RandomCrop { size, pad }),
                    None => lw.sink.push(
                        Diagnostic::error(s, "`random_crop` needs a size")
                            .with_hint("e.g. `random_crop 32 pad=4`"),
                    ),
                }
                a.finish(&mut lw.sink, "random_crop SIZE [pad=P]", &["pad"]);
            }
            _ => {
                let dir = match a.pos(1) {
                    Some((v, s)) => {
                        lw.conv()
                            .choice(&v, s, "flip direction", &["horizontal", "vertical"])
                    }
                    None => Some("horizontal"),
                };
                match dir {
                    Some("vertical") => spec.augment.push(Augment::FlipVertical),
                    Some(_) => spec.augment.push(Augment::FlipHorizontal),
                    None => {}
                }
                a.finish(&mut lw.sink, "flip [horizontal|vertical]", &[]);
            }
        }
    }
    if c.groups.is_empty() {
        lw.sink.push(
            Diagnostic::error(c.span, "`augment` needs at least one augmentation")
                .with_hint("e.g. `augment random_crop 32 pad=4, flip horizontal`"),
        );
    }
}

fn check_required(lw: &mut Lowerer<'_>, spec: &DataSpec) {
    let need = |what: &str, example: &str| {
        Diagnostic::error(
            spec.span,
            format!("{} data needs {what}", spec.source.name()),
        )
        .with_hint(format!("add `{example}` to the data section"))
    };
    match spec.source {
        SourceKind::Synthetic => match spec.generator {
            Generator::Random => {
                if spec.shape.is_none() {
                    lw.sink.push(need("a `shape`", "shape [3, 32, 32]"));
                }
                if spec.classes.is_none() {
                    lw.sink.push(need("`classes`", "classes 10"));
                }
            }
            Generator::Sine if spec.classes.is_some() => lw.sink.push(
                Diagnostic::error(
                    spec.span,
                    "the sine generator is a regression and has no classes",
                )
                .with_hint("remove `classes`"),
            ),
            _ => {}
        },
        SourceKind::Csv => {
            if spec.path_span.is_none() {
                lw.sink.push(need("a `path`", "path \"data.csv\""));
            }
            if spec.features.is_empty() {
                lw.sink
                    .push(need("`features`", "features [\"x1\", \"x2\"]"));
            }
            if spec.label.is_none() {
                lw.sink.push(need("a `label` column", "label \"species\""));
            }
        }
        _ => {
            if spec.path_span.is_none() {
                let example = match spec.source {
                    SourceKind::Text => "path \"data/corpus.txt\"",
                    SourceKind::Cifar10 => "path \"data/cifar-10-batches-bin\"",
                    _ => "path \"data/mnist\"",
                };
                lw.sink.push(need("a `path`", example));
            }
        }
    }
    for aug in &spec.augment {
        if let Augment::RandomCrop { .. } = aug {
            if matches!(spec.source, SourceKind::Csv | SourceKind::Text) {
                lw.sink.error(spec.span, "random crops need image data");
            }
        }
    }
}
