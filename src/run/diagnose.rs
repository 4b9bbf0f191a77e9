//! Why a refused step was refused: the step is retried from the last good state with a smaller step size
//! (and, for a GPU step, on the CPU core as it was), and the answer says what the retries showed.
//!
//! [`diagnose`] owns a copy of the simulation at its last good step, so it can run off the frame thread
//! ([`super::worker::Worker`]); it takes at most 1 + 2·[`RETRY_STEPS`] steps.

use crate::core::fdiv::Estimator;
use crate::core::fit::Objective;
use crate::core::flows::{Bandwidth, FlowConfig, OUTSIDE_SUPPORT};
use crate::core::math::display_number;
use crate::core::mmd::Kernel;
use crate::core::scenario::Method;
use crate::core::sim::Simulation;
use crate::core::target::Support;

/// Steps a retry must take without a non-finite value to count as a fix: the refused one and the next two.
pub const RETRY_STEPS: usize = 3;

/// Factors of the step size tried, in order: a half (the one-click fix), then an eighth.
pub const RETRY_FACTORS: [f64; 2] = [0.5, 0.125];

/// What retrying a refused step says about its cause.
#[derive(Debug, Clone, PartialEq)]
pub enum StopCause {
    /// With the step size times `factor` the refused step and the next ones stay finite: from the last
    /// good state, or (`from_start`) from the run's first state, past the refused step.
    StepSize {
        /// E.g. "the learning rate lr = 0.05".
        setting: String,
        factor: f64,
        from_start: bool,
        /// The step the retry reached without a non-finite value.
        reached: usize,
    },
    /// The CPU core takes the refused step as it is: the GPU's f32 arithmetic overflowed, most likely.
    GpuPrecision,
    /// No smaller step goes on from the last good state, and a restart with half the step size did not get
    /// past the refused step within the time allowed: most likely the step size (the model had run off over
    /// the previous steps), not shown.
    LikelyStepSize {
        setting: String,
        factor: f64,
        reached: usize,
    },
    /// A smaller step size does not help: the settings that are likely instead (possibly none known).
    NotStepSize {
        /// E.g. "half and an eighth of the learning rate lr = 0.05 from the last good state".
        tried: String,
        suspects: Vec<String>,
    },
    /// A score flow that does not know the target's bounded support carried a particle out of it: a smaller
    /// step only delays the exit, the flow is the cause.
    LeftSupport {
        /// E.g. "SVGD".
        flow: String,
        /// E.g. "the open simplex x > 0, y > 0, x + y < 1".
        support: String,
    },
    /// Nothing could be retried (EM has no step size, …): why.
    Unknown { why: String },
}

impl StopCause {
    /// One sentence for the user.
    pub fn describe(&self) -> String {
        match self {
            Self::StepSize {
                setting,
                factor,
                from_start: false,
                reached,
            } => format!(
                "the cause is {setting}: from the last good state, {} of it goes on to step {reached} \
                 without a non-finite value{}",
                fraction_words(*factor),
                if *factor < 0.5 {
                    " (half of it does not: set it under Parameters)"
                } else {
                    ""
                }
            ),
            Self::StepSize {
                setting,
                factor,
                from_start: true,
                reached,
            } => format!(
                "the cause is {setting}: the model had run off, so no retry from the last good state goes on, \
                 but {} of it from the start goes to step {reached} without a non-finite value{}",
                fraction_words(*factor),
                if *factor < 0.5 {
                    " (half of it does not: set it under Parameters)"
                } else {
                    ""
                }
            ),
            Self::GpuPrecision => {
                "the step size is not the cause: the CPU core (f64) takes the refused step \
                 as it is, so the GPU's f32 arithmetic overflowed; compute on the CPU core"
                    .to_owned()
            }
            Self::LikelyStepSize {
                setting,
                factor,
                reached,
            } => format!(
                "the likely cause is {setting} (not shown): no retry from the last good state goes on, and a \
                 restart with {} of it reached step {reached} in the time allowed without a non-finite value",
                fraction_words(*factor)
            ),
            Self::NotStepSize { tried, suspects } if suspects.is_empty() => format!(
                "the step size alone is not the cause ({tried} fail as well); the cause is unknown"
            ),
            Self::NotStepSize { tried, suspects } => format!(
                "the step size alone is not the cause ({tried} fail as well); likely instead: {}",
                suspects.join("; or ")
            ),
            Self::LeftSupport { flow, support } => format!(
                "the cause is the flow: {flow} does not know the edges of {support}, so a smaller step only delays a \
                 particle's exit; mirrored_svgd keeps every particle inside (flow under Parameters)"
            ),
            Self::Unknown { why } => format!("the cause is unknown: {why}"),
        }
    }

