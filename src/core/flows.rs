//! Particle flows: a cloud of N equally weighted particles moves toward a target.
//!
//! Sample-based flows (the target is a set of points, uniform weights; for a density target draw
//! [`FlowConfig::target_samples`] points from it each step) and score-based flows (the target is a
//! density known through its score ∇log p and its unnormalized log-density). One step:
//!
//! - **MMD** (Arbel et al., "Maximum Mean Discrepancy Gradient Flow"): xᵢ ← xᵢ − η ∇w(xᵢ + β uᵢ),
//!   w the witness of [`super::mmd`] (= the Wasserstein gradient of ½MMD²), uᵢ ~ N(0, I) the
//!   optional noise injection of level β; optional adaptive step (backtracking: η halves until
//!   MMD² does not increase, then regrows by ×1.5 up to `step_size`). Objective: MMD².
//! - **Sliced Riesz** (Hertrich et al., "Generative Sliced MMD Flows with Riesz Kernels"): the
//!   same with the energy kernel, the gradient estimated from P random slices
//!   ([`super::sliced`]). Objective: the sliced estimate of the energy MMD².
//! - **Sinkhorn** (Feydy et al.): xᵢ ← xᵢ − η ∇_{xᵢ}S_ε / aᵢ = xᵢ − 2η (T_αα(xᵢ) − T_αβ(xᵢ)) with T
//!   the barycentric maps. Each step starts the cross problem and the particles' symmetric problem from
//!   the previous step's potentials at the final ε (no ε-scaling: the particles moved a little), and
//!   OT_ε(β, β) is computed once while the target points stay the same. Objective: S_ε. With
//!   `debiased: false` the step follows OT_ε(α, β) alone, xᵢ ← xᵢ − 2η (xᵢ − T_αβ(xᵢ)) (objective OT_ε):
//!   its entropic bias shrinks the cloud (toward variance s² − ε/2 per axis for a target N(m, s²I)).
//! - **SVGD** (Liu & Wang): xᵢ ← xᵢ + η (1/N) Σⱼ [k(xⱼ, xᵢ) ∇log p(xⱼ) + ∇_{xⱼ} k(xⱼ, xᵢ)],
//!   k = exp(−|x − y|²/h), h fixed or by the median heuristic h = med²/ln(N + 1).
//! - **Langevin** (unadjusted): xᵢ ← xᵢ + η ∇log p(xᵢ) + √(2η) ξᵢ.
//! - **Underdamped Langevin** (BAOAB splitting, unit mass and temperature, friction γ):
//!   v += η/2 ∇log p(x); x += η/2 v; v ← e^{−γη} v + √(1 − e^{−2γη}) ξ; x += η/2 v; v += η/2 ∇log p(x).
//!
//! For SVGD and the Langevins the reported objective is KL(q ‖ p) estimated with a Gaussian KDE
//! of the particles (leave-one-out, Scott bandwidth, at most 256 evaluation particles), *up to*
//! the log normalizing constant of the given log-density.
//!
//! Every objective is evaluated at the particles *before* the step. A step whose result would
//! contain a non-finite value is refused with an error and leaves the flow unchanged. All noise
//! comes from `rng::substream(seed, step index)`, so trajectories are reproducible bit for bit.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{CoreError, CoreResult};
use super::math::{Vec2, dist2, is_finite2, logsumexp};
use super::mirror;
use super::mmd::{Kernel, self_term, witness_parts};
use super::params;
use super::rng;
use super::sinkhorn::{
    Precision, SinkhornConfig, SinkhornDiagnostics, SinkhornWarm, entropic_ot_from,
    sinkhorn_divergence_from,
};
use super::sliced::{random_directions, sliced_riesz_grad};
use super::target::Support;

fn default_target_samples() -> usize {
    1024
}

fn debiased_by_default() -> bool {
    true
}

/// SVGD kernel bandwidth h in k(x, y) = exp(−|x − y|²/h).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    tag = "kind",
    rename_all = "snake_case",
    from = "BandwidthRepr"
)]
pub enum Bandwidth {
    /// h = med²/ln(N + 1), med the median pairwise distance (of at most 512 particles).
    Median,
    /// A fixed h > 0 (squared length units).
    Fixed { h: f64 },
}

/// How a [`Bandwidth`] is read: serde ignores unknown fields next to the tag of a unit variant even with
/// `deny_unknown_fields`, so the unit variant is read as an empty struct variant (which refuses them).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
enum BandwidthRepr {
    Median {},
    Fixed { h: f64 },
}

impl Bandwidth {
    /// h for the particles `x`: fixed, or the median heuristic of their distances.
    fn at(&self, x: &[Vec2]) -> f64 {
        match self {
            Self::Median => median_bandwidth(x),
            Self::Fixed { h } => *h,
        }
    }
}

impl From<BandwidthRepr> for Bandwidth {
    fn from(r: BandwidthRepr) -> Self {
        match r {
            BandwidthRepr::Median {} => Self::Median,
            BandwidthRepr::Fixed { h } => Self::Fixed { h },
        }
    }
}

/// Which flow and its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum FlowConfig {
    Mmd {
        kernel: Kernel,
        step_size: f64,
        /// Noise-injection level β ≥ 0 (length units); 0 disables it.
        #[serde(default)]
        noise_level: f64,
        #[serde(default)]
        adaptive_step: bool,
        #[serde(default = "default_target_samples")]
        target_samples: usize,
    },
    SlicedRiesz {
        slices: usize,
        step_size: f64,
        #[serde(default = "default_target_samples")]
        target_samples: usize,
    },
    Sinkhorn {
        sinkhorn: SinkhornConfig,
        step_size: f64,
        #[serde(default = "default_target_samples")]
        target_samples: usize,
        /// Follow the debiased S_ε (true, the default) or OT_ε(α, β) alone (false: the entropic bias
        /// shrinks the cloud).
        #[serde(default = "debiased_by_default")]
        debiased: bool,
    },
    Svgd {
        bandwidth: Bandwidth,
        step_size: f64,
    },
    /// SVGD in the mirror coordinates of the simplex's entropy (targets on the simplex only): every
    /// particle stays inside ([`super::mirror`]).
    MirroredSvgd {
        bandwidth: Bandwidth,
        step_size: f64,
    },
    Langevin {
        step_size: f64,
    },
    UnderdampedLangevin {
        step_size: f64,
        friction: f64,
    },
}

impl FlowConfig {
    /// The step size of every flow (length² units per step for the score flows, time for Langevin).
    pub fn step_size(&self) -> f64 {
        match self {
            Self::Mmd { step_size, .. }
            | Self::SlicedRiesz { step_size, .. }
            | Self::Sinkhorn { step_size, .. }
            | Self::Svgd { step_size, .. }
            | Self::MirroredSvgd { step_size, .. }
            | Self::Langevin { step_size }
            | Self::UnderdampedLangevin { step_size, .. } => *step_size,
        }
    }

