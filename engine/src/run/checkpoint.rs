//! Checkpoints: parameters by dotted name plus optimizer state, in
//! safetensors, written atomically (temporary file, fsync, rename) so that
//! a kill at any moment leaves the previous checkpoint whole.

use crate::backend::Backend;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

/// Named f32 tensors with their shapes, and string metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    pub tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
    pub metadata: HashMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("cannot write checkpoint {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read checkpoint {path}: {message}")]
    Read { path: String, message: String },
}

impl Checkpoint {
    /// Every parameter by name, with no metadata: the weights alone.
    pub(crate) fn of_params<B: Backend>(
        params: &crate::params::Params<B>,
    ) -> Result<Checkpoint, crate::backend::Error> {
        let tensors = params
            .list
            .iter()
            .zip(params.all_host()?)
            .map(|(p, data)| (p.name.clone(), p.shape.clone(), data))
            .collect();
        Ok(Checkpoint {
            tensors,
            metadata: HashMap::new(),
        })
    }

    /// A metadata value parsed as `T`; `None` when absent or malformed
    /// (a checkpoint from an older dlwb lacks the newer keys).
    pub fn meta<T: std::str::FromStr>(&self, key: &str) -> Option<T> {
        meta(&self.metadata, key)
    }

    pub fn get(&self, name: &str) -> Option<(&[usize], &[f32])> {
        self.tensors
            .iter()
            .find(|(n, ..)| n == name)
            .map(|(_, s, d)| (s.as_slice(), d.as_slice()))
    }

    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let err = |source| CheckpointError::Write {
            path: path.display().to_string(),
            source,
        };
        let bytes: Vec<Vec<u8>> = self
            .tensors
            .iter()
            .map(|(_, _, d)| d.iter().flat_map(|v| v.to_le_bytes()).collect())
            .collect();
        let views: Vec<(String, TensorView<'_>)> = self
            .tensors
            .iter()
            .zip(&bytes)
            .map(|((name, shape, _), b)| {
                let view = TensorView::new(Dtype::F32, shape.clone(), b)
                    .expect("sizes agree by construction");
                (name.clone(), view)
            })
            .collect();
        let data = safetensors::serialize(views, &Some(self.metadata.clone()))
            .map_err(|e| err(std::io::Error::other(e.to_string())))?;
        write_atomically(path, &data).map_err(err)
    }

    pub fn load(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let err = |message: String| CheckpointError::Read {
            path: path.display().to_string(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| err(format!("not a safetensors file ({e})")))?;
        let (_, meta) =
            safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| err(e.to_string()))?;
        let mut tensors = Vec::new();
        for (name, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(err(format!("tensor {name} is {:?}, not F32", view.dtype())));
            }
            let data = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            tensors.push((name, view.shape().to_vec(), data));
        }
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Checkpoint {
            tensors,
            metadata: meta.metadata().clone().unwrap_or_default(),
        })
    }
}

/// A metadata value parsed as `T`, for readers that hold only the map.
pub fn meta<T: std::str::FromStr>(m: &HashMap<String, String>, key: &str) -> Option<T> {
    m.get(key).and_then(|v| v.parse().ok())
}

/// Writes `data` to `path` so that readers see the old file or the new one,
/// never a part: a temporary file beside it, fsync, rename, fsync the folder.
pub fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        // A full disk must not leave a partial file behind as well.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

impl crate::params::Tensors for Checkpoint {
    fn tensor(&self, name: &str) -> Option<(&[usize], &[f32])> {
        self.get(name)
    }
}
