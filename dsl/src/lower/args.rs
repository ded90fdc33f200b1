//! The arguments of one statement, evaluated, with bookkeeping so that every
//! argument a statement does not use is reported.

use crate::diagnostic::{closest, Diagnostic, Sink, Span};
use crate::syntax::{Arg, Command};
use crate::value::{eval, Env, Value};

type Keyword = (String, Span, Value, Span, bool);

pub struct Args {
    pub head: String,
    pub head_span: Span,
    pos: Vec<(Value, Span, bool)>,
    kw: Vec<Keyword>,
}

impl Args {
    /// Evaluates all arguments of `cmd`, ignoring comma grouping.
    pub fn of(cmd: &Command, env: &Env, sink: &mut Sink) -> Self {
        Self::from_args(cmd, cmd.args(), env, sink)
    }

    pub fn from_args<'a>(
        cmd: &Command,
        args: impl Iterator<Item = &'a Arg>,
        env: &Env,
        sink: &mut Sink,
    ) -> Self {
        let mut pos = Vec::new();
        let mut kw: Vec<Keyword> = Vec::new();
        for a in args {
            match a {
                Arg::Pos(e) => pos.push((eval(e, env, sink), e.span, false)),
                Arg::Kw(k, e) => {
                    if kw.iter().any(|(name, ..)| *name == k.name) {
                        sink.error(k.span, format!("`{}` is given twice", k.name));
                        continue;
                    }
                    kw.push((k.name.clone(), k.span, eval(e, env, sink), e.span, false));
                }
            }
        }
        Args {
            head: cmd.head.name.clone(),
            head_span: cmd.head.span,
            pos,
            kw,
        }
    }

    pub fn pos_len(&self) -> usize {
        self.pos.len()
    }

    /// Positional argument `i`, marked as used.
    pub fn pos(&mut self, i: usize) -> Option<(Value, Span)> {
        self.pos.get_mut(i).map(|(v, s, used)| {
            *used = true;
            (v.clone(), *s)
        })
    }

    /// The last positional argument if it is one of `words`, marked as used.
    pub fn take_trailing_word(&mut self, words: &[&str]) -> Option<(String, Span)> {
        let (v, s, used) = self.pos.last_mut()?;
        match v {
            Value::Word(w) if !*used && words.contains(&w.as_str()) => {
                *used = true;
                Some((w.clone(), *s))
            }
            _ => None,
        }
    }

    pub fn kw(&mut self, name: &str) -> Option<(Value, Span)> {
        self.kw
            .iter_mut()
            .find(|(k, ..)| k == name)
            .map(|(_, _, v, s, used)| {
                *used = true;
                (v.clone(), *s)
            })
    }

    /// Reports every argument not used: positional ones as unexpected, keys
    /// as unknown with the closest of `known_keys`.
    pub fn finish(self, sink: &mut Sink, usage: &str, known_keys: &[&str]) {
        for (v, span, used) in &self.pos {
            if !used && *v != Value::Invalid {
                sink.push(
                    Diagnostic::error(*span, format!("unexpected argument to `{}`", self.head))
                        .with_hint(format!("usage: {usage}")),
                );
            }
        }
        for (k, kspan, _, _, used) in &self.kw {
            if !used {
                let d =
                    Diagnostic::error(*kspan, format!("unknown option `{k}` for `{}`", self.head));
                let d = match closest(k, known_keys.iter().copied()) {
                    Some(c) => d.with_hint(format!("did you mean `{c}`?")),
                    None if known_keys.is_empty() => {
                        d.with_hint(format!("`{}` takes no options; usage: {usage}", self.head))
                    }
                    None => d.with_hint(format!("options: {}", known_keys.join(", "))),
                };
                sink.push(d);
            }
        }
    }

    /// Reports a missing positional argument.
    pub fn missing(&self, sink: &mut Sink, what: &str, usage: &str) {
        sink.push(
            Diagnostic::error(self.head_span, format!("`{}` needs {what}", self.head))
                .with_hint(format!("usage: {usage}")),
        );
    }
}
