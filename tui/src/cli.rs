//! The command-line interface, declared with clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use dlwb_engine::device::Choice;

/// A deep-learning workbench for the terminal: describe an experiment in a
/// `.net` file, then check it, train it live, or run it headless in CI.
///
/// Exit codes of a run: 0 finished and every `expect` met; 1 finished but
/// an `expect` missed; 2 invalid file, data or arguments; 3 training failed
/// (diverged, I/O error); 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "dlwb", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a file and print its model summary (exit 0 valid, 2 invalid).
    Check(CheckArgs),
    /// Measure training and inference speed on synthetic batches shaped as
    /// the file's data; prints one JSON line.
    Bench(BenchArgs),
    /// List the devices a run can use: the CPU (model, cores, vector
    /// extensions) and every CUDA GPU (name, memory, compute capability,
    /// driver), or exactly why no GPU is usable.
    Devices(DevicesArgs),
    /// Evaluate a trained run's model on a split of its data and print the
    /// metrics: on the split the run was tested on, with its threads, the
    /// figures its run.yaml holds (exit 0; 2 for a folder that is not a run
    /// or weights of another model).
    Eval(EvalArgs),
    /// Write a trained run's model as ONNX (opset 17): the data's
    /// normalization first, input `input`, output `logits`, the batch
    /// dimension dynamic.
    Export(ExportArgs),
    /// Apply a trained run's model to new inputs: the class and
    /// probabilities of every image of IDX files and every row of CSV
    /// files; for a character model, text after --prompt.
    Predict(PredictArgs),
    /// Write a markdown report of runs with SVG charts for CI: settings,
    /// final metrics, expect verdicts, compression, loss and accuracy
    /// curves (runs overlaid), weight percentile bands. Appended to
    /// $GITHUB_STEP_SUMMARY when set. Exit 2 for a run with no metrics.
    Report(ReportArgs),
    /// A table of the runs under DIR (default `runs/`): experiment, status,
    /// the settings that differ, each final metric with its best over the
    /// epochs, expect verdicts.
    Runs(RunsArgs),
    /// Train every configuration of a grid (each with K seeds), checked
    /// before any starts, N at a time, into one sweep folder with its
    /// sweep.yaml; then a table ranked by the monitored metric (exit 0 when
    /// every trial completed, 3 if one failed, 130 on Ctrl-C).
    Sweep(SweepArgs),
    /// Open the dashboard over finished runs (run folders, sweep folders or
    /// folders of runs): their curves overlaid, seed groups as mean with a
    /// min–max band, each shown or hidden by key, the selected run's
    /// weights. No training starts (exit 2 when no run has metrics).
    View(ViewArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The experiment to train: a dashboard on a terminal, else headless.
    /// With --resume it may be left out (the run names its file).
    pub file: Option<PathBuf>,

    /// Train without a screen: progress lines, a run folder, and an exit
    /// code that says whether the file's `expect` goals were met.
    #[arg(long)]
    pub headless: bool,

    /// With --headless: print every event as one JSON object per line.
    #[arg(long)]
    pub json: bool,

    /// Change a setting of the file: `--set train.epochs=1`,
    /// `--set "train.optimizer=sgd lr=0.1"`, or a `let` constant:
    /// `--set let.width=64`. Repeatable.
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    pub sets: Vec<String>,

    /// Shorthand for `--set train.epochs=N`.
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,

    /// Shorthand for `--set train.seed=N`.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Train and evaluate on at most N batches per epoch (quick runs); N is
    /// at least 1.
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub limit_batches: Option<usize>,

    /// Threads for the kernels: matrix products, and a batch's samples or sequences (default: all cores).
    #[arg(long, value_name = "N", value_parser = at_least_one_thread)]
    pub threads: Option<usize>,

    /// Where run folders go.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    pub runs_dir: PathBuf,

    /// Start from the weights in this checkpoint (safetensors, dotted names)
    /// wherever names and shapes match; the rest start as usual.
    #[arg(long, value_name = "CHECKPOINT", conflicts_with = "resume")]
    pub init: Option<PathBuf>,

    /// Continue the run in this folder from its checkpoint, at the very
    /// step it was saved at (the same thread count gives the same weights
    /// as a run never stopped). The run goes on as it was started: its own
    /// experiment.net with the overrides it ran with, its threads and
    /// --limit-batches. Flags given now change that (--epochs N above the
    /// epochs done continues a completed run; --set, --threads, ...); FILE,
    /// if given, only locates the data, whose paths are relative to it.
    /// A completed run is refused unless --epochs asks for more.
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,

    /// The device to train on: `cpu`, `cuda` (the first GPU), `cuda:N`, or
    /// `auto` (the first usable GPU, else the CPU); default: the file's
    /// `train { device }`, else `cpu`. `dlwb devices` lists them.
    #[arg(long, value_parser = device)]
    pub device: Option<Choice>,
}

