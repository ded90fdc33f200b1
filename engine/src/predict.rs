//! `dlwb predict`: a trained model applied to new inputs — IDX images or
//! CSV rows, normalized as its data source normalizes them — or, for a
//! character model, text continuing a prompt.

use std::path::Path;

use dlwb_dsl::graph::Shape;
use dlwb_dsl::Graph;

use crate::compress::Int8Weights;
use crate::data::{self, Inputs};
use crate::kernels::activation::softmax_row;
use crate::network::{Network, Pass, Precision};
use crate::run::Error;
use crate::trained::trained;

/// What to predict from.
#[derive(Debug, Clone, Copy)]
pub enum PredictInput<'a> {
    /// An IDX image file (`idx3`, `.gz` or not).
    Images(&'a Path),
    /// A CSV file with a header naming the data's feature columns.
    Rows(&'a Path),
    /// A character model's continuation of `text`.
    Prompt {
        text: &'a str,
        chars: usize,
        temperature: f64,
        seed: u64,
    },
}

pub struct PredictRequest<'a> {
    pub graph: &'a Graph,
    /// The folder the data paths are relative to.
    pub base: &'a Path,
    pub weights: &'a Path,
    pub input: PredictInput<'a>,
    pub threads: Option<usize>,
}

/// One input's prediction.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    Class {
        /// Which input, counting from 0.
        item: usize,
        class: usize,
        /// The class's name, for CSV data.
        label: Option<String>,
        probabilities: Vec<f32>,
    },
    Text(String),
}

pub fn run(req: &PredictRequest<'_>) -> Result<Vec<Prediction>, Error> {
    if let Some(t) = req.threads {
        crate::kernels::matmul::set_threads(t);
    }
    let g = req.graph;
    let data = data::load(&g.experiment.data, req.base, g.experiment.train.seed)?;
    let (net, int8) = trained(g, req.weights)?;
    let samples = match req.input {
        PredictInput::Images(path) => images(path, &g.facts.input)?,
        PredictInput::Rows(path) => data::tabular::features(path, &g.experiment.data.features)?,
        PredictInput::Prompt {
            text,
            chars,
            temperature,
            seed,
        } => {
            let vocab = data.vocab.as_ref().ok_or_else(|| {
                Error::Refused("--prompt needs a character model (data text)".into())
            })?;
            let window = g.facts.input.dims()[0];
            let mut rng = crate::params::rng(seed, crate::seeds::SAMPLE);
            let out = crate::run::sample::generate(
                &net,
                vocab,
                window,
                text,
                chars,
                temperature,
                &mut rng,
            )?;
            return Ok(vec![Prediction::Text(format!("{text}{out}"))]);
        }
    };
    let size = g.facts.input.elements();
    let mut samples = samples;
    if let Some(n) = &data.normalize {
        samples.chunks_mut(size).for_each(|s| n.apply(s));
    }
    classify(&net, &int8, g, &samples, data.class_names.as_deref())
}

/// Every sample's class and probabilities, a training batch at a time.
fn classify(
    net: &Network,
    int8: &Int8Weights,
    g: &Graph,
    samples: &[f32],
    names: Option<&[String]>,
) -> Result<Vec<Prediction>, Error> {
    let size = g.facts.input.elements();
    let precision = Precision::of(int8);
    let weights = net.weights();
    let mut out = Vec::new();
    for chunk in samples.chunks(size * g.experiment.train.batch) {
        let n = chunk.len() / size;
        let inputs = Inputs::Floats(std::sync::Arc::new(chunk.to_vec()));
        let y = net.forward_in(&weights, &inputs, n, Pass::Eval, precision)?;
        for mut p in net
            .download(&y)?
            .chunks(g.output().elements())
            .map(<[f32]>::to_vec)
        {
            softmax_row(&mut p);
            let class = crate::kernels::loss::argmax(&p);
            out.push(Prediction::Class {
                item: out.len(),
                class,
                label: names.and_then(|n| n.get(class).cloned()),
                probabilities: p,
            });
        }
    }
    Ok(out)
}

/// An IDX image file's images as floats in [0, 1], each checked against
/// the model's input.
fn images(path: &Path, input: &Shape) -> Result<Vec<f32>, Error> {
    let bytes = data::read_maybe_gz(path)?;
    let (_, dims, payload) = data::idx::parse(path, &bytes, 2051, 3)?;
    let want = input.dims();
    if want.len() != 3 || want[0] != 1 || want[1..] != dims[1..] {
        return Err(Error::Refused(format!(
            "{} holds {}x{} images; the model was built for {input}",
            path.display(),
            dims[1],
            dims[2]
        )));
    }
    Ok(payload.iter().map(|&b| b as f32 / 255.0).collect())
}
