//! `dlwb export RUN_DIR -o model.onnx`: a trained run's model as ONNX.

use dlwb_engine::export::ExportRequest;

use crate::cli::ExportArgs;
use crate::run_dir::OpenRun;
use crate::{exit, load};

pub fn run(args: &ExportArgs) -> u8 {
    let run = match OpenRun::open(&args.run_dir, false) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let weights = OpenRun::weights(&args.run_dir, &args.checkpoint);
    let request = ExportRequest {
        graph: &run.loaded.graph,
        base: &run.base,
        weights: &weights,
    };
    let bytes = match dlwb_engine::export::onnx(&request) {
        Ok(b) => b,
        Err(e) => {
            load::error(false, &weights.display().to_string(), &e.to_string());
            return exit::of_failure(e.kind());
        }
    };
    if let Err(e) = std::fs::write(&args.output, &bytes) {
        let path = args.output.display().to_string();
        load::error(false, &path, &format!("cannot write {path}: {e}"));
        return exit::FAILED;
    }
    println!(
        "wrote {} ({} bytes, ONNX opset 17: input `input`, output `logits`)",
        args.output.display(),
        bytes.len()
    );
    exit::OK
}
