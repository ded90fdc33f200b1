//! What a data section tells about its data without reading any file.
//! Facts that only the files know (a corpus's vocabulary, the classes of a
//! CSV's labels) are passed in by the engine as [`Learned`].

use crate::experiment::{DataSpec, Generator, SourceKind};
use crate::graph::{DataFacts, Shape, Target};

/// Facts read from the data files by the engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Learned {
    pub vocab: Option<usize>,
    pub classes: Option<usize>,
}

/// Default characters per text window.
pub const DEFAULT_WINDOW: usize = 64;
/// Default steps per synthetic sine sequence.
pub const DEFAULT_SINE_STEPS: usize = 32;
/// Samples a synthetic source makes when the file does not say.
pub const DEFAULT_SAMPLES: usize = 1000;

impl DataSpec {
    /// The facts, or why they cannot be known without the data files.
    pub fn facts(&self, learned: Learned) -> Result<DataFacts, String> {
        let classes = |default: Option<usize>| -> Result<usize, String> {
            self.classes.or(learned.classes).or(default).ok_or_else(|| {
                format!(
                    "the classes of {} data are read from its labels",
                    self.source.name()
                )
            })
        };
        Ok(match self.source {
            SourceKind::Mnist | SourceKind::FashionMnist => DataFacts {
                input: Shape::Image {
                    channels: 1,
                    height: 28,
                    width: 28,
                },
                target: Target::Classes { classes: 10 },
            },
            SourceKind::Cifar10 => DataFacts {
                input: Shape::Image {
                    channels: 3,
                    height: 32,
                    width: 32,
                },
                target: Target::Classes { classes: 10 },
            },
            SourceKind::Csv => DataFacts {
                input: Shape::Vector {
                    features: self.features.len(),
                },
                target: Target::Classes {
                    classes: classes(None)?,
                },
            },
            SourceKind::Text => DataFacts {
                input: Shape::Tokens {
                    steps: self.window.unwrap_or(DEFAULT_WINDOW),
                },
                target: Target::NextToken {
                    vocab: learned
                        .vocab
                        .ok_or("the vocabulary of text data is read from its corpus")?,
                },
            },
            SourceKind::Synthetic => match self.generator {
                Generator::Random => DataFacts {
                    input: self
                        .shape
                        .as_deref()
                        .and_then(Shape::from_dims)
                        .ok_or("synthetic data needs a shape of one to three sizes")?,
                    target: Target::Classes {
                        classes: classes(None)?,
                    },
                },
                Generator::Spirals => DataFacts {
                    input: Shape::Vector { features: 2 },
                    target: Target::Classes {
                        classes: classes(Some(2))?,
                    },
                },
                Generator::Blobs => DataFacts {
                    input: Shape::Vector {
                        features: self
                            .shape
                            .as_ref()
                            .and_then(|s| s.first().copied())
                            .unwrap_or(2),
                    },
                    target: Target::Classes {
                        classes: classes(Some(3))?,
                    },
                },
                Generator::Sine => {
                    let steps = self.window.unwrap_or(DEFAULT_SINE_STEPS);
                    let shape = Shape::Sequence { steps, features: 1 };
                    DataFacts {
                        input: shape,
                        target: Target::Values { shape },
                    }
                }
            },
        })
    }
}
