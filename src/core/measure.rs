//! The measurement battery: every divergence between the target p and the model q, for a Gaussian-mixture
//! model and for a particle cloud alike, as a list of [`Row`]s with stable ids.
//!
//! # Rows
//! The battery is the same list, in the same order, for both model kinds ([`row_ids`]). Each row has a stable
//! snake_case `id` (built from the scenario's serde kind names, e.g. `forward_kl`, `alpha_-1`, `mmd_laplace`),
//! its `kind` (the serde kind name, e.g. `alpha`, `mmd`) with its numeric `params` (e.g. `alpha`, `sigma`,
//! `epsilon`), a `name` for people, and an [`Outcome`]: a value with structured [`Diagnostics`], `infinite`
//! (the divergence is +∞, e.g. a χ² whose integrand overflows on the grid), `not_applicable` (what the row
//! needs is missing: a density of a particle cloud, a Gaussian-mixture target for a closed form), or `failed`
//! (any other error).
//!
//! # Settings (the same for both model kinds)
//! - f-divergences on a `resolution²` grid ([`super::fdiv`], default 256²) over a region that holds both p
//!   and q ([`integration_region`]: the target's box grown to every mixture component's mean ± 8σ per
//!   axis), with the masses of p and q outside it. Against a wide-box quadrature on random pairs whose
//!   components overlap poorly (q up to all outside the target's box), forward and reverse KL, JS and
//!   squared Hellinger agree to 2e-11 and TV to 1.4e-5 relative at 256²
//!   (`grid_rows_hold_q_and_match_a_wide_box_quadrature`; on the target's box alone reverse KL was off by
//!   up to 69%).
//! - Kernel scale σ = 10% of the box's smaller side: Gaussian σ, inverse multiquadric c = σ, Laplace σ, and the
//!   closed-form Gaussian MMD²; the energy distance is the Riesz kernel with r = 1 ([`kernel_sigma`]).
//! - Sinkhorn ε = (5% of the box's smaller side)², cost |x − y|² ([`sinkhorn_epsilon`]).
//! - Sample-based rows draw `samples` points of p (a sample target's own points when it has at most that many,
//!   else that many drawn with replacement) and, for a mixture, a stratified batch of `samples` points of q; a
//!   particle cloud is the q sample itself, with uniform weights.
//! - Row `i` of the battery draws from its own sub-stream `rng::substream(seed, 2⁶³ + i)`, so a row's value
//!   does not depend on which other rows exist, and the streams never meet the steps' (1, 2, 3, …).

use serde::{Deserialize, Serialize};

use super::closed_form::{
    bures_wasserstein2, cauchy_schwarz_grid, cauchy_schwarz_mixtures, kl_gaussians,
    mmd2_gaussian_mixtures,
};
use super::error::{CoreError, CoreResult};
use super::exact_ot::{MAX_EXACT_POINTS, exact_ot};
use super::fdiv::{FDivKind, REGION_SIGMAS, fdiv_value_grid_extended, region_holding};
use super::fit::{batches, target_points};
use super::gaussian::Gaussian;
use super::grid::BBox;
use super::math::{Vec2, display_number};
use super::mixture::Mixture;
use super::mmd::{Kernel, mmd2};
use super::params;
use super::plan::transport_cost;
use super::rng::{Rng, substream};
use super::sinkhorn::{
    Precision, SinkhornConfig, SinkhornDiagnostics, sinkhorn, sinkhorn_divergence, squared_diameter,
};
use super::sliced::{random_directions, sliced_wasserstein2};
use super::target::{DensityTarget, Target};

/// The model being measured.
#[derive(Debug, Clone, Copy)]
pub enum ModelRef<'a> {
    /// A Gaussian mixture q (density known).
    Mixture(&'a Mixture),
    /// A particle cloud with uniform weights (no density).
    Particles(&'a [Vec2]),
}

/// The ground cost of the optimal-transport rows (`sinkhorn`, `ot_epsilon`, `transport_cost`, `exact_w2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostConvention {
    /// c(x, y) = |x − y|² (POT's `ot.dist` default, OTT-JAX's `PointCloud`; divlab's solvers).
    #[default]
    Squared,
    /// c(x, y) = |x − y|²/2 (the convention of Brenier's theorem and of many papers). Computed as half of
    /// the |x − y|² problem at 2ε: min ⟨π, C/2⟩ + ε KL = ½ (min ⟨π, C⟩ + 2ε KL).
    HalfSquared,
}

impl CostConvention {
    /// The cost's formula, for names.
    pub fn words(self) -> &'static str {
        match self {
            Self::Squared => "|x − y|²",
            Self::HalfSquared => "|x − y|²/2",
        }
    }

    /// The factor from |x − y|² to this cost.
    pub fn factor(self) -> f64 {
        match self {
            Self::Squared => 1.0,
            Self::HalfSquared => 0.5,
        }
    }
}

/// Settings of [`measure`] (see the module docs for what is derived from the target's box).
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureSettings {
    /// Grid resolution of the f-divergences and of the grid Cauchy–Schwarz.
    pub resolution: usize,
    /// Samples of p (and of a mixture q) for the sample-based divergences.
    pub samples: usize,
    /// Slices of the sliced Wasserstein distance.
    pub directions: usize,
    /// Most points of each cloud in the Sinkhorn row (evenly subsampled, weights renormalized; its
    /// diagnostics give the counts used), `None`: every point. Its cost is O(N·M) per iteration. The
    /// other optimal-transport rows use the same clouds.
    pub sinkhorn_points: Option<usize>,
    /// Sinkhorn ε in units of the cost; `None`: from `epsilon_rel`, or the default (module docs).
    pub epsilon: Option<f64>,
    /// ε as a fraction of the cost of the clouds' diameter, ε = ε_rel · c(D) (D² for |x − y|², D²/2 for
    /// |x − y|²/2; D the diagonal of both clouds' bounding box), as in the POT fixtures.
    pub epsilon_rel: Option<f64>,
    /// ε-scaling factor of the Sinkhorn solver ([`SinkhornConfig::scaling`]).
    pub epsilon_scaling: f64,
    /// Iteration cap of each Sinkhorn problem.
    pub sinkhorn_max_iters: usize,
    /// Marginal-error tolerance of each Sinkhorn problem.
    pub sinkhorn_tolerance: f64,
    /// Inner-loop precision of the Sinkhorn rows.
    pub precision: Precision,
    /// The MMD rows' length scale (Gaussian and Laplace σ, inverse multiquadric c, the closed form's σ);
    /// `None`: 10% of the target box's smaller side.
    pub kernel_sigma: Option<f64>,
    /// Exponent r of the Riesz kernel −|x − y|^r of the `mmd_riesz` row (1: the energy distance).
    pub riesz_r: f64,
    /// Ground cost of the optimal-transport rows.
    pub cost: CostConvention,
    /// Neighbours k of the k-nearest-neighbour rows (`knn_kl`, `knn_renyi_2`; [`super::knn`]).
    pub knn_k: usize,
}

impl MeasureSettings {
    /// The defaults, usable in constants.
    pub const DEFAULT: MeasureSettings = MeasureSettings {
        resolution: 256,
        samples: 1000,
        directions: 64,
        sinkhorn_points: None,
        epsilon: None,
        epsilon_rel: None,
        epsilon_scaling: 0.7,
        sinkhorn_max_iters: 500,
        sinkhorn_tolerance: 1e-4,
        precision: Precision::F32,
        kernel_sigma: None,
        riesz_r: 1.0,
        cost: CostConvention::Squared,
        knn_k: 5,
    };

    /// Checks every setting against its declaration `measure.<field>` ([`super::params`]); the error names
    /// the field.
    pub fn validate(&self) -> CoreResult<()> {
        let c = |field: &str, v: f64| params::check_field("measure", None, field, v).map(|_| ());
        c("resolution", self.resolution as f64)?;
        c("samples", self.samples as f64)?;
        c("directions", self.directions as f64)?;
        if let Some(v) = self.sinkhorn_points {
            c("sinkhorn_points", v as f64)?;
        }
        if self.epsilon.is_some() && self.epsilon_rel.is_some() {
            return Err(CoreError::field(
                "measure.epsilon",
                "give epsilon (in cost units) or epsilon_rel (a fraction of the clouds' diameter cost), not both",
            ));
        }
        if let Some(v) = self.epsilon {
            c("epsilon", v)?;
        }
        if let Some(v) = self.epsilon_rel {
            c("epsilon_rel", v)?;
        }
        c("epsilon_scaling", self.epsilon_scaling)?;
        c("sinkhorn_max_iters", self.sinkhorn_max_iters as f64)?;
        c("sinkhorn_tolerance", self.sinkhorn_tolerance)?;
        if let Some(v) = self.kernel_sigma {
            c("kernel_sigma", v)?;
            params::check_squared("measure.kernel_sigma", v)?;
        }
        c("riesz_r", self.riesz_r)?;
        c("knn_k", self.knn_k as f64)
    }
}

impl Default for MeasureSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A scenario's `measure` section: every field optional, the rest from [`MeasureSettings::DEFAULT`]
/// (documented in `docs/scenario.md`; `divlab measure`'s flags override it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "snake_case")]
pub struct MeasureSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
    /// Slices of the sliced Wasserstein row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directions: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sinkhorn_points: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epsilon_rel: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epsilon_scaling: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sinkhorn_max_iters: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sinkhorn_tolerance: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_sigma: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub riesz_r: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<CostConvention>,
    /// Neighbours k of the kNN rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub knn_k: Option<usize>,
}

impl MeasureSpec {
    /// Nothing set (the section is left out when a scenario is written).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The settings: each field given here over `base`.
    pub fn over(&self, base: &MeasureSettings) -> MeasureSettings {
        MeasureSettings {
            resolution: self.resolution.unwrap_or(base.resolution),
            samples: self.samples.unwrap_or(base.samples),
            directions: self.directions.unwrap_or(base.directions),
            sinkhorn_points: self.sinkhorn_points.or(base.sinkhorn_points),
            epsilon: match (self.epsilon, self.epsilon_rel) {
                (Some(e), _) => Some(e),
                (None, Some(_)) => None,
                (None, None) => base.epsilon,
            },
            epsilon_rel: match (self.epsilon, self.epsilon_rel) {
                (_, Some(r)) => Some(r),
                (Some(_), None) => None,
                (None, None) => base.epsilon_rel,
            },
            epsilon_scaling: self.epsilon_scaling.unwrap_or(base.epsilon_scaling),
            sinkhorn_max_iters: self.sinkhorn_max_iters.unwrap_or(base.sinkhorn_max_iters),
            sinkhorn_tolerance: self.sinkhorn_tolerance.unwrap_or(base.sinkhorn_tolerance),
            precision: self.precision.unwrap_or(base.precision),
            kernel_sigma: self.kernel_sigma.or(base.kernel_sigma),
            riesz_r: self.riesz_r.unwrap_or(base.riesz_r),
            cost: self.cost.unwrap_or(base.cost),
            knn_k: self.knn_k.unwrap_or(base.knn_k),
        }
    }

    /// The fields of `other` that are set, over these.
    pub fn merged(&self, other: &MeasureSpec) -> MeasureSpec {
        MeasureSpec {
            resolution: other.resolution.or(self.resolution),
            samples: other.samples.or(self.samples),
            directions: other.directions.or(self.directions),
            sinkhorn_points: other.sinkhorn_points.or(self.sinkhorn_points),
            epsilon: match (other.epsilon, other.epsilon_rel) {
                (None, None) => self.epsilon,
                (e, _) => e,
            },
            epsilon_rel: match (other.epsilon, other.epsilon_rel) {
                (None, None) => self.epsilon_rel,
                (_, r) => r,
            },
            epsilon_scaling: other.epsilon_scaling.or(self.epsilon_scaling),
            sinkhorn_max_iters: other.sinkhorn_max_iters.or(self.sinkhorn_max_iters),
            sinkhorn_tolerance: other.sinkhorn_tolerance.or(self.sinkhorn_tolerance),
            precision: other.precision.or(self.precision),
            kernel_sigma: other.kernel_sigma.or(self.kernel_sigma),
            riesz_r: other.riesz_r.or(self.riesz_r),
            cost: other.cost.or(self.cost),
            knn_k: other.knn_k.or(self.knn_k),
        }
    }

    /// [`MeasureSettings::validate`] of these over the defaults.
    pub fn validate(&self) -> CoreResult<()> {
        if self.epsilon.is_some() && self.epsilon_rel.is_some() {
            return Err(CoreError::field(
                "measure.epsilon",
                "give epsilon (in cost units) or epsilon_rel (a fraction of the clouds' diameter cost), not both",
            ));
        }
        self.over(&MeasureSettings::DEFAULT).validate()
    }
}

