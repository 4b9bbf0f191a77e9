//! Fitting objectives: every divergence usable to fit the mixture q to the target p, as a value
//! and a gradient w.r.t. q's θ (every divergence at once, for measuring, is [`super::measure`]).
//!
//! Conventions are those of the modules the objectives come from: [`super::fdiv`] (D(p‖q) =
//! ∫ q f(p/q), p target, q model), [`super::closed_form`] (Cauchy–Schwarz, Gaussian MMD² between
//! mixtures), [`super::mmd`] (weighted V-statistic MMD²), [`super::sinkhorn`] (debiased S_ε with
//! cost |x − y|²) and [`super::sliced`]. Sample-based objectives use a stratified reparameterized
//! batch of q ([`Mixture::reparam_batch`]) and chain their point and weight gradients to θ with
//! [`super::mixture::ReparamBatch::pullback`].

use serde::{Deserialize, Serialize};

use super::closed_form::{cauchy_schwarz_grid, cauchy_schwarz_mixtures, mmd2_gaussian_mixtures};
use super::error::{CoreError, CoreResult};
use super::fdiv::{Estimator, FDivKind, fdiv_value_grad};
use super::math::{Vec2, display_number};
use super::mixture::Mixture;
use super::mmd::{Kernel, mmd2_grad};
use super::rng::{Rng, index};
use super::sinkhorn::{SinkhornConfig, SinkhornDiagnostics, sinkhorn_divergence};
use super::sliced::{random_directions, sliced_riesz_grad};
use super::target::Target;

fn d_resolution() -> usize {
    256
}
/// Samples of each side per step of a Sinkhorn objective (`objective.sinkhorn.samples`).
fn d_sinkhorn_samples() -> usize {
    256
}
fn d_samples() -> usize {
    1024
}
fn d_directions() -> usize {
    64
}

/// What to minimize.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum Objective {
    /// An f-divergence D_f(p‖q) (needs p's density).
    FDivergence {
        divergence: FDivKind,
        #[serde(default)]
        estimator: Estimator,
    },
    /// Cross-entropy −E_p[ln q] = KL(p‖q) + H(p): forward KL up to a constant, from target
    /// samples (`samples` per step from a density target; the points of a sample target, or a
    /// random subset of `samples` of them). The maximum-likelihood objective EM also optimizes.
    CrossEntropy {
        #[serde(default = "d_samples")]
        samples: usize,
    },
    /// Cauchy–Schwarz divergence −ln[(∫pq)²/(∫p²∫q²)]: closed form when p is a Gaussian mixture, otherwise
    /// by the grid.
    CauchySchwarz {
        #[serde(default = "d_resolution")]
        resolution: usize,
    },
    /// Gaussian-kernel MMD² in closed form (p must be a Gaussian mixture).
    MmdGaussianClosedForm { sigma: f64 },
    /// MMD² from samples with any kernel of [`super::mmd`].
    Mmd {
        kernel: Kernel,
        /// Samples of q per step (stratified over components).
        #[serde(default = "d_samples")]
        samples: usize,
        /// Samples of p per step.
        #[serde(default = "d_samples")]
        target_samples: usize,
    },
    /// Debiased Sinkhorn divergence S_ε from samples.
    Sinkhorn {
        #[serde(default)]
        config: SinkhornConfig,
        #[serde(default = "d_sinkhorn_samples")]
        samples: usize,
        #[serde(default = "d_sinkhorn_samples")]
        target_samples: usize,
    },
    /// Sliced energy MMD² (Riesz r = 1) from samples over `directions` random slices. Its
    /// gradient reaches the means and covariances; the weights are not fitted (the sliced
    /// estimator gives no weight gradient).
    SlicedEnergy {
        #[serde(default = "d_directions")]
        directions: usize,
        #[serde(default = "d_samples")]
        samples: usize,
        #[serde(default = "d_samples")]
        target_samples: usize,
    },
}

impl Default for Objective {
    fn default() -> Self {
        Self::FDivergence {
            divergence: FDivKind::ForwardKl,
            estimator: Estimator::default(),
        }
    }
}

