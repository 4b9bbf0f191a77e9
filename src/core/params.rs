//! Every numeric scenario parameter, declared once: label, unit, valid range, default, scale. The
//! `validate()` functions of the scenario types read their ranges from this table; a UI builds its sliders
//! from it and a URL decoder reads it (see `docs/scenario.md`).
//!
//! # Ids
//!
//! An id is `family.kind.field` or `family.field`:
//! - `family` names the kind of object the field lives in, spelt like the key that object has in a
//!   scenario file: `target`, `model`, `init` (`model.init`), `method`, `objective`, `divergence`, `estimator`,
//!   `optimizer`, `flow`, `kernel`, `bandwidth`, `sinkhorn` (a [`SinkhornConfig`], also found at
//!   `method.objective.config`), `bbox`. Top-level fields have no family (`seed`, `steps`, `version`).
//! - `kind` is the value of the object's `kind` tag (`target.two_modes.separation`, `flow.mmd.step_size`).
//!   A field shared by every kind of a family with the same meaning and range is declared once without
//!   the kind (`optimizer.lr`, `objective.samples`); [`lookup`] tries `family.kind.field` first.
//! - `field` is the key; list fields (`weights`, `means`, `points`, …) declare the range of each number in
//!   the list.
//!
//! Where a family sits in the file is given by [`child_family`]; [`decl_at`] resolves a dotted path of a
//! scenario (as JSON) to its declaration. Errors of the `validate()` functions name the field as
//! `family.field` (e.g. `optimizer.lr`); the scenario prefixes the path of the family
//! (`method.optimizer.lr`).
//!
//! [`SinkhornConfig`]: super::sinkhorn::SinkhornConfig

use super::error::{CoreError, CoreResult};
use super::mixture::MAX_COMPONENTS;
use super::scenario::{MAX_PARTICLES, MAX_STEPS};

/// How a slider over the range should be spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Logarithmic (positive ranges spanning decades: step sizes, σ, ε, sample counts).
    Log,
}

/// One numeric parameter of a scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamDecl {
    /// See the module docs for the scheme, e.g. `optimizer.lr`, `target.two_modes.separation`.
    pub id: &'static str,
    /// For people, e.g. "learning rate".
    pub label: &'static str,
    /// "length" (scene units), "length²", "1" (dimensionless), "count", "steps", "seed", "cost" (length²).
    pub unit: &'static str,
    pub min: f64,
    pub max: f64,
    pub min_inclusive: bool,
    pub max_inclusive: bool,
    /// The value a file that omits the field gets; for required fields a representative starting value.
    pub default: f64,
    pub scale: Scale,
    /// Whole numbers only (counts, seeds).
    pub integer: bool,
}

impl ParamDecl {
    /// Whether `value` is valid (finite, inside the range, whole if `integer`).
    pub fn contains(&self, value: f64) -> bool {
        let above = if self.min_inclusive {
            value >= self.min
        } else {
            value > self.min
        };
        let below = if self.max_inclusive {
            value <= self.max
        } else {
            value < self.max
        };
        value.is_finite() && above && below && (!self.integer || value.fract() == 0.0)
    }

    /// `value`, or a [`CoreError::InvalidParameter`] naming the id and the valid range.
    pub fn check(&self, value: f64) -> CoreResult<f64> {
        self.check_as(self.id, value)
    }

    /// Like [`Self::check`], the error naming `name` (the field's path) instead of the id.
    pub fn check_as(&self, name: &str, value: f64) -> CoreResult<f64> {
        if self.contains(value) {
            Ok(value)
        } else {
            Err(CoreError::param(name, value, self.range_words()))
        }
    }

    /// The valid range, e.g. `(0, 10] (above 0 and at most 10)`, `[1, 64] (a whole number from 1 to 64)`.
    pub fn range_words(&self) -> String {
        let lo = num(self.min);
        let hi = num(self.max);
        let interval = format!(
            "{}{lo}, {hi}{}",
            if self.min_inclusive { '[' } else { '(' },
            if self.max_inclusive { ']' } else { ')' }
        );
        let words = if self.integer && self.min_inclusive && self.max_inclusive {
            if self.min == self.max {
                format!("exactly {lo}")
            } else {
                format!("a whole number from {lo} to {hi}")
            }
        } else {
            format!(
                "{} {lo} and {} {hi}",
                if self.min_inclusive {
                    "at least"
                } else {
                    "above"
                },
                if self.max_inclusive {
                    "at most"
                } else {
                    "below"
                }
            )
        };
        let unit = match self.unit {
            "1" | "count" | "steps" | "seed" | "" => String::new(),
            u => format!(", in {u} units"),
        };
        format!("{interval} ({words}{unit})")
    }
}

