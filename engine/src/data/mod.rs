//! Data sources: real files (IDX, CIFAR-10 binary, CSV, text) and synthetic
//! generators, with splits, normalization, augmentation and batching.

mod error;
pub mod text;

use std::path::{Path, PathBuf};

use dlwb_dsl::experiment::{DataSpec, SourceKind};
use dlwb_dsl::Learned;

pub use error::DataError;

/// The data path of a spec, resolved against the `.net` file's folder.
pub fn resolve_path(spec: &DataSpec, base_dir: &Path) -> Option<PathBuf> {
    spec.path.as_ref().map(|p| base_dir.join(p))
}

/// Facts that only the files know, read as cheaply as possible.
pub fn learn(spec: &DataSpec, base_dir: &Path) -> Result<Learned, DataError> {
    let path = resolve_path(spec, base_dir);
    Ok(match (spec.source, path) {
        (SourceKind::Text, Some(p)) => Learned {
            vocab: Some(text::Vocab::from_text(&text::read_corpus(&p)?).len()),
            classes: None,
        },
        _ => Learned::default(),
    })
}
