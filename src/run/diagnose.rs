//! Why a refused step was refused: the step is retried from the last good state with a smaller step size
//! (and, for a GPU step, on the CPU core as it was), and the answer says what the retries showed.
//!
//! [`diagnose`] owns a copy of the simulation at its last good step, so it can run off the frame thread
//! ([`super::worker::Worker`]); it takes at most 1 + 2·[`RETRY_STEPS`] steps.

use crate::core::fdiv::Estimator;
use crate::core::fit::Objective;
use crate::core::flows::{Bandwidth, FlowConfig};
use crate::core::math::display_number;
use crate::core::mmd::Kernel;
use crate::core::scenario::Method;
use crate::core::sim::Simulation;

/// Steps a retry must take without a non-finite value to count as a fix: the refused one and the next two.
pub const RETRY_STEPS: usize = 3;

/// Factors of the step size tried, in order: a half (the one-click fix), then an eighth.
pub const RETRY_FACTORS: [f64; 2] = [0.5, 0.125];

/// What retrying a refused step says about its cause.
#[derive(Debug, Clone, PartialEq)]
pub enum StopCause {
    /// With the step size times `factor` the refused step and the next ones stay finite.
    StepSize {
        /// E.g. "the learning rate lr = 0.05".
        setting: String,
        factor: f64,
    },
    /// The CPU core takes the refused step as it is: the GPU's f32 arithmetic overflowed, most likely.
    GpuPrecision,
    /// A smaller step size does not help: the settings that are likely instead (possibly none known).
    NotStepSize {
        /// E.g. "half and an eighth of the learning rate lr = 0.05".
        tried: String,
        suspects: Vec<String>,
    },
    /// Nothing could be retried (EM has no step size, …): why.
    Unknown { why: String },
}

impl StopCause {
    /// One sentence for the user.
    pub fn describe(&self) -> String {
        match self {
            Self::StepSize { setting, factor } if *factor == 0.5 => format!(
                "the cause is {setting}: from the last good state, half of it takes the refused step and \
                 the next {} without a non-finite value",
                RETRY_STEPS - 1
            ),
            Self::StepSize { setting, factor } => format!(
                "the cause is {setting}, by far: half of it still fails from the last good state, {} of it \
                 takes the refused step and the next {} (set it under Parameters)",
                fraction_words(*factor),
                RETRY_STEPS - 1
            ),
            Self::GpuPrecision => {
                "the step size is not the cause: the CPU core (f64) takes the refused step \
                 as it is, so the GPU's f32 arithmetic overflowed; compute on the CPU core"
                    .to_owned()
            }
            Self::NotStepSize { tried, suspects } if suspects.is_empty() => format!(
                "the step size is not the cause ({tried} fail as well from the last good state); the cause is \
                 unknown"
            ),
            Self::NotStepSize { tried, suspects } => format!(
                "the step size is not the cause ({tried} fail as well from the last good state); likely \
                 instead: {}",
                suspects.join("; or ")
            ),
            Self::Unknown { why } => format!("the cause is unknown: {why}"),
        }
    }

    /// Whether halving the step size is the fix (then the app offers "retry with half the step size").
    pub fn halving_fixes(&self) -> bool {
        matches!(self, Self::StepSize { factor, .. } if *factor == 0.5)
    }
}

