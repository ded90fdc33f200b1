//! Diagnostics for people and machines: coloured or plain reports with the
//! source line and an underline (codespan-reporting), one-line forms for the
//! dashboard, and JSON.

use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::Buffer};
use serde::Serialize;

use crate::diagnostic::{line_col, Diagnostic, Severity};

/// Full reports with the source line and an underline, one after another.
pub fn report(diags: &[Diagnostic], path: &str, source: &str, color: bool) -> String {
    let file = SimpleFile::new(path, source);
    let mut buf = if color {
        Buffer::ansi()
    } else {
        Buffer::no_color()
    };
    let config = term::Config::default();
    for d in diags {
        let start = d.span.start.min(source.len());
        let end = d.span.end.clamp(start, source.len());
        let r = match d.severity {
            Severity::Error => Report::error(),
            Severity::Warning => Report::warning(),
        };
        let mut r = r
            .with_message(&d.message)
            .with_labels(vec![Label::primary((), start..end)]);
        if let Some(h) = &d.hint {
            r = r.with_notes(vec![format!("hint: {h}")]);
        }
        // Writing to an in-memory buffer cannot fail on I/O; a failure would
        // be a bad span, which the clamping above rules out.
        let _ = term::emit(&mut buf, &config, &file, &r);
    }
    String::from_utf8_lossy(buf.as_slice()).into_owned()
}

/// `path:line:col: error: message (hint: ...)`, one line each.
pub fn lines(diags: &[Diagnostic], path: &str, source: &str) -> Vec<String> {
    diags
        .iter()
        .map(|d| {
            let (line, col) = line_col(source, d.span.start);
            let sev = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            match &d.hint {
                Some(h) => format!("{path}:{line}:{col}: {sev}: {} (hint: {h})", d.message),
                None => format!("{path}:{line}:{col}: {sev}: {}", d.message),
            }
        })
        .collect()
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    severity: Severity,
    message: &'a str,
    hint: Option<&'a str>,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    start: usize,
    end: usize,
}

/// One JSON object per diagnostic, positions 1-based.
pub fn json(diags: &[Diagnostic], path: &str, source: &str) -> serde_json::Value {
    let items: Vec<_> = diags
        .iter()
        .map(|d| {
            let (line, column) = line_col(source, d.span.start);
            let (end_line, end_column) = line_col(source, d.span.end);
            JsonDiagnostic {
                severity: d.severity,
                message: &d.message,
                hint: d.hint.as_deref(),
                file: path,
                line,
                column,
                end_line,
                end_column,
                start: d.span.start,
                end: d.span.end,
            }
        })
        .collect();
    serde_json::to_value(items).unwrap_or_default()
}
