//! A model file read back: floats by name from a checkpoint, and from a
//! compressed model its int8 weights (with a `.scale` per row) and its
//! sparse and clustered weights (`stored.rs`) decoded to floats. What
//! `trained.rs` loads and what compression's steps measure.

use std::path::Path;

use safetensors::tensor::Dtype;

use super::QuantWeight;
use crate::params::Tensors;

/// A model file's tensors: floats by name, and int8 weights (with their
/// `.scale` rows) as the compressed model stores them.
pub struct ModelFile {
    floats: Vec<(String, Vec<usize>, Vec<f32>)>,
    pub(crate) int8: Vec<(String, QuantWeight)>,
}

impl Tensors for ModelFile {
    fn tensor(&self, name: &str) -> Option<(&[usize], &[f32])> {
        self.floats
            .iter()
            .find(|(n, ..)| n == name)
            .map(|(_, s, d)| (s.as_slice(), d.as_slice()))
    }
}

impl ModelFile {
    /// How many int8 weights the file holds.
    #[cfg(test)]
    pub fn int8_count(&self) -> usize {
        self.int8.len()
    }
}

pub fn read_model(path: &Path) -> Result<ModelFile, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&bytes)
        .map(|(file, _)| file)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A model file's tensors from its bytes (sparse and clustered weights,
/// `compress::stored`, decoded to floats), and how many were stored so.
pub fn parse(bytes: &[u8]) -> Result<(ModelFile, usize), String> {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| format!("not a safetensors file ({e})"))?;
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| format!("not a safetensors file ({e})"))?;
    let mut file = ModelFile {
        floats: Vec::new(),
        int8: Vec::new(),
    };
    let mut stored = meta.metadata().clone().unwrap_or_default();
    stored.retain(|_, line| super::stored::describes_weight(line));
    for (name, line) in &stored {
        let part = |suffix: &str| st.tensor(&format!("{name}{suffix}")).ok().map(|t| t.data());
        if line.starts_with("int8-sparse") {
            let (shape, q) =
                super::stored::load_int8(line, part).map_err(|e| format!("{name}: {e}"))?;
            // Its float form too, so the parameter list is whole.
            file.floats.push((name.clone(), shape, q.dequantize()));
            file.int8.push((name.clone(), q));
            continue;
        }
        let (shape, w) = super::stored::load(line, part).map_err(|e| format!("{name}: {e}"))?;
        file.floats.push((name.clone(), shape, w));
    }
    for (name, view) in st.tensors() {
        let shape = view.shape().to_vec();
        match view.dtype() {
            Dtype::F32 => {
                let data = view
                    .data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("four bytes")))
                    .collect();
                file.floats.push((name, shape, data));
            }
            Dtype::I8 if stored.contains_key(name.trim_end_matches(".q")) => {}
            Dtype::I8 => {
                let scale = st
                    .tensor(&format!("{name}.scale"))
                    .map_err(|_| format!("int8 tensor {name} has no {name}.scale"))?;
                let scales: Vec<f32> = scale
                    .data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("four bytes")))
                    .collect();
                let q: Vec<i8> = view.data().iter().map(|b| *b as i8).collect();
                // (Clustered codes are U8, read above.)
                let rows = shape.first().copied().unwrap_or(1);
                let cols = q.len() / rows.max(1);
                let w = QuantWeight::new(q, scales, rows, cols);
                // Its float form too, so the parameter list is whole.
                file.floats.push((name.clone(), shape, w.dequantize()));
                file.int8.push((name, w));
            }
            // Parts of stored weights, read above.
            Dtype::U8 if stored.keys().any(|n| name.starts_with(n.as_str())) => {}
            other => {
                return Err(format!(
                    "tensor {name} is {other:?}; dlwb reads F32, int8 and clustered codes"
                ))
            }
        }
    }
    Ok((file, stored.len()))
}