impl Objective {
    /// Checks every number against `objective.<kind>.<field>` / `objective.<field>` in
    /// [`super::params`] (and the divergence, estimator, kernel and Sinkhorn solver against theirs); the
    /// error names `objective.<field>` (`objective.estimator.resolution`, `objective.config.epsilon`, …).
    pub fn validate(&self) -> CoreResult<()> {
        use super::params::check_field;
        let c = |kind: &str, field: &str, v: f64| {
            check_field("objective", Some(kind), field, v).map(|_| ())
        };
        match self {
            Self::FDivergence {
                divergence,
                estimator,
            } => {
                divergence.validate().map_err(|e| e.within("objective"))?;
                estimator.validate().map_err(|e| e.within("objective"))
            }
            Self::CrossEntropy { samples } => c("cross_entropy", "samples", *samples as f64),
            Self::CauchySchwarz { resolution } => {
                c("cauchy_schwarz", "resolution", *resolution as f64)
            }
            Self::MmdGaussianClosedForm { sigma } => c("mmd_gaussian_closed_form", "sigma", *sigma),
            Self::Mmd {
                kernel,
                samples,
                target_samples,
            } => {
                kernel.validate().map_err(|e| e.within("objective"))?;
                c("mmd", "samples", *samples as f64)?;
                c("mmd", "target_samples", *target_samples as f64)
            }
            Self::Sinkhorn {
                config,
                samples,
                target_samples,
            } => {
                config
                    .validate()
                    .map_err(|e| e.rebase("sinkhorn", "config").within("objective"))?;
                c("sinkhorn", "samples", *samples as f64)?;
                c("sinkhorn", "target_samples", *target_samples as f64)
            }
            Self::SlicedEnergy {
                directions,
                samples,
                target_samples,
            } => {
                c("sliced_energy", "directions", *directions as f64)?;
                c("sliced_energy", "samples", *samples as f64)?;
                c("sliced_energy", "target_samples", *target_samples as f64)
            }
        }
    }

    /// A stable snake_case id, the measurement battery's row id where it measures the same quantity:
    /// `reverse_kl`, `alpha_0.5`, `cross_entropy`, `mmd_gaussian`, `sinkhorn`, `sliced_energy`, ….
    pub fn id(&self) -> String {
        match self {
            Self::FDivergence { divergence, .. } => divergence.id(),
            Self::CrossEntropy { .. } => "cross_entropy".into(),
            Self::CauchySchwarz { .. } => "cauchy_schwarz".into(),
            Self::MmdGaussianClosedForm { .. } => "mmd_gaussian_closed_form".into(),
            Self::Mmd { kernel, .. } => format!("mmd_{}", kernel.kind_name()),
            Self::Sinkhorn { .. } => "sinkhorn".into(),
            Self::SlicedEnergy { .. } => "sliced_energy".into(),
        }
    }

    /// A display name.
    pub fn name(&self) -> String {
        match self {
            Self::FDivergence {
                divergence,
                estimator,
            } => match estimator {
                Estimator::Grid { resolution } => {
                    format!("{} (grid {resolution}²)", divergence.name())
                }
                Estimator::MonteCarlo { samples } => {
                    format!("{} (Monte Carlo, {samples} samples)", divergence.name())
                }
            },
            Self::CrossEntropy { .. } => "cross-entropy −E_p ln q".into(),
            Self::CauchySchwarz { .. } => "Cauchy–Schwarz".into(),
            Self::MmdGaussianClosedForm { sigma } => {
                format!(
                    "MMD² (Gaussian kernel, σ = {}), closed form",
                    display_number(*sigma)
                )
            }
            Self::Mmd { kernel, .. } => format!("MMD² ({}), from samples", kernel.name()),
            Self::Sinkhorn { config, .. } => {
                format!("Sinkhorn S_ε, ε = {}", display_number(config.epsilon))
            }
            Self::SlicedEnergy { directions, .. } => {
                format!("sliced energy MMD² ({directions} slices)")
            }
        }
    }

