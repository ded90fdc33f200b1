//! What a run starts from, for the dashboard and `--headless` alike: the
//! file as checked, or for `--resume` the run's own source and settings
//! with any flags given now on top.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dlwb_engine::device::Choice;
use dlwb_engine::run::record::{PastRecord, SOURCE};
use dlwb_engine::run::{Checkpoint, RunConfig};

use crate::cli::RunArgs;
use crate::exit;
use crate::load::{self, Loaded};

/// A checked run, ready to start.
pub struct Planned {
    /// The `.net` file: watched by the dashboard, and the folder its data
    /// paths are relative to.
    pub file: PathBuf,
    pub loaded: Loaded,
    pub cfg: RunConfig,
}

pub fn plan(args: &RunArgs, json: bool) -> Result<Planned, u8> {
    let (file, loaded, past) = match &args.resume {
        Some(run) => resumed(args, run, json)?,
        None => {
            let Some(file) = args.file.clone() else {
                load::error(
                    json,
                    "",
                    "name a .net file to train, e.g. `dlwb examples/lstm.net`; see `dlwb --help`",
                );
                return Err(exit::INVALID);
            };
            let loaded = load::load(&file, &args.all_sets(), json)?;
            (file, loaded, None)
        }
    };
    let mut cfg = config(args, &file, &loaded);
    cfg.resume = args.resume.clone();
    if let Some(past) = past {
        cfg.limit_batches = args.limit_batches.or(past.limit_batches);
        cfg.threads = args.threads.or(Some(past.threads));
        cfg.overrides = past.overrides;
        cfg.overrides.extend(args.all_sets());
    }
    if let Some(path) = &args.init {
        match Checkpoint::load(path) {
            Ok(ck) => cfg.warm_start = Some(Arc::new(ck)),
            Err(e) => {
                load::error(json, &path.display().to_string(), &e.to_string());
                return Err(exit::INVALID);
            }
        }
    }
    Ok(Planned { file, loaded, cfg })
}

/// The device a run asks for: `--device`, else the file's `train { device
/// }` (its spelling checked at its line), else the CPU.
pub fn device_choice(flag: Option<Choice>, g: &dlwb_dsl::Graph) -> Choice {
    flag.or_else(|| {
        let file = g.experiment.train.device.as_deref();
        file.and_then(|d| d.parse().ok())
    })
    .unwrap_or_default()
}

/// A fresh run of `loaded` with the flags' settings: the first run, or the
/// dashboard's run after an edit.
pub fn config(args: &RunArgs, file: &Path, loaded: &Loaded) -> RunConfig {
    let mut cfg = RunConfig::new(
        file.to_path_buf(),
        loaded.source.clone(),
        loaded.graph.clone(),
    );
    cfg.runs_dir = args.runs_dir.clone();
    cfg.limit_batches = args.limit_batches;
    cfg.threads = args.threads;
    cfg.overrides = args.all_sets();
    cfg.slurm = crate::system::slurm_task();
    // Checked before the run (`headless::check_device`).
    cfg.device = device_choice(args.device, &loaded.graph);
    cfg
}

/// `--resume RUN`: the run's own `experiment.net` (its overrides already
/// in it) with the flags given now applied on top.
fn resumed(
    args: &RunArgs,
    run: &Path,
    json: bool,
) -> Result<(PathBuf, Loaded, Option<PastRecord>), u8> {
    let past = PastRecord::read(run).map_err(|why| {
        load::error(json, &run.display().to_string(), &why);
        exit::INVALID
    })?;
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(&past.file));
    let source_path = run.join(SOURCE);
    let source = std::fs::read_to_string(&source_path).map_err(|e| {
        let path = source_path.display().to_string();
        load::error(json, &path, &format!("cannot read {path}: {e}"));
        exit::INVALID
    })?;
    if let Some(given) = &args.file {
        // The run goes on as it was started: say so when FILE has moved on.
        // The run's source is FILE as it was, with the run's overrides in.
        let edited = std::fs::read_to_string(given)
            .ok()
            .and_then(|now| dlwb_dsl::overrides::apply(&now, &past.overrides).ok())
            .is_some_and(|now| now != source);
        if edited && !json {
            let _ = writeln!(
                std::io::stderr(),
                "note: {} differs from the run's own {}; the run goes on as it was started (start a new run with `--init {}/checkpoint.safetensors` to use the edited file)",
                given.display(),
                source_path.display(),
                run.display()
            );
        }
    }
    let base = file.parent().unwrap_or(Path::new("."));
    let loaded = load::load_source(&source_path, &source, base, &args.all_sets(), json)?;
    Ok((file, loaded, Some(past)))
}
