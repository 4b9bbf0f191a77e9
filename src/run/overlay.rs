//! What the app's overlays and plots draw, computed from a [`Run`] (or from core types): the Sinkhorn plan
//! and its dual potential, the MMD witness, contour lines of a field on a grid, the model's density
//! contours, the particles' displacements, the spread of a Monte Carlo gradient, the generator f of an
//! f-divergence with the histogram of the density ratio under the current fit, and the nearest-neighbour
//! ratio p/q at each model point.
//!
//! # Conventions
//! - Data coordinates (the scene's length units) everywhere; fields are on a [`Grid`] over the target's
//!   box, row-major with row 0 at `y_min` (see [`crate::core::grid`]).
//! - Every function returns `Err(reason)` with a sentence the UI can show when the overlay does not apply
//!   (a mixture has no displacements, a grid estimator has no gradient spread, …).
//! - Deterministic: a sample of q or of the target is drawn from `rng::substream(seed, 2⁶² + k)` with the
//!   scenario's seed and a fixed k per use (the same noise at every step, so pictures move smoothly as the
//!   model does); these streams meet neither the steps' (1, 2, …) nor the battery's (2⁶³ + i).
//! - Each function's doc states its cost; the defaults keep every overlay well under a frame's budget for
//!   the bundled scenarios (measured in `tests::timings`, run with `--ignored --nocapture`).

use crate::core::fdiv::{Estimator, FDivKind, mc_gradient_spread};
use crate::core::fit::Objective;
use crate::core::flows::FlowConfig;
use crate::core::grid::{BBox, Grid};
use crate::core::knn::{NeighbourRatio, neighbour_ratios};
use crate::core::math::{Vec2, display_number};
use crate::core::measure::{MeasureSettings, kernel_sigma, sinkhorn_epsilon};
use crate::core::mixture::{Mixture, PARAMS_PER_COMPONENT};
use crate::core::mmd::Kernel;
use crate::core::newton_ot::NewtonConfig;
use crate::core::plan::{mmd_witness_on_grid, plan_view, potentials_on_grid};
use crate::core::rng::substream;
use crate::core::scenario::Method;
use crate::core::sim::ModelView;
use crate::core::sinkhorn::{SinkhornConfig, SinkhornResult, sinkhorn};
use crate::core::target::DensityTarget;

use super::Run;

/// An overlay's result: the data, or why the overlay does not apply to this run.
pub type OverlayResult<T> = Result<T, String>;

/// First stream of the overlays' draws (`substream(seed, OVERLAY_STREAM + k)`).
pub const OVERLAY_STREAM: u64 = 1 << 62;
const STREAM_MODEL_SAMPLE: u64 = OVERLAY_STREAM;
const STREAM_TARGET_SAMPLE: u64 = OVERLAY_STREAM + 1;
const STREAM_GRADIENT_SPREAD: u64 = OVERLAY_STREAM + 2;
const STREAM_RATIO_SAMPLE: u64 = OVERLAY_STREAM + 3;

/// Default most points per cloud of the plan and witness overlays.
pub const DEFAULT_MAX_POINTS: usize = 300;
/// Couplings lighter than this fraction of the heaviest drawn one are left out of the plan overlay.
pub const MIN_SEGMENT_MASS: f64 = 1e-3;
/// Default couplings drawn per model point in the plan overlay.
pub const DEFAULT_TOP_K: usize = 3;
/// Largest grid side of the witness overlay (and its default).
pub const MAX_WITNESS_RESOLUTION: usize = 64;
/// Default grid side of the density contours and of the dual potential.
pub const DEFAULT_FIELD_RESOLUTION: usize = 96;

// ---------------------------------------------------------------------------------------------------------
// Point clouds

/// Where the points of a [`Cloud`] come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointSource {
    /// The run's particles, subsampled evenly.
    Particles,
    /// A seeded sample of the mixture q.
    ModelSample,
    /// The fixed points the run's method uses (a flow's target samples, EM's data, a sample target's
    /// points), subsampled evenly.
    TargetPoints,
    /// A seeded sample of the target's density.
    TargetSample,
}

impl PointSource {
    /// Words for a legend, e.g. "particles", "a sample of q".
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Particles => "particles",
            Self::ModelSample => "a sample of q",
            Self::TargetPoints => "the run's target points",
            Self::TargetSample => "a sample of p",
        }
    }
}

/// Points with uniform weights, and where they come from.
#[derive(Debug, Clone, PartialEq)]
pub struct Cloud {
    pub points: Vec<Vec2>,
    pub source: PointSource,
    /// How many points there were before subsampling (the sample size for a sample).
    pub of: usize,
}

impl Cloud {
    /// "300 points (particles)", or "100 of 300 points (particles)" when subsampled.
    pub fn count_words(&self) -> String {
        let n = self.points.len();
        if self.of > n {
            format!("{n} of {} points ({})", self.of, self.source.describe())
        } else {
            format!("{n} points ({})", self.source.describe())
        }
    }

    fn uniform_weights(&self) -> Vec<f64> {
        vec![1.0 / self.points.len().max(1) as f64; self.points.len()]
    }
}

/// At most `max` of `points`, evenly spaced in index (`points[⌊i·n/max⌋]`), all of them if there are no
/// more than `max`. O(max).
pub fn subsample_evenly(points: &[Vec2], max: usize) -> Vec<Vec2> {
    let n = points.len();
    if n <= max {
        return points.to_vec();
    }
    (0..max).map(|i| points[i * n / max]).collect()
}

/// The model as at most `max_points` points: the particles subsampled evenly, or a seeded sample of the
/// mixture (the same noise at every step). O(max_points · K).
pub fn model_cloud(run: &Run, max_points: usize) -> OverlayResult<Cloud> {
    if max_points == 0 {
        return Err("no points asked for".into());
    }
    Ok(match run.model() {
        ModelView::Particles(p) => Cloud {
            points: subsample_evenly(p, max_points),
            source: PointSource::Particles,
            of: p.len(),
        },
        ModelView::Mixture(q) => {
            let mut rng = substream(run.scenario().seed, STREAM_MODEL_SAMPLE);
            Cloud {
                points: q.sample(max_points, &mut rng),
                source: PointSource::ModelSample,
                of: max_points,
            }
        }
    })
}

/// The target as at most `max_points` points: the run's target points subsampled evenly where the method
/// has them, else a seeded sample of the target (the same at every step). O(max_points).
pub fn target_cloud(run: &Run, max_points: usize) -> OverlayResult<Cloud> {
    if max_points == 0 {
        return Err("no points asked for".into());
    }
    let own = run.target_points();
    if !own.is_empty() {
        return Ok(Cloud {
            points: subsample_evenly(own, max_points),
            source: PointSource::TargetPoints,
            of: own.len(),
        });
    }
    let mut rng = substream(run.scenario().seed, STREAM_TARGET_SAMPLE);
    let points = run.target().sample(max_points, &mut rng);
    if points.is_empty() {
        return Err("the target gave no points".into());
    }
    Ok(Cloud {
        of: points.len(),
        points,
        source: PointSource::TargetSample,
    })
}

/// A scalar field on a grid (row-major, row 0 at `y_min`).
#[derive(Debug, Clone, PartialEq)]
pub struct GridField {
    pub grid: Grid,
    pub values: Vec<f64>,
}

impl GridField {
    /// The smallest and largest finite value, if any.
    pub fn finite_range(&self) -> Option<(f64, f64)> {
        finite_range(&self.values)
    }
}

fn finite_range(values: &[f64]) -> Option<(f64, f64)> {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, &v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

fn square_grid(bbox: BBox, resolution: usize) -> OverlayResult<Grid> {
    Grid::square(bbox, resolution).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------------------
// Sinkhorn plan

/// Where the plan overlay's ε comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpsilonSource {
    /// The run's Sinkhorn flow or Sinkhorn objective (its whole solver configuration is used).
    Run,
    /// The battery's ε = (5% of the target box's smaller side)² ([`sinkhorn_epsilon`]), for any other method.
    Battery,
}

/// One drawn coupling: mass sent from a model point to a target point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanSegment {
    /// Index of the model point in [`PlanOverlay::model`].
    pub source: usize,
    pub from: Vec2,
    pub to: Vec2,
    /// πᵢⱼ divided by the largest drawn πᵢⱼ, in (0, 1].
    pub mass: f64,
}

/// The entropic transport plan between the model and the target, drawable (see [`plan_overlay`]).
#[derive(Debug, Clone)]
pub struct PlanOverlay {
    /// ε of the plain (not debiased) OT_ε problem solved, cost |x − y|² (squared length units).
    pub epsilon: f64,
    pub epsilon_source: EpsilonSource,
    /// The model's points (sources x, uniform weights).
    pub model: Cloud,
    /// The target's points (y, uniform weights).
    pub target: Cloud,
    /// Couplings kept per model point.
    pub top_k: usize,
    /// The `top_k` largest couplings of each model point, model point by model point, largest first,
    /// leaving out those below [`MIN_SEGMENT_MASS`] of the largest (invisible).
    pub segments: Vec<PlanSegment>,
    /// `[xᵢ, T(xᵢ)]` for each model point, T the barycentric map Σⱼ πᵢⱼ yⱼ / Σⱼ πᵢⱼ.
    pub barycentric: Vec<[Vec2; 2]>,
    /// The dual value OT_ε (cost units).
    pub cost: f64,
    /// Whether Sinkhorn reached its marginal tolerance, with the iterations and the error.
    pub converged: bool,
    pub iterations: usize,
    pub marginal_error: f64,
    solution: SinkhornResult,
}