/// The numeric parameters of a row (those that apply; the rest are absent from the JSON).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Params {
    /// Order of an Amari α- or a Rényi divergence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// Length scale of a Gaussian or Laplace kernel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigma: Option<f64>,
    /// Length scale of the inverse multiquadric kernel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub c: Option<f64>,
    /// Exponent of the Riesz kernel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r: Option<f64>,
    /// Entropic regularization of the optimal-transport rows (cost units).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    /// ε relative to the cost of the clouds' diameter (when set so; the ε used is in the diagnostics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epsilon_rel: Option<f64>,
    /// Neighbours k of a k-nearest-neighbour row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
}

/// How a value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EstimatorKind {
    /// Midpoint rule on a grid over the target's box.
    Grid,
    /// A closed form.
    ClosedForm,
    /// From samples of p and of q (or the particle cloud).
    Samples,
    /// A Monte Carlo estimate over samples of q, with a standard error.
    MonteCarlo,
    /// From the k-th nearest-neighbour distances within and between independent samples of p and q
    /// ([`super::knn`]).
    NearestNeighbour,
    /// Exactly, by linear programs over the couplings of the two mixtures' components (network simplex;
    /// [`super::orlicz`]).
    ExactProgram,
}

/// What a value comes with; absent fields do not apply to the row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Diagnostics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimator: Option<EstimatorKind>,
    /// Grid cells per side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<usize>,
    /// 1 − ∫_box p (grid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missed_mass_p: Option<f64>,
    /// 1 − ∫_box q (grid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missed_mass_q: Option<f64>,
    /// The grid's box: the target's box grown to hold each mixture component's mean ± 8σ per axis
    /// ([`region_holding`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<BBox>,
    /// Points of q (or particles) used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples_q: Option<usize>,
    /// Points of p used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples_p: Option<usize>,
    /// Standard error of a Monte Carlo value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standard_error: Option<f64>,
    /// Sinkhorn ε (cost units).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    /// Slices of a sliced distance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directions: Option<usize>,
    /// The Sinkhorn solver's convergence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sinkhorn: Option<SinkhornDiagnostics>,
    /// χ²-type rows between mixtures: a closed-form upper bound on ∫ p^α q^(1−α) outside the grid's
    /// region ([`super::tails::outside_mass_bound`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outside_bound: Option<f64>,
    /// Network-simplex pivots of the exact OT row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pivots: Option<usize>,
    /// A certified lower bound on the value, which is an upper bound within this of it (the
    /// Orlicz–Wasserstein row; [`super::orlicz`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certified_lower_bound: Option<f64>,
    /// Linear programs solved (the Orlicz–Wasserstein row's Dinkelbach steps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub programs: Option<usize>,
}

/// What a row came to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A finite value.
    Value {
        value: f64,
        diagnostics: Diagnostics,
    },
    /// The divergence is +∞ (e.g. q is numerically zero where p has mass).
    Infinite { reason: String },
    /// The divergence is finite but at least `value`, not equal to it: the grid's region misses part of
    /// the integrand (a χ²-type integrand between mixtures that peaks outside it); `upper_bound` adds a
    /// closed-form bound of the missing part ([`super::tails::outside_mass_bound`]) to the grid's value
    /// (the grid's own midpoint error on the part inside, up to ~2e-4 of it on such steep integrands, is
    /// not in it; +∞ where no bound was found), `reason` says so. The `is_ess` row, which falls as χ² grows,
    /// turns such a χ² into an ESS fraction between `value` = 1/(1 + χ²'s upper bound) and `upper_bound`
    /// = 1/(1 + χ²'s grid value).
    LowerBound {
        value: f64,
        upper_bound: f64,
        reason: String,
        diagnostics: Diagnostics,
    },
    /// The row does not apply to this target and model.
    NotApplicable { reason: String },
    /// The computation failed.
    Failed { error: String },
}

impl Outcome {
    /// The outcome's serde tag: "value", "infinite", "lower_bound", "not_applicable" or "failed".
    pub fn tag(&self) -> &'static str {
        match self {
            Self::Value { .. } => "value",
            Self::Infinite { .. } => "infinite",
            Self::LowerBound { .. } => "lower_bound",
            Self::NotApplicable { .. } => "not_applicable",
            Self::Failed { .. } => "failed",
        }
    }

    /// The value, if there is one (+∞ for an infinite outcome, the bound for a lower bound).
    pub fn value(&self) -> Option<f64> {
        match self {
            Self::Value { value, .. } | Self::LowerBound { value, .. } => Some(*value),
            Self::Infinite { .. } => Some(f64::INFINITY),
            _ => None,
        }
    }

    /// The reason or the error, for every outcome but a value.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Value { .. } => None,
            Self::Infinite { reason }
            | Self::NotApplicable { reason }
            | Self::LowerBound { reason, .. } => Some(reason),
            Self::Failed { error } => Some(error),
        }
    }
}

/// One measurement. Serializes flat: `{"id", "kind", "params", "name", "outcome", …}` with `value` and
/// `diagnostics` for a value, `reason` for `infinite` / `not_applicable`, `error` for `failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Stable snake_case id, unique within the battery (see [`row_ids`]).
    pub id: String,
    /// The serde kind name of the divergence (e.g. "alpha", "mmd", "sinkhorn").
    pub kind: String,
    pub params: Params,
    /// A name for people, e.g. "MMD² (inverse multiquadric kernel, c = 0.9), from samples".
    pub name: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The kernels of the sample-based MMD² rows.
#[derive(Debug, Clone, Copy)]
enum KernelChoice {
    Gaussian,
    InverseMultiquadric,
    Laplace,
    Riesz,
}

/// One entry of the battery.
#[derive(Debug, Clone, Copy)]
enum Entry {
    FDiv(FDivKind),
    CrossEntropy,
    CauchySchwarz,
    MmdGaussianClosedForm,
    Mmd(KernelChoice),
    Sinkhorn,
    SlicedW2,
    BuresW2,
    KlGaussians,
    OtEpsilon,
    TransportCost,
    ExactW2,
    ImportanceEss,
    CauchySchwarzGrid,
    KnnKl,
    KnnRenyi { alpha: f64 },
    OrliczWasserstein,
    MixingW2,
}

/// Rows in the battery ([`row_ids`] has this many ids; [`measure_row`] takes an index below it).
pub const BATTERY_LEN: usize = 31;

/// The battery, in order. Ids are never reused or renamed; new rows go at the end.
const BATTERY: [(&str, Entry); BATTERY_LEN] = [
    ("forward_kl", Entry::FDiv(FDivKind::ForwardKl)),
    ("reverse_kl", Entry::FDiv(FDivKind::ReverseKl)),
    ("jensen_shannon", Entry::FDiv(FDivKind::JensenShannon)),
    ("alpha_0.5", Entry::FDiv(FDivKind::Alpha { alpha: 0.5 })),
    ("alpha_-1", Entry::FDiv(FDivKind::Alpha { alpha: -1.0 })),
    ("alpha_2", Entry::FDiv(FDivKind::Alpha { alpha: 2.0 })),
    ("squared_hellinger", Entry::FDiv(FDivKind::SquaredHellinger)),
    ("pearson_chi2", Entry::FDiv(FDivKind::PearsonChi2)),
    ("neyman_chi2", Entry::FDiv(FDivKind::NeymanChi2)),
    ("renyi_2", Entry::FDiv(FDivKind::Renyi { alpha: 2.0 })),
    ("total_variation", Entry::FDiv(FDivKind::TotalVariation)),
    ("cross_entropy", Entry::CrossEntropy),
    ("cauchy_schwarz", Entry::CauchySchwarz),
    ("mmd_gaussian_closed_form", Entry::MmdGaussianClosedForm),
    ("mmd_gaussian", Entry::Mmd(KernelChoice::Gaussian)),
    (
        "mmd_inverse_multiquadric",
        Entry::Mmd(KernelChoice::InverseMultiquadric),
    ),
    ("mmd_laplace", Entry::Mmd(KernelChoice::Laplace)),
    ("mmd_riesz", Entry::Mmd(KernelChoice::Riesz)),
    ("sinkhorn", Entry::Sinkhorn),
    ("sliced_w2", Entry::SlicedW2),
    ("bures_w2", Entry::BuresW2),
    ("kl_gaussians", Entry::KlGaussians),
    ("ot_epsilon", Entry::OtEpsilon),
    ("transport_cost", Entry::TransportCost),
    ("exact_w2", Entry::ExactW2),
    ("is_ess", Entry::ImportanceEss),
    ("cauchy_schwarz_grid", Entry::CauchySchwarzGrid),
    ("knn_kl", Entry::KnnKl),
    ("knn_renyi_2", Entry::KnnRenyi { alpha: 2.0 }),
    ("orlicz_wasserstein", Entry::OrliczWasserstein),
    ("mixing_w2", Entry::MixingW2),
];

/// The battery index of the `sinkhorn` row, whose sub-stream the other optimal-transport rows share: they
/// all measure the same two clouds.
const SINKHORN_ROW: usize = 18;

/// Stream offset of the battery's rows (row i uses `substream(seed, STREAM_BASE + i)`).
const STREAM_BASE: u64 = 1 << 63;

/// Every row id of the battery, in the order [`measure`] returns the rows (for either model kind).
pub fn row_ids() -> Vec<&'static str> {
    BATTERY.iter().map(|(id, _)| *id).collect()
}

/// The kernel length scale of the MMD rows: 10% of the target box's smaller side.
pub fn kernel_sigma(target: &Target) -> f64 {
    0.1 * smaller_side(target)
}

/// The Sinkhorn row's ε: (5% of the target box's smaller side)², in cost units.
pub fn sinkhorn_epsilon(target: &Target) -> f64 {
    (0.05 * smaller_side(target)).powi(2)
}

fn smaller_side(target: &Target) -> f64 {
    let b = target.bbox();
    b.width().min(b.height())
}

/// The region of the grid rows: the target's box grown to hold every component of q (and of p when p is a
/// mixture) to ± [`REGION_SIGMAS`] standard deviations per axis, so that both densities are integrated cell
/// by cell; the mass still outside goes to the outer cell and is reported as the missed masses. A particle
/// model has no grid rows; its region is the target's box.
pub fn integration_region(target: &Target, model: ModelRef<'_>) -> BBox {
    let ModelRef::Mixture(q) = model else {
        return target.bbox();
    };
    let mut mixtures = vec![q];
    if let Some(p) = target.density().and_then(|d| d.as_mixture()) {
        mixtures.push(p);
    }
    region_holding(&target.bbox(), &mixtures, REGION_SIGMAS)
}

/// [`measure`] with the default settings.
pub fn measure_default(target: &Target, model: ModelRef<'_>, seed: u64) -> Vec<Row> {
    measure(target, model, seed, &MeasureSettings::default())
}

/// Every row of the battery between the target and the model, deterministic from `seed` (module docs).
pub fn measure(
    target: &Target,
    model: ModelRef<'_>,
    seed: u64,
    settings: &MeasureSettings,
) -> Vec<Row> {
    let ctx = Ctx::new(target, model, settings);
    BATTERY
        .iter()
        .enumerate()
        .map(|(i, (id, entry))| ctx.row_at(seed, i, id, *entry))
        .collect()
}

/// Row `index` of the battery alone (`0 ≤ index <` [`BATTERY_LEN`], in the order of [`row_ids`]), equal to
/// `measure(target, model, seed, settings)[index]`: each row draws from its own sub-stream, so computing
/// the rows one at a time (e.g. a few per frame) gives the same values. `None` past the end.
pub fn measure_row(
    target: &Target,
    model: ModelRef<'_>,
    seed: u64,
    settings: &MeasureSettings,
    index: usize,
) -> Option<Row> {
    let (id, entry) = BATTERY.get(index)?;
    Some(Ctx::new(target, model, settings).row_at(seed, index, id, *entry))
}

struct Ctx<'a> {
    target: &'a Target,
    model: ModelRef<'a>,
    settings: &'a MeasureSettings,
    sigma: f64,
    /// The OT rows' ε in cost units where it does not depend on the clouds (absolute or default); `None`
    /// for `epsilon_rel`.
    epsilon: Option<f64>,
    /// The grid rows' integration region ([`integration_region`]).
    region: BBox,
}

/// What a row's computation returns before it becomes an [`Outcome`].
type Computed = CoreResult<(f64, Diagnostics)>;

const PARTICLES_NO_DENSITY: &str =
    "the model is a particle cloud, which has no density (the sample-based rows apply)";

