//! `--slurm`: a sweep's trials as one Slurm job array. `sweep.sbatch` in
//! the sweep folder runs `dlwb sweep --trial $SLURM_ARRAY_TASK_ID DIR` in
//! each task, on the shared filesystem; `--submit` hands it to `sbatch`,
//! `--wait` follows the array with `squeue` and gathers the trials'
//! records into sweep.yaml and the table as a local sweep does.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::record::{trial_dir, SweepRecord, TrialStatus};
use crate::cli::SweepArgs;
use crate::{exit, load, out};

/// The cores Slurm gave this task (`--cpus-per-task`), if it said.
pub fn cpus() -> Option<usize> {
    std::env::var("SLURM_CPUS_PER_TASK").ok()?.parse().ok()
}

/// Whether a Slurm client can be run here.
pub fn client() -> Result<(), String> {
    match Command::new("sbatch").arg("--version").output() {
        Ok(_) => Ok(()),
        Err(_) => Err("`--slurm` needs a Slurm client (sbatch)".into()),
    }
}

/// What the job array's script says.
pub struct Script<'a> {
    pub experiment: &'a str,
    pub trials: usize,
    /// The sweep folder and the folder the tasks start in, absolute.
    pub dir: &'a Path,
    pub workdir: &'a Path,
    pub dlwb: &'a Path,
    pub args: &'a SweepArgs,
}

impl Script<'_> {
    pub fn text(&self) -> String {
        let s = &self.args.slurm;
        let mut array = format!("0-{}", self.trials.saturating_sub(1));
        if let Some(k) = s.max_parallel {
            array.push_str(&format!("%{k}"));
        }
        let mut lines = vec![
            "#!/bin/bash".to_string(),
            format!("#SBATCH --job-name=dlwb-{}", self.experiment),
            format!("#SBATCH --array={array}"),
            format!(
                "#SBATCH --output={}/trial-%a/slurm-%A_%a.out",
                self.dir.display()
            ),
            "#SBATCH --open-mode=append".into(),
            // Ninety seconds before the time limit the trial checkpoints
            // and requeues itself; the requeued task resumes.
            "#SBATCH --signal=USR1@90".into(),
            "#SBATCH --requeue".into(),
        ];
        lines.extend(
            s.partition
                .iter()
                .map(|p| format!("#SBATCH --partition={p}")),
        );
        lines.extend(s.time.iter().map(|t| format!("#SBATCH --time={t}")));
        lines.extend(
            s.cpus_per_task
                .iter()
                .map(|n| format!("#SBATCH --cpus-per-task={n}")),
        );
        let mut run = format!(
            "exec srun {} sweep --trial \"$SLURM_ARRAY_TASK_ID\" {}",
            quote(self.dlwb),
            quote(self.dir)
        );
        if let Some(n) = self.args.limit_batches {
            run.push_str(&format!(" --limit-batches {n}"));
        }
        lines.extend([
            String::new(),
            "# The .net file's data paths are relative to where the sweep began.".into(),
            format!("cd {}", quote(self.workdir)),
            run,
        ]);
        lines.join("\n") + "\n"
    }
}

