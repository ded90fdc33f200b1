//! The kernels at the shapes of the three `benches/*.net` workloads: the
//! products of the MLP and the LSTM (each operand layout they use), and
//! LeNet's convolutions, forward and backward, per multiply-add
//! (the unfolded path runs where the CPU lacks AVX-512).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dlwb_engine::kernels::conv::{
    conv_backward, conv_forward, conv_forward_int8, conv_pool_forward_int8, Geometry, Rectify,
};
use dlwb_engine::kernels::matmul::{mat, mat_t, matmul, set_threads, Out, Prepared};

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn noise(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 % 1013) as f32 - 506.0) / 300.0)
        .collect()
}

fn products(c: &mut Criterion) {
    let mut g = c.benchmark_group("matmul");
    // (name, m, k, n, a transposed, b transposed)
    for (name, m, k, n, ta, tb) in [
        ("mlp_forward_64x784_by_784x128t", 64, 784, 128, false, true),
        (
            "mlp_weight_grad_128x64t_by_64x784",
            128,
            64,
            784,
            true,
            false,
        ),
        ("lstm_step_16x128_by_128x512t", 16, 128, 512, false, true),
        ("lstm_input_512x64_by_64x512t", 512, 64, 512, false, true),
    ] {
        let (a, b) = (noise(m * k), noise(k * n));
        let mut out = vec![0.0; m * n];
        let am = if ta { mat_t(&a) } else { mat(&a) };
        let bm = if tb { mat_t(&b) } else { mat(&b) };
        g.throughput(Throughput::Elements((m * k * n) as u64));
        g.bench_function(format!("{name}_packing_only"), |bench| {
            bench.iter(|| Prepared::new(bm, k, n))
        });
        let prepared = Prepared::new(bm, k, n);
        // On one thread and on every core: what the second thread adds.
        for threads in [1, cores()] {
            set_threads(threads);
            g.bench_function(format!("{name}_{threads}t"), |bench| {
                bench.iter(|| matmul(&mut out, am, bm, m, k, n, Out::Overwrite))
            });
            g.bench_function(format!("{name}_prepacked_{threads}t"), |bench| {
                bench.iter(|| prepared.product(&mut out, am, m, Out::Overwrite))
            });
        }
        set_threads(0);
    }
    g.finish();
}

fn convolutions(c: &mut Criterion) {
    let mut g = c.benchmark_group("conv");
    let batch = 128;
    for (name, geom, filters) in [
        (
            "lenet_conv1_3x32x32_k5_n6",
            Geometry {
                channels: 3,
                height: 32,
                width: 32,
                kernel: 5,
                stride: 1,
                pad: 0,
            },
            6,
        ),
        (
            "lenet_conv2_6x14x14_k5_n16",
            Geometry {
                channels: 6,
                height: 14,
                width: 14,
                kernel: 5,
                stride: 1,
                pad: 0,
            },
            16,
        ),
    ] {
        let (ho, wo) = geom.out_hw();
        let x = noise(batch * geom.channels * geom.height * geom.width);
        let w = noise(filters * geom.channels * geom.kernel * geom.kernel);
        let bias = noise(filters);
        let gy = noise(batch * filters * ho * wo);
        let macs = batch * filters * ho * wo * geom.channels * geom.kernel * geom.kernel;
        g.throughput(Throughput::Elements(macs as u64));
        g.bench_function(format!("{name}_forward_batch128"), |b| {
            b.iter(|| conv_forward(&x, &w, &bias, batch, filters, &geom))
        });
        let q = dlwb_engine::kernels::int8::QuantWeight::quantize(&w, filters);
        g.bench_function(format!("{name}_forward_int8_batch128"), |b| {
            b.iter(|| conv_forward_int8(&x, &q, &bias, (batch, filters), &geom, Rectify::No))
        });
        // With the ReLU and the 2x2 max pool after it, as LeNet runs at
        // inference (where this CPU has the direct int8 path).
        let shape = (batch, filters);
        if conv_pool_forward_int8(&x, &q, &bias, shape, &geom, Rectify::Relu).is_some() {
            g.bench_function(format!("{name}_relu_pool_int8_batch128"), |b| {
                b.iter(|| conv_pool_forward_int8(&x, &q, &bias, shape, &geom, Rectify::Relu))
            });
        }
        let (mut dw, mut db, mut dx) = (vec![0.0; w.len()], vec![0.0; filters], vec![0.0; x.len()]);
        g.throughput(Throughput::Elements(2 * macs as u64));
        g.bench_function(format!("{name}_backward_batch128"), |b| {
            b.iter(|| {
                conv_backward(
                    &gy,
                    &x,
                    &w,
                    &mut dw,
                    &mut db,
                    Some(&mut dx),
                    batch,
                    filters,
                    &geom,
                )
            })
        });
    }
    g.finish();
}

/// The MLP's first product in float (prepacked, as inference runs it)
/// and through int8 on each kernel this CPU has.
fn int8_products(c: &mut Criterion) {
    use dlwb_engine::kernels::int8::{matmul_int8_with, Kernel, QuantWeight};
    let mut g = c.benchmark_group("int8");
    for (m, k, n) in [(64, 784, 128), (256, 784, 128), (256, 128, 64)] {
        let (x, w) = (noise(m * k), noise(n * k));
        g.throughput(Throughput::Elements((m * k * n) as u64));
        let prepared = Prepared::new(mat_t(&w), k, n);
        let mut out = vec![0.0; m * n];
        g.bench_function(format!("f32_{m}x{k}x{n}"), |b| {
            b.iter(|| prepared.product(&mut out, mat(&x), m, Out::Overwrite))
        });
        let q = QuantWeight::quantize(&w, n);
        for kernel in Kernel::available() {
            let name = kernel.name().replace(' ', "_");
            g.bench_function(format!("{name}_{m}x{k}x{n}"), |b| {
                b.iter(|| matmul_int8_with(kernel, &x, m, &q))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, products, convolutions, int8_products);
criterion_main!(benches);
