//! MNIST batches per second from the loader (they should dwarf training
//! speed), made in place and through the prefetching thread; and CIFAR-sized
//! batches with crop and flip.

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dlwb_engine::data::{self, Which};

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let src =
        "data mnist { path \"data/mnist\"; normalize mean=0.1307 std=0.3081 }\nmodel { flatten }";
    let spec = dlwb_dsl::parse(src).unwrap().data;
    let d = data::load(&spec, &dir, 7).unwrap();
    let plan = Arc::new(d.plan(Which::Train, 64, 7, Some(200)).unwrap());
    let mut g = c.benchmark_group("loader");
    g.throughput(Throughput::Elements(200));
    g.bench_function("mnist_batch64_in_place_x200", |b| {
        b.iter(|| plan.epoch(0).count())
    });
    g.bench_function("mnist_batch64_prefetch_x200", |b| {
        b.iter(|| plan.prefetch(0, 0).count())
    });

    let src = "data synthetic { shape [3, 32, 32]; classes 10; samples 12800; augment random_crop 32 pad=4, flip horizontal }\nmodel { flatten }";
    let spec = dlwb_dsl::parse(src).unwrap().data;
    let d = data::load(&spec, &dir, 7).unwrap();
    let plan = Arc::new(d.plan(Which::Train, 128, 7, Some(100)).unwrap());
    g.throughput(Throughput::Elements(100));
    g.bench_function("cifar_shaped_batch128_crop_flip_x100", |b| {
        b.iter(|| plan.epoch(0).count())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
