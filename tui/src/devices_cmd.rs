//! `dlwb devices`: the CPU and every CUDA GPU this machine offers a run,
//! or exactly why no GPU is usable.

use crate::cli::DevicesArgs;

pub fn run(args: &DevicesArgs) -> u8 {
    let cpu = dlwb_engine::device::cpu();
    let gpus = dlwb_engine::device::gpus();
    if args.json {
        let (driver, list, why) = match &gpus {
            Ok((v, g)) => (Some(v.clone()), g.clone(), None),
            Err(why) => (None, Vec::new(), Some(why.clone())),
        };
        let v = serde_json::json!({
            "cpu": cpu,
            "cuda": { "driver": driver, "gpus": list, "unavailable": why },
        });
        println!("{v}");
        return crate::exit::OK;
    }
    println!(
        "cpu      {} ({} cores; {})",
        cpu.model,
        cpu.cores,
        match cpu.extensions.is_empty() {
            true => "no AVX2".to_string(),
            false => cpu.extensions.join(" "),
        }
    );
    match gpus {
        Ok((driver, list)) => {
            for g in list {
                println!(
                    "{:<8} {} ({:.1} GiB, {:.1} GiB free; compute capability {}; driver CUDA {driver})",
                    g.device,
                    g.name,
                    gib(g.memory_bytes),
                    gib(g.free_bytes),
                    g.compute_capability
                );
            }
        }
        Err(why) => println!("cuda     unavailable: {why}"),
    }
    crate::exit::OK
}

fn gib(bytes: usize) -> f64 {
    bytes as f64 / f64::from(1u32 << 30)
}