    /// Sets the step size (not validated here).
    pub fn set_step_size(&mut self, new: f64) {
        match self {
            Self::Mmd { step_size, .. }
            | Self::SlicedRiesz { step_size, .. }
            | Self::Sinkhorn { step_size, .. }
            | Self::Svgd { step_size, .. }
            | Self::MirroredSvgd { step_size, .. }
            | Self::Langevin { step_size }
            | Self::UnderdampedLangevin { step_size, .. } => *step_size = new,
        }
    }

    /// The snake_case kind name.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Mmd { .. } => "mmd",
            Self::SlicedRiesz { .. } => "sliced_riesz",
            Self::Sinkhorn { .. } => "sinkhorn",
            Self::Svgd { .. } => "svgd",
            Self::MirroredSvgd { .. } => "mirrored_svgd",
            Self::Langevin { .. } => "langevin",
            Self::UnderdampedLangevin { .. } => "underdamped_langevin",
        }
    }

    /// The flow's name in messages ("SVGD", "mirrored SVGD", …).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Mmd { .. } => "MMD",
            Self::SlicedRiesz { .. } => "sliced Riesz",
            Self::Sinkhorn { .. } => "Sinkhorn",
            Self::Svgd { .. } => "SVGD",
            Self::MirroredSvgd { .. } => "mirrored SVGD",
            Self::Langevin { .. } => "Langevin",
            Self::UnderdampedLangevin { .. } => "underdamped Langevin",
        }
    }

    /// Checks every number against `flow.<kind>.<field>` / `flow.<field>` in [`super::params`] (and the
    /// kernel, Sinkhorn solver and bandwidth against theirs); the error names `flow.<field>`
    /// (`flow.kernel.sigma`, …).
    pub fn validate(&self) -> CoreResult<()> {
        let kind = Some(self.kind_name());
        let c = |field: &str, v: f64| params::check_field("flow", kind, field, v).map(|_| ());
        match self {
            Self::Mmd {
                kernel,
                step_size,
                noise_level,
                target_samples,
                ..
            } => {
                kernel.validate().map_err(|e| e.within("flow"))?;
                c("step_size", *step_size)?;
                c("noise_level", *noise_level)?;
                c("target_samples", *target_samples as f64)
            }
            Self::SlicedRiesz {
                slices,
                step_size,
                target_samples,
            } => {
                c("slices", *slices as f64)?;
                c("step_size", *step_size)?;
                c("target_samples", *target_samples as f64)
            }
            Self::Sinkhorn {
                sinkhorn,
                step_size,
                target_samples,
                ..
            } => {
                sinkhorn.validate().map_err(|e| e.within("flow"))?;
                c("step_size", *step_size)?;
                c("target_samples", *target_samples as f64)
            }
            Self::Svgd {
                bandwidth,
                step_size,
            }
            | Self::MirroredSvgd {
                bandwidth,
                step_size,
            } => {
                if let Bandwidth::Fixed { h } = bandwidth {
                    params::check_field("bandwidth", Some("fixed"), "h", *h)
                        .map_err(|e| e.within("flow"))?;
                }
                c("step_size", *step_size)
            }
            Self::Langevin { step_size } => c("step_size", *step_size),
            Self::UnderdampedLangevin {
                step_size,
                friction,
            } => {
                c("step_size", *step_size)?;
                c("friction", *friction)
            }
        }
    }

    /// How many samples of a density target the flow wants per step (None: it uses the score).
    pub fn target_samples(&self) -> Option<usize> {
        match self {
            Self::Mmd { target_samples, .. }
            | Self::SlicedRiesz { target_samples, .. }
            | Self::Sinkhorn { target_samples, .. } => Some(*target_samples),
            _ => None,
        }
    }

    /// Whether the flow needs the target's score and log-density (density targets only).
    pub fn needs_score(&self) -> bool {
        self.target_samples().is_none()
    }
}

/// What a step moves toward: sample points (uniform weights) and/or a density (score and
/// unnormalized log-density). Sample-based flows read `points`; score-based flows read `score`
/// and `log_density`.
#[derive(Clone, Copy)]
pub struct FlowTarget<'a> {
    pub points: &'a [Vec2],
    pub score: Option<&'a (dyn Fn(Vec2) -> Vec2 + Sync)>,
    pub log_density: Option<&'a (dyn Fn(Vec2) -> f64 + Sync)>,
    /// Where the density is positive: a score flow refuses a step that would leave it (the score is
    /// undefined there).
    pub support: Support,
}

impl<'a> FlowTarget<'a> {
    /// A sample target.
    pub fn samples(points: &'a [Vec2]) -> Self {
        Self {
            points,
            score: None,
            log_density: None,
            support: Support::Plane,
        }
    }

    /// A density target through its score and (unnormalized) log-density.
    pub fn density(
        score: &'a (dyn Fn(Vec2) -> Vec2 + Sync),
        log_density: &'a (dyn Fn(Vec2) -> f64 + Sync),
    ) -> Self {
        Self {
            points: &[],
            score: Some(score),
            log_density: Some(log_density),
            support: Support::Plane,
        }
    }

    /// The same target, positive only on `support`.
    pub fn with_support(self, support: Support) -> Self {
        Self { support, ..self }
    }
}

/// The words of a refusal for a particle outside the target's support (matched by `run::diagnose`).
pub const OUTSIDE_SUPPORT: &str = "outside the target's support";

/// A score flow's particles must lie where the target's density is positive: the first one outside, by
/// index, refuses the step (`after`: the positions the step would move them to, else the current ones).
fn check_support(
    x: &[Vec2],
    target: &FlowTarget<'_>,
    cfg: &FlowConfig,
    after: bool,
) -> CoreResult<()> {
    let Some(i) = x.iter().position(|p| !target.support.contains(*p)) else {
        return Ok(());
    };
    let flow = cfg.label();
    let hint = if matches!(cfg, FlowConfig::MirroredSvgd { .. }) {
        "lower step_size"
    } else {
        "the flow does not know the boundary; mirrored_svgd keeps every particle inside"
    };
    let at = format!("({:.4}, {:.4})", x[i][0], x[i][1]);
    let where_ = if after {
        format!("the step would move particle {i} to {at}")
    } else {
        format!("particle {i} is at {at}")
    };
    Err(CoreError::invalid(format!(
        "{where_}, {OUTSIDE_SUPPORT} ({}), where its score is undefined: {hint}; the {flow} step is \
         refused, state kept",
        target.support.describe()
    )))
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct StepReport {
    /// "mmd2", "energy_mmd2_sliced", "sinkhorn_divergence", "ot_epsilon" (the Sinkhorn flow without
    /// debiasing) or "kl_kde".
    pub objective_name: String,
    /// The objective at the particles before the step.
    pub objective_value: f64,
    /// Largest particle displacement of the step (length units).
    pub max_displacement: f64,
    pub sinkhorn: Option<SinkhornDiagnostics>,
    /// The step size actually used (differs from the configured one with an adaptive step).
    pub step_size_used: f64,
}

/// A particle flow: state, configuration and its deterministic noise source (serializable, for
/// [`super::sim::Checkpoint`]: every field, so that a restored flow goes on with the same bits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticleFlow {
    cfg: FlowConfig,
    particles: Vec<Vec2>,
    velocities: Vec<Vec2>,
    seed: u64,
    steps_taken: u64,
    adaptive_eta: f64,
    warm: Option<(Vec<f64>, Vec<f64>)>,
    /// The Sinkhorn flow's symmetric potential p_α of OT_ε(α, α) at the last step (a warm start).
    #[serde(default)]
    warm_xx: Option<Vec<f64>>,
    /// The MMD target self-term bᵀK_yy b and the target points it belongs to.
    mmd_self_term: Option<(Vec<Vec2>, f64)>,
    /// OT_ε(β, β) of the Sinkhorn flow's target and the target points it belongs to.
    sinkhorn_self_term: Option<(Vec<Vec2>, f64)>,
}