impl PlanOverlay {
    /// A legend line, e.g. "entropic OT plan (ε = 0.05, the run's): 3 strongest couplings of each of 300
    /// points (particles) to 300 points (the run's target points); converged in 41 iterations".
    pub fn describe(&self) -> String {
        let eps_from = match self.epsilon_source {
            EpsilonSource::Run => "the run's",
            EpsilonSource::Battery => "the battery's",
        };
        let conv = if self.converged {
            format!("converged in {} iterations", self.iterations)
        } else {
            format!(
                "not converged after {} iterations (marginal error {})",
                self.iterations,
                display_number(self.marginal_error)
            )
        };
        format!(
            "entropic OT plan (ε = {}, {eps_from}): {} strongest couplings of each of {} to {}; {conv}",
            display_number(self.epsilon),
            self.top_k,
            self.model.count_words(),
            self.target.count_words(),
        )
    }

    /// The dual potential f extended to the grid's cell centres by the soft c-transform of g,
    /// f(z) = −ε log Σⱼ bⱼ exp((gⱼ − |z − yⱼ|²)/ε) (cost units; equal to fᵢ at the model points once
    /// converged). O(cells · M) in f64.
    pub fn potential_on_grid(&self, grid: &Grid) -> OverlayResult<GridField> {
        let a = self.model.uniform_weights();
        let b = self.target.uniform_weights();
        let (f, _) = potentials_on_grid(
            grid,
            &self.model.points,
            &a,
            &self.target.points,
            &b,
            &self.solution,
        )
        .map_err(|e| e.to_string())?;
        Ok(GridField {
            grid: *grid,
            values: f,
        })
    }
}

/// The Sinkhorn configuration of the run's method (its ε, ε-scaling, iterations and tolerance), or the
/// battery's ε with ε-scaling 0.7, at most [`BATTERY_PLAN_MAX_ITERS`] iterations and a tolerance of
/// [`BATTERY_PLAN_TOLERANCE`].
pub fn plan_config(run: &Run) -> (SinkhornConfig, EpsilonSource) {
    match &run.scenario().method {
        Method::Flow {
            flow: FlowConfig::Sinkhorn { sinkhorn, .. },
        }
        | Method::Gradient {
            objective: Objective::Sinkhorn {
                config: sinkhorn, ..
            },
            ..
        } => (sinkhorn.clone(), EpsilonSource::Run),
        _ => (
            SinkhornConfig {
                epsilon: sinkhorn_epsilon(run.target()),
                max_iters: BATTERY_PLAN_MAX_ITERS,
                tolerance: BATTERY_PLAN_TOLERANCE,
                ..SinkhornConfig::default()
            },
            EpsilonSource::Battery,
        ),
    }
}

/// Most Sinkhorn iterations of the plan overlay where the run has no solver of its own (a picture, not a
/// measurement: the legend says whether it converged).
pub const BATTERY_PLAN_MAX_ITERS: usize = 100;
/// Marginal tolerance (L1) of the plan overlay where the run has no solver of its own.
pub const BATTERY_PLAN_TOLERANCE: f64 = 1e-3;

/// The plan overlay of a run: model and target clouds of at most `max_points` each ([`model_cloud`],
/// [`target_cloud`]), plain Sinkhorn OT_ε between them with [`plan_config`], then the `top_k` strongest
/// couplings and the barycentric map of each model point. Cost: the solver's iterations × O(N·M) plus
/// O(N·M) for the view, N, M ≤ `max_points` (300 by default: tens of milliseconds).
pub fn plan_overlay(run: &Run, max_points: usize, top_k: usize) -> OverlayResult<PlanOverlay> {
    plan_inputs(run, max_points)?.solve(top_k)
}

/// What [`plan_overlay`] needs from a run, owned (a snapshot that another thread can solve while the run
/// goes on): the two clouds and the solver's configuration. Cost: that of the clouds, O(max_points · K).
#[derive(Debug, Clone)]
pub struct PlanInputs {
    pub model: Cloud,
    pub target: Cloud,
    pub config: SinkhornConfig,
    pub epsilon_source: EpsilonSource,
}

/// The snapshot [`plan_overlay`] solves: [`model_cloud`], [`target_cloud`] and [`plan_config`].
pub fn plan_inputs(run: &Run, max_points: usize) -> OverlayResult<PlanInputs> {
    let (config, epsilon_source) = plan_config(run);
    Ok(PlanInputs {
        model: model_cloud(run, max_points)?,
        target: target_cloud(run, max_points)?,
        config,
        epsilon_source,
    })
}

impl PlanInputs {
    /// [`plan_between`] these clouds: the dear part of [`plan_overlay`].
    pub fn solve(self, top_k: usize) -> OverlayResult<PlanOverlay> {
        plan_between(
            self.model,
            self.target,
            &self.config,
            self.epsilon_source,
            top_k,
        )
    }
}

/// [`plan_overlay`] between given clouds (sources `model`, targets `target`, uniform weights).
pub fn plan_between(
    model: Cloud,
    target: Cloud,
    cfg: &SinkhornConfig,
    epsilon_source: EpsilonSource,
    top_k: usize,
) -> OverlayResult<PlanOverlay> {
    if model.points.is_empty() || target.points.is_empty() {
        return Err("the transport plan needs points on both sides".into());
    }
    let (x, y) = (&model.points, &target.points);
    let (a, b) = (model.uniform_weights(), target.uniform_weights());
    let sol = sinkhorn(x, &a, y, &b, cfg).map_err(|e| e.to_string())?;
    let view = plan_view(x, &a, y, &b, &sol, top_k).map_err(|e| e.to_string())?;
    let largest = view
        .top_k
        .iter()
        .flatten()
        .map(|c| c.mass)
        .fold(0.0, f64::max);
    if largest <= 0.0 || !largest.is_finite() {
        return Err("the transport plan has no mass to draw".into());
    }
    let segments = x
        .iter()
        .zip(&view.top_k)
        .enumerate()
        .flat_map(|(i, (xi, top))| {
            top.iter().map(move |c| PlanSegment {
                source: i,
                from: *xi,
                to: y[c.target],
                mass: c.mass / largest,
            })
        })
        .filter(|s| s.mass >= MIN_SEGMENT_MASS)
        .collect();
    let barycentric = x
        .iter()
        .zip(&view.barycentric)
        .map(|(p, t)| [*p, *t])
        .collect();
    Ok(PlanOverlay {
        epsilon: sol.epsilon,
        epsilon_source,
        top_k: top_k.min(y.len()),
        segments,
        barycentric,
        cost: sol.cost_value,
        converged: sol.converged,
        iterations: sol.iterations,
        marginal_error: sol.marginal_error,
        model,
        target,
        solution: sol,
    })
}

// ---------------------------------------------------------------------------------------------------------
// Sinkhorn solver comparison

/// One solver's convergence on the comparison's problem.
#[derive(Debug, Clone, PartialEq)]
pub struct SolverRun {
    /// "plain Sinkhorn", "Sinkhorn + sparse Newton".
    pub label: &'static str,
    pub iterations: usize,
    pub converged: bool,
    pub marginal_error: f64,
    /// The L1 marginal error after each iteration ([`SinkhornResult::trace`]).
    pub trace: Vec<f64>,
    /// Wall-clock seconds of the solve on this machine (a figure for comparison, not a benchmark).
    pub seconds: f64,
    /// The dual value OT_ε (cost units).
    pub cost: f64,
}

/// Plain Sinkhorn and Sinkhorn with sparse Newton acceleration on the same OT_ε problem (the plan overlay's
/// clouds and the run's solver settings, see [`solver_comparison`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SolverComparison {
    pub epsilon: f64,
    pub epsilon_source: EpsilonSource,
    /// ε-scaling of both solves (`None`: they start at ε).
    pub scaling: Option<f64>,
    pub tolerance: f64,
    /// The Newton stage's settings (the run's, or the defaults when the run has none).
    pub newton: NewtonConfig,
    pub model: Cloud,
    pub target: Cloud,
    pub plain: SolverRun,
    pub accelerated: SolverRun,
}

impl SolverComparison {
    /// "ε = 0.006 (the run's), tolerance 0.01, no ε-scaling; from 100 points (particles) to 100 points (the run's
    /// target points)".
    pub fn describe(&self) -> String {
        let source = match self.epsilon_source {
            EpsilonSource::Run => "the run's",
            EpsilonSource::Battery => "the battery's: this run has no Sinkhorn solver",
        };
        let scaling = match self.scaling {
            Some(s) => format!("ε-scaling {}", display_number(s)),
            None => "no ε-scaling".to_owned(),
        };
        format!(
            "ε = {} ({source}), tolerance {}, {scaling}; from {} to {}",
            display_number(self.epsilon),
            display_number(self.tolerance),
            self.model.count_words(),
            self.target.count_words()
        )
    }
}

/// Solves OT_ε between the plan overlay's clouds ([`plan_inputs`]) twice with the run's solver settings
/// ([`plan_config`]): once plain, once with sparse Newton acceleration (the run's `newton` settings, or
/// [`NewtonConfig::default`]). Cost: both solves, each up to the configuration's `max_iters` × O(N·M),
/// N, M ≤ `max_points`.
pub fn solver_comparison(run: &Run, max_points: usize) -> OverlayResult<SolverComparison> {
    plan_inputs(run, max_points)?.compare_solvers()
}