    /// The objective's value and its gradient w.r.t. θ of `q` (layout in
    /// [`crate::core::mixture`]). NotApplicable (with the reason) where the target lacks what
    /// the objective needs. [`Objective::evaluate`] also returns the estimator's diagnostics.
    pub fn value_and_grad(
        &self,
        target: &Target,
        q: &Mixture,
        rng: &mut Rng,
    ) -> CoreResult<(f64, Vec<f64>)> {
        self.evaluate(target, q, rng).map(|e| (e.value, e.grad))
    }

    /// Value, gradient and diagnostics (the Monte Carlo standard error, the Sinkhorn solver's
    /// convergence) of the objective; the same draws as [`Objective::value_and_grad`].
    pub fn evaluate(&self, target: &Target, q: &Mixture, rng: &mut Rng) -> CoreResult<Evaluation> {
        self.validate()?;
        let plain = |(value, grad): (f64, Vec<f64>)| Evaluation {
            value,
            grad,
            standard_error: None,
            sinkhorn: None,
        };
        match self {
            Self::FDivergence {
                divergence,
                estimator,
            } => {
                let p = target.density().ok_or_else(|| {
                    CoreError::not_applicable(format!(
                        "{} needs the target's density, and '{}' is only samples (use cross_entropy, EM, MMD, Sinkhorn or sliced objectives)",
                        divergence.name(),
                        target.name()
                    ))
                })?;
                let v = fdiv_value_grad(divergence, p, &target.bbox(), q, estimator, rng)?;
                Ok(Evaluation {
                    value: v.value,
                    grad: v.grad,
                    standard_error: v.std_error,
                    sinkhorn: None,
                })
            }
            Self::CrossEntropy { samples } => {
                let xs = target_points(target, *samples, rng);
                cross_entropy(&xs, q).map(plain)
            }
            Self::CauchySchwarz { resolution } => {
                let p = target.density().ok_or_else(|| {
                    CoreError::not_applicable(format!(
                        "Cauchy–Schwarz needs the target's density ('{}' is only samples)",
                        target.name()
                    ))
                })?;
                match p.as_mixture() {
                    Some(pm) => cauchy_schwarz_mixtures(pm, q),
                    None => cauchy_schwarz_grid(p, &target.bbox(), q, *resolution),
                }
                .map(plain)
            }
            Self::MmdGaussianClosedForm { sigma } => {
                let pm = target.density().and_then(|d| d.as_mixture()).ok_or_else(|| {
                    CoreError::not_applicable(format!(
                        "the closed-form MMD² needs a Gaussian-mixture target ('{}' is not one; use the sample-based mmd)",
                        target.name()
                    ))
                })?;
                mmd2_gaussian_mixtures(pm, q, *sigma).map(plain)
            }
            Self::Mmd {
                kernel,
                samples,
                target_samples,
            } => {
                let (batch, ys, b) = batches(target, q, *samples, *target_samples, rng)?;
                let (v, gx, ga) = mmd2_grad(&batch.points, &batch.weights, &ys, &b, kernel)?;
                Ok(plain((v, batch.pullback(q, &gx, &ga)?)))
            }
            Self::Sinkhorn {
                config,
                samples,
                target_samples,
            } => {
                let (batch, ys, b) = batches(target, q, *samples, *target_samples, rng)?;
                let s = sinkhorn_divergence(&batch.points, &batch.weights, &ys, &b, config)?;
                Ok(Evaluation {
                    value: s.value,
                    grad: batch.pullback(q, &s.grad_x, &s.grad_a)?,
                    standard_error: None,
                    sinkhorn: Some(s.diagnostics),
                })
            }
            Self::SlicedEnergy {
                directions,
                samples,
                target_samples,
            } => {
                let (batch, ys, b) = batches(target, q, *samples, *target_samples, rng)?;
                let dirs = random_directions(*directions, rng);
                let (v, gx) = sliced_riesz_grad(&batch.points, &batch.weights, &ys, &b, &dirs)?;
                let zeros = vec![0.0; batch.points.len()];
                let mut g = batch.pullback(q, &gx, &zeros)?;
                // No weight gradient from the sliced estimator: leave the logits alone.
                for k in 0..q.n_components() {
                    g[k * super::mixture::PARAMS_PER_COMPONENT] = 0.0;
                }
                Ok(plain((v, g)))
            }
        }
    }
}

