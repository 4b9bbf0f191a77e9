//! GPU kernels (src/gpu) against the f64 core (src/core), on whatever adapter wgpu finds
//! (lavapipe in CI). Fails when no adapter with compute exists, unless `DIVLAB_ALLOW_NO_GPU=1`.
//!
//! Sizes are deliberately not multiples of the 256-wide workgroups (N = 1000, M = 777, 300, 250).
//! Measured tolerances (lavapipe, llvmpipe; printed by each test with `--nocapture`) are listed in
//! the doc comment of each kernel's wrapper module (src/gpu/*.rs) and summarised in src/gpu/mod.rs.

mod common;

use divlab::core::math::Vec2;
use divlab::core::rng;
use divlab::core::sinkhorn::{self, Precision, SinkhornConfig};
use divlab::gpu::sinkhorn::GpuSinkhorn;

use common::context;

fn cloud(seed: u64, n: usize, mean: Vec2, sd: f64) -> (Vec<Vec2>, Vec<f64>) {
    let mut r = rng::seeded(seed);
    let pts = (0..n)
        .map(|_| {
            let z = rng::normal2(&mut r);
            [mean[0] + sd * z[0], mean[1] + sd * z[1]]
        })
        .collect();
    // non-uniform weights
    let mut w: Vec<f64> = (0..n).map(|_| 0.5 + rng::uniform(&mut r)).collect();
    let s: f64 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= s);
    (pts, w)
}