impl PlanInputs {
    /// [`solver_comparison`] on these clouds: the dear part, for another thread.
    pub fn compare_solvers(self) -> OverlayResult<SolverComparison> {
        if self.model.points.is_empty() || self.target.points.is_empty() {
            return Err("the solver comparison needs points on both sides".into());
        }
        let (x, y) = (&self.model.points, &self.target.points);
        let (a, b) = (self.model.uniform_weights(), self.target.uniform_weights());
        let newton = self.config.newton.clone().unwrap_or_default();
        let solve = |label: &'static str, cfg: &SinkhornConfig| -> OverlayResult<SolverRun> {
            let t0 = web_time::Instant::now();
            let r = sinkhorn(x, &a, y, &b, cfg).map_err(|e| format!("{label}: {e}"))?;
            Ok(SolverRun {
                label,
                iterations: r.iterations,
                converged: r.converged,
                marginal_error: r.marginal_error,
                trace: r.trace,
                seconds: t0.elapsed().as_secs_f64(),
                cost: r.cost_value,
            })
        };
        let plain = solve(
            "plain Sinkhorn",
            &SinkhornConfig {
                newton: None,
                ..self.config.clone()
            },
        )?;
        let accelerated = solve(
            "Sinkhorn + sparse Newton",
            &SinkhornConfig {
                newton: Some(newton.clone()),
                ..self.config.clone()
            },
        )?;
        Ok(SolverComparison {
            epsilon: self.config.epsilon,
            epsilon_source: self.epsilon_source,
            scaling: self.config.scaling,
            tolerance: self.config.tolerance,
            newton,
            model: self.model,
            target: self.target,
            plain,
            accelerated,
        })
    }
}

// ---------------------------------------------------------------------------------------------------------
// MMD witness

/// Where the witness overlay's kernel comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelSource {
    /// The run's MMD flow or MMD objective (a sliced Riesz flow or sliced energy objective: the Riesz
    /// kernel r = 1 whose MMD² it estimates).
    Run,
    /// A Gaussian kernel with the battery's σ = 10% of the target box's smaller side ([`kernel_sigma`]).
    Battery,
}

/// The MMD witness between the model and the target on a grid (see [`witness_overlay`]).
#[derive(Debug, Clone, PartialEq)]
pub struct WitnessOverlay {
    /// w(z) = (1/N) Σᵢ k(z, xᵢ) − (1/M) Σⱼ k(z, yⱼ): positive where the model has more mass than the
    /// target (at the kernel's scale), negative where it has less. Units of the kernel (dimensionless).
    pub field: GridField,
    pub kernel: Kernel,
    pub kernel_source: KernelSource,
    pub model: Cloud,
    pub target: Cloud,
}

/// The kernel of the run's MMD method, or the battery's Gaussian.
pub fn witness_kernel(run: &Run) -> (Kernel, KernelSource) {
    match &run.scenario().method {
        Method::Flow {
            flow: FlowConfig::Mmd { kernel, .. },
        }
        | Method::Gradient {
            objective: Objective::Mmd { kernel, .. },
            ..
        } => (*kernel, KernelSource::Run),
        Method::Gradient {
            objective: Objective::MmdGaussianClosedForm { sigma },
            ..
        } => (Kernel::Gaussian { sigma: *sigma }, KernelSource::Run),
        Method::Flow {
            flow: FlowConfig::SlicedRiesz { .. },
        }
        | Method::Gradient {
            objective: Objective::SlicedEnergy { .. },
            ..
        } => (Kernel::Riesz { r: 1.0 }, KernelSource::Run),
        _ => (
            Kernel::Gaussian {
                sigma: kernel_sigma(run.target()),
            },
            KernelSource::Battery,
        ),
    }
}

/// The MMD witness of a run on a `resolution²` grid over the target's box (`resolution` clamped to
/// 1..=[`MAX_WITNESS_RESOLUTION`]), between clouds of at most `max_points` each, with [`witness_kernel`].
/// Cost: O(resolution² · (N + M)) kernel evaluations (64² · 600 ≈ 2.5 M by default: a few milliseconds).
pub fn witness_overlay(
    run: &Run,
    max_points: usize,
    resolution: usize,
) -> OverlayResult<WitnessOverlay> {
    let (kernel, kernel_source) = witness_kernel(run);
    let model = model_cloud(run, max_points)?;
    let target = target_cloud(run, max_points)?;
    let n = resolution.clamp(1, MAX_WITNESS_RESOLUTION);
    let grid = square_grid(run.target().bbox(), n)?;
    let values = mmd_witness_on_grid(
        &grid,
        &model.points,
        &model.uniform_weights(),
        &target.points,
        &target.uniform_weights(),
        &kernel,
    )
    .map_err(|e| e.to_string())?;
    Ok(WitnessOverlay {
        field: GridField { grid, values },
        kernel,
        kernel_source,
        model,
        target,
    })
}

// ---------------------------------------------------------------------------------------------------------
// Contours

/// The contour lines of one level.
#[derive(Debug, Clone, PartialEq)]
pub struct ContourLevel {
    pub level: f64,
    /// Polylines in data coordinates; a closed one repeats its first point at the end.
    pub lines: Vec<Vec<Vec2>>,
}

/// Contour lines of `values` (row-major on `grid`, row 0 at `y_min`) at each of `levels`, in data
/// coordinates, by marching squares with linear interpolation between cell centres (the `contour` crate,
/// a port of d3-contour, rather than a hand-written one).
///
/// Conventions: a line separates centres with values ≥ level from those below. Where a level set leaves
/// the grid, the crate closes it along the grid's edge; those edge pieces are not level lines and are cut
/// off, so such a line ends at its last crossing between two centres (within half a cell of the edge).
/// NaN and −∞ count as below every level, +∞ as above. Cost: O(cells) per level.
pub fn contour_lines(
    values: &[f64],
    grid: &Grid,
    levels: &[f64],
) -> OverlayResult<Vec<ContourLevel>> {
    let (nx, ny) = (grid.nx, grid.ny);
    if values.len() != nx * ny {
        return Err(format!(
            "contours: {} values for a {nx} × {ny} grid",
            values.len()
        ));
    }
    if nx < 2 || ny < 2 {
        return Err("contours need a grid of at least 2 × 2 cells".into());
    }
    let levels: Vec<f64> = levels.iter().copied().filter(|l| l.is_finite()).collect();
    // Non-finite values to finite ones outside every level (the crate interpolates between values).
    let (lo, hi) = finite_range(
        values
            .iter()
            .chain(&levels)
            .copied()
            .collect::<Vec<_>>()
            .as_slice(),
    )
    .unwrap_or((0.0, 0.0));
    let span = (hi - lo).abs().max(1.0);
    let clean: Vec<f64> = values
        .iter()
        .map(|&v| {
            if v.is_finite() {
                v
            } else if v == f64::INFINITY {
                hi + span
            } else {
                lo - span
            }
        })
        .collect();
    let builder = contour::ContourBuilder::new(nx, ny, true);
    let lines = builder
        .lines(&clean, &levels)
        .map_err(|e| format!("contours: {e:?}"))?;
    let (x0, y0, dx, dy) = (grid.bbox.x_min, grid.bbox.y_min, grid.dx(), grid.dy());
    let (fx, fy) = (nx as f64, ny as f64);
    let on_edge = |p: &contour::Pt| p.x <= 0.0 || p.y <= 0.0 || p.x >= fx || p.y >= fy;
    let to_data = |p: &contour::Pt| [x0 + p.x * dx, y0 + p.y * dy];
    Ok(lines
        .into_iter()
        .map(|line| {
            let level = line.threshold();
            let mut out = Vec::new();
            for ring in &line.geometry().0 {
                let pts = &ring.0;
                let Some(start) = pts.iter().position(on_edge) else {
                    if pts.len() >= 2 {
                        out.push(pts.iter().map(to_data).collect());
                    }
                    continue;
                };
                // A ring that touches the edge: walk it once from an edge point, cutting at edge points.
                let closed = pts.len() > 1 && pts.first() == pts.last();
                let n = if closed { pts.len() - 1 } else { pts.len() };
                let mut run: Vec<Vec2> = Vec::new();
                for k in 0..n {
                    let p = &pts[(start + k) % n];
                    if on_edge(p) {
                        if run.len() >= 2 {
                            out.push(std::mem::take(&mut run));
                        }
                        run.clear();
                    } else {
                        run.push(to_data(p));
                    }
                }
                if run.len() >= 2 {
                    out.push(run);
                }
            }
            ContourLevel { level, lines: out }
        })
        .collect())
}

/// About `n` round levels (1, 2 or 5 × 10ᵏ apart) strictly between `min` and `max`, ascending; empty if
/// the range is empty or not finite. O(n).
pub fn nice_levels(min: f64, max: f64, n: usize) -> Vec<f64> {
    if !(min.is_finite() && max.is_finite()) || max <= min || n == 0 {
        return Vec::new();
    }
    let raw = (max - min) / (n as f64 + 1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (min / step).floor() as i64 + 1;
    let last = (max / step).ceil() as i64 - 1;
    (first..=last)
        .map(|k| k as f64 * step)
        .filter(|l| *l > min && *l < max)
        .collect()
}

/// For each fraction f in (0, 1), the density level whose super-level set {q ≥ level} holds mass f on the
/// grid (the highest-density region of mass f: the level is that of the cell at which the cumulative mass
/// of the cells, densest first, reaches f), or `None` when the grid holds less than f in all. `values` are
/// densities (≥ 0) on cells of area `cell_area`. O(cells · log cells).
pub fn mass_levels(values: &[f64], cell_area: f64, fractions: &[f64]) -> Vec<Option<f64>> {
    let mut sorted: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    sorted.sort_unstable_by(|a, b| b.total_cmp(a));
    let mut cumulative = Vec::with_capacity(sorted.len());
    let mut acc = 0.0;
    for v in &sorted {
        acc += v * cell_area;
        cumulative.push(acc);
    }
    fractions
        .iter()
        .map(|&f| {
            if !(f > 0.0 && f < 1.0) {
                return None;
            }
            let i = cumulative.partition_point(|&c| c < f);
            sorted.get(i).copied()
        })
        .collect()
}

/// A level of [`DensityContours`]: the region {q ≥ level} holds `fraction` of q's mass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MassLevel {
    pub fraction: f64,
    /// Density (1 / area units).
    pub level: f64,
}