impl RunArgs {
    /// Every setting override, shorthands included.
    pub fn all_sets(&self) -> Vec<String> {
        let mut sets = self.sets.clone();
        if let Some(n) = self.epochs {
            sets.push(format!("train.epochs={n}"));
        }
        if let Some(n) = self.seed {
            sets.push(format!("train.seed={n}"));
        }
        sets
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The `.net` file to check.
    pub file: PathBuf,

    /// Print diagnostics (or the summary) as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The run folder (`runs/EXPERIMENT/TIMESTAMP`).
    pub run_dir: PathBuf,

    /// The weights: a checkpoint, or a compressed `model.*.safetensors`
    /// (default: the run's checkpoint.safetensors).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,

    /// The split to evaluate on.
    #[arg(long, value_enum, default_value_t = Split::Test)]
    pub split: Split,

    /// Threads for the kernels (default: the run's own, so that the figures
    /// are its bits).
    #[arg(long, value_name = "N", value_parser = at_least_one_thread)]
    pub threads: Option<usize>,

    /// Print `{"metrics": ..., "run_dir": ..., "checkpoint": ...}`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The run folder (`runs/EXPERIMENT/TIMESTAMP`).
    pub run_dir: PathBuf,

    /// Where to write the model.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// The weights: a checkpoint, or a compressed `model.*.safetensors`
    /// (default: the run's checkpoint.safetensors).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The run folder (`runs/EXPERIMENT/TIMESTAMP`).
    pub run_dir: PathBuf,

    /// IDX image files (`.gz` or not) and CSV files with the data's
    /// feature columns (`.csv`).
    pub inputs: Vec<PathBuf>,

    /// For a character model: the text to continue.
    #[arg(long, value_name = "TEXT")]
    pub prompt: Option<String>,

    /// Characters to write after the prompt.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub chars: usize,

    /// Sampling temperature: lower is more predictable.
    #[arg(long, value_name = "T", default_value_t = 0.8)]
    pub temperature: f64,

    /// Seed of the sampling.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,

    /// The weights: a checkpoint, or a compressed `model.*.safetensors`.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,

    /// Threads for the kernels (default: the run's own).
    #[arg(long, value_name = "N", value_parser = at_least_one_thread)]
    pub threads: Option<usize>,

    /// One JSON object per line: `{"input", "item", "class", "label",
    /// "probabilities"}`, or `{"text"}`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run folders to report on, overlaid in the charts.
    #[arg(required = true)]
    pub run_dirs: Vec<PathBuf>,

    /// The folder for report.md and its charts.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// The folder of run folders (`DIR/EXPERIMENT/TIMESTAMP`).
    pub dir: Option<PathBuf>,

    /// Order the rows by this metric's final value, best first.
    #[arg(long, value_name = "METRIC")]
    pub sort: Option<String>,

    /// Print CSV.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,

    /// Collapse runs that differ only in their seed into one row: each
    /// metric as mean ± standard deviation.
    #[arg(long)]
    pub group_seeds: bool,

    /// One JSON object per run: `run_dir`, `experiment`, `status`,
    /// `settings`, `metrics`, `best`, `expect`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ViewArgs {
    /// Run folders, sweep folders, or folders of runs (`runs/`).
    #[arg(required = true, value_name = "RUN_OR_SWEEP_DIR")]
    pub dirs: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The `.net` file to vary (with --trial: the sweep folder).
    #[arg(required_unless_present = "resume")]
    pub file: Option<PathBuf>,

    /// Finish an interrupted sweep: its trials not completed, each from its
    /// own checkpoint where it has one.
    #[arg(long, value_name = "SWEEP_DIR", conflicts_with = "file")]
    pub resume: Option<PathBuf>,

    /// An axis: a `--set` key and its values, `train.batch=32,64` or
    /// `let.width=16,32`. Repeatable; trials are every combination.
    #[arg(long, value_name = "KEY=V1,V2")]
    pub grid: Vec<String>,

    /// Draw N configurations over the `--range` axes (seeded by the
    /// file's seed), each combined with the grid's.
    #[arg(long, value_name = "N")]
    pub random: Option<usize>,

    /// A drawn axis: `let.width=8..64` (whole numbers), `let.lr=1e-4..1e-1:log`
    /// (uniform in the logarithm). Repeatable.
    #[arg(long, value_name = "KEY=LO..HI[:log]")]
    pub range: Vec<String>,

    /// Run each configuration with K seeds (the file's seed and the next).
    #[arg(long, value_name = "K")]
    pub seeds: Option<u64>,

    /// Successive halving: every trial trains a first rung of epochs, the
    /// best 1/ETA go on from their checkpoints, up to the file's epochs.
    #[arg(long, value_name = "ETA", value_parser = at_least_two)]
    pub halving: Option<usize>,

    /// Trials at once; the cores are divided between them.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_one)]
    pub parallel: usize,

    /// Where the sweep folder goes (`DIR/EXPERIMENT/sweep-TIMESTAMP`).
    #[arg(long, value_name = "DIR", default_value = "runs")]
    pub runs_dir: PathBuf,

    /// At most N batches per epoch in every trial.
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub limit_batches: Option<usize>,

    /// Every trial's events as JSON lines, each with its `trial` number.
    #[arg(long)]
    pub json: bool,

    /// Run one trial of a sweep folder (FILE names the folder): what each
    /// task of a `--slurm` job array runs. A trial with a checkpoint goes
    /// on from it; on SIGUSR1 it checkpoints and requeues its Slurm job.
    #[arg(long, value_name = "N", conflicts_with_all = ["resume", "slurm"])]
    pub trial: Option<usize>,

    #[command(flatten)]
    pub slurm: SlurmArgs,
}

/// Running a sweep's trials as a Slurm job array.
#[derive(Debug, Args)]
pub struct SlurmArgs {
    /// Write `sweep.sbatch` in the sweep folder: one job array, each task
    /// running its trial into its run folder (needs sbatch).
    #[arg(long = "slurm", id = "slurm", conflicts_with_all = ["halving", "parallel"])]
    pub enabled: bool,

