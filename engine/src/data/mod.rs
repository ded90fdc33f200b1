//! Data sources: real files (IDX, CIFAR-10 binary, CSV, text) and synthetic
//! generators, split reproducibly, normalized and augmented per batch, and
//! batched on a background thread.

pub mod cifar;
pub mod dataset;
mod error;
pub mod idx;
pub mod loader;
mod source;
pub mod synthetic;
pub mod tabular;
pub mod text;
pub mod transform;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dlwb_dsl::experiment::{Augment, DataSpec, Normalize, SourceKind};
use dlwb_dsl::Learned;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use dataset::{Samples, Split};
pub use error::DataError;
pub use loader::{Batch, BatchPlan, Inputs, Targets};
pub use text::Vocab;
pub use transform::Normalization;

pub use dlwb_dsl::facts::DEFAULT_SAMPLES;

/// A loaded data set: its splits and everything needed to batch them.
#[derive(Debug)]
pub struct Data {
    pub train: Split,
    pub val: Option<Split>,
    pub test: Option<Split>,
    pub learned: Learned,
    /// Text: the characters, kept with the run so that sampling agrees.
    pub vocab: Option<Vocab>,
    /// CSV: the class names in index order, kept with the run.
    pub class_names: Option<Vec<String>>,
    pub normalize: Option<Normalization>,
    pub augment: Vec<Augment>,
    pub image_shape: Option<[usize; 3]>,
    /// Where the samples come from, for messages: the path, or the
    /// synthetic generator's name.
    pub origin: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Train,
    Val,
    Test,
}

impl Data {
    pub fn split(&self, which: Which) -> Option<&Split> {
        match which {
            Which::Train => Some(&self.train),
            Which::Val => self.val.as_ref(),
            Which::Test => self.test.as_ref(),
        }
    }

    /// How to batch a split: training batches are shuffled and augmented.
    pub fn plan(
        &self,
        which: Which,
        batch: usize,
        seed: u64,
        limit: Option<usize>,
    ) -> Option<BatchPlan> {
        let train = which == Which::Train;
        Some(BatchPlan {
            split: self.split(which)?.clone(),
            batch,
            shuffle: train.then_some(seed),
            augment: if train {
                self.augment.clone()
            } else {
                Vec::new()
            },
            image_shape: self.image_shape,
            normalize: self.normalize.clone(),
            limit,
        })
    }
}

/// The data path of a spec, resolved against the `.net` file's folder.
pub fn resolve_path(spec: &DataSpec, base_dir: &Path) -> Option<PathBuf> {
    spec.path.as_ref().map(|p| base_dir.join(p))
}

/// Facts that only the files know, read as cheaply as possible.
pub fn learn(spec: &DataSpec, base_dir: &Path) -> Result<Learned, DataError> {
    let path = resolve_path(spec, base_dir);
    Ok(match (spec.source, path) {
        (SourceKind::Text, Some(p)) => Learned {
            vocab: Some(Vocab::from_text(&text::read_corpus(&p)?).len()),
            classes: None,
        },
        (SourceKind::Csv, Some(p)) if spec.classes.is_none() => {
            let t = tabular::load(
                &p,
                &spec.features,
                spec.label.as_deref().unwrap_or(""),
                None,
            )?;
            Learned {
                vocab: None,
                classes: Some(t.class_names.len()),
            }
        }
        (SourceKind::Mnist | SourceKind::FashionMnist, Some(p)) => {
            for prefix in ["train", "t10k"] {
                idx::check_image_size(&p, prefix)?;
            }
            Learned::default()
        }
        _ => Learned::default(),
    })
}