/// Contours of the mixture's density enclosing given fractions of its mass.
#[derive(Debug, Clone, PartialEq)]
pub struct DensityContours {
    /// q on the grid (density, 1 / area units).
    pub field: GridField,
    /// The levels found, in the order of the fractions asked for (a fraction the box does not hold is
    /// left out).
    pub levels: Vec<MassLevel>,
    /// Contour lines of `field` at `levels`, in the same order.
    pub lines: Vec<ContourLevel>,
    /// ∫_box q by the midpoint rule.
    pub mass_in_box: f64,
}

/// The fractions of mass the model's density contours enclose by default: 50% and 90%.
pub const DEFAULT_MASS_FRACTIONS: [f64; 2] = [0.5, 0.9];

/// q on a `resolution²` grid over `bbox` and its contours enclosing each of `fractions` of q's mass
/// ([`mass_levels`]; q's total mass is 1, so a fraction beyond what the box holds is left out). Cost:
/// O(resolution² · K) density evaluations plus a sort; 96² cells by default.
pub fn mixture_density_contours(
    q: &Mixture,
    bbox: BBox,
    resolution: usize,
    fractions: &[f64],
) -> OverlayResult<DensityContours> {
    let grid = square_grid(bbox, resolution)?;
    let values = grid.eval(|x| q.log_density(x).exp());
    let mass_in_box = values.iter().sum::<f64>() * grid.cell_area();
    let levels: Vec<MassLevel> = fractions
        .iter()
        .zip(mass_levels(&values, grid.cell_area(), fractions))
        .filter_map(|(&fraction, level)| level.map(|level| MassLevel { fraction, level }))
        .collect();
    let at: Vec<f64> = levels.iter().map(|l| l.level).collect();
    let lines = contour_lines(&values, &grid, &at)?;
    Ok(DensityContours {
        field: GridField { grid, values },
        levels,
        lines,
        mass_in_box,
    })
}

/// [`mixture_density_contours`] of the run's mixture over the target's box, enclosing
/// [`DEFAULT_MASS_FRACTIONS`]. A particle cloud has no density: `Err`.
pub fn model_density_contours(run: &Run, resolution: usize) -> OverlayResult<DensityContours> {
    match run.model() {
        ModelView::Mixture(q) => {
            mixture_density_contours(q, run.target().bbox(), resolution, &DEFAULT_MASS_FRACTIONS)
        }
        ModelView::Particles(_) => {
            Err("the model is a particle cloud, which has no density to contour".into())
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Velocities

/// The particles' displacements over the latest step.
#[derive(Debug, Clone, PartialEq)]
pub struct Displacements {
    /// The step that moved them (1-based): positions before it to positions after it.
    pub step: usize,
    /// `[before, after]` for at most `max_arrows` particles, evenly subsampled (length units).
    pub arrows: Vec<[Vec2; 2]>,
    /// Particles in the run.
    pub of: usize,
    /// The largest and the mean displacement length over all particles (length units per step).
    pub max_length: f64,
    pub mean_length: f64,
}

/// The latest step's displacement of (at most `max_arrows` of) the run's particles, from
/// [`Run::positions_before_last_step`], whichever backend took the step. For the underdamped Langevin flow
/// this is the displacement, not the momentum. O(N).
pub fn displacements(run: &Run, max_arrows: usize) -> OverlayResult<Displacements> {
    let ModelView::Particles(now) = run.model() else {
        return Err("the model is a mixture: there are no particles to move".into());
    };
    let Some(before) = run.positions_before_last_step() else {
        return Err("no step has been taken yet".into());
    };
    if before.len() != now.len() {
        return Err("the particle count changed".into());
    }
    let lengths: Vec<f64> = now
        .iter()
        .zip(before)
        .map(|(n, b)| ((n[0] - b[0]).powi(2) + (n[1] - b[1]).powi(2)).sqrt())
        .collect();
    let pairs: Vec<Vec2> = (0..now.len()).map(|i| [i as f64, 0.0]).collect();
    let arrows = subsample_evenly(&pairs, max_arrows)
        .into_iter()
        .map(|p| {
            let i = p[0] as usize;
            [before[i], now[i]]
        })
        .collect();
    Ok(Displacements {
        step: run.steps_taken(),
        arrows,
        of: now.len(),
        max_length: lengths.iter().copied().fold(0.0, f64::max),
        mean_length: lengths.iter().sum::<f64>() / lengths.len().max(1) as f64,
    })
}

// ---------------------------------------------------------------------------------------------------------
// Gradient spread

/// The Monte Carlo gradient of one component's mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ComponentGradient {
    pub weight: f64,
    /// μ_k (length units).
    pub mean: Vec2,
    /// The mean over the repeats of ∂D/∂μ_k (θ[6k+1], θ[6k+2]); a gradient step moves μ_k against it.
    pub grad_mean: Vec2,
    /// The standard deviation over the repeats (Bessel-corrected) of each coordinate of ∂D/∂μ_k: the
    /// noise of one step's estimate.
    pub grad_std: Vec2,
}

/// The spread of the Monte Carlo gradient of an f-divergence w.r.t. the mixture's means.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientSpread {
    pub divergence: FDivKind,
    /// Samples per estimate (the run's).
    pub samples: usize,
    pub repeats: usize,
    pub components: Vec<ComponentGradient>,
}

/// [`gradient_spread`] for given inputs: `repeats` ≥ 2 independent estimates with `samples` samples each,
/// from `substream(seed, 2⁶² + 2)`. Cost: repeats × O(samples · K) density and score evaluations.
pub fn gradient_spread_of(
    kind: &FDivKind,
    p: &DensityTarget,
    q: &Mixture,
    samples: usize,
    repeats: usize,
    seed: u64,
) -> OverlayResult<GradientSpread> {
    let mut rng = substream(seed, STREAM_GRADIENT_SPREAD);
    let (mean, std) =
        mc_gradient_spread(kind, p, q, samples, repeats, &mut rng).map_err(|e| e.to_string())?;
    let components = q
        .weights()
        .into_iter()
        .zip(q.means())
        .enumerate()
        .map(|(k, (weight, mu))| {
            let o = k * PARAMS_PER_COMPONENT;
            ComponentGradient {
                weight,
                mean: mu,
                grad_mean: [mean[o + 1], mean[o + 2]],
                grad_std: [std[o + 1], std[o + 2]],
            }
        })
        .collect();
    Ok(GradientSpread {
        divergence: *kind,
        samples,
        repeats,
        components,
    })
}

/// The spread of the run's Monte Carlo f-divergence gradient w.r.t. each component mean: `repeats`
/// estimates with the run's sample count at the current mixture. Applies only to a mixture fitted by an
/// f-divergence with the Monte Carlo estimator; otherwise says why. Cost: repeats × the run's estimate
/// (O(samples · K) each; 8 × 1024 samples ≈ a few milliseconds).
pub fn gradient_spread(run: &Run, repeats: usize) -> OverlayResult<GradientSpread> {
    let (kind, samples) = match &run.scenario().method {
        Method::Gradient {
            objective:
                Objective::FDivergence {
                    divergence,
                    estimator,
                },
            ..
        } => match estimator {
            Estimator::MonteCarlo { samples } => (*divergence, *samples),
            Estimator::Grid { resolution } => {
                return Err(format!(
                    "the gradient is exact: grid estimator ({resolution}² cells), no sampling noise"
                ));
            }
        },
        Method::Gradient { objective, .. } => {
            return Err(format!(
                "not an f-divergence with a Monte Carlo estimator ({})",
                objective.name()
            ));
        }
        Method::Em { .. } => return Err("EM takes no gradient steps".into()),
        Method::BwJko { .. } => {
            return Err("the JKO step's expectations are by quadrature: no sampling noise".into());
        }
        Method::Flow { .. } => return Err("a particle flow has no mixture parameters".into()),
    };
    let ModelView::Mixture(q) = run.model() else {
        return Err("the model is not a mixture".into());
    };
    let p = run
        .target()
        .density()
        .ok_or("the target has no density (only samples)")?;
    gradient_spread_of(&kind, p, q, samples, repeats, run.scenario().seed)
}

// ---------------------------------------------------------------------------------------------------------
// The generator f and the density ratio

/// The generator f of an f-divergence sampled on a log-spaced grid of t = p/q.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorCurve {
    pub kind: FDivKind,
    /// `[t, f(t)]`, t ascending, log-spaced.
    pub points: Vec<[f64; 2]>,
    /// What the curve is when it is not an f with f(1) = 0 (Rényi's integrand t^α).
    pub note: Option<String>,
}