    /// Whether halving the step size was shown to be the fix (then the app offers "retry with half the
    /// step size").
    pub fn halving_fixes(&self) -> bool {
        matches!(self, Self::StepSize { factor, .. } if *factor == 0.5)
    }
}

fn fraction_words(f: f64) -> String {
    if f == 0.5 {
        "half".to_owned()
    } else if f == 0.125 {
        "an eighth".to_owned()
    } else {
        format!("×{}", display_number(f))
    }
}

/// The method's step size in words, e.g. "the learning rate lr = 0.05"; `None` for EM.
pub fn step_setting(sim: &Simulation) -> Option<String> {
    let value = sim.step_size()?;
    let what = match &sim.scenario().method {
        Method::Gradient { .. } => "the learning rate lr",
        _ => "the step size step_size",
    };
    Some(format!("{what} = {}", display_number(value)))
}

/// Takes `n` steps of `sim`; the first refusal's reason, if any.
fn stays_finite(mut sim: Simulation, n: usize) -> Result<(), String> {
    for _ in 0..n {
        sim.step().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// How a restart went: to `goal`, refused, or out of time.
enum Restart {
    Reached(usize),
    Refused(usize),
    OutOfTime(usize),
}

/// Steps `sim` until it has taken `goal` steps, a step is refused, or `budget_s` seconds are spent.
fn restart(mut sim: Simulation, goal: usize, budget_s: f64) -> Restart {
    let start = web_time::Instant::now();
    while sim.steps_taken() < goal {
        if start.elapsed().as_secs_f64() > budget_s {
            return Restart::OutOfTime(sim.steps_taken());
        }
        if sim.step().is_err() {
            return Restart::Refused(sim.steps_taken());
        }
    }
    Restart::Reached(sim.steps_taken())
}

/// Why the step after `last_good` was refused. `last_good` is the simulation at its last good step (for a
/// GPU run: the CPU core resumed from the GPU's particles); `first`, if known, the run's first state (step
/// 0); `on_gpu` says that the GPU refused the step. Tried in order: the refused step on the CPU core as it
/// is (GPU stops only); from the last good state each of [`RETRY_FACTORS`] times the step size for
/// [`RETRY_STEPS`] steps; then from `first` half the step size to [`RETRY_STEPS`] − 1 steps past the
/// refused one, within `budget_s` seconds (a model that ran off over many steps cannot be rescued from its
/// last state, but a smaller step from the start may never run off).
pub fn diagnose(
    last_good: Simulation,
    first: Option<Simulation>,
    on_gpu: bool,
    budget_s: f64,
) -> StopCause {
    if on_gpu && stays_finite(last_good.clone(), 1).is_ok() {
        return StopCause::GpuPrecision;
    }
    if let Some(cause) = left_support(&last_good) {
        return cause;
    }
    let Some(setting) = step_setting(&last_good) else {
        return StopCause::Unknown {
            why: "EM has no step size to retry with; the data or the number of components may leave a \
                  component with no points"
                .to_owned(),
        };
    };
    let refused = last_good.steps_taken() + 1;
    for factor in RETRY_FACTORS {
        let mut smaller = last_good.clone();
        if let Err(e) = smaller.scale_step_size(factor) {
            return StopCause::Unknown {
                why: format!("the step size could not be made smaller: {e}"),
            };
        }
        if stays_finite(smaller, RETRY_STEPS).is_ok() {
            return StopCause::StepSize {
                setting,
                factor,
                from_start: false,
                reached: last_good.steps_taken() + RETRY_STEPS,
            };
        }
    }
    let mut tried = format!("half and an eighth of {setting} from the last good state");
    if let Some(first) = first.filter(|f| f.steps_taken() == 0 && refused > 1) {
        let start = web_time::Instant::now();
        for factor in RETRY_FACTORS {
            let mut from = first.clone();
            if from.scale_step_size(factor).is_err() {
                break;
            }
            let left = budget_s - start.elapsed().as_secs_f64();
            match restart(from, refused + RETRY_STEPS - 1, left) {
                Restart::Reached(reached) => {
                    return StopCause::StepSize {
                        setting,
                        factor,
                        from_start: true,
                        reached,
                    };
                }
                Restart::OutOfTime(reached) => {
                    return StopCause::LikelyStepSize {
                        setting,
                        factor,
                        reached,
                    };
                }
                Restart::Refused(at) => tried.push_str(&format!(
                    ", {} of it from the start (refused at step {})",
                    fraction_words(factor),
                    at + 1
                )),
            }
        }
    }
    StopCause::NotStepSize {
        tried,
        suspects: suspects(&last_good),
    }
}

/// [`StopCause::LeftSupport`] when the target's support is bounded, the method a score flow other than
/// mirrored SVGD, and the refused step (taken again from the last good state) leaves the support.
fn left_support(last_good: &Simulation) -> Option<StopCause> {
    let support = last_good.target().density()?.support();
    let Method::Flow { flow } = &last_good.scenario().method else {
        return None;
    };
    if support == Support::Plane
        || !flow.needs_score()
        || matches!(flow, FlowConfig::MirroredSvgd { .. })
    {
        return None;
    }
    match stays_finite(last_good.clone(), 1) {
        Err(e) if e.contains(OUTSIDE_SUPPORT) => Some(StopCause::LeftSupport {
            flow: flow.label().to_owned(),
            support: support.describe().to_owned(),
        }),
        _ => None,
    }
}

fn kernel_words(k: &Kernel) -> String {
    match k {
        Kernel::Gaussian { sigma } => {
            format!("the kernel bandwidth σ = {}", display_number(*sigma))
        }
        Kernel::InverseMultiquadric { c } => {
            format!("the kernel scale c = {}", display_number(*c))
        }
        Kernel::Laplace { sigma } => format!("the kernel bandwidth σ = {}", display_number(*sigma)),
        Kernel::Riesz { r } => format!("the Riesz kernel's exponent r = {}", display_number(*r)),
    }
}

/// The settings other than the step size that can make a step of this method non-finite.
fn suspects(sim: &Simulation) -> Vec<String> {
    let mut out = Vec::new();
    match &sim.scenario().method {
        Method::Flow { flow } => match flow {
            FlowConfig::Mmd {
                kernel,
                noise_level,
                ..
            } => {
                out.push(format!(
                    "{} (too narrow for the particles' spread)",
                    kernel_words(kernel)
                ));
                if *noise_level > 0.0 {
                    out.push(format!(
                        "the noise level noise_level = {}",
                        display_number(*noise_level)
                    ));
                }
            }
            FlowConfig::Sinkhorn { sinkhorn, .. } => out.push(format!(
                "Sinkhorn's ε = {} (too small for the distances between the points)",
                display_number(sinkhorn.epsilon)
            )),
            FlowConfig::Svgd { bandwidth, .. } | FlowConfig::MirroredSvgd { bandwidth, .. } => out
                .push(match bandwidth {
                    Bandwidth::Median => {
                        "the SVGD kernel bandwidth (the median heuristic)".to_owned()
                    }
                    Bandwidth::Fixed { h } => {
                        format!("the SVGD kernel bandwidth h = {}", display_number(*h))
                    }
                }),
            FlowConfig::SlicedRiesz { .. } => {}
            FlowConfig::Langevin { .. } | FlowConfig::UnderdampedLangevin { .. } => out.push(
                "an ill-conditioned target: its score is too steep where the particles are"
                    .to_owned(),
            ),
        },
        Method::Gradient { objective, .. } => match objective {
            Objective::FDivergence { estimator, .. } => {
                out.push(
                    "an ill-conditioned target for this divergence: the ratio p/q over- or underflows where \
                     one density has (numerically) no mass; another divergence or a wider q"
                        .to_owned(),
                );
                if let Estimator::MonteCarlo { samples } = estimator {
                    out.push(format!("too few Monte Carlo samples (samples = {samples})"));
                }
            }
            Objective::Sinkhorn { config, .. } => out.push(format!(
                "Sinkhorn's ε = {} (too small for the distances between the points)",
                display_number(config.epsilon)
            )),
            Objective::Mmd { kernel, .. } => out.push(kernel_words(kernel)),
            _ => {}
        },
        Method::BwJko { .. } => out.push(
            "an ill-conditioned target: its score is too steep where q's quadrature nodes are"
                .to_owned(),
        ),
        Method::Em { .. } => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fdiv::FDivKind;
    use crate::core::mixture::MixtureInit;
    use crate::core::scenario::{ModelSpec, ParticleInit, Scenario};
    use crate::core::target::{GaussianMixtureSpec, TargetSpec};
    use crate::run::load;

    fn scenario(name: &str) -> Scenario {
        load::bundled(name)
            .unwrap_or_else(|e| panic!("{e}"))
            .scenario
    }

    /// Steps until the first refusal (at most `max` steps): the simulation at its last good step.
    fn last_good_before_refusal(s: &Scenario, max: usize) -> Option<Simulation> {
        let mut sim = Simulation::new(s, None).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..max {
            let before = sim.clone();
            if sim.step().is_err() {
                return Some(before);
            }
        }
        None
    }

    /// Particles from N(0, 1) under a flow of the given step size: `flow(h)`.
    fn flow_scenario(base: &str, target_std_normal: bool, flow: FlowConfig) -> Scenario {
        let mut s = scenario(base);
        if target_std_normal {
            s.target = TargetSpec::GaussianMixture(GaussianMixtureSpec {
                weights: vec![1.0],
                means: vec![[0.0, 0.0]],
                covariances: vec![[[1.0, 0.0], [0.0, 1.0]]],
            });
        }
        s.model = ModelSpec::Particles {
            count: 50,
            init: ParticleInit::Gaussian {
                mean: [0.0, 0.0],
                std: 1.0,
            },
        };
        s.method = Method::Flow { flow };
        s
    }

    fn cause_of(s: &Scenario) -> (Simulation, StopCause) {
        let first = Simulation::new(s, None).unwrap_or_else(|e| panic!("{e}"));
        let sim = last_good_before_refusal(s, 3000).expect("the run is refused");
        let cause = diagnose(sim.clone(), Some(first), false, 60.0);
        (sim, cause)
    }

    /// Plain SVGD leaving the simplex (refused at step 32 at η = 0.003, `tests/claims.rs`): an eighth of the
    /// step would go on three more steps, but the flow is named as the cause, and mirrored SVGD as the fix.
    #[test]
    fn a_flow_that_leaves_the_simplex_is_named_as_the_cause() {
        let mut s = scenario("dirichlet_mirrored_svgd");
        s.method = Method::Flow {
            flow: FlowConfig::Svgd {
                bandwidth: Bandwidth::Median,
                step_size: 0.003,
            },
        };
        let (sim, cause) = cause_of(&s);
        assert_eq!(sim.steps_taken(), 31);
        let StopCause::LeftSupport { flow, support } = &cause else {
            panic!("{cause:?}");
        };
        assert_eq!(flow, "SVGD");
        assert!(support.contains("simplex"), "{support}");
        assert!(!cause.halving_fixes());
        assert!(
            cause.describe().contains("mirrored_svgd"),
            "{}",
            cause.describe()
        );
        // Mirrored SVGD itself refused at the edge is a step-size question, not this cause.
        let mut m = scenario("dirichlet_mirrored_svgd");
        m.method = Method::Flow {
            flow: FlowConfig::MirroredSvgd {
                bandwidth: Bandwidth::Median,
                step_size: 0.2,
            },
        };
        let sim = Simulation::new(&m, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(left_support(&sim).is_none());
    }

    #[test]
    fn halving_the_step_size_is_named_as_the_fix_when_it_is_one() {
        // Langevin with η = 3 on N(0, I): x ← x − 3x + noise doubles |x| a step until it overflows (step
        // 509); no smaller step can rescue particles at 1e150, but η = 1.5 contracts from the start.
        let s = flow_scenario(
            "funnel_langevin",
            true,
            FlowConfig::Langevin { step_size: 3.0 },
        );
        let (sim, cause) = cause_of(&s);
        assert!(sim.steps_taken() > 100, "{}", sim.steps_taken());
        let StopCause::StepSize {
            setting,
            factor,
            from_start,
            reached,
        } = &cause
        else {
            panic!("{cause:?}");
        };
        assert_eq!(setting, "the step size step_size = 3");
        assert_eq!((*factor, *from_start), (0.5, true));
        assert!(cause.halving_fixes());
        assert!(
            cause
                .describe()
                .starts_with("the cause is the step size step_size = 3")
        );
        // True: half the step size from the start passes the refused step.
        let mut retry = Simulation::new(&s, None).unwrap_or_else(|e| panic!("{e}"));
        retry.scale_step_size(0.5).unwrap();
        for _ in 0..*reached {
            retry.step().unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(*reached > sim.steps_taken() + 1);
    }

    #[test]
    fn when_half_is_not_enough_the_smaller_step_that_works_is_named_without_the_one_click_fix() {
        // Underdamped Langevin with η = 2 on the funnel is refused at step 4; from step 3, an eighth of it
        // goes on, half of it does not.
        let s = flow_scenario(
            "funnel_langevin",
            false,
            FlowConfig::UnderdampedLangevin {
                step_size: 2.0,
                friction: 1.0,
            },
        );
        let (sim, cause) = cause_of(&s);
        let StopCause::StepSize {
            factor, from_start, ..
        } = &cause
        else {
            panic!("{cause:?}");
        };
        assert_eq!((*factor, *from_start), (0.125, false));
        assert!(!cause.halving_fixes());
        assert!(
            cause.describe().contains("half of it does not"),
            "{}",
            cause.describe()
        );
        let mut retry = sim;
        retry.scale_step_size(0.125).unwrap();
        for _ in 0..RETRY_STEPS {
            retry.step().unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn a_divergence_that_overflows_at_the_last_good_state_is_not_blamed_on_the_step_size() {
        // Pearson χ² of a narrow q far from p: p/q overflows before any step, whatever the learning rate.
        let mut s = scenario("two_modes_reverse_kl");
        if let Method::Gradient { objective, .. } = &mut s.method {
            *objective = Objective::FDivergence {
                divergence: FDivKind::PearsonChi2,
                estimator: Estimator::Grid { resolution: 64 },
            };
        }
        s.model = ModelSpec::Mixture {
            init: MixtureInit::Given {
                weights: vec![1.0],
                means: vec![[3.5, 3.5]],
                covariances: vec![[[0.01, 0.0], [0.0, 0.01]]],
            },
        };
        let sim = last_good_before_refusal(&s, 5).expect("the first step is refused");
        assert_eq!(sim.steps_taken(), 0);
        let cause = diagnose(sim, None, false, 60.0);
        let StopCause::NotStepSize { tried, suspects } = &cause else {
            panic!("{cause:?}");
        };
        assert!(tried.contains("learning rate"), "{tried}");
        assert!(suspects[0].contains("ill-conditioned"), "{suspects:?}");
        assert!(!cause.halving_fixes());
        assert!(
            cause
                .describe()
                .starts_with("the step size alone is not the cause"),
            "{}",
            cause.describe()
        );
    }

    #[test]
    fn em_has_no_step_size_and_says_so() {
        let sim = Simulation::new(&scenario("mixture_em"), None).unwrap_or_else(|e| panic!("{e}"));
        let cause = diagnose(sim, None, false, 60.0);
        assert!(matches!(cause, StopCause::Unknown { .. }), "{cause:?}");
        assert!(cause.describe().contains("EM has no step size"));
    }
}
