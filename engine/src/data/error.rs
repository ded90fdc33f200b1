use std::path::{Path, PathBuf};

/// A data problem, naming the file and the position where it lies.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} not found")]
    Missing { path: PathBuf, help: String },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    /// The data section asks for something the data cannot give.
    #[error("{0}")]
    Spec(String),
}

impl DataError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            return DataError::Missing {
                path: path.to_path_buf(),
                help: "paths are relative to the .net file; check the `path` in its data section"
                    .into(),
            };
        }
        DataError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn format(path: &Path, message: impl Into<String>) -> Self {
        DataError::Format {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    /// What a person can do about it.
    pub fn hint(&self) -> String {
        match self {
            DataError::Missing { help, .. } => help.clone(),
            DataError::Io { .. } => "check that the file is readable".into(),
            DataError::Format { .. } => {
                "the file is not in the format its data source expects".into()
            }
            DataError::Spec(_) => "change the data section".into(),
        }
    }
}
