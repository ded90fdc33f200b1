//! `dlwb eval RUN_DIR`: a trained run's model evaluated on a split of its
//! data, with the run's own file, seed, threads and batch limit.

use std::path::{Path, PathBuf};

use dlwb_engine::data::Which;
use dlwb_engine::eval::{EvalReport, EvalRequest};
use dlwb_engine::run::record::{PastRecord, CHECKPOINT, SOURCE};

use crate::cli::{EvalArgs, Split};
use crate::{exit, load};

pub fn run(args: &EvalArgs) -> u8 {
    match evaluate(args) {
        Ok(report) => {
            print(args, &report);
            exit::OK
        }
        Err(code) => code,
    }
}

fn evaluate(args: &EvalArgs) -> Result<EvalReport, u8> {
    let run = &args.run_dir;
    let refuse = |why: &str| {
        load::error(args.json, &run.display().to_string(), why);
        exit::INVALID
    };
    let past = PastRecord::read(run).map_err(|why| refuse(&why))?;
    let source_path = run.join(SOURCE);
    let source = std::fs::read_to_string(&source_path)
        .map_err(|e| refuse(&format!("cannot read {}: {e}", source_path.display())))?;
    // Data paths are relative to the file the run was started from.
    let file = PathBuf::from(&past.file);
    let base = file.parent().unwrap_or(Path::new("."));
    let loaded = load::load_source(&source_path, &source, base, &[], args.json)?;
    let weights = args
        .checkpoint
        .clone()
        .unwrap_or_else(|| run.join(CHECKPOINT));
    let request = EvalRequest {
        graph: &loaded.graph,
        base,
        weights: &weights,
        split: match args.split {
            Split::Train => Which::Train,
            Split::Val => Which::Val,
            Split::Test => Which::Test,
        },
        threads: Some(args.threads.unwrap_or(past.threads)),
        limit_batches: past.limit_batches,
    };
    dlwb_engine::eval::run(&request).map_err(|e| {
        load::error(args.json, &weights.display().to_string(), &e.to_string());
        exit::of_failure(e.kind())
    })
}

fn print(args: &EvalArgs, r: &EvalReport) {
    if args.json {
        let line = serde_json::json!({
            "metrics": r.metrics,
            "run_dir": args.run_dir,
            "checkpoint": r.weights,
        });
        println!("{line}");
        return;
    }
    for (name, v) in &r.metrics {
        println!("{name} {v:.6}");
    }
    println!("({} samples; weights {})", r.samples, r.weights.display());
}