/// f(t) of `kind` ([`FDivKind::generator`]) at `n` (≥ 2) log-spaced t from `t_min` to `t_max`
/// (0 < t_min < t_max; e.g. 1e-2 and 1e2). For Rényi (α ≠ 1), which is not an f-divergence, the curve is
/// its integrand t^α (the value is ln ∫ q t^α / (α − 1)), said in `note`. O(n).
pub fn generator_curve(
    kind: &FDivKind,
    t_min: f64,
    t_max: f64,
    n: usize,
) -> OverlayResult<GeneratorCurve> {
    let ts = log_space(t_min, t_max, n)?;
    let f = kind.generator();
    let points = ts.into_iter().map(|t| [t, f.f(t)]).collect();
    let note = match *kind {
        FDivKind::Renyi { alpha } if (alpha - 1.0).abs() > 1e-9 => Some(format!(
            "Rényi is not an f-divergence: the curve is its integrand t^{alpha} (the value is ln ∫ q t^α / (α − 1))"
        )),
        _ => None,
    };
    Ok(GeneratorCurve {
        kind: *kind,
        points,
        note,
    })
}

fn log_space(lo: f64, hi: f64, n: usize) -> OverlayResult<Vec<f64>> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) || n < 2 {
        return Err(format!(
            "a log-spaced range needs 0 < min < max and 2 points or more (got {lo}, {hi}, {n})"
        ));
    }
    let (a, b) = (lo.ln(), hi.ln());
    Ok((0..n)
        .map(|i| (a + (b - a) * i as f64 / (n - 1) as f64).exp())
        .collect())
}

/// The histogram of the density ratio t = p(x)/q(x) for x drawn from q.
#[derive(Debug, Clone, PartialEq)]
pub struct RatioHistogram {
    /// Bin edges (`bins + 1`, log-spaced, ascending).
    pub edges: Vec<f64>,
    /// Fraction of the finite positive t in each bin (they sum to 1 when there are any); t below the
    /// first edge is counted in the first bin, above the last edge in the last.
    pub fractions: Vec<f64>,
    /// Samples drawn from q.
    pub samples: usize,
    /// Samples with t = 0 (p numerically zero there).
    pub zeros: usize,
    /// Samples with t = +∞ (q numerically zero at its own sample).
    pub infinite: usize,
    /// Finite positive t below the first edge and above the last (already in the end bins).
    pub below: usize,
    pub above: usize,
}

/// `samples` draws of q from `substream(seed, 2⁶² + 3)` (the same noise at every step), t = exp(ln p − ln q)
/// at each, binned into `bins` log-spaced bins from `t_min` to `t_max`. Cost: O(samples · K) plus the
/// target's density at each sample.
pub fn ratio_histogram(
    p: &DensityTarget,
    q: &Mixture,
    samples: usize,
    bins: usize,
    t_min: f64,
    t_max: f64,
    seed: u64,
) -> OverlayResult<RatioHistogram> {
    if bins == 0 || samples == 0 {
        return Err("the ratio histogram needs at least one bin and one sample".into());
    }
    let edges = log_space(t_min, t_max, bins + 1)?;
    let mut rng = substream(seed, STREAM_RATIO_SAMPLE);
    let xs = q.sample(samples, &mut rng);
    let (lo, hi) = (t_min.ln(), t_max.ln());
    let mut counts = vec![0usize; bins];
    let mut h = RatioHistogram {
        edges,
        fractions: Vec::new(),
        samples,
        zeros: 0,
        infinite: 0,
        below: 0,
        above: 0,
    };
    for x in xs {
        let log_t = p.log_density(x) - q.log_density(x);
        let t = log_t.exp();
        if log_t.is_nan() {
            continue;
        }
        if t == 0.0 {
            h.zeros += 1;
            continue;
        }
        if t == f64::INFINITY {
            h.infinite += 1;
            continue;
        }
        if log_t < lo {
            h.below += 1;
        } else if log_t > hi {
            h.above += 1;
        }
        let i = ((log_t - lo) / (hi - lo) * bins as f64).floor();
        counts[(i.max(0.0) as usize).min(bins - 1)] += 1;
    }
    let finite: usize = counts.iter().sum();
    h.fractions = counts
        .iter()
        .map(|&c| c as f64 / finite.max(1) as f64)
        .collect();
    Ok(h)
}

/// The f-divergence view: the generator and where the current fit's ratio p/q falls on it.
#[derive(Debug, Clone, PartialEq)]
pub struct FData {
    pub curve: GeneratorCurve,
    pub histogram: RatioHistogram,
}

/// Default t range of [`f_data`]: 1e-2 to 1e2.
pub const DEFAULT_T_RANGE: (f64, f64) = (1e-2, 1e2);

/// The f-divergence the run fits a mixture by, or why there is none.
pub fn run_fdiv(run: &Run) -> OverlayResult<FDivKind> {
    match &run.scenario().method {
        Method::Gradient {
            objective: Objective::FDivergence { divergence, .. },
            ..
        } => Ok(*divergence),
        Method::Gradient { objective, .. } => {
            Err(format!("not an f-divergence ({})", objective.name()))
        }
        Method::Em { .. } => Err("EM maximizes the likelihood (forward KL), not by f".into()),
        Method::BwJko { .. } => Ok(FDivKind::ReverseKl),
        Method::Flow { .. } => Err("a particle flow, not an f-divergence fit".into()),
    }
}

/// [`generator_curve`] of `kind` (200 points over [`DEFAULT_T_RANGE`]) and the [`ratio_histogram`] of the
/// run's mixture (`samples` draws, `bins` bins over the same range). Needs a mixture model and a density
/// target. Cost: O(samples · K).
pub fn f_data_for(run: &Run, kind: &FDivKind, samples: usize, bins: usize) -> OverlayResult<FData> {
    let ModelView::Mixture(q) = run.model() else {
        return Err("the model is a particle cloud: q has no density, so no ratio p/q".into());
    };
    let p = run
        .target()
        .density()
        .ok_or("the target is only samples: p has no density, so no ratio p/q")?;
    let (t_min, t_max) = DEFAULT_T_RANGE;
    Ok(FData {
        curve: generator_curve(kind, t_min, t_max, 200)?,
        histogram: ratio_histogram(p, q, samples, bins, t_min, t_max, run.scenario().seed)?,
    })
}

/// [`f_data_for`] the run's own f-divergence ([`run_fdiv`]).
pub fn f_data(run: &Run, samples: usize, bins: usize) -> OverlayResult<FData> {
    f_data_for(run, &run_fdiv(run)?, samples, bins)
}

// ---------------------------------------------------------------------------------------------------------
// Nearest-neighbour ratios

/// The nearest-neighbour estimate of p/q at each point of the model ([`crate::core::knn::neighbour_ratios`]).
#[derive(Debug, Clone, PartialEq)]
pub struct KnnRatios {
    /// The model's points (particles, or a seeded sample of q) and the target's, as in the plan overlay.
    pub model: Cloud,
    pub target: Cloud,
    /// Neighbours counted around each model point (the scenario's `measure.knn_k`, at most
    /// n + m − 1).
    pub k: usize,
    /// One per point of `model`, in its order.
    pub ratios: Vec<NeighbourRatio>,
}

impl KnnRatios {
    /// The median of the ratios.
    pub fn median(&self) -> f64 {
        let mut r: Vec<f64> = self.ratios.iter().map(|r| r.ratio).collect();
        r.sort_by(f64::total_cmp);
        r.get(r.len() / 2).copied().unwrap_or(f64::NAN)
    }

    /// Model points with no target point among their k neighbours (ratio 0).
    pub fn without_target_neighbour(&self) -> usize {
        self.ratios.iter().filter(|r| r.from_p == 0).count()
    }
}

