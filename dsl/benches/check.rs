//! Parse and check of a generated 1,000-layer file (target: under 5 ms).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use dlwb_dsl::{CheckOptions, Learned};

fn thousand_layers() -> String {
    let mut s = String::from(
        "experiment big\nlet w = 64\ndata synthetic { shape [32]; classes 10 }\nmodel {\n",
    );
    for i in 0..250 {
        s.push_str(&format!("    l{i}: dense w relu   # layer {i}\n    dropout 0.1\n    layernorm\n    residual {{ dense w }}\n"));
    }
    s.push_str("    dense classes\n}\ntrain { optimizer adam lr=1e-3; batch 32 }\n");
    s
}

fn bench(c: &mut Criterion) {
    let src = thousand_layers();
    let opts = CheckOptions::default();
    let graph = dlwb_dsl::parse_and_check(&src, Learned::default(), &opts)
        .expect("the generated file checks");
    assert!(graph.nodes.len() >= 1000);
    c.bench_function("parse_and_check_1000_layers", |b| {
        b.iter(|| dlwb_dsl::parse_and_check(black_box(&src), Learned::default(), &opts).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
