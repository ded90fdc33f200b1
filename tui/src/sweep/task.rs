//! `dlwb sweep --trial N SWEEP_DIR`: one trial of a sweep folder, as each
//! task of a `--slurm` job array runs it. It goes on from its checkpoint
//! where it has one (a requeued task), writes only its own trial.yaml,
//! and on SIGUSR1 — Slurm's warning before the time limit — checkpoints
//! and requeues its job.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::record::{SweepRecord, TrialStatus};
use super::{job, Sweep};
use crate::cli::SweepArgs;
use crate::{exit, load};

pub fn run(args: &SweepArgs, n: usize) -> u8 {
    let Some(dir) = args.file.as_deref() else {
        load::error(args.json, "", "--trial N needs the sweep folder");
        return exit::INVALID;
    };
    let mut record = match SweepRecord::read(dir) {
        Ok(r) => r,
        Err(why) => {
            load::error(args.json, &dir.display().to_string(), &why);
            return exit::INVALID;
        }
    };
    let Some(trial) = record.trials.get(n) else {
        let why = format!(
            "the sweep has no trial {n}: its trials are 0 to {}",
            record.trials.len().saturating_sub(1)
        );
        load::error(args.json, &dir.display().to_string(), &why);
        return exit::INVALID;
    };
    if trial.status == TrialStatus::Completed {
        // A task run again after its trial ended (a late requeue, a rerun).
        eprintln!("trial {n} already completed: nothing left to run");
        return exit::OK;
    }
    let job = match job(args, Path::new(&record.file), trial) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let warned = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    for flag in [&stop, &warned] {
        let _ = signal_hook::flag::register(signal_hook::consts::SIGUSR1, Arc::clone(flag));
    }
    let code = Sweep {
        args,
        dir,
        record: &mut record,
        task: true,
        live: None,
    }
    .go(vec![job], &stop);
    if warned.load(Ordering::SeqCst) {
        return requeue();
    }
    code
}

/// Puts this Slurm job back in the queue: the trial has checkpointed, and
/// the requeued task goes on from there.
fn requeue() -> u8 {
    let Ok(job) = std::env::var("SLURM_JOB_ID") else {
        eprintln!("SIGUSR1 outside Slurm: the trial checkpointed and stops here");
        return exit::INTERRUPTED;
    };
    match Command::new("scontrol").args(["requeue", &job]).status() {
        Ok(s) if s.success() => {
            eprintln!("checkpointed; requeued job {job}");
            exit::OK
        }
        Ok(s) => {
            eprintln!("checkpointed, but `scontrol requeue {job}` failed ({s})");
            exit::INTERRUPTED
        }
        Err(e) => {
            eprintln!("checkpointed, but cannot run scontrol: {e}");
            exit::INTERRUPTED
        }
    }
}