fn max_abs(v: impl IntoIterator<Item = f64>) -> f64 {
    v.into_iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Max |f_gpu − f_cpu − t| and |g_gpu − g_cpu + t| over the gauge t = ⟨a, f_gpu − f_cpu⟩,
/// relative to the largest |potential| of the core.
fn potential_rel_err(a: &[f64], f_gpu: &[f64], g_gpu: &[f64], f_cpu: &[f64], g_cpu: &[f64]) -> f64 {
    let t: f64 = a
        .iter()
        .zip(f_gpu.iter().zip(f_cpu))
        .map(|(w, (p, q))| w * (p - q))
        .sum();
    let df = max_abs(f_gpu.iter().zip(f_cpu).map(|(p, q)| p - q - t));
    let dg = max_abs(g_gpu.iter().zip(g_cpu).map(|(p, q)| p - q + t));
    let scale = max_abs(f_cpu.iter().chain(g_cpu).copied());
    df.max(dg) / scale
}

fn cfg(eps: f64) -> SinkhornConfig {
    SinkhornConfig {
        epsilon: eps,
        scaling: Some(0.7),
        max_iters: 5000,
        tolerance: 1e-5,
        precision: Precision::F64,
        newton: None,
    }
}

#[test]
fn sinkhorn_potentials_and_divergence_match_core_for_eps_1_to_1e3() {
    let Some(ctx) = context() else { return };
    let solver = GpuSinkhorn::new(&ctx).unwrap();
    let (x, a) = cloud(1, 300, [0.0, 0.0], 1.0);
    let (y, b) = cloud(2, 250, [2.0, 1.0], 0.6);
    let d2 = sinkhorn::squared_diameter(&x, &y);
    for eps_rel in [1.0, 1e-1, 1e-2, 1e-3] {
        let c = cfg(eps_rel * d2);
        let cpu = sinkhorn::sinkhorn(&x, &a, &y, &b, &c).unwrap();
        let gpu = solver.solve(&ctx, &x, &a, &y, &b, &c).unwrap();
        let pot = potential_rel_err(&a, &gpu.f, &gpu.g, &cpu.f, &cpu.g);
        let cost = (gpu.cost_value - cpu.cost_value).abs() / cpu.cost_value.abs();
        let cpu_s = sinkhorn::sinkhorn_divergence(&x, &a, &y, &b, &c).unwrap();
        let gpu_s = solver.divergence(&ctx, &x, &a, &y, &b, &c).unwrap();
        let s_rel = (gpu_s.value - cpu_s.value).abs() / cpu_s.value.abs();
        let gscale = max_abs(cpu_s.grad_x.iter().flat_map(|g| *g));
        let grad = max_abs(
            gpu_s
                .grad_x
                .iter()
                .zip(&cpu_s.grad_x)
                .flat_map(|(p, q)| [p[0] - q[0], p[1] - q[1]]),
        ) / gscale;
        eprintln!(
            "sinkhorn eps_rel={eps_rel:e}: potentials {pot:.2e}, OT {cost:.2e}, S_eps {s_rel:.2e}, grad_x {grad:.2e} \
             (iters gpu {} cpu {}, converged {} / {})",
            gpu.iterations, cpu.iterations, gpu_s.converged, cpu_s.diagnostics.converged
        );
        assert!(
            gpu.converged && gpu_s.converged,
            "GPU Sinkhorn did not converge at eps_rel {eps_rel}"
        );
        assert!(pot < 1e-3, "potentials rel err {pot} at eps_rel {eps_rel}");
        assert!(cost < 1e-3, "OT_eps rel err {cost} at eps_rel {eps_rel}");
        assert!(s_rel < 1e-3, "S_eps rel err {s_rel} at eps_rel {eps_rel}");
        assert!(grad < 1e-3, "grad_x rel err {grad} at eps_rel {eps_rel}");
    }
}

#[test]
fn sinkhorn_divergence_matches_core_at_1000_by_777() {
    let Some(ctx) = context() else { return };
    let solver = GpuSinkhorn::new(&ctx).unwrap();
    let (x, a) = cloud(3, 1000, [0.0, 0.0], 1.0);
    let (y, b) = cloud(4, 777, [1.5, -1.0], 0.7);
    let c = cfg(0.01 * sinkhorn::squared_diameter(&x, &y));
    let cpu = sinkhorn::sinkhorn_divergence(&x, &a, &y, &b, &c).unwrap();
    let gpu = solver.divergence(&ctx, &x, &a, &y, &b, &c).unwrap();
    let pot = potential_rel_err(&a, &gpu.f, &gpu.g, &cpu.f, &cpu.g);
    let s_rel = (gpu.value - cpu.value).abs() / cpu.value.abs();
    let gscale = max_abs(cpu.grad_x.iter().flat_map(|g| *g));
    let grad = max_abs(
        gpu.grad_x
            .iter()
            .zip(&cpu.grad_x)
            .flat_map(|(p, q)| [p[0] - q[0], p[1] - q[1]]),
    ) / gscale;
    eprintln!("sinkhorn 1000x777: potentials {pot:.2e}, S_eps {s_rel:.2e}, grad_x {grad:.2e}");
    // Warm start from the converged potentials (as a flow's next step would): both converge
    // within one check, and still agree with the core's warm solve.
    let warm = solver
        .solve_warm(&ctx, &x, &a, &y, &b, &c, Some((&gpu.f, &gpu.g)))
        .unwrap();
    let cpu_warm = sinkhorn::sinkhorn_warm(&x, &a, &y, &b, &c, Some((&cpu.f, &cpu.g))).unwrap();
    let pot_w = potential_rel_err(&a, &warm.f, &warm.g, &cpu_warm.f, &cpu_warm.g);
    eprintln!(
        "sinkhorn warm start: iterations gpu {} core {}, potentials {pot_w:.2e}",
        warm.iterations, cpu_warm.iterations
    );
    assert!(warm.converged && warm.iterations <= 5 && pot_w < 1e-3);
    assert!(gpu.converged);
    assert!(
        pot < 1e-3 && s_rel < 1e-3 && grad < 1e-3,
        "pot {pot} S {s_rel} grad {grad}"
    );
}

fn test_mixture(shift: f64) -> divlab::core::mixture::Mixture {
    divlab::core::mixture::Mixture::from_components(
        &[0.5, 0.3, 0.2],
        &[[-1.0 + shift, 0.5], [1.2, -0.8 + shift], [0.3, 1.5]],
        &[
            [[0.6, 0.2], [0.2, 0.4]],
            [[0.3, -0.1], [-0.1, 0.5]],
            [[1.0, 0.0], [0.0, 0.2]],
        ],
    )
    .unwrap()
}

#[test]
fn mixture_log_density_grid_matches_core() {
    use divlab::core::grid::{BBox, Grid};
    let Some(ctx) = context() else { return };
    let kern = divlab::gpu::mixture_grid::GpuMixtureGrid::new(&ctx).unwrap();
    let mix = test_mixture(0.0);
    let grid = Grid::new(BBox::new(-4.0, 4.0, -3.5, 4.5), 300, 201).unwrap();
    let cpu = grid.eval(|x| mix.log_density(x));
    let gpu = kern.log_density(&ctx, &mix, &grid).unwrap();
    // log q: absolute error (log q crosses 0); q: error relative to the largest q on the grid.
    let dlog = max_abs(gpu.iter().zip(&cpu).map(|(g, c)| g - c));
    let qmax = cpu.iter().fold(0.0f64, |m, v| m.max(v.exp()));
    let dq = max_abs(gpu.iter().zip(&cpu).map(|(g, c)| g.exp() - c.exp())) / qmax;
    // pointwise relative error of q where q ≥ 1e-6 · max q
    let dq_pt = gpu
        .iter()
        .zip(&cpu)
        .filter(|(_, c)| c.exp() >= 1e-6 * qmax)
        .fold(0.0f64, |m, (g, c)| m.max(((g - c).exp() - 1.0).abs()));
    eprintln!(
        "mixture grid 300x201: max |Δ log q| {dlog:.2e}, max |Δq|/max q {dq:.2e}, pointwise rel q {dq_pt:.2e}"
    );
    assert!(dq < 1e-4 && dq_pt < 1e-4, "dq {dq} pointwise {dq_pt}");
}

#[test]
fn grid_divergences_match_core_fdiv() {
    use divlab::core::fdiv::{Estimator, FDivKind, fdiv_value_grad};
    use divlab::core::grid::Grid;
    use divlab::core::target::{Target, presets};
    let Some(ctx) = context() else { return };
    let kern = divlab::gpu::mixture_grid::GpuMixtureGrid::new(&ctx).unwrap();
    let q = test_mixture(0.7);
    let resolution = 250; // 62 500 cells: not a multiple of 256
    let mut checked = 0;
    for (name, spec) in presets() {
        if !["two_modes", "ring8", "banana"].contains(&name) {
            continue;
        }
        let target = Target::build(&spec, None).unwrap();
        let p = target.density().unwrap();
        let bbox = target.bbox();
        let grid = Grid::square(bbox, resolution).unwrap();
        let log_p = p.log_density_on_grid(&grid);
        let gpu = kern.divergences(&ctx, &log_p, &q, &grid).unwrap();
        let est = Estimator::Grid { resolution };
        let mut r = rng::seeded(0);
        for (kind, g) in [
            (FDivKind::ForwardKl, Some(gpu.forward_kl)),
            (FDivKind::ReverseKl, Some(gpu.reverse_kl)),
            (FDivKind::JensenShannon, Some(gpu.jensen_shannon)),
            (FDivKind::SquaredHellinger, None),
            (FDivKind::PearsonChi2, None),
            (FDivKind::Alpha { alpha: 0.5 }, None),
            (FDivKind::TotalVariation, None),
        ] {
            let cpu = fdiv_value_grad(&kind, p, &bbox, &q, &est, &mut r).unwrap();
            let vg = kern
                .fdiv_value_grad(&ctx, &kind, &log_p, &q, &grid)
                .unwrap();
            let g = g.unwrap_or(vg.value);
            let gscale = max_abs(cpu.grad.iter().copied());
            let dgrad = max_abs(vg.grad.iter().zip(&cpu.grad).map(|(a, b)| a - b)) / gscale;
            eprintln!("grid f-div {name} {kind:?}: θ-gradient rel (to max |∂θ|) {dgrad:.2e}");
            let rel_v = (vg.value - cpu.value).abs() / cpu.value.abs();
            assert!(
                rel_v < 1e-4,
                "{name} {kind:?}: value (gradient path) rel {rel_v}"
            );
            assert!(dgrad < 1e-4, "{name} {kind:?}: gradient rel {dgrad}");
            let rel = (g - cpu.value).abs() / cpu.value.abs();
            eprintln!(
                "grid f-div {name} {kind:?} {resolution}²: gpu {g:.6} core {:.6} rel {rel:.2e}",
                cpu.value
            );
            assert!(rel < 1e-4, "{name} {kind:?}: rel {rel}");
            let dm = ((1.0 - gpu.mass_p) - cpu.missed_mass_p).abs();
            let dmq = ((1.0 - gpu.mass_q) - cpu.missed_mass_q).abs();
            assert!(dm < 1e-5 && dmq < 1e-5, "missed mass p {dm} q {dmq}");
            checked += 1;
        }
    }
    assert_eq!(checked, 21, "presets two_modes, ring8, banana must exist");
}

/// The kinds the grid kernel claims (every `FDivKind` but Rényi) that `grid_divergences_match_core_fdiv`
/// leaves out: Neyman χ² and Amari α away from ½ (negative, between 0 and 1, above 1). q is p's mixture with
/// moved means and scaled covariances: narrower than p (×0.8) for α < 1 and Neyman χ² (α = −1), wider
/// (×1.25) for α > 1, so that every value is finite. (With α > 1 and a narrower q the outer cell's
/// M_q f(M_p/M_q) ∝ M_p^α M_q^(1−α) amplifies the f32 error of a tiny missed mass M_q = 1 − Σ q ΔA: α = 1.5
/// was seen 1.6e-3 off on two_modes.)
/// Rényi is refused by name.
#[test]
fn grid_neyman_chi2_and_every_alpha_match_core_fdiv() {
    use divlab::core::fdiv::{Estimator, FDivKind, fdiv_value_grad};
    use divlab::core::grid::Grid;
    use divlab::core::mixture::Mixture;
    use divlab::core::target::{Target, presets};
    let Some(ctx) = context() else { return };
    let kern = divlab::gpu::mixture_grid::GpuMixtureGrid::new(&ctx).unwrap();
    let resolution = 250;
    let mut checked = 0;
    let mut worst = (0f64, 0f64);
    for (name, spec) in presets() {
        if !["two_modes", "gaussian_mixture"].contains(&name) {
            continue;
        }
        let target = Target::build(&spec, None).unwrap();
        let p = target.density().unwrap();
        let pm = p.as_mixture().expect("a mixture target");
        let means: Vec<Vec2> = pm
            .means()
            .iter()
            .map(|m| [m[0] + 0.15, m[1] - 0.1])
            .collect();
        let q_scaled = |k: f64| {
            let covs: Vec<_> = pm
                .covariances()
                .iter()
                .map(|c| [[k * c[0][0], k * c[0][1]], [k * c[1][0], k * c[1][1]]])
                .collect();
            Mixture::from_components(&pm.weights(), &means, &covs).unwrap()
        };
        let (narrow, wide) = (q_scaled(0.8), q_scaled(1.25));
        let bbox = target.bbox();
        let grid = Grid::square(bbox, resolution).unwrap();
        let log_p = p.log_density_on_grid(&grid);
        let est = Estimator::Grid { resolution };
        for kind in [
            FDivKind::NeymanChi2,
            FDivKind::Alpha { alpha: -1.0 },
            FDivKind::Alpha { alpha: -0.5 },
            FDivKind::Alpha { alpha: 0.25 },
            FDivKind::Alpha { alpha: 1.5 },
            FDivKind::Alpha { alpha: 2.0 },
        ] {
            let q = match kind {
                FDivKind::Alpha { alpha } if alpha > 1.0 => &wide,
                _ => &narrow,
            };
            let cpu = fdiv_value_grad(&kind, p, &bbox, q, &est, &mut rng::seeded(0)).unwrap();
            let vg = kern.fdiv_value_grad(&ctx, &kind, &log_p, q, &grid).unwrap();
            let rel_v = (vg.value - cpu.value).abs() / cpu.value.abs();
            let gscale = max_abs(cpu.grad.iter().copied());
            let dgrad = max_abs(vg.grad.iter().zip(&cpu.grad).map(|(a, b)| a - b)) / gscale;
            eprintln!(
                "grid f-div {name} {kind:?}: gpu {:.6} core {:.6} value rel {rel_v:.2e}, θ-gradient rel {dgrad:.2e}; \
                 missed mass q gpu {:.3e} core {:.3e}",
                vg.value, cpu.value, vg.missed_mass_q, cpu.missed_mass_q
            );
            assert!(
                cpu.value.is_finite() && cpu.value > 0.0,
                "{name} {kind:?}: {}",
                cpu.value
            );
            assert!(rel_v < 1e-4, "{name} {kind:?}: value rel {rel_v}");
            assert!(dgrad < 1e-4, "{name} {kind:?}: gradient rel {dgrad}");
            worst = (worst.0.max(rel_v), worst.1.max(dgrad));
            checked += 1;
        }
        let renyi = kern.fdiv_value_grad(
            &ctx,
            &FDivKind::Renyi { alpha: 2.0 },
            &log_p,
            &narrow,
            &grid,
        );
        assert!(
            renyi.is_err(),
            "Rényi must be refused by the GPU grid kernel"
        );
    }
    assert_eq!(
        checked, 12,
        "presets two_modes and gaussian_mixture must exist"
    );
    eprintln!(
        "grid Neyman χ² and α: largest value rel {:.2e}, gradient rel {:.2e}",
        worst.0, worst.1
    );
}

#[test]
fn mmd_flow_gradients_and_updates_match_core() {
    use divlab::core::mmd::{self, Kernel};
    use divlab::gpu::mmd_flow::{GpuKernel, GpuMmd};
    let Some(ctx) = context() else { return };
    let kern = GpuMmd::new(&ctx).unwrap();
    let (x, a) = cloud(5, 1000, [0.0, 0.0], 1.0);
    let (y, b) = cloud(6, 777, [1.5, 0.5], 0.7);
    let step = 0.5;
    for ck in [
        Kernel::Gaussian { sigma: 0.8 },
        Kernel::InverseMultiquadric { c: 0.5 },
        Kernel::Laplace { sigma: 1.2 },
        Kernel::Riesz { r: 1.0 },
        Kernel::Riesz { r: 1.5 },
    ] {
        let gk = GpuKernel::from(&ck);
        let (v_cpu, g_cpu, _) = mmd::mmd2_grad(&x, &a, &y, &b, &ck).unwrap();
        let gpu = kern.mmd2_grad(&ctx, &x, &a, &y, &b, &gk).unwrap();
        let gscale = max_abs(g_cpu.iter().flat_map(|g| *g));
        let dg = max_abs(
            gpu.grad_x
                .iter()
                .zip(&g_cpu)
                .flat_map(|(p, q)| [p[0] - q[0], p[1] - q[1]]),
        ) / gscale;
        // particle update of the MMD flow: x_i ← x_i − τ ∂MMD²/∂x_i / a_i (velocity −2∇w(x_i))
        let upd = |g: &[Vec2]| -> Vec<Vec2> {
            x.iter()
                .zip(g)
                .zip(&a)
                .map(|((p, g), ai)| [p[0] - step * g[0] / ai, p[1] - step * g[1] / ai])
                .collect()
        };
        let (u_cpu, u_gpu) = (upd(&g_cpu), upd(&gpu.grad_x));
        let disp = max_abs(
            u_cpu
                .iter()
                .zip(&x)
                .flat_map(|(u, p)| [u[0] - p[0], u[1] - p[1]]),
        );
        let du = max_abs(
            u_gpu
                .iter()
                .zip(&u_cpu)
                .flat_map(|(p, q)| [p[0] - q[0], p[1] - q[1]]),
        ) / disp;
        let dv = (gpu.value - v_cpu).abs() / v_cpu.abs();
        eprintln!(
            "mmd {ck:?} 1000x777: MMD² {dv:.2e}, grad_x {dg:.2e}, update (rel. to max displacement) {du:.2e}"
        );
        assert!(
            dg < 1e-4 && du < 1e-4 && dv < 1e-4,
            "{ck:?}: value {dv} grad {dg} update {du}"
        );
    }
}

#[test]
fn em_ten_steps_match_core_em_step() {
    use divlab::core::mixture::Mixture;
    use divlab::gpu::em::GpuEm;
    let Some(ctx) = context() else { return };
    let em = GpuEm::new(&ctx).unwrap();
    let target = test_mixture(0.0);
    let mut r = rng::seeded(7);
    let samples = target.sample(1000, &mut r);
    let init = Mixture::from_components(
        &[0.3, 0.3, 0.4],
        &[[-0.5, 0.0], [0.5, 0.3], [0.0, 1.0]],
        &[[[1.0, 0.0], [0.0, 1.0]]; 3],
    )
    .unwrap();
    let (mut m_gpu, mut m_cpu) = (init.clone(), init);
    let mut ll_err: f64 = 0.0;
    for _ in 0..10 {
        let ll_g = em.em_step(&ctx, &samples, &mut m_gpu).unwrap();
        let ll_c = divlab::core::em::em_step(&samples, &mut m_cpu).unwrap();
        ll_err = ll_err.max((ll_g - ll_c).abs() / ll_c.abs());
    }
    let rel = |a: &[f64], b: &[f64]| {
        let s = max_abs(b.iter().copied());
        max_abs(a.iter().zip(b).map(|(p, q)| p - q)) / s
    };
    let flat = |m: &Mixture| -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        (
            m.weights(),
            m.means().iter().flat_map(|v| *v).collect(),
            m.covariances()
                .iter()
                .flat_map(|c| [c[0][0], c[0][1], c[1][1]])
                .collect(),
        )
    };
    let (wg, mg, cg) = flat(&m_gpu);
    let (wc, mc, cc) = flat(&m_cpu);
    let errs = [rel(&wg, &wc), rel(&mg, &mc), rel(&cg, &cc), ll_err];
    eprintln!(
        "EM 10 steps, N=1000, K=3: weights {:.2e}, means {:.2e}, covariances {:.2e}, mean log-lik {:.2e}",
        errs[0], errs[1], errs[2], errs[3]
    );
    assert!(errs.iter().all(|e| *e < 1e-4), "{errs:?}");
}

