//! The simulation: a scenario advanced in small bounded steps, whose state can be drawn at any moment and
//! replayed bit-for-bit from its seed. Step `k` draws its randomness from `rng::substream(seed, k)`, so a run
//! is the same whether it is taken in one go or paused and resumed; a [`Checkpoint`] carries a paused run
//! through serialization with the same bits.
//!
//! A step that would produce a non-finite value is refused: the error says why and the previous state is kept.

use super::bw_vi::{Hermite, fb_step};
use super::em::em_step;
use super::error::{CoreError, CoreResult};
use super::flows::{FlowTarget, ParticleFlow, StepReport};
use super::math::{Vec2, is_finite2};
use super::measure::{MeasureSettings, ModelRef, Row, measure};
use super::mixture::Mixture;
use super::optim::Optimizer;
use super::rng::{self, Rng};
use super::scenario::{Method, ModelSpec, ParticleInit, Scenario};
use super::sinkhorn::SinkhornDiagnostics;
use super::target::{GrayImage, Target, TargetSpec};

/// Stream indices reserved for set-up draws (steps use 1, 2, 3, …).
const STREAM_INIT_PARTICLES: u64 = u64::MAX;
const STREAM_TARGET_SAMPLES: u64 = u64::MAX - 1;

/// What one step did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StepInfo {
    /// 1-based index of the step just taken.
    pub step: usize,
    /// A stable snake_case id of the objective: the objective's (`reverse_kl`, `mmd_gaussian`, …, as the
    /// measurement rows), `negative_log_likelihood` for EM, or a flow's (`mmd2`, `sinkhorn_divergence`, …).
    pub objective_id: String,
    /// What the method decreases: a divergence, "negative mean log-likelihood" for EM, or a flow's objective.
    pub objective_name: String,
    /// The objective before the step (the value whose gradient moved the model).
    pub objective: f64,
    /// Standard error of the objective, when a Monte Carlo estimator computed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standard_error: Option<f64>,
    /// The Sinkhorn solver's convergence (Sinkhorn flows and the Sinkhorn objective).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sinkhorn: Option<SinkhornDiagnostics>,
    /// The step size a flow actually used (differs from the configured one with an adaptive step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_size_used: Option<f64>,
}

impl StepInfo {
    /// The record of a particle flow's step `step` (1-based) from its report (the CPU's or the GPU's).
    pub fn from_flow_report(step: usize, report: &StepReport) -> Self {
        Self {
            step,
            objective_id: report.objective_name.clone(),
            objective_name: flow_objective_name(&report.objective_name),
            objective: report.objective_value,
            standard_error: None,
            sinkhorn: report.sinkhorn.clone(),
            step_size_used: Some(report.step_size_used),
        }
    }
}

/// The name for people of a flow's objective id (`StepReport::objective_name`).
pub fn flow_objective_name(id: &str) -> String {
    match id {
        "mmd2" => "MMD² (flow kernel)".to_owned(),
        "energy_mmd2_sliced" => "sliced energy distance (Riesz r = 1 MMD²)".to_owned(),
        "sinkhorn_divergence" => "Sinkhorn divergence S_ε".to_owned(),
        "ot_epsilon" => "entropic OT_ε (not debiased)".to_owned(),
        "kl_kde" => "KL(q‖p) by leave-one-out KDE of q (biased, can be < 0)".to_owned(),
        other => other.to_owned(),
    }
}

/// The model as it stands, for drawing.
#[derive(Debug, Clone, Copy)]
pub enum ModelView<'a> {
    Mixture(&'a Mixture),
    Particles(&'a [Vec2]),
}

impl<'a> From<ModelView<'a>> for ModelRef<'a> {
    fn from(v: ModelView<'a>) -> Self {
        match v {
            ModelView::Mixture(q) => ModelRef::Mixture(q),
            ModelView::Particles(p) => ModelRef::Particles(p),
        }
    }
}

#[derive(Clone)]
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
    BwJko {
        q: Mixture,
        rule: Hermite,
    },
}

