//! The `bench_*` functions of src/gpu (wired into `divlab bench --backend gpu` by the CLI).
//! The regular test checks that they return one finite, positive duration per iteration; the
//! ignored one prints how the kernels' time grows with N next to the CPU core's
//! (`cargo test --release --test gpu_bench -- --ignored --nocapture`). No timing is asserted.

mod common;

use divlab::core::math::Vec2;
use divlab::core::rng;

use common::context;

fn points(seed: u64, n: usize) -> Vec<Vec2> {
    let mut r = rng::seeded(seed);
    (0..n).map(|_| rng::normal2(&mut r)).collect()
}

fn mixture(k: usize) -> divlab::core::mixture::Mixture {
    let w = vec![1.0 / k as f64; k];
    let means: Vec<Vec2> = (0..k)
        .map(|i| {
            let t = i as f64 / k as f64 * std::f64::consts::TAU;
            [2.0 * t.cos(), 2.0 * t.sin()]
        })
        .collect();
    let covs = vec![[[0.2, 0.05], [0.05, 0.3]]; k];
    divlab::core::mixture::Mixture::from_components(&w, &means, &covs).unwrap()
}

fn check(what: &str, v: &[f64], iters: usize) {
    assert_eq!(v.len(), iters, "{what}: one duration per iteration");
    assert!(v.iter().all(|t| t.is_finite() && *t > 0.0), "{what}: {v:?}");
}

#[test]
fn bench_functions_return_one_duration_per_iteration() {
    use divlab::core::grid::{BBox, Grid};
    use divlab::gpu::{em::GpuEm, mixture_grid::GpuMixtureGrid, mmd_flow, sinkhorn::GpuSinkhorn};
    let Some(ctx) = context() else { return };
    eprintln!(
        "adapter {} (timestamps: {})",
        ctx.adapter, ctx.adapter.has_timestamps
    );
    let (x, y) = (points(1, 300), points(2, 200));
    let s = GpuSinkhorn::new(&ctx).unwrap();
    check(
        "sinkhorn",
        &s.bench_half_iteration(&ctx, &x, &y, 0.1, 3).unwrap(),
        3,
    );
    let m = mmd_flow::GpuMmd::new(&ctx).unwrap();
    let k = mmd_flow::GpuKernel::Gaussian { sigma: 0.5 };
    check("mmd", &m.bench_pair_sums(&ctx, &x, &y, &k, 3).unwrap(), 3);
    let g = GpuMixtureGrid::new(&ctx).unwrap();
    let grid = Grid::square(BBox::centered_square(4.0), 100).unwrap();
    check(
        "grid",
        &g.bench_log_density(&ctx, &mixture(4), &grid, 3).unwrap(),
        3,
    );
    let e = GpuEm::new(&ctx).unwrap();
    check("em", &e.bench_e_step(&ctx, &x, &mixture(4), 2).unwrap(), 2);
    let sl = divlab::gpu::sliced::GpuSlicedRiesz::new(&ctx).unwrap();
    let dirs = divlab::core::sliced::random_directions(8, &mut rng::seeded(3));
    check("sliced", &sl.bench_grad(&ctx, &x, &y, &dirs, 2).unwrap(), 2);
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
#[ignore = "prints a timing table; run with --release --ignored --nocapture"]
fn print_scaling_table() {
    use divlab::core::grid::{BBox, Grid};
    use divlab::core::sinkhorn::{Precision, sinkhorn_half_iteration};
    use divlab::gpu::{em::GpuEm, mixture_grid::GpuMixtureGrid, mmd_flow, sinkhorn::GpuSinkhorn};
    let Some(ctx) = context() else { return };
    println!(
        "adapter: {} (timestamps: {})",
        ctx.adapter, ctx.adapter.has_timestamps
    );
    let s = GpuSinkhorn::new(&ctx).unwrap();
    let m = mmd_flow::GpuMmd::new(&ctx).unwrap();
    let g = GpuMixtureGrid::new(&ctx).unwrap();
    let e = GpuEm::new(&ctx).unwrap();
    let kern = mmd_flow::GpuKernel::Gaussian { sigma: 0.5 };
    let sl = divlab::gpu::sliced::GpuSlicedRiesz::new(&ctx).unwrap();
    let dirs = divlab::core::sliced::random_directions(64, &mut rng::seeded(3));
    println!(
        "| N | sinkhorn half-iter N×N gpu | cpu core f32 | MMD pair sums N×N gpu | EM E-step N, K=8 gpu (wall) | grid min(N,2048)², K=8 gpu | sliced Riesz N+N, P=64 gpu (wall) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for n in [256usize, 512, 1024, 2048, 4096] {
        let (x, y) = (points(1, n), points(2, n));
        let sk = median(s.bench_half_iteration(&ctx, &x, &y, 0.05, 5).unwrap());
        let b = vec![1.0 / n as f64; n];
        let gpot = vec![0.0; n];
        let mut f = vec![0.0; n];
        let mut cpu = Vec::new();
        for _ in 0..3 {
            let t0 = std::time::Instant::now();
            sinkhorn_half_iteration(&x, &y, &b, &gpot, 0.05, Precision::F32, &mut f).unwrap();
            cpu.push(t0.elapsed().as_secs_f64());
        }
        let mm = median(m.bench_pair_sums(&ctx, &x, &y, &kern, 5).unwrap());
        let em = median(e.bench_e_step(&ctx, &x, &mixture(8), 3).unwrap());
        let grid = Grid::square(BBox::centered_square(4.0), n.min(2048)).unwrap();
        let gr = median(g.bench_log_density(&ctx, &mixture(8), &grid, 3).unwrap());
        let sr = median(sl.bench_grad(&ctx, &x, &y, &dirs, 3).unwrap());
        println!(
            "| {n} | {:.3} ms | {:.3} ms | {:.3} ms | {:.3} ms | {:.3} ms | {:.3} ms |",
            sk * 1e3,
            median(cpu) * 1e3,
            mm * 1e3,
            em * 1e3,
            gr * 1e3,
            sr * 1e3
        );
    }
}
