//! `dlwb sweep --slurm` against a real Slurm: a single-node cluster started
//! by `scripts/slurm-local.sh` (which `scripts/test.sh` runs this under).
//! A 2x2 grid as one job array gathered by `--wait`, and a trial warned
//! with SIGUSR1 that checkpoints, requeues itself and resumes. If the
//! cluster cannot start, the test fails saying why; it never skips.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{root, tempdir, text, yaml};

/// The local cluster, stopped when the test ends however it ends.
struct Cluster {
    state: PathBuf,
    conf: String,
}

impl Cluster {
    fn start(state: &Path) -> Cluster {
        let out = Command::new(root().join("scripts/slurm-local.sh"))
            .args(["start", state.to_str().unwrap()])
            .output()
            .expect("cannot run scripts/slurm-local.sh");
        assert!(
            out.status.success(),
            "the local Slurm cluster did not start (scripts/slurm-local.sh needs root and \
             Debian's slurmctld, slurmd, slurm-client and munge):\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let conf = text(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("SLURM_CONF=").map(String::from))
            .expect("slurm-local.sh names its SLURM_CONF");
        Cluster {
            state: state.to_path_buf(),
            conf,
        }
    }

    fn run(&self, program: &str, dir: &Path, args: &[&str]) -> Output {
        Command::new(program)
            .args(args)
            .current_dir(dir)
            .env("SLURM_CONF", &self.conf)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    fn dlwb(&self, dir: &Path, args: &[&str]) -> Output {
        self.run(env!("CARGO_BIN_EXE_dlwb"), dir, args)
    }

    /// `squeue`'s state and reason of each task of `job` still known.
    fn tasks(&self, job: &str) -> String {
        let out = self.run(
            "squeue",
            Path::new("."),
            &["-h", "-r", "-j", job, "-o", "%t %r"],
        );
        text(&out.stdout).trim().to_string()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/slurm-local.sh"))
            .args(["stop", self.state.to_str().unwrap()])
            .output();
    }
}

const GRID: &str = "let width = 8
experiment sl
data synthetic spirals { classes 2; samples 200; validation 25% }
model { dense width relu; dense classes }
train { optimizer adam lr=0.01; batch 50; epochs 2 }
";

/// Long enough (a few seconds) to be warned while it trains.
const LONG: &str = "experiment lg
data synthetic spirals { classes 2; samples 2000; validation 10% }
model { dense 64 relu; dense 64 relu; dense classes }
train { optimizer adam lr=0.01; batch 20; epochs 400 }
";

fn sweep_dir(runs: &Path) -> PathBuf {
    common::first_run(runs)
}

#[test]
fn a_job_array_runs_the_grid_and_a_warned_trial_requeues_and_resumes() {
    let dir = tempdir("slurm");
    let cluster = Cluster::start(&dir.join("cluster"));
    grid_through_a_job_array(&cluster, &dir);
    usr1_checkpoints_requeues_and_resumes(&cluster, &dir);
}

fn grid_through_a_job_array(cluster: &Cluster, dir: &Path) {
    std::fs::write(dir.join("sl.net"), GRID).unwrap();
    let out = cluster.dlwb(
        dir,
        &[
            "sweep",
            "sl.net",
            "--grid",
            "let.width=4,16",
            "--grid",
            "train.batch=25,50",
            "--slurm",
            "--max-parallel",
            "2",
            "--cpus-per-task",
            "1",
            "--submit",
            "--wait",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let job = stdout.lines().next().unwrap().trim().to_string();
    assert!(
        job.parse::<u64>().is_ok(),
        "first line is the job id: {stdout}"
    );
    assert!(stdout.contains("best: trial "), "{stdout}");
    let sweep = sweep_dir(&dir.join("runs/sl"));
    let script = std::fs::read_to_string(sweep.join("sweep.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=0-3%2",
        "#SBATCH --signal=USR1@90",
        "#SBATCH --cpus-per-task=1",
    ] {
        assert!(script.contains(line), "{line} missing from\n{script}");
    }
    let record = yaml(&sweep.join("sweep.yaml"));
    assert_eq!(record["slurm_job"].as_str(), Some(job.as_str()));
    let trials = record["trials"].as_sequence().unwrap();
    assert_eq!(trials.len(), 4);
    let mut tasks = std::collections::BTreeSet::new();
    for t in trials {
        assert_eq!(t["status"], "completed", "{t:?}");
        assert!(t["metrics"]["val.loss"].as_f64().is_some());
        let run = yaml(&Path::new(t["run_dir"].as_str().unwrap()).join("run.yaml"));
        let slurm = &run["slurm"];
        assert_eq!(
            slurm["array_job_id"].as_str(),
            Some(job.as_str()),
            "{slurm:?}"
        );
        assert_eq!(slurm["node"].as_str(), Some("localhost"));
        assert!(slurm["job_id"].as_str().is_some());
        assert_eq!(slurm["array_task_id"].as_u64(), t["trial"].as_u64());
        tasks.insert(slurm["array_task_id"].as_u64().unwrap());
    }
    assert_eq!(tasks.len(), 4);
}

fn usr1_checkpoints_requeues_and_resumes(cluster: &Cluster, dir: &Path) {
    std::fs::write(dir.join("lg.net"), LONG).unwrap();
    let out = cluster.dlwb(
        dir,
        &[
            "sweep",
            "lg.net",
            "--grid",
            "train.batch=20",
            "--slurm",
            "--submit",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let job = text(&out.stdout).trim().to_string();
    let sweep = sweep_dir(&dir.join("runs/lg"));
    // Warn the task once its run has a checkpoint to lose.
    let trial = sweep.join("trial-0");
    wait_for(|| common_run_has_steps(&trial), "the trial to train");
    let task = format!("{job}_0");
    let out = cluster.run("scancel", dir, &["--signal=USR1", &task]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut requeued = false;
    wait_for(
        || {
            let state = cluster.tasks(&job);
            // Slurm holds a requeued job a while before it may start again.
            if state.starts_with("PD BeginTime") {
                requeued = true;
                cluster.run(
                    "scontrol",
                    dir,
                    &["update", &format!("jobid={task}"), "StartTime=now"],
                );
            }
            state.is_empty()
        },
        "the requeued trial to finish",
    );
    let log = std::fs::read_dir(&trial)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "out"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .unwrap_or_default();
    assert!(requeued || log.contains("requeued job"), "{log}");
    assert!(log.contains("trial 0 interrupted"), "{log}");
    let record = yaml(&trial.join("trial.yaml"));
    assert_eq!(record["status"], "completed", "{log}");
    let run = yaml(&Path::new(record["run_dir"].as_str().unwrap()).join("run.yaml"));
    assert_eq!(run["status"], "completed");
    assert_eq!(run["epochs_run"].as_u64(), Some(400));
    // The same run folder went on from its checkpoint.
    assert_eq!(
        run["resumed"].as_sequence().map(Vec::len),
        Some(1),
        "{run:?}"
    );
}

/// Whether a run under `trial` has written its first epoch.
fn common_run_has_steps(trial: &Path) -> bool {
    dlwb::finished::run_folders(trial)
        .unwrap_or_default()
        .iter()
        .any(|r| r.join("checkpoint.safetensors").is_file())
}

fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
