//! `dlwb bench FILE`: one JSON line of training and inference speed.

use crate::cli::BenchArgs;
use crate::load;

pub fn run(args: &BenchArgs) -> u8 {
    let device = match dlwb_engine::device::resolve(args.device) {
        Ok(d) => d,
        Err(why) => {
            load::error(false, "", &why);
            return crate::exit::INVALID;
        }
    };
    let loaded = match load::load(&args.file, &args.sets, false) {
        Ok(l) => l,
        Err(code) => return code,
    };
    match dlwb_engine::bench::run(
        &loaded.graph,
        args.steps.max(1),
        args.seconds.max(0.0),
        args.threads,
        device,
    ) {
        Ok(r) => {
            println!(
                "{}",
                serde_json::to_string(&r).expect("plain numbers serialize")
            );
            0
        }
        Err(e) => {
            eprintln!("error: benchmark failed: {e}");
            3
        }
    }
}
