//! `dlwb view RUN_OR_SWEEP_DIR...`: the dashboard over finished runs, read
//! from their folders: every run's curves on one chart in its own colour,
//! seed groups as their mean with a min–max band, keys to show or hide
//! each, and the selected run's weights. No training starts.

pub mod draw;
pub mod state;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crossterm::event::{self, Event as TermEvent, KeyEventKind};

use crate::cli::ViewArgs;
use crate::dashboard::view::Look;
use crate::finished::{run_folders, FinishedRun};
use crate::{exit, load};
pub use state::{ViewRun, Viewer};

/// The runs under `dirs` (run folders, sweep folders, folders of runs),
/// each once; or why there are none to show.
pub fn open(dirs: &[PathBuf]) -> Result<Viewer, String> {
    let mut runs: Vec<ViewRun> = Vec::new();
    for dir in dirs {
        let folders = run_folders(dir)?;
        if folders.is_empty() {
            return Err(format!("{} holds no run folders", dir.display()));
        }
        for f in folders {
            if runs.iter().any(|r| r.dir == f) {
                continue;
            }
            // A run that trained no step has nothing to draw.
            if let Ok(run) = FinishedRun::read(&f) {
                runs.push(ViewRun::from_finished(&run));
            }
        }
    }
    if runs.is_empty() {
        return Err("no run has metrics to show: none trained a step".into());
    }
    let title = std::iter::once("view".to_string())
        .chain(dirs.iter().map(|d| d.display().to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    let monitor = monitor(dirs, &runs);
    Ok(Viewer::new(title, runs, monitor))
}

/// The metric the legend ranks by: a sweep's own, else validation loss
/// where the runs have it, else training loss.
fn monitor(dirs: &[PathBuf], runs: &[ViewRun]) -> String {
    let sweep = dirs.iter().find_map(|d| crate::sweep::monitor_of(d).ok());
    sweep.unwrap_or_else(|| {
        if runs.iter().any(|r| r.metrics.contains_key("val.loss")) {
            "val.loss".into()
        } else {
            "train.loss".into()
        }
    })
}

pub fn run(args: &ViewArgs) -> u8 {
    let viewer = match open(&args.dirs) {
        Ok(v) => v,
        Err(why) => {
            let what = args.dirs.first().map_or(Path::new(""), |d| d.as_path());
            load::error(false, &what.display().to_string(), &why);
            return exit::INVALID;
        }
    };
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        load::error(
            false,
            "",
            "`dlwb view` draws on a terminal; for files use `dlwb report RUN_DIR... -o DIR`, for a table `dlwb runs`",
        );
        return exit::INVALID;
    }
    show(viewer)
}

/// The viewer on the terminal until `q`.
pub fn show(mut viewer: Viewer) -> u8 {
    let look = Look::of_terminal();
    let mut terminal = ratatui::init();
    let mut dirty = true;
    while !viewer.quit {
        if dirty && terminal.draw(|f| draw::draw(f, &viewer, look)).is_err() {
            break;
        }
        dirty = false;
        if event::poll(Duration::from_millis(200)).unwrap_or(false) {
            match event::read() {
                Ok(TermEvent::Key(k)) if k.kind == KeyEventKind::Press => viewer.on_key(k),
                Ok(_) => {}
                Err(_) => break,
            }
            dirty = true;
        }
    }
    ratatui::restore();
    exit::OK
}
