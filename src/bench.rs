//! `divlab bench`: seconds per iteration of the core's kernels (CPU, all cores through rayon) and of the GPU
//! kernels (`--backend gpu`; on a software adapter such as lavapipe these figures measure this machine's CPUs,
//! not a GPU). Each figure is the median over `--iters` timed iterations after one warm-up iteration.

use divlab::app::open_link_headless;
use divlab::assets::{BUNDLED, BUNDLED_PRESETS, claim_presets};
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
use divlab::run::{Loaded, Run, load};
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
    /// One full solve of plain Sinkhorn and of Sinkhorn with sparse Newton acceleration, same problem.
    Newton,
}

const SEED: u64 = 2026;

struct Report {
    kernel: &'static str,
    unit: String,
    n: usize,
    samples_s: Vec<f64>,
    /// Figures beside the timing (the Newton comparison's iteration counts), in the JSON as `extra`.
    extra: Option<serde_json::Value>,
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
        (BenchKind::Newton, BackendChoice::Gpu) => {
            return Err(format!(
                "bench newton --backend gpu: {}",
                divlab::gpu::sinkhorn::NEWTON_ON_CPU
            ));
        }
        (BenchKind::Newton, _) => (None, BackendStatus::cpu()),
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
            "extra": report.extra,
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
        if let Some(extra) = &report.extra {
            println!("  {extra}");
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
        // Potentials, marginals and the sparse Hessian's kept entries (12 bytes each, ⌈0.2 n⌉ a row).
        BenchKind::Newton => 512.0 * n + 2.5 * n * n,
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

/// Default size of `bench newton`.
const NEWTON_BENCH_N: usize = 1000;
/// ε of `bench newton`, relative to the squared diameter D² of both clouds.
const NEWTON_BENCH_EPS_REL: f64 = 1e-3;
/// Marginal tolerance of `bench newton`.
const NEWTON_BENCH_TOLERANCE: f64 = 1e-5;

/// One solve at ε = 1e-3·D², tolerance 1e-5, f32 sweeps, no ε-scaling: timed with Newton acceleration (the
/// samples), and once plain (in `extra`, with both iteration counts and the ratios).
fn bench_newton(n: usize, iters: usize) -> Result<Report, String> {
    use divlab::core::newton_ot::NewtonConfig;
    use divlab::core::sinkhorn::{sinkhorn, squared_diameter};
    let e = |e: divlab::core::error::CoreError| e.to_string();
    let (x, y) = clouds(n)?;
    let w = vec![1.0 / n as f64; n];
    let eps = NEWTON_BENCH_EPS_REL * squared_diameter(&x, &y);
    let plain_cfg = SinkhornConfig {
        epsilon: eps,
        scaling: None,
        max_iters: 1_000_000,
        tolerance: NEWTON_BENCH_TOLERANCE,
        precision: Precision::F32,
        newton: None,
    };
    let newton_cfg = SinkhornConfig {
        newton: Some(NewtonConfig::default()),
        ..plain_cfg.clone()
    };
    let t0 = Instant::now();
    let plain = sinkhorn(&x, &w, &y, &w, &plain_cfg).map_err(e)?;
    let plain_s = t0.elapsed().as_secs_f64();
    let mut newton = None;
    let samples = time_iters(iters, || {
        newton = Some(sinkhorn(&x, &w, &y, &w, &newton_cfg).map_err(e)?);
        Ok(())
    })?;
    let newton = newton.ok_or("no Newton solve ran")?;
    let newton_s = median(&samples);
    Ok(Report {
        kernel: "newton",
        unit: format!(
            "one solve with Newton acceleration, N = M, ε = {NEWTON_BENCH_EPS_REL}·D² = {eps:.3e}, \
             tolerance {NEWTON_BENCH_TOLERANCE}, f32 sweeps then f64 Newton, no ε-scaling"
        ),
        n,
        samples_s: samples,
        extra: Some(json!({
            "plain_iterations": plain.iterations,
            "plain_converged": plain.converged,
            "plain_marginal_error": plain.marginal_error,
            "plain_seconds": plain_s,
            "newton_iterations": newton.iterations,
            "newton_converged": newton.converged,
            "newton_marginal_error": newton.marginal_error,
            "newton_seconds_median": newton_s,
            "iteration_ratio_plain_over_newton": plain.iterations as f64 / newton.iterations.max(1) as f64,
            "time_ratio_newton_over_plain": newton_s / plain_s,
        })),
    })
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
                extra: None,
            })
        }
        BenchKind::Newton => bench_newton(n.unwrap_or(NEWTON_BENCH_N), iters),
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
                extra: None,
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
                extra: None,
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
                debiased: true,
            };
            // The flow's own path: each step warm-started from the previous one's potentials. The warm-up
            // step of `time_iters` is the cold first step (it also computes the cached OT_ε(β, β)).
            let mut flow = ParticleFlow::new(&cfg, x, SEED).map_err(e)?;
            let mut warm_iters = Vec::new();
            let samples = time_iters(iters, || {
                let report = flow.step(&FlowTarget::samples(&y)).map_err(e)?;
                if let Some(d) = report.sinkhorn {
                    warm_iters.push(format!(
                        "{} + {} + {} (marginal error {:.1e})",
                        d.iterations_xy, d.iterations_xx, d.iterations_yy, d.marginal_error
                    ));
                }
                Ok(())
            })?;
            // The same steps solved cold (full ε-scaling schedule, OT_ε(β, β) still cached), from the same
            // particles: what one step cost before the warm start.
            let cold_steps = iters.min(2);
            let mut cold_flow = flow.clone();
            let mut cold_iters = Vec::new();
            let mut cold_s = Vec::new();
            for _ in 0..cold_steps {
                cold_flow.forget_warm_start();
                let t0 = Instant::now();
                let report = cold_flow.step(&FlowTarget::samples(&y)).map_err(e)?;
                cold_s.push(t0.elapsed().as_secs_f64());
                if let Some(d) = report.sinkhorn {
                    cold_iters.push(format!(
                        "{} + {} + {} (marginal error {:.1e})",
                        d.iterations_xy, d.iterations_xx, d.iterations_yy, d.marginal_error
                    ));
                }
            }
            let cold = median(&cold_s);
            let warm = median(&samples);
            Ok(Report {
                kernel: "sinkhorn-flow",
                unit: format!(
                    "one warm-started Sinkhorn-divergence flow step, N = M, ε = {eps}, tolerance 1e-4, \
                     ε-scaling 0.7 (cold steps only); Sinkhorn iterations per step (xy + xx + yy): warm \
                     [{}], cold [{}]; a cold step from the same particles: median {:.1} ms over {cold_steps}, \
                     {:.1}× the warm step",
                    warm_iters.join(", "),
                    cold_iters.join(", "),
                    cold * 1e3,
                    cold / warm
                ),
                n,
                samples_s: samples,
                extra: None,
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
                extra: None,
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
                extra: None,
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
                extra: None,
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
                extra: None,
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
                extra: None,
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
                extra: None,
            })
        }
        BenchKind::Sliced | BenchKind::SinkhornFlow | BenchKind::Newton => {
            Err("this benchmark runs on the CPU core only".into())
        }
    }
}
// ---------------------------------------------------------------------------------------------
// `divlab bench preset NAME|all`: steps per second of what the app runs.

