//! One process per run folder: an advisory lock on `run.lock`, which holds
//! the holder's process id so that a second process can say whose it is.
//! The lock goes with the process (the kernel releases it however the
//! process ends), so a killed run never leaves its folder locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

pub const LOCK: &str = "run.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{} is in use by process {pid}", path.display())]
    InUse { path: PathBuf, pid: String },
    #[error("cannot lock {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Held while the run folder is being written; released on drop.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    pub fn acquire(run_dir: &Path) -> Result<RunLock, LockError> {
        let path = run_dir.join(LOCK);
        let io = |source| LockError::Io {
            path: run_dir.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(LockError::InUse {
                    path: run_dir.to_path_buf(),
                    pid: if pid.is_empty() {
                        "unknown".into()
                    } else {
                        pid.into()
                    },
                });
            }
            // A file system without locks (some network mounts) cannot
            // keep two writers apart; the run goes on rather than refuse.
            Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {}
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(RunLock { _file: file })
    }
}