#[test]
fn mmd_flow_step_matches_core_particle_flow() {
    use divlab::core::flows::{FlowConfig, FlowTarget, ParticleFlow};
    use divlab::core::mmd::Kernel;
    use divlab::gpu::mmd_flow::{GpuKernel, GpuMmd};
    let Some(ctx) = context() else { return };
    let kern = GpuMmd::new(&ctx).unwrap();
    let (x, _) = cloud(8, 1000, [0.0, 0.0], 1.0);
    let (y, _) = cloud(9, 777, [1.5, 0.5], 0.7);
    for kernel in [Kernel::Gaussian { sigma: 0.7 }, Kernel::Riesz { r: 1.0 }] {
        let cfg = FlowConfig::Mmd {
            kernel,
            step_size: 0.5,
            noise_level: 0.0,
            adaptive_step: false,
            target_samples: 777,
        };
        let mut flow = ParticleFlow::new(&cfg, x.clone(), 3).unwrap();
        let (mut xg, mut worst) = (x.clone(), 0.0f64);
        for _ in 0..5 {
            let before = flow.particles().to_vec();
            let report = flow.step(&FlowTarget::samples(&y)).unwrap();
            let (v, next) = kern
                .flow_step(&ctx, &xg, &y, &GpuKernel::from(&kernel), 0.5, None)
                .unwrap();
            let disp = max_abs(
                flow.particles()
                    .iter()
                    .zip(&before)
                    .flat_map(|(p, q)| [p[0] - q[0], p[1] - q[1]]),
            );
            let d = max_abs(
                next.iter()
                    .zip(flow.particles())
                    .flat_map(|(p, q)| [p[0] - q[0], p[1] - q[1]]),
            );
            worst = worst.max(d / disp);
            assert!((v - report.objective_value).abs() <= 1e-4 * report.objective_value.abs());
            xg = next;
        }
        eprintln!("mmd flow {kernel:?}: 5 steps, max |Δx| / max step displacement {worst:.2e}");
        assert!(worst < 1e-4, "{kernel:?}: {worst}");
    }
}