/// The ratio p/q ≈ (m/n)·Nⱼ/(Mⱼ + 1) at each of at most `max_points` model points, its k neighbours found
/// among at most `max_points` target points and the model points ([`model_cloud`], [`target_cloud`]), with
/// k the scenario's `measure.knn_k`. O(max_points · log(max_points) · k).
pub fn knn_ratios(run: &Run, max_points: usize) -> OverlayResult<KnnRatios> {
    let model = model_cloud(run, max_points)?;
    let target = target_cloud(run, max_points)?;
    let k = run
        .scenario()
        .measure
        .over(&MeasureSettings::DEFAULT)
        .knn_k
        .min(model.points.len() + target.points.len() - 1);
    let ratios = neighbour_ratios(&target.points, &model.points, k, "measure.knn_k")
        .map_err(|e| e.to_string())?;
    Ok(KnnRatios {
        model,
        target,
        k,
        ratios,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fdiv::fdiv_value_grad;
    use crate::core::math::dist2;
    use crate::core::rng::seeded;
    use crate::core::sinkhorn::Precision;
    use crate::core::target::{GaussianMixtureSpec, Target, TargetSpec};
    use crate::gpu::backend::BackendChoice;
    use crate::run::{Loaded, load};

    fn bundled(name: &str) -> Loaded {
        load::bundled(name).unwrap_or_else(|e| panic!("{e}"))
    }

    fn cpu(loaded: &Loaded) -> Run {
        Run::new(loaded, BackendChoice::Cpu, Err("no GPU in this test"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn steps(run: &mut Run, n: usize) {
        for _ in 0..n {
            run.step().unwrap_or_else(|e| panic!("{e}"));
        }
    }

    /// `two_modes_reverse_kl` with the Monte Carlo estimator (`samples` per step).
    fn monte_carlo(kind: FDivKind, samples: usize) -> Loaded {
        let mut loaded = bundled("two_modes_reverse_kl");
        let Method::Gradient { objective, .. } = &mut loaded.scenario.method else {
            panic!("gradient");
        };
        *objective = Objective::FDivergence {
            divergence: kind,
            estimator: Estimator::MonteCarlo { samples },
        };
        loaded
    }

    /// Both solvers solve the same problem: the same OT_ε value (both to the run's tolerance), each trace
    /// as long as its iterations and ending below the tolerance; on the moons flow at its ε both converge.
    #[test]
    fn the_solver_comparison_solves_one_problem_twice() {
        let run = cpu(&bundled("moons_sinkhorn_flow"));
        let c = solver_comparison(&run, 100).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.epsilon_source, EpsilonSource::Run);
        for r in [&c.plain, &c.accelerated] {
            assert!(r.converged, "{}: {r:?}", r.label);
            assert_eq!(r.trace.len(), r.iterations, "{}", r.label);
            assert!(
                r.trace.last().is_some_and(|&e| e < c.tolerance),
                "{}",
                r.label
            );
        }
        let rel = (c.plain.cost - c.accelerated.cost).abs() / c.plain.cost.abs();
        assert!(
            rel < 1e-3,
            "OT_ε {} vs {}",
            c.plain.cost,
            c.accelerated.cost
        );
        assert!(c.describe().contains("the run's"), "{}", c.describe());
        // A run without a Sinkhorn solver compares at the battery's ε and says so.
        let fit = cpu(&bundled("two_modes_reverse_kl"));
        let c = solver_comparison(&fit, 50).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.epsilon_source, EpsilonSource::Battery);
        assert!(c.describe().contains("no Sinkhorn solver"));
    }

    #[test]
    fn even_subsamples_and_clouds() {
        let pts: Vec<Vec2> = (0..10).map(|i| [i as f64, 0.0]).collect();
        assert_eq!(subsample_evenly(&pts, 20), pts);
        let s = subsample_evenly(&pts, 4);
        assert_eq!(s, [[0.0, 0.0], [2.0, 0.0], [5.0, 0.0], [7.0, 0.0]]);
        // A flow: particles and its own target points, subsampled; a mixture: seeded samples.
        let flow = cpu(&bundled("moons_sinkhorn_flow"));
        let m = model_cloud(&flow, 100).unwrap();
        assert_eq!(
            (m.points.len(), m.source, m.of),
            (100, PointSource::Particles, 300)
        );
        let t = target_cloud(&flow, 1000).unwrap();
        assert_eq!((t.points.len(), t.source), (300, PointSource::TargetPoints));
        let fit = cpu(&bundled("two_modes_reverse_kl"));
        let m = model_cloud(&fit, 50).unwrap();
        assert_eq!((m.points.len(), m.source), (50, PointSource::ModelSample));
        assert_eq!(m, model_cloud(&fit, 50).unwrap(), "deterministic");
        let t = target_cloud(&fit, 50).unwrap();
        assert_eq!(t.source, PointSource::TargetSample);
        assert!(model_cloud(&fit, 0).is_err());
    }

    /// The kNN ratio at each model point is high where the true p/q is and low where it is not: on the
    /// reverse-KL fit's wide start, the mean ratio where p/q > 1 exceeds the mean where p/q < ¼ more than
    /// 4 times (the ratio of the thresholds); the counts add up to k; the same at every call.
    #[test]
    fn knn_ratios_follow_the_true_density_ratio() {
        let fit = cpu(&bundled("two_modes_reverse_kl"));
        let r = knn_ratios(&fit, 300).unwrap();
        assert_eq!(r.ratios.len(), r.model.points.len());
        assert_eq!(r.k, 5);
        assert!(r.ratios.iter().all(|v| v.from_p + v.from_q == r.k));
        assert_eq!(r, knn_ratios(&fit, 300).unwrap());
        let ModelView::Mixture(q) = fit.model() else {
            panic!("a mixture")
        };
        let p = fit.target().density().unwrap();
        let (mut hi, mut lo) = (Vec::new(), Vec::new());
        for (x, v) in r.model.points.iter().zip(&r.ratios) {
            let truth = (p.log_density(*x) - q.log_density(*x)).exp();
            if truth > 1.0 {
                hi.push(v.ratio);
            } else if truth < 0.25 {
                lo.push(v.ratio);
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        eprintln!(
            "kNN ratio: mean {:.3} at {} points where p/q > 1, {:.3} at {} where p/q < ¼; median {:.3}, {} without a target neighbour",
            mean(&hi),
            hi.len(),
            mean(&lo),
            lo.len(),
            r.median(),
            r.without_target_neighbour()
        );
        assert!(hi.len() > 10 && lo.len() > 10);
        assert!(
            mean(&hi) > 4.0 * mean(&lo),
            "{} vs {}",
            mean(&hi),
            mean(&lo)
        );
        assert!(knn_ratios(&fit, 0).is_err());
    }

    #[test]
    fn contours_of_a_radial_field_are_circles() {
        let grid = Grid::square(BBox::centered_square(2.0), 64).unwrap();
        let values = grid.eval(|x| x[0] * x[0] + x[1] * x[1]);
        let cell = grid.dx();
        let levels = contour_lines(&values, &grid, &[1.2f64.powi(2), 2.5f64.powi(2), 9.0]).unwrap();
        assert_eq!(levels.len(), 3);
        // r = 1.2: one closed circle, every point on it within a tenth of a cell (linear interpolation of
        // r² between centres), going all the way round.
        let circle = &levels[0];
        assert_eq!(circle.level, 1.44);
        assert_eq!(circle.lines.len(), 1, "{:?}", circle.lines.len());
        let line = &circle.lines[0];
        assert_eq!(line.first(), line.last(), "closed");
        assert!(line.len() > 100);
        for p in line {
            let r = (p[0] * p[0] + p[1] * p[1]).sqrt();
            assert!((r - 1.2).abs() < 0.1 * cell, "{p:?}: r = {r}");
        }
        let quadrants: std::collections::HashSet<_> =
            line.iter().map(|p| (p[0] > 0.0, p[1] > 0.0)).collect();
        assert_eq!(quadrants.len(), 4);
        // r = 2.5 leaves the box: four open arcs near the corners, none along the box's edge.
        let arcs = &levels[1];
        assert_eq!(arcs.lines.len(), 4);
        for line in &arcs.lines {
            assert_ne!(line.first(), line.last());
            for p in line {
                let r = (p[0] * p[0] + p[1] * p[1]).sqrt();
                assert!((r - 2.5).abs() < 0.1 * cell, "{p:?}: r = {r}");
                assert!(
                    p[0].abs() <= 2.0 - 0.5 * cell + 1e-12
                        && p[1].abs() <= 2.0 - 0.5 * cell + 1e-12
                );
            }
        }
        // r = 3 is outside the box.
        assert!(levels[2].lines.is_empty());
        // Non-finite values are outside every level; wrong sizes are refused.
        let mut holes = values.clone();
        holes[0] = f64::NAN;
        holes[1] = f64::NEG_INFINITY;
        let l = contour_lines(&holes, &grid, &[1.44]).unwrap();
        assert!(
            l[0].lines
                .iter()
                .flatten()
                .all(|p| p[0].is_finite() && p[1].is_finite())
        );
        assert!(contour_lines(&values[1..], &grid, &[1.0]).is_err());
    }

    #[test]
    fn nice_levels_are_round_and_inside() {
        assert_eq!(
            nice_levels(0.0, 1.0, 4),
            [0.2, 0.4, 0.6000000000000001, 0.8]
        );
        // A range of 0.04 in about 5 levels: 0.04/6 rounds up to a step of 0.01.
        let l = nice_levels(-0.013, 0.027, 5);
        assert_eq!(l.len(), 4, "{l:?}");
        for (v, e) in l.iter().zip([-0.01, 0.0, 0.01, 0.02]) {
            assert!((v - e).abs() < 1e-15, "{l:?}");
        }
        assert!(nice_levels(1.0, 1.0, 3).is_empty() && nice_levels(0.0, f64::NAN, 3).is_empty());
    }

    #[test]
    fn density_contours_enclose_their_mass() {
        // An isotropic Gaussian N(0, s²I): P(|x| ≤ ρ) = 1 − exp(−ρ²/2s²), so the 50% and 90% regions are
        // the discs of radius s·√(2 ln 2) and s·√(2 ln 10).
        let s = 0.5;
        let q = Mixture::single([0.0, 0.0], [[s * s, 0.0], [0.0, s * s]]).unwrap();
        let d =
            mixture_density_contours(&q, BBox::centered_square(2.5), 128, &[0.5, 0.9, 0.999_999])
                .unwrap();
        assert!((d.mass_in_box - 1.0).abs() < 1e-3, "{}", d.mass_in_box);
        assert_eq!(
            d.levels.len(),
            2,
            "the box does not hold 99.9999% on the grid"
        );
        let cell = d.field.grid.dx();
        for (lvl, (f, rho)) in d.levels.iter().zip([
            (0.5, s * (2.0 * 2f64.ln()).sqrt()),
            (0.9, s * (2.0 * 10f64.ln()).sqrt()),
        ]) {
            assert_eq!(lvl.fraction, f);
            let exact = (-rho * rho / (2.0 * s * s)).exp() / (std::f64::consts::TAU * s * s);
            assert!(
                (lvl.level - exact).abs() < 0.03 * exact,
                "{} vs {exact}",
                lvl.level
            );
            let lines = d.lines.iter().find(|l| l.level == lvl.level).unwrap();
            assert_eq!(lines.lines.len(), 1);
            for p in &lines.lines[0] {
                let r = (p[0] * p[0] + p[1] * p[1]).sqrt();
                assert!((r - rho).abs() < cell, "{f}: r = {r}, ρ = {rho}");
            }
        }
        // Densest first: masses 0.75, 0.5, 0.25 (cumulative 0.75, 1.25, 1.5).
        assert_eq!(
            mass_levels(&[1.0, 3.0, 2.0, 0.0], 0.25, &[0.5, 0.8, 1.3, 1.6]),
            [Some(3.0), Some(2.0), None, None],
            "fractions of 1 or more are no region"
        );
        // A particle cloud has no density.
        let flow = cpu(&bundled("moons_sinkhorn_flow"));
        assert!(
            model_density_contours(&flow, 32)
                .unwrap_err()
                .contains("particle")
        );
        let fit = cpu(&bundled("two_modes_reverse_kl"));
        assert_eq!(model_density_contours(&fit, 32).unwrap().levels.len(), 2);
    }

    #[test]
    fn the_plan_of_identical_clouds_at_small_epsilon_is_the_identity() {
        let mut r = seeded(3);
        let x: Vec<Vec2> = (0..60).map(|_| crate::core::rng::normal2(&mut r)).collect();
        let cloud = |source| Cloud {
            points: x.clone(),
            source,
            of: x.len(),
        };
        let cfg = SinkhornConfig {
            epsilon: 1e-3,
            scaling: Some(0.5),
            max_iters: 5000,
            tolerance: 1e-4,
            precision: Precision::F64,
            newton: None,
        };
        let plan = plan_between(
            cloud(PointSource::Particles),
            cloud(PointSource::TargetPoints),
            &cfg,
            EpsilonSource::Run,
            2,
        )
        .unwrap();
        assert!(plan.converged, "{}", plan.describe());
        assert!(
            plan.segments
                .iter()
                .all(|s| s.mass >= MIN_SEGMENT_MASS && s.mass <= 1.0)
        );
        assert!(plan.segments.iter().any(|s| s.mass == 1.0));
        let mut worst: f64 = 0.0;
        for (i, [from, to]) in plan.barycentric.iter().enumerate() {
            assert_eq!(*from, x[i]);
            worst = worst.max(dist2(*from, *to).sqrt());
            // The strongest coupling of each point is to itself.
            let first = plan.segments.iter().find(|s| s.source == i).unwrap();
            assert_eq!((first.from, first.to), (x[i], x[i]));
        }
        // √ε ≈ 0.03: the entropic blur moves the image of a point with a close neighbour a little.
        assert!(worst < 0.01, "largest |T(x) − x| = {worst}");
        // The dual potential on a grid is finite and matches f at the points (soft c-transform).
        let grid = Grid::square(BBox::centered_square(3.0), 16).unwrap();
        let f = plan.potential_on_grid(&grid).unwrap();
        assert_eq!(f.values.len(), 256);
        assert!(f.values.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn the_plan_overlay_uses_the_runs_epsilon_or_the_batterys() {
        let mut flow = cpu(&bundled("moons_sinkhorn_flow"));
        steps(&mut flow, 2);
        let plan = plan_overlay(&flow, 120, DEFAULT_TOP_K).unwrap();
        assert_eq!(
            (plan.epsilon, plan.epsilon_source),
            (0.05, EpsilonSource::Run)
        );
        assert_eq!(
            (plan.model.points.len(), plan.target.points.len()),
            (120, 120)
        );
        assert!(plan.segments.len() > 120 && plan.segments.len() <= 3 * 120);
        assert!(plan.describe().contains("ε = 0.05"), "{}", plan.describe());
        // Each model point's segments start at it, heaviest first, at most 3.
        for i in 0..120 {
            let seg: Vec<_> = plan.segments.iter().filter(|s| s.source == i).collect();
            assert!(!seg.is_empty() && seg.len() <= 3);
            assert!(seg.iter().all(|s| s.from == plan.model.points[i]));
            assert!(seg.windows(2).all(|w| w[0].mass >= w[1].mass));
        }
        let fit = cpu(&bundled("two_modes_forward_kl"));
        let plan = plan_overlay(&fit, 80, 1).unwrap();
        assert_eq!(plan.epsilon_source, EpsilonSource::Battery);
        assert_eq!(plan.epsilon, sinkhorn_epsilon(fit.target()));
        assert_eq!(plan.target.source, PointSource::TargetSample);
        // The barycentric images lie among the target's points' hull: within its box.
        let b = fit.target().bbox().expanded(1e-9);
        assert!(plan.barycentric.iter().all(|[_, t]| b.contains(*t)));
    }

    #[test]
    fn the_witness_is_positive_where_the_model_has_more_mass() {
        // The fit starts at one Gaussian near (0.3, 0.4); the target has two modes at (±2, 0).
        let fit = cpu(&bundled("two_modes_reverse_kl"));
        let w = witness_overlay(&fit, 300, 200).unwrap();
        assert_eq!(w.kernel_source, KernelSource::Battery);
        assert_eq!(
            w.kernel,
            Kernel::Gaussian {
                sigma: kernel_sigma(fit.target())
            }
        );
        let grid = w.field.grid;
        assert_eq!((grid.nx, grid.ny), (64, 64), "clamped");
        let at = |p: Vec2| {
            let (j, i) = (
                ((p[0] - grid.bbox.x_min) / grid.dx()) as usize,
                ((p[1] - grid.bbox.y_min) / grid.dy()) as usize,
            );
            w.field.values[i * grid.nx + j]
        };
        assert!(at([0.3, 0.4]) > 0.0, "{}", at([0.3, 0.4]));
        let far = |p: Vec2| at(p) < 0.0;
        assert!(
            far([2.0, 0.0]) && far([-2.0, 0.0]),
            "{} {}",
            at([2.0, 0.0]),
            at([-2.0, 0.0])
        );
        // An MMD flow's own kernel.
        let flow = cpu(&bundled("mixture_mmd_flow"));
        let w = witness_overlay(&flow, 100, 16).unwrap();
        assert_eq!(
            (w.kernel, w.kernel_source),
            (Kernel::Gaussian { sigma: 0.5 }, KernelSource::Run)
        );
        assert_eq!(w.field.values.len(), 256);
    }

    #[test]
    fn displacements_are_new_minus_old_positions() {
        let mut flow = cpu(&bundled("moons_sinkhorn_flow"));
        assert!(displacements(&flow, 50).unwrap_err().contains("no step"));
        steps(&mut flow, 1);
        let before = flow.positions_before_last_step().unwrap().to_vec();
        let ModelView::Particles(now) = flow.model() else {
            panic!("particles");
        };
        let d = displacements(&flow, 50).unwrap();
        assert_eq!((d.step, d.of, d.arrows.len()), (1, 300, 50));
        for (k, [from, to]) in d.arrows.iter().enumerate() {
            let i = k * 300 / 50;
            assert_eq!((*from, *to), (before[i], now[i]));
        }
        let all = flow.last_displacements().unwrap();
        let longest = all.iter().map(|v| v[0].hypot(v[1])).fold(0.0, f64::max);
        assert_eq!(d.max_length, longest);
        assert!(d.mean_length > 0.0 && d.mean_length <= d.max_length);
        let fit = cpu(&bundled("two_modes_reverse_kl"));
        assert!(displacements(&fit, 50).unwrap_err().contains("mixture"));
    }

    #[test]
    fn the_gradient_spread_centres_on_the_exact_gradient() {
        let loaded = monte_carlo(FDivKind::ReverseKl, 2048);
        let run = cpu(&loaded);
        let spread = gradient_spread(&run, 16).unwrap();
        assert_eq!(
            (spread.samples, spread.repeats, spread.components.len()),
            (2048, 16, 1)
        );
        let c = spread.components[0];
        assert_eq!(c.mean, [0.3, 0.4]);
        // The reference: the grid gradient at a fine resolution (quadrature error ≪ the MC noise).
        let p = run.target().density().unwrap();
        let ModelView::Mixture(q) = run.model() else {
            panic!("mixture");
        };
        let exact = fdiv_value_grad(
            &FDivKind::ReverseKl,
            p,
            &run.target().bbox(),
            q,
            &Estimator::Grid { resolution: 512 },
            &mut seeded(0),
        )
        .unwrap()
        .grad;
        for d in 0..2 {
            let (m, s, e) = (c.grad_mean[d], c.grad_std[d], exact[1 + d]);
            assert!(
                s > 0.0 && s < 0.5 * e.abs().max(0.1),
                "coordinate {d}: std {s}"
            );
            // The mean of 16 estimates is within 4 standard errors (4 s/√16) of the exact gradient.
            let standard_error = s / 16f64.sqrt();
            assert!(
                (m - e).abs() < 4.0 * standard_error,
                "coordinate {d}: {m} vs {e} (std {s})"
            );
        }
        // Deterministic, and fewer samples spread more.
        assert_eq!(spread, gradient_spread(&run, 16).unwrap());
        let few = gradient_spread(&cpu(&monte_carlo(FDivKind::ReverseKl, 64)), 16).unwrap();
        assert!(few.components[0].grad_std[0] > 2.0 * c.grad_std[0]);
        // Where it does not apply, why.
        let grid = cpu(&bundled("two_modes_reverse_kl"));
        assert!(
            gradient_spread(&grid, 8)
                .unwrap_err()
                .contains("exact: grid estimator")
        );
        assert!(
            gradient_spread(&cpu(&bundled("mixture_em")), 8)
                .unwrap_err()
                .contains("EM")
        );
        assert!(gradient_spread(&cpu(&bundled("moons_sinkhorn_flow")), 8).is_err());
        assert!(gradient_spread(&run, 1).is_err(), "two repeats at least");
    }

    #[test]
    fn the_generator_curve_is_f_and_vanishes_at_one() {
        for kind in FDivKind::all() {
            let c = generator_curve(&kind, 1e-2, 1e2, 201).unwrap();
            assert_eq!(c.points.len(), 201);
            let f = kind.generator();
            for w in c.points.windows(2) {
                assert!(
                    (w[1][0] / w[0][0] - 10f64.powf(0.02)).abs() < 1e-9,
                    "log-spaced"
                );
            }
            for [t, v] in &c.points {
                assert_eq!(*v, f.f(*t));
            }
            let [t1, f1] = c.points[100];
            assert!((t1 - 1.0).abs() < 1e-12);
            if let FDivKind::Renyi { .. } = kind {
                assert!(c.note.is_some());
                assert!((f1 - 1.0).abs() < 1e-12, "t^α at 1");
            } else {
                assert!(c.note.is_none());
                assert!(f1.abs() < 1e-12, "{}: f(1) = {f1}", kind.name());
            }
        }
        let [t, f] = generator_curve(&FDivKind::ForwardKl, 1e-2, 1e2, 3)
            .unwrap()
            .points[2];
        assert!((t - 100.0).abs() < 1e-9 && (f - 100.0 * 100f64.ln()).abs() < 1e-9);
        assert!(generator_curve(&FDivKind::ForwardKl, 0.0, 1.0, 10).is_err());
    }

    #[test]
    fn the_ratio_histogram_sums_to_one_and_sits_at_one_when_q_is_p() {
        let spec = GaussianMixtureSpec {
            weights: vec![1.0],
            means: vec![[0.5, -0.2]],
            covariances: vec![[[0.3, 0.1], [0.1, 0.4]]],
        };
        let target = Target::build(&TargetSpec::GaussianMixture(spec), None).unwrap();
        let p = target.density().unwrap();
        let q = p.as_mixture().unwrap().clone();
        let h = ratio_histogram(p, &q, 500, 20, 1e-2, 1e2, 1).unwrap();
        assert_eq!((h.edges.len(), h.fractions.len(), h.samples), (21, 20, 500));
        assert_eq!((h.zeros, h.infinite, h.below, h.above), (0, 0, 0, 0));
        assert!((h.fractions.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // t = 1 everywhere: the bin holding 1 (edges 10^(−2 + k/5); 1 is the edge of bins 9 and 10).
        let full: Vec<usize> = (0..20).filter(|&i| h.fractions[i] > 0.0).collect();
        assert!(full == [9] || full == [10] || full == [9, 10], "{full:?}");
        // A q far from p: t underflows to 0 for every sample, counted apart.
        let far = Mixture::single([60.0, 60.0], [[0.1, 0.0], [0.0, 0.1]]).unwrap();
        let h = ratio_histogram(p, &far, 100, 10, 1e-2, 1e2, 1).unwrap();
        assert_eq!(h.zeros, 100);
        assert!(h.fractions.iter().all(|f| *f == 0.0));
        // A wide q: some t below 1e-2 land in the first bin, counted in `below`.
        let wide = Mixture::single([0.5, -0.2], [[4.0, 0.0], [0.0, 4.0]]).unwrap();
        let h = ratio_histogram(p, &wide, 2000, 10, 1e-2, 1e2, 1).unwrap();
        assert!(h.below > 0 && h.fractions[0] >= h.below as f64 / 2000.0);
        assert!((h.fractions.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // On a run: its own f-divergence, or why not.
        let fit = cpu(&bundled("two_modes_jensen_shannon"));
        let d = f_data(&fit, 400, 24).unwrap();
        assert_eq!(d.curve.kind, FDivKind::JensenShannon);
        assert_eq!(d.histogram.fractions.len(), 24);
        assert!(
            f_data(&cpu(&bundled("mixture_em")), 400, 24)
                .unwrap_err()
                .contains("EM")
        );
        assert!(f_data(&cpu(&bundled("moons_sinkhorn_flow")), 400, 24).is_err());
    }

    /// Prints the time of each overlay at its default size and of the live battery, in ms and as a ratio
    /// to one CPU step of the same run. Run with `--ignored --nocapture` (timings depend on the profile
    /// and the machine: not asserted).
    #[test]
    #[ignore = "timing report, not a check"]
    fn timings() {
        use crate::core::measure::{MeasureSettings, ModelRef, measure_row};
        use crate::run::track::LIVE_SETTINGS;
        use std::time::Instant;
        fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
            let t = Instant::now();
            let r = f();
            (t.elapsed().as_secs_f64() * 1e3, r)
        }
        let report = |name: &str, loaded: &Loaded| {
            let mut run = cpu(loaded);
            steps(&mut run, 3);
            let (step_ms, _) = time(|| run.step().map(|_| ()));
            let line = |what: &str, ms: f64, ok: bool| {
                println!(
                    "{name:<24} {what:<22} {ms:8.2} ms  {:7.2}× a step{}",
                    ms / step_ms,
                    if ok { "" } else { "  (does not apply)" }
                );
            };
            line("one CPU step", step_ms, true);
            let (ms, r) = time(|| plan_inputs(&run, DEFAULT_MAX_POINTS));
            line("plan snapshot (300)", ms, r.is_ok());
            let (ms, r) = time(|| plan_overlay(&run, 64, DEFAULT_TOP_K));
            line("plan (64, web)", ms, r.is_ok());
            if let Ok(plan) = r {
                let grid = Grid::square(run.target().bbox(), 64).unwrap();
                let (ms, r) = time(|| plan.potential_on_grid(&grid));
                line("potential f (64², 64)", ms, r.is_ok());
            }
            let (ms, r) = time(|| plan_overlay(&run, DEFAULT_MAX_POINTS, DEFAULT_TOP_K));
            line("plan (300, top 3)", ms, r.is_ok());
            if let Ok(plan) = r {
                println!("{name:<24}   {}", plan.describe());
                let grid = Grid::square(run.target().bbox(), DEFAULT_FIELD_RESOLUTION).unwrap();
                let (ms, r) = time(|| plan.potential_on_grid(&grid));
                line("potential f (96²)", ms, r.is_ok());
            }
            let (ms, r) =
                time(|| witness_overlay(&run, DEFAULT_MAX_POINTS, MAX_WITNESS_RESOLUTION));
            line("witness (64², 300)", ms, r.is_ok());
            let (ms, r) = time(|| model_density_contours(&run, DEFAULT_FIELD_RESOLUTION));
            line("density contours (96²)", ms, r.is_ok());
            let (ms, r) = time(|| displacements(&run, 1000));
            line("displacements", ms, r.is_ok());
            let (ms, r) = time(|| gradient_spread(&run, 8));
            line("gradient spread (8)", ms, r.is_ok());
            let (ms, r) = time(|| f_data(&run, 2000, 40));
            line("f data (2000, 40 bins)", ms, r.is_ok());
            let settings: MeasureSettings = LIVE_SETTINGS;
            let seed = run.scenario().seed;
            let mut slowest = (0.0, "");
            let (total, _) = time(|| {
                for (i, id) in crate::core::measure::row_ids().into_iter().enumerate() {
                    let (ms, _) = time(|| {
                        measure_row(
                            run.target(),
                            ModelRef::from(run.model()),
                            seed,
                            &settings,
                            i,
                        )
                    });
                    if ms > slowest.0 {
                        slowest = (ms, id);
                    }
                }
            });
            line("battery, live settings", total, true);
            line(&format!("  slowest row {}", slowest.1), slowest.0, true);
            let web = crate::run::track::SINGLE_THREAD_LIVE_SETTINGS;
            let mut slowest = (0.0, "");
            let (total, _) = time(|| {
                for (i, id) in crate::core::measure::row_ids().into_iter().enumerate() {
                    let (ms, _) = time(|| {
                        measure_row(run.target(), ModelRef::from(run.model()), seed, &web, i)
                    });
                    if ms > slowest.0 {
                        slowest = (ms, id);
                    }
                }
            });
            line("battery, web settings", total, true);
            line(&format!("  slowest row {}", slowest.1), slowest.0, true);
            let sinkhorn = crate::core::measure::row_ids()
                .iter()
                .position(|id| *id == "sinkhorn");
            if let Some(row) = sinkhorn.and_then(|i| {
                measure_row(
                    run.target(),
                    ModelRef::from(run.model()),
                    seed,
                    &settings,
                    i,
                )
            }) && let crate::core::measure::Outcome::Value { diagnostics, .. } = row.outcome
            {
                println!("{name:<24}   sinkhorn row: {:?}", diagnostics.sinkhorn);
            }
        };
        report("moons_sinkhorn_flow", &bundled("moons_sinkhorn_flow"));
        report("ring8_mmd_flow", &bundled("ring8_mmd_flow"));
        report("two_modes_reverse_kl", &bundled("two_modes_reverse_kl"));
        report(
            "reverse_kl, MC 1024",
            &monte_carlo(FDivKind::ReverseKl, 1024),
        );
        report("mixture_em", &bundled("mixture_em"));
    }
}
