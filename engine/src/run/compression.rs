//! The `compress` section, after training: prune (then fine-tune with the
//! masks held), quantize to int8, and report each step's cost. Also loads
//! the teacher that `distill` trains against.

use crate::backend::Backend;
use std::path::Path;

use dlwb_dsl::experiment::{CompressSpec, PruneScope};
use dlwb_dsl::metric::Metric;
use dlwb_dsl::Graph;
use safetensors::tensor::{Dtype, TensorView};

use super::inference::figures;
use super::{Error, Metrics};
use crate::compress::{prune, stored, Codebooks, Figures, Int8Weights, Masks, Report};
use crate::data::{Data, Which};
use crate::loss::Objective;
use crate::network::Network;
use crate::optim::{learning_rate, Optimizer};
use crate::params::Params;
use crate::run::checkpoint::write_atomically;
use crate::seeds;
use crate::trainer::{train_step, StepError};

/// What a compression pass ends with.
pub struct Outcome {
    pub reports: Vec<Report>,
    pub metrics: Metrics,
    /// Fine-tuning progress, for the log.
    pub log: Vec<String>,
}

fn float_file<B: Backend>(net: &Network<B>) -> Result<Vec<u8>, Error> {
    Ok(serialize(net, &Stores::Float)?.0)
}

/// How the covered weights go into a model file.
enum Stores<'a> {
    /// As f32, all of them (the float model the ratios compare against).
    Float,
    /// Each in its smallest layout (`compress::stored`): sparse where
    /// pruned, shared values and codes where clustered.
    Smallest {
        covered: &'a [usize],
        shared: &'a Codebooks,
    },
    /// As int8 with a scale per row.
    Int8(&'a Int8Weights),
}

/// A model file being assembled: its tensors, its metadata lines, and the
/// layouts the stored weights took.
#[derive(Default)]
struct FileParts {
    owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)>,
    meta: std::collections::HashMap<String, String>,
    layouts: Vec<String>,
}

impl FileParts {
    fn add(&mut self, name: &str, s: stored::Stored) {
        for part in s.parts {
            let tensor = format!("{name}{}", part.suffix);
            self.owned
                .push((tensor, part.dtype, part.shape, part.bytes));
        }
        let layout = s
            .meta
            .as_deref()
            .map_or("dense", |m| m.split(' ').next().unwrap_or(""));
        if !self.layouts.iter().any(|l| l == layout) {
            self.layouts.push(layout.to_string());
        }
        if let Some(m) = s.meta {
            self.meta.insert(name.to_string(), m);
        }
    }
}

/// The model as safetensors, and the layouts its covered weights took.
fn serialize<B: Backend>(
    net: &Network<B>,
    how: &Stores<'_>,
) -> Result<(Vec<u8>, Vec<String>), Error> {
    let mut file = FileParts::default();
    for (i, p) in net.params.list.iter().enumerate() {
        match how {
            Stores::Int8(int8) if int8.contains_key(&i) => {
                file.add(&p.name, stored::store_int8(&int8[&i], &p.shape));
            }
            Stores::Smallest { covered, shared } if covered.contains(&i) => {
                let book = shared.layers.iter().find(|b| b.param == i);
                file.add(&p.name, stored::store(&net.params.host(i)?, &p.shape, book));
            }
            _ => file.owned.push((
                p.name.clone(),
                Dtype::F32,
                p.shape.clone(),
                net.params
                    .host(i)?
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
            )),
        }
    }
    let FileParts {
        owned,
        meta,
        layouts,
    } = file;
    let views: Vec<(String, TensorView<'_>)> = owned
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                TensorView::new(*d, s.clone(), b).expect("sizes agree by construction"),
            )
        })
        .collect();
    let meta = (!meta.is_empty()).then_some(meta);
    let bytes = safetensors::serialize(views, &meta).expect("in-memory serialization");
    Ok((bytes, layouts))
}

/// What compression works on: the trained network, its optimizer (which
/// fine-tuning goes on with), the data and where the models are written.
pub(crate) struct Subject<'a, B: Backend> {
    pub net: &'a mut Network<B>,
    pub opt: &'a mut Optimizer<B>,
    pub data: &'a Data,
    pub graph: &'a Graph,
    pub dir: &'a Path,
    pub limit: Option<usize>,
}

