//! Source text to an untyped, spanned syntax tree.
//!
//! The pest grammar is uniform (every statement is a word with arguments and
//! an optional body); meaning is given by `lower.rs`. A syntax error stops
//! pest, so to report every syntax error in one pass the offending line is
//! blanked and the parse retried.

use pest::iterators::Pair;
use pest::Parser;

use crate::diagnostic::{Diagnostic, Span};

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct NetParser;

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    Let {
        name: Ident,
        value: Expr,
        span: Span,
    },
    Block {
        name: Ident,
        params: Vec<Ident>,
        body: Vec<Stmt>,
        span: Span,
    },
    Compare {
        metric: Ident,
        op: CmpOp,
        value: Expr,
        span: Span,
    },
    Command(Command),
}

impl Stmt {
    pub fn span(&self) -> Span {
        match self {
            Stmt::Let { span, .. } | Stmt::Block { span, .. } | Stmt::Compare { span, .. } => *span,
            Stmt::Command(c) => c.span,
        }
    }
}

/// `label: head(call args) arg arg key=value, arg { body }`
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub label: Option<Ident>,
    pub head: Ident,
    /// `Some` for a block call `name(args)`.
    pub call_args: Option<Vec<Expr>>,
    /// Arguments in comma-separated groups; most statements have one group.
    pub groups: Vec<Vec<Arg>>,
    pub body: Option<Vec<Stmt>>,
    pub span: Span,
}

impl Command {
    /// All arguments, ignoring grouping.
    pub fn args(&self) -> impl Iterator<Item = &Arg> {
        self.groups.iter().flatten()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Pos(Expr),
    Kw(Ident, Expr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum CmpOp {
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Ge => ">=",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Lt => "<",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }

    pub fn holds(self, lhs: f64, rhs: f64) -> bool {
        match self {
            CmpOp::Ge => lhs >= rhs,
            CmpOp::Le => lhs <= rhs,
            CmpOp::Gt => lhs > rhs,
            CmpOp::Lt => lhs < rhs,
            CmpOp::Eq => lhs == rhs,
            CmpOp::Ne => lhs != rhs,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// `int` is true when written without a fraction or exponent.
    Number {
        value: f64,
        int: bool,
    },
    /// `10%`, stored as the fraction 0.1.
    Percent(f64),
    Str(String),
    List(Vec<Expr>),
    /// A name or dotted name: a variable, a symbol, or a word like `relu`.
    Path(String),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl Expr {
    /// The word, if this expression is a bare name.
    pub fn as_word(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Path(p) => Some(p),
            _ => None,
        }
    }
}

/// How many syntax errors one pass reports before giving up.
const MAX_SYNTAX_ERRORS: usize = 20;

/// Parses a whole file, returning every syntax error found.
pub fn parse(source: &str) -> Result<Vec<Stmt>, Vec<Diagnostic>> {
    // Deep nesting in hostile input must not overflow the stack.
    pest::set_call_limit(std::num::NonZeroUsize::new(2_000_000));
    let mut text = source.to_string();
    let mut errors = Vec::new();
    loop {
        match NetParser::parse(Rule::file, &text) {
            Ok(mut pairs) => {
                if !errors.is_empty() {
                    return Err(errors);
                }
                let file = pairs.next().expect("the file rule always yields one pair");
                return Ok(stmts(file));
            }
            Err(e) => {
                let (d, pos) = syntax_error(&e, &text);
                errors.push(d);
                if errors.len() >= MAX_SYNTAX_ERRORS || !blank_line(&mut text, pos) {
                    return Err(errors);
                }
            }
        }
    }
}

/// Replaces the line holding `pos` with spaces (braces kept, so that the
/// structure around it survives, and byte offsets kept, so that later spans
/// stay exact). Returns false when nothing changed, which means the error
/// cannot be recovered from.
fn blank_line(text: &mut String, pos: usize) -> bool {
    let pos = pos.min(text.len());
    let start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
    let line = &text[start..end];
    let opens = line.matches('{').count() as isize - line.matches('}').count() as isize;
    let mut blanked = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            // Braces that balance within the line go with it; the others
            // stay so that the enclosing structure still parses.
            '{' | '}' if opens != 0 => blanked.push(c),
            c => blanked.extend(std::iter::repeat_n(' ', c.len_utf8())),
        }
    }
    // A surviving `{` needs a word before it to be a statement.
    if opens > 0 && blanked.starts_with(' ') {
        blanked.replace_range(0..1, "_");
    }
    if blanked == line {
        return false;
    }
    text.replace_range(start..end, &blanked);
    true
}

fn syntax_error(e: &pest::error::Error<Rule>, text: &str) -> (Diagnostic, usize) {
    use pest::error::{ErrorVariant, InputLocation};
    let pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    if let Some(d) = unclosed_brace(text, pos) {
        return (d, text.len());
    }
    if text[pos..].starts_with('"')
        && !text[pos + 1..]
            .split('\n')
            .next()
            .unwrap_or("")
            .contains('"')
    {
        let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
        let d = Diagnostic::error(Span::new(pos, end), "unterminated string")
            .with_hint("close it with `\"` on the same line");
        return (d, pos);
    }
    if let Some(c) = text[pos..]
        .chars()
        .next()
        .filter(|c| !c.is_alphanumeric() && !"{}[]()\"=,;._+-*/%<>!#: \t\r\n".contains(*c))
    {
        let d = Diagnostic::error(
            Span::new(pos, pos + c.len_utf8()),
            format!("unexpected character `{}`", visible(c)),
        )
        .with_hint(format!("`{}` has no meaning in a .net file", visible(c)));
        return (d, pos);
    }
    let found = describe_found(text, pos);
    let (message, hint) = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut wanted: Vec<&str> = positives.iter().filter_map(|r| rule_phrase(*r)).collect();
            wanted.sort_unstable();
            wanted.dedup();
            let hint = if wanted.contains(&"a value") {
                Some("expected a value".to_string())
            } else if text[pos..].starts_with('}') {
                Some("this `}` closes nothing: braces must balance".to_string())
            } else if wanted.is_empty() {
                None
            } else {
                Some(format!("expected {}", join_or(&wanted)))
            };
            (format!("unexpected {found}"), hint)
        }
        ErrorVariant::CustomError { message } => (message.clone(), None),
    };
    let end = (pos + found_len(text, pos)).min(text.len());
    let mut d = Diagnostic::error(Span::new(pos, end), message);
    d.hint = hint;
    (d, pos)
}