/// The longest one preset is timed on one backend; the steps left are not taken (the figure says how many
/// steps it covers).
pub const PRESET_TIME_CAP_S: f64 = 20.0;

/// A bundled preset's panels, as the app opens it.
struct PresetPanels {
    name: String,
    kind: &'static str,
    description: String,
    panels: Vec<Loaded>,
    /// The steps the app runs it to (the scenario's `steps`, a claim link's `until`).
    steps: usize,
}

/// The names `bench preset` accepts: the bundled scenarios, then the claim presets.
pub fn preset_names() -> Vec<&'static str> {
    BUNDLED
        .iter()
        .map(|(n, _)| *n)
        .chain(BUNDLED_PRESETS.iter().map(|(n, _)| *n))
        .collect()
}

fn preset_panels(name: &str) -> Result<PresetPanels, String> {
    if BUNDLED.iter().any(|(n, _)| *n == name) {
        let loaded = load::bundled(name).map_err(|e| e.to_string())?;
        return Ok(PresetPanels {
            name: name.to_owned(),
            kind: "scenario",
            description: loaded.scenario.description.clone(),
            steps: loaded.scenario.steps,
            panels: vec![loaded],
        });
    }
    let i = BUNDLED_PRESETS
        .iter()
        .position(|(n, _)| *n == name)
        .ok_or_else(|| {
            format!(
                "bench preset {name}: no bundled preset of that name (bundled: all, {})",
                preset_names().join(", ")
            )
        })?;
    let entry = claim_presets()
        .swap_remove(i)
        .map_err(|e| format!("bench preset {name}: {e}"))?;
    let linked =
        open_link_headless(&entry.link).map_err(|e| format!("bench preset {name}: {e}"))?;
    let panels = linked
        .panels
        .into_iter()
        .map(|s| load::from_scenario(s, name).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PresetPanels {
        name: name.to_owned(),
        kind: "claim",
        description: entry.claim,
        steps: linked.until,
        panels,
    })
}