/// Applies the `compress` section's steps in order, each reported with the
/// figures before and after it.
pub(crate) fn compress<B: Backend>(
    spec: &CompressSpec,
    mut s: Subject<'_, B>,
) -> Result<Outcome, Error> {
    let covered = prune::covered(s.graph, &s.net.params);
    let float_bytes = float_file(s.net)?.len();
    let first = s.figures(None, float_bytes)?;
    let mut done = Done {
        reports: Vec::new(),
        current: first.clone(),
        bytes: float_bytes,
    };
    let mut log = Vec::new();
    let mut masks: Option<Masks> = None;
    if let Some((fraction, scope)) = spec.prune {
        let m = prune::magnitude(&mut s.net.params, &covered, fraction, scope)?;
        s.finetune(&mut |p| m.apply(p), spec.finetune_epochs, &mut log)?;
        let how = Stores::Smallest {
            covered: &covered,
            shared: &Codebooks::default(),
        };
        let (after, bytes, layouts) = s.save_and_reload("model.pruned.safetensors", &how)?;
        let scope = match scope {
            PruneScope::Layer => "per layer",
            PruneScope::Global => "global",
        };
        let step = format!(
            "prune magnitude {:.0}% ({scope}), fine-tune {} epochs; stored {}",
            100.0 * fraction,
            spec.finetune_epochs,
            layouts.join(", ")
        );
        done.push(step, after, bytes);
        masks = Some(m);
    }
    if let Some(c) = spec.cluster {
        let mut books = Codebooks::fit(&mut s.net.params, &covered, c.k)?;
        s.finetune(&mut |p| books.apply(p), c.finetune_epochs, &mut log)?;
        let how = Stores::Smallest {
            covered: &covered,
            shared: &books,
        };
        let (after, bytes, layouts) = s.save_and_reload("model.clustered.safetensors", &how)?;
        let step = format!(
            "cluster {} values per layer, fine-tune {} epochs; stored {}",
            c.k,
            c.finetune_epochs,
            layouts.join(", ")
        );
        done.push(step, after, bytes);
    }
    if spec.quantize_int8 {
        let (after, bytes) = s.quantize(&covered)?;
        done.push(quantize_step(s.net, &covered), after, bytes);
    }
    let Done {
        reports,
        current,
        bytes: final_bytes,
    } = done;
    let sparsity = match masks {
        Some(m) => m.sparsity(),
        None => zero_share(s.net, &covered)?,
    };
    let metrics = final_metrics(
        &first,
        &current,
        sparsity,
        final_bytes as f64 / float_bytes as f64,
        !reports.is_empty(),
    );
    Ok(Outcome {
        reports,
        metrics,
        log,
    })
}

/// The `compress.*` metrics: sparsity, size ratio, and the accuracy and
/// speed of the final model against the float one.
fn final_metrics(
    first: &Figures,
    last: &Figures,
    sparsity: f64,
    size_ratio: f64,
    any_step: bool,
) -> Metrics {
    let mut metrics = Metrics::new();
    metrics.insert(Metric::Sparsity.name().into(), sparsity);
    metrics.insert(Metric::SizeRatio.name().into(), size_ratio);
    if let (Some(a), Some(b)) = (first.accuracy, last.accuracy) {
        metrics.insert(Metric::AccuracyDrop.name().into(), a - b);
    }
    if first.samples_per_s > 0.0 && any_step {
        metrics.insert(
            Metric::Speedup.name().into(),
            last.samples_per_s / first.samples_per_s,
        );
    }
    metrics
}

/// The steps applied so far: their reports, the model's figures now, and
/// its file's bytes.
struct Done {
    reports: Vec<Report>,
    current: Figures,
    bytes: usize,
}

impl Done {
    fn push(&mut self, step: String, after: Figures, bytes: usize) {
        let before = std::mem::replace(&mut self.current, after.clone());
        self.reports.push(Report {
            step,
            before,
            after,
        });
        self.bytes = bytes;
    }
}