impl<'a> Ctx<'a> {
    fn new(target: &'a Target, model: ModelRef<'a>, settings: &'a MeasureSettings) -> Self {
        Self {
            target,
            model,
            settings,
            sigma: settings
                .kernel_sigma
                .unwrap_or_else(|| kernel_sigma(target)),
            epsilon: match (settings.epsilon, settings.epsilon_rel) {
                (_, Some(_)) => None,
                (Some(e), None) => Some(e),
                (None, None) => Some(sinkhorn_epsilon(target)),
            },
            region: integration_region(target, model),
        }
    }

    /// Row `i` of the battery, from its own sub-stream of `seed`.
    fn row_at(&self, seed: u64, i: usize, id: &str, entry: Entry) -> Row {
        let stream = match entry {
            Entry::OtEpsilon | Entry::TransportCost | Entry::ExactW2 => SINKHORN_ROW,
            _ => i,
        };
        let mut rng = substream(seed, STREAM_BASE + stream as u64);
        self.row(id, entry, &mut rng)
    }

    fn row(&self, id: &str, entry: Entry, rng: &mut Rng) -> Row {
        let (kind, params, name) = self.describe(entry);
        // The ESS row is 1/(1 + χ²(p‖q)) of the Pearson χ² row's outcome, computed the same way.
        let computed_as = match entry {
            Entry::ImportanceEss => Entry::FDiv(FDivKind::PearsonChi2),
            other => other,
        };
        let (computed, infinite_reason) = self.compute(computed_as, rng);
        let mut outcome = outcome(computed, infinite_reason);
        if let (Entry::FDiv(k), Outcome::Value { value, diagnostics }) = (computed_as, &outcome) {
            outcome = self.bounded(&k, *value, diagnostics.clone());
        }
        if let Entry::ImportanceEss = entry {
            // An infinite χ² is decided in closed form (core::tails) or seen as an overflow on the grid.
            let decided_by = match self.diverges(&FDivKind::PearsonChi2) {
                Some(_) => EstimatorKind::ClosedForm,
                None => EstimatorKind::Grid,
            };
            outcome = ess_of_pearson(outcome, decided_by);
        }
        Row {
            id: id.to_owned(),
            kind: kind.to_owned(),
            params,
            name,
            outcome,
        }
    }

    fn kernel(&self, k: KernelChoice) -> Kernel {
        match k {
            KernelChoice::Gaussian => Kernel::Gaussian { sigma: self.sigma },
            KernelChoice::InverseMultiquadric => Kernel::InverseMultiquadric { c: self.sigma },
            KernelChoice::Laplace => Kernel::Laplace { sigma: self.sigma },
            KernelChoice::Riesz => Kernel::Riesz {
                r: self.settings.riesz_r,
            },
        }
    }

    /// The row's serde kind name, its parameters and its name for people.
    fn describe(&self, entry: Entry) -> (&'static str, Params, String) {
        let none = Params::default();
        match entry {
            Entry::FDiv(k) => {
                let params = match k {
                    FDivKind::Alpha { alpha } | FDivKind::Renyi { alpha } => Params {
                        alpha: Some(alpha),
                        ..none
                    },
                    _ => none,
                };
                (FDivKind::kind_id(&k), params, k.name())
            }
            Entry::CrossEntropy => (
                "cross_entropy",
                none,
                "cross-entropy −E_p ln q, from target samples".into(),
            ),
            Entry::CauchySchwarz => (
                "cauchy_schwarz",
                none,
                "Cauchy–Schwarz divergence (closed form between mixtures, else grid)".into(),
            ),
            Entry::CauchySchwarzGrid => (
                "cauchy_schwarz",
                none,
                format!(
                    "Cauchy–Schwarz divergence, {r}×{r} grid quadrature",
                    r = self.settings.resolution
                ),
            ),
            Entry::ImportanceEss => (
                "is_ess",
                none,
                "importance-sampling ESS/N of q as a proposal for p, 1/(1 + χ²(p‖q)) = 1/∫p²/q (large-N limit), grid"
                    .into(),
            ),
            Entry::MmdGaussianClosedForm => (
                "mmd_gaussian_closed_form",
                Params {
                    sigma: Some(self.sigma),
                    ..none
                },
                format!(
                    "MMD² ({}), closed form",
                    Kernel::Gaussian { sigma: self.sigma }.name()
                ),
            ),
            Entry::Mmd(k) => {
                let kernel = self.kernel(k);
                let params = match kernel {
                    Kernel::Gaussian { sigma } | Kernel::Laplace { sigma } => Params {
                        sigma: Some(sigma),
                        ..none
                    },
                    Kernel::InverseMultiquadric { c } => Params { c: Some(c), ..none },
                    Kernel::Riesz { r } => Params { r: Some(r), ..none },
                };
                let name = match k {
                    KernelChoice::Riesz => {
                        format!("energy distance: MMD² ({}), from samples", kernel.name())
                    }
                    _ => format!("MMD² ({}), from samples", kernel.name()),
                };
                ("mmd", params, name)
            }
            Entry::Sinkhorn => (
                "sinkhorn",
                self.ot_params(),
                format!(
                    "Sinkhorn divergence S_ε (debiased; {}), from samples",
                    self.ot_words(true)
                ),
            ),
            Entry::OtEpsilon => (
                "ot_epsilon",
                self.ot_params(),
                format!(
                    "entropic OT_ε = ⟨π, C⟩ + ε KL(π‖a⊗b) ({}), from samples",
                    self.ot_words(true)
                ),
            ),
            Entry::TransportCost => (
                "transport_cost",
                self.ot_params(),
                format!(
                    "transport cost ⟨π, C⟩ of the entropic plan ({}), from samples",
                    self.ot_words(true)
                ),
            ),
            Entry::ExactW2 => (
                "exact_w2",
                none,
                format!(
                    "exact OT, unregularized ({}; W₂² for |x − y|²), network simplex, from samples",
                    self.ot_words(false)
                ),
            ),
            Entry::SlicedW2 => (
                "sliced_w2",
                none,
                format!(
                    "sliced Wasserstein-2 SW₂ ({} directions), from samples",
                    self.settings.directions
                ),
            ),
            Entry::BuresW2 => (
                "bures_w2",
                none,
                "Bures–Wasserstein² between Gaussians, closed form".into(),
            ),
            Entry::KlGaussians => (
                "kl_gaussians",
                none,
                "KL(p‖q) between Gaussians, closed form".into(),
            ),
            Entry::KnnKl => (
                "knn_kl",
                Params {
                    k: Some(self.settings.knn_k),
                    ..none
                },
                format!(
                    "KL(p‖q), k-nearest-neighbour distances (k = {}), from samples",
                    self.settings.knn_k
                ),
            ),
            Entry::KnnRenyi { alpha } => (
                "knn_renyi",
                Params {
                    alpha: Some(alpha),
                    k: Some(self.settings.knn_k),
                    ..none
                },
                format!(
                    "Rényi D_α(p‖q) (α = {}), k-nearest-neighbour distances (k = {}), from samples",
                    display_number(alpha),
                    self.settings.knn_k
                ),
            ),
            Entry::OrliczWasserstein => (
                "orlicz_wasserstein",
                none,
                "Orlicz–Wasserstein W_Φ (Φ(x) = eˣ − 1) between the mixing measures, Bures ground metric, exact"
                    .into(),
            ),
            Entry::MixingW2 => (
                "mixing_w2",
                none,
                "W₂ between the mixing measures (MW₂), Bures ground metric, exact".into(),
            ),
        }
    }

    /// The OT rows' parameters: ε where it is fixed, ε_rel where it is relative.
    fn ot_params(&self) -> Params {
        Params {
            epsilon: self.epsilon,
            epsilon_rel: self.settings.epsilon_rel,
            ..Params::default()
        }
    }

    /// "cost |x − y|², ε = 0.0225" for the OT rows' names.
    fn ot_words(&self, with_epsilon: bool) -> String {
        let cost = format!("cost {}", self.settings.cost.words());
        if !with_epsilon {
            return cost;
        }
        match (self.epsilon, self.settings.epsilon_rel) {
            (Some(e), _) => format!("{cost}, ε = {}", display_number(e)),
            (None, Some(r)) => format!("{cost}, ε = {}·c(D)", display_number(r)),
            (None, None) => cost,
        }
    }

    /// The OT rows' clouds (capped at `sinkhorn_points`), their ε in cost units and the solver's
    /// configuration for the cost |x − y|² (ε divided by the cost's factor).
    fn ot_setup(&self, rng: &mut Rng) -> CoreResult<(Clouds, f64, SinkhornConfig)> {
        let mut c = self.clouds(rng)?;
        if let Some(max) = self.settings.sinkhorn_points {
            c = c.at_most(max);
        }
        let factor = self.settings.cost.factor();
        let eps = match (self.epsilon, self.settings.epsilon_rel) {
            (Some(e), _) => e,
            (None, Some(r)) => r * factor * squared_diameter(&c.x, &c.y),
            (None, None) => sinkhorn_epsilon(self.target),
        };
        let cfg = SinkhornConfig {
            epsilon: eps / factor,
            scaling: Some(self.settings.epsilon_scaling),
            max_iters: self.settings.sinkhorn_max_iters,
            tolerance: self.settings.sinkhorn_tolerance,
            precision: self.settings.precision,
            newton: None,
        };
        Ok((c, eps, cfg))
    }

    /// OT_ε (`plan_cost` false) or the transport cost of its plan (true).
    fn entropic(&self, rng: &mut Rng, plan_cost: bool) -> Computed {
        let (c, eps, cfg) = self.ot_setup(rng)?;
        let r = sinkhorn(&c.x, &c.a, &c.y, &c.b, &cfg)?;
        let factor = self.settings.cost.factor();
        let v = if plan_cost {
            transport_cost(&c.x, &c.a, &c.y, &c.b, &r)?
        } else {
            r.cost_value
        };
        Ok((
            factor * v,
            Diagnostics {
                epsilon: Some(eps),
                sinkhorn: Some(SinkhornDiagnostics {
                    iterations_xy: r.iterations,
                    iterations_xx: 0,
                    iterations_yy: 0,
                    marginal_error: r.marginal_error,
                    converged: r.converged,
                }),
                ..c.diagnostics()
            },
        ))
    }

    /// Exact OT by the network simplex, or why not (clouds above [`MAX_EXACT_POINTS`]).
    fn exact(&self, rng: &mut Rng) -> Computed {
        let (c, _, _) = self.ot_setup(rng)?;
        let most = c.x.len().max(c.y.len());
        if most > MAX_EXACT_POINTS {
            return Err(CoreError::not_applicable(format!(
                "exact OT is limited to {MAX_EXACT_POINTS} points a side (network simplex); here {} and {} \
                 (set measure.sinkhorn_points or measure.samples lower)",
                c.x.len(),
                c.y.len()
            )));
        }
        let r = exact_ot(&c.x, &c.a, &c.y, &c.b)?;
        Ok((
            self.settings.cost.factor() * r.cost,
            Diagnostics {
                pivots: Some(r.pivots),
                ..c.diagnostics()
            },
        ))
    }

    fn mixture(&self) -> CoreResult<&Mixture> {
        match self.model {
            ModelRef::Mixture(q) => Ok(q),
            ModelRef::Particles(_) => Err(CoreError::not_applicable(PARTICLES_NO_DENSITY)),
        }
    }

    fn density(&self, what: &str) -> CoreResult<&DensityTarget> {
        self.target.density().ok_or_else(|| {
            CoreError::not_applicable(format!(
                "{what} needs the target's density; '{}' is only samples",
                self.target.name()
            ))
        })
    }

    /// The q sample (a stratified batch of a mixture, or the particles) and the p sample, with weights.
    fn clouds(&self, rng: &mut Rng) -> CoreResult<Clouds> {
        let s = self.settings.samples;
        match self.model {
            ModelRef::Mixture(q) => {
                let (batch, y, b) = batches(self.target, q, s, s, rng)?;
                Ok(Clouds {
                    x: batch.points,
                    a: batch.weights,
                    y,
                    b,
                })
            }
            ModelRef::Particles(p) => {
                if p.is_empty() {
                    return Err(CoreError::invalid("the particle cloud is empty"));
                }
                let y = target_points(self.target, s, rng);
                let b = vec![1.0 / y.len().max(1) as f64; y.len()];
                Ok(Clouds {
                    x: p.to_vec(),
                    a: vec![1.0 / p.len() as f64; p.len()],
                    y,
                    b,
                })
            }
        }
    }