/// A paused run ([`Simulation::checkpoint`]), serializable with serde (JSON through `serde_json` keeps
/// every f64 bit): the scenario as it stands (after any retarget or step-size change), the step count and
/// the method's internal state — a gradient fit's parameters and optimizer moments (Adam's m and v), EM's
/// mixture, or the whole particle flow (positions, underdamped Langevin's velocities, the step counter
/// that picks the noise stream, the adaptive MMD step, the Sinkhorn warm start, the cached self-terms).
/// What is derived from the scenario (the target, EM's data, a flow's target points) is rebuilt.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub scenario: Scenario,
    pub steps_taken: usize,
    state: CheckpointState,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
enum CheckpointState {
    Gradient {
        params: Vec<f64>,
        optimizer: Optimizer,
    },
    Em {
        params: Vec<f64>,
    },
    Flow {
        flow: Box<ParticleFlow>,
    },
    BwJko {
        params: Vec<f64>,
    },
}

/// A running scenario (a clone goes on from the same state: same model, optimizer state and step count).
#[derive(Clone)]
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
            (ModelSpec::Mixture { init }, Method::BwJko { nodes, .. }) => {
                if target.density().is_none() {
                    return Err(CoreError::not_applicable(
                        "the bw_jko method follows the target's score, which a sample target does not have",
                    ));
                }
                State::BwJko {
                    q: Mixture::from_init(init, &bbox)?,
                    rule: Hermite::new(*nodes)?,
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

    /// Why the fit's objective is +∞ at its current q, so that it has no gradient to follow (an
    /// f-divergence of the χ² or α family between mixtures, decided exactly by [`super::tails`]); `None`
    /// when it is finite or not of that kind. The run layer refuses to start such a fit.
    pub fn objective_infinite(&self) -> Option<String> {
        let (State::Gradient { q, .. }, Method::Gradient { objective, .. }) =
            (&self.state, &self.scenario.method)
        else {
            return None;
        };
        let super::fit::Objective::FDivergence { divergence, .. } = objective else {
            return None;
        };
        let p = self.target.density().and_then(|d| d.as_mixture())?;
        super::tails::divergence_infinite(divergence, p, q).map(|why| {
            format!(
                "method.objective: {} is infinite at the start, so it cannot be fitted: {why}; start q \
                 wider (model.init) or pick another divergence",
                divergence.name()
            )
        })
    }

    pub fn model(&self) -> ModelView<'_> {
        match &self.state {
            State::Gradient { q, .. } | State::Em { q, .. } | State::BwJko { q, .. } => {
                ModelView::Mixture(q)
            }
            State::Flow { flow, .. } => ModelView::Particles(flow.particles()),
        }
    }

    /// The fixed sample set the method uses (EM's data, a flow's target points), if any.
    pub fn target_points(&self) -> &[Vec2] {
        match &self.state {
            State::Em { samples, .. } => samples,
            State::Flow { target_points, .. } => target_points,
            State::Gradient { .. } | State::BwJko { .. } => &[],
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
    /// The flow's noise goes on from step `steps_taken` and its own state (velocities, adaptive step) is
    /// kept ([`ParticleFlow::resume_at`]), so a stateless flow continues with the bits of an uninterrupted
    /// CPU run from those positions.
    pub fn resume_particles(&mut self, particles: Vec<Vec2>, steps_taken: usize) -> CoreResult<()> {
        let State::Flow { flow, .. } = &mut self.state else {
            return Err(CoreError::invalid(
                "only a particle model can resume from particles",
            ));
        };
        flow.resume_at(particles, steps_taken as u64)?;
        self.steps_taken = steps_taken;
        Ok(())
    }

    /// The run as it stands, to serialize and [`Simulation::restore`] later (pause, save, continue).
    pub fn checkpoint(&self) -> Checkpoint {
        let state = match &self.state {
            State::Gradient { q, optimizer } => CheckpointState::Gradient {
                params: q.params(),
                optimizer: optimizer.as_ref().clone(),
            },
            State::Em { q, .. } => CheckpointState::Em { params: q.params() },
            State::BwJko { q, .. } => CheckpointState::BwJko { params: q.params() },
            State::Flow { flow, .. } => CheckpointState::Flow {
                flow: Box::new(flow.as_ref().clone()),
            },
        };
        Checkpoint {
            scenario: self.scenario.clone(),
            steps_taken: self.steps_taken,
            state,
        }
    }

    /// The run a [`Checkpoint`] holds: built from its scenario (`image` feeds an image target, as in
    /// [`Simulation::new`]), then given the checkpoint's state, which is checked against the scenario.
    /// Stepping it gives the bits the checkpointed run would have given.
    pub fn restore(cp: &Checkpoint, image: Option<&GrayImage>) -> CoreResult<Self> {
        let mut sim = Self::new(&cp.scenario, image)?;
        match (&mut sim.state, &cp.state, &cp.scenario.method) {
            (
                State::Gradient { q, optimizer },
                CheckpointState::Gradient {
                    params,
                    optimizer: saved,
                },
                Method::Gradient { optimizer: cfg, .. },
            ) => {
                saved.check_restored(cfg, q.n_params())?;
                q.set_params(params)?;
                **optimizer = saved.clone();
            }
            (State::Em { q, .. }, CheckpointState::Em { params }, _)
            | (State::BwJko { q, .. }, CheckpointState::BwJko { params }, _) => {
                q.set_params(params)?
            }
            (State::Flow { flow, .. }, CheckpointState::Flow { flow: saved }, _) => {
                saved.check_restored(flow.config(), flow.particles().len())?;
                **flow = saved.as_ref().clone();
            }
            _ => {
                return Err(CoreError::invalid(
                    "checkpoint: its state is not for the scenario's method",
                ));
            }
        }
        sim.steps_taken = cp.steps_taken;
        Ok(sim)
    }

    /// Changes the target to `spec` (with `image` for an image target) while the model stays where it is:
    /// the mixture and its optimizer's state, or the particles and their velocities, and the step count are
    /// kept, so the fit goes on toward the new target. What was drawn from the old target is drawn again from
    /// the new one with the same streams (EM's data, a flow's target points). On error nothing changes.
    pub fn retarget(&mut self, spec: &TargetSpec, image: Option<&GrayImage>) -> CoreResult<()> {
        let mut scenario = self.scenario.clone();
        scenario.target = spec.clone();
        scenario.validate()?;
        let target = Target::build(&scenario.target, image)?;
        match &self.state {
            State::Flow { flow, .. } => {
                if flow.config().needs_score() && target.density().is_none() {
                    return Err(CoreError::not_applicable(
                        "this flow follows the target's score, which a sample target does not have",
                    ));
                }
            }
            State::BwJko { .. } => {
                if target.density().is_none() {
                    return Err(CoreError::not_applicable(
                        "the bw_jko method follows the target's score, which a sample target does not have",
                    ));
                }
            }
            State::Gradient { .. } | State::Em { .. } => {}
        }
        let seed = scenario.seed;
        match &mut self.state {
            State::Gradient { .. } | State::BwJko { .. } => {}
            State::Em { samples, .. } => {
                let mut r = rng::substream(seed, STREAM_TARGET_SAMPLES);
                *samples = target.sample(samples.len(), &mut r);
            }
            State::Flow {
                flow,
                target_points,
            } => {
                *target_points = match (target.points(), flow.config().target_samples()) {
                    (Some(points), _) => points.to_vec(),
                    (None, Some(n)) => {
                        let mut r = rng::substream(seed, STREAM_TARGET_SAMPLES);
                        target.sample(n, &mut r)
                    }
                    (None, None) => Vec::new(),
                };
                flow.forget_target();
            }
        }
        self.scenario = scenario;
        self.target = target;
        Ok(())
    }

    /// The method's step size (an optimizer's learning rate, a flow's step size); `None` for EM and for
    /// D-Adaptation, which sets its own.
    pub fn step_size(&self) -> Option<f64> {
        match &self.scenario.method {
            Method::Gradient { optimizer, .. } => optimizer.lr(),
            Method::Flow { flow } => Some(flow.step_size()),
            Method::BwJko { step_size, .. } => Some(*step_size),
            Method::Em { .. } => None,
        }
    }

    /// Multiplies the step size by `factor` from the next step on, keeping the state (the model, the
    /// optimizer's moments, the particles' velocities and the step count) and the scenario in agreement.
    /// Errors for EM (no step size) or a step size the method's ranges refuse.
    pub fn scale_step_size(&mut self, factor: f64) -> CoreResult<()> {
        let Some(old) = self.step_size() else {
            return Err(CoreError::not_applicable(
                "this method has no step size (EM, or D-Adaptation, which sets its own)",
            ));
        };
        let new = old * factor;
        let mut scenario = self.scenario.clone();
        match &mut scenario.method {
            Method::Gradient { optimizer, .. } => optimizer.set_lr(new)?,
            Method::Flow { flow } => flow.set_step_size(new),
            Method::BwJko { step_size, .. } => *step_size = new,
            Method::Em { .. } => {}
        }
        scenario.validate()?;
        match &mut self.state {
            State::Gradient { optimizer, .. } => optimizer.set_lr(new)?,
            State::Flow { flow, .. } => flow.set_step_size(new)?,
            State::Em { .. } | State::BwJko { .. } => {}
        }
        self.scenario = scenario;
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
                let eval = objective.evaluate(&self.target, q, &mut r)?;
                let (value, grad) = (eval.value, eval.grad);
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
                    objective_id: objective.id(),
                    objective_name: objective.name(),
                    objective: value,
                    standard_error: eval.standard_error,
                    sinkhorn: eval.sinkhorn,
                    step_size_used: None,
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
                    objective_id: "negative_log_likelihood".to_owned(),
                    objective_name: "negative mean log-likelihood".to_owned(),
                    objective: -mean_loglik,
                    standard_error: None,
                    sinkhorn: None,
                    step_size_used: None,
                }
            }
            State::BwJko { q, rule } => {
                let Method::BwJko { step_size, .. } = &self.scenario.method else {
                    return Err(CoreError::invalid("bw_jko state without the bw_jko method"));
                };
                let density = self.target.density().ok_or_else(|| {
                    CoreError::not_applicable("the bw_jko method needs a density target")
                })?;
                let score = |x: Vec2| density.score(x);
                let log_p = |x: Vec2| density.log_density(x);
                let (mean, cov, report) =
                    fb_step(q.mean(), &q.covariance(), *step_size, rule, &log_p, &score)?;
                *q = Mixture::single(mean, cov)?;
                StepInfo {
                    step: index,
                    objective_id: "reverse_kl".to_owned(),
                    objective_name: format!(
                        "KL(q‖p) (Gauss–Hermite, {n}×{n} nodes)",
                        n = rule.nodes.len()
                    ),
                    objective: report.kl,
                    standard_error: None,
                    sinkhorn: None,
                    step_size_used: Some(*step_size),
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
                        flow.step(
                            &FlowTarget::density(&score, &log_density)
                                .with_support(density.support()),
                        )?
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

fn init_particles(count: usize, init: &ParticleInit, target: &Target, r: &mut Rng) -> Vec<Vec2> {
    match init {
        ParticleInit::Gaussian { mean, std } => (0..count)
            .map(|_| {
                let z = rng::normal2(r);
                [mean[0] + std * z[0], mean[1] + std * z[1]]
            })
            .collect(),
        ParticleInit::Points { points, .. } => points.clone(),
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
    /// Every row of the measurement battery between the target and the model as it stands
    /// ([`super::measure`], with the scenario's `measure` settings). Deterministic from the scenario's seed.
    pub fn measure(&self) -> Vec<Row> {
        measure(
            &self.target,
            self.model().into(),
            self.scenario.seed,
            &self.scenario.measure.over(&MeasureSettings::DEFAULT),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::measure::row_ids;

    fn sim(text: &str) -> Simulation {
        Simulation::new(&Scenario::parse(text).unwrap(), None).unwrap()
    }

    const MC_REVERSE_KL: &str = r#"(version: 1, seed: 5, target: (kind: "two_modes"),
        model: (kind: "mixture", init: (kind: "given", weights: [1.0], means: [(0.3, 0.4)],
            covariances: [((0.5, 0.0), (0.0, 0.5))])),
        method: (kind: "gradient",
            objective: (kind: "f_divergence", divergence: (kind: "reverse_kl"),
                estimator: (kind: "monte_carlo", samples: 256)),
            optimizer: (kind: "adam", lr: 0.05)))"#;

    #[test]
    fn an_objective_infinite_at_the_start_is_refused_with_the_direction() {
        // q = N(·, 0.1 I) under p's modes of variance ¼: ∫p²/q has 2·4 − 10 < 0 in every direction.
        let text = MC_REVERSE_KL
            .replace("((0.5, 0.0), (0.0, 0.5))", "((0.1, 0.0), (0.0, 0.1))")
            .replace(
                r#"divergence: (kind: "reverse_kl"),
                estimator: (kind: "monte_carlo", samples: 256)"#,
                r#"divergence: (kind: "pearson_chi2"), estimator: (kind: "grid", resolution: 64)"#,
            );
        assert!(text.contains("pearson_chi2"), "{text}");
        let err = sim(&text).objective_infinite().unwrap();
        assert!(err.contains("infinite at the start"), "{err}");
        assert!(
            err.contains("q's tails are too light for p's along direction"),
            "{err}"
        );
        // Wider, the same objective starts (2·4 − 1/0.5 > 0).
        let wide = text.replace("((0.1, 0.0), (0.0, 0.1))", "((0.5, 0.0), (0.0, 0.5))");
        assert_eq!(sim(&wide).objective_infinite(), None);
    }

    const SINKHORN_FLOW: &str = r#"(version: 1, seed: 3, target: (kind: "two_moons"),
        model: (kind: "particles", count: 60, init: (kind: "gaussian", mean: (0.0, -2.0), std: 0.4)),
        method: (kind: "flow", flow: (kind: "sinkhorn",
            sinkhorn: (epsilon: 0.05, scaling: Some(0.7), max_iters: 200, tolerance: 0.001),
            step_size: 0.5, target_samples: 80)))"#;

    #[test]
    fn a_monte_carlo_step_reports_its_standard_error() {
        let mut s = sim(MC_REVERSE_KL);
        let info = s.step().unwrap();
        let se = info.standard_error.expect("standard error");
        assert!(se.is_finite() && se > 0.0, "{se}");
        assert!(info.sinkhorn.is_none() && info.step_size_used.is_none());
        let v = serde_json::to_value(&info).unwrap();
        assert_eq!(v["standard_error"].as_f64(), Some(se));
        assert!(
            v.get("sinkhorn").is_none() && v.get("step_size_used").is_none(),
            "{v}"
        );
    }

    #[test]
    fn a_sinkhorn_flow_step_reports_the_solver_and_the_step_size() {
        let mut s = sim(SINKHORN_FLOW);
        let info = s.step().unwrap();
        let d = info.sinkhorn.clone().expect("solver diagnostics");
        assert!(d.iterations_xy > 0 && d.marginal_error.is_finite());
        assert_eq!(info.step_size_used, Some(0.5));
        assert!(info.standard_error.is_none());
        let v = serde_json::to_value(&info).unwrap();
        assert!(v["sinkhorn"]["iterations_xy"].as_u64().is_some(), "{v}");
        assert!(v.get("standard_error").is_none(), "{v}");
        // The battery measures the particle cloud with every row present.
        let rows = s.measure();
        let ids: Vec<_> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, row_ids());
        let sinkhorn = rows.iter().find(|r| r.id == "sinkhorn").unwrap();
        assert_eq!(sinkhorn.outcome.tag(), "value");
        let rkl = rows.iter().find(|r| r.id == "reverse_kl").unwrap();
        assert_eq!(rkl.outcome.tag(), "not_applicable");
    }
}