/// The quantize step's name, with the weight matrices it leaves in float
/// (layer kinds without an int8 kernel: recurrent, embedding).
fn quantize_step<B: Backend>(net: &Network<B>, covered: &[usize]) -> String {
    let float: Vec<&str> = net
        .params
        .list
        .iter()
        .enumerate()
        .filter(|(i, p)| p.trainable && p.shape.len() >= 2 && !covered.contains(i))
        .map(|(_, p)| p.name.as_str())
        .collect();
    if float.is_empty() {
        "quantize int8 (per output channel)".into()
    } else {
        format!(
            "quantize int8 (per output channel; no int8 kernel, kept float: {})",
            float.join(", ")
        )
    }
}

/// The share of the covered weights that are zero.
fn zero_share<B: Backend>(net: &Network<B>, covered: &[usize]) -> Result<f64, Error> {
    let (mut n, mut z) = (0, 0);
    for &i in covered {
        let h = net.params.host(i)?;
        n += h.len();
        z += h.iter().filter(|v| **v == 0.0).count();
    }
    Ok(z as f64 / n.max(1) as f64)
}

impl<B: Backend> Subject<'_, B> {
    fn figures(&self, int8: Option<&Int8Weights>, bytes: usize) -> Result<Figures, Error> {
        figures(self.net, self.data, self.graph, int8, bytes, self.limit)
    }

    /// Trains on with `hold` applied after every update: masks keep pruned
    /// weights zero, codebooks keep layers to their shared values.
    fn finetune(
        &mut self,
        hold: &mut dyn FnMut(&mut Params<B>) -> crate::backend::Result<()>,
        epochs: usize,
        log: &mut Vec<String>,
    ) -> Result<(), Error> {
        let g = self.graph;
        let train = &g.experiment.train;
        let plan = self
            .data
            .plan(Which::Train, train.batch, train.seed, self.limit)
            .expect("a train split");
        let lr = learning_rate(train, train.epochs as f64);
        for e in 0..epochs {
            let (mut loss, mut n) = (0f64, 0usize);
            for (s, batch) in plan.epoch(train.epochs + e).enumerate() {
                let n_step = (e * plan.batches_per_epoch() + s) as u64;
                let seed = seeds::step(train.seed, seeds::FINETUNE_STEP, n_step);
                let objective = Objective::Loss(g.loss);
                let stats =
                    train_step(self.net, self.opt, &batch, objective, seed, lr).map_err(|err| {
                        match err {
                            StepError::Diverged(what) => Error::Diverged(format!(
                                "fine-tuning after pruning diverged at epoch {}, step {}: {what}",
                                e + 1,
                                s + 1
                            )),
                            StepError::Device(d) => Error::Device(d),
                        }
                    })?;
                hold(&mut self.net.params)?;
                loss += stats.loss as f64 * batch.size as f64;
                n += batch.size;
            }
            log.push(format!(
                "fine-tune epoch {} of {epochs}: train.loss {:.4}",
                e + 1,
                loss / n.max(1) as f64
            ));
        }
        Ok(())
    }

    /// Writes the model as `file` in the run folder, then reads it back
    /// into the network, so that the figures are those of the file's
    /// model: its figures, bytes, and the layouts its weights took.
    fn save_and_reload(
        &mut self,
        file: &str,
        how: &Stores<'_>,
    ) -> Result<(Figures, usize, Vec<String>), Error> {
        let (bytes, layouts) = serialize(self.net, how)?;
        let path = self.dir.join(file);
        write_atomically(&path, &bytes).map_err(Error::io("cannot write the compressed model"))?;
        let read =
            std::fs::read(&path).map_err(Error::io("cannot read the compressed model back"))?;
        let refused = |e: String| Error::Refused(format!("{}: {e}", path.display()));
        let (model, _) = crate::compress::model_file::parse(&read).map_err(refused)?;
        self.net
            .params
            .load(&model, crate::params::Fit::Every)
            .map_err(|e| refused(e.to_string()))?;
        Ok((self.figures(None, read.len())?, read.len(), layouts))
    }

    /// The covered weights as int8, written beside the run; their figures
    /// and the file's bytes.
    fn quantize(&self, covered: &[usize]) -> Result<(Figures, usize), Error> {
        let int8 = crate::compress::int8_weights(&self.net.params, covered)?;
        let (bytes, _) = serialize(self.net, &Stores::Int8(&int8))?;
        write_atomically(&self.dir.join("model.int8.safetensors"), &bytes)
            .map_err(Error::io("cannot write the compressed model"))?;
        Ok((self.figures(Some(&int8), bytes.len())?, bytes.len()))
    }
}
