//! `dlwb check FILE`: diagnostics, or the model summary.

use dlwb_dsl::{render, summary, CheckOptions, Diagnostic};

use crate::cli::CheckArgs;
use crate::system;

/// Exit code for a file, data or arguments that are invalid.
pub const EXIT_INVALID: u8 = 2;

pub fn run(args: &CheckArgs) -> u8 {
    let path = args.file.display().to_string();
    let source = match std::fs::read_to_string(&args.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read {path}: {e}");
            return EXIT_INVALID;
        }
    };
    let opts = CheckOptions {
        memory_budget: system::available_memory(),
    };
    let base = args.file.parent().unwrap_or(std::path::Path::new("."));
    match dlwb_engine::check_file(&source, base, &opts) {
        Ok(graph) => {
            report(&graph.warnings, &path, &source, args.json);
            if args.json {
                let rows: Vec<_> = summary::rows(&graph)
                    .into_iter()
                    .map(|r| {
                        serde_json::json!({"name": r.name, "kind": r.kind, "output": r.output,
                            "params": r.params, "flops": r.flops, "depth": r.depth})
                    })
                    .collect();
                let out = serde_json::json!({
                    "valid": true,
                    "layers": rows,
                    "params": graph.param_count(),
                    "flops": graph.flops(),
                    "memory_bytes": graph.memory.total(),
                });
                println!("{out}");
            } else {
                print!("{}", summary::render(&graph));
            }
            0
        }
        Err(diags) => {
            report(&diags, &path, &source, args.json);
            EXIT_INVALID
        }
    }
}

fn report(diags: &[Diagnostic], path: &str, source: &str, json: bool) {
    if diags.is_empty() {
        return;
    }
    if json {
        eprintln!("{}", render::json(diags, path, source));
    } else {
        eprint!(
            "{}",
            render::report(diags, path, source, system::stderr_color())
        );
    }
}
