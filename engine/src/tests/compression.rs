//! Pruning, int8 quantization and distillation do what they claim.

use std::path::{Path, PathBuf};

use crate::bench::synthetic_batch;
use crate::compress::prune;
use crate::network::{compile, Pass, Precision};
use crate::run::{self, Event, RunConfig};
use dlwb_dsl::experiment::PruneScope;
use dlwb_dsl::{CheckOptions, Learned};

fn graph(src: &str) -> dlwb_dsl::Graph {
    dlwb_dsl::parse_and_check(src, Learned::default(), &CheckOptions::default())
        .unwrap_or_else(|d| panic!("{d:#?}"))
}

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dlwb-compress-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn zeros(v: &[f32]) -> usize {
    v.iter().filter(|x| **x == 0.0).count()
}

#[test]
fn pruning_zeroes_exactly_the_fraction_of_each_covered_tensor() {
    let g = graph("data synthetic { shape [3, 8, 8]; classes 4 }\nmodel { conv 5 kernel=3 relu; flatten; dense 17 relu; dense classes }");
    let mut net = compile(&g, 1);
    let covered = prune::covered(&g, &net.params);
    let names: Vec<&str> = covered
        .iter()
        .map(|&i| net.params.list[i].name.as_str())
        .collect();
    assert_eq!(names, ["conv1.weight", "dense1.weight", "dense2.weight"]);
    let masks = prune::magnitude(&mut net.params, &covered, 0.3, PruneScope::Layer).unwrap();
    for &i in &covered {
        let w = net.params.list[i].host();
        assert_eq!(
            zeros(&w),
            (0.3 * w.len() as f64).round() as usize,
            "{}",
            net.params.list[i].name
        );
    }
    // Biases are not covered.
    assert_eq!(zeros(&net.params.get("dense1.bias").unwrap().host()), 0);
    assert!((masks.sparsity() - 0.3).abs() < 0.01);

    let mut net = compile(&g, 1);
    let masks = prune::magnitude(&mut net.params, &covered, 0.5, PruneScope::Global).unwrap();
    let (total, zero) = covered.iter().fold((0, 0), |(t, z), &i| {
        let w = net.params.list[i].host();
        (t + w.len(), z + zeros(&w))
    });
    assert_eq!(zero, (0.5 * total as f64).round() as usize);
    assert_eq!(masks.sparsity(), zero as f64 / total as f64);
}

#[test]
fn the_int8_network_stays_close_to_the_float_one() {
    let g = graph("data synthetic { shape [2, 10, 10]; classes 5 }\nmodel { conv 4 kernel=3 relu; pool max 2; flatten; dense 32 relu; dense classes }");
    let net = compile(&g, 2);
    let b = synthetic_batch(&g, 16, 3);
    let int8 =
        crate::compress::int8_weights(&net.params, &prune::covered(&g, &net.params)).unwrap();
    let float = net.outputs(&b.inputs, 16, Pass::Eval).unwrap();
    let weights = net.weights();
    let quant = net
        .forward_in(&weights, &b.inputs, 16, Pass::Eval, Precision::Int8(&int8))
        .and_then(|y| net.download(&y))
        .unwrap();
    let scale = float.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = float
        .iter()
        .zip(&quant)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst <= 0.02 * scale, "worst {worst}, scale {scale}");
    assert_ne!(float, quant, "the int8 path really ran");
}

#[test]
fn the_sparse_path_gives_the_dense_outputs_of_a_pruned_network() {
    let g = graph("data synthetic { shape [40]; classes 5 }\nmodel { dense 64 relu; dense 32 relu; dense classes }");
    let mut net = compile(&g, 2);
    let covered = prune::covered(&g, &net.params);
    prune::magnitude(&mut net.params, &covered, 0.9, PruneScope::Layer).unwrap();
    let sparse: crate::compress::SparseWeights = covered
        .iter()
        .map(|&i| {
            let p = &net.params.list[i];
            (
                i,
                crate::kernels::sparse::Csr::new(&p.host(), p.shape[0], p.shape[1]),
            )
        })
        .collect();
    let b = synthetic_batch(&g, 16, 3);
    let dense = net.outputs(&b.inputs, 16, Pass::Eval).unwrap();
    let weights = net.weights();
    let got = net
        .forward_in(
            &weights,
            &b.inputs,
            16,
            Pass::Eval,
            Precision::Sparse(&sparse),
        )
        .and_then(|y| net.download(&y))
        .unwrap();
    for (a, e) in got.iter().zip(&dense) {
        assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "{a} vs {e}");
    }
    // The sparse weights are the ones used: emptied, the outputs change.
    let empty: crate::compress::SparseWeights = sparse
        .iter()
        .map(|(i, c)| {
            (
                *i,
                crate::kernels::sparse::Csr::new(&vec![0.0; c.rows * c.cols], c.rows, c.cols),
            )
        })
        .collect();
    let zeroed = net
        .forward_in(
            &weights,
            &b.inputs,
            16,
            Pass::Eval,
            Precision::Sparse(&empty),
        )
        .and_then(|y| net.download(&y))
        .unwrap();
    assert_ne!(zeroed, dense);
}