/// At the end of the file with a `{` still open, the error belongs at that
/// brace, not at the end.
fn unclosed_brace(text: &str, pos: usize) -> Option<Diagnostic> {
    if !text[pos..].trim().is_empty() {
        return None;
    }
    let mut open = Vec::new();
    let mut in_string = false;
    let mut in_comment = false;
    for (i, c) in text.char_indices() {
        match c {
            '\n' => {
                in_comment = false;
                in_string = false;
            }
            _ if in_comment => {}
            '"' => in_string = !in_string,
            _ if in_string => {}
            '#' => in_comment = true,
            '{' => open.push(i),
            '}' => {
                open.pop();
            }
            _ => {}
        }
    }
    let at = *open.last()?;
    Some(
        Diagnostic::error(Span::new(at, at + 1), "this `{` is never closed")
            .with_hint("add `}` after the last statement of its body"),
    )
}

fn describe_found(text: &str, pos: usize) -> String {
    match text[pos..].chars().next() {
        None => "end of file".into(),
        Some('\n') | Some('\r') => "end of line".into(),
        Some(c) => format!("`{c}`"),
    }
}

fn found_len(text: &str, pos: usize) -> usize {
    text[pos..]
        .chars()
        .next()
        .map_or(0, |c| if c == '\n' { 0 } else { c.len_utf8() })
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

/// Rule names as a person would say them.
fn rule_phrase(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::expr | Rule::term | Rule::neg | Rule::number | Rule::percent => "a value",
        Rule::string | Rule::string_inner => "a string",
        Rule::list => "a list `[...]`",
        Rule::path | Rule::ident | Rule::word | Rule::callee => "a name",
        Rule::body => "`{`",
        Rule::cmp_op => "a comparison (`>=`, `<=`, ...)",
        Rule::add_op | Rule::mul_op => "an operator",
        Rule::kwarg => "`key=value`",
        Rule::EOI => "end of file",
        Rule::params => "parameter names",
        Rule::command | Rule::let_stmt | Rule::block_def | Rule::compare => "a statement",
        _ => return None,
    })
}

fn stmts(pair: Pair<'_, Rule>) -> Vec<Stmt> {
    pair.into_inner()
        .filter(|p| p.as_rule() != Rule::EOI)
        .map(stmt)
        .collect()
}