#[test]
fn non_finite_kernel_output_is_an_error_not_a_value() {
    use divlab::gpu::GpuError;
    use divlab::gpu::mmd_flow::{GpuKernel, GpuMmd};
    let Some(ctx) = context() else { return };
    let kern = GpuMmd::new(&ctx).unwrap();
    // |x − y| overflows f32 → |d|^r / |d|² = ∞/∞ = NaN inside the kernel: must come back as an
    // error the caller can use to switch to the CPU.
    let x = vec![[1e30, -1e30], [0.0, 0.0], [-1e30, 1e30]];
    let w = vec![1.0 / 3.0; 3];
    let err = kern
        .pair_sums(&ctx, &x, &x, &w, &GpuKernel::Riesz { r: 1.0 })
        .unwrap_err();
    assert!(matches!(err, GpuError::NonFinite { .. }), "{err:?}");
    assert!(!ctx.is_lost());
}

#[test]
fn heatmap_texture_matches_the_cpu_colormap_mapping() {
    use divlab::core::grid::{BBox, Grid};
    use divlab::gpu::heatmap::{GpuHeatmap, LOG_DECADES, color_table};
    use divlab::gpu::mixture_grid::GpuMixtureGrid;
    let Some(ctx) = context() else { return };
    let mix = test_mixture(0.0);
    let (nx, ny) = (130usize, 97usize); // not multiples of the 16×16 workgroup
    let grid = Grid::new(BBox::new(-4.0, 4.0, -3.0, 4.0), nx, ny).unwrap();
    let lq = GpuMixtureGrid::new(&ctx)
        .unwrap()
        .log_density_buffer(&ctx, &mix, &grid)
        .unwrap();
    let cpu_log = grid.eval(|x| mix.log_density(x));
    let max_log = cpu_log.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let hm = GpuHeatmap::new(&ctx).unwrap();
    let tex = hm.create_texture(&ctx, nx as u32, ny as u32);
    // Viridis until a table is set; then another colormap's table, as the app sets it.
    for (gradient, set) in [(colorous::VIRIDIS, false), (colorous::MAGMA, true)] {
        if set {
            hm.set_colors(&ctx, &color_table(gradient)).unwrap();
        }
        for log_scale in [false, true] {
            hm.render(&ctx, &lq, nx as u32, ny as u32, log_scale, &tex)
                .unwrap();
            let px = hm.read_texture(&ctx, &tex).unwrap();
            assert_eq!(px.len(), nx * ny);
            let floor = max_log - LOG_DECADES * std::f64::consts::LN_10;
            let mut worst = 0i32;
            for (r, row) in px.chunks_exact(nx).enumerate() {
                let grid_row = ny - 1 - r; // image top = y_max
                for (c, p) in row.iter().enumerate() {
                    let lp = cpu_log[grid_row * nx + c];
                    let t = if log_scale {
                        ((lp - floor) / (max_log - floor)).max(0.0)
                    } else {
                        (lp - max_log).exp()
                    };
                    let e = gradient.eval_continuous(t.clamp(0.0, 1.0));
                    for (got, want) in p[..3].iter().zip([e.r, e.g, e.b]) {
                        worst = worst.max((*got as i32 - want as i32).abs());
                    }
                    assert_eq!(p[3], 255);
                }
            }
            eprintln!(
                "heatmap {nx}x{ny} log_scale={log_scale}: max channel difference {worst}/255"
            );
            assert!(worst <= 2, "channel difference {worst}");
        }
    }
    assert!(
        hm.set_colors(&ctx, &color_table(colorous::MAGMA)[..255])
            .is_err()
    );
}