/// A number as people write it: whole numbers without a fraction, an exponent for tiny and huge ones.
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{v:.0}")
    } else {
        super::math::exact_number(v)
    }
}

const fn p(
    id: &'static str,
    label: &'static str,
    unit: &'static str,
    (min, min_inclusive): (f64, bool),
    (max, max_inclusive): (f64, bool),
    default: f64,
    scale: Scale,
) -> ParamDecl {
    ParamDecl {
        id,
        label,
        unit,
        min,
        max,
        min_inclusive,
        max_inclusive,
        default,
        scale,
        integer: false,
    }
}

const fn count(
    id: &'static str,
    label: &'static str,
    unit: &'static str,
    min: usize,
    max: usize,
    default: usize,
    scale: Scale,
) -> ParamDecl {
    ParamDecl {
        id,
        label,
        unit,
        min: min as f64,
        max: max as f64,
        min_inclusive: true,
        max_inclusive: true,
        default: default as f64,
        scale,
        integer: true,
    }
}

const fn seed(id: &'static str, label: &'static str) -> ParamDecl {
    ParamDecl {
        id,
        label,
        unit: "seed",
        min: 0.0,
        max: u64::MAX as f64,
        min_inclusive: true,
        max_inclusive: true,
        default: 0.0,
        scale: Scale::Linear,
        integer: true,
    }
}

use Scale::{Linear, Log};

/// Closed / open ends for [`p`].
const fn incl(v: f64) -> (f64, bool) {
    (v, true)
}
const fn excl(v: f64) -> (f64, bool) {
    (v, false)
}

/// Largest coordinate of a point, mean or box corner (scene units are O(1); this only refuses nonsense).
const COORD: f64 = 1e6;
/// Largest length scale of a target, kernel or initialization (σ, radius, spacing).
const LENGTH: f64 = 1e3;
/// Largest sample count drawn per step or once.
const SAMPLES: usize = 10_000_000;