    /// The value with its diagnostics, and the reason to give should the value be +∞.
    fn compute(&self, entry: Entry, rng: &mut Rng) -> (Computed, String) {
        let res = self.settings.resolution;
        match entry {
            Entry::FDiv(kind) if let Some(why) = self.diverges(&kind) => (
                Ok((f64::INFINITY, estimated(EstimatorKind::ClosedForm))),
                why,
            ),
            Entry::FDiv(kind) => (
                self.fdiv(&kind),
                format!(
                    "the integrand overflows on the {res}×{res} grid: one density is (numerically) zero where the other has mass"
                ),
            ),
            Entry::CrossEntropy => (
                self.cross_entropy(rng),
                "q is (numerically) zero at a target point".into(),
            ),
            Entry::CauchySchwarz => (
                self.cauchy_schwarz(),
                "p and q do not overlap numerically".into(),
            ),
            Entry::MmdGaussianClosedForm => (self.mmd_closed_form(), String::new()),
            Entry::Mmd(k) => {
                let kernel = self.kernel(k);
                let r = self.clouds(rng).and_then(|c| {
                    let v = mmd2(&c.x, &c.a, &c.y, &c.b, &kernel)?;
                    Ok((v, c.diagnostics()))
                });
                (r, String::new())
            }
            Entry::Sinkhorn => (self.sinkhorn(rng), String::new()),
            Entry::OtEpsilon => (self.entropic(rng, false), String::new()),
            Entry::TransportCost => (self.entropic(rng, true), String::new()),
            Entry::ExactW2 => (self.exact(rng), String::new()),
            Entry::CauchySchwarzGrid => (
                self.cauchy_schwarz_on_grid(),
                "p and q do not overlap numerically".into(),
            ),
            Entry::ImportanceEss => (
                Err(CoreError::invalid(
                    "the ESS row is computed from the Pearson χ² row",
                )),
                String::new(),
            ),
            Entry::SlicedW2 => {
                let r = self.clouds(rng).and_then(|c| {
                    let dirs = random_directions(self.settings.directions, rng);
                    let v = sliced_wasserstein2(&c.x, &c.a, &c.y, &c.b, &dirs)?;
                    Ok((
                        v,
                        Diagnostics {
                            directions: Some(self.settings.directions),
                            ..c.diagnostics()
                        },
                    ))
                });
                (r, String::new())
            }
            Entry::BuresW2 => {
                let r = self.gaussians().and_then(|(p, q)| {
                    bures_wasserstein2(&p, &q).map(|v| (v, estimated(EstimatorKind::ClosedForm)))
                });
                (r, String::new())
            }
            Entry::KlGaussians => {
                let r = self.gaussians().and_then(|(p, q)| {
                    kl_gaussians(&p, &q).map(|v| (v, estimated(EstimatorKind::ClosedForm)))
                });
                (r, String::new())
            }
            Entry::KnnKl => (self.knn(None, rng), String::new()),
            Entry::KnnRenyi { alpha } => (self.knn(Some(alpha), rng), String::new()),
            Entry::OrliczWasserstein => (self.orlicz(), String::new()),
            Entry::MixingW2 => {
                let r = self.mixing_measures().and_then(|(p, q)| {
                    let v = super::orlicz::mixing_w2(p, q)?;
                    Ok((v, estimated(EstimatorKind::ExactProgram)))
                });
                (r, String::new())
            }
        }
    }

    /// The target's and the model's mixtures, whose mixing measures the Orlicz–Wasserstein and MW₂ rows
    /// compare.
    fn mixing_measures(&self) -> CoreResult<(&Mixture, &Mixture)> {
        let p = self
            .target
            .density()
            .and_then(|d| d.as_mixture())
            .ok_or_else(|| {
                CoreError::not_applicable(format!(
                    "compares the components of two mixtures; the target '{}' is not a Gaussian mixture",
                    self.target.name()
                ))
            })?;
        let q = match self.model {
            ModelRef::Mixture(q) => q,
            ModelRef::Particles(_) => {
                return Err(CoreError::not_applicable(
                    "compares the components of two mixtures; the model is a particle cloud",
                ));
            }
        };
        Ok((p, q))
    }

    /// The Orlicz–Wasserstein row, with its certificate and the programs it took.
    fn orlicz(&self) -> Computed {
        let (p, q) = self.mixing_measures()?;
        let o = super::orlicz::orlicz_between_mixtures(p, q, super::orlicz::Young::Exponential)?;
        Ok((
            o.value,
            Diagnostics {
                certified_lower_bound: Some(o.lower_bound),
                programs: Some(o.programs),
                ..estimated(EstimatorKind::ExactProgram)
            },
        ))
    }

    /// An f-divergence by the grid (+∞ kept as a value).
    /// Why the f-divergence `kind` is infinite for this mixture target and mixture model, decided exactly
    /// ([`super::tails`]); `None` when it is finite or either side is not a mixture.
    fn diverges(&self, kind: &FDivKind) -> Option<String> {
        let (ModelRef::Mixture(q), Some(p)) = (
            self.model,
            self.target.density().and_then(|d| d.as_mixture()),
        ) else {
            return None;
        };
        super::tails::divergence_infinite(kind, p, q)
    }

    /// A finite grid value of a χ²-type row (α outside [0, 1]) between mixtures, checked against a
    /// closed-form bound of the integrand's mass outside the region: within [`RESOLVED_REL`] of the
    /// integral it stays a value (with the bound in its diagnostics); above, or where no bound is found,
    /// it is a lower bound (the grid misses a positive part of a positive integrand).
    fn bounded(&self, kind: &FDivKind, value: f64, mut diagnostics: Diagnostics) -> Outcome {
        let Some((alpha, integral)) = power_integral(kind, value) else {
            return Outcome::Value { value, diagnostics };
        };
        let (ModelRef::Mixture(q), Some(p)) = (
            self.model,
            self.target.density().and_then(|d| d.as_mixture()),
        ) else {
            return Outcome::Value { value, diagnostics };
        };
        let bound = super::tails::outside_mass_bound(p, q, alpha, &self.region);
        diagnostics.outside_bound = bound;
        match bound {
            Some(b) if b <= RESOLVED_REL * integral.abs() => Outcome::Value { value, diagnostics },
            Some(b) => Outcome::LowerBound {
                value,
                upper_bound: value_after(kind, value, integral, b),
                reason: format!(
                    "the integrand ∫p^α q^(1−α) (α = {alpha}) peaks outside the grid's region: its mass \
                     there is up to {} of the {} inside (closed-form bound), so the value is a lower bound",
                    display_number(b),
                    display_number(integral)
                ),
                diagnostics,
            },
            None => Outcome::LowerBound {
                value,
                upper_bound: f64::INFINITY,
                reason: format!(
                    "the integrand ∫p^α q^(1−α) (α = {alpha}) could not be bounded outside the grid's \
                     region, so the value is a lower bound"
                ),
                diagnostics,
            },
        }
    }

    fn fdiv(&self, kind: &FDivKind) -> Computed {
        let q = self.mixture()?;
        let p = self.density(&kind.name())?;
        let res = self.settings.resolution;
        let v = fdiv_value_grid_extended(kind, p, &self.region, q, res)?;
        Ok((
            v.value,
            Diagnostics {
                resolution: Some(res),
                missed_mass_p: Some(v.missed_mass_p),
                missed_mass_q: Some(v.missed_mass_q),
                region: Some(self.region),
                ..estimated(EstimatorKind::Grid)
            },
        ))
    }

    /// −(1/N) Σ ln q(yᵢ) over target points (+∞ kept as a value).
    fn cross_entropy(&self, rng: &mut Rng) -> Computed {
        let q = self.mixture()?;
        let ys = target_points(self.target, self.settings.samples, rng);
        if ys.is_empty() {
            return Err(CoreError::invalid("the target has no points"));
        }
        let v = ys.iter().map(|y| -q.log_density(*y)).sum::<f64>() / ys.len() as f64;
        Ok((
            v,
            Diagnostics {
                samples_p: Some(ys.len()),
                ..estimated(EstimatorKind::Samples)
            },
        ))
    }

    fn cauchy_schwarz(&self) -> Computed {
        let q = self.mixture()?;
        let p = self.density("Cauchy–Schwarz")?;
        match p.as_mixture() {
            Some(pm) => {
                let (v, _) = cauchy_schwarz_mixtures(pm, q)?;
                Ok((v, estimated(EstimatorKind::ClosedForm)))
            }
            None => self.cauchy_schwarz_on_grid(),
        }
    }

    /// The Cauchy–Schwarz divergence by the midpoint rule on the grid rows' region, whatever the target
    /// (the `cauchy_schwarz_grid` row: beside the closed form of `cauchy_schwarz` for a mixture target).
    fn cauchy_schwarz_on_grid(&self) -> Computed {
        let q = self.mixture()?;
        let p = self.density("Cauchy–Schwarz")?;
        let res = self.settings.resolution;
        let (v, _) = cauchy_schwarz_grid(p, &self.region, q, res)?;
        Ok((
            v,
            Diagnostics {
                resolution: Some(res),
                region: Some(self.region),
                ..estimated(EstimatorKind::Grid)
            },
        ))
    }

    fn mmd_closed_form(&self) -> Computed {
        let q = self.mixture()?;
        let pm = self
            .target
            .density()
            .and_then(|d| d.as_mixture())
            .ok_or_else(|| {
                CoreError::not_applicable(format!(
                    "the closed-form MMD² needs a Gaussian-mixture target ('{}' is not one); see mmd_gaussian",
                    self.target.name()
                ))
            })?;
        let (v, _) = mmd2_gaussian_mixtures(pm, q, self.sigma)?;
        Ok((v, estimated(EstimatorKind::ClosedForm)))
    }

    fn sinkhorn(&self, rng: &mut Rng) -> Computed {
        let (c, eps, cfg) = self.ot_setup(rng)?;
        let s = sinkhorn_divergence(&c.x, &c.a, &c.y, &c.b, &cfg)?;
        Ok((
            self.settings.cost.factor() * s.value,
            Diagnostics {
                epsilon: Some(eps),
                sinkhorn: Some(s.diagnostics),
                ..c.diagnostics()
            },
        ))
    }

    /// A k-nearest-neighbour row ([`super::knn`]): KL(p‖q) (`alpha` None) or Rényi D_α(p‖q), from
    /// independent unweighted samples ([`knn_samples`]).
    fn knn(&self, alpha: Option<f64>, rng: &mut Rng) -> Computed {
        let (x, y) = knn_samples(self.target, self.model, self.settings.samples, rng);
        let k = self.settings.knn_k;
        let e = match alpha {
            None => super::knn::kl(&x, &y, k, "measure.knn_k")?,
            Some(a) => super::knn::renyi(&x, &y, k, a, "measure.knn_k")?,
        };
        Ok((
            e.value,
            Diagnostics {
                samples_p: Some(e.n),
                samples_q: Some(e.m),
                ..estimated(EstimatorKind::NearestNeighbour)
            },
        ))
    }

    /// The target and the model as single Gaussians, or why they are not.
    fn gaussians(&self) -> CoreResult<(Gaussian, Gaussian)> {
        let q = match self.model {
            ModelRef::Mixture(q) => q,
            ModelRef::Particles(_) => {
                return Err(CoreError::not_applicable(
                    "compares two Gaussians; the model is a particle cloud",
                ));
            }
        };
        let single = |m: &Mixture| {
            (m.n_components() == 1).then(|| Gaussian {
                mean: m.means()[0],
                cov: m.covariances()[0],
            })
        };
        let p = self.target.density().and_then(|d| d.as_mixture());
        match (p.and_then(single), single(q)) {
            (Some(p), Some(q)) => Ok((p, q)),
            _ => Err(CoreError::not_applicable(
                "needs a single-Gaussian target and a single-Gaussian model",
            )),
        }
    }
}

/// A χ²-type grid value counts as exact when the closed-form bound of the integrand's mass outside the
/// region is at most this fraction of the integral.
pub const RESOLVED_REL: f64 = 1e-6;

/// For the rows that integrate p^α q^(1−α) with α outside [0, 1]: α and the integral I behind `value`
/// (Pearson and Neyman χ²: I = χ² + 1; Amari α: I = 1 + α(α − 1)·D; Rényi: I = exp((α − 1)·R)).
fn power_integral(kind: &FDivKind, value: f64) -> Option<(f64, f64)> {
    let (alpha, integral) = match *kind {
        FDivKind::PearsonChi2 => (2.0, value + 1.0),
        FDivKind::NeymanChi2 => (-1.0, value + 1.0),
        FDivKind::Alpha { alpha } => (alpha, 1.0 + alpha * (alpha - 1.0) * value),
        FDivKind::Renyi { alpha } => (alpha, ((alpha - 1.0) * value).exp()),
        _ => return None,
    };
    (!(0.0..=1.0).contains(&alpha)).then_some((alpha, integral))
}

/// The value of `kind` had its integral been `integral + extra` (each of these values grows with I).
fn value_after(kind: &FDivKind, value: f64, integral: f64, extra: f64) -> f64 {
    match *kind {
        FDivKind::Alpha { alpha } => value + extra / (alpha * (alpha - 1.0)),
        FDivKind::Renyi { alpha } => value + (extra / integral).ln_1p() / (alpha - 1.0),
        _ => value + extra,
    }
}

