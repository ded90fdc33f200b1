//! Every data format, written by the tests, loads; every kind of corruption
//! is a clear error naming the file and the position.

use std::io::Write;
use std::path::{Path, PathBuf};

use dlwb_dsl::experiment::{DataSpec, Experiment};
use dlwb_engine::data::{self, DataError, Inputs, Targets, Which};

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dlwb-data-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn spec(src: &str) -> DataSpec {
    let exp: Experiment = dlwb_dsl::parse(&format!("{src}\nmodel {{ flatten }}"))
        .unwrap_or_else(|d| panic!("{d:#?}"));
    exp.data
}

fn idx_images(n: u32, rows: u32, cols: u32, pixel: impl Fn(usize) -> u8) -> Vec<u8> {
    let mut b = Vec::new();
    for w in [2051, n, rows, cols] {
        b.extend_from_slice(&w.to_be_bytes());
    }
    b.extend((0..(n * rows * cols) as usize).map(pixel));
    b
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&2049u32.to_be_bytes());
    b.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    b.extend_from_slice(labels);
    b
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A small MNIST-format folder: 20 training and 5 test images of 4x4.
fn write_mnist(dir: &Path, gzip: bool) {
    let train_labels: Vec<u8> = (0..20).map(|i| (i % 10) as u8).collect();
    let files = [
        (
            "train-images-idx3-ubyte",
            idx_images(20, 4, 4, |i| (i % 251) as u8),
        ),
        ("train-labels-idx1-ubyte", idx_labels(&train_labels)),
        (
            "t10k-images-idx3-ubyte",
            idx_images(5, 4, 4, |i| (i * 3 % 256) as u8),
        ),
        ("t10k-labels-idx1-ubyte", idx_labels(&[1, 2, 3, 4, 5])),
    ];
    for (name, bytes) in files {
        if gzip {
            std::fs::write(dir.join(format!("{name}.gz")), gz(&bytes)).unwrap();
        } else {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

fn load_err(dir: &Path, src: &str) -> String {
    match data::load(&spec(src), dir, 1) {
        Ok(_) => panic!("{src} loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn mnist_loads_gzipped_or_not_with_its_test_split() {
    for gzip in [true, false] {
        let dir = tempdir(&format!("mnist{gzip}"));
        write_mnist(&dir, gzip);
        let d = data::load(&spec("data mnist { path \".\"; validation 5 }"), &dir, 1).unwrap();
        assert_eq!(
            (
                d.train.len(),
                d.val.as_ref().unwrap().len(),
                d.test.as_ref().unwrap().len()
            ),
            (15, 5, 5)
        );
        let plan = d.plan(Which::Test, 2, 0, None).unwrap();
        let batches: Vec<_> = plan.epoch(0).collect();
        assert_eq!(batches.len(), 3, "5 test images in batches of 2");
        let Inputs::Floats(x) = &batches[0].inputs else {
            panic!()
        };
        // Test image 0, pixel 1 is 3/255; nothing normalizes it.
        assert_eq!(x[1], 3.0 / 255.0);
        assert_eq!(batches[0].targets, Targets::Classes(vec![1, 2]));
    }
}

#[test]
fn the_shipped_mnist_matches_its_published_shape() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let d = data::load(
        &spec("data mnist { path \"data/mnist\"; validation 10% }"),
        &dir,
        7,
    )
    .unwrap();
    assert_eq!(
        (d.train.len(), d.val.unwrap().len(), d.test.unwrap().len()),
        (54_000, 6_000, 10_000)
    );
}

#[test]
fn idx_corruptions_are_reported_with_the_file() {
    let dir = tempdir("idxbad");
    write_mnist(&dir, false);
    let images = dir.join("train-images-idx3-ubyte");
    let good = std::fs::read(&images).unwrap();

    std::fs::write(&images, &good[..good.len() - 7]).unwrap();
    let e = load_err(&dir, "data mnist { path \".\" }");
    assert!(e.contains("train-images-idx3-ubyte: truncated: the header promises 20 items (320 bytes of data) but the file holds 313 bytes"), "{e}");

    let mut wrong = good.clone();
    wrong[3] = 0x01;
    std::fs::write(&images, &wrong).unwrap();
    let e = load_err(&dir, "data mnist { path \".\" }");
    assert!(e.contains("wrong magic number 2049 (expected 2051)"), "{e}");

    std::fs::write(&images, idx_images(19, 4, 4, |_| 0)).unwrap();
    let e = load_err(&dir, "data mnist { path \".\" }");
    assert!(
        e.contains("train-labels-idx1-ubyte: 20 labels for 19 images"),
        "{e}"
    );

    std::fs::write(&images, &good).unwrap();
    let mut labels: Vec<u8> = (0..20).map(|i| (i % 10) as u8).collect();
    labels[13] = 12;
    std::fs::write(dir.join("train-labels-idx1-ubyte"), idx_labels(&labels)).unwrap();
    let e = load_err(&dir, "data mnist { path \".\" }");
    assert!(
        e.contains("label 12 of item 13 is outside the 10 classes"),
        "{e}"
    );

    write_mnist(&dir, false);
    std::fs::remove_file(dir.join("t10k-images-idx3-ubyte")).unwrap();
    let e = load_err(&dir, "data mnist { path \".\" }");
    assert!(e.contains("t10k-images-idx3-ubyte not found"), "{e}");

    let gz_dir = tempdir("gzbad");
    write_mnist(&gz_dir, true);
    let f = gz_dir.join("train-labels-idx1-ubyte.gz");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_err(&gz_dir, "data mnist { path \".\" }");
    assert!(
        e.contains("train-labels-idx1-ubyte.gz: corrupt gzip data"),
        "{e}"
    );
}

fn cifar_file(records: usize, label: impl Fn(usize) -> u8) -> Vec<u8> {
    let mut b = Vec::new();
    for r in 0..records {
        b.push(label(r));
        // Channel-major: red plane 10, green 20, blue 30, plus the record number.
        for c in 0..3u8 {
            b.extend(std::iter::repeat_n(10 * (c + 1) + r as u8, 1024));
        }
    }
    b
}

#[test]
fn cifar10_binary_batches_load_channel_major() {
    let dir = tempdir("cifar");
    for name in dlwb_engine::data::cifar::TRAIN_FILES {
        std::fs::write(dir.join(name), cifar_file(4, |r| r as u8)).unwrap();
    }
    std::fs::write(dir.join("test_batch.bin"), cifar_file(3, |_| 9)).unwrap();
    let d = data::load(
        &spec("data cifar10 { path \".\"; normalize mean=[0.1, 0.2, 0.3] std=[0.5, 0.5, 0.5] }"),
        &dir,
        1,
    )
    .unwrap();
    assert_eq!((d.train.len(), d.test.as_ref().unwrap().len()), (20, 3));
    let b = d
        .plan(Which::Test, 3, 0, None)
        .unwrap()
        .epoch(0)
        .next()
        .unwrap();
    let Inputs::Floats(x) = &b.inputs else {
        panic!()
    };
    assert_eq!(x.len(), 3 * 3072);
    // Record 0: red 10, green 20, blue 30, each normalized by its channel.
    let expect = |v: f32, m: f32| (v / 255.0 - m) / 0.5;
    assert!((x[0] - expect(10.0, 0.1)).abs() < 1e-6);
    assert!((x[1024] - expect(20.0, 0.2)).abs() < 1e-6);
    assert!((x[2048] - expect(30.0, 0.3)).abs() < 1e-6);
    assert_eq!(b.targets, Targets::Classes(vec![9, 9, 9]));

    let mut cut = cifar_file(2, |_| 0);
    cut.truncate(3073 + 100);
    std::fs::write(dir.join("data_batch_3.bin"), cut).unwrap();
    let e = load_err(&dir, "data cifar10 { path \".\" }");
    assert!(e.contains("data_batch_3.bin: truncated: 3173 bytes is not a whole number of 3073-byte records (record 2 is cut short)"), "{e}");

    std::fs::write(
        dir.join("data_batch_3.bin"),
        cifar_file(2, |r| 10 + r as u8),
    )
    .unwrap();
    let e = load_err(&dir, "data cifar10 { path \".\" }");
    assert!(
        e.contains("label 10 of record 0 is outside the 10 classes"),
        "{e}"
    );

    let e = load_err(&dir, "data cifar10 { path \"nowhere\" }");
    assert!(e.contains("nowhere not found"), "{e}");
    let err = data::load(&spec("data cifar10 { path \"nowhere\" }"), &dir, 1).unwrap_err();
    assert!(err
        .hint()
        .contains("https://www.cs.toronto.edu/~kriz/cifar.html"));
}

#[test]
fn csv_with_string_labels_and_every_bad_cell() {
    let dir = tempdir("csv");
    let f = dir.join("iris.csv");
    std::fs::write(
        &f,
        "a,b,species\n1,2,setosa\n3,4,virginica\n5,6,setosa\n7,8,versicolor\n",
    )
    .unwrap();
    let src = "data csv { path \"iris.csv\"; features [\"a\", \"b\"]; label \"species\"; test 1 }";
    let d = data::load(&spec(src), &dir, 3).unwrap();
    assert_eq!(
        d.class_names.as_deref().unwrap(),
        ["setosa", "versicolor", "virginica"]
    );
    assert_eq!(d.learned.classes, Some(3));
    assert_eq!((d.train.len(), d.test.as_ref().unwrap().len()), (3, 1));
    let learned = data::learn(&spec(src), &dir).unwrap();
    assert_eq!(learned.classes, Some(3));

    let cases = [
        (
            "a,b,species\n1,2,x\n3,oops,y\n",
            "row 3, column \"b\": \"oops\" is not a number",
        ),
        (
            "a,b,species\n1,2,x\n3,4\n",
            "row 3: 2 fields, but the header has 3",
        ),
        (
            "a,c,species\n1,2,x\n",
            "no column named \"b\"; the header has: a, c, species",
        ),
        ("a,b,species\n", "no data rows after the header"),
        (
            "a,b,species\n1,2,x\n1,inf,y\n",
            "row 3, column \"b\": inf is not a finite number",
        ),
    ];
    for (text, want) in cases {
        std::fs::write(&f, text).unwrap();
        let e = load_err(
            &dir,
            "data csv { path \"iris.csv\"; features [\"a\", \"b\"]; label \"species\" }",
        );
        assert!(e.contains(want), "{text:?}: {e}");
        assert!(e.contains("iris.csv"), "{e}");
    }
    std::fs::write(&f, "a,b,y\n1,2,0\n3,4,5\n").unwrap();
    let e = load_err(
        &dir,
        "data csv { path \"iris.csv\"; features [a, b]; label y; classes 3 }",
    );
    assert!(
        e.contains("row 3, column \"y\": label 5 is outside the 3 classes"),
        "{e}"
    );
}

#[test]
fn text_windows_predict_the_next_character_and_hold_out_the_end() {
    let dir = tempdir("text");
    let corpus: String = "abcdefghij".repeat(10); // 100 characters
    std::fs::write(dir.join("c.txt"), &corpus).unwrap();
    let d = data::load(
        &spec("data text { path \"c.txt\"; window 9; validation 10% }"),
        &dir,
        1,
    )
    .unwrap();
    // (100 - 1) / 9 = 11 windows; 10% of 11 rounds to 1 held out at the end.
    assert_eq!((d.train.len(), d.val.as_ref().unwrap().len()), (10, 1));
    assert_eq!(d.val.as_ref().unwrap().indices, vec![10]);
    assert_eq!(d.vocab.as_ref().unwrap().len(), 10);
    let b = d
        .plan(Which::Val, 4, 0, None)
        .unwrap()
        .epoch(0)
        .next()
        .unwrap();
    let (Inputs::Tokens(x), Targets::Tokens(y)) = (&b.inputs, &b.targets) else {
        panic!()
    };
    // Window 10 starts at character 90: "abcdefghi", targets "bcdefghij".
    assert_eq!(x, &(0..9).collect::<Vec<u32>>());
    assert_eq!(y, &(1..10).collect::<Vec<u32>>());

    std::fs::write(dir.join("empty.txt"), "").unwrap();
    let e = load_err(&dir, "data text { path \"empty.txt\" }");
    assert!(e.contains("empty.txt: the corpus is empty"), "{e}");
    std::fs::write(dir.join("short.txt"), "hello").unwrap();
    let e = load_err(&dir, "data text { path \"short.txt\"; window 8 }");
    assert!(
        e.contains("short.txt: the corpus has 5 characters, fewer than one window of 8"),
        "{e}"
    );
    std::fs::write(dir.join("bin.txt"), [b'a', 0xff, b'b']).unwrap();
    let e = load_err(&dir, "data text { path \"bin.txt\" }");
    assert!(
        e.contains("bin.txt: not UTF-8 text (invalid byte at offset 1)"),
        "{e}"
    );
}

#[test]
fn splits_and_shuffles_are_reproducible_from_the_seed() {
    let src = "data synthetic spirals { classes 3; samples 300; validation 20%; test 10% }";
    let dir = tempdir("seed");
    let a = data::load(&spec(src), &dir, 5).unwrap();
    let b = data::load(&spec(src), &dir, 5).unwrap();
    let c = data::load(&spec(src), &dir, 6).unwrap();
    assert_eq!(
        a.val.as_ref().unwrap().indices,
        b.val.as_ref().unwrap().indices
    );
    assert_ne!(
        a.val.as_ref().unwrap().indices,
        c.val.as_ref().unwrap().indices
    );
    assert_eq!(
        (
            a.train.len(),
            a.val.as_ref().unwrap().len(),
            a.test.as_ref().unwrap().len()
        ),
        (210, 60, 30)
    );
    // No sample in two splits.
    let mut all: Vec<usize> = [&a.train, a.val.as_ref().unwrap(), a.test.as_ref().unwrap()]
        .iter()
        .flat_map(|s| s.indices.clone())
        .collect();
    all.sort();
    assert_eq!(all, (0..300).collect::<Vec<_>>());
    let pa = a.plan(Which::Train, 32, 9, None).unwrap();
    let pb = b.plan(Which::Train, 32, 9, None).unwrap();
    assert_eq!(
        pa.epoch(0).collect::<Vec<_>>(),
        pb.epoch(0).collect::<Vec<_>>()
    );
    assert_ne!(
        pa.epoch(0).next(),
        pa.epoch(1).next(),
        "each epoch reshuffles"
    );
}

#[test]
fn prefetched_batches_equal_batches_made_in_place() {
    let d = data::load(
        &spec(
            "data synthetic { shape [3, 8, 8]; classes 4; samples 100; augment flip horizontal }",
        ),
        Path::new("."),
        2,
    )
    .unwrap();
    let plan = std::sync::Arc::new(d.plan(Which::Train, 16, 4, Some(5)).unwrap());
    let direct: Vec<_> = plan.epoch(3).collect();
    let fetched: Vec<_> = plan.prefetch(3, 0).collect();
    assert_eq!(direct.len(), 5, "limited to 5 batches");
    assert_eq!(direct, fetched);
    // Dropping a prefetcher part-way does not hang.
    let mut p = plan.prefetch(0, 0);
    p.next();
    drop(p);
}

#[test]
fn normalize_auto_gives_zero_mean_unit_variance_on_the_training_split() {
    let d = data::load(
        &spec("data synthetic blobs { samples 500; normalize auto }"),
        Path::new("."),
        1,
    )
    .unwrap();
    let plan = d.plan(Which::Train, 500, 0, None).unwrap();
    let b = plan.epoch(0).next().unwrap();
    let Inputs::Floats(x) = b.inputs else {
        panic!()
    };
    for f in 0..2 {
        let v: Vec<f64> = x.iter().skip(f).step_by(2).map(|v| *v as f64).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(
            mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3,
            "feature {f}: {mean} {var}"
        );
    }
}

#[test]
fn bad_splits_and_shapes_are_refused() {
    let dir = Path::new(".");
    let e = load_err(dir, "data synthetic spirals { samples 10; validation 10 }");
    assert!(
        e.contains("a validation split of 10 samples does not fit the 10 samples"),
        "{e}"
    );
    let e = load_err(
        dir,
        "data synthetic { shape [3, 8, 8]; classes 2; augment random_crop 6 pad=1 }",
    );
    assert_eq!(
        e,
        "random_crop 6 must match the image size 8x8 (crops keep the shape)"
    );
    let e = load_err(
        dir,
        "data synthetic { shape [3, 8, 8]; classes 2; normalize mean=[1, 2] std=1 }",
    );
    assert_eq!(e, "normalize gives 2 mean values for data with 3 channels");
    assert!(matches!(
        data::load(
            &spec("data synthetic spirals { samples 10; validation 10 }"),
            dir,
            1
        ),
        Err(DataError::Spec(_))
    ));
}

#[test]
fn batches_from_the_middle_of_an_epoch_equal_the_whole_epochs() {
    let d = data::load(
        &spec(
            "data synthetic { shape [3, 8, 8]; classes 4; samples 100; augment random_crop 8 pad=2, flip horizontal }",
        ),
        Path::new("."),
        2,
    )
    .unwrap();
    let plan = std::sync::Arc::new(d.plan(Which::Train, 16, 4, None).unwrap());
    let whole: Vec<_> = plan.epoch(2).collect();
    let tail: Vec<_> = plan.prefetch(2, 3).collect();
    assert_eq!(tail, whole[3..], "a resumed epoch sees the same batches");
}

#[test]
fn a_panic_in_the_loader_reaches_the_consumer_instead_of_ending_the_epoch() {
    let d = data::load(
        &spec("data synthetic { shape [4]; classes 2; samples 64 }"),
        Path::new("."),
        1,
    )
    .unwrap();
    let mut plan = d.plan(Which::Train, 8, 1, None).unwrap();
    // An index past the samples: the loader thread panics on its batch.
    plan.split.indices[20] = 10_000;
    let plan = std::sync::Arc::new(plan);
    let count =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| plan.prefetch(0, 0).count()));
    assert!(
        count.is_err(),
        "the epoch ended early as if complete: {count:?}"
    );
}
