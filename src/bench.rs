//! `divlab bench`: seconds per iteration of the core's kernels (CPU, all cores through rayon) and of the GPU
//! kernels (`--backend gpu`; on a software adapter such as lavapipe these figures measure this machine's CPUs,
//! not a GPU). Each figure is the median over `--iters` timed iterations after one warm-up iteration.

use divlab::core::em::em_step;
use divlab::core::fdiv::{Estimator, FDivKind};
use divlab::core::fit::Objective;
use divlab::core::flows::{FlowConfig, FlowTarget, ParticleFlow};
use divlab::core::grid::Grid;
use divlab::core::math::Vec2;
use divlab::core::mixture::{Mixture, MixtureInit};
use divlab::core::mmd::Kernel;
use divlab::core::rng::{self, substream};
use divlab::core::sinkhorn::{Precision, SinkhornConfig, sinkhorn_half_iteration};
use divlab::core::target::{GaussianMixtureSpec, Grid25Spec, Target, TargetSpec, TwoModesSpec};
use divlab::gpu::backend::{ActiveBackend, BackendChoice, BackendStatus, select_headless};
use divlab::gpu::context::GpuContext;
use serde_json::json;
use web_time::Instant;

/// The kernels `divlab bench` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchKind {
    Em,
    Grid,
    Sinkhorn,
    Mmd,
    Sliced,
    SinkhornFlow,
}

const SEED: u64 = 2026;

struct Report {
    kernel: &'static str,
    unit: String,
    n: usize,
    samples_s: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    let m = s.len() / 2;
    if s.len().is_multiple_of(2) {
        0.5 * (s[m - 1] + s[m])
    } else {
        s[m]
    }
}

/// Times `f` `iters` times after one warm-up call.
fn time_iters(iters: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<Vec<f64>, String> {
    f()?;
    let mut out = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t0 = Instant::now();
        f()?;
        out.push(t0.elapsed().as_secs_f64());
    }
    Ok(out)
}

fn build(spec: TargetSpec) -> Result<Target, String> {
    Target::build(&spec, None).map_err(|e| e.to_string())
}

fn points(spec: TargetSpec, n: usize, stream: u64) -> Result<Vec<Vec2>, String> {
    Ok(build(spec)?.sample(n, &mut substream(SEED, stream)))
}

/// Two clouds of `n` points each: particles from two modes, targets from the three-component mixture.
fn clouds(n: usize) -> Result<(Vec<Vec2>, Vec<Vec2>), String> {
    Ok((
        points(TargetSpec::TwoModes(TwoModesSpec::default()), n, 1)?,
        points(
            TargetSpec::GaussianMixture(GaussianMixtureSpec::default()),
            n,
            2,
        )?,
    ))
}

/// An 8-component mixture spread over `target`'s box.
fn mixture8(target: &Target) -> Result<Mixture, String> {
    let init = MixtureInit::Random {
        components: 8,
        seed: SEED,
        std_fraction: 0.1,
    };
    Mixture::from_init(&init, &target.bbox()).map_err(|e| e.to_string())
}

/// The EM problem: `n` samples of the 5×5 grid target and an 8-component start.
fn em_problem(n: usize) -> Result<(Vec<Vec2>, Mixture), String> {
    let spec = TargetSpec::Grid25(Grid25Spec::default());
    Ok((points(spec.clone(), n, 3)?, mixture8(&build(spec)?)?))
}

/// The grid problem: the three-component mixture target and an 8-component model.
fn grid_problem() -> Result<(Target, Mixture), String> {
    let target = build(TargetSpec::GaussianMixture(GaussianMixtureSpec::default()))?;
    let q = mixture8(&target)?;
    Ok((target, q))
}

