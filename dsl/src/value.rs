//! Evaluation of expressions to values, and the conversions that check a
//! value's type and range where a statement uses it.

use std::collections::HashMap;

use crate::diagnostic::{closest, Diagnostic, Sink, Span};
use crate::experiment::{Dim, SizeArg, Symbol};
use crate::syntax::{BinOp, Expr, ExprKind};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Num(f64, bool),
    Percent(f64),
    Str(String),
    List(Vec<Value>),
    /// A bare name that is neither a variable nor a data symbol: a word like
    /// `relu` or `max`, or a typo that the user of the value will report.
    Word(String),
    /// A size that depends on the data.
    Dim(Dim),
    /// Already reported; converters accept it silently so one mistake gives
    /// one message.
    Invalid,
}

impl Value {
    fn describe(&self) -> String {
        match self {
            Value::Num(n, _) => format!("the number {}", fmt_num(*n)),
            Value::Percent(p) => format!("{}%", fmt_num(p * 100.0)),
            Value::Str(s) => format!("the string \"{s}\""),
            Value::List(_) => "a list".into(),
            Value::Word(w) => format!("`{w}`"),
            Value::Dim(_) => "a size from the data".into(),
            Value::Invalid => "an invalid value".into(),
        }
    }
}

pub fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Names visible to an expression: `let`s and block parameters.
pub type Env = HashMap<String, Value>;

pub fn eval(e: &Expr, env: &Env, sink: &mut Sink) -> Value {
    match &e.kind {
        ExprKind::Number { value, int } => Value::Num(*value, *int),
        ExprKind::Percent(p) => Value::Percent(*p),
        ExprKind::Str(s) => Value::Str(s.clone()),
        ExprKind::List(items) => Value::List(items.iter().map(|x| eval(x, env, sink)).collect()),
        ExprKind::Path(p) => {
            if let Some(v) = env.get(p) {
                v.clone()
            } else if let Some(s) = Symbol::from_name(p) {
                Value::Dim(Dim::Sym(s))
            } else {
                Value::Word(p.clone())
            }
        }
        ExprKind::Neg(inner) => match eval(inner, env, sink) {
            Value::Num(n, int) => Value::Num(-n, int),
            Value::Percent(p) => Value::Percent(-p),
            Value::Dim(d) => Value::Dim(Dim::Bin(BinOp::Sub, Box::new(Dim::Lit(0.0)), Box::new(d))),
            Value::Invalid => Value::Invalid,
            other => arith_error(inner.span, &other, env, sink),
        },
        ExprKind::Binary(op, l, r) => {
            let lv = eval(l, env, sink);
            let rv = eval(r, env, sink);
            match (lv, rv) {
                (Value::Invalid, _) | (_, Value::Invalid) => Value::Invalid,
                (Value::Num(a, ai), Value::Num(b, bi)) => {
                    let v = match op {
                        BinOp::Add => a + b,
                        BinOp::Sub => a - b,
                        BinOp::Mul => a * b,
                        BinOp::Div => {
                            if b == 0.0 {
                                sink.error(r.span, "division by zero");
                                return Value::Invalid;
                            }
                            a / b
                        }
                    };
                    Value::Num(v, ai && bi && v.fract() == 0.0)
                }
                (a @ (Value::Num(..) | Value::Dim(_)), b @ (Value::Num(..) | Value::Dim(_))) => {
                    Value::Dim(Dim::Bin(*op, Box::new(to_dim(a)), Box::new(to_dim(b))))
                }
                (Value::Num(..) | Value::Dim(_), other) => arith_error(r.span, &other, env, sink),
                (other, _) => arith_error(l.span, &other, env, sink),
            }
        }
    }
}

fn to_dim(v: Value) -> Dim {
    match v {
        Value::Num(n, _) => Dim::Lit(n),
        Value::Dim(d) => d,
        _ => unreachable!("only numbers and dims become dims"),
    }
}

fn arith_error(span: Span, v: &Value, env: &Env, sink: &mut Sink) -> Value {
    match v {
        Value::Word(w) => sink.push(undefined(span, w, env)),
        other => sink.error(
            span,
            format!("cannot do arithmetic with {}", other.describe()),
        ),
    }
    Value::Invalid
}

/// "undefined name" with the closest variable or data symbol.
pub fn undefined(span: Span, name: &str, env: &Env) -> Diagnostic {
    let mut names: Vec<&str> = env.keys().map(String::as_str).collect();
    names.extend(Symbol::NAMES);
    let d = Diagnostic::error(span, format!("undefined name `{name}`"));
    match closest(name, names.iter().copied()) {
        Some(c) => d.with_hint(format!("did you mean `{c}`?")),
        None => d.with_hint(format!(
            "define it with `let {name} = ...`, or use a data symbol: {}",
            Symbol::NAMES.join(", ")
        )),
    }
}

/// Converters: each reports its own error and returns `None` on a bad value.
pub struct Conv<'a> {
    pub sink: &'a mut Sink,
    pub env: &'a Env,
}