fn fraction_words(f: f64) -> String {
    if f == 0.125 {
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

/// Why the step after `last_good` was refused. `last_good` is the simulation at its last good step (for a
/// GPU run: the CPU core resumed from the GPU's particles); `on_gpu` says that the GPU refused it.
pub fn diagnose(last_good: Simulation, on_gpu: bool) -> StopCause {
    if on_gpu && stays_finite(last_good.clone(), 1).is_ok() {
        return StopCause::GpuPrecision;
    }
    let Some(setting) = step_setting(&last_good) else {
        return StopCause::Unknown {
            why: "EM has no step size to retry with; the data or the number of components may leave a \
                  component with no points"
                .to_owned(),
        };
    };
    for factor in RETRY_FACTORS {
        let mut smaller = last_good.clone();
        if let Err(e) = smaller.scale_step_size(factor) {
            return StopCause::Unknown {
                why: format!("the step size could not be made smaller: {e}"),
            };
        }
        if stays_finite(smaller, RETRY_STEPS).is_ok() {
            return StopCause::StepSize { setting, factor };
        }
    }
    StopCause::NotStepSize {
        tried: format!("half and an eighth of {setting}"),
        suspects: suspects(&last_good),
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
            FlowConfig::Svgd { bandwidth, .. } => out.push(match bandwidth {
                Bandwidth::Median => "the SVGD kernel bandwidth (the median heuristic)".to_owned(),
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
        Method::Em { .. } => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fdiv::FDivKind;
    use crate::core::mixture::MixtureInit;
    use crate::core::scenario::{ModelSpec, Scenario};
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

    #[test]
    fn a_step_size_too_large_is_named_and_a_smaller_one_goes_on() {
        // Underdamped Langevin on the funnel with its step size doubled until the run blows up.
        let mut s = scenario("funnel_langevin");
        let Method::Flow { flow } = &mut s.method else {
            panic!("a flow");
        };
        let mut found = None;
        for _ in 0..12 {
            flow.set_step_size(flow.step_size() * 2.0);
            let mut t = s.clone();
            t.method = Method::Flow { flow: flow.clone() };
            if t.validate().is_err() {
                break;
            }
            if let Some(sim) = last_good_before_refusal(&t, 400) {
                found = Some(sim);
                break;
            }
        }
        let sim = found.expect("a step size that blows up");
        let cause = diagnose(sim.clone(), false);
        let StopCause::StepSize { setting, factor } = &cause else {
            panic!("{cause:?}");
        };
        assert!(
            setting.starts_with("the step size step_size = "),
            "{setting}"
        );
        assert!(RETRY_FACTORS.contains(factor));
        assert!(cause.describe().starts_with("the cause is the step size"));
        // And it is true: the retry it names does go on.
        let mut retry = sim;
        retry.scale_step_size(*factor).unwrap();
        for _ in 0..RETRY_STEPS {
            retry.step().unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn halving_is_named_as_the_fix_when_it_is_one() {
        // Gradient descent on the reverse KL with a learning rate it cannot take; the state is the start.
        let mut s = scenario("two_modes_reverse_kl");
        let Method::Gradient { optimizer, .. } = &mut s.method else {
            panic!("a gradient fit");
        };
        let mut lr = optimizer.lr();
        let mut cause = None;
        for _ in 0..40 {
            lr *= 2.0;
            let mut t = s.clone();
            if let Method::Gradient { optimizer, .. } = &mut t.method {
                optimizer.set_lr(lr);
            }
            if t.validate().is_err() {
                break;
            }
            if let Some(sim) = last_good_before_refusal(&t, 60) {
                cause = Some(diagnose(sim, false));
                break;
            }
        }
        // Whichever factor the search found, a step-size cause is named and worded truthfully.
        let cause = cause.expect("a learning rate that blows up");
        match &cause {
            StopCause::StepSize { setting, factor } => {
                assert!(setting.starts_with("the learning rate lr = "), "{setting}");
                assert_eq!(cause.halving_fixes(), *factor == 0.5);
            }
            other => panic!("{other:?}"),
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
        let cause = diagnose(sim, false);
        let StopCause::NotStepSize { tried, suspects } = &cause else {
            panic!("{cause:?}");
        };
        assert!(tried.contains("learning rate"), "{tried}");
        assert!(suspects[0].contains("ill-conditioned"), "{suspects:?}");
        assert!(!cause.halving_fixes());
        assert!(
            cause
                .describe()
                .starts_with("the step size is not the cause"),
            "{}",
            cause.describe()
        );
    }

    #[test]
    fn em_has_no_step_size_and_says_so() {
        let sim = Simulation::new(&scenario("mixture_em"), None).unwrap_or_else(|e| panic!("{e}"));
        let cause = diagnose(sim, false);
        assert!(matches!(cause, StopCause::Unknown { .. }), "{cause:?}");
        assert!(cause.describe().contains("EM has no step size"));
    }
}