/// What [`Objective::evaluate`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub value: f64,
    /// Gradient w.r.t. θ of q.
    pub grad: Vec<f64>,
    /// Standard error of a Monte Carlo value (f-divergences with the `monte_carlo` estimator).
    pub standard_error: Option<f64>,
    /// The Sinkhorn solver's convergence (the `sinkhorn` objective).
    pub sinkhorn: Option<SinkhornDiagnostics>,
}

/// `n` target points: exact samples of a density target, or the points of a sample target (all of
/// them when there are at most `n`, else `n` drawn with replacement).
pub(crate) fn target_points(target: &Target, n: usize, rng: &mut Rng) -> Vec<Vec2> {
    match target.points() {
        Some(p) if p.len() <= n => p.to_vec(),
        Some(p) => (0..n).map(|_| p[index(rng, p.len())]).collect(),
        None => target.sample(n, rng),
    }
}

/// A stratified batch of q and uniformly weighted target points.
pub(crate) fn batches(
    target: &Target,
    q: &Mixture,
    samples: usize,
    target_samples: usize,
    rng: &mut Rng,
) -> CoreResult<(super::mixture::ReparamBatch, Vec<Vec2>, Vec<f64>)> {
    let n_per = (samples / q.n_components()).max(1);
    let batch = q.reparam_batch(n_per, rng)?;
    let ys = target_points(target, target_samples, rng);
    let b = vec![1.0 / ys.len() as f64; ys.len()];
    Ok((batch, ys, b))
}

