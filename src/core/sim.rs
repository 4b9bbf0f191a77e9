//! The simulation: a scenario advanced in small bounded steps, whose state can be drawn at any moment and
//! replayed bit-for-bit from its seed. Step `k` draws its randomness from `rng::substream(seed, k)`, so a run
//! is the same whether it is taken in one go or paused and resumed.
//!
//! A step that would produce a non-finite value is refused: the error says why and the previous state is kept.

use super::em::em_step;
use super::error::{CoreError, CoreResult};
use super::fdiv::FDivKind;
use super::fit::{MeasureSettings, MeasuredValue, Measurement, measure_all};
use super::flows::{FlowTarget, ParticleFlow, StepReport};
use super::math::{Vec2, is_finite2};
use super::mixture::Mixture;
use super::mmd::{Kernel, mmd2};
use super::optim::Optimizer;
use super::rng::{self, Rng};
use super::scenario::{Method, ModelSpec, ParticleInit, Scenario};
use super::sinkhorn::{SinkhornConfig, sinkhorn_divergence, squared_diameter};
use super::sliced::{random_directions, sliced_wasserstein2};
use super::target::{GrayImage, Target};

/// Stream indices reserved for set-up draws (steps use 1, 2, 3, …).
const STREAM_INIT_PARTICLES: u64 = u64::MAX;
const STREAM_TARGET_SAMPLES: u64 = u64::MAX - 1;
const STREAM_MEASURE: u64 = u64::MAX - 2;

/// What one step did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StepInfo {
    /// 1-based index of the step just taken.
    pub step: usize,
    /// What the method decreases: a divergence, "negative mean log-likelihood" for EM, or a flow's objective.
    pub objective_name: String,
    /// The objective before the step (the value whose gradient moved the model).
    pub objective: f64,
    /// Extra diagnostics (e.g. Sinkhorn iterations and marginal error), in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<String>,
}