/// One backend's figure for a preset: every panel stepped in lockstep, as the app's frames do.
#[derive(Debug, Clone, serde::Serialize)]
struct Timing {
    /// Lockstep steps taken (each advances every panel by one step).
    steps: usize,
    seconds: f64,
    steps_per_s: f64,
    first_step_s: f64,
    median_step_s: f64,
    slowest_step_s: f64,
    /// Each panel's median seconds per step (its share of a lockstep step), in panel order.
    panel_median_step_s: Vec<f64>,
    /// Set when the time cap or a stop ended the timing before the preset's steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_early: Option<String>,
}

fn time_runs(runs: &mut [Run], steps: usize) -> Timing {
    let mut per_step = Vec::with_capacity(steps);
    let mut per_panel: Vec<Vec<f64>> = vec![Vec::with_capacity(steps); runs.len()];
    let start = Instant::now();
    let mut ended_early = None;
    'steps: for k in 0..steps {
        let t0 = Instant::now();
        for (run, times) in runs.iter_mut().zip(per_panel.iter_mut()) {
            let t_panel = Instant::now();
            if let Err(stop) = run.step() {
                ended_early = Some(format!("a panel {stop}"));
                break 'steps;
            }
            times.push(t_panel.elapsed().as_secs_f64());
        }
        per_step.push(t0.elapsed().as_secs_f64());
        if k + 1 < steps && start.elapsed().as_secs_f64() > PRESET_TIME_CAP_S {
            ended_early = Some(format!(
                "timed for {PRESET_TIME_CAP_S} s: {} of {steps} steps",
                k + 1
            ));
            break;
        }
    }
    let seconds: f64 = per_step.iter().sum();
    Timing {
        steps: per_step.len(),
        seconds,
        steps_per_s: if seconds > 0.0 {
            per_step.len() as f64 / seconds
        } else {
            f64::NAN
        },
        first_step_s: per_step.first().copied().unwrap_or(f64::NAN),
        median_step_s: median(&per_step),
        slowest_step_s: per_step.iter().copied().fold(f64::NAN, f64::max),
        panel_median_step_s: per_panel.iter().map(|t| median(t)).collect(),
        ended_early,
    }
}

/// What the GPU column of a preset says.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum GpuFigure {
    /// `--backend cpu`: the GPU was not tried.
    NotAsked,
    NoAdapter {
        reason: String,
    },
    /// The run layer has no GPU twin for this method (the capability table's reason).
    NotWired {
        reason: String,
    },
    Measured {
        adapter: String,
        /// A software adapter (lavapipe, SwiftShader): the figure measures this machine's CPUs.
        software: bool,
        panels_on_gpu: usize,
        #[serde(flatten)]
        timing: Timing,
    },
}

impl GpuFigure {
    fn describe(&self) -> String {
        match self {
            Self::NotAsked => "GPU: not measured (--backend cpu)".to_owned(),
            Self::NoAdapter { reason } => format!("GPU: no adapter ({reason})"),
            Self::NotWired { reason } => format!("GPU: not wired for this method ({reason})"),
            Self::Measured {
                adapter,
                software,
                panels_on_gpu,
                timing,
            } => format!(
                "GPU{}: {} on {adapter}{}",
                if *panels_on_gpu > 1 {
                    format!(" ({panels_on_gpu} panels)")
                } else {
                    String::new()
                },
                describe_timing(timing),
                if *software {
                    " (a software adapter: this machine's CPUs)"
                } else {
                    ""
                }
            ),
        }
    }
}

