//! `--set train.epochs=1`: command-line settings, applied to the source so
//! that they are checked exactly as if the file said them.
//!
//! A section's setting is spliced in as `; key value` just before the
//! closing brace of its section (a later statement wins); `let.NAME=VALUE`
//! replaces the value of `let NAME`, so a model's sizes can vary too. No
//! line of the file moves, so every diagnostic and `expect` line number
//! still points into the file.

use crate::syntax::{self, Stmt};

/// Sections whose keys may be set from the command line.
pub const SECTIONS: [&str; 2] = ["train", "data"];

/// The prefix that sets a `let` constant: `let.width=64`.
pub const LET: &str = "let";

/// The source with every `SECTION.KEY=VALUE` applied.
pub fn apply(source: &str, sets: &[String]) -> Result<String, String> {
    // (start, end, text): `text` replaces `source[start..end]`.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut appended = String::new();
    // An unparsable file is left as it is: checking it reports why.
    let Ok(stmts) = syntax::parse(source) else {
        return Ok(source.to_string());
    };
    for set in sets {
        let (key, value) = set.split_once('=').ok_or_else(|| {
            format!("`--set {set}`: expected SECTION.KEY=VALUE, e.g. train.epochs=1")
        })?;
        let (section, key) = key
            .split_once('.')
            .ok_or_else(|| format!("`--set {set}`: name the section, e.g. train.{key}"))?;
        if section != LET && !SECTIONS.contains(&section) {
            return Err(format!(
                "`--set {set}`: only {}, and `let` constants can be set",
                SECTIONS.join(", ")
            ));
        }
        if key.is_empty()
            || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || value.contains(['\n', '{', '}', ';', '#'])
        {
            return Err(format!("`--set {set}`: not a setting"));
        }
        if section == LET {
            let (start, end) =
                let_value(&stmts, key).map_err(|why| format!("`--set {set}`: {why}"))?;
            edits.push((start, end, value.to_string()));
            continue;
        }
        let statement = format!("; {key} {value} ");
        let body_end = stmts.iter().find_map(|s| match s {
            Stmt::Command(c) if c.head.name == section && c.body.is_some() => Some(c.span.end - 1),
            _ => None,
        });
        match body_end {
            Some(at) => edits.push((at, at, statement)),
            None => appended.push_str(&format!("\n{section} {{ {key} {value} }}")),
        }
    }
    let mut out = source.to_string();
    // From the end, so that earlier positions stay valid; equal positions
    // keep command-line order.
    edits.sort_by_key(|(at, ..)| *at);
    for (start, end, text) in edits.into_iter().rev() {
        out.replace_range(start..end, &text);
    }
    out.push_str(&appended);
    Ok(out)
}

/// Where the value of the top-level `let NAME` is written.
fn let_value(stmts: &[Stmt], name: &str) -> Result<(usize, usize), String> {
    let lets: Vec<(&str, &crate::syntax::Expr)> = stmts
        .iter()
        .filter_map(|s| match s {
            Stmt::Let { name, value, .. } => Some((name.name.as_str(), value)),
            _ => None,
        })
        .collect();
    match lets.iter().rev().find(|(n, _)| *n == name) {
        Some((_, value)) => Ok((value.span.start, value.span.end)),
        None => {
            let names: Vec<&str> = lets.iter().map(|(n, _)| *n).collect();
            Err(
                match crate::diagnostic::closest(name, names.iter().copied()) {
                    Some(near) => format!("the file has no `let {name}`; did you mean `{near}`?"),
                    None if names.is_empty() => "the file has no `let` constants to set".into(),
                    None => format!("the file has no `let {name}` (it has {})", names.join(", ")),
                },
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_join_their_section_without_moving_lines() {
        let src = "data mnist { path \"d\" }\nmodel { flatten; dense 10 }\ntrain {\n    epochs 10\n}\nexpect { test.accuracy > 0.5 }\n";
        let out = apply(src, &["train.epochs=1".into(), "train.seed=3".into()]).unwrap();
        assert_eq!(out.lines().count(), src.lines().count());
        let exp = crate::parse(&out).unwrap();
        assert_eq!((exp.train.epochs, exp.train.seed), (1, 3));
        assert_eq!(out.lines().nth(5), src.lines().nth(5));
    }

    #[test]
    fn a_let_constant_is_set_in_place_and_an_unknown_one_gets_did_you_mean() {
        let src = "let width = 16\ndata synthetic spirals { classes 2 }\nmodel { dense width relu; dense classes }\n";
        let out = apply(src, &["let.width=64".into()]).unwrap();
        assert_eq!(out.lines().next(), Some("let width = 64"));
        assert_eq!(out.lines().count(), src.lines().count());
        assert_eq!(
            apply(src, &["let.widht=8".into()]).unwrap_err(),
            "`--set let.widht=8`: the file has no `let widht`; did you mean `width`?"
        );
    }

    #[test]
    fn a_missing_section_is_added_and_bad_settings_are_refused() {
        let src = "data mnist { path \"d\" }\nmodel { flatten; dense 10 }\n";
        let exp = crate::parse(&apply(src, &["train.batch=8".into()]).unwrap()).unwrap();
        assert_eq!(exp.train.batch, 8);
        assert_eq!(
            apply(src, &["epochs=3".into()]).unwrap_err(),
            "`--set epochs=3`: name the section, e.g. train.epochs"
        );
        assert!(apply(src, &["model.x=1".into()]).is_err());
        assert!(apply(src, &["train.epochs".into()]).is_err());
        assert!(apply(src, &["train.epochs=1 }".into()]).is_err());
    }
}