#[test]
fn sliced_riesz_matches_core() {
    use divlab::core::sliced::{random_directions, sliced_riesz_grad};
    use divlab::gpu::sliced::GpuSlicedRiesz;
    let Some(ctx) = context() else { return };
    let kern = GpuSlicedRiesz::new(&ctx).unwrap();
    for (n, m, p) in [(1000, 777, 64), (300, 100, 7)] {
        let (x, a) = cloud(10, n, [0.0, 0.0], 1.0);
        let (y, b) = cloud(11, m, [1.5, 0.5], 0.7);
        let dirs = random_directions(p, &mut rng::seeded(12));
        let (v_cpu, g_cpu) = sliced_riesz_grad(&x, &a, &y, &b, &dirs).unwrap();
        let (v_gpu, g_gpu) = kern.sliced_riesz_grad(&ctx, &x, &a, &y, &b, &dirs).unwrap();
        let gscale = max_abs(g_cpu.iter().flat_map(|g| *g));
        let dg = max_abs(
            g_gpu
                .iter()
                .zip(&g_cpu)
                .flat_map(|(p, q)| [p[0] - q[0], p[1] - q[1]]),
        ) / gscale;
        let dv = (v_gpu - v_cpu).abs() / v_cpu.abs();
        eprintln!("sliced Riesz N={n} M={m} P={p}: value {dv:.2e}, grad_x {dg:.2e}");
        assert!(dv < 1e-4 && dg < 1e-4, "value {dv} grad {dg}");
    }
}