#[rustfmt::skip]
static PARAMS: &[ParamDecl] = &[
    // Top level.
    count("version", "format version", "1", 1, 1, 1, Linear),
    seed("seed", "random seed of the run"),
    count("steps", "default run length", "steps", 0, MAX_STEPS, 200, Log),
    // Targets.
    p("target.two_modes.separation", "distance between the modes", "length", incl(-100.0), incl(100.0), 4.0, Linear),
    p("target.two_modes.std", "standard deviation of each mode", "length", excl(0.0), incl(100.0), 0.5, Log),
    p("target.two_modes.weight_left", "weight of the left mode", "1", excl(0.0), excl(1.0), 0.5, Linear),
    count("target.ring8.modes", "number of modes", "count", 1, 4096, 8, Linear),
    p("target.ring8.radius", "radius of the ring", "length", excl(0.0), incl(LENGTH), 3.0, Log),
    p("target.ring8.std", "standard deviation of each mode", "length", excl(0.0), incl(100.0), 0.3, Log),
    count("target.grid25.per_side", "modes per side", "count", 1, 64, 5, Linear),
    p("target.grid25.spacing", "distance between neighbouring modes", "length", excl(0.0), incl(LENGTH), 1.5, Log),
    p("target.grid25.std", "standard deviation of each mode", "length", excl(0.0), incl(100.0), 0.2, Log),
    p("target.gaussian_mixture.weights", "component weight (normalized)", "1", excl(0.0), incl(1e6), 1.0, Log),
    p("target.gaussian_mixture.means", "mean coordinate", "length", incl(-COORD), incl(COORD), 0.0, Linear),
    p("target.gaussian_mixture.covariances", "covariance entry (the matrix must be SPD)", "length²", incl(-1e6), incl(1e6), 1.0, Linear),
    p("target.banana.curvature", "curvature", "1/length", incl(-100.0), incl(100.0), 0.5, Linear),
    p("target.banana.sigma_x", "standard deviation along x", "length", excl(0.0), incl(100.0), 1.0, Log),
    p("target.banana.sigma_y", "standard deviation across the curve", "length", excl(0.0), incl(100.0), 0.4, Log),
    p("target.two_moons.radius", "radius of each moon", "length", excl(0.0), incl(LENGTH), 2.0, Log),
    p("target.two_moons.noise", "blur (at least radius/1000, below the radius)", "length", excl(0.0), incl(LENGTH), 0.15, Log),
    p("target.ring.radius", "radius", "length", excl(0.0), incl(LENGTH), 2.5, Log),
    p("target.ring.width", "width", "length", excl(0.0), incl(100.0), 0.25, Log),
    count("target.checkerboard.cells", "cells per side", "count", 1, 64, 4, Linear),
    p("target.checkerboard.cell_size", "side of a cell", "length", excl(0.0), incl(LENGTH), 1.5, Log),
    p("target.checkerboard.smoothing", "blur", "length", excl(0.0), incl(100.0), 0.1, Log),
    p("target.spiral.turns", "turns", "1", excl(0.0), excl(20.0), 1.5, Linear),
    p("target.spiral.r_min", "inner radius (below r_max)", "length", incl(0.0), incl(LENGTH), 0.3, Linear),
    p("target.spiral.r_max", "outer radius", "length", excl(0.0), incl(LENGTH), 3.5, Linear),
    p("target.spiral.width", "width of the tube (at most 4096 components along the spiral)", "length", excl(0.0), incl(100.0), 0.15, Log),
    p("target.funnel.sigma_v", "standard deviation of the neck coordinate v", "length", excl(0.0), excl(5.0), 1.0, Linear),
    p("target.dirichlet.alpha", "concentration αₖ of θ₁ = x, θ₂ = y, θ₃ = 1 − x − y (below 1: mass at the edge θₖ = 0)", "1", incl(0.1), incl(1000.0), 2.0, Log),
    p("target.image.floor", "density floor relative to the brightest pixel", "1", excl(0.0), excl(1.0), 1e-3, Log),
    p("target.image.tail_fraction", "tail outside the box, as a fraction of its size", "1", excl(0.0), excl(1.0), 0.02, Log),
    p("target.samples.points", "point coordinate", "length", incl(-COORD), incl(COORD), 0.0, Linear),
    p("bbox.x_min", "left edge of the box", "length", incl(-COORD), incl(COORD), -3.0, Linear),
    p("bbox.x_max", "right edge of the box (above x_min)", "length", incl(-COORD), incl(COORD), 3.0, Linear),
    p("bbox.y_min", "bottom edge of the box", "length", incl(-COORD), incl(COORD), -3.0, Linear),
    p("bbox.y_max", "top edge of the box (above y_min)", "length", incl(-COORD), incl(COORD), 3.0, Linear),
    // Models and their initialization.
    count("model.particles.count", "number of particles", "count", 1, MAX_PARTICLES, 500, Log),
    count("init.random.components", "number of components", "count", 1, MAX_COMPONENTS, 1, Linear),
    seed("init.random.seed", "seed of the random means"),
    p("init.random.std_fraction", "component standard deviation / smaller side of the box", "1", excl(0.0), excl(10.0), 0.1, Log),
    p("init.given.weights", "component weight (normalized)", "1", excl(0.0), incl(1e6), 1.0, Log),
    p("init.given.means", "mean coordinate", "length", incl(-COORD), incl(COORD), 0.0, Linear),
    p("init.given.covariances", "covariance entry (the matrix must be SPD)", "length²", incl(-1e6), incl(1e6), 1.0, Linear),
    p("init.gaussian.mean", "centre coordinate of the blob", "length", incl(-COORD), incl(COORD), 0.0, Linear),
    p("init.gaussian.std", "standard deviation of the blob", "length", excl(0.0), incl(LENGTH), 0.5, Log),
    // Methods.
    p("method.bw_jko.step_size", "JKO time step h", "length²", excl(0.0), incl(10.0), 0.05, Log),
    count("method.bw_jko.nodes", "Gauss–Hermite nodes per axis", "count", 1, super::bw_vi::MAX_NODES, 8, Linear),
    count("method.em.samples", "target samples EM fits", "count", 10, MAX_PARTICLES, 5000, Log),
    count("objective.cross_entropy.samples", "target samples per step", "count", 1, SAMPLES, 1024, Log),
    count("objective.cauchy_schwarz.resolution", "grid cells per side", "count", 8, 4096, 256, Log),
    p("objective.mmd_gaussian_closed_form.sigma", "kernel width σ", "length", excl(0.0), incl(LENGTH), 0.5, Log),
    count("objective.samples", "model samples per step", "count", 1, MAX_PARTICLES, 1024, Log),
    count("objective.target_samples", "target samples per step", "count", 1, MAX_PARTICLES, 1024, Log),
    // Each Sinkhorn step solves three problems over these samples; 256 keeps the solver's worst case (its
    // iteration cap) within the run layer's per-step limit (`run::cost`).
    count("objective.sinkhorn.samples", "model samples per step", "count", 1, MAX_PARTICLES, 256, Log),
    count("objective.sinkhorn.target_samples", "target samples per step", "count", 1, MAX_PARTICLES, 256, Log),
    count("objective.sliced_energy.directions", "random slices per step", "count", 1, 100_000, 64, Log),
    p("divergence.alpha.alpha", "Amari α", "1", incl(-50.0), incl(50.0), 0.5, Linear),
    p("divergence.renyi.alpha", "Rényi α", "1", excl(0.0), incl(50.0), 2.0, Linear),
    count("estimator.grid.resolution", "grid cells per side", "count", 8, 4096, 256, Log),
    count("estimator.monte_carlo.samples", "model samples per step", "count", 1, SAMPLES, 1024, Log),
    // Optimizers: shared by every kind that has the field.
    p("optimizer.lr", "learning rate", "1", excl(0.0), incl(10.0), 0.05, Log),
    p("optimizer.momentum", "momentum", "1", incl(0.0), excl(1.0), 0.0, Linear),
    p("optimizer.beta1", "first-moment decay β₁", "1", incl(0.0), excl(1.0), 0.9, Linear),
    p("optimizer.beta2", "second-moment decay β₂", "1", incl(0.0), excl(1.0), 0.999, Linear),
    p("optimizer.lion.beta2", "momentum decay β₂", "1", incl(0.0), excl(1.0), 0.99, Linear),
    p("optimizer.ademamix.beta3", "slow EMA decay β₃", "1", incl(0.0), excl(1.0), 0.9999, Linear),
    p("optimizer.ademamix.alpha", "weight α of the slow EMA", "1", incl(0.0), incl(1000.0), 5.0, Linear),
    p("optimizer.eps", "denominator guard ε", "1", excl(0.0), excl(1.0), 1e-8, Log),
    p("optimizer.weight_decay", "weight decay", "1", incl(0.0), incl(10.0), 0.0, Linear),
    p("optimizer.d_adapt_adam.d0", "initial distance estimate d₀", "1", excl(0.0), incl(1e4), 1e-6, Log),
    // Flows. Step sizes: the MMD, sliced and Sinkhorn flows scale the gradient of a mean over particles,
    // Langevin-type flows step in squared length (the noise is √(2η)).
    p("flow.mmd.step_size", "step size η", "1", excl(0.0), incl(1000.0), 1.0, Log),
    p("flow.mmd.noise_level", "noise injection β (0: off)", "length", incl(0.0), incl(10.0), 0.0, Linear),
    p("flow.sliced_riesz.step_size", "step size η", "1", excl(0.0), incl(1000.0), 1.0, Log),
    count("flow.sliced_riesz.slices", "random slices per step", "count", 1, 100_000, 32, Log),
    p("flow.sinkhorn.step_size", "step size η", "1", excl(0.0), incl(1000.0), 0.5, Log),
    p("flow.svgd.step_size", "step size η", "length²", excl(0.0), incl(100.0), 0.1, Log),
    p("flow.mirrored_svgd.step_size", "step size η in the mirror (dual) coordinates", "1", excl(0.0), incl(100.0), 0.05, Log),
    p("flow.langevin.step_size", "time step η", "length²", excl(0.0), incl(10.0), 0.05, Log),
    p("flow.underdamped_langevin.step_size", "time step η", "length²", excl(0.0), incl(10.0), 0.05, Log),
    p("flow.underdamped_langevin.friction", "friction γ", "1", excl(0.0), incl(1000.0), 1.0, Log),
    count("flow.target_samples", "target samples drawn once", "count", 1, SAMPLES, 1024, Log),
    p("bandwidth.fixed.h", "SVGD bandwidth h", "length²", excl(0.0), incl(1e4), 1.0, Log),
    // Kernels.
    p("kernel.gaussian.sigma", "kernel width σ", "length", excl(0.0), incl(LENGTH), 0.5, Log),
    p("kernel.inverse_multiquadric.c", "kernel scale c", "length", excl(0.0), incl(LENGTH), 1.0, Log),
    p("kernel.laplace.sigma", "kernel width σ", "length", excl(0.0), incl(LENGTH), 0.5, Log),
    p("kernel.riesz.r", "Riesz exponent r (1: energy distance)", "1", excl(0.0), excl(2.0), 1.0, Linear),
    // Sinkhorn solver.
    p("sinkhorn.epsilon", "entropic regularization ε", "cost", excl(0.0), incl(1e4), 0.01, Log),
    p("sinkhorn.scaling", "ε-scaling factor", "1", excl(0.0), excl(1.0), 0.7, Linear),
    count("sinkhorn.max_iters", "iteration cap", "count", 1, 10_000_000, 500, Log),
    p("sinkhorn.tolerance", "marginal error tolerance", "1", excl(0.0), excl(1.0), 1e-4, Log),
    count("sinkhorn.newton.sweeps", "Sinkhorn sweeps before the Newton steps", "count", 0, 100_000, 20, Linear),
    p("sinkhorn.newton.keep", "fraction of each plan row kept in the sparse Hessian", "1", excl(0.0), incl(1.0), 0.2, Log),
    count("sinkhorn.newton.cg_iters", "conjugate-gradient iterations per Newton step", "count", 1, 10_000, 50, Log),
    // Model points given inline or from a CSV.
    p("init.points.points", "particle coordinate", "length", incl(-COORD), incl(COORD), 0.0, Linear),
    // The measurement battery (`measure` section, `divlab measure` flags).
    count("measure.resolution", "grid cells per side of the f-divergence rows", "count", 8, 4096, 256, Log),
    count("measure.samples", "samples of p (and of a mixture q)", "count", 1, MAX_PARTICLES, 1000, Log),
    count("measure.directions", "slices of the sliced W2 row", "count", 1, 100_000, 64, Log),
    count("measure.sinkhorn_points", "most points a side in the optimal-transport rows", "count", 1, MAX_PARTICLES, 1000, Log),
    p("measure.epsilon", "entropic regularization ε of the OT rows", "cost", excl(0.0), incl(1e4), 0.0225, Log),
    p("measure.epsilon_rel", "ε as a fraction of the cost of the clouds' diameter", "1", excl(0.0), incl(100.0), 0.01, Log),
    p("measure.epsilon_scaling", "ε-scaling factor", "1", excl(0.0), excl(1.0), 0.7, Linear),
    count("measure.sinkhorn_max_iters", "iteration cap of each Sinkhorn problem", "count", 1, 10_000_000, 500, Log),
    p("measure.sinkhorn_tolerance", "marginal error tolerance of each Sinkhorn problem", "1", excl(0.0), excl(1.0), 1e-4, Log),
    p("measure.kernel_sigma", "length scale of the MMD rows' kernels", "length", excl(0.0), incl(LENGTH), 0.5, Log),
    p("measure.riesz_r", "Riesz exponent r of the energy-distance row", "1", excl(0.0), excl(2.0), 1.0, Linear),
    count("measure.knn_k", "neighbours k of the k-nearest-neighbour rows", "count", 1, 1000, 5, Log),
];

