use std::path::PathBuf;

/// A data problem, naming the file and the position where it lies.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
}

impl DataError {
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn format(path: &std::path::Path, message: impl Into<String>) -> Self {
        DataError::Format {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    /// What a person can do about it.
    pub fn hint(&self) -> String {
        match self {
            DataError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                "paths are relative to the .net file; check the `path` in its data section".into()
            }
            DataError::Io { .. } => "check that the file is readable".into(),
            DataError::Format { .. } => {
                "the file is not in the format its data source expects".into()
            }
        }
    }
}
