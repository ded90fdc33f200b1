//! `dlwb check FILE`: diagnostics, or the model summary.

use dlwb_dsl::summary;

use crate::cli::CheckArgs;
use crate::load;

pub fn run(args: &CheckArgs) -> u8 {
    let graph = match load::load(&args.file, &[], args.json) {
        Ok(l) => l.graph,
        Err(code) => return code,
    };
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