/// Every declaration, in table order.
pub fn all() -> &'static [ParamDecl] {
    PARAMS
}

/// The declaration with this exact id.
pub fn decl(id: &str) -> Option<&'static ParamDecl> {
    PARAMS.iter().find(|d| d.id == id)
}

/// The declaration of `field` in an object of `family` with `kind` tag (`None` for untagged objects):
/// `family.kind.field`, else `family.field`. The top level has family `""`.
pub fn lookup(family: &str, kind: Option<&str>, field: &str) -> Option<&'static ParamDecl> {
    let join = |parts: &[&str]| {
        parts
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(".")
    };
    kind.and_then(|k| decl(&join(&[family, k, field])))
        .or_else(|| decl(&join(&[family, field])))
}

/// Checks `value` of `field` (of an object of `family` and `kind`) against its declaration; the error names
/// `family.field` (the path relative to the object holding the family, e.g. `optimizer.lr`).
pub fn check_field(family: &str, kind: Option<&str>, field: &str, value: f64) -> CoreResult<f64> {
    let name = if family.is_empty() {
        field.to_owned()
    } else {
        format!("{family}.{field}")
    };
    let d = lookup(family, kind, field).ok_or_else(|| {
        CoreError::invalid(format!(
            "{name}: no parameter declaration (core::params) for this field"
        ))
    })?;
    d.check_as(&name, value)
}