/// The importance-sampling effective sample size of q as a proposal for p, as a fraction of the N draws, in
/// the large-N limit: ESS/N = (E_q w)² / E_q w² with w = p/q, → 1/∫p²/q = 1/(1 + χ²(p‖q)) (Pearson χ²,
/// q in the denominator), from the Pearson χ² row's outcome. An infinite χ² is an ESS fraction of 0 (the
/// ratio's variance is infinite); a χ² known only as a lower bound gives an ESS fraction between
/// 1/(1 + upper bound) (the `value`, a lower bound) and 1/(1 + value) (the `upper_bound`).
fn ess_of_pearson(chi2: Outcome, infinite_by: EstimatorKind) -> Outcome {
    let ess = |chi2: f64| 1.0 / (1.0 + chi2);
    match chi2 {
        Outcome::Value { value, diagnostics } => Outcome::Value {
            value: ess(value),
            diagnostics,
        },
        Outcome::Infinite { .. } => Outcome::Value {
            value: 0.0,
            diagnostics: estimated(infinite_by),
        },
        Outcome::LowerBound {
            value,
            upper_bound,
            reason,
            diagnostics,
        } => Outcome::LowerBound {
            value: if upper_bound.is_finite() {
                ess(upper_bound)
            } else {
                0.0
            },
            upper_bound: ess(value),
            reason: format!(
                "{reason} (of χ²(p‖q)); the ESS fraction 1/(1 + χ²) is at most {}",
                display_number(ess(value))
            ),
            diagnostics,
        },
        other => other,
    }
}

/// The kNN rows' samples: `samples` points of p — a sample target's own points when it has at most that
/// many, else that many of them drawn without replacement (a point drawn twice would be a zero neighbour
/// distance) — and of q: the particles themselves, or `samples` independent draws of the mixture (the
/// stratified batch of the other rows is not an i.i.d. sample).
pub fn knn_samples(
    target: &Target,
    model: ModelRef<'_>,
    samples: usize,
    rng: &mut Rng,
) -> (Vec<Vec2>, Vec<Vec2>) {
    let p = match target.points() {
        Some(pts) if pts.len() > samples => {
            // A partial Fisher–Yates shuffle: `samples` distinct indices.
            let mut idx: Vec<usize> = (0..pts.len()).collect();
            for i in 0..samples {
                let j = i + super::rng::index(rng, pts.len() - i);
                idx.swap(i, j);
            }
            idx[..samples].iter().map(|&i| pts[i]).collect()
        }
        _ => target_points(target, samples, rng),
    };
    let q = match model {
        ModelRef::Mixture(q) => q.sample(samples, rng),
        ModelRef::Particles(x) => x.to_vec(),
    };
    (p, q)
}

/// Weighted samples of q (x, a) and of p (y, b).
struct Clouds {
    x: Vec<Vec2>,
    a: Vec<f64>,
    y: Vec<Vec2>,
    b: Vec<f64>,
}

/// At most `max` (at least 1) of `points` with their weights, evenly spaced in index, the weights
/// renormalized to sum to 1.
fn subsample_weighted(points: Vec<Vec2>, weights: Vec<f64>, max: usize) -> (Vec<Vec2>, Vec<f64>) {
    let (n, max) = (points.len(), max.max(1));
    if n <= max {
        return (points, weights);
    }
    let picked: Vec<usize> = (0..max).map(|i| i * n / max).collect();
    let total: f64 = picked.iter().map(|&i| weights[i]).sum();
    let w = picked
        .iter()
        .map(|&i| {
            if total > 0.0 {
                weights[i] / total
            } else {
                1.0 / max as f64
            }
        })
        .collect();
    (picked.iter().map(|&i| points[i]).collect(), w)
}

impl Clouds {
    /// Both clouds cut to at most `max` points each ([`subsample_weighted`]).
    fn at_most(self, max: usize) -> Self {
        let (x, a) = subsample_weighted(self.x, self.a, max);
        let (y, b) = subsample_weighted(self.y, self.b, max);
        Self { x, a, y, b }
    }

    fn diagnostics(&self) -> Diagnostics {
        Diagnostics {
            samples_q: Some(self.x.len()),
            samples_p: Some(self.y.len()),
            ..estimated(EstimatorKind::Samples)
        }
    }
}

fn estimated(estimator: EstimatorKind) -> Diagnostics {
    Diagnostics {
        estimator: Some(estimator),
        ..Diagnostics::default()
    }
}