fn uniform(n: usize) -> Vec<f64> {
    vec![1.0 / n as f64; n]
}

fn need_points(points: &[Vec2], flow: &str) -> CoreResult<()> {
    if points.is_empty() {
        return Err(CoreError::not_applicable(format!(
            "the {flow} flow needs target sample points (draw them from a density target)"
        )));
    }
    Ok(())
}

type ScoreFn<'a> = &'a (dyn Fn(Vec2) -> Vec2 + Sync);
type LogDensityFn<'a> = &'a (dyn Fn(Vec2) -> f64 + Sync);

fn need_density<'a>(t: &FlowTarget<'a>, flow: &str) -> CoreResult<(ScoreFn<'a>, LogDensityFn<'a>)> {
    match (t.score, t.log_density) {
        (Some(s), Some(l)) => Ok((s, l)),
        _ => Err(CoreError::not_applicable(format!(
            "the {flow} flow needs a density target (score and log-density)"
        ))),
    }
}

fn scores(x: &[Vec2], score: ScoreFn<'_>) -> CoreResult<Vec<Vec2>> {
    let s: Vec<Vec2> = x.par_iter().map(|&p| score(p)).collect();
    if s.iter().any(|v| !is_finite2(*v)) {
        return Err(CoreError::non_finite(
            "target score at a particle; step refused",
        ));
    }
    Ok(s)
}

/// The MMD flow's noise injection: zᵢ = xᵢ + β uᵢ with uᵢ ~ N(0, I) drawn in order from `rng` (the step's
/// stream, `rng::substream(seed, steps_taken)`); the GPU flow draws its noise here too, so both inject the same.
pub fn noisy_points(x: &[Vec2], level: f64, rng: &mut rng::Rng) -> Vec<Vec2> {
    x.iter()
        .map(|p| {
            let u = rng::normal2(rng);
            [p[0] + level * u[0], p[1] + level * u[1]]
        })
        .collect()
}

/// KL(q ‖ p) + log Z_p estimated with a leave-one-out Gaussian KDE of the particles (Scott
/// bandwidth), averaged over at most 256 evenly strided particles. Every target's density is normalized
/// (`core::target`), so log Z_p = 0; the KDE's smoothing biases the estimate, which can fall below 0 once the
/// cloud is close to p (the label says so).
pub fn kl_kde(x: &[Vec2], log_density: &(dyn Fn(Vec2) -> f64 + Sync)) -> CoreResult<f64> {
    let n = x.len();
    if n < 2 {
        return Err(CoreError::invalid(
            "KDE estimate of KL needs at least 2 particles",
        ));
    }
    let mean = [
        x.iter().map(|p| p[0]).sum::<f64>() / n as f64,
        x.iter().map(|p| p[1]).sum::<f64>() / n as f64,
    ];
    let var = x.iter().map(|p| dist2(*p, mean)).sum::<f64>() / (2.0 * (n - 1) as f64);
    let h2 = (var * (n as f64).powf(-1.0 / 3.0)).max(1e-300);
    let stride = n.div_ceil(256);
    let idx: Vec<usize> = (0..n).step_by(stride).collect();
    let log_norm = -(std::f64::consts::TAU * h2).ln() - ((n - 1) as f64).ln();
    let terms: Vec<f64> = idx
        .par_iter()
        .map(|&i| {
            let e: Vec<f64> = x
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, q)| -0.5 * dist2(x[i], *q) / h2)
                .collect();
            logsumexp(&e) + log_norm - log_density(x[i])
        })
        .collect();
    let v = terms.iter().sum::<f64>() / terms.len() as f64;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(CoreError::non_finite("KDE estimate of KL"))
    }
}

fn median_bandwidth(x: &[Vec2]) -> f64 {
    let n = x.len();
    let stride = n.div_ceil(512);
    let sub: Vec<Vec2> = x.iter().step_by(stride).copied().collect();
    let mut d: Vec<f64> = Vec::with_capacity(sub.len() * sub.len() / 2);
    for i in 0..sub.len() {
        for j in 0..i {
            d.push(dist2(sub[i], sub[j]));
        }
    }
    if d.is_empty() {
        return 1.0;
    }
    let mid = d.len() / 2;
    let (_, m, _) = d.select_nth_unstable_by(mid, |p, q| p.total_cmp(q));
    let h = *m / ((n + 1) as f64).ln();
    if h > 0.0 && h.is_finite() { h } else { 1.0 }
}

impl ParticleFlow {
    /// A flow from its configuration, initial particles (non-empty, finite) and noise seed.
    pub fn new(cfg: &FlowConfig, particles: Vec<Vec2>, seed: u64) -> CoreResult<Self> {
        cfg.validate()?;
        if particles.is_empty() {
            return Err(CoreError::invalid(
                "a particle flow needs at least one particle",
            ));
        }
        if let Some(i) = particles.iter().position(|p| !is_finite2(*p)) {
            return Err(CoreError::non_finite(format!("initial particle {i}")));
        }
        let adaptive_eta = match cfg {
            FlowConfig::Mmd { step_size, .. } => *step_size,
            _ => 0.0,
        };
        Ok(Self {
            cfg: cfg.clone(),
            velocities: vec![[0.0; 2]; particles.len()],
            particles,
            seed,
            steps_taken: 0,
            adaptive_eta,
            warm: None,
            warm_xx: None,
            mmd_self_term: None,
            sinkhorn_self_term: None,
        })
    }

    pub fn particles(&self) -> &[Vec2] {
        &self.particles
    }

