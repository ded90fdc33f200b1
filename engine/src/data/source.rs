//! Reading a data section's source: every sample it holds, and a test
//! split where the source has its own. One function per kind of source.

use std::path::Path;
use std::sync::Arc;

use dlwb_dsl::experiment::{DataSpec, Generator, SourceKind};
use dlwb_dsl::facts::{DEFAULT_SAMPLES, DEFAULT_SINE_STEPS, DEFAULT_WINDOW};
use dlwb_dsl::Learned;

use super::{cifar, idx, synthetic, tabular, text, DataError, Samples, Split, Vocab};

/// What a source holds.
pub(super) struct Read {
    /// Every sample that training, validation and a derived test split
    /// are drawn from.
    pub all: Arc<Samples>,
    /// The source's own test split (MNIST's t10k, CIFAR's test batch).
    pub own_test: Option<Split>,
    pub vocab: Option<Vocab>,
    pub class_names: Option<Vec<String>>,
    pub learned: Learned,
    pub image_shape: Option<[usize; 3]>,
}

impl Read {
    /// Samples and nothing else known about them.
    fn of(all: Arc<Samples>) -> Read {
        Read {
            all,
            own_test: None,
            vocab: None,
            class_names: None,
            learned: Learned::default(),
            image_shape: None,
        }
    }
}

pub(super) fn read(spec: &DataSpec, path: Option<&Path>, seed: u64) -> Result<Read, DataError> {
    let path = || path.expect("checked: this source has a path");
    match spec.source {
        SourceKind::Mnist | SourceKind::FashionMnist => mnist(path()),
        SourceKind::Cifar10 => cifar10(path()),
        SourceKind::Csv => csv(spec, path()),
        SourceKind::Text => corpus(spec, path()),
        SourceKind::Synthetic => Ok(generated(spec, seed)),
    }
}

fn images(pixels: Vec<u8>, labels: Vec<u8>, shape: [usize; 3]) -> Arc<Samples> {
    Arc::new(Samples::Images {
        pixels,
        labels,
        shape,
    })
}

fn mnist(dir: &Path) -> Result<Read, DataError> {
    let tr = idx::load(dir, "train", 10)?;
    let te = idx::load(dir, "t10k", 10)?;
    let shape = [1, tr.rows, tr.cols];
    Ok(Read {
        own_test: Some(Split::all(images(te.pixels, te.labels, shape))),
        image_shape: Some(shape),
        ..Read::of(images(tr.pixels, tr.labels, shape))
    })
}

fn cifar10(dir: &Path) -> Result<Read, DataError> {
    let (p, l) = cifar::load(dir, &cifar::TRAIN_FILES)?;
    let (tp, tl) = cifar::load(dir, &[cifar::TEST_FILE])?;
    let shape = [3, 32, 32];
    Ok(Read {
        own_test: Some(Split::all(images(tp, tl, shape))),
        image_shape: Some(shape),
        ..Read::of(images(p, l, shape))
    })
}

fn csv(spec: &DataSpec, p: &Path) -> Result<Read, DataError> {
    let t = tabular::load(
        p,
        &spec.features,
        spec.label.as_deref().unwrap_or(""),
        spec.classes,
    )?;
    Ok(Read {
        learned: Learned {
            classes: Some(t.class_names.len()),
            ..Learned::default()
        },
        class_names: Some(t.class_names),
        ..Read::of(Arc::new(t.samples))
    })
}

fn corpus(spec: &DataSpec, p: &Path) -> Result<Read, DataError> {
    let corpus = text::read_corpus(p)?;
    let v = Vocab::from_text(&corpus);
    let window = spec.window.unwrap_or(DEFAULT_WINDOW);
    let tokens: Vec<u32> = corpus
        .chars()
        .map(|c| v.id(c).expect("in the vocabulary"))
        .collect();
    if tokens.len() <= window {
        return Err(DataError::format(
            p,
            format!(
                "the corpus has {} characters, fewer than one window of {window} plus its target",
                tokens.len()
            ),
        ));
    }
    Ok(Read {
        learned: Learned {
            vocab: Some(v.len()),
            ..Learned::default()
        },
        vocab: Some(v),
        ..Read::of(Arc::new(Samples::Text { tokens, window }))
    })
}

fn generated(spec: &DataSpec, seed: u64) -> Read {
    let n = spec.samples.unwrap_or(DEFAULT_SAMPLES);
    let noise = spec.noise;
    let mut image_shape = None;
    let s = match spec.generator {
        Generator::Random => {
            let shape = spec.shape.clone().unwrap_or_default();
            if let [c, h, w] = shape[..] {
                image_shape = Some([c, h, w]);
            }
            let dim = shape.iter().product();
            synthetic::random(n, dim, spec.classes.unwrap_or(2), seed)
        }
        Generator::Spirals => {
            synthetic::spirals(n, spec.classes.unwrap_or(2), noise.unwrap_or(0.2), seed)
        }
        Generator::Blobs => {
            let dim = spec
                .shape
                .as_ref()
                .and_then(|s| s.first().copied())
                .unwrap_or(2);
            synthetic::blobs(
                n,
                dim,
                spec.classes.unwrap_or(3),
                noise.unwrap_or(1.0),
                seed,
            )
        }
        Generator::Sine => synthetic::sine(
            n,
            spec.window.unwrap_or(DEFAULT_SINE_STEPS),
            noise.unwrap_or(0.05),
            seed,
        ),
    };
    Read {
        image_shape,
        ..Read::of(Arc::new(s))
    }
}