fn outcome(r: Computed, infinite_reason: String) -> Outcome {
    match r {
        Ok((value, diagnostics)) if value.is_finite() => Outcome::Value { value, diagnostics },
        Ok((value, _)) if value == f64::INFINITY => Outcome::Infinite {
            reason: if infinite_reason.is_empty() {
                "the value is +∞".into()
            } else {
                infinite_reason
            },
        },
        Ok((value, _)) => Outcome::Failed {
            error: format!("the value is {value}"),
        },
        Err(CoreError::NotApplicable { reason }) => Outcome::NotApplicable { reason },
        Err(e) => Outcome::Failed {
            error: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::grid::Grid;
    use crate::core::rng::seeded;
    use crate::core::target::{GaussianMixtureSpec, TargetSpec, TwoModesSpec};
    use serde_json::json;

    fn two_modes() -> Target {
        Target::build(&TargetSpec::TwoModes(TwoModesSpec::default()), None).unwrap()
    }

    fn single_gaussian_target() -> Target {
        Target::build(
            &TargetSpec::GaussianMixture(GaussianMixtureSpec {
                weights: vec![1.0],
                means: vec![[1.0, 0.0]],
                covariances: vec![[[1.0, 0.2], [0.2, 0.5]]],
            }),
            None,
        )
        .unwrap()
    }

    fn small() -> MeasureSettings {
        MeasureSettings {
            resolution: 64,
            samples: 200,
            directions: 16,
            ..MeasureSettings::DEFAULT
        }
    }

    fn q() -> Mixture {
        Mixture::single([0.0, 0.0], [[2.0, 0.0], [0.0, 0.5]]).unwrap()
    }

    fn get<'a>(rows: &'a [Row], id: &str) -> &'a Row {
        rows.iter().find(|r| r.id == id).unwrap()
    }

    #[test]
    fn json_is_flat_for_every_outcome_kind() {
        let row = |outcome| Row {
            id: "alpha_2".into(),
            kind: "alpha".into(),
            params: Params {
                alpha: Some(2.0),
                ..Params::default()
            },
            name: "α-divergence (Amari, α = 2)".into(),
            outcome,
        };
        let value = row(Outcome::Value {
            value: 0.25,
            diagnostics: Diagnostics {
                estimator: Some(EstimatorKind::Grid),
                resolution: Some(64),
                missed_mass_p: Some(0.5),
                missed_mass_q: Some(0.125),
                ..Diagnostics::default()
            },
        });
        let cases = [
            (
                value,
                json!({"id": "alpha_2", "kind": "alpha", "params": {"alpha": 2.0},
                    "name": "α-divergence (Amari, α = 2)", "outcome": "value", "value": 0.25,
                    "diagnostics": {"estimator": "grid", "resolution": 64, "missed_mass_p": 0.5,
                        "missed_mass_q": 0.125}}),
            ),
            (
                row(Outcome::Infinite {
                    reason: "overflow".into(),
                }),
                json!({"id": "alpha_2", "kind": "alpha", "params": {"alpha": 2.0},
                    "name": "α-divergence (Amari, α = 2)", "outcome": "infinite", "reason": "overflow"}),
            ),
            (
                row(Outcome::NotApplicable {
                    reason: "no density".into(),
                }),
                json!({"id": "alpha_2", "kind": "alpha", "params": {"alpha": 2.0},
                    "name": "α-divergence (Amari, α = 2)", "outcome": "not_applicable",
                    "reason": "no density"}),
            ),
            (
                row(Outcome::Failed {
                    error: "boom".into(),
                }),
                json!({"id": "alpha_2", "kind": "alpha", "params": {"alpha": 2.0},
                    "name": "α-divergence (Amari, α = 2)", "outcome": "failed", "error": "boom"}),
            ),
        ];
        for (row, expected) in cases {
            let v = serde_json::to_value(&row).unwrap();
            assert_eq!(v, expected);
            let back: Row = serde_json::from_value(v).unwrap();
            assert_eq!(back, row);
        }
        // Sinkhorn diagnostics nest as an object.
        let d = Diagnostics {
            epsilon: Some(0.01),
            sinkhorn: Some(SinkhornDiagnostics {
                iterations_xy: 3,
                iterations_xx: 2,
                iterations_yy: 1,
                marginal_error: 1e-5,
                converged: true,
            }),
            ..Diagnostics::default()
        };
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"epsilon": 0.01, "sinkhorn": {"iterations_xy": 3, "iterations_xx": 2,
                "iterations_yy": 1, "marginal_error": 1e-5, "converged": true}})
        );
    }

    #[test]
    fn ids_are_unique_snake_case_and_kinds_are_the_serde_names() {
        let ids = row_ids();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "duplicate ids");
        for id in &ids {
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c)),
                "{id}"
            );
        }
        for (id, entry) in BATTERY {
            if let Entry::FDiv(k) = entry {
                let serde_kind = serde_json::to_value(k).unwrap()["kind"].clone();
                assert_eq!(serde_kind, json!(FDivKind::kind_id(&k)));
                let expected = match k {
                    FDivKind::Alpha { alpha } | FDivKind::Renyi { alpha } => {
                        format!("{}_{alpha}", FDivKind::kind_id(&k))
                    }
                    _ => FDivKind::kind_id(&k).to_owned(),
                };
                assert_eq!(id, expected);
            }
        }
    }

    #[test]
    fn every_row_for_a_mixture_and_for_particles_in_the_same_order() {
        let t = two_modes();
        let q = q();
        let particles = q.sample(150, &mut seeded(4));
        let mix = measure(&t, ModelRef::Mixture(&q), 3, &small());
        let cloud = measure(&t, ModelRef::Particles(&particles), 3, &small());
        let ids = row_ids();
        let ids_of = |rows: &[Row]| rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids_of(&mix), ids);
        assert_eq!(ids_of(&cloud), ids);
        let sample_based = [
            "mmd_gaussian",
            "mmd_inverse_multiquadric",
            "mmd_laplace",
            "mmd_riesz",
            "sinkhorn",
            "sliced_w2",
            "ot_epsilon",
            "transport_cost",
            "exact_w2",
            "knn_kl",
            "knn_renyi_2",
        ];
        for (m, c) in mix.iter().zip(&cloud) {
            // Same kind, same parameters (σ, ε, …) and same name for both model kinds.
            assert_eq!((&m.kind, &m.params, &m.name), (&c.kind, &c.params, &c.name));
            for r in [m, c] {
                assert!(
                    !r.name.contains('{') && !r.name.contains("::"),
                    "{}",
                    r.name
                );
                if let Some(reason) = r.outcome.reason() {
                    assert!(!reason.is_empty(), "{}", r.id);
                }
            }
            let two_gaussians = ["bures_w2", "kl_gaussians"].contains(&m.id.as_str());
            // ∫q²/p (α = −1) for q = N(0, diag(2, ½)) and p's modes of variance ¼: along x the exponent's
            // form is 2·½ − 1/¼ < 0, so it is infinite (decided exactly, core::tails).
            let q_too_wide = ["alpha_-1", "neyman_chi2"].contains(&m.id.as_str());
            let want_mix = if two_gaussians {
                "not_applicable"
            } else if q_too_wide {
                "infinite"
            } else {
                "value"
            };
            assert_eq!(
                m.outcome.tag(),
                want_mix,
                "mixture {}: {:?}",
                m.id,
                m.outcome
            );
            let want_cloud = if sample_based.contains(&c.id.as_str()) {
                "value"
            } else {
                "not_applicable"
            };
            assert_eq!(
                c.outcome.tag(),
                want_cloud,
                "particles {}: {:?}",
                c.id,
                c.outcome
            );
            if let Outcome::Value { value, .. } = m.outcome {
                assert!(value >= -1e-6, "{}: {value}", m.id);
            }
        }
        let fk = get(&cloud, "forward_kl");
        assert!(fk.outcome.reason().unwrap().contains("particle cloud"));
        // Sinkhorn: the same ε for both, with the solver's diagnostics.
        let eps = sinkhorn_epsilon(&t);
        for rows in [&mix, &cloud] {
            let s = get(rows, "sinkhorn");
            assert_eq!(s.params.epsilon, Some(eps));
            let Outcome::Value { diagnostics, .. } = &s.outcome else {
                panic!("{:?}", s.outcome)
            };
            assert_eq!(diagnostics.epsilon, Some(eps));
            assert!(diagnostics.sinkhorn.is_some());
            assert_eq!(diagnostics.samples_p, Some(200));
        }
        let Outcome::Value { diagnostics, .. } = &get(&cloud, "mmd_gaussian").outcome else {
            panic!()
        };
        assert_eq!(diagnostics.samples_q, Some(150));
        assert_eq!(
            get(&mix, "mmd_gaussian").params.sigma,
            Some(kernel_sigma(&t))
        );
        let Outcome::Value { diagnostics, .. } = &get(&mix, "reverse_kl").outcome else {
            panic!()
        };
        assert_eq!(diagnostics.estimator, Some(EstimatorKind::Grid));
        assert_eq!(diagnostics.resolution, Some(64));
        assert!(diagnostics.missed_mass_p.is_some() && diagnostics.missed_mass_q.is_some());
        // Deterministic from the seed; another seed moves the sample-based values.
        assert_eq!(mix, measure(&t, ModelRef::Mixture(&q), 3, &small()));
        assert_eq!(
            cloud,
            measure(&t, ModelRef::Particles(&particles), 3, &small())
        );
        let other = measure(&t, ModelRef::Mixture(&q), 4, &small());
        assert_ne!(get(&other, "sinkhorn"), get(&mix, "sinkhorn"));
        assert_eq!(get(&other, "forward_kl"), get(&mix, "forward_kl"));
    }

    #[test]
    fn rows_one_at_a_time_equal_the_battery() {
        let t = two_modes();
        let q = q();
        let particles = q.sample(80, &mut seeded(9));
        assert_eq!(row_ids().len(), BATTERY_LEN);
        for model in [ModelRef::Mixture(&q), ModelRef::Particles(&particles)] {
            let all = measure(&t, model, 5, &small());
            let one_by_one: Vec<Row> = (0..BATTERY_LEN)
                .map(|i| measure_row(&t, model, 5, &small(), i).unwrap())
                .collect();
            assert_eq!(all, one_by_one);
            assert!(measure_row(&t, model, 5, &small(), BATTERY_LEN).is_none());
        }
    }

    #[test]
    fn gaussians_sample_targets_and_infinite_values() {
        // Single Gaussians on both sides: BW and KL apply, and KL agrees with the grid's forward KL.
        let g = single_gaussian_target();
        let q = q();
        let rows = measure(
            &g,
            ModelRef::Mixture(&q),
            3,
            &MeasureSettings {
                resolution: 128,
                ..small()
            },
        );
        let value = |id: &str| get(&rows, id).outcome.value().unwrap();
        assert_eq!(get(&rows, "bures_w2").outcome.tag(), "value");
        assert!(value("bures_w2") > 0.0);
        let (kl_cf, kl_grid) = (value("kl_gaussians"), value("forward_kl"));
        assert!(
            (kl_cf - kl_grid).abs() < 1e-3 * kl_cf,
            "{kl_cf} vs {kl_grid}"
        );
        // A sample target: no density → the f-divergences say so; cross-entropy still works.
        let t = two_modes();
        let st = Target::from_samples(t.sample(300, &mut seeded(1))).unwrap();
        let rows = measure(&st, ModelRef::Mixture(&q), 3, &small());
        let fk = get(&rows, "forward_kl");
        assert_eq!(fk.outcome.tag(), "not_applicable");
        assert!(fk.outcome.reason().unwrap().contains("only samples"));
        assert_eq!(get(&rows, "cross_entropy").outcome.tag(), "value");
        assert_eq!(get(&rows, "sinkhorn").outcome.tag(), "value");
        // A narrow q on one mode: ∫p²/q is infinite (2·4 − 1000 < 0 in every direction), said with the
        // reason and a direction; the forward KL stays finite.
        let narrow = Mixture::single([2.0, 0.0], [[1e-3, 0.0], [0.0, 1e-3]]).unwrap();
        let rows = measure(&t, ModelRef::Mixture(&narrow), 3, &small());
        let chi2 = get(&rows, "pearson_chi2");
        assert_eq!(chi2.outcome.tag(), "infinite", "{:?}", chi2.outcome);
        assert!(
            chi2.outcome
                .reason()
                .unwrap()
                .contains("q's tails are too light for p's along direction"),
            "{:?}",
            chi2.outcome
        );
        assert_eq!(get(&rows, "forward_kl").outcome.tag(), "value");
    }

    /// A random mixture: `k` components, means uniform in [−spread, spread]², standard deviations in
    /// [s_lo, s_hi] per axis, correlations in [−0.6, 0.6].
    fn random_mixture(rng: &mut Rng, k: usize, spread: f64, s_lo: f64, s_hi: f64) -> Mixture {
        use crate::core::rng::uniform;
        let mut u = |lo: f64, hi: f64| lo + (hi - lo) * uniform(rng);
        let (mut w, mut m, mut c) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..k {
            w.push(u(0.2, 1.0));
            m.push([u(-spread, spread), u(-spread, spread)]);
            let (sx, sy, r) = (u(s_lo, s_hi), u(s_lo, s_hi), u(-0.6, 0.6));
            c.push([[sx * sx, r * sx * sy], [r * sx * sy, sy * sy]]);
        }
        Mixture::from_components(&w, &m, &c).unwrap()
    }

    /// Forward KL, reverse KL, JS, squared Hellinger and TV by the midpoint rule on an `n × n` grid over the
    /// box holding every component ± 12σ (written here from the definitions, not through the generators).
    fn wide_box_reference(p: &Mixture, q: &Mixture, n: usize) -> [f64; 5] {
        use rayon::prelude::*;
        let b = region_holding(&BBox::new(0.0, 0.0, 0.0, 0.0), &[p, q], 12.0);
        let (dx, dy) = (b.width() / n as f64, b.height() / n as f64);
        let rows: Vec<[f64; 5]> = (0..n)
            .into_par_iter()
            .map(|i| {
                let mut acc = [0.0; 5];
                for j in 0..n {
                    let x = [
                        b.x_min + (j as f64 + 0.5) * dx,
                        b.y_min + (i as f64 + 0.5) * dy,
                    ];
                    let (lp, lq) = (p.log_density(x), q.log_density(x));
                    let (pv, qv) = (lp.exp(), lq.exp());
                    let lm = crate::core::math::logaddexp(lp, lq) - std::f64::consts::LN_2;
                    let xlogy =
                        |v: f64, lv: f64, lo: f64| if v > 0.0 { v * (lv - lo) } else { 0.0 };
                    acc[0] += xlogy(pv, lp, lq);
                    acc[1] += xlogy(qv, lq, lp);
                    acc[2] += 0.5 * (xlogy(pv, lp, lm) + xlogy(qv, lq, lm));
                    acc[3] += 0.5 * (pv.sqrt() - qv.sqrt()).powi(2);
                    acc[4] += 0.5 * (pv - qv).abs();
                }
                acc
            })
            .collect();
        let mut out = [0.0; 5];
        for r in rows {
            for k in 0..5 {
                out[k] += r[k];
            }
        }
        out.map(|v| v * dx * dy)
    }

    /// Issue 15, part 2: on random pairs whose components overlap poorly and where q puts mass outside the
    /// target's box, the battery's forward and reverse KL, JS, squared Hellinger and TV at the default
    /// resolution (256²) agree with a wide-box quadrature (1400² over every component ± 12σ).
    #[test]
    fn grid_rows_hold_q_and_match_a_wide_box_quadrature() {
        let ids = [
            "forward_kl",
            "reverse_kl",
            "jensen_shannon",
            "squared_hellinger",
            "total_variation",
        ];
        let mut rng = seeded(15);
        let mut worst = [0.0f64; 5];
        let mut worst_target_box = [0.0f64; 5];
        let mut most_outside: f64 = 0.0;
        for case in 0..8 {
            let p = random_mixture(&mut rng, 2 + case % 2, 2.5, 0.25, 0.7);
            let q = random_mixture(&mut rng, 1 + case % 3, 4.5, 0.3, 0.9);
            let t = Target::build(
                &TargetSpec::GaussianMixture(GaussianMixtureSpec {
                    weights: p.weights(),
                    means: p.means(),
                    covariances: p.covariances(),
                }),
                None,
            )
            .unwrap();
            let reference = wide_box_reference(&p, &q, 1400);
            let settings = MeasureSettings::default();
            for (k, id) in ids.iter().enumerate() {
                let i = row_ids().iter().position(|r| r == id).unwrap();
                let row = measure_row(&t, ModelRef::Mixture(&q), 1, &settings, i).unwrap();
                let Outcome::Value { value, diagnostics } = &row.outcome else {
                    panic!("{id}: {:?}", row.outcome)
                };
                let e = (value - reference[k]).abs() / reference[k];
                worst[k] = worst[k].max(e);
                assert!(
                    diagnostics.missed_mass_q.unwrap().abs() < 1e-9,
                    "{diagnostics:?}"
                );
                assert!(diagnostics.region.is_some());
                // The same grid over the target's box alone (before issue 15), for contrast.
                let kind = match BATTERY[i].1 {
                    Entry::FDiv(kind) => kind,
                    _ => unreachable!(),
                };
                let old = fdiv_value_grid_extended(&kind, t.density().unwrap(), &t.bbox(), &q, 256)
                    .unwrap()
                    .value;
                worst_target_box[k] =
                    worst_target_box[k].max((old - reference[k]).abs() / reference[k]);
            }
            // How much of q the target's own box misses (what the outer cell used to lump).
            let g = Grid::square(t.bbox(), 512).unwrap();
            most_outside = most_outside.max(1.0 - g.integrate(|x| q.log_density(x).exp()));
        }
        eprintln!(
            "battery vs wide-box quadrature, max relative error: forward KL {:.1e}, reverse KL {:.1e}, JS {:.1e}, \
             H² {:.1e}, TV {:.1e}; q's mass outside the target's box up to {most_outside:.3}; on the target's \
             box alone: {worst_target_box:?}",
            worst[0], worst[1], worst[2], worst[3], worst[4]
        );
        assert!(
            most_outside > 0.01,
            "the cases should put q partly outside p's box"
        );
        assert!(
            worst_target_box[1] > 1e-2,
            "the target's box alone should miss reverse KL"
        );
        for (k, id) in ids.iter().enumerate() {
            assert!(worst[k] < 1e-4, "{id}: {:.2e}", worst[k]);
        }
    }

    /// The kNN rows: for a single Gaussian against a single Gaussian they agree with the closed-form KL
    /// (one seed, 4000 samples: within 5%, the estimator's error at that size in `core::knn`'s tests), and
    /// the Rényi row with the grid's `renyi_2`; a sample target larger than `samples` is subsampled without
    /// replacement (no zero distances); a k too large for the samples is refused with the range.
    #[test]
    fn knn_rows_match_the_closed_form_and_refuse_a_k_too_large() {
        let g = single_gaussian_target();
        let q = q();
        let settings = MeasureSettings {
            samples: 4000,
            resolution: 128,
            ..small()
        };
        let at = |id: &str| row_ids().iter().position(|r| *r == id).unwrap();
        let rows: Vec<Row> = ["kl_gaussians", "knn_kl", "renyi_2", "knn_renyi_2"]
            .iter()
            .map(|id| measure_row(&g, ModelRef::Mixture(&q), 3, &settings, at(id)).unwrap())
            .collect();
        let value = |id: &str| get(&rows, id).outcome.value().unwrap();
        let (kl, knn) = (value("kl_gaussians"), value("knn_kl"));
        let (renyi, knn_renyi) = (value("renyi_2"), value("knn_renyi_2"));
        eprintln!(
            "KL closed form {kl:.4}, kNN {knn:.4}; Rényi-2 grid {renyi:.4}, kNN {knn_renyi:.4}"
        );
        assert!((knn - kl).abs() < 0.05 * kl, "{knn} vs {kl}");
        assert!(
            (knn_renyi - renyi).abs() < 0.05 * renyi,
            "{knn_renyi} vs {renyi}"
        );
        let r = get(&rows, "knn_renyi_2");
        assert_eq!(
            (r.kind.as_str(), r.params.alpha, r.params.k),
            ("knn_renyi", Some(2.0), Some(5))
        );
        let Outcome::Value { diagnostics, .. } = &r.outcome else {
            panic!("{:?}", r.outcome)
        };
        assert_eq!(diagnostics.estimator, Some(EstimatorKind::NearestNeighbour));
        assert_eq!(
            (diagnostics.samples_p, diagnostics.samples_q),
            (Some(4000), Some(4000))
        );
        // A sample target of 3000 points measured with 2000 samples: drawn without replacement (with
        // replacement, about 700 points would be drawn twice, a zero distance at k = 1).
        let st = Target::from_samples(two_modes().sample(3000, &mut seeded(5))).unwrap();
        let one = MeasureSettings {
            samples: 2000,
            knn_k: 1,
            ..small()
        };
        let row = measure_row(&st, ModelRef::Mixture(&q), 1, &one, at("knn_kl")).unwrap();
        assert_eq!(row.outcome.tag(), "value", "{:?}", row.outcome);
        // k ≥ the samples: refused, naming the setting and the valid range.
        let few = q.sample(4, &mut seeded(6));
        let row = measure_row(&g, ModelRef::Particles(&few), 1, &small(), at("knn_kl")).unwrap();
        let Outcome::Failed { error } = &row.outcome else {
            panic!("{:?}", row.outcome)
        };
        assert!(
            error.contains("measure.knn_k") && error.contains("[1, 4]"),
            "{error}"
        );
        assert!(
            MeasureSpec {
                knn_k: Some(0),
                ..Default::default()
            }
            .validate()
            .unwrap_err()
            .to_string()
            .contains("measure.knn_k")
        );
    }

    #[test]
    fn sinkhorn_points_caps_the_ot_rows_alone() {
        let t = two_modes();
        let q = q();
        let capped = MeasureSettings {
            sinkhorn_points: Some(50),
            ..small()
        };
        let (all, cut) = (
            measure(&t, ModelRef::Mixture(&q), 5, &small()),
            measure(&t, ModelRef::Mixture(&q), 5, &capped),
        );
        for (a, c) in all.iter().zip(&cut) {
            if ["sinkhorn", "ot_epsilon", "transport_cost", "exact_w2"].contains(&a.id.as_str()) {
                let Outcome::Value { diagnostics, .. } = &c.outcome else {
                    panic!("{:?}", c.outcome);
                };
                assert_eq!(
                    (diagnostics.samples_q, diagnostics.samples_p),
                    (Some(50), Some(50))
                );
                let (va, vc) = (a.outcome.value().unwrap(), c.outcome.value().unwrap());
                assert!((va - vc).abs() < 0.5 * va.abs().max(0.05), "{va} vs {vc}");
            } else {
                assert_eq!(a, c, "{}", a.id);
            }
        }
        let (p, w) = subsample_weighted(vec![[0.0, 0.0]; 10], vec![0.1; 10], 4);
        assert_eq!(p.len(), 4);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    /// ∫ N(x; μp, vp) ^ a / N(x; μq, vq) ^ b dx in 1D by the trapezoid rule in log space over the peak
    /// ± 40 widths (a reference written here from the densities, not through core::tails).
    fn power_integral_1d(mp: f64, vp: f64, mq: f64, vq: f64, a: f64, b: f64) -> f64 {
        let ln_n = |x: f64, m: f64, v: f64| {
            -0.5 * (x - m) * (x - m) / v - 0.5 * (2.0 * std::f64::consts::PI * v).ln()
        };
        let curv = a / vp - b / vq;
        assert!(curv > 0.0);
        let peak = (a * mp / vp - b * mq / vq) / curv;
        let half = 40.0 / curv.sqrt();
        let n = 400_000;
        let dx = 2.0 * half / n as f64;
        let logs: Vec<f64> = (0..=n)
            .map(|k| {
                let x = peak - half + k as f64 * dx;
                let w = if k == 0 || k == n { 0.5f64.ln() } else { 0.0 };
                w + a * ln_n(x, mp, vp) - b * ln_n(x, mq, vq)
            })
            .collect();
        crate::core::math::logsumexp(&logs).exp() * dx
    }

    /// Issue 15, part 1: a finite χ² whose integrand peaks outside the grid's region is reported as a lower
    /// bound (with a closed-form upper bound) rather than as exact; one the grid holds stays a value. On
    /// random diagonal Gaussian pairs, every Pearson and Neyman χ² row is infinite exactly when the
    /// integral diverges, a value within 1e-4 of the reference, or a lower bound below it with an upper
    /// bound above it.
    #[test]
    fn chi2_rows_outside_the_grid_are_lower_bounds() {
        let gaussian_target = |m: Vec2, v: [f64; 2]| {
            Target::build(
                &TargetSpec::GaussianMixture(GaussianMixtureSpec {
                    weights: vec![1.0],
                    means: vec![m],
                    covariances: vec![[[v[0], 0.0], [0.0, v[1]]]],
                }),
                None,
            )
            .unwrap()
        };
        let index = |id: &str| row_ids().iter().position(|r| *r == id).unwrap();
        let settings = MeasureSettings::default();
        // p = N(0, I), q = N((1, 0.5), 0.52 I): ∫p²/q is finite (2 − 1/0.52 > 0) but its integrand peaks
        // near (−25, −12.5), far outside the region (about ±8 around the means).
        let t = gaussian_target([0.0, 0.0], [1.0, 1.0]);
        let q = Mixture::single([1.0, 0.5], [[0.52, 0.0], [0.0, 0.52]]).unwrap();
        let truth = power_integral_1d(0.0, 1.0, 1.0, 0.52, 2.0, 1.0)
            * power_integral_1d(0.0, 1.0, 0.5, 0.52, 2.0, 1.0)
            - 1.0;
        let row = measure_row(
            &t,
            ModelRef::Mixture(&q),
            1,
            &settings,
            index("pearson_chi2"),
        )
        .unwrap();
        let Outcome::LowerBound {
            value,
            upper_bound,
            reason,
            diagnostics,
        } = &row.outcome
        else {
            panic!("{:?}", row.outcome)
        };
        eprintln!("far peak: grid {value:.4e}, true {truth:.4e}, upper bound {upper_bound:.4e}");
        // (For one Gaussian against one, the bound is the missing mass itself, up to rounding.)
        assert!(
            *value < 1e-6 * truth && truth <= *upper_bound * (1.0 + 1e-9),
            "{value} {truth} {upper_bound}"
        );
        assert!(reason.contains("lower bound"), "{reason}");
        assert!(diagnostics.outside_bound.unwrap() > RESOLVED_REL);
        assert_eq!(row.outcome.tag(), "lower_bound");
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(json["outcome"], "lower_bound");
        assert!(json["upper_bound"].as_f64().unwrap() >= truth);
        // Random diagonal Gaussian pairs.
        use crate::core::rng::uniform;
        let mut rng = seeded(151);
        let (mut values, mut bounds, mut infinite) = (0, 0, 0);
        for _ in 0..40 {
            let mut u = |lo: f64, hi: f64| lo + (hi - lo) * uniform(&mut rng);
            let (mp, vp) = ([u(-1.0, 1.0), u(-1.0, 1.0)], [u(0.3, 1.5), u(0.3, 1.5)]);
            let (mq, vq) = ([u(-2.0, 2.0), u(-2.0, 2.0)], [u(0.2, 2.0), u(0.2, 2.0)]);
            let t = gaussian_target(mp, vp);
            let q = Mixture::single(mq, [[vq[0], 0.0], [0.0, vq[1]]]).unwrap();
            // Pearson: ∫p²/q (a = 2, b = 1); Neyman: ∫q²/p.
            for (id, (m1, v1, m2, v2)) in [
                ("pearson_chi2", (mp, vp, mq, vq)),
                ("neyman_chi2", (mq, vq, mp, vp)),
            ] {
                let finite = (0..2).all(|k| 2.0 / v1[k] - 1.0 / v2[k] > 0.0);
                let row = measure_row(&t, ModelRef::Mixture(&q), 1, &settings, index(id)).unwrap();
                if !finite {
                    assert_eq!(row.outcome.tag(), "infinite", "{id}: {:?}", row.outcome);
                    infinite += 1;
                    continue;
                }
                let truth = power_integral_1d(m1[0], v1[0], m2[0], v2[0], 2.0, 1.0)
                    * power_integral_1d(m1[1], v1[1], m2[1], v2[1], 2.0, 1.0)
                    - 1.0;
                match &row.outcome {
                    Outcome::Value { value, .. } => {
                        assert!(
                            (value - truth).abs() <= 1e-4 * truth.max(1e-3),
                            "{id}: {value} vs {truth}"
                        );
                        values += 1;
                    }
                    Outcome::LowerBound {
                        value, upper_bound, ..
                    } => {
                        assert!(
                            // The upper bound leaves out the grid's own midpoint error on the part
                            // inside (here up to 2e-4 of it, the integrand being steep at the edge).
                            *value <= truth * (1.0 + 1e-6) && truth <= *upper_bound + 1e-3 * value,
                            "{id}: {value} {truth} {upper_bound}"
                        );
                        bounds += 1;
                    }
                    other => panic!("{id}: {other:?}"),
                }
            }
        }
        eprintln!("random pairs: {values} values, {bounds} lower bounds, {infinite} infinite");
        assert!(
            values > 0 && bounds > 0 && infinite > 0,
            "{values} {bounds} {infinite}"
        );
    }

    /// The optimal-transport rows between two given clouds (a sample target and particles): as ε → 0 the
    /// entropic OT_ε and the transport cost of its plan approach the exact value from above; the
    /// |x − y|²/2 convention is half of the |x − y|² one; the settings' ranges are checked.
    #[test]
    fn ot_rows_converge_to_exact_ot_as_epsilon_shrinks() {
        let mut rng = seeded(33);
        let y = two_modes().sample(150, &mut rng);
        let x = q().sample(120, &mut rng);
        let t = Target::from_samples(y).unwrap();
        let ids = ["sinkhorn", "ot_epsilon", "transport_cost", "exact_w2"];
        let rows = |eps_rel: f64, cost: CostConvention| -> Vec<f64> {
            let settings = MeasureSettings {
                epsilon_rel: Some(eps_rel),
                precision: Precision::F64,
                sinkhorn_tolerance: 1e-9,
                sinkhorn_max_iters: 100_000,
                epsilon_scaling: 0.5,
                cost,
                ..small()
            };
            ids.iter()
                .map(|id| {
                    let i = row_ids().iter().position(|r| r == id).unwrap();
                    let r = measure_row(&t, ModelRef::Particles(&x), 2, &settings, i).unwrap();
                    match r.outcome {
                        Outcome::Value { value, diagnostics } => {
                            assert_eq!(
                                (diagnostics.samples_q, diagnostics.samples_p),
                                (Some(120), Some(150))
                            );
                            value
                        }
                        o => panic!("{id}: {o:?}"),
                    }
                })
                .collect()
        };
        let mut gaps = Vec::new();
        for eps_rel in [0.1, 0.01, 0.001] {
            let [s, ot_eps, cost, exact] = rows(eps_rel, CostConvention::Squared)[..] else {
                unreachable!()
            };
            // OT_ε = ⟨π, C⟩ + ε KL ≥ ⟨π, C⟩ ≥ W (π is feasible up to the 1e-9 marginal tolerance).
            assert!(
                ot_eps >= cost - 1e-9 && cost >= exact - 1e-6,
                "{ot_eps} {cost} {exact}"
            );
            assert!(s > 0.0 && s <= ot_eps, "{s} {ot_eps}");
            gaps.push((ot_eps - exact, cost - exact));
            let half = rows(eps_rel, CostConvention::HalfSquared);
            for (h, v) in half.iter().zip([s, ot_eps, cost, exact]) {
                assert!(
                    (h - 0.5 * v).abs() <= 1e-7 * v.abs().max(1e-3),
                    "{h} vs {v}/2"
                );
            }
        }
        eprintln!("(OT_ε − W, ⟨π,C⟩ − W) at ε_rel 0.1, 0.01, 0.001: {gaps:?}");
        for w in gaps.windows(2) {
            assert!(w[1].0 < w[0].0 && w[1].1 < w[0].1, "{gaps:?}");
        }
        assert!(
            gaps[2].0 < 0.1 * gaps[0].0 && gaps[2].1 < 0.02 * gaps[0].1,
            "{gaps:?}"
        );
        // Settings out of range are refused, naming the field and the range.
        let bad = |m: MeasureSpec| m.validate().unwrap_err().to_string();
        let e = bad(MeasureSpec {
            epsilon: Some(0.0),
            ..Default::default()
        });
        assert!(
            e.contains("measure.epsilon") && e.contains("valid range"),
            "{e}"
        );
        let e = bad(MeasureSpec {
            epsilon_scaling: Some(1.0),
            ..Default::default()
        });
        assert!(
            e.contains("measure.epsilon_scaling") && e.contains("below 1"),
            "{e}"
        );
        let e = bad(MeasureSpec {
            epsilon: Some(0.1),
            epsilon_rel: Some(0.1),
            ..Default::default()
        });
        assert!(e.contains("not both"), "{e}");
        let e = bad(MeasureSpec {
            riesz_r: Some(2.0),
            ..Default::default()
        });
        assert!(e.contains("measure.riesz_r"), "{e}");
        let e = bad(MeasureSpec {
            directions: Some(0),
            ..Default::default()
        });
        assert!(e.contains("measure.directions"), "{e}");
        // A section's fields over the defaults; a flag's ε choice replaces the file's.
        let file = MeasureSpec {
            epsilon: Some(0.2),
            samples: Some(300),
            ..Default::default()
        };
        let flags = MeasureSpec {
            epsilon_rel: Some(0.01),
            ..Default::default()
        };
        let m = file.merged(&flags);
        assert_eq!(
            (m.epsilon, m.epsilon_rel, m.samples),
            (None, Some(0.01), Some(300))
        );
        let set = m.over(&MeasureSettings::DEFAULT);
        assert_eq!(
            (set.epsilon, set.epsilon_rel, set.samples, set.resolution),
            (None, Some(0.01), 300, 256)
        );
    }

    fn mixture_target(p: &Mixture) -> Target {
        Target::build(
            &TargetSpec::GaussianMixture(GaussianMixtureSpec {
                weights: p.weights(),
                means: p.means(),
                covariances: p.covariances(),
            }),
            None,
        )
        .unwrap()
    }

    fn row_of(t: &Target, q: &Mixture, id: &str, settings: &MeasureSettings) -> Row {
        let i = row_ids().iter().position(|r| *r == id).unwrap();
        measure_row(t, ModelRef::Mixture(q), 1, settings, i).unwrap()
    }

    /// ∫ N(μp, Σp)² / N(μq, Σq) in closed form (written here from the Gaussian integral, not through
    /// core::tails or the Rényi formulas): with P = Σp⁻¹, Q = Σq⁻¹, A = 2P − Q (positive definite, else the
    /// integral is infinite: `None`), b = 2Pμp − Qμq,
    /// ln I = −½ ln|A| − ln|Σp| + ½ ln|Σq| − ½(2μpᵀPμp − μqᵀQμq − bᵀA⁻¹b).
    fn p2_over_q_gaussians(
        mp: Vec2,
        sp: [[f64; 2]; 2],
        mq: Vec2,
        sq: [[f64; 2]; 2],
    ) -> Option<f64> {
        let det = |m: &[[f64; 2]; 2]| m[0][0] * m[1][1] - m[0][1] * m[1][0];
        let inv = |m: &[[f64; 2]; 2]| {
            let d = det(m);
            [[m[1][1] / d, -m[0][1] / d], [-m[1][0] / d, m[0][0] / d]]
        };
        let mul = |m: &[[f64; 2]; 2], v: Vec2| {
            [
                m[0][0] * v[0] + m[0][1] * v[1],
                m[1][0] * v[0] + m[1][1] * v[1],
            ]
        };
        let dot = |a: Vec2, b: Vec2| a[0] * b[0] + a[1] * b[1];
        let (p, q) = (inv(&sp), inv(&sq));
        let a = [
            [2.0 * p[0][0] - q[0][0], 2.0 * p[0][1] - q[0][1]],
            [2.0 * p[1][0] - q[1][0], 2.0 * p[1][1] - q[1][1]],
        ];
        if !(a[0][0] > 0.0 && det(&a) > 0.0) {
            return None;
        }
        let (pm, qm) = (mul(&p, mp), mul(&q, mq));
        let b = [2.0 * pm[0] - qm[0], 2.0 * pm[1] - qm[1]];
        let quad = 2.0 * dot(mp, pm) - dot(mq, qm) - dot(b, mul(&inv(&a), b));
        Some((-0.5 * det(&a).ln() - det(&sp).ln() + 0.5 * det(&sq).ln() - 0.5 * quad).exp())
    }

    /// The `is_ess` row is 1/∫p²/q: against the closed form between random Gaussians (finite or infinite),
    /// and against a Monte Carlo estimate of E_q[w²], w = p/q, on the two modes (the ESS's definition).
    #[test]
    fn is_ess_matches_the_closed_form_and_monte_carlo() {
        use crate::core::rng::uniform;
        let mut rng = seeded(13);
        let (mut worst, mut finite, mut zero) = (0.0f64, 0, 0);
        for _ in 0..24 {
            let mut u = |lo: f64, hi: f64| lo + (hi - lo) * uniform(&mut rng);
            let mut cov = |lo: f64, hi: f64| {
                let (sx, sy, r) = (u(lo, hi), u(lo, hi), u(-0.6, 0.6));
                [[sx * sx, r * sx * sy], [r * sx * sy, sy * sy]]
            };
            let (sp, sq) = (cov(0.4, 1.0), cov(0.5, 1.6));
            let (mp, mq) = ([0.3, -0.2], [u(-1.0, 1.0), u(-1.0, 1.0)]);
            let t = mixture_target(&Mixture::single(mp, sp).unwrap());
            let q = Mixture::single(mq, sq).unwrap();
            let row = row_of(&t, &q, "is_ess", &MeasureSettings::default());
            match (p2_over_q_gaussians(mp, sp, mq, sq), &row.outcome) {
                (Some(integral), Outcome::Value { value, .. }) => {
                    let e = (value - 1.0 / integral).abs() * integral;
                    worst = worst.max(e);
                    finite += 1;
                    assert!(e < 1e-4, "ESS {value} vs 1/{integral}: {e:.2e}");
                }
                (None, Outcome::Value { value, .. }) => {
                    zero += 1;
                    assert_eq!(*value, 0.0, "∫p²/q is infinite: ESS 0, not {value}");
                }
                (
                    Some(integral),
                    Outcome::LowerBound {
                        value, upper_bound, ..
                    },
                ) => {
                    finite += 1;
                    // The bracket leaves out the grid's own midpoint error inside the region (up to ~2e-4
                    // of χ²'s integral, module docs).
                    let ess = 1.0 / integral;
                    assert!(
                        *value <= ess * (1.0 + 1e-3) && ess <= upper_bound * (1.0 + 1e-3),
                        "{value} ≤ {ess} ≤ {upper_bound}"
                    );
                }
                (want, got) => panic!("∫p²/q = {want:?}, the row {got:?}"),
            }
        }
        eprintln!(
            "is_ess vs closed form: {finite} finite (worst rel. error {worst:.2e}), {zero} infinite"
        );
        assert!(
            finite >= 8 && zero >= 2,
            "{finite} finite, {zero} infinite cases"
        );

        // A χ² whose integrand peaks outside the grid's region (docs/conventions.md's example, χ² = 2.52e14):
        // the ESS is bracketed by the bounds, the truth inside.
        let (mq, sq) = ([1.0, 0.5], [[0.52, 0.0], [0.0, 0.52]]);
        let t = mixture_target(&Mixture::single([0.0, 0.0], [[1.0, 0.0], [0.0, 1.0]]).unwrap());
        let q = Mixture::single(mq, sq).unwrap();
        let truth =
            1.0 / p2_over_q_gaussians([0.0, 0.0], [[1.0, 0.0], [0.0, 1.0]], mq, sq).unwrap();
        let row = row_of(&t, &q, "is_ess", &MeasureSettings::default());
        let Outcome::LowerBound {
            value,
            upper_bound,
            reason,
            ..
        } = &row.outcome
        else {
            panic!("{:?}", row.outcome)
        };
        eprintln!("far peak: ESS {truth:.3e} in [{value:.3e}, {upper_bound:.3e}]");
        assert!(
            *value <= truth * (1.0 + 1e-3) && truth <= *upper_bound,
            "{value} ≤ {truth} ≤ {upper_bound}"
        );
        assert!(reason.contains("ESS"), "{reason}");

        // Monte Carlo over q: the sample ESS's denominator E_q[w²] = ∫p²/q, with its standard error.
        let t = two_modes();
        let q = Mixture::single([0.2, 0.0], [[6.0, 0.0], [0.0, 1.0]]).unwrap();
        let Outcome::Value { value: ess, .. } =
            row_of(&t, &q, "is_ess", &MeasureSettings::default()).outcome
        else {
            panic!()
        };
        let p = t.density().unwrap();
        let n = 200_000;
        let w2: Vec<f64> = q
            .sample(n, &mut seeded(7))
            .iter()
            .map(|&x| (2.0 * (p.log_density(x) - q.log_density(x))).exp())
            .collect();
        let mean = w2.iter().sum::<f64>() / n as f64;
        let se = (w2.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n * (n - 1)) as f64).sqrt();
        eprintln!(
            "is_ess {ess:.5}: 1/ESS = {:.5}, Monte Carlo E_q[w²] = {mean:.5} ± {se:.5}",
            1.0 / ess
        );
        assert!(
            (1.0 / ess - mean).abs() <= 5.0 * se,
            "{} vs {mean} ± {se}",
            1.0 / ess
        );
    }

    /// The `cauchy_schwarz_grid` row (midpoint rule) beside the `cauchy_schwarz` closed form, on random
    /// mixture pairs: at 256² the Gaussians' integrands are resolved (the midpoint rule's error on a
    /// Gaussian of standard deviation s in cells of width h is about 2·exp(−2π²s²/h²) relative, below 1e-9
    /// for s/h ≥ 1.2).
    #[test]
    fn cauchy_schwarz_grid_row_matches_the_closed_form() {
        let mut rng = seeded(31);
        let mut worst = 0.0f64;
        for case in 0..6 {
            let p = random_mixture(&mut rng, 2 + case % 2, 2.5, 0.3, 0.7);
            let q = random_mixture(&mut rng, 1 + case % 3, 3.0, 0.3, 0.9);
            let t = mixture_target(&p);
            let settings = MeasureSettings::default();
            let closed = row_of(&t, &q, "cauchy_schwarz", &settings);
            let grid = row_of(&t, &q, "cauchy_schwarz_grid", &settings);
            let (
                Outcome::Value {
                    value: a,
                    diagnostics: da,
                },
                Outcome::Value {
                    value: b,
                    diagnostics: db,
                },
            ) = (&closed.outcome, &grid.outcome)
            else {
                panic!("{closed:?} {grid:?}")
            };
            assert_eq!(da.estimator, Some(EstimatorKind::ClosedForm));
            assert_eq!(db.estimator, Some(EstimatorKind::Grid));
            assert_eq!(db.resolution, Some(256));
            let e = (a - b).abs() / a.max(1e-3);
            worst = worst.max(e);
            assert!(e < 1e-8, "closed form {a} vs grid {b}");
        }
        eprintln!(
            "cauchy_schwarz vs cauchy_schwarz_grid at 256²: worst rel. difference {worst:.2e}"
        );
    }
    /// The mixing-measure rows against their two-atom closed forms: p = N(0, 0.1·I) and
    /// q = (1 − w)·N(0, 0.1·I) + w·N((D, 0), 0.1·I), whose components are D apart in the Bures metric (same
    /// covariance): W_Φ = D / ln(1 + 1/w) for Φ = eˣ − 1 and MW₂ = √w·D. Particle models are refused.
    #[test]
    fn mixing_measure_rows_match_the_two_atom_closed_forms() {
        let cov = [[0.1, 0.0], [0.0, 0.1]];
        let p = Mixture::single([0.0, 0.0], cov).unwrap();
        let t = mixture_target(&p);
        for (w, d) in [(0.2, 1.0), (0.01, 2.0), (1e-4, 2.5)] {
            let q = Mixture::from_components(&[1.0 - w, w], &[[0.0, 0.0], [d, 0.0]], &[cov, cov])
                .unwrap();
            let ow = row_of(&t, &q, "orlicz_wasserstein", &small());
            let Outcome::Value { value, diagnostics } = &ow.outcome else {
                panic!("{:?}", ow.outcome)
            };
            let exact = d / (1.0 + 1.0 / w).ln();
            assert!(
                (value - exact).abs() <= 1e-9 * exact,
                "w = {w}: {value} vs {exact}"
            );
            let lower = diagnostics.certified_lower_bound.unwrap();
            assert!(lower <= *value && lower >= exact * (1.0 - 1e-9), "{lower}");
            assert_eq!(diagnostics.estimator, Some(EstimatorKind::ExactProgram));
            assert!(diagnostics.programs.unwrap() >= 2);
            let w2 = row_of(&t, &q, "mixing_w2", &small())
                .outcome
                .value()
                .unwrap();
            assert!((w2 - w.sqrt() * d).abs() <= 1e-9 * d, "w = {w}: {w2}");
        }
        let cloud = p.sample(50, &mut seeded(2));
        for id in ["orlicz_wasserstein", "mixing_w2"] {
            let i = row_ids().iter().position(|r| *r == id).unwrap();
            let r = measure_row(&t, ModelRef::Particles(&cloud), 1, &small(), i).unwrap();
            assert_eq!(r.outcome.tag(), "not_applicable");
            assert!(r.outcome.reason().unwrap().contains("particle cloud"));
        }
    }
}