fn run(src: &str, file: &Path, runs: &Path) -> Vec<Event> {
    let g = crate::check_file(src, file.parent().unwrap(), &CheckOptions::default())
        .unwrap_or_else(|d| panic!("{d:#?}"));
    let mut cfg = RunConfig::new(file.to_path_buf(), src.to_string(), g);
    cfg.runs_dir = runs.to_path_buf();
    cfg.threads = Some(1);
    let (h, rx) = run::start(cfg);
    let ev: Vec<Event> = rx.iter().collect();
    h.join();
    ev
}

fn finished(ev: &[Event]) -> (run::Metrics, PathBuf) {
    match ev.last() {
        Some(Event::Finished {
            metrics, run_dir, ..
        }) => (metrics.clone(), run_dir.clone()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_run_prunes_fine_tunes_with_masks_quantizes_and_reports() {
    let dir = tempdir("run");
    let src = "experiment c
data synthetic blobs { classes 4; samples 800; shape [16]; validation 20%; test 20% }
model { dense 128 relu; dense 64 relu; dense classes }
train { optimizer adam lr=0.01; epochs 4; batch 32 }
compress { prune magnitude 60% scope=global; finetune epochs=2; quantize int8 }
expect { compress.sparsity >= 0.6; compress.size_ratio <= 0.32; compress.accuracy_drop <= 0.05 }
";
    let ev = run(src, &dir.join("c.net"), &dir);
    let reports = ev
        .iter()
        .find_map(|e| {
            if let Event::Compression { reports } = e {
                Some(reports.clone())
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(reports.len(), 2);
    assert!(reports[0]
        .step
        .starts_with("prune magnitude 60% (global), fine-tune 2 epochs"));
    assert_eq!(reports[0].before.nonzero, reports[0].before.params);
    // Stored sparse, the int8 model is under a third of the float one and
    // smaller than the sparse float one.
    assert!(reports[1].after.bytes < reports[0].before.bytes / 3);
    assert!(reports[1].after.bytes < reports[1].before.bytes);
    let (metrics, run_dir) = finished(&ev);
    assert!((metrics["compress.sparsity"] - 0.6).abs() < 0.01);
    assert!(metrics["compress.size_ratio"] <= 0.32, "{metrics:?}");
    assert!(metrics.contains_key("compress.accuracy_drop"));
    // The pruned weights stayed zero through fine-tuning.
    let file = std::fs::read(run_dir.join("model.pruned.safetensors")).unwrap();
    let (pruned, stored) = crate::compress::model_file::parse(&file).unwrap();
    assert_eq!(stored, 3, "every pruned layer stored sparse");
    assert_eq!(reports[0].after.bytes, file.len());
    assert!(
        file.len() < reports[0].before.bytes * 6 / 10,
        "{}",
        file.len()
    );
    let (t, z) = ["dense1.weight", "dense2.weight", "dense3.weight"]
        .iter()
        .fold((0, 0), |(t, z), n| {
            let w = crate::params::Tensors::tensor(&pruned, n).unwrap().1;
            (t + w.len(), z + zeros(w))
        });
    assert_eq!(z, (0.6 * t as f64).round() as usize);
    // The int8 file holds int8 values (sparse: one per non-zero) with
    // their scales, and float biases.
    let bytes = std::fs::read(run_dir.join("model.int8.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(
        st.tensor("dense1.weight.q").unwrap().dtype(),
        safetensors::Dtype::I8
    );
    assert_eq!(st.tensor("dense1.weight.scale").unwrap().shape(), &[128]);
    assert_eq!(
        st.tensor("dense1.bias").unwrap().dtype(),
        safetensors::Dtype::F32
    );
    let (model, stored) = crate::compress::model_file::parse(&bytes).unwrap();
    assert_eq!((stored, model.int8_count()), (3, 3));
    let yaml = std::fs::read_to_string(run_dir.join("run.yaml")).unwrap();
    assert!(
        yaml.contains("compression:") && yaml.contains("quantize int8"),
        "{yaml}"
    );
}

#[test]
fn distillation_helps_a_student_with_few_labels() {
    // Ten overlapping clusters: the teacher learnt their overlap from 5,000
    // samples; the student sees 200 labels, where hard labels say nothing
    // of how the classes overlap and the teacher's softened outputs do.
    // (Both use seed 2: the seed places the clusters.)
    let dir = tempdir("distill");
    let data = |samples: usize, val: &str| {
        format!("data synthetic blobs {{ classes 10; shape [8]; noise 2.5; samples {samples}; validation {val} }}")
    };
    let teacher = format!(
        "experiment teacher\n{}\nmodel {{ dense 128 relu; dense 128 relu; dense classes }}\ntrain {{ optimizer adam lr=3e-3; epochs 20; batch 64; seed 2 }}\n",
        data(5000, "20%")
    );
    std::fs::write(dir.join("teacher.net"), &teacher).unwrap();
    let (tm, tdir) = finished(&run(&teacher, &dir.join("teacher.net"), &dir));
    let ck = tdir.join("checkpoint.safetensors");
    let student = |distill: bool, t: f64, a: f64| {
        let extra = if distill {
            format!("compress {{ distill teacher=\"teacher.net\" checkpoint=\"{}\" temperature={t} alpha={a} }}\n", ck.display())
        } else {
            String::new()
        };
        let src = format!(
            "experiment student\n{}\nmodel {{ dense 32 relu; dense classes }}\ntrain {{ optimizer adam lr=3e-3; epochs 60; batch 16; seed 2 }}\n{extra}",
            data(2000, "90%")
        );
        finished(&run(&src, &dir.join("student.net"), &dir)).0["val.accuracy"]
    };
    let (alone, taught) = (student(false, 0.0, 0.0), student(true, 2.0, 0.7));
    // Measured: teacher 0.761, student alone 0.712, distilled 0.757.
    assert!(tm["val.accuracy"] > 0.74, "the teacher learned: {tm:?}");
    assert!(taught > alone + 0.02, "distilled {taught} vs alone {alone}");
}

#[test]
fn quantizing_a_kind_without_an_int8_kernel_says_it_stays_float() {
    let dir = tempdir("float-fallback");
    let src = "experiment f
data synthetic sine { samples 200; validation 20% }
model { lstm 8; dense 1 }
train { loss mse; optimizer adam lr=0.01; batch 20; epochs 1 }
compress { quantize int8 }
";
    let ev = run(src, &dir.join("f.net"), &dir);
    let step = ev
        .iter()
        .find_map(|e| match e {
            Event::Compression { reports } => Some(reports[0].step.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        step,
        "quantize int8 (per output channel; no int8 kernel, kept float: lstm1.weight_ih, lstm1.weight_hh)"
    );
    let (_, run_dir) = finished(&ev);
    let bytes = std::fs::read(run_dir.join("model.int8.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let dtype = |n: &str| st.tensor(n).unwrap().dtype();
    assert_eq!(dtype("lstm1.weight_ih"), safetensors::Dtype::F32);
    assert_eq!(dtype("dense1.weight"), safetensors::Dtype::I8);
}

#[test]
fn clustering_leaves_k_values_per_layer_and_the_file_gives_the_reported_model() {
    let dir = tempdir("cluster");
    let src = "experiment cl
data synthetic blobs { classes 4; samples 800; shape [16]; validation 20%; test 20% }
model { dense 64 relu; dense 32 relu; dense classes }
train { optimizer adam lr=0.01; epochs 3; batch 32 }
compress { prune magnitude 60%; finetune epochs=1; cluster 8 finetune=2 }
";
    let file = dir.join("cl.net");
    let ev = run(src, &file, &dir);
    let reports = ev
        .iter()
        .find_map(|e| match e {
            Event::Compression { reports } => Some(reports.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{:?}", ev.last()));
    let step = &reports[1];
    assert_eq!(
        step.step,
        "cluster 8 values per layer, fine-tune 2 epochs; stored shared-sparse"
    );
    let (_, run_dir) = finished(&ev);
    let path = run_dir.join("model.clustered.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(step.after.bytes, bytes.len());
    let (model, clustered) = crate::compress::model_file::parse(&bytes).unwrap();
    assert_eq!(clustered, 3);
    // Exactly 8 distinct values in each layer after fine-tuning, and the
    // pruned weights still zero.
    for name in ["dense1.weight", "dense2.weight", "dense3.weight"] {
        let w = crate::params::Tensors::tensor(&model, name).unwrap().1;
        let mut distinct: Vec<f32> = w.iter().copied().filter(|v| *v != 0.0).collect();
        distinct.sort_by(f32::total_cmp);
        distinct.dedup();
        assert_eq!(distinct.len(), 8, "{name}");
        assert_eq!(zeros(w), (0.6 * w.len() as f64).round() as usize, "{name}");
    }
    // The model read back from the file scores what the report says.
    let g = crate::check_file(src, &dir, &CheckOptions::default()).unwrap();
    let (net, _) = crate::trained::trained(&g, &path).unwrap();
    let data = crate::data::load(&g.experiment.data, &dir, g.experiment.train.seed).unwrap();
    let t = crate::run::tally::evaluate(
        &net,
        &data,
        crate::data::Which::Test,
        &g,
        None,
        Precision::Float,
    )
    .unwrap();
    assert_eq!(Some(t.correct as f64 / t.count as f64), step.after.accuracy);
}