    /// Velocities of the underdamped Langevin flow (zeros for the others).
    pub fn velocities(&self) -> &[Vec2] {
        &self.velocities
    }

    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    /// Changes the step size without resetting the state (an adaptive MMD step is capped at the new one).
    pub fn set_step_size(&mut self, step_size: f64) -> CoreResult<()> {
        let mut c = self.cfg.clone();
        c.set_step_size(step_size);
        c.validate()?;
        self.cfg = c;
        self.adaptive_eta = self.adaptive_eta.min(step_size);
        Ok(())
    }

    /// Forgets what the flow cached about its target (the Sinkhorn warm start and the self-terms), for a
    /// target that changed under it; the particles, their velocities, the step count and the adaptive step
    /// size are kept, so the flow goes on from where it is.
    pub fn forget_target(&mut self) {
        self.warm = None;
        self.warm_xx = None;
        self.mmd_self_term = None;
        self.sinkhorn_self_term = None;
    }

    /// Checks a deserialized flow against the configuration and particle count it must have, and that
    /// every number in it is finite with consistent lengths.
    pub fn check_restored(&self, cfg: &FlowConfig, count: usize) -> CoreResult<()> {
        if &self.cfg != cfg {
            return Err(CoreError::invalid(
                "checkpoint: the flow's configuration differs from the scenario's",
            ));
        }
        let n = self.particles.len();
        if n != count || self.velocities.len() != n {
            return Err(CoreError::invalid(format!(
                "checkpoint: {n} particles and {} velocities, the scenario has {count} particles",
                self.velocities.len()
            )));
        }
        if self.warm.as_ref().is_some_and(|(f, _)| f.len() != n)
            || self.warm_xx.as_ref().is_some_and(|p| p.len() != n)
        {
            return Err(CoreError::invalid(
                "checkpoint: the Sinkhorn warm start does not match the particles",
            ));
        }
        let finite = self
            .particles
            .iter()
            .chain(&self.velocities)
            .all(|p| is_finite2(*p))
            && self.adaptive_eta.is_finite()
            && self
                .warm
                .iter()
                .all(|(f, g)| f.iter().chain(g).all(|v| v.is_finite()))
            && self.warm_xx.iter().flatten().all(|v| v.is_finite());
        if !finite {
            return Err(CoreError::non_finite("checkpoint: flow state"));
        }
        Ok(())
    }

    /// Moves the particles to positions computed elsewhere (the GPU twin) after `steps_taken` accepted
    /// steps. The noise stream goes on from that step (as if the steps had been taken here); the Sinkhorn
    /// warm start, which belonged to the old positions, is dropped; the velocities, the adaptive step and
    /// the target's cached self-terms are kept (the GPU runs none of the flows with velocities or an
    /// adaptive step, so those are still this flow's own). On error nothing changes.
    pub fn resume_at(&mut self, particles: Vec<Vec2>, steps_taken: u64) -> CoreResult<()> {
        if particles.len() != self.particles.len() {
            return Err(CoreError::invalid(format!(
                "resume: {} particles given, the run has {}",
                particles.len(),
                self.particles.len()
            )));
        }
        if particles.iter().any(|p| !is_finite2(*p)) {
            return Err(CoreError::non_finite("resumed particle positions"));
        }
        self.particles = particles;
        self.steps_taken = steps_taken;
        self.warm = None;
        self.warm_xx = None;
        Ok(())
    }

    /// Drops the Sinkhorn flow's warm start (the previous step's potentials), so that the next step solves
    /// from scratch with the full ε-scaling schedule; the cached OT_ε(β, β) is kept. For comparisons of
    /// warm and cold steps (tests, `divlab bench sinkhorn-flow`).
    pub fn forget_warm_start(&mut self) {
        self.warm = None;
        self.warm_xx = None;
    }

    /// The previous step's cross potentials (f, g), where they still fit `n` particles and `m` target points.
    fn warm_xy(&self, n: usize, m: usize) -> Option<(&[f64], &[f64])> {
        self.warm
            .as_ref()
            .filter(|(f, g)| f.len() == n && g.len() == m)
            .map(|(f, g)| (f.as_slice(), g.as_slice()))
    }

    /// Steps accepted so far.
    pub fn steps_taken(&self) -> u64 {
        self.steps_taken
    }