    /// The partition to run in (`#SBATCH --partition`).
    #[arg(long, value_name = "P", requires = "slurm")]
    pub partition: Option<String>,

    /// Each task's time limit, HH:MM:SS (`#SBATCH --time`); a task is
    /// signalled 90 s before it, checkpoints and requeues itself.
    #[arg(long, value_name = "HH:MM:SS", requires = "slurm", value_parser = slurm_time)]
    pub time: Option<String>,

    /// Cores per task (`#SBATCH --cpus-per-task`); the trial trains on
    /// that many threads.
    #[arg(long, value_name = "N", requires = "slurm", value_parser = at_least_one_thread)]
    pub cpus_per_task: Option<usize>,

    /// At most K tasks at once (`#SBATCH --array=0-(N-1)%K`).
    #[arg(long, value_name = "K", requires = "slurm", value_parser = at_least_one_thread)]
    pub max_parallel: Option<usize>,

    /// Submit the script with `sbatch --parsable` and print the job id.
    #[arg(long, requires = "slurm")]
    pub submit: bool,

    /// With --submit: wait for the array to end, then gather sweep.yaml
    /// and the table as a local sweep does (exit 0, 3 or 130 likewise).
    #[arg(long, requires = "submit")]
    pub wait: bool,
}

/// A time limit as `#SBATCH --time` takes it: `HH:MM:SS` (or `D-HH:MM:SS`).
fn slurm_time(s: &str) -> Result<String, String> {
    let clock = s.rsplit('-').next().unwrap_or(s);
    let days_ok = s
        .split_once('-')
        .is_none_or(|(d, _)| d.parse::<u32>().is_ok());
    let parts: Vec<&str> = clock.split(':').collect();
    let fields_ok = parts.len() == 3
        && parts
            .iter()
            .enumerate()
            .all(|(i, p)| p.len() == 2 && p.parse::<u32>().is_ok_and(|v| i == 0 || v < 60));
    if days_ok && fields_ok {
        Ok(s.to_string())
    } else {
        Err(format!("`{s}`: give the time as HH:MM:SS, e.g. 01:30:00"))
    }
}

/// A split of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    Train,
    Val,
    Test,
}

#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// One JSON object instead of lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The `.net` file whose model and batch size to measure.
    pub file: PathBuf,

    /// Threads for the kernels: matrix products, and a batch's samples or sequences (default: all cores).
    #[arg(long, value_name = "N", value_parser = at_least_one_thread)]
    pub threads: Option<usize>,

    /// Steps per timed repeat at least (three repeats, after warm-up; the
    /// median is reported).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub steps: usize,

    /// Seconds per timed repeat at least.
    #[arg(long, value_name = "S", default_value_t = 1.0)]
    pub seconds: f64,

    /// Where to measure: `cpu`, `cuda`, `cuda:N` or `auto`.
    #[arg(long, default_value = "cpu", value_parser = device)]
    pub device: Choice,

    /// Change a setting of the file, as for a run (`--set train.batch=1024`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

/// A count that must not be zero: an epoch of no batches trains nothing
/// and would report figures never measured.
/// Halving's ETA: each rung keeps 1/ETA of the trials.
fn at_least_two(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 2 => Ok(n),
        _ => Err(format!(
            "`{s}`: give 2 or more (each rung keeps 1/ETA of the trials)"
        )),
    }
}

fn device(s: &str) -> Result<Choice, String> {
    s.parse()
}

fn at_least_one(s: &str) -> Result<usize, String> {
    positive(s, "0 batches would train nothing: give 1 or more")
}

fn at_least_one_thread(s: &str) -> Result<usize, String> {
    positive(s, "give 1 thread or more")
}

fn positive(s: &str, zero: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err(zero.into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_arguments_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
