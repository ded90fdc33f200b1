//! Watching the `.net` file. Editors save by writing a new file and
//! renaming it over the old one, so the folder is watched, not the file;
//! the loop debounces (a save is several events) and compares contents.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

/// Quiet time after the last change before the file is read.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

pub struct FileWatch {
    _watcher: notify::RecommendedWatcher,
    pub changes: Receiver<()>,
}

pub fn watch(file: &Path) -> notify::Result<FileWatch> {
    let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let dir = file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = file.file_name().map(|n| n.to_owned());
    let (tx, rx) = channel();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            if ev
                .paths
                .iter()
                .any(|p| p.file_name().map(|n| n.to_owned()) == name)
            {
                let _ = tx.send(());
            }
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(FileWatch {
        _watcher: watcher,
        changes: rx,
    })
}