    /// One step toward `target`. On error (including a refused non-finite step) the flow is left
    /// exactly as it was.
    pub fn step(&mut self, target: &FlowTarget<'_>) -> CoreResult<StepReport> {
        let mut rng = rng::substream(self.seed, self.steps_taken);
        let x = &self.particles;
        let n = x.len();
        let mut new_v: Option<Vec<Vec2>> = None;
        let mut new_warm = None;
        let mut new_warm_xx = None;
        let mut new_eta = self.adaptive_eta;
        let mut new_self_term: Option<f64> = None;
        let mut new_sinkhorn_self: Option<f64> = None;
        if self.cfg.needs_score() {
            check_support(x, target, &self.cfg, false)?;
        }
        let (name, value, new_x, eta, diag) = match &self.cfg {
            FlowConfig::Mmd {
                kernel,
                step_size,
                noise_level,
                adaptive_step,
                ..
            } => {
                need_points(target.points, "MMD")?;
                let y = target.points;
                let (a, b) = (uniform(n), uniform(y.len()));
                let prec = Precision::F32;
                let z: Vec<Vec2> = if *noise_level > 0.0 {
                    noisy_points(x, *noise_level, &mut rng)
                } else {
                    Vec::new()
                };
                // bᵀK_yy b is cached while the target points stay the same.
                let kyy = match &self.mmd_self_term {
                    Some((pts, v)) if pts.as_slice() == y => *v,
                    _ => self_term(y, &b, kernel, prec)?,
                };
                new_self_term = Some(kyy);
                let value_at = |p: &[Vec2]| -> CoreResult<(f64, Vec<Vec2>)> {
                    let w = witness_parts(p, p, &a, y, &b, kernel, prec)?;
                    let axx: f64 = w.kx.iter().sum::<f64>() / n as f64;
                    let axy: f64 = w.ky.iter().sum::<f64>() / n as f64;
                    Ok((axx - 2.0 * axy + kyy, w.grad))
                };
                let (value, grad_x) = value_at(x)?;
                let grad = if *noise_level > 0.0 {
                    witness_parts(&z, x, &a, y, &b, kernel, prec)?.grad
                } else {
                    grad_x
                };
                let mv = |eta: f64| -> Vec<Vec2> {
                    x.iter()
                        .zip(&grad)
                        .map(|(p, g)| [p[0] - eta * g[0], p[1] - eta * g[1]])
                        .collect()
                };
                if *adaptive_step {
                    let mut eta = self.adaptive_eta.min(*step_size);
                    let mut prop = mv(eta);
                    for _ in 0..30 {
                        if prop.iter().all(|p| is_finite2(*p)) && value_at(&prop)?.0 <= value {
                            break;
                        }
                        eta *= 0.5;
                        prop = mv(eta);
                    }
                    new_eta = (1.5 * eta).min(*step_size);
                    ("mmd2", value, prop, eta, None)
                } else {
                    ("mmd2", value, mv(*step_size), *step_size, None)
                }
            }
            FlowConfig::SlicedRiesz {
                slices, step_size, ..
            } => {
                need_points(target.points, "sliced Riesz")?;
                let y = target.points;
                let dirs = random_directions(*slices, &mut rng);
                let (value, grad) = sliced_riesz_grad(x, &uniform(n), y, &uniform(y.len()), &dirs)?;
                // grad/(2aᵢ) is the witness gradient, as for the MMD flow.
                let s = step_size * 0.5 * n as f64;
                let nx = x
                    .iter()
                    .zip(&grad)
                    .map(|(p, g)| [p[0] - s * g[0], p[1] - s * g[1]])
                    .collect();
                ("energy_mmd2_sliced", value, nx, *step_size, None)
            }
            FlowConfig::Sinkhorn {
                sinkhorn,
                step_size,
                debiased: false,
                ..
            } => {
                need_points(target.points, "Sinkhorn")?;
                let y = target.points;
                let xy = self.warm_xy(n, y.len());
                let r = entropic_ot_from(x, &uniform(n), y, &uniform(y.len()), sinkhorn, xy)?;
                let s = step_size * n as f64;
                let nx = x
                    .iter()
                    .zip(&r.grad_x)
                    .map(|(p, g)| [p[0] - s * g[0], p[1] - s * g[1]])
                    .collect();
                new_warm = Some((r.f, r.g));
                ("ot_epsilon", r.value, nx, *step_size, Some(r.diagnostics))
            }
            FlowConfig::Sinkhorn {
                sinkhorn,
                step_size,
                ..
            } => {
                need_points(target.points, "Sinkhorn")?;
                let y = target.points;
                let xy = self.warm_xy(n, y.len());
                let xx = self.warm_xx.as_deref().filter(|p| p.len() == n);
                let ot_yy = match &self.sinkhorn_self_term {
                    Some((pts, v)) if pts.as_slice() == y => Some(*v),
                    _ => None,
                };
                let warm = SinkhornWarm { xy, xx, ot_yy };
                let r = sinkhorn_divergence_from(
                    x,
                    &uniform(n),
                    y,
                    &uniform(y.len()),
                    sinkhorn,
                    &warm,
                )?;
                if ot_yy.is_none() {
                    new_sinkhorn_self = Some(r.ot_yy);
                }
                let s = step_size * n as f64;
                let nx = x
                    .iter()
                    .zip(&r.grad_x)
                    .map(|(p, g)| [p[0] - s * g[0], p[1] - s * g[1]])
                    .collect();
                new_warm = Some((r.f, r.g));
                new_warm_xx = Some(r.p_x);
                (
                    "sinkhorn_divergence",
                    r.value,
                    nx,
                    *step_size,
                    Some(r.diagnostics),
                )
            }
            FlowConfig::Svgd {
                bandwidth,
                step_size,
            } => {
                let (score, logp) = need_density(target, "SVGD")?;
                let value = kl_kde(x, logp)?;
                let s = scores(x, score)?;
                let h = bandwidth.at(x);
                let nx: Vec<Vec2> = x
                    .par_iter()
                    .map(|&xi| {
                        let mut phi = [0.0; 2];
                        for (xj, sj) in x.iter().zip(&s) {
                            let d = [xi[0] - xj[0], xi[1] - xj[1]];
                            let k = (-(d[0] * d[0] + d[1] * d[1]) / h).exp();
                            phi[0] += k * (sj[0] + 2.0 * d[0] / h);
                            phi[1] += k * (sj[1] + 2.0 * d[1] / h);
                        }
                        let c = step_size / n as f64;
                        [xi[0] + c * phi[0], xi[1] + c * phi[1]]
                    })
                    .collect();
                ("kl_kde", value, nx, *step_size, None)
            }
            FlowConfig::MirroredSvgd {
                bandwidth,
                step_size,
            } => {
                let (score, logp) = need_density(target, "mirrored SVGD")?;
                if target.support != Support::Simplex {
                    return Err(CoreError::not_applicable(format!(
                        "the mirrored SVGD flow moves particles in the mirror coordinates of the simplex, and this \
                         target's support is {}: use svgd, or a dirichlet target",
                        target.support.describe()
                    )));
                }
                let value = kl_kde(x, logp)?;
                let s = scores(x, score)?;
                let h = bandwidth.at(x);
                let nx = mirror::step(x, &s, h, *step_size)?;
                ("kl_kde", value, nx, *step_size, None)
            }
            FlowConfig::Langevin { step_size } => {
                let (score, logp) = need_density(target, "Langevin")?;
                let value = kl_kde(x, logp)?;
                let s = scores(x, score)?;
                let sd = (2.0 * step_size).sqrt();
                let nx = x
                    .iter()
                    .zip(&s)
                    .map(|(p, g)| {
                        let xi = rng::normal2(&mut rng);
                        [
                            p[0] + step_size * g[0] + sd * xi[0],
                            p[1] + step_size * g[1] + sd * xi[1],
                        ]
                    })
                    .collect();
                ("kl_kde", value, nx, *step_size, None)
            }
            FlowConfig::UnderdampedLangevin {
                step_size,
                friction,
            } => {
                let (score, logp) = need_density(target, "underdamped Langevin")?;
                let value = kl_kde(x, logp)?;
                let eta = *step_size;
                let c = (-friction * eta).exp();
                let sd = (1.0 - c * c).max(0.0).sqrt();
                let s = scores(x, score)?;
                let mut v = self.velocities.clone();
                let mut nx = x.clone();
                for i in 0..n {
                    v[i][0] += 0.5 * eta * s[i][0];
                    v[i][1] += 0.5 * eta * s[i][1];
                    nx[i][0] += 0.5 * eta * v[i][0];
                    nx[i][1] += 0.5 * eta * v[i][1];
                    let xi = rng::normal2(&mut rng);
                    v[i][0] = c * v[i][0] + sd * xi[0];
                    v[i][1] = c * v[i][1] + sd * xi[1];
                    nx[i][0] += 0.5 * eta * v[i][0];
                    nx[i][1] += 0.5 * eta * v[i][1];
                }
                check_support(&nx, target, &self.cfg, true)?;
                let s2 = scores(&nx, score)?;
                for i in 0..n {
                    v[i][0] += 0.5 * eta * s2[i][0];
                    v[i][1] += 0.5 * eta * s2[i][1];
                }
                if v.iter().any(|p| !is_finite2(*p)) {
                    return Err(CoreError::non_finite(
                        "particle velocities after the step; step refused",
                    ));
                }
                new_v = Some(v);
                ("kl_kde", value, nx, eta, None)
            }
        };
        if new_x.iter().any(|p| !is_finite2(*p)) {
            return Err(CoreError::non_finite(format!(
                "particle positions after a step of size {eta}; step refused, state kept"
            )));
        }
        if self.cfg.needs_score() {
            check_support(&new_x, target, &self.cfg, true)?;
        }
        let max_displacement = x
            .iter()
            .zip(&new_x)
            .map(|(p, q)| dist2(*p, *q).sqrt())
            .fold(0.0, f64::max);
        if !(value.is_finite() && max_displacement.is_finite()) {
            return Err(CoreError::non_finite(
                "step objective or displacement; step refused",
            ));
        }
        // Commit.
        self.particles = new_x;
        if let Some(v) = new_v {
            self.velocities = v;
        }
        if new_warm.is_some() {
            self.warm = new_warm;
        }
        if new_warm_xx.is_some() {
            self.warm_xx = new_warm_xx;
        }
        self.adaptive_eta = new_eta;
        if let Some(v) = new_sinkhorn_self {
            self.sinkhorn_self_term = Some((target.points.to_vec(), v));
        }
        if let Some(v) = new_self_term {
            let same = matches!(&self.mmd_self_term, Some((p, _)) if p.as_slice() == target.points);
            if !same {
                self.mmd_self_term = Some((target.points.to_vec(), v));
            }
        }
        self.steps_taken += 1;
        Ok(StepReport {
            objective_name: name.to_owned(),
            objective_value: value,
            max_displacement,
            sinkhorn: diag,
            step_size_used: eta,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mmd::mmd2;
    use crate::core::sinkhorn::sinkhorn_divergence;

    fn cloud(n: usize, seed: u64, mean: Vec2, s: f64) -> Vec<Vec2> {
        let mut r = rng::seeded(seed);
        (0..n)
            .map(|_| {
                let z = rng::normal2(&mut r);
                [mean[0] + s * z[0], mean[1] + s * z[1]]
            })
            .collect()
    }

    // Gaussian target N(μ, Σ) with Σ = [[1, 0.5], [0.5, 0.8]].
    const MU: Vec2 = [1.0, -0.5];
    const SIG: [[f64; 2]; 2] = [[1.0, 0.5], [0.5, 0.8]];

    fn prec() -> [[f64; 2]; 2] {
        let det = SIG[0][0] * SIG[1][1] - SIG[0][1] * SIG[1][0];
        [
            [SIG[1][1] / det, -SIG[0][1] / det],
            [-SIG[1][0] / det, SIG[0][0] / det],
        ]
    }

    fn score(x: Vec2) -> Vec2 {
        let p = prec();
        let d = [x[0] - MU[0], x[1] - MU[1]];
        [
            -(p[0][0] * d[0] + p[0][1] * d[1]),
            -(p[1][0] * d[0] + p[1][1] * d[1]),
        ]
    }

    fn log_density(x: Vec2) -> f64 {
        let p = prec();
        let d = [x[0] - MU[0], x[1] - MU[1]];
        let det = SIG[0][0] * SIG[1][1] - SIG[0][1] * SIG[1][0];
        -0.5 * (d[0] * (p[0][0] * d[0] + p[0][1] * d[1]) + d[1] * (p[1][0] * d[0] + p[1][1] * d[1]))
            - (std::f64::consts::TAU * det.sqrt()).ln()
    }

    fn moments(x: &[Vec2]) -> (Vec2, [[f64; 2]; 2]) {
        let n = x.len() as f64;
        let m = [
            x.iter().map(|p| p[0]).sum::<f64>() / n,
            x.iter().map(|p| p[1]).sum::<f64>() / n,
        ];
        let mut c = [[0.0; 2]; 2];
        for p in x {
            let d = [p[0] - m[0], p[1] - m[1]];
            for i in 0..2 {
                for j in 0..2 {
                    c[i][j] += d[i] * d[j] / (n - 1.0);
                }
            }
        }
        (m, c)
    }

    fn assert_moments(x: &[Vec2], tol_mean: f64, tol_cov: f64, what: &str) {
        let (m, c) = moments(x);
        println!("{what}: mean {m:?}, covariance {c:?}");
        for i in 0..2 {
            assert!(
                (m[i] - MU[i]).abs() < tol_mean,
                "{what}: mean {m:?} vs {MU:?}"
            );
            for j in 0..2 {
                assert!(
                    (c[i][j] - SIG[i][j]).abs() < tol_cov,
                    "{what}: covariance {c:?} vs {SIG:?}"
                );
            }
        }
    }

    fn density_target() -> (impl Fn(Vec2) -> Vec2 + Sync, impl Fn(Vec2) -> f64 + Sync) {
        (score, log_density)
    }

    #[test]
    fn mmd_flows_decrease_mmd2_step_by_step() {
        let y = cloud(200, 1, [2.0, 1.0], 0.7);
        let kernels = [
            Kernel::Gaussian { sigma: 1.0 },
            Kernel::InverseMultiquadric { c: 1.0 },
            Kernel::Laplace { sigma: 1.0 },
            Kernel::Riesz { r: 1.0 },
        ];
        for kernel in kernels {
            for (noise, adaptive) in [(0.0, false), (0.0, true), (0.1, false)] {
                let cfg = FlowConfig::Mmd {
                    kernel,
                    step_size: 0.5,
                    noise_level: noise,
                    adaptive_step: adaptive,
                    target_samples: 200,
                };
                let mut flow = ParticleFlow::new(&cfg, cloud(150, 2, [0.0, 0.0], 0.5), 7).unwrap();
                let a = uniform(150);
                let b = uniform(200);
                let mut prev = mmd2(flow.particles(), &a, &y, &b, &kernel).unwrap();
                for k in 0..6 {
                    let rep = flow.step(&FlowTarget::samples(&y)).unwrap();
                    assert!(
                        (rep.objective_value - prev).abs() < 1e-5 * prev.max(1e-3),
                        "reported objective"
                    );
                    let now = mmd2(flow.particles(), &a, &y, &b, &kernel).unwrap();
                    assert!(
                        now < prev,
                        "{kernel:?} noise {noise} adaptive {adaptive}, step {k}: {now} ≥ {prev}"
                    );
                    assert!(rep.max_displacement > 0.0);
                    prev = now;
                }
            }
        }
    }

    #[test]
    fn sliced_riesz_flow_decreases_energy_mmd() {
        let y = cloud(300, 3, [2.0, 1.0], 0.7);
        let cfg = FlowConfig::SlicedRiesz {
            slices: 64,
            step_size: 0.3,
            target_samples: 300,
        };
        let mut flow = ParticleFlow::new(&cfg, cloud(256, 4, [0.0, 0.0], 0.5), 9).unwrap();
        let k = Kernel::Riesz { r: 1.0 };
        let (a, b) = (uniform(256), uniform(300));
        let mut prev = mmd2(flow.particles(), &a, &y, &b, &k).unwrap();
        for s in 0..8 {
            flow.step(&FlowTarget::samples(&y)).unwrap();
            let now = mmd2(flow.particles(), &a, &y, &b, &k).unwrap();
            assert!(now < prev, "step {s}: {now} ≥ {prev}");
            prev = now;
        }
    }

    #[test]
    fn sinkhorn_flow_decreases_divergence() {
        let y = cloud(120, 5, [2.0, 1.0], 0.6);
        let sk = SinkhornConfig {
            epsilon: 0.1,
            scaling: Some(0.5),
            max_iters: 5000,
            tolerance: 1e-9,
            precision: Precision::F64,
            newton: None,
        };
        let cfg = FlowConfig::Sinkhorn {
            sinkhorn: sk.clone(),
            step_size: 0.2,
            target_samples: 120,
            debiased: true,
        };
        let mut flow = ParticleFlow::new(&cfg, cloud(100, 6, [0.0, 0.0], 0.5), 1).unwrap();
        let (a, b) = (uniform(100), uniform(120));
        let mut prev = sinkhorn_divergence(flow.particles(), &a, &y, &b, &sk)
            .unwrap()
            .value;
        for s in 0..6 {
            let rep = flow.step(&FlowTarget::samples(&y)).unwrap();
            assert!(rep.sinkhorn.as_ref().is_some_and(|d| d.converged));
            assert!(
                (rep.objective_value - prev).abs() < 1e-6 * prev,
                "reported S_ε {} vs {prev}",
                rep.objective_value
            );
            let now = sinkhorn_divergence(flow.particles(), &a, &y, &b, &sk)
                .unwrap()
                .value;
            assert!(now < prev, "step {s}: {now} ≥ {prev}");
            prev = now;
        }
    }

    /// A warm-started Sinkhorn flow (the default path) and a cold one (every step from scratch with the
    /// full ε-scaling schedule, `forget_target` + `forget_warm_start` before each step) agree on S_ε at
    /// every step within what the stopping rule allows. Bound: a Sinkhorn iterate whose L1 marginal error
    /// is δ has a dual value within δ · osc(f* − f) ≤ 2δ·C_max of OT_ε (concavity of the dual; potentials
    /// oscillate by at most the largest cost C_max ≤ D², the squared diameter of both clouds over the whole
    /// run). S_ε = OT_xy − ½OT_xx − ½OT_yy then errs by at most 4δD², and two solves differ by at most 8δD².
    /// Both trajectories start from the same particles; the later steps also differ by the (equally small)
    /// gradient errors, which the same bound covers here (measured differences are printed). The warm
    /// flow takes fewer iterations in total, and is deterministic (a second run gives the same bits).
    #[test]
    fn warm_and_cold_sinkhorn_flows_agree_step_by_step() {
        use crate::core::sinkhorn::squared_diameter;
        let y = cloud(150, 21, [1.5, 0.5], 0.6);
        let x0 = cloud(120, 22, [0.0, 0.0], 0.5);
        for (precision, tolerance) in [(Precision::F64, 1e-8), (Precision::F32, 1e-4)] {
            let sk = SinkhornConfig {
                epsilon: 0.1,
                scaling: Some(0.7),
                max_iters: 20_000,
                tolerance,
                precision,
                newton: None,
            };
            let cfg = FlowConfig::Sinkhorn {
                sinkhorn: sk,
                step_size: 0.2,
                target_samples: 150,
                debiased: true,
            };
            let target = FlowTarget::samples(&y);
            let run_warm = || {
                let mut f = ParticleFlow::new(&cfg, x0.clone(), 1).unwrap();
                (0..12)
                    .map(|_| {
                        let before = f.particles().to_vec();
                        (before, f.step(&target).unwrap())
                    })
                    .collect::<Vec<_>>()
            };
            let warm = run_warm();
            let mut cold = ParticleFlow::new(&cfg, x0.clone(), 1).unwrap();
            let (mut warm_iters, mut cold_iters, mut worst) = (0, 0, 0f64);
            for (k, (before, w)) in warm.iter().enumerate() {
                cold.forget_target();
                cold.forget_warm_start();
                let c = cold.step(&target).unwrap();
                let (dw, dc) = (w.sinkhorn.clone().unwrap(), c.sinkhorn.clone().unwrap());
                assert!(dw.converged && dc.converged, "step {k}: {dw:?} {dc:?}");
                let d2 = squared_diameter(before, &y).max(squared_diameter(cold.particles(), &y));
                let bound = 8.0 * tolerance * d2;
                let diff = (w.objective_value - c.objective_value).abs();
                worst = worst.max(diff / bound);
                assert!(
                    diff <= bound,
                    "{precision:?} step {k}: warm S_ε {} cold {} (bound {bound:e})",
                    w.objective_value,
                    c.objective_value
                );
                warm_iters += dw.iterations_xy + dw.iterations_xx + dw.iterations_yy;
                cold_iters += dc.iterations_xy + dc.iterations_xx + dc.iterations_yy;
            }
            println!(
                "{precision:?}: iterations warm {warm_iters}, cold {cold_iters}; largest |S_warm − S_cold| \
                 = {worst:.2e} of the bound"
            );
            assert!(warm_iters < cold_iters, "{warm_iters} ≥ {cold_iters}");
            let again = run_warm();
            for ((_, a), (_, b)) in warm.iter().zip(&again) {
                assert_eq!(a.objective_value.to_bits(), b.objective_value.to_bits());
            }
        }
    }

    fn run_density_flow(cfg: &FlowConfig, n: usize, steps: usize, check_first: usize) -> Vec<Vec2> {
        let (s, l) = density_target();
        let target = FlowTarget::density(&s, &l);
        let mut flow = ParticleFlow::new(cfg, cloud(n, 11, [-1.5, 1.5], 0.5), 3).unwrap();
        let mut prev = f64::INFINITY;
        for k in 0..steps {
            let rep = flow.step(&target).unwrap();
            assert_eq!(rep.objective_name, "kl_kde");
            if k <= check_first {
                assert!(
                    rep.objective_value < prev,
                    "{cfg:?} step {k}: KL {} ≥ {prev}",
                    rep.objective_value
                );
            }
            prev = rep.objective_value;
        }
        flow.particles().to_vec()
    }

    #[test]
    fn svgd_fits_gaussian_and_decreases_kl() {
        let cfg = FlowConfig::Svgd {
            bandwidth: Bandwidth::Median,
            step_size: 0.2,
        };
        let x = run_density_flow(&cfg, 256, 400, 5);
        // SVGD with N = 256 particles: mean within 0.1, covariance entries within 0.15.
        assert_moments(&x, 0.1, 0.15, "SVGD");
    }

    #[test]
    fn langevin_fits_gaussian_and_decreases_kl() {
        let cfg = FlowConfig::Langevin { step_size: 0.02 };
        let x = run_density_flow(&cfg, 512, 500, 5);
        // ULA, N = 512: sampling error ≈ 0.05 (mean) and ≈ 0.06 (covariance), O(η) bias ≈ 3%.
        assert_moments(&x, 0.15, 0.2, "Langevin");
        let cfg = FlowConfig::UnderdampedLangevin {
            step_size: 0.1,
            friction: 2.0,
        };
        let x = run_density_flow(&cfg, 512, 400, 5);
        assert_moments(&x, 0.15, 0.2, "underdamped Langevin");
    }

    #[test]
    fn same_seed_same_trajectory_bits() {
        let y = cloud(100, 12, [1.0, 0.0], 0.5);
        let (s, l) = density_target();
        let cfgs = [
            FlowConfig::Mmd {
                kernel: Kernel::Gaussian { sigma: 0.7 },
                step_size: 0.5,
                noise_level: 0.2,
                adaptive_step: true,
                target_samples: 100,
            },
            FlowConfig::SlicedRiesz {
                slices: 8,
                step_size: 0.5,
                target_samples: 100,
            },
            FlowConfig::Langevin { step_size: 0.05 },
            FlowConfig::UnderdampedLangevin {
                step_size: 0.05,
                friction: 1.0,
            },
        ];
        for cfg in cfgs {
            let target = if cfg.needs_score() {
                FlowTarget::density(&s, &l)
            } else {
                FlowTarget::samples(&y)
            };
            let run = |seed: u64| {
                let mut f = ParticleFlow::new(&cfg, cloud(80, 13, [0.0, 0.0], 0.5), seed).unwrap();
                let mut bits = Vec::new();
                for _ in 0..5 {
                    let r = f.step(&target).unwrap();
                    bits.push(r.objective_value.to_bits());
                    bits.extend(
                        f.particles()
                            .iter()
                            .flat_map(|p| [p[0].to_bits(), p[1].to_bits()]),
                    );
                }
                bits
            };
            assert_eq!(run(42), run(42), "{cfg:?}");
            // Every one of these flows is random: another seed gives another trajectory.
            assert_ne!(run(42), run(43), "{cfg:?}");
        }
    }

    #[test]
    fn non_finite_step_is_refused_and_state_kept() {
        // The largest valid step times the largest finite score overflows.
        let cfg = FlowConfig::Langevin { step_size: 10.0 };
        let x0 = cloud(20, 14, [0.0, 0.0], 1.0);
        let mut flow = ParticleFlow::new(&cfg, x0.clone(), 1).unwrap();
        let big = |_: Vec2| [f64::MAX, -f64::MAX];
        let target = FlowTarget::density(&big, &log_density);
        let e = flow.step(&target).unwrap_err();
        assert!(matches!(e, CoreError::NonFinite { .. }), "{e}");
        assert_eq!(flow.particles(), x0.as_slice());
        assert_eq!(flow.steps_taken(), 0);
        // A wrong kind of target is an error too, not a silent no-op.
        let cfg = FlowConfig::Mmd {
            kernel: Kernel::Gaussian { sigma: 1.0 },
            step_size: 0.1,
            noise_level: 0.0,
            adaptive_step: false,
            target_samples: 10,
        };
        let mut flow = ParticleFlow::new(&cfg, x0.clone(), 1).unwrap();
        assert!(matches!(
            flow.step(&target),
            Err(CoreError::NotApplicable { .. })
        ));
        assert_eq!(flow.particles(), x0.as_slice());
    }

    /// Timing printout (release):
    /// `cargo test --release --lib core::flows -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing_flow_steps() {
        // The anchor problem of shared/bench/anchors.py: x ~ N(0, 0.3²), y ~ U[−1, 1]².
        let clouds = |n: usize| {
            let mut r = rng::seeded(0);
            let x = cloud(n, 1, [0.0, 0.0], 0.3);
            let y: Vec<Vec2> = (0..n)
                .map(|_| {
                    [
                        2.0 * rng::uniform(&mut r) - 1.0,
                        2.0 * rng::uniform(&mut r) - 1.0,
                    ]
                })
                .collect();
            (x, y)
        };
        for n in [2048usize, 8192] {
            let (x, y) = clouds(n);
            let cfg = FlowConfig::Mmd {
                kernel: Kernel::Gaussian { sigma: 0.1 },
                step_size: 0.01,
                noise_level: 0.0,
                adaptive_step: false,
                target_samples: n,
            };
            let mut f = ParticleFlow::new(&cfg, x, 0).unwrap();
            f.step(&FlowTarget::samples(&y)).unwrap();
            let reps = if n > 4096 { 3 } else { 10 };
            let t = std::time::Instant::now();
            for _ in 0..reps {
                f.step(&FlowTarget::samples(&y)).unwrap();
            }
            println!(
                "MMD flow step N=M={n} (Gaussian σ=0.1): {:.2} ms",
                t.elapsed().as_secs_f64() * 1e3 / reps as f64
            );
        }
        let (x, y) = clouds(4096);
        let cfg = FlowConfig::Sinkhorn {
            sinkhorn: SinkhornConfig {
                epsilon: 0.01,
                scaling: Some(0.7),
                max_iters: 2000,
                tolerance: 1e-3,
                precision: Precision::F32,
                newton: None,
            },
            step_size: 0.5,
            target_samples: 4096,
            debiased: true,
        };
        let mut f = ParticleFlow::new(&cfg, x, 0).unwrap();
        for k in 0..3 {
            let t = std::time::Instant::now();
            let r = f.step(&FlowTarget::samples(&y)).unwrap();
            println!(
                "Sinkhorn flow step {k} N=M=4096 ε=0.01: {:.1} ms, diagnostics {:?}",
                t.elapsed().as_secs_f64() * 1e3,
                r.sinkhorn
            );
        }
    }

    #[test]
    fn config_validates_and_round_trips() {
        let cfg = FlowConfig::Svgd {
            bandwidth: Bandwidth::Fixed { h: 0.5 },
            step_size: 0.1,
        };
        let s = serde_json::to_string(&cfg).unwrap();
        assert_eq!(serde_json::from_str::<FlowConfig>(&s).unwrap(), cfg);
        let bad = FlowConfig::UnderdampedLangevin {
            step_size: 0.1,
            friction: -1.0,
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("flow.friction")
        );
        let cfg: FlowConfig = serde_json::from_str(
            r#"{"kind":"mmd","kernel":{"kind":"gaussian","sigma":0.5},"step_size":1.0}"#,
        )
        .unwrap();
        assert_eq!(cfg.target_samples(), Some(1024));
    }
}
