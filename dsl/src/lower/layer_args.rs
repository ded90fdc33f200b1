//! Reading a layer's arguments: sizes, optional counts and fractions, and
//! the trailing activation word (`dense 128 relu`). Shared by every layer
//! kind's lowering in `ops/`.

pub(crate) use super::args::Args;
pub(crate) use super::{body_of, Lowerer};
use crate::diagnostic::{Diagnostic, Span};
use crate::experiment::Activation;
use crate::value::Value;

pub(crate) fn size_arg(
    lw: &mut Lowerer<'_>,
    a: &mut Args,
    i: usize,
    what: &str,
    usage: &str,
) -> Option<crate::experiment::SizeArg> {
    match a.pos(i) {
        Some((v, s)) => lw.conv().size(&v, s, what),
        None => {
            a.missing(&mut lw.sink, what, usage);
            None
        }
    }
}

pub(crate) fn opt_count(
    lw: &mut Lowerer<'_>,
    a: &mut Args,
    key: &str,
    what: &str,
    min: usize,
) -> Option<usize> {
    let (v, s) = a.kw(key)?;
    lw.conv().count(&v, s, what, min)
}

pub(crate) fn opt_fraction(lw: &mut Lowerer<'_>, a: &mut Args, key: &str) -> Option<f64> {
    let (v, s) = a.kw(key)?;
    lw.conv().fraction(&v, s, &format!("`{key}`"), true)
}

pub(crate) fn opt_positive(lw: &mut Lowerer<'_>, a: &mut Args, key: &str) -> Option<f64> {
    let (v, s) = a.kw(key)?;
    lw.conv().positive(&v, s, &format!("`{key}`"))
}

/// A trailing activation word after a layer's sizes: `dense 128 relu`.
/// A trailing word that is not an activation is reported with the closest.
pub(crate) fn trailing_activation(lw: &mut Lowerer<'_>, a: &mut Args) -> Option<Activation> {
    if a.pos_len() < 2 {
        return None;
    }
    let last = a.pos_len() - 1;
    match a.pos(last) {
        Some((Value::Word(w), s)) => {
            if Activation::NAMES.contains(&w.as_str()) {
                activation(lw, a, &w, s)
            } else {
                lw.sink.push(crate::diagnostic::unknown(
                    s,
                    "activation",
                    &w,
                    &Activation::NAMES,
                ));
                None
            }
        }
        Some((v, s)) => {
            lw.sink.push(
                Diagnostic::error(s, format!("unexpected argument to `{}`", a.head)).with_hint(
                    format!(
                        "`{}` takes one size; {} is extra",
                        a.head,
                        match v {
                            Value::Num(n, _) => crate::value::fmt_num(n),
                            _ => "this".into(),
                        }
                    ),
                ),
            );
            None
        }
        None => None,
    }
}

pub(crate) fn activation(
    lw: &mut Lowerer<'_>,
    a: &mut Args,
    word: &str,
    _span: Span,
) -> Option<Activation> {
    Some(match word {
        "relu" => Activation::Relu,
        "sigmoid" => Activation::Sigmoid,
        "tanh" => Activation::Tanh,
        "gelu" => Activation::Gelu,
        "softmax" => Activation::Softmax,
        _ => {
            let slope = match a.kw("slope") {
                Some((v, s)) => lw.conv().non_negative(&v, s, "the slope")?,
                None => 0.01,
            };
            Activation::LeakyRelu {
                slope: slope as f32,
            }
        }
    })
}