/// The smallest length whose fourth power (the determinant of an isotropic covariance built from it) is a
/// normal f64: below it a standard deviation or kernel width squares to 0 or a subnormal number.
pub const SMALLEST_SQUARED_LENGTH: f64 = 1.3e-77;

/// A derived check for a length that the core squares into a variance (a standard deviation, a width, a
/// kernel σ): refused below [`SMALLEST_SQUARED_LENGTH`], naming `name` and the variance it would give.
pub fn check_squared(name: &str, v: f64) -> CoreResult<()> {
    if v.abs() >= SMALLEST_SQUARED_LENGTH || v.is_nan() {
        return Ok(());
    }
    Err(CoreError::field(
        name,
        format!(
            "{} is too small to compute with: its square (a variance) is {} and the determinant of its covariance {}, which underflow; the smallest value that works is {}",
            super::math::exact_number(v),
            super::math::exact_number(v * v),
            super::math::exact_number(v * v * v * v),
            super::math::exact_number(SMALLEST_SQUARED_LENGTH)
        ),
    ))
}

/// The family of an object found at `key` inside an object of `family` (`""`: the top level), e.g.
/// `("method", "optimizer") → "optimizer"`, `("objective", "config") → "sinkhorn"`. `None`: `key` holds no
/// object of its own family (its numbers belong to the enclosing object).
pub fn child_family(family: &str, key: &str) -> Option<&'static str> {
    Some(match (family, key) {
        ("", "target") => "target",
        ("", "model") => "model",
        ("", "method") => "method",
        ("", "measure") => "measure",
        ("model", "init") => "init",
        ("method", "objective") => "objective",
        ("method", "optimizer") => "optimizer",
        ("method", "flow") => "flow",
        ("objective", "divergence") => "divergence",
        ("objective", "estimator") => "estimator",
        ("objective" | "flow", "kernel") => "kernel",
        ("objective", "config") | ("flow", "sinkhorn") => "sinkhorn",
        ("flow", "bandwidth") => "bandwidth",
        ("target", "bbox") => "bbox",
        _ => return None,
    })
}

