//! `--set train.epochs=1`: command-line settings, applied to the source so
//! that they are checked exactly as if the file said them.
//!
//! Each is spliced in as `; key value` just before the closing brace of its
//! section; a later statement wins, and no line of the file moves, so every
//! diagnostic and `expect` line number still points into the file.

use crate::syntax::{self, Stmt};

/// Sections whose keys may be set from the command line.
pub const SECTIONS: [&str; 2] = ["train", "data"];

/// The source with every `SECTION.KEY=VALUE` applied.
pub fn apply(source: &str, sets: &[String]) -> Result<String, String> {
    let mut edits: Vec<(usize, String)> = Vec::new();
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
        if !SECTIONS.contains(&section) {
            return Err(format!(
                "`--set {set}`: only {} settings can be set",
                SECTIONS.join(" and ")
            ));
        }
        if key.is_empty()
            || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || value.contains(['\n', '{', '}', ';', '#'])
        {
            return Err(format!("`--set {set}`: not a setting"));
        }
        let statement = format!("; {key} {value} ");
        let body_end = stmts.iter().find_map(|s| match s {
            Stmt::Command(c) if c.head.name == section && c.body.is_some() => Some(c.span.end - 1),
            _ => None,
        });
        match body_end {
            Some(at) => edits.push((at, statement)),
            None => appended.push_str(&format!("\n{section} {{ {key} {value} }}")),
        }
    }
    let mut out = source.to_string();
    // From the end, so that earlier positions stay valid; equal positions
    // keep command-line order.
    edits.sort_by_key(|(at, _)| *at);
    for (at, text) in edits.into_iter().rev() {
        out.insert_str(at, &text);
    }
    out.push_str(&appended);
    Ok(out)
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