impl Conv<'_> {
    fn wrong(&mut self, span: Span, what: &str, wanted: &str, v: &Value) {
        match v {
            Value::Invalid => {}
            Value::Word(w) if !wanted.contains("word") => {
                let d = undefined(span, w, self.env);
                self.sink.push(d);
            }
            _ => self.sink.error(
                span,
                format!("{what} must be {wanted}, got {}", v.describe()),
            ),
        }
    }

    pub fn number(&mut self, v: &Value, span: Span, what: &str) -> Option<f64> {
        match v {
            Value::Num(n, _) if n.is_finite() => Some(*n),
            _ => {
                self.wrong(span, what, "a number", v);
                None
            }
        }
    }

    pub fn positive(&mut self, v: &Value, span: Span, what: &str) -> Option<f64> {
        let n = self.number(v, span, what)?;
        if n <= 0.0 {
            self.sink
                .error(span, format!("{what} must be positive, got {}", fmt_num(n)));
            return None;
        }
        Some(n)
    }

    pub fn non_negative(&mut self, v: &Value, span: Span, what: &str) -> Option<f64> {
        let n = self.number(v, span, what)?;
        if n < 0.0 {
            self.sink.error(
                span,
                format!("{what} must not be negative, got {}", fmt_num(n)),
            );
            return None;
        }
        Some(n)
    }

    /// A whole number of at least `min`.
    pub fn count(&mut self, v: &Value, span: Span, what: &str, min: usize) -> Option<usize> {
        let n = self.number(v, span, what)?;
        if n.fract() != 0.0 {
            self.sink.error(
                span,
                format!("{what} must be a whole number, got {}", fmt_num(n)),
            );
            return None;
        }
        if n < min as f64 {
            let wanted = if min == 1 {
                "positive".to_string()
            } else {
                format!("at least {min}")
            };
            self.sink
                .error(span, format!("{what} must be {wanted}, got {}", fmt_num(n)));
            return None;
        }
        if n > 1e12 {
            self.sink
                .error(span, format!("{what} is too large: {}", fmt_num(n)));
            return None;
        }
        Some(n as usize)
    }

    /// A fraction in `[0, max)`, written as `0.1` or `10%`.
    pub fn fraction(
        &mut self,
        v: &Value,
        span: Span,
        what: &str,
        max_inclusive: bool,
    ) -> Option<f64> {
        let f = match v {
            Value::Percent(p) => *p,
            Value::Num(n, _) => *n,
            _ => {
                self.wrong(span, what, "a fraction like 0.1 or 10%", v);
                return None;
            }
        };
        let ok = f >= 0.0 && if max_inclusive { f <= 1.0 } else { f < 1.0 };
        if !ok {
            let range = if max_inclusive { "[0, 1]" } else { "[0, 1)" };
            self.sink.error(
                span,
                format!("{what} must be in {range}, got {}", v.describe_plain()),
            );
            return None;
        }
        Some(f)
    }

    pub fn size(&mut self, v: &Value, span: Span, what: &str) -> Option<SizeArg> {
        match v {
            Value::Dim(d) => Some(SizeArg {
                dim: d.clone(),
                span,
            }),
            _ => self.count(v, span, what, 1).map(|n| SizeArg {
                dim: Dim::Lit(n as f64),
                span,
            }),
        }
    }

    pub fn string(&mut self, v: &Value, span: Span, what: &str) -> Option<String> {
        match v {
            Value::Str(s) => Some(s.clone()),
            Value::Word(w) => {
                self.sink.push(
                    Diagnostic::error(
                        span,
                        format!("{what} must be a string in double quotes, got `{w}`"),
                    )
                    .with_hint(format!("write \"{w}\"")),
                );
                None
            }
            _ => {
                self.wrong(span, what, "a string in double quotes", v);
                None
            }
        }
    }

    pub fn boolean(&mut self, v: &Value, span: Span, what: &str) -> Option<bool> {
        match v {
            Value::Word(w) if w == "true" => Some(true),
            Value::Word(w) if w == "false" => Some(false),
            _ => {
                self.wrong(span, what, "a word `true` or `false`", v);
                None
            }
        }
    }

    /// A word from a fixed set, with "did you mean" on a typo.
    pub fn choice<'c>(
        &mut self,
        v: &Value,
        span: Span,
        what: &str,
        options: &[&'c str],
    ) -> Option<&'c str> {
        match v {
            Value::Word(w) => match options.iter().find(|o| **o == w) {
                Some(o) => Some(*o),
                None => {
                    self.sink
                        .push(crate::diagnostic::unknown(span, what, w, options));
                    None
                }
            },
            _ => {
                self.wrong(
                    span,
                    what,
                    &format!("a word: one of {}", options.join(", ")),
                    v,
                );
                None
            }
        }
    }

    pub fn numbers(&mut self, v: &Value, span: Span, what: &str) -> Option<Vec<f64>> {
        match v {
            Value::List(items) => items.iter().map(|i| self.number(i, span, what)).collect(),
            _ => self.number(v, span, what).map(|n| vec![n]),
        }
    }
}

impl Value {
    fn describe_plain(&self) -> String {
        match self {
            Value::Num(n, _) => fmt_num(*n),
            other => other.describe(),
        }
    }
}