pub fn bench(
    kind: BenchKind,
    n: Option<usize>,
    iters: Option<usize>,
    as_json: bool,
    backend: BackendChoice,
) -> Result<(), String> {
    let iters = iters.unwrap_or(10);
    if !(1..=4096).contains(&iters) {
        return Err(format!("--iters {iters}: valid range is [1, 4096]"));
    }
    if let Some(n) = n {
        check_memory(kind, n)?;
    }
    let (ctx, status) = match (kind, backend) {
        (BenchKind::SinkhornFlow, BackendChoice::Gpu) => {
            return Err(
                "bench sinkhorn-flow --backend gpu: the flow step is benchmarked on the CPU core; \
                 the GPU Sinkhorn kernel is `bench sinkhorn --backend gpu`"
                    .into(),
            );
        }
        (BenchKind::SinkhornFlow, _) => (None, BackendStatus::cpu()),
        // The sliced Riesz flow stays on the CPU (see src/gpu/mod.rs for why).
        (BenchKind::Sliced, BackendChoice::Gpu) => {
            return Err(
                "bench sliced --backend gpu: the sliced Riesz flow runs on the CPU only (one sort per slice \
                 beats a GPU bitonic sort at these sizes; see src/gpu/mod.rs)"
                    .into(),
            );
        }
        (BenchKind::Sliced, _) => (None, BackendStatus::cpu()),
        _ => select_headless(backend).map_err(|e| format!("--backend {backend:?}: {e}"))?,
    };
    let report = match (&ctx, status.active) {
        (Some(ctx), ActiveBackend::Gpu) => bench_gpu(kind, n, iters, ctx)?,
        _ => bench_cpu(kind, n, iters)?,
    };
    let med = median(&report.samples_s);
    let min = report
        .samples_s
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let backend_name = match status.active {
        ActiveBackend::Cpu => "cpu",
        ActiveBackend::Gpu => "gpu",
    };
    if as_json {
        let out = json!({
            "kernel": report.kernel,
            "unit": report.unit,
            "n": report.n,
            "iters": iters,
            "backend": backend_name,
            "adapter": status.adapter.as_ref().map(|a| format!("{a:?}")),
            "backend_reason": status.reason,
            "threads": rayon::current_num_threads(),
            "seconds_per_iter_median": med,
            "seconds_per_iter_min": min,
            "seconds_per_iter": report.samples_s,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
    } else {
        println!(
            "bench {} (n = {}, {}) on {backend_name} ({} threads): median {:.3} ms, min {:.3} ms per iteration over {iters}",
            report.kernel,
            report.n,
            report.unit,
            rayon::current_num_threads(),
            med * 1e3,
            min * 1e3
        );
        if let Some(reason) = &status.reason {
            println!("  (CPU because: {reason})");
        }
    }
    Ok(())
}

/// A generous estimate of the bytes `divlab bench KIND --n N` allocates (both clouds, potentials or
/// gradients, f32 copies and per-thread scratch; for `grid`, N is the side of an N×N grid with K = 8).
pub fn memory_estimate_bytes(kind: BenchKind, n: usize) -> f64 {
    let n = n as f64;
    match kind {
        BenchKind::Sinkhorn => 256.0 * n,
        BenchKind::SinkhornFlow => 1024.0 * n,
        BenchKind::Mmd => 256.0 * n,
        // 64 slices of projections and sort indices of both clouds.
        BenchKind::Sliced => (64.0 * 48.0 + 256.0) * n,
        // Responsibilities n × K and the data.
        BenchKind::Em => (8.0 * 16.0 + 64.0) * n,
        // n² cells of log p, log q and K per-component partials.
        BenchKind::Grid => (8.0 * 24.0 + 64.0) * n * n,
    }
}

/// The memory this machine can give a process now (`MemAvailable` of /proc/meminfo on Linux; 4 GiB where
/// it cannot be read).
fn available_memory_bytes() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(4.0 * 1024.0 * 1024.0 * 1024.0, |kb| kb * 1024.0)
}

/// Refuses a size whose memory would exceed what the machine has, with the estimate.
fn check_memory(kind: BenchKind, n: usize) -> Result<(), String> {
    let need = memory_estimate_bytes(kind, n);
    let have = available_memory_bytes();
    if need > 0.8 * have {
        let gib = |b: f64| b / (1024.0 * 1024.0 * 1024.0);
        return Err(format!(
            "--n {n}: this benchmark would need about {:.1} GiB and the machine has {:.1} GiB available; \
             the largest n that fits is about {}",
            gib(need),
            gib(have),
            largest_fitting(kind, 0.8 * have)
        ));
    }
    Ok(())
}

fn largest_fitting(kind: BenchKind, bytes: f64) -> usize {
    let (mut lo, mut hi) = (1usize, 1usize << 40);
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if memory_estimate_bytes(kind, mid) <= bytes {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

fn bench_cpu(kind: BenchKind, n: Option<usize>, iters: usize) -> Result<Report, String> {
    let e = |e: divlab::core::error::CoreError| e.to_string();
    match kind {
        BenchKind::Sinkhorn => {
            let n = n.unwrap_or(4096);
            let (x, y) = clouds(n)?;
            let (a, b) = (vec![1.0 / n as f64; n], vec![1.0 / n as f64; n]);
            let (mut f, mut g) = (vec![0.0; n], vec![0.0; n]);
            let eps = 0.01;
            let samples = time_iters(iters, || {
                sinkhorn_half_iteration(&x, &y, &b, &g, eps, Precision::F32, &mut f).map_err(e)?;
                sinkhorn_half_iteration(&y, &x, &a, &f, eps, Precision::F32, &mut g).map_err(e)
            })?;
            Ok(Report {
                kernel: "sinkhorn",
                unit: format!(
                    "one iteration = f and g half-iterations, N = M, ε = {eps}, f32 online"
                ),
                n,
                samples_s: samples,
            })
        }
        BenchKind::Mmd => {
            let n = n.unwrap_or(2048);
            let (x, y) = clouds(n)?;
            let cfg = FlowConfig::Mmd {
                kernel: Kernel::Gaussian { sigma: 0.5 },
                step_size: 1e-3,
                noise_level: 0.0,
                adaptive_step: false,
                target_samples: n,
            };
            let mut flow = ParticleFlow::new(&cfg, x, SEED).map_err(e)?;
            let samples = time_iters(iters, || {
                flow.step(&FlowTarget::samples(&y)).map(|_| ()).map_err(e)
            })?;
            Ok(Report {
                kernel: "mmd",
                unit: "one MMD-flow step, Gaussian kernel, N = M".into(),
                n,
                samples_s: samples,
            })
        }
        BenchKind::Sliced => {
            let n = n.unwrap_or(100_000);
            let (x, y) = clouds(n)?;
            let slices = 64;
            let cfg = FlowConfig::SlicedRiesz {
                slices,
                step_size: 1e-3,
                target_samples: n,
            };
            let mut flow = ParticleFlow::new(&cfg, x, SEED).map_err(e)?;
            let samples = time_iters(iters, || {
                flow.step(&FlowTarget::samples(&y)).map(|_| ()).map_err(e)
            })?;
            Ok(Report {
                kernel: "sliced",
                unit: format!("one sliced Riesz (r = 1) flow step, P = {slices} slices, N = M"),
                n,
                samples_s: samples,
            })
        }
        BenchKind::SinkhornFlow => {
            let n = n.unwrap_or(4096);
            let (x, y) = clouds(n)?;
            let eps = 0.01;
            let cfg = FlowConfig::Sinkhorn {
                sinkhorn: SinkhornConfig {
                    epsilon: eps,
                    ..SinkhornConfig::default()
                },
                step_size: 0.1,
                target_samples: n,
            };
            let mut flow = ParticleFlow::new(&cfg, x, SEED).map_err(e)?;
            let mut iterations = Vec::new();
            let samples = time_iters(iters, || {
                let report = flow.step(&FlowTarget::samples(&y)).map_err(e)?;
                if let Some(d) = report.sinkhorn {
                    iterations.push(d.iterations_xy + d.iterations_xx + d.iterations_yy);
                }
                Ok(())
            })?;
            Ok(Report {
                kernel: "sinkhorn-flow",
                unit: format!(
                    "one Sinkhorn-divergence flow step, N = M, ε = {eps}, tolerance 1e-4, ε-scaling 0.7; \
                     Sinkhorn iterations per step (xy + xx + yy): {iterations:?}"
                ),
                n,
                samples_s: samples,
            })
        }
        BenchKind::Em => {
            let n = n.unwrap_or(20_000);
            let (data, mut q) = em_problem(n)?;
            let samples = time_iters(iters, || em_step(&data, &mut q).map(|_| ()).map_err(e))?;
            Ok(Report {
                kernel: "em",
                unit: "one EM iteration (E and M step), K = 8".into(),
                n,
                samples_s: samples,
            })
        }
        BenchKind::Grid => {
            let n = n.unwrap_or(256);
            let (target, q) = grid_problem()?;
            let objective = Objective::FDivergence {
                divergence: FDivKind::ReverseKl,
                estimator: Estimator::Grid { resolution: n },
            };
            let mut r = rng::seeded(SEED);
            let samples = time_iters(iters, || {
                objective
                    .value_and_grad(&target, &q, &mut r)
                    .map(|_| ())
                    .map_err(e)
            })?;
            Ok(Report {
                kernel: "grid",
                unit: format!(
                    "reverse-KL value and gradient by quadrature on an n×n grid, K = 8 (n = {n})"
                ),
                n,
                samples_s: samples,
            })
        }
    }
}

fn bench_gpu(
    kind: BenchKind,
    n: Option<usize>,
    iters: usize,
    ctx: &GpuContext,
) -> Result<Report, String> {
    let e = |e: divlab::gpu::context::GpuError| e.to_string();
    let ce = |e: divlab::core::error::CoreError| e.to_string();
    match kind {
        BenchKind::Sinkhorn => {
            let n = n.unwrap_or(4096);
            let (x, y) = clouds(n)?;
            let kernel = divlab::gpu::sinkhorn::GpuSinkhorn::new(ctx).map_err(e)?;
            let half = kernel
                .bench_half_iteration(ctx, &x, &y, 0.01, iters)
                .map_err(e)?;
            Ok(Report {
                kernel: "sinkhorn",
                unit: "one iteration = 2 × the timed f half-iteration, N = M, ε = 0.01".into(),
                n,
                samples_s: half.iter().map(|s| 2.0 * s).collect(),
            })
        }
        BenchKind::Mmd => {
            let n = n.unwrap_or(2048);
            let (x, y) = clouds(n)?;
            let kernel = divlab::gpu::mmd_flow::GpuMmd::new(ctx).map_err(e)?;
            let k = divlab::gpu::mmd_flow::GpuKernel::from(&Kernel::Gaussian { sigma: 0.5 });
            // A flow step needs the particle–target and particle–particle sums: two dispatches.
            let xy = kernel.bench_pair_sums(ctx, &x, &y, &k, iters).map_err(e)?;
            let xx = kernel.bench_pair_sums(ctx, &x, &x, &k, iters).map_err(e)?;
            Ok(Report {
                kernel: "mmd",
                unit:
                    "one MMD-flow step's kernel-gradient sums (x–y and x–x), Gaussian kernel, N = M"
                        .into(),
                n,
                samples_s: xy.iter().zip(&xx).map(|(a, b)| a + b).collect(),
            })
        }
        BenchKind::Em => {
            let n = n.unwrap_or(20_000);
            let (data, q) = em_problem(n)?;
            let kernel = divlab::gpu::em::GpuEm::new(ctx).map_err(e)?;
            let samples = kernel.bench_e_step(ctx, &data, &q, iters).map_err(e)?;
            Ok(Report {
                kernel: "em",
                unit: "one EM E-step with M-step sums (read back), K = 8".into(),
                n,
                samples_s: samples,
            })
        }
        BenchKind::Grid => {
            let n = n.unwrap_or(256);
            let (target, q) = grid_problem()?;
            let grid = Grid::square(target.bbox(), n).map_err(ce)?;
            let kernel = divlab::gpu::mixture_grid::GpuMixtureGrid::new(ctx).map_err(e)?;
            let samples = kernel.bench_log_density(ctx, &q, &grid, iters).map_err(e)?;
            Ok(Report {
                kernel: "grid",
                unit: format!("log q on an n×n grid, K = 8 (n = {n})"),
                n,
                samples_s: samples,
            })
        }
        BenchKind::Sliced | BenchKind::SinkhornFlow => {
            Err("this benchmark runs on the CPU core only".into())
        }
    }
}