/// Loads and splits the data. `seed` makes the splits reproducible.
pub fn load(spec: &DataSpec, base_dir: &Path, seed: u64) -> Result<Data, DataError> {
    let path = resolve_path(spec, base_dir);
    let origin = origin(spec, path.as_deref());
    let source::Read {
        all: train_all,
        own_test,
        vocab,
        class_names,
        learned,
        image_shape,
    } = source::read(spec, path.as_deref(), seed)?;

    let is_text = spec.source == SourceKind::Text;
    let mut rest = Split::all(Arc::clone(&train_all));
    if !is_text {
        let mut rng = ChaCha8Rng::seed_from_u64(crate::seeds::mix(seed, crate::seeds::SPLITS));
        rest.indices.shuffle(&mut rng);
    }
    // Text keeps its order: held-out windows come from the end, so that no
    // validation text overlaps training text.
    let test = match (own_test, spec.test) {
        (Some(t), _) => Some(t),
        (None, Some(frac)) => Some(take_tail(
            &mut rest,
            frac.count_of(train_all.len()),
            "test",
            &origin,
        )?),
        (None, None) => None,
    };
    let val = match spec.validation {
        Some(frac) => Some(take_tail(
            &mut rest,
            frac.count_of(train_all.len()),
            "validation",
            &origin,
        )?),
        None => None,
    };
    if rest.is_empty() {
        return Err(DataError::Spec(
            "the splits leave no training samples".into(),
        ));
    }

    let normalize = match &spec.normalize {
        None => None,
        Some(Normalize::Given { mean, std }) => {
            Some(given_normalization(mean, std, &train_all, image_shape)?)
        }
        Some(Normalize::Auto) => Some(auto_normalization(&rest, image_shape)),
    };
    for a in &spec.augment {
        let Some([_, h, w]) = image_shape else {
            return Err(DataError::Spec(
                "augmentation needs image data [C, H, W]".into(),
            ));
        };
        if let Augment::RandomCrop { size, .. } = a {
            if *size != h || *size != w {
                return Err(DataError::Spec(format!(
                    "random_crop {size} must match the image size {h}x{w} (crops keep the shape)"
                )));
            }
        }
    }
    Ok(Data {
        train: rest,
        val,
        test,
        learned,
        vocab,
        class_names,
        normalize,
        augment: spec.augment.clone(),
        image_shape,
        origin,
    })
}

/// The data's name in messages: its path, or `synthetic spirals`.
fn origin(spec: &DataSpec, path: Option<&Path>) -> String {
    match path {
        Some(p) => p.display().to_string(),
        None => format!("synthetic {}", spec.generator.name()),
    }
}

/// Moves the last `n` indices of `split` into a new split.
fn take_tail(split: &mut Split, n: usize, what: &str, origin: &str) -> Result<Split, DataError> {
    if n == 0 || n >= split.len() {
        return Err(DataError::Spec(format!(
            "a {what} split of {n} samples does not fit the {} samples of {origin}",
            split.len(),
        )));
    }
    let tail = split.indices.split_off(split.len() - n);
    Ok(Split {
        samples: Arc::clone(&split.samples),
        indices: tail,
    })
}

fn channels_of(samples: &Samples, image_shape: Option<[usize; 3]>) -> usize {
    match image_shape {
        Some([c, _, _]) => c,
        None => match samples {
            Samples::Features { dim, .. } => *dim,
            _ => 1,
        },
    }
}

fn given_normalization(
    mean: &[f32],
    std: &[f32],
    samples: &Samples,
    image_shape: Option<[usize; 3]>,
) -> Result<Normalization, DataError> {
    let channels = channels_of(samples, image_shape);
    let widen = |v: &[f32], what: &str| -> Result<Vec<f32>, DataError> {
        match v.len() {
            1 => Ok(vec![v[0]; channels]),
            n if n == channels => Ok(v.to_vec()),
            n => Err(DataError::Spec(format!(
                "normalize gives {n} {what} values for data with {channels} channels"
            ))),
        }
    };
    Ok(Normalization {
        mean: widen(mean, "mean")?,
        std: widen(std, "std")?,
    })
}

/// Mean and standard deviation per channel over the training split.
fn auto_normalization(train: &Split, image_shape: Option<[usize; 3]>) -> Normalization {
    let s = &train.samples;
    let channels = channels_of(s, image_shape);
    let len = s.input_len();
    let plane = len / channels;
    let mut sum = vec![0f64; channels];
    let mut sq = vec![0f64; channels];
    let mut row = vec![0f32; len];
    for &i in &train.indices {
        s.write_floats(i, &mut row);
        for (c, chunk) in row.chunks(plane).enumerate() {
            for &v in chunk {
                sum[c] += v as f64;
                sq[c] += (v as f64) * (v as f64);
            }
        }
    }
    let n = (train.len() * plane).max(1) as f64;
    let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
    let std = sum
        .iter()
        .zip(&sq)
        .map(|(s, q)| {
            let m = s / n;
            ((q / n - m * m).max(0.0).sqrt() as f32).max(1e-6)
        })
        .collect();
    Normalization { mean, std }
}

/// The first two bytes of every gzip file.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads a file, gunzipping it when it starts with gzip's magic bytes.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if bytes.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::format(path, format!("corrupt gzip data: {e}")))?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}
