//! Criterion benchmarks of the OT/MMD kernels and particle-flow steps (issue 4's benchmark
//! list). Needs `[[bench]] name = "flows" harness = false` in Cargo.toml.
//! Problem: the anchors of shared/bench/anchors.py, x ~ N(0, 0.3²), y ~ U[−1, 1]², ε = 0.01,
//! Gaussian σ = 0.1. Run: `cargo bench --bench flows`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use divlab::core::flows::{FlowConfig, FlowTarget, ParticleFlow};
use divlab::core::math::Vec2;
use divlab::core::mmd::Kernel;
use divlab::core::rng;
use divlab::core::sinkhorn::{Precision, SinkhornConfig, sinkhorn_half_iteration};
use divlab::core::sliced::{random_directions, sliced_riesz_grad};

fn clouds(n: usize, m: usize) -> (Vec<Vec2>, Vec<Vec2>) {
    let mut r = rng::seeded(0);
    let x = (0..n)
        .map(|_| {
            let z = rng::normal2(&mut r);
            [0.3 * z[0], 0.3 * z[1]]
        })
        .collect();
    let y = (0..m)
        .map(|_| {
            [
                2.0 * rng::uniform(&mut r) - 1.0,
                2.0 * rng::uniform(&mut r) - 1.0,
            ]
        })
        .collect();
    (x, y)
}

fn sinkhorn_half(c: &mut Criterion) {
    let mut g = c.benchmark_group("sinkhorn_half_iteration");
    g.sample_size(10);
    for n in [4096usize, 16_384] {
        let (x, y) = clouds(n, n);
        let b = vec![1.0 / n as f64; n];
        let pot = vec![0.0; n];
        let mut f = vec![0.0; n];
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| {
                sinkhorn_half_iteration(&x, &y, &b, &pot, 0.01, Precision::F32, &mut f)
                    .expect("half-iteration");
                black_box(f[0])
            })
        });
    }
    g.finish();
}

fn flow_steps(c: &mut Criterion) {
    let mut g = c.benchmark_group("mmd_flow_step");
    g.sample_size(10);
    for n in [2048usize, 8192] {
        let (x, y) = clouds(n, n);
        let cfg = FlowConfig::Mmd {
            kernel: Kernel::Gaussian { sigma: 0.1 },
            step_size: 1e-4,
            noise_level: 0.0,
            adaptive_step: false,
            target_samples: n,
        };
        let mut flow = ParticleFlow::new(&cfg, x, 0).expect("flow");
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| black_box(flow.step(&FlowTarget::samples(&y)).expect("step")))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("sinkhorn_flow_step");
    g.sample_size(10);
    let (x, y) = clouds(4096, 4096);
    let cfg = FlowConfig::Sinkhorn {
        sinkhorn: SinkhornConfig {
            epsilon: 0.01,
            scaling: Some(0.7),
            max_iters: 2000,
            tolerance: 1e-3,
            precision: Precision::F32,
            newton: None,
        },
        step_size: 1e-3,
        target_samples: 4096,
        debiased: true,
    };
    let mut flow = ParticleFlow::new(&cfg, x, 0).expect("flow");
    g.bench_function("4096", |bench| {
        bench.iter(|| black_box(flow.step(&FlowTarget::samples(&y)).expect("step")))
    });
    g.finish();
}

fn sliced(c: &mut Criterion) {
    let mut g = c.benchmark_group("sliced_riesz_gradient_p64");
    g.sample_size(10);
    for n in [1_000usize, 10_000, 100_000, 1_000_000] {
        let (x, y) = clouds(n, n);
        let w = vec![1.0 / n as f64; n];
        let dirs = random_directions(64, &mut rng::seeded(1));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| black_box(sliced_riesz_grad(&x, &w, &y, &w, &dirs).expect("sliced")))
        });
    }
    g.finish();
}

criterion_group!(benches, sinkhorn_half, flow_steps, sliced);
criterion_main!(benches);