/// A path as one shell word.
fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// Writes the sweep's record and script; with `--submit` submits it, and
/// with `--wait` follows it to the end. The exit code.
pub fn launch(args: &SweepArgs, dir: &Path, record: &mut SweepRecord) -> u8 {
    let fail = |what: &Path, why: String| {
        load::error(args.json, &what.display().to_string(), &why);
        exit::FAILED
    };
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (dir_abs, workdir) = (absolute(dir), absolute(Path::new(".")));
    let dlwb = std::env::current_exe().unwrap_or_else(|_| "dlwb".into());
    for t in &record.trials {
        if let Err(e) = std::fs::create_dir_all(trial_dir(dir, t.trial)) {
            return fail(dir, format!("cannot create a trial folder: {e}"));
        }
    }
    if let Err(e) = record.write(dir) {
        return fail(dir, format!("cannot write sweep.yaml: {e}"));
    }
    let script = Script {
        experiment: &record.experiment,
        trials: record.trials.len(),
        dir: &dir_abs,
        workdir: &workdir,
        dlwb: &dlwb,
        args,
    };
    let path = dir.join("sweep.sbatch");
    if let Err(e) = std::fs::write(&path, script.text()) {
        return fail(&path, format!("cannot write {}: {e}", path.display()));
    }
    if !args.slurm.submit {
        eprintln!(
            "wrote {}: submit it with `sbatch {}`; `dlwb runs {}` lists the trials as they end",
            path.display(),
            path.display(),
            dir.display()
        );
        return exit::OK;
    }
    let job = match submit(&path) {
        Ok(job) => job,
        Err(why) => return fail(&path, why),
    };
    record.slurm_job = Some(job.clone());
    if let Err(e) = record.write(dir) {
        return fail(dir, format!("cannot write sweep.yaml: {e}"));
    }
    out::line(if args.json {
        serde_json::json!({ "event": "submitted", "slurm_job": job }).to_string()
    } else {
        job.clone()
    });
    if !args.json {
        eprintln!(
            "submitted job array {job}: {} trials in {}",
            record.trials.len(),
            dir.display()
        );
    }
    if args.slurm.wait {
        return wait(args, dir, &job);
    }
    exit::OK
}

/// `sbatch --parsable SCRIPT`: the job id.
fn submit(script: &Path) -> Result<String, String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(script)
        .output()
        .map_err(|e| format!("cannot run sbatch: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "sbatch refused {}: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // `--parsable` prints `JOBID` or `JOBID;CLUSTER`.
    let job = text.trim().split(';').next().unwrap_or("").to_string();
    if job.is_empty() {
        return Err("sbatch printed no job id".into());
    }
    Ok(job)
}

/// Whether any task of `job` is still queued or running.
fn active(job: &str) -> Result<bool, String> {
    let out = Command::new("squeue")
        .args(["-h", "-r", "-j", job, "-o", "%i"])
        .output()
        .map_err(|e| format!("cannot run squeue: {e}"))?;
    // Once the array has left the controller's memory, squeue calls its
    // id invalid: nothing of it is active.
    Ok(out.status.success() && !String::from_utf8_lossy(&out.stdout).trim().is_empty())
}

/// Follows the array until no task is left, then gathers the trials.
fn wait(args: &SweepArgs, dir: &Path, job: &str) -> u8 {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    loop {
        match active(job) {
            Ok(false) => break,
            Ok(true) => {}
            Err(why) => {
                load::error(args.json, "", &why);
                return exit::FAILED;
            }
        }
        if stop.load(Ordering::SeqCst) {
            eprintln!(
                "stopped waiting; job array {job} goes on (`squeue -j {job}`), and `dlwb runs {}` lists what it finished",
                dir.display()
            );
            return exit::INTERRUPTED;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    gather(args, dir)
}

/// sweep.yaml from the trials' own records, the table, the exit code.
fn gather(args: &SweepArgs, dir: &Path) -> u8 {
    let mut record = match SweepRecord::read(dir) {
        Ok(r) => r,
        Err(why) => {
            load::error(args.json, &dir.display().to_string(), &why);
            return exit::FAILED;
        }
    };
    for t in &mut record.trials {
        if matches!(t.status, TrialStatus::Pending | TrialStatus::Running) {
            t.status = TrialStatus::Failed;
            t.error = Some(format!(
                "its Slurm task ended before the trial did; see {}/slurm-*.out",
                trial_dir(dir, t.trial).display()
            ));
        }
    }
    record.update_best();
    if let Err(e) = record.write(dir) {
        eprintln!("warning: cannot write sweep.yaml: {e}");
    }
    if !args.json {
        for line in record.table() {
            out::line(line);
        }
        eprintln!("sweep folder: {}", dir.display());
    }
    super::exit_code(&record.trials, false)
}
