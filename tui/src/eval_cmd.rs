//! `dlwb eval RUN_DIR`: a trained run's model evaluated on a split of its
//! data, with the run's own file, seed, threads and batch limit.

use dlwb_engine::data::Which;
use dlwb_engine::eval::{EvalReport, EvalRequest};

use crate::cli::{EvalArgs, Split};
use crate::run_dir::OpenRun;
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
    let run = OpenRun::open(&args.run_dir, args.json)?;
    let weights = OpenRun::weights(&args.run_dir, &args.checkpoint);
    let request = EvalRequest {
        graph: &run.loaded.graph,
        base: &run.base,
        weights: &weights,
        split: match args.split {
            Split::Train => Which::Train,
            Split::Val => Which::Val,
            Split::Test => Which::Test,
        },
        threads: Some(args.threads.unwrap_or(run.record.threads)),
        limit_batches: run.record.limit_batches,
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