/// The declaration of the number at dotted `path` (`method.optimizer.lr`, `model.init.means[0][1]`) of a
/// scenario given as JSON (e.g. `serde_json::to_value(&scenario)`); `None` if the path leads nowhere or
/// the field has no declaration.
pub fn decl_at(scenario: &serde_json::Value, path: &str) -> Option<&'static ParamDecl> {
    let mut family = "";
    let mut node = scenario;
    let mut kind = node.get("kind").and_then(|k| k.as_str());
    let mut field: Vec<&str> = Vec::new();
    for segment in path.split('.') {
        let key = segment.split('[').next().unwrap_or(segment);
        node = node.get(key)?;
        // Indices select a number of a list field: the declaration covers every element.
        let mut rest = &segment[key.len()..];
        while let Some(close) = rest.find(']') {
            let index: usize = rest.get(1..close)?.parse().ok()?;
            node = node.get(index)?;
            rest = &rest[close + 1..];
        }
        match child_family(family, key) {
            Some(child) if field.is_empty() => {
                family = child;
                kind = node.get("kind").and_then(|k| k.as_str());
            }
            _ => field.push(key),
        }
    }
    lookup(family, kind, &field.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::scenario::Scenario;
    use serde_json::{Value, json};

    #[test]
    fn ids_are_unique_and_every_default_lies_inside_its_range() {
        let mut ids: Vec<&str> = all().iter().map(|d| d.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate ids");
        for d in all() {
            assert!(d.min <= d.max, "{}: min > max", d.id);
            assert!(
                d.contains(d.default),
                "{}: default {} outside {}",
                d.id,
                d.default,
                d.range_words()
            );
            assert!(!d.label.is_empty() && !d.unit.is_empty(), "{}", d.id);
            if d.scale == Scale::Log {
                assert!(d.min >= 0.0, "{}: a log scale needs a positive range", d.id);
            }
            assert_eq!(decl(d.id), Some(d));
        }
    }

    /// The nearest values just outside the range (below the minimum, above the maximum).
    fn just_outside(d: &ParamDecl) -> [f64; 2] {
        let step = |v: f64| {
            if d.integer && v.abs() < 9e15 {
                1.0
            } else {
                (v.abs() * 1e-12).max(1e-12)
            }
        };
        let below = if d.min_inclusive {
            d.min - step(d.min)
        } else {
            d.min
        };
        let above = if d.max_inclusive {
            d.max + step(d.max)
        } else {
            d.max
        };
        [below, above]
    }

    #[test]
    fn a_value_just_outside_each_range_is_refused_naming_the_id_and_range() {
        for d in all() {
            for v in just_outside(d).into_iter().chain([f64::NAN, f64::INFINITY]) {
                let err = d.check(v).expect_err(&format!("{} accepted {v}", d.id));
                let msg = err.to_string();
                assert!(msg.starts_with(&format!("{} = ", d.id)), "{msg}");
                assert!(msg.contains(&d.range_words()), "{msg}");
                assert!(msg.contains("valid range"), "{msg}");
            }
            if d.integer && d.min < d.max {
                assert!(d.check(d.min + 0.5).is_err(), "{}: a fraction", d.id);
            }
            assert_eq!(d.check(d.default), Ok(d.default));
        }
        // The words a user reads.
        let lr = decl("optimizer.lr").unwrap();
        assert_eq!(lr.range_words(), "(0, 10] (above 0 and at most 10)");
        let k = decl("init.random.components").unwrap();
        assert_eq!(k.range_words(), "[1, 64] (a whole number from 1 to 64)");
    }

    #[test]
    fn lengths_that_square_to_nothing_are_refused_naming_the_field() {
        let err = check_squared("target.std", 5e-324).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("target.std: 5e-324 is too small"), "{msg}");
        assert!(msg.contains("1.3e-77"), "{msg}");
        assert_eq!(err.field_name(), Some("target.std"));
        assert!(check_squared("target.std", SMALLEST_SQUARED_LENGTH).is_ok());
        assert!(check_squared("target.std", 0.5).is_ok());
        let v = SMALLEST_SQUARED_LENGTH;
        assert!((v * v * v * v).is_normal());
    }

    #[test]
    fn large_step_sizes_and_learning_rates_are_refused() {
        assert!(decl("flow.mmd.step_size").unwrap().check(1e9).is_err());
        assert!(decl("optimizer.lr").unwrap().check(1e6).is_err());
    }

    #[test]
    fn lookup_prefers_the_kind_and_falls_back_to_the_family() {
        assert_eq!(
            lookup("optimizer", Some("lion"), "beta2").unwrap().id,
            "optimizer.lion.beta2"
        );
        assert_eq!(
            lookup("optimizer", Some("adam"), "beta2").unwrap().id,
            "optimizer.beta2"
        );
        assert_eq!(lookup("", None, "seed").unwrap().id, "seed");
        assert!(lookup("optimizer", Some("adam"), "nonsense").is_none());
        let err = check_field("optimizer", Some("adam"), "lr", 50.0).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("optimizer.lr = 50 is out of range"),
            "{err}"
        );
    }

    /// One scenario (as JSON) per target kind, model, method, objective, divergence, estimator, optimizer,
    /// flow, kernel and bandwidth, each with every optional field written out by serialization.
    fn representative_scenarios() -> Vec<Value> {
        let parse = |v: Value| -> Value {
            let s: Scenario =
                serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"));
            s.validate().unwrap_or_else(|e| panic!("{e}: {v}"));
            serde_json::to_value(&s).unwrap()
        };
        let base = |target: Value, model: Value, method: Value| json!({"version": 1, "seed": 3, "steps": 10, "target": target, "model": model, "method": method});
        let mixture =
            json!({"kind": "mixture", "init": {"kind": "random", "components": 2, "seed": 4}});
        let given = json!({"kind": "mixture", "init": {"kind": "given", "weights": [1.0], "means": [[0.1, 0.2]], "covariances": [[[0.5, 0.1], [0.1, 0.4]]]}});
        let particles = json!({"kind": "particles", "count": 20, "init": {"kind": "gaussian", "mean": [0.1, 0.2], "std": 0.5}});
        let uniform = json!({"kind": "particles", "count": 20, "init": {"kind": "uniform_in_box"}});
        let adam = json!({"kind": "adam"});
        let fdiv = json!({"kind": "f_divergence", "divergence": {"kind": "forward_kl"}});
        let kernels = [
            json!({"kind": "gaussian", "sigma": 0.5}),
            json!({"kind": "inverse_multiquadric", "c": 1.0}),
            json!({"kind": "laplace", "sigma": 0.5}),
            json!({"kind": "riesz", "r": 1.0}),
        ];
        let mut out = Vec::new();
        for (_, target) in crate::core::target::presets() {
            let t = serde_json::to_value(&target).unwrap();
            // A mixture q cannot fit the simplex's Dirichlet (q has mass where p = 0): particles only.
            if t["kind"] != "dirichlet" {
                out.push(parse(base(
                    t.clone(),
                    mixture.clone(),
                    json!({"kind": "em"}),
                )));
            }
            // A score flow needs a density; a sample target gets a sample-based flow.
            let flow = if t["kind"] == "samples" {
                json!({"kind": "sliced_riesz", "slices": 8, "step_size": 1.0})
            } else if t["kind"] == "dirichlet" {
                json!({"kind": "mirrored_svgd", "bandwidth": {"kind": "median"}, "step_size": 0.05})
            } else {
                json!({"kind": "langevin", "step_size": 0.05})
            };
            out.push(parse(base(
                t,
                uniform.clone(),
                json!({"kind": "flow", "flow": flow}),
            )));
        }
        let two_modes = json!({"kind": "two_modes"});
        out.push(parse(base(
            two_modes.clone(),
            given.clone(),
            json!({"kind": "bw_jko", "step_size": 0.1, "nodes": 8}),
        )));
        for model in [&mixture, &given] {
            out.push(parse(base(
                two_modes.clone(),
                model.clone(),
                json!({"kind": "gradient", "objective": fdiv, "optimizer": adam}),
            )));
        }
        for kind in [
            "sgd",
            "adam",
            "lion",
            "laprop",
            "ademamix",
            "grams",
            "d_adapt_adam",
        ] {
            let method =
                json!({"kind": "gradient", "objective": fdiv, "optimizer": {"kind": kind}});
            out.push(parse(base(two_modes.clone(), mixture.clone(), method)));
        }
        let mut objectives = vec![
            json!({"kind": "cross_entropy"}),
            json!({"kind": "cauchy_schwarz"}),
            json!({"kind": "mmd_gaussian_closed_form", "sigma": 0.5}),
            json!({"kind": "sinkhorn"}),
            json!({"kind": "sliced_energy"}),
        ];
        for d in crate::core::fdiv::FDivKind::all() {
            for e in [json!({"kind": "grid"}), json!({"kind": "monte_carlo"})] {
                objectives.push(json!({"kind": "f_divergence", "divergence": d, "estimator": e}));
            }
        }
        for k in &kernels {
            objectives.push(json!({"kind": "mmd", "kernel": k}));
        }
        for o in objectives {
            let method = json!({"kind": "gradient", "objective": o, "optimizer": adam});
            out.push(parse(base(two_modes.clone(), mixture.clone(), method)));
        }
        let sinkhorn =
            json!({"epsilon": 0.05, "scaling": 0.7, "max_iters": 100, "tolerance": 0.001});
        let mut flows = vec![
            json!({"kind": "sliced_riesz", "slices": 8, "step_size": 1.0}),
            json!({"kind": "sinkhorn", "sinkhorn": sinkhorn, "step_size": 0.5}),
            json!({"kind": "sinkhorn", "sinkhorn": {"epsilon": 0.05, "max_iters": 100, "tolerance": 0.001,
                "newton": {"sweeps": 5, "keep": 0.1, "cg_iters": 20}}, "step_size": 0.5}),
            json!({"kind": "svgd", "bandwidth": {"kind": "median"}, "step_size": 0.1}),
            json!({"kind": "svgd", "bandwidth": {"kind": "fixed", "h": 0.5}, "step_size": 0.1}),
            json!({"kind": "langevin", "step_size": 0.05}),
            json!({"kind": "underdamped_langevin", "step_size": 0.05, "friction": 1.0}),
        ];
        for k in &kernels {
            flows.push(json!({"kind": "mmd", "kernel": k, "step_size": 1.0, "noise_level": 0.1}));
        }
        for f in flows {
            out.push(parse(base(
                json!({"kind": "ring8"}),
                particles.clone(),
                json!({"kind": "flow", "flow": f}),
            )));
        }
        // A `measure` section (ε absolute or relative, not both) and particles from given points.
        let points = json!({"kind": "particles", "count": 2, "init": {"kind": "points", "points": [[0.1, 0.2], [0.3, 0.4]]}});
        let flow = json!({"kind": "flow", "flow": {"kind": "sliced_riesz", "slices": 8, "step_size": 1.0}});
        for eps in [json!({"epsilon": 0.01}), json!({"epsilon_rel": 0.001})] {
            let mut m = json!({"resolution": 64, "samples": 100, "directions": 8, "sinkhorn_points": 50,
                "epsilon_scaling": 0.5, "sinkhorn_max_iters": 1000, "sinkhorn_tolerance": 1e-6,
                "kernel_sigma": 0.3, "riesz_r": 1.5, "cost": "half_squared", "precision": "f64",
                "knn_k": 3});
            if let (Value::Object(m), Value::Object(e)) = (&mut m, eps) {
                m.extend(e);
            }
            let mut s = base(json!({"kind": "ring8"}), points.clone(), flow.clone());
            s["measure"] = m;
            out.push(parse(s));
        }
        out
    }

    fn numeric_leaves(v: &Value, path: String, out: &mut Vec<(String, f64)>) {
        match v {
            Value::Number(n) => out.push((path, n.as_f64().unwrap_or(f64::NAN))),
            Value::Object(m) => {
                for (k, child) in m {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    numeric_leaves(child, p, out);
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    numeric_leaves(child, format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }

    /// Every number a scenario can hold has a declaration (a new field without one fails here), and the
    /// representative values lie inside their declared ranges.
    #[test]
    fn every_numeric_field_of_every_kind_has_a_declaration() {
        let mut seen = std::collections::BTreeSet::new();
        for s in representative_scenarios() {
            let mut leaves = Vec::new();
            numeric_leaves(&s, String::new(), &mut leaves);
            for (path, v) in leaves {
                let d = decl_at(&s, &path)
                    .unwrap_or_else(|| panic!("no declaration for `{path}` in {s}"));
                assert!(
                    d.contains(v),
                    "{path} = {v} outside {} ({})",
                    d.range_words(),
                    d.id
                );
                seen.insert(d.id);
            }
        }
        // And no declaration is dead.
        let unused: Vec<&str> = all()
            .iter()
            .map(|d| d.id)
            .filter(|id| !seen.contains(id))
            .collect();
        assert!(
            unused.is_empty(),
            "declared but not in any scenario: {unused:?}"
        );
    }
}