/// The model as it stands, for drawing.
#[derive(Debug, Clone, Copy)]
pub enum ModelView<'a> {
    Mixture(&'a Mixture),
    Particles(&'a [Vec2]),
}

enum State {
    Gradient {
        q: Mixture,
        optimizer: Box<Optimizer>,
    },
    Em {
        q: Mixture,
        samples: Vec<Vec2>,
    },
    Flow {
        flow: Box<ParticleFlow>,
        target_points: Vec<Vec2>,
    },
}

/// A running scenario.
pub struct Simulation {
    scenario: Scenario,
    target: Target,
    state: State,
    steps_taken: usize,
}

impl Simulation {
    /// Builds the target and the initial model. `image` feeds an image target (the caller reads the file).
    pub fn new(scenario: &Scenario, image: Option<&GrayImage>) -> CoreResult<Self> {
        scenario.validate()?;
        let target = Target::build(&scenario.target, image)?;
        let bbox = target.bbox();
        let state = match (&scenario.model, &scenario.method) {
            (ModelSpec::Mixture { init }, Method::Gradient { optimizer, .. }) => {
                let q = Mixture::from_init(init, &bbox)?;
                let optimizer = Box::new(Optimizer::new(optimizer, q.n_params())?);
                State::Gradient { q, optimizer }
            }
            (ModelSpec::Mixture { init }, Method::Em { samples }) => {
                let q = Mixture::from_init(init, &bbox)?;
                let mut r = rng::substream(scenario.seed, STREAM_TARGET_SAMPLES);
                State::Em {
                    q,
                    samples: target.sample(*samples, &mut r),
                }
            }
            (ModelSpec::Particles { count, init }, Method::Flow { flow }) => {
                let mut r = rng::substream(scenario.seed, STREAM_INIT_PARTICLES);
                let particles = init_particles(*count, init, &target, &mut r);
                let target_points = match (target.points(), flow.target_samples()) {
                    // Sample targets move toward their own points.
                    (Some(points), _) => points.to_vec(),
                    (None, Some(n)) => {
                        let mut r = rng::substream(scenario.seed, STREAM_TARGET_SAMPLES);
                        target.sample(n, &mut r)
                    }
                    (None, None) => Vec::new(),
                };
                if flow.needs_score() && target.density().is_none() {
                    return Err(CoreError::not_applicable(
                        "this flow follows the target's score, which a sample target does not have; \
                         use an MMD, sliced Riesz or Sinkhorn flow",
                    ));
                }
                let flow = Box::new(ParticleFlow::new(flow, particles, scenario.seed)?);
                State::Flow {
                    flow,
                    target_points,
                }
            }
            _ => {
                return Err(CoreError::invalid(
                    "model and method do not fit together (mixtures take gradient or EM, particles take a flow)",
                ));
            }
        };
        Ok(Self {
            scenario: scenario.clone(),
            target,
            state,
            steps_taken: 0,
        })
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Steps taken so far.
    pub fn steps_taken(&self) -> usize {
        self.steps_taken
    }

    pub fn model(&self) -> ModelView<'_> {
        match &self.state {
            State::Gradient { q, .. } | State::Em { q, .. } => ModelView::Mixture(q),
            State::Flow { flow, .. } => ModelView::Particles(flow.particles()),
        }
    }

    /// The fixed sample set the method uses (EM's data, a flow's target points), if any.
    pub fn target_points(&self) -> &[Vec2] {
        match &self.state {
            State::Em { samples, .. } => samples,
            State::Flow { target_points, .. } => target_points,
            State::Gradient { .. } => &[],
        }
    }

    /// The flow's configuration, for particle models.
    pub fn flow_config(&self) -> Option<&super::flows::FlowConfig> {
        match &self.state {
            State::Flow { flow, .. } => Some(flow.config()),
            _ => None,
        }
    }

    /// Continues a particle run from positions computed elsewhere (the GPU flow) after `steps_taken` steps:
    /// the flow is rebuilt at these positions, so the CPU core carries on where the GPU stopped.
    pub fn resume_particles(&mut self, particles: Vec<Vec2>, steps_taken: usize) -> CoreResult<()> {
        let State::Flow { flow, .. } = &mut self.state else {
            return Err(CoreError::invalid(
                "only a particle model can resume from particles",
            ));
        };
        if particles.len() != flow.particles().len() {
            return Err(CoreError::invalid(format!(
                "resume: {} particles given, the run has {}",
                particles.len(),
                flow.particles().len()
            )));
        }
        if particles.iter().any(|p| !is_finite2(*p)) {
            return Err(CoreError::non_finite("resumed particle positions"));
        }
        let cfg = flow.config().clone();
        **flow = ParticleFlow::new(&cfg, particles, self.scenario.seed)?;
        self.steps_taken = steps_taken;
        Ok(())
    }

    /// Advances one step. On error nothing changes: the model is as before and the error says why.
    pub fn step(&mut self) -> CoreResult<StepInfo> {
        let index = self.steps_taken + 1;
        let mut r: Rng = rng::substream(self.scenario.seed, index as u64);
        let info = match &mut self.state {
            State::Gradient { q, optimizer } => {
                let Method::Gradient { objective, .. } = &self.scenario.method else {
                    return Err(CoreError::invalid(
                        "gradient state without a gradient method",
                    ));
                };
                let (value, grad) = objective.value_and_grad(&self.target, q, &mut r)?;
                if !value.is_finite() {
                    return Err(CoreError::non_finite(format!("{} value", objective.name())));
                }
                if let Some(i) = grad.iter().position(|g| !g.is_finite()) {
                    return Err(CoreError::non_finite(format!(
                        "gradient of {} (parameter {i})",
                        objective.name()
                    )));
                }
                let mut params = q.params();
                let mut next_opt = optimizer.clone();
                next_opt.step(&mut params, &grad)?;
                let mut next_q = q.clone();
                next_q.set_params(&params)?;
                *q = next_q;
                *optimizer = next_opt;
                StepInfo {
                    step: index,
                    objective_name: objective.name(),
                    objective: value,
                    diagnostics: None,
                }
            }
            State::Em { q, samples } => {
                let mut next_q = q.clone();
                let mean_loglik = em_step(samples, &mut next_q)?;
                if !mean_loglik.is_finite() || next_q.params().iter().any(|p| !p.is_finite()) {
                    return Err(CoreError::non_finite("EM update"));
                }
                *q = next_q;
                StepInfo {
                    step: index,
                    objective_name: "negative mean log-likelihood".to_owned(),
                    objective: -mean_loglik,
                    diagnostics: None,
                }
            }
            State::Flow {
                flow,
                target_points,
            } => {
                let report = match self.target.density() {
                    Some(density) if flow.config().needs_score() => {
                        let score = |x: Vec2| density.score(x);
                        let log_density = |x: Vec2| density.log_density(x);
                        flow.step(&FlowTarget::density(&score, &log_density))?
                    }
                    _ => flow.step(&FlowTarget::samples(target_points))?,
                };
                if flow.particles().iter().any(|p| !is_finite2(*p)) {
                    return Err(CoreError::non_finite("particle positions"));
                }
                StepInfo::from_flow_report(index, &report)
            }
        };
        self.steps_taken = index;
        Ok(info)
    }
}

impl StepInfo {
    /// The record of flow step `index` (1-based) from the flow's report (the CPU core's or the GPU twin's).
    pub fn from_flow_report(index: usize, report: &StepReport) -> StepInfo {
        StepInfo {
            step: index,
            objective_name: report.objective_name.clone(),
            objective: report.objective_value,
            diagnostics: report.sinkhorn.as_ref().map(|d| format!("{d:?}")),
        }
    }
}

fn init_particles(count: usize, init: &ParticleInit, target: &Target, r: &mut Rng) -> Vec<Vec2> {
    match init {
        ParticleInit::Gaussian { mean, std } => (0..count)
            .map(|_| {
                let z = rng::normal2(r);
                [mean[0] + std * z[0], mean[1] + std * z[1]]
            })
            .collect(),
        ParticleInit::UniformInBox => {
            let b = target.bbox();
            (0..count)
                .map(|_| {
                    [
                        b.x_min + rng::uniform(r) * b.width(),
                        b.y_min + rng::uniform(r) * b.height(),
                    ]
                })
                .collect()
        }
    }
}

impl Simulation {
    /// Every divergence between the target and the model as it stands (see [`measure_particles`] for particle
    /// models and [`super::fit::measure_all`] for mixtures). Deterministic from the scenario's seed.
    pub fn measure(&self) -> Vec<Measurement> {
        let seed = self.scenario.seed;
        match self.model() {
            ModelView::Mixture(q) => measure_all(&self.target, q, seed),
            ModelView::Particles(p) => measure_particles(&self.target, p, seed),
        }
    }
}

/// Every divergence between a target and a particle cloud (uniform weights). Divergences that need the
/// model's density are reported as not applicable, with the reason.
pub fn measure_particles(target: &Target, particles: &[Vec2], seed: u64) -> Vec<Measurement> {
    let settings = MeasureSettings::default();
    let bbox = target.bbox();
    let side = bbox.width().min(bbox.height());
    let mut r = rng::substream(seed, STREAM_MEASURE);
    let y: Vec<Vec2> = match target.points() {
        Some(points) => points.to_vec(),
        None => target.sample(settings.samples, &mut r),
    };
    let a = vec![1.0 / particles.len().max(1) as f64; particles.len()];
    let b = vec![1.0 / y.len().max(1) as f64; y.len()];
    let plain = |value: f64, diagnostics: Option<String>| MeasuredValue {
        value,
        missed_mass: None,
        diagnostics,
    };
    let mut out = Vec::new();
    let no_density = "the model is a particle cloud: it has no density to compare; use a sample-based divergence";
    let mut density_kinds = FDivKind::all();
    density_kinds.extend([
        FDivKind::Alpha { alpha: -1.0 },
        FDivKind::Alpha { alpha: 2.0 },
    ]);
    for name in density_kinds.iter().map(|k| k.name()).chain([
        "cross-entropy −E_p ln q".to_owned(),
        "Cauchy–Schwarz".to_owned(),
    ]) {
        out.push(Measurement {
            name,
            result: Err(CoreError::not_applicable(no_density).to_string()),
        });
    }
    let sigma = 0.1 * side;
    let kernel = Kernel::Gaussian { sigma };
    out.push(Measurement {
        name: format!("MMD² Gaussian σ = {sigma:.4} (samples)"),
        result: mmd2(particles, &a, &y, &b, &kernel)
            .map(|v| plain(v, Some(format!("{} target samples", y.len()))))
            .map_err(|e| e.to_string()),
    });
    out.push(Measurement {
        name: "energy distance (Riesz r = 1 MMD²)".to_owned(),
        result: mmd2(particles, &a, &y, &b, &Kernel::Riesz { r: 1.0 })
            .map(|v| plain(v, None))
            .map_err(|e| e.to_string()),
    });
    let cfg = SinkhornConfig {
        epsilon: 1e-3 * squared_diameter(particles, &y).max(f64::MIN_POSITIVE),
        ..SinkhornConfig::default()
    };
    out.push(Measurement {
        name: "Sinkhorn divergence S_ε (ε = 1e-3 · diameter²)".to_owned(),
        result: sinkhorn_divergence(particles, &a, &y, &b, &cfg)
            .map(|s| {
                plain(
                    s.value,
                    Some(format!("ε = {:.3e}, {:?}", cfg.epsilon, s.diagnostics)),
                )
            })
            .map_err(|e| e.to_string()),
    });
    let dirs = random_directions(settings.directions, &mut r);
    out.push(Measurement {
        name: format!("sliced Wasserstein-2 ({} directions)", settings.directions),
        result: sliced_wasserstein2(particles, &a, &y, &b, &dirs)
            .map(|v| plain(v, None))
            .map_err(|e| e.to_string()),
    });
    out.push(Measurement {
        name: "Bures–Wasserstein".to_owned(),
        result: Err(CoreError::not_applicable(
            "Bures–Wasserstein compares two Gaussians; the model is a particle cloud",
        )
        .to_string()),
    });
    out
}