fn describe_timing(t: &Timing) -> String {
    if t.steps == 0 {
        return format!(
            "no step completed ({})",
            t.ended_early.as_deref().unwrap_or("stopped")
        );
    }
    let mut s = format!(
        "{:.1} steps/s ({} steps in {:.2} s; first {:.1} ms, median {:.2} ms, slowest {:.1} ms per step)",
        t.steps_per_s,
        t.steps,
        t.seconds,
        t.first_step_s * 1e3,
        t.median_step_s * 1e3,
        t.slowest_step_s * 1e3
    );
    if t.panel_median_step_s.len() > 1 {
        let each: Vec<String> = t
            .panel_median_step_s
            .iter()
            .enumerate()
            .map(|(i, m)| format!("{} {:.2} ms", char::from(b'A' + i as u8), m * 1e3))
            .collect();
        s.push_str(&format!("; median per panel: {}", each.join(", ")));
    }
    if let Some(why) = &t.ended_early {
        s.push_str(&format!(" [{why}]"));
    }
    s
}

fn new_runs(
    p: &PresetPanels,
    choice: BackendChoice,
    device: Result<&GpuContext, &str>,
) -> Result<Vec<Run>, String> {
    p.panels
        .iter()
        .map(|l| Run::new(l, choice, device).map_err(|e| format!("bench preset {}: {e}", p.name)))
        .collect()
}

/// `divlab bench preset NAME|all [--steps K] [--json] [--backend cpu|gpu|auto]`: steps per second of each
/// bundled preset at its default size through the run layer (`run::Run`, the app's and the CLI's path), on
/// the CPU core and, unless `--backend cpu`, on the GPU where the run layer has a GPU twin for the method.
/// Every panel of a claim preset is stepped in lockstep, as the app does; a step is one step of every panel.
pub fn bench_preset(
    name: &str,
    steps: Option<usize>,
    as_json: bool,
    backend: BackendChoice,
) -> Result<(), String> {
    let names: Vec<String> = if name == "all" {
        preset_names().iter().map(|n| (*n).to_owned()).collect()
    } else {
        vec![name.to_owned()]
    };
    let presets = names
        .iter()
        .map(|n| preset_panels(n))
        .collect::<Result<Vec<_>, _>>()?;
    let device: Result<GpuContext, String> = match backend {
        BackendChoice::Cpu => Err(String::new()),
        _ => match select_headless(backend) {
            Ok((Some(ctx), _)) => Ok(ctx),
            Ok((None, status)) => Err(status.reason.unwrap_or_else(|| "none found".to_owned())),
            Err(e) if backend == BackendChoice::Gpu => return Err(format!("--backend gpu: {e}")),
            Err(e) => Err(e.to_string()),
        },
    };
    let threads = rayon::current_num_threads();
    let mut out = Vec::new();
    for p in &presets {
        let steps = steps.unwrap_or(p.steps);
        let mut cpu = new_runs(p, BackendChoice::Cpu, Err("the CPU core is timed first"))?;
        let cpu_timing = time_runs(&mut cpu, steps);
        drop(cpu);
        let gpu = match (&device, backend) {
            (_, BackendChoice::Cpu) => GpuFigure::NotAsked,
            (Err(reason), _) => GpuFigure::NoAdapter {
                reason: reason.clone(),
            },
            (Ok(ctx), _) => {
                let mut runs = new_runs(p, BackendChoice::Auto, Ok(ctx))?;
                let on_gpu = runs.iter().filter(|r| r.placement().is_gpu()).count();
                if on_gpu == 0 {
                    GpuFigure::NotWired {
                        reason: runs
                            .first()
                            .and_then(|r| r.placement().reason.clone())
                            .unwrap_or_else(|| "the capability table says the CPU".to_owned()),
                    }
                } else {
                    let timing = time_runs(&mut runs, steps);
                    GpuFigure::Measured {
                        adapter: ctx.adapter.to_string(),
                        software: ctx.adapter.is_software,
                        panels_on_gpu: on_gpu,
                        timing,
                    }
                }
            }
        };
        if as_json {
            out.push(json!({
                "preset": p.name,
                "kind": p.kind,
                "description": p.description,
                "panels": p.panels.len(),
                "steps_asked": steps,
                "cpu": cpu_timing,
                "gpu": gpu,
            }));
        } else {
            println!(
                "bench preset {} ({}, {} panel{}, {threads} threads)\n  CPU: {}\n  {}",
                p.name,
                p.kind,
                p.panels.len(),
                if p.panels.len() == 1 { "" } else { "s" },
                describe_timing(&cpu_timing),
                gpu.describe()
            );
        }
    }
    if as_json {
        let v = json!({ "threads": threads, "time_cap_s": PRESET_TIME_CAP_S, "presets": out });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
    }
    Ok(())
}