fn stmt(pair: Pair<'_, Rule>) -> Stmt {
    let span = Span::from(pair.as_span());
    match pair.as_rule() {
        Rule::let_stmt => {
            let mut it = pair.into_inner().skip(1);
            let name = ident(it.next().unwrap());
            let value = expr(it.next().unwrap());
            Stmt::Let { name, value, span }
        }
        Rule::block_def => {
            let mut it = pair.into_inner().skip(1);
            let name = ident(it.next().unwrap());
            let params = it.next().unwrap().into_inner().map(ident).collect();
            let body = stmts(it.next().unwrap());
            Stmt::Block {
                name,
                params,
                body,
                span,
            }
        }
        Rule::compare => {
            let mut it = pair.into_inner();
            let metric = ident(it.next().unwrap());
            let op = match it.next().unwrap().as_str() {
                ">=" => CmpOp::Ge,
                "<=" => CmpOp::Le,
                ">" => CmpOp::Gt,
                "<" => CmpOp::Lt,
                "==" => CmpOp::Eq,
                _ => CmpOp::Ne,
            };
            let value = expr(it.next().unwrap());
            Stmt::Compare {
                metric,
                op,
                value,
                span,
            }
        }
        Rule::command => Stmt::Command(command(pair)),
        r => unreachable!("statement rule {r:?}"),
    }
}

fn command(pair: Pair<'_, Rule>) -> Command {
    let span = Span::from(pair.as_span());
    let mut label = None;
    let mut head = None;
    let mut call_args = None;
    let mut groups = Vec::new();
    let mut body = None;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::label => label = Some(ident(p.into_inner().next().unwrap())),
            Rule::word => head = Some(ident(p)),
            Rule::call => {
                let mut it = p.into_inner();
                head = Some(ident(it.next().unwrap()));
                call_args = Some(it.map(expr).collect());
            }
            Rule::groups => {
                groups = p
                    .into_inner()
                    .map(|g| g.into_inner().map(arg).collect())
                    .collect();
            }
            Rule::body => body = Some(stmts(p)),
            r => unreachable!("command part {r:?}"),
        }
    }
    Command {
        label,
        head: head.expect("a command has a head"),
        call_args,
        groups,
        body,
        span,
    }
}

fn arg(pair: Pair<'_, Rule>) -> Arg {
    match pair.as_rule() {
        Rule::kwarg => {
            let mut it = pair.into_inner();
            Arg::Kw(ident(it.next().unwrap()), expr(it.next().unwrap()))
        }
        _ => Arg::Pos(expr(pair)),
    }
}

fn ident(pair: Pair<'_, Rule>) -> Ident {
    Ident {
        name: pair.as_str().to_string(),
        span: pair.as_span().into(),
    }
}

fn expr(pair: Pair<'_, Rule>) -> Expr {
    let span = Span::from(pair.as_span());
    let kind = match pair.as_rule() {
        Rule::expr | Rule::term => {
            let mut it = pair.into_inner();
            let mut acc = expr(it.next().unwrap());
            while let Some(op) = it.next() {
                let rhs = expr(it.next().unwrap());
                let op = match op.as_str() {
                    "+" => BinOp::Add,
                    "-" => BinOp::Sub,
                    "*" => BinOp::Mul,
                    _ => BinOp::Div,
                };
                let s = acc.span.join(rhs.span);
                acc = Expr {
                    kind: ExprKind::Binary(op, Box::new(acc), Box::new(rhs)),
                    span: s,
                };
            }
            return acc;
        }
        Rule::neg => ExprKind::Neg(Box::new(expr(pair.into_inner().next().unwrap()))),
        Rule::percent => {
            let n: f64 = pair
                .into_inner()
                .next()
                .unwrap()
                .as_str()
                .parse()
                .unwrap_or(f64::NAN);
            ExprKind::Percent(n / 100.0)
        }
        Rule::number => {
            let s = pair.as_str();
            let int = !s.contains(['.', 'e', 'E']);
            ExprKind::Number {
                value: s.parse().unwrap_or(f64::NAN),
                int,
            }
        }
        Rule::string => ExprKind::Str(unescape(pair.into_inner().next().unwrap().as_str())),
        Rule::list => ExprKind::List(pair.into_inner().map(expr).collect()),
        Rule::path => ExprKind::Path(pair.as_str().to_string()),
        r => unreachable!("expression rule {r:?}"),
    };
    Expr { kind, span }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A character as a message can show it: a NUL or another invisible
/// character as its code point (`\u{0}`), anything else as itself.
fn visible(c: char) -> String {
    if c.is_control() || c.is_whitespace() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{feff}') {
        c.escape_unicode().to_string()
    } else {
        c.to_string()
    }
}