/// −(1/N) Σ ln q(xᵢ) and its gradient w.r.t. θ.
pub fn cross_entropy(xs: &[Vec2], q: &Mixture) -> CoreResult<(f64, Vec<f64>)> {
    if xs.is_empty() {
        return Err(CoreError::invalid(
            "cross-entropy needs at least one target point",
        ));
    }
    let n = xs.len() as f64;
    let mut g = vec![0.0; q.n_params()];
    let mut terms = vec![0.0; q.n_components()];
    let mut v = 0.0;
    for x in xs {
        let lq = q.log_density_terms(*x, &mut terms);
        v -= lq / n;
        q.add_grad_log_density(*x, &terms, lq, -1.0 / n, &mut g);
    }
    if !v.is_finite() || g.iter().any(|x| !x.is_finite()) {
        return Err(CoreError::non_finite(
            "cross-entropy (q is numerically zero at a target point)",
        ));
    }
    Ok((v, g))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::optim::{Optimizer, OptimizerConfig};
    use crate::core::rng::seeded;
    use crate::core::target::{TargetSpec, TwoModesSpec};

    fn two_modes() -> Target {
        Target::build(&TargetSpec::TwoModes(TwoModesSpec::default()), None).unwrap()
    }

    /// Fits a single Gaussian (started at the origin-ish, unit covariance) with Adam.
    fn fit_single(obj: &Objective, steps: usize) -> Mixture {
        let t = two_modes();
        let mut q = Mixture::single([0.8, 0.2], [[0.5, 0.0], [0.0, 0.5]]).unwrap();
        let mut opt = Optimizer::new(&OptimizerConfig::adam(0.05), q.n_params()).unwrap();
        let mut rng = seeded(1);
        let mut th = q.params();
        for _ in 0..steps {
            let (_, g) = obj.value_and_grad(&t, &q, &mut rng).unwrap();
            opt.step(&mut th, &g).unwrap();
            q.set_params(&th).unwrap();
        }
        q
    }

    #[test]
    fn teaching_forward_covers_reverse_seeks_js_between() {
        // Target: modes at (±2, 0), std 0.5 → moment matching gives mean 0, var_x = 4.25, var_y = 0.25.
        let grid = Estimator::Grid { resolution: 96 };
        let obj = |k: FDivKind| Objective::FDivergence {
            divergence: k,
            estimator: grid,
        };
        let fwd = fit_single(&obj(FDivKind::ForwardKl), 400);
        let rev = fit_single(&obj(FDivKind::ReverseKl), 400);
        let js = fit_single(&obj(FDivKind::JensenShannon), 400);
        let summary = |m: &Mixture| {
            (
                m.means()[0],
                m.covariances()[0][0][0],
                m.covariances()[0][1][1],
            )
        };
        let (fm, fvx, fvy) = summary(&fwd);
        let (rm, rvx, rvy) = summary(&rev);
        let (jm, jvx, _) = summary(&js);
        eprintln!("forward KL: mean {fm:?}, var_x {fvx:.3}, var_y {fvy:.3}");
        eprintln!("reverse KL: mean {rm:?}, var_x {rvx:.3}, var_y {rvy:.3}");
        eprintln!("JS:         mean {jm:?}, var_x {jvx:.3}");
        // Forward KL: centred between the modes, wide along the mode axis (≈ 4.25).
        assert!(fm[0].abs() < 0.1 && fm[1].abs() < 0.05, "{fm:?}");
        assert!((fvx - 4.25).abs() < 0.2, "{fvx}");
        assert!((fvy - 0.25).abs() < 0.05, "{fvy}");
        // Reverse KL: on one mode with that mode's variance (≈ 0.25).
        assert!(
            (rm[0].abs() - 2.0).abs() < 0.1 && rm[1].abs() < 0.05,
            "{rm:?}"
        );
        assert!((rvx - 0.25).abs() < 0.05, "{rvx}");
        // JS in between: |mean| and variance between the two extremes.
        let between = |a: f64, lo: f64, hi: f64| a > lo.min(hi) && a < lo.max(hi);
        assert!(between(jvx, rvx, fvx), "{jvx}");
        assert!(jm[0].abs() <= rm[0].abs() + 0.05, "{jm:?}");
        // det Σ ordering.
        let det = |m: &Mixture| crate::core::gaussian::det2(&m.covariances()[0]);
        assert!(det(&fwd) > det(&js) && det(&js) >= det(&rev) * 0.99);
    }

    #[test]
    fn sample_objectives_reduce_their_value_and_not_applicable_is_explained() {
        let t = two_modes();
        let pts = t.sample(200, &mut seeded(5));
        let st = Target::from_samples(pts).unwrap();
        let q = Mixture::single([0.0, 1.0], [[1.0, 0.0], [0.0, 1.0]]).unwrap();
        let e = Objective::default()
            .value_and_grad(&st, &q, &mut seeded(0))
            .unwrap_err();
        assert!(matches!(e, CoreError::NotApplicable { .. }), "{e}");
        assert!(format!("{e}").contains("only samples"));
        let e = Objective::MmdGaussianClosedForm { sigma: 1.0 }
            .value_and_grad(
                &Target::build(&TargetSpec::Banana(Default::default()), None).unwrap(),
                &q,
                &mut seeded(0),
            )
            .unwrap_err();
        assert!(matches!(e, CoreError::NotApplicable { .. }));
        for obj in [
            Objective::CrossEntropy { samples: 200 },
            Objective::Mmd {
                kernel: Kernel::Gaussian { sigma: 1.0 },
                samples: 64,
                target_samples: 200,
            },
            Objective::Sinkhorn {
                config: SinkhornConfig {
                    epsilon: 0.1,
                    ..Default::default()
                },
                samples: 64,
                target_samples: 200,
            },
            Objective::SlicedEnergy {
                directions: 32,
                samples: 64,
                target_samples: 200,
            },
        ] {
            let mut m = Mixture::from_components(
                &[0.5, 0.5],
                &[[-0.5, 1.0], [0.5, 1.0]],
                &[[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]],
            )
            .unwrap();
            let mut rng = seeded(2);
            let (v0, _) = obj.value_and_grad(&st, &m, &mut seeded(99)).unwrap();
            let mut opt = Optimizer::new(&OptimizerConfig::adam(0.05), m.n_params()).unwrap();
            let mut th = m.params();
            for _ in 0..40 {
                let (_, g) = obj.value_and_grad(&st, &m, &mut rng).unwrap();
                opt.step(&mut th, &g).unwrap();
                m.set_params(&th).unwrap();
            }
            let (v1, _) = obj.value_and_grad(&st, &m, &mut seeded(99)).unwrap();
            eprintln!("{}: {v0:.4} → {v1:.4}", obj.name());
            assert!(v1 < v0, "{}: {v0} → {v1}", obj.name());
        }
    }
}
