//! f-divergences between the target p (density known) and the mixture model q, with gradients
//! with respect to q's parameters θ.
//!
//! # Convention
//! `D_f(p‖q) = ∫ q f(p/q)` with **p the target and q the model**, t = p/q the density ratio, f
//! convex with f(1) = 0. With this convention:
//!
//! | kind | f(t) | as an integral | direction |
//! |---|---|---|---|
//! | `forward_kl` | t ln t | KL(p‖q) = ∫ p ln(p/q) | forward: mass-covering |
//! | `reverse_kl` | −ln t | KL(q‖p) = ∫ q ln(q/p) | reverse: mode-seeking |
//! | `jensen_shannon` | ½[t ln t − (1+t) ln((1+t)/2)] | ½KL(p‖m) + ½KL(q‖m), m = (p+q)/2 | symmetric, ≤ ln 2 |
//! | `alpha` (Amari) | (t^α − αt − (1−α))/(α(α−1)) | α → 1: KL(p‖q), α → 0: KL(q‖p) | α ≥ 1 covering, α ≤ 0 seeking |
//! | `squared_hellinger` | ½(√t − 1)² | ½∫(√p − √q)² ∈ [0, 1] | symmetric (α = ½ gives 4 H²) |
//! | `pearson_chi2` | (t − 1)² | ∫(p − q)²/q = ∫p²/q − 1 | forward χ²: covering |
//! | `neyman_chi2` | (1 − t)²/t | ∫(p − q)²/p | reverse χ²: seeking |
//! | `renyi` α | (not an f-divergence) | 1/(α−1) ln ∫ p^α q^{1−α}; α → 1: KL(p‖q) | α > 1 covering |
//! | `total_variation` | ½|t − 1| | ½∫|p − q| ∈ [0, 1] | symmetric |
//!
//! # Gradient
//! For a parameter θ of q, `∂/∂θ ∫ q f(p/q) = ∫ q ∂ln q/∂θ · [f(t) − t f'(t)]`: the generic
//! weighting of the density ratio is `f(t) − t f'(t)` (see [`FDivergence::q_term`]). A new f needs
//! only [`FDivergence::f`] and [`FDivergence::f_prime`]; the built-ins override the log-domain
//! helpers so that tiny q (e.g. 40σ from a narrow component) never yields 0·∞.
//!
//! # Estimators
//! - `grid`: midpoint rule on a `resolution²` grid over the scene box plus one outer cell that
//!   holds the remaining masses `M_p = 1 − Σ p·area`, `M_q = 1 − Σ q·area` (floored at 1e-12)
//!   and contributes `M_q f(M_p/M_q)`. The outer cell keeps the discretized masses summing to
//!   one (so Rényi is exactly 0 at q = p) and stops a model from lowering e.g. reverse KL by
//!   moving its mass out of the box. The value and gradient are those of this discretization (so
//!   finite differences match exactly); `M_p`, `M_q` (unfloored; slightly negative values are
//!   quadrature error) are reported as the missed masses.
//! - `monte_carlo`: `samples / K` (at least 1) reparameterized samples per component,
//!   `x = μ_k + L_k ε`, weights `w_k / n` (stratified, weights exact). The gradient is the exact
//!   gradient of that estimate for the drawn ε (pathwise through x plus the explicit dependence
//!   of q(x) and of the weights on θ). Its standard error is reported; missed masses are 0.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{CoreError, CoreResult};
use super::grid::{BBox, Grid};
use super::math::{Vec2, logaddexp};
use super::mixture::Mixture;
use super::params;
use super::rng::{Rng, normal2};
use super::target::DensityTarget;

const LN_2: f64 = std::f64::consts::LN_2;

/// A generator f of an f-divergence `∫ q f(p/q)`.
pub trait FDivergence: Sync {
    /// f(t) for t > 0.
    fn f(&self, t: f64) -> f64;
    /// f'(t) for t > 0.
    fn f_prime(&self, t: f64) -> f64;

    /// `(f(t), t f'(t))` from ln t (override for stability at extreme t).
    fn f_tfp(&self, log_t: f64) -> (f64, f64) {
        let t = log_t.exp();
        (self.f(t), t * self.f_prime(t))
    }

    /// `(q f(p/q), ∂/∂ln q [q f(p/q)] = q (f(t) − t f'(t)))` from ln p and ln q; 0 where both
    /// vanish. Override for stability where t over- or underflows.
    fn q_term(&self, log_p: f64, log_q: f64) -> (f64, f64) {
        if log_q == f64::NEG_INFINITY {
            return if log_p == f64::NEG_INFINITY {
                (0.0, 0.0)
            } else {
                (f64::INFINITY, f64::NAN)
            };
        }
        let q = log_q.exp();
        let (f, tfp) = self.f_tfp(log_p - log_q);
        (q * f, q * (f - tfp))
    }
}

/// f(t) = t ln t: KL(p‖q).
pub struct ForwardKl;
impl FDivergence for ForwardKl {
    fn f(&self, t: f64) -> f64 {
        if t > 0.0 { t * t.ln() } else { 0.0 }
    }
    fn f_prime(&self, t: f64) -> f64 {
        t.ln() + 1.0
    }
    fn f_tfp(&self, lt: f64) -> (f64, f64) {
        let t = lt.exp();
        if t == 0.0 {
            (0.0, 0.0)
        } else {
            (t * lt, t * (lt + 1.0))
        }
    }
    fn q_term(&self, lp: f64, lq: f64) -> (f64, f64) {
        let p = lp.exp();
        if p == 0.0 {
            (0.0, 0.0)
        } else {
            (p * (lp - lq), -p)
        }
    }
}

/// f(t) = −ln t: KL(q‖p).
pub struct ReverseKl;
impl FDivergence for ReverseKl {
    fn f(&self, t: f64) -> f64 {
        -t.ln()
    }
    fn f_prime(&self, t: f64) -> f64 {
        -1.0 / t
    }
    fn f_tfp(&self, lt: f64) -> (f64, f64) {
        (-lt, -1.0)
    }
    fn q_term(&self, lp: f64, lq: f64) -> (f64, f64) {
        let q = lq.exp();
        if q == 0.0 {
            (0.0, 0.0)
        } else {
            (q * (lq - lp), q * (lq - lp + 1.0))
        }
    }
}

/// Jensen–Shannon, f(t) = ½[t ln t − (1+t) ln((1+t)/2)].
pub struct JensenShannon;
impl FDivergence for JensenShannon {
    fn f(&self, t: f64) -> f64 {
        let tl = if t > 0.0 { t * t.ln() } else { 0.0 };
        0.5 * (tl - (1.0 + t) * ((1.0 + t) / 2.0).ln())
    }
    fn f_prime(&self, t: f64) -> f64 {
        0.5 * (2.0 * t / (1.0 + t)).ln()
    }
    fn f_tfp(&self, lt: f64) -> (f64, f64) {
        let t = lt.exp();
        let lm = logaddexp(0.0, lt) - LN_2; // ln((1+t)/2)
        let tl = if t > 0.0 { t * (lt - lm) } else { 0.0 };
        (0.5 * (tl - lm), 0.5 * t * (LN_2 + lt - logaddexp(0.0, lt)))
    }
    fn q_term(&self, lp: f64, lq: f64) -> (f64, f64) {
        let lm = logaddexp(lp, lq) - LN_2;
        let (p, q) = (lp.exp(), lq.exp());
        let a = if p > 0.0 { p * (lp - lm) } else { 0.0 };
        let b = if q > 0.0 { q * (lq - lm) } else { 0.0 };
        (0.5 * (a + b), 0.5 * b)
    }
}

/// Amari α-divergence, f(t) = (t^α − αt − (1−α))/(α(α−1)); |α| < 1e-6 and |α − 1| < 1e-6 use
/// the exact limits (reverse and forward KL).
pub struct AlphaDiv {
    pub alpha: f64,
}
const ALPHA_LIMIT: f64 = 1e-6;
impl FDivergence for AlphaDiv {
    fn f(&self, t: f64) -> f64 {
        let a = self.alpha;
        if (a - 1.0).abs() < ALPHA_LIMIT {
            ForwardKl.f(t) - t + 1.0
        } else if a.abs() < ALPHA_LIMIT {
            ReverseKl.f(t) + t - 1.0
        } else {
            (t.powf(a) - a * t - (1.0 - a)) / (a * (a - 1.0))
        }
    }
    fn f_prime(&self, t: f64) -> f64 {
        let a = self.alpha;
        if (a - 1.0).abs() < ALPHA_LIMIT {
            t.ln()
        } else if a.abs() < ALPHA_LIMIT {
            1.0 - 1.0 / t
        } else {
            (t.powf(a - 1.0) - 1.0) / (a - 1.0)
        }
    }
    fn f_tfp(&self, lt: f64) -> (f64, f64) {
        let a = self.alpha;
        let t = lt.exp();
        if (a - 1.0).abs() < ALPHA_LIMIT {
            let (f, tfp) = ForwardKl.f_tfp(lt);
            (f - t + 1.0, tfp - t)
        } else if a.abs() < ALPHA_LIMIT {
            (-lt + t - 1.0, -1.0 + t)
        } else {
            let ta = (a * lt).exp();
            (
                (ta - a * t - (1.0 - a)) / (a * (a - 1.0)),
                (ta - t) / (a - 1.0),
            )
        }
    }
    fn q_term(&self, lp: f64, lq: f64) -> (f64, f64) {
        let a = self.alpha;
        let (p, q) = (lp.exp(), lq.exp());
        if (a - 1.0).abs() < ALPHA_LIMIT {
            let (v, d) = ForwardKl.q_term(lp, lq);
            (v - p + q, d + q)
        } else if a.abs() < ALPHA_LIMIT {
            let (v, d) = ReverseKl.q_term(lp, lq);
            (v + p - q, d - q)
        } else {
            let mixed =
                if (lp == f64::NEG_INFINITY && a > 0.0) || (lq == f64::NEG_INFINITY && a < 1.0) {
                    0.0
                } else {
                    (a * lp + (1.0 - a) * lq).exp()
                };
            (
                (mixed - a * p - (1.0 - a) * q) / (a * (a - 1.0)),
                -(mixed - q) / a,
            )
        }
    }
}

/// Squared Hellinger distance ½∫(√p − √q)², f(t) = ½(√t − 1)².
pub struct SquaredHellinger;
impl FDivergence for SquaredHellinger {
    fn f(&self, t: f64) -> f64 {
        0.5 * (t.sqrt() - 1.0).powi(2)
    }
    fn f_prime(&self, t: f64) -> f64 {
        0.5 * (1.0 - 1.0 / t.sqrt())
    }
    fn q_term(&self, lp: f64, lq: f64) -> (f64, f64) {
        let (sp, sq) = ((0.5 * lp).exp(), (0.5 * lq).exp());
        (0.5 * (sp - sq).powi(2), 0.5 * sq * (sq - sp))
    }
}

/// Pearson (forward) χ², f(t) = (t − 1)².
pub struct PearsonChi2;
impl FDivergence for PearsonChi2 {
    fn f(&self, t: f64) -> f64 {
        (t - 1.0).powi(2)
    }
    fn f_prime(&self, t: f64) -> f64 {
        2.0 * (t - 1.0)
    }
    fn q_term(&self, lp: f64, lq: f64) -> (f64, f64) {
        if lq == f64::NEG_INFINITY {
            return if lp == f64::NEG_INFINITY {
                (0.0, 0.0)
            } else {
                (f64::INFINITY, f64::NAN)
            };
        }
        if lp - lq < 30.0 {
            // q (t − 1)² and q (1 − t²), accurate near t = 1 (q may underflow to 0 harmlessly).
            let (q, t) = (lq.exp(), (lp - lq).exp());
            (q * (t - 1.0).powi(2), q * (1.0 - t * t))
        } else {
            // t > e³⁰: p²/q dominates (−2p + q is below its rounding).
            let r = (2.0 * lp - lq).exp();
            (r, -r)
        }
    }
}

/// Neyman (reverse) χ², f(t) = (1 − t)²/t.
pub struct NeymanChi2;
impl FDivergence for NeymanChi2 {
    fn f(&self, t: f64) -> f64 {
        (1.0 - t).powi(2) / t
    }
    fn f_prime(&self, t: f64) -> f64 {
        1.0 - 1.0 / (t * t)
    }
    fn q_term(&self, lp: f64, lq: f64) -> (f64, f64) {
        if lp == f64::NEG_INFINITY {
            return if lq == f64::NEG_INFINITY {
                (0.0, 0.0)
            } else {
                (f64::INFINITY, f64::NAN)
            };
        }
        if lq - lp < 30.0 {
            // p (1 − s)² and 2q (s − 1) with s = q/p = 1/t.
            let (p, q, s) = (lp.exp(), lq.exp(), (lq - lp).exp());
            (p * (1.0 - s).powi(2), 2.0 * q * (s - 1.0))
        } else {
            let r = (2.0 * lq - lp).exp();
            (r, 2.0 * r)
        }
    }
}

/// Total variation ½∫|p − q|, f(t) = ½|t − 1| (subgradient 0 at t = 1).
pub struct TotalVariation;
impl FDivergence for TotalVariation {
    fn f(&self, t: f64) -> f64 {
        0.5 * (t - 1.0).abs()
    }
    fn f_prime(&self, t: f64) -> f64 {
        0.5 * sign(t - 1.0)
    }
    fn q_term(&self, lp: f64, lq: f64) -> (f64, f64) {
        let (p, q) = (lp.exp(), lq.exp());
        (0.5 * (p - q).abs(), -0.5 * q * sign(p - q))
    }
}

fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// f(t) = t^α, used for the Rényi integral ∫ p^α q^{1−α} (not a divergence by itself).
pub struct PowerIntegral {
    pub alpha: f64,
}
impl FDivergence for PowerIntegral {
    fn f(&self, t: f64) -> f64 {
        t.powf(self.alpha)
    }
    fn f_prime(&self, t: f64) -> f64 {
        self.alpha * t.powf(self.alpha - 1.0)
    }
    fn f_tfp(&self, lt: f64) -> (f64, f64) {
        let ta = (self.alpha * lt).exp();
        (ta, self.alpha * ta)
    }
    fn q_term(&self, lp: f64, lq: f64) -> (f64, f64) {
        let a = self.alpha;
        let v = if lp == f64::NEG_INFINITY || lq == f64::NEG_INFINITY {
            0.0
        } else {
            (a * lp + (1.0 - a) * lq).exp()
        };
        (v, (1.0 - a) * v)
    }
}

/// Which f-divergence (see the table in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    tag = "kind",
    rename_all = "snake_case",
    from = "FDivKindRepr"
)]
pub enum FDivKind {
    ForwardKl,
    ReverseKl,
    JensenShannon,
    /// Amari α, any real α in [−50, 50].
    Alpha {
        alpha: f64,
    },
    SquaredHellinger,
    PearsonChi2,
    NeymanChi2,
    /// Rényi α in (0, 50].
    Renyi {
        alpha: f64,
    },
    TotalVariation,
}

/// How an [`FDivKind`] is read: serde ignores unknown fields next to the tag of a unit variant even with
/// `deny_unknown_fields` (`(kind: "reverse_kl", alpha: 0.5)` would pass), so unit variants are read as
/// empty struct variants, which refuse them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
enum FDivKindRepr {
    ForwardKl {},
    ReverseKl {},
    JensenShannon {},
    Alpha { alpha: f64 },
    SquaredHellinger {},
    PearsonChi2 {},
    NeymanChi2 {},
    Renyi { alpha: f64 },
    TotalVariation {},
}

impl From<FDivKindRepr> for FDivKind {
    fn from(r: FDivKindRepr) -> Self {
        match r {
            FDivKindRepr::ForwardKl {} => Self::ForwardKl,
            FDivKindRepr::ReverseKl {} => Self::ReverseKl,
            FDivKindRepr::JensenShannon {} => Self::JensenShannon,
            FDivKindRepr::Alpha { alpha } => Self::Alpha { alpha },
            FDivKindRepr::SquaredHellinger {} => Self::SquaredHellinger,
            FDivKindRepr::PearsonChi2 {} => Self::PearsonChi2,
            FDivKindRepr::NeymanChi2 {} => Self::NeymanChi2,
            FDivKindRepr::Renyi { alpha } => Self::Renyi { alpha },
            FDivKindRepr::TotalVariation {} => Self::TotalVariation,
        }
    }
}

impl FDivKind {
    /// Every kind with a representative parameter (α = ½ for Amari, α = 2 for Rényi).
    pub fn all() -> Vec<FDivKind> {
        vec![
            Self::ForwardKl,
            Self::ReverseKl,
            Self::JensenShannon,
            Self::Alpha { alpha: 0.5 },
            Self::SquaredHellinger,
            Self::PearsonChi2,
            Self::NeymanChi2,
            Self::Renyi { alpha: 2.0 },
            Self::TotalVariation,
        ]
    }

    /// Checks α against `divergence.alpha.alpha` / `divergence.renyi.alpha` ([`super::params`]).
    pub fn validate(&self) -> CoreResult<()> {
        match *self {
            Self::Alpha { alpha } => {
                params::check_field("divergence", Some("alpha"), "alpha", alpha).map(|_| ())
            }
            Self::Renyi { alpha } => {
                params::check_field("divergence", Some("renyi"), "alpha", alpha).map(|_| ())
            }
            _ => Ok(()),
        }
    }

    /// The serde kind name (as in a scenario's `divergence: (kind: …)`), e.g. `reverse_kl`, `alpha`.
    pub fn kind_id(&self) -> &'static str {
        match self {
            Self::ForwardKl => "forward_kl",
            Self::ReverseKl => "reverse_kl",
            Self::JensenShannon => "jensen_shannon",
            Self::Alpha { .. } => "alpha",
            Self::SquaredHellinger => "squared_hellinger",
            Self::PearsonChi2 => "pearson_chi2",
            Self::NeymanChi2 => "neyman_chi2",
            Self::Renyi { .. } => "renyi",
            Self::TotalVariation => "total_variation",
        }
    }

    /// A stable id with the parameter where there is one, as the measurement rows spell it: `reverse_kl`,
    /// `alpha_0.5`, `renyi_2`.
    pub fn id(&self) -> String {
        match *self {
            Self::Alpha { alpha } | Self::Renyi { alpha } => {
                format!("{}_{}", self.kind_id(), super::math::display_number(alpha))
            }
            _ => self.kind_id().to_owned(),
        }
    }

    /// A display name, e.g. "forward KL(p‖q)".
    pub fn name(&self) -> String {
        match *self {
            Self::ForwardKl => "forward KL(p‖q)".into(),
            Self::ReverseKl => "reverse KL(q‖p)".into(),
            Self::JensenShannon => "Jensen–Shannon".into(),
            Self::Alpha { alpha } => format!("α-divergence (Amari, α = {alpha})"),
            Self::SquaredHellinger => "squared Hellinger".into(),
            Self::PearsonChi2 => "Pearson χ²(p‖q)".into(),
            Self::NeymanChi2 => "Neyman χ²(p‖q)".into(),
            Self::Renyi { alpha } => format!("Rényi (α = {alpha})"),
            Self::TotalVariation => "total variation".into(),
        }
    }

    /// Whether D(p‖q) = D(q‖p).
    pub fn is_symmetric(&self) -> bool {
        match *self {
            Self::JensenShannon | Self::SquaredHellinger | Self::TotalVariation => true,
            Self::Alpha { alpha } => (alpha - 0.5).abs() < 1e-15,
            _ => false,
        }
    }

    /// The generator f (for Rényi: t^α, whose integral is mapped to the value afterwards).
    pub fn generator(&self) -> Box<dyn FDivergence> {
        match *self {
            Self::ForwardKl => Box::new(ForwardKl),
            Self::ReverseKl => Box::new(ReverseKl),
            Self::JensenShannon => Box::new(JensenShannon),
            Self::Alpha { alpha } => Box::new(AlphaDiv { alpha }),
            Self::SquaredHellinger => Box::new(SquaredHellinger),
            Self::PearsonChi2 => Box::new(PearsonChi2),
            Self::NeymanChi2 => Box::new(NeymanChi2),
            Self::Renyi { alpha } => {
                if (alpha - 1.0).abs() < ALPHA_LIMIT {
                    Box::new(ForwardKl)
                } else {
                    Box::new(PowerIntegral { alpha })
                }
            }
            Self::TotalVariation => Box::new(TotalVariation),
        }
    }

    /// For Rényi (α ≠ 1): the map from the integral I = ∫ q t^α to the value, ln I/(α − 1).
    fn renyi_alpha(&self) -> Option<f64> {
        match *self {
            Self::Renyi { alpha } if (alpha - 1.0).abs() >= ALPHA_LIMIT => Some(alpha),
            _ => None,
        }
    }
}

/// How to estimate an f-divergence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum Estimator {
    /// Midpoint rule on `resolution × resolution` cells over the target's box.
    Grid {
        #[serde(default = "default_resolution")]
        resolution: usize,
    },
    /// `samples` reparameterized samples of q in total (stratified over components).
    MonteCarlo {
        #[serde(default = "default_samples")]
        samples: usize,
    },
}

fn default_resolution() -> usize {
    256
}
fn default_samples() -> usize {
    1024
}

impl Default for Estimator {
    fn default() -> Self {
        Self::Grid {
            resolution: default_resolution(),
        }
    }
}

impl Estimator {
    /// Checks the resolution / sample count against `estimator.<kind>.<field>` ([`super::params`]).
    pub fn validate(&self) -> CoreResult<()> {
        match *self {
            Self::Grid { resolution } => {
                params::check_field("estimator", Some("grid"), "resolution", resolution as f64)
            }
            Self::MonteCarlo { samples } => {
                params::check_field("estimator", Some("monte_carlo"), "samples", samples as f64)
            }
        }
        .map(|_| ())
    }
}

/// Value, gradient w.r.t. q's θ (layout in [`crate::core::mixture`]) and diagnostics.
#[derive(Debug, Clone, PartialEq)]
pub struct FDivValue {
    pub value: f64,
    pub grad: Vec<f64>,
    /// 1 − ∫_box p (grid estimator; 0 for Monte Carlo).
    pub missed_mass_p: f64,
    /// 1 − ∫_box q (grid estimator; 0 for Monte Carlo).
    pub missed_mass_q: f64,
    /// Standard error of the Monte Carlo value (None for the grid).
    pub std_error: Option<f64>,
}

/// D_f(p‖q) and its gradient w.r.t. θ of q (see the module docs for conventions).
pub fn fdiv_value_grad(
    kind: &FDivKind,
    p: &DensityTarget,
    bbox: &BBox,
    q: &Mixture,
    est: &Estimator,
    rng: &mut Rng,
) -> CoreResult<FDivValue> {
    kind.validate()?;
    est.validate()?;
    let generator = kind.generator();
    let raw = match *est {
        Estimator::Grid { resolution } => {
            let grid = Grid::square(*bbox, resolution)?;
            grid_estimate(generator.as_ref(), p, &grid, q, true)?
        }
        Estimator::MonteCarlo { samples } => {
            let n_per = (samples / q.n_components()).max(1);
            let eps: Vec<Vec2> = (0..n_per * q.n_components())
                .map(|_| normal2(rng))
                .collect();
            mc_estimate(generator.as_ref(), p, q, n_per, eps)?
        }
    };
    finish(kind, raw)
}

/// Applies the Rényi map when needed and checks finiteness.
fn finish(kind: &FDivKind, v: FDivValue) -> CoreResult<FDivValue> {
    check_finite(kind, renyi_map(kind, v)?)
}

/// Refuses a value or gradient that is not finite, naming the divergence.
fn check_finite(kind: &FDivKind, v: FDivValue) -> CoreResult<FDivValue> {
    if !v.value.is_finite() {
        return Err(CoreError::non_finite(format!(
            "{} = {} (q puts (numerically) no mass where p has mass, or the reverse)",
            kind.name(),
            v.value
        )));
    }
    if v.grad.iter().any(|g| !g.is_finite()) {
        return Err(CoreError::non_finite(format!(
            "gradient of {}",
            kind.name()
        )));
    }
    Ok(v)
}

/// For Rényi (α ≠ 1): maps the integral I = ∫ q t^α to ln I/(α − 1) (and its gradient and standard error).
/// An integral of +∞ maps to ±∞; a NaN or non-positive one is an error.
fn renyi_map(kind: &FDivKind, mut v: FDivValue) -> CoreResult<FDivValue> {
    if let Some(alpha) = kind.renyi_alpha() {
        let i = v.value;
        if !(i > 0.0 && i.is_finite()) && i != f64::INFINITY {
            return Err(CoreError::non_finite(format!(
                "Rényi integral ∫p^α q^(1−α) = {i} (p and q do not overlap numerically)"
            )));
        }
        v.value = i.ln() / (alpha - 1.0);
        for g in &mut v.grad {
            *g /= i * (alpha - 1.0);
        }
        // The delta method: se(ln I) = se(I)/I; none for an infinite value.
        v.std_error = if v.value.is_finite() {
            v.std_error.map(|s| s / (i * (alpha - 1.0).abs()))
        } else {
            None
        };
    }
    Ok(v)
}

/// Grid estimate of ∫ q f(p/q) (and its gradient when `want_grad`) with any generator.
pub fn grid_estimate(
    f: &dyn FDivergence,
    p: &DensityTarget,
    grid: &Grid,
    q: &Mixture,
    want_grad: bool,
) -> CoreResult<FDivValue> {
    // Cached for the last grid asked for: the battery measures its f-divergences on one region.
    let lp_all = p.log_density_on_grid(grid);
    let np = q.n_params();
    let k = q.n_components();
    let nx = grid.nx;
    // One partial result per row, summed serially afterwards: deterministic for any thread count.
    // Per row: Σ terms, Σ p, Σ q, Σ d ∂ln q/∂θ, Σ q ∂ln q/∂θ (for the outer cell).
    type Row = (f64, f64, f64, Vec<f64>, Vec<f64>);
    let rows: Vec<Row> = (0..grid.ny)
        .into_par_iter()
        .map(|i| {
            let mut terms = vec![0.0; k];
            let mut g = if want_grad { vec![0.0; np] } else { Vec::new() };
            let mut gq = if want_grad { vec![0.0; np] } else { Vec::new() };
            let (mut v, mut mp, mut mq) = (0.0, 0.0, 0.0);
            for j in 0..nx {
                let x = grid.center(i, j);
                let lp = lp_all[i * nx + j];
                let lq = q.log_density_terms(x, &mut terms[..k]);
                let (t, d) = f.q_term(lp, lq);
                let qv = lq.exp();
                v += t;
                mp += lp.exp();
                mq += qv;
                if want_grad && (d != 0.0 || qv != 0.0) {
                    q.add_grad_log_density_pair(x, &terms[..k], lq, d, &mut g, qv, &mut gq);
                }
            }
            (v, mp, mq, g, gq)
        })
        .collect();
    let area = grid.cell_area();
    let mut value = 0.0;
    let (mut mp, mut mq) = (0.0, 0.0);
    let mut grad = vec![0.0; if want_grad { np } else { 0 }];
    let mut grad_mass_q = vec![0.0; if want_grad { np } else { 0 }];
    for (v, a, b, g, gq) in rows {
        value += v;
        mp += a;
        mq += b;
        for (o, x) in grad.iter_mut().zip(&g) {
            *o += x;
        }
        for (o, x) in grad_mass_q.iter_mut().zip(&gq) {
            *o += x;
        }
    }
    let missed_p = 1.0 - mp * area;
    let missed_q = 1.0 - mq * area;
    // The outer cell: everything outside the box, holding the remaining masses of p and q
    // (floored at 1e-12). Its term M_q f(M_p/M_q) is the coarse-grained outside contribution (a
    // lower bound of the true one by the data-processing inequality); without it a model could
    // lower e.g. reverse KL by moving its mass out of the box.
    const OUTER_FLOOR: f64 = 1e-12;
    let (outer_v, outer_d) = f.q_term(
        missed_p.max(OUTER_FLOOR).ln(),
        missed_q.max(OUTER_FLOOR).ln(),
    );
    value = value * area + outer_v;
    for g in &mut grad {
        *g *= area;
    }
    if want_grad && missed_q > OUTER_FLOOR && outer_d != 0.0 {
        // ∂(outer)/∂θ = (d/M_q) ∂M_q/∂θ with ∂M_q/∂θ = −area Σ q ∂ln q/∂θ.
        let c = -outer_d / missed_q * area;
        for (g, gm) in grad.iter_mut().zip(&grad_mass_q) {
            *g += c * gm;
        }
    }
    Ok(FDivValue {
        value,
        grad,
        missed_mass_p: missed_p,
        missed_mass_q: missed_q,
        std_error: None,
    })
}

/// Monte Carlo estimate of E_q[f(p/q)] with the given noise (K × n_per points, component-major)
/// and its exact gradient for that noise.
pub fn mc_estimate(
    f: &dyn FDivergence,
    p: &DensityTarget,
    q: &Mixture,
    n_per: usize,
    eps: Vec<Vec2>,
) -> CoreResult<FDivValue> {
    if n_per == 0 || eps.len() != n_per * q.n_components() {
        return Err(CoreError::invalid(format!(
            "Monte Carlo noise has {} points, expected {} × {}",
            eps.len(),
            q.n_components(),
            n_per
        )));
    }
    let batch = q.reparam_batch_from_eps(n_per, eps);
    let np = q.n_params();
    // Per point: (f, grad_point, explicit grad contribution) computed in parallel, reduced serially.
    let per: Vec<(f64, Vec2, f64)> = batch
        .points
        .par_iter()
        .zip(batch.weights.par_iter())
        .map(|(&x, &w)| {
            let lp = p.log_density(x);
            let lq = q.log_density(x);
            let (fv, tfp) = f.f_tfp(lp - lq);
            let sp = p.score(x);
            let sq = q.score(x);
            let gp = [w * tfp * (sp[0] - sq[0]), w * tfp * (sp[1] - sq[1])];
            (fv, gp, tfp)
        })
        .collect();
    let mut explicit = vec![0.0; np];
    let mut value = 0.0;
    let k = q.n_components();
    let mut terms = vec![0.0; k.max(1)];
    for (i, (&x, &w)) in batch.points.iter().zip(&batch.weights).enumerate() {
        let (fv, _, tfp) = per[i];
        value += w * fv;
        let lq = q.log_density_terms(x, &mut terms);
        q.add_grad_log_density(x, &terms, lq, -w * tfp, &mut explicit);
    }
    let grad_points: Vec<Vec2> = per.iter().map(|t| t.1).collect();
    let grad_weights: Vec<f64> = per.iter().map(|t| t.0).collect();
    let mut grad = batch.pullback(q, &grad_points, &grad_weights)?;
    for (g, e) in grad.iter_mut().zip(&explicit) {
        *g += e;
    }
    // Stratified standard error: Var = Σ_k w_k² s_k² / n, from the values scaled by their largest magnitude,
    // so that it is finite wherever the estimate is (f of a large ratio, e.g. Rényi α = 50, squares past
    // f64). None when the estimate itself is not finite.
    let big = per.iter().map(|t| t.0.abs()).fold(0.0, f64::max);
    let std_error = if !(value.is_finite() && big.is_finite()) {
        None
    } else if big == 0.0 {
        Some(0.0)
    } else {
        let ws = q.weights();
        let n = n_per as f64;
        let mut sum_k = vec![0.0; k];
        let mut sum2_k = vec![0.0; k];
        for (i, t) in per.iter().enumerate() {
            let (c, v) = (batch.component[i], t.0 / big);
            sum_k[c] += v;
            sum2_k[c] += v * v;
        }
        let mut var = 0.0;
        for c in 0..k {
            let mean = sum_k[c] / n;
            let s2 = if n_per > 1 {
                ((sum2_k[c] - n * mean * mean) / (n - 1.0)).max(0.0)
            } else {
                0.0
            };
            var += ws[c] * ws[c] * s2 / n;
        }
        Some(big * var.sqrt())
    };
    Ok(FDivValue {
        value,
        grad,
        missed_mass_p: 0.0,
        missed_mass_q: 0.0,
        std_error,
    })
}

/// `fdiv_value_grad` with fixed Monte Carlo noise (for tests and reproducible gradient checks).
pub fn fdiv_value_grad_mc_fixed(
    kind: &FDivKind,
    p: &DensityTarget,
    q: &Mixture,
    n_per: usize,
    eps: Vec<Vec2>,
) -> CoreResult<FDivValue> {
    kind.validate()?;
    let generator = kind.generator();
    let raw = mc_estimate(generator.as_ref(), p, q, n_per, eps)?;
    finish(kind, raw)
}

/// Spread of the Monte Carlo gradient (to show gradient variance): `repeats` independent
/// estimates with `samples` reparameterized samples each; returns the per-parameter mean and
/// standard deviation (over the repeats, with Bessel's correction) of the gradient.
pub fn mc_gradient_spread(
    kind: &FDivKind,
    p: &DensityTarget,
    q: &Mixture,
    samples: usize,
    repeats: usize,
    rng: &mut Rng,
) -> CoreResult<(Vec<f64>, Vec<f64>)> {
    if repeats < 2 {
        return Err(CoreError::param("repeats", repeats as f64, "[2, ∞)"));
    }
    let est = Estimator::MonteCarlo { samples };
    let bbox = p.bbox();
    let np = q.n_params();
    let mut sum = vec![0.0; np];
    let mut sum2 = vec![0.0; np];
    for _ in 0..repeats {
        let v = fdiv_value_grad(kind, p, &bbox, q, &est, rng)?;
        for i in 0..np {
            sum[i] += v.grad[i];
            sum2[i] += v.grad[i] * v.grad[i];
        }
    }
    let r = repeats as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / r).collect();
    let std = sum2
        .iter()
        .zip(&mean)
        .map(|(s2, m)| ((s2 - r * m * m) / (r - 1.0)).max(0.0).sqrt())
        .collect();
    Ok((mean, std))
}

/// The raw grid integral of `kind` (before Rényi's map), value only.
fn grid_value_raw(
    kind: &FDivKind,
    p: &DensityTarget,
    bbox: &BBox,
    q: &Mixture,
    resolution: usize,
) -> CoreResult<FDivValue> {
    kind.validate()?;
    Estimator::Grid { resolution }.validate()?;
    let grid = Grid::square(*bbox, resolution)?;
    let generator = kind.generator();
    grid_estimate(generator.as_ref(), p, &grid, q, false)
}

/// Standard deviations, per axis, about each component's mean that [`region_holding`] keeps in the box by
/// default: a Gaussian puts at most 2Φ(−8) ≈ 1.3e-15 of its mass beyond ±8σ along an axis.
pub const REGION_SIGMAS: f64 = 8.0;

/// The smallest axis-aligned box that holds `bbox` and, for every component of positive weight of every
/// mixture in `mixtures`, its mean ± `sigmas` standard deviations along each axis: an integration region
/// that holds both p and q (the battery's grid, [`super::measure`]), so that q's mass outside the target's
/// box is integrated cell by cell rather than lumped into the outer cell.
pub fn region_holding(bbox: &BBox, mixtures: &[&Mixture], sigmas: f64) -> BBox {
    let mut b = *bbox;
    for m in mixtures {
        for ((w, mu), c) in m.weights().iter().zip(m.means()).zip(m.covariances()) {
            if *w <= 0.0 {
                continue;
            }
            let (sx, sy) = (sigmas * c[0][0].sqrt(), sigmas * c[1][1].sqrt());
            if !(sx.is_finite() && sy.is_finite() && mu[0].is_finite() && mu[1].is_finite()) {
                continue;
            }
            b.x_min = b.x_min.min(mu[0] - sx);
            b.x_max = b.x_max.max(mu[0] + sx);
            b.y_min = b.y_min.min(mu[1] - sy);
            b.y_max = b.y_max.max(mu[1] + sy);
        }
    }
    b
}

/// Value only, by the grid (no gradient).
pub fn fdiv_value_grid(
    kind: &FDivKind,
    p: &DensityTarget,
    bbox: &BBox,
    q: &Mixture,
    resolution: usize,
) -> CoreResult<FDivValue> {
    finish(kind, grid_value_raw(kind, p, bbox, q, resolution)?)
}

/// Value only, by the grid, like [`fdiv_value_grid`] except that a value of +∞ (an integrand that overflows,
/// e.g. a Pearson χ² where q is numerically zero under p's mass) is returned as `Ok` with `value = +∞` rather than
/// as an error, so that a measurement can report it as infinite. NaN and −∞ are still errors. Used by
/// [`super::measure`].
pub fn fdiv_value_grid_extended(
    kind: &FDivKind,
    p: &DensityTarget,
    bbox: &BBox,
    q: &Mixture,
    resolution: usize,
) -> CoreResult<FDivValue> {
    let v = renyi_map(kind, grid_value_raw(kind, p, bbox, q, resolution)?)?;
    if v.value == f64::INFINITY {
        Ok(v)
    } else {
        check_finite(kind, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The measurement variant agrees with the plain one wherever the value is finite (Rényi included: its
    /// map from the integral to the value is applied once).
    #[test]
    fn the_extended_grid_value_equals_the_plain_one_where_finite() {
        let t = two_modes();
        let p = t.density().unwrap();
        let q = model();
        let mut kinds = FDivKind::all();
        kinds.push(FDivKind::Renyi { alpha: 0.5 });
        for kind in kinds {
            let plain = fdiv_value_grid(&kind, p, &t.bbox(), &q, 64).unwrap();
            let ext = fdiv_value_grid_extended(&kind, p, &t.bbox(), &q, 64).unwrap();
            assert_eq!(plain.value, ext.value, "{}", kind.name());
        }
    }
    use crate::core::rng::seeded;
    use crate::core::target::{Target, TargetSpec, TwoModesSpec};

    fn two_modes() -> Target {
        Target::build(&TargetSpec::TwoModes(TwoModesSpec::default()), None).unwrap()
    }

    fn model() -> Mixture {
        Mixture::from_components(
            &[0.6, 0.4],
            &[[-1.0, 0.3], [1.2, -0.2]],
            &[[[1.2, 0.2], [0.2, 0.6]], [[0.5, -0.1], [-0.1, 0.9]]],
        )
        .unwrap()
    }

    /// Normwise relative error max|a−b| / max|b|.
    fn rel(a: &[f64], b: &[f64]) -> f64 {
        let num = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        let den = b.iter().map(|y| y.abs()).fold(0.0, f64::max).max(1e-12);
        num / den
    }

    fn fd_grad(f: impl Fn(&Mixture) -> f64, q: &Mixture) -> Vec<f64> {
        let theta = q.params();
        let h = 1e-5;
        (0..theta.len())
            .map(|i| {
                let mut tp = theta.clone();
                let mut tm = theta.clone();
                tp[i] += h;
                tm[i] -= h;
                let fp = f(&Mixture::from_params(&tp).unwrap());
                let fm = f(&Mixture::from_params(&tm).unwrap());
                (fp - fm) / (2.0 * h)
            })
            .collect()
    }

    #[test]
    fn grid_gradients_match_finite_differences_for_every_kind() {
        let t = two_modes();
        let p = t.density().unwrap();
        let q = model();
        let est = Estimator::Grid { resolution: 64 };
        let mut kinds = FDivKind::all();
        kinds.extend([
            FDivKind::Alpha { alpha: -0.7 },
            FDivKind::Alpha { alpha: 1.8 },
            FDivKind::Alpha { alpha: 1.0 },
            FDivKind::Alpha { alpha: 0.0 },
            FDivKind::Renyi { alpha: 0.5 },
        ]);
        for kind in kinds {
            let v = fdiv_value_grad(&kind, p, &t.bbox(), &q, &est, &mut seeded(0)).unwrap();
            let fd = fd_grad(
                |m| {
                    fdiv_value_grad(&kind, p, &t.bbox(), m, &est, &mut seeded(0))
                        .unwrap()
                        .value
                },
                &q,
            );
            let e = rel(&v.grad, &fd);
            eprintln!(
                "grid {:>32}: value {:.6}, grad rel err {e:.2e}",
                kind.name(),
                v.value
            );
            assert!(e < 1e-4, "{}: {e}", kind.name());
            assert!(v.value >= -1e-9, "{}: {}", kind.name(), v.value);
        }
    }

    #[test]
    fn mc_gradients_match_finite_differences_with_fixed_noise() {
        let t = two_modes();
        let p = t.density().unwrap();
        let q = model();
        let n_per = 16;
        let mut rng = seeded(3);
        let eps: Vec<Vec2> = (0..n_per * 2).map(|_| normal2(&mut rng)).collect();
        let mut kinds = FDivKind::all();
        kinds.push(FDivKind::Alpha { alpha: -0.5 });
        for kind in kinds {
            let v = fdiv_value_grad_mc_fixed(&kind, p, &q, n_per, eps.clone()).unwrap();
            let fd = fd_grad(
                |m| {
                    fdiv_value_grad_mc_fixed(&kind, p, m, n_per, eps.clone())
                        .unwrap()
                        .value
                },
                &q,
            );
            let e = rel(&v.grad, &fd);
            eprintln!(
                "mc   {:>32}: value {:.6}, grad rel err {e:.2e}",
                kind.name(),
                v.value
            );
            assert!(e < 1e-4, "{}: {e}", kind.name());
        }
    }

    #[test]
    fn stable_overrides_agree_with_the_generic_definitions() {
        struct Generic<'a>(&'a dyn FDivergence);
        impl FDivergence for Generic<'_> {
            fn f(&self, t: f64) -> f64 {
                self.0.f(t)
            }
            fn f_prime(&self, t: f64) -> f64 {
                self.0.f_prime(t)
            }
        }
        for kind in FDivKind::all().into_iter().chain([
            FDivKind::Alpha { alpha: 1.0 },
            FDivKind::Alpha { alpha: 0.0 },
            FDivKind::Alpha { alpha: 3.0 },
        ]) {
            let f = kind.generator();
            let g = Generic(f.as_ref());
            for (lp, lq) in [(-1.0, -2.0), (-3.0, -0.5), (0.2, 0.1), (-5.0, -5.3)] {
                let a = f.q_term(lp, lq);
                let b = g.q_term(lp, lq);
                let c = f.f_tfp(lp - lq);
                let d = g.f_tfp(lp - lq);
                for (x, y) in [(a.0, b.0), (a.1, b.1), (c.0, d.0), (c.1, d.1)] {
                    assert!(
                        (x - y).abs() <= 1e-12 * (1.0 + y.abs()),
                        "{}: {x} vs {y}",
                        kind.name()
                    );
                }
            }
            // f(1) = 0 for the divergences.
            if kind.renyi_alpha().is_none() {
                assert!(f.f(1.0).abs() < 1e-15, "{}", kind.name());
            }
        }
        // Tiny q far from p: no NaN for the stable forms.
        let (v, d) = ForwardKl.q_term(-1.0, -900.0);
        assert!(v.is_finite() && d.is_finite());
        let (v, d) = JensenShannon.q_term(-1.0, -900.0);
        assert!(v.is_finite() && d.is_finite());
    }

    #[test]
    fn alpha_limits_equal_the_kls_and_half_is_four_hellinger() {
        let t = two_modes();
        let p = t.density().unwrap();
        let q = model();
        let b = t.bbox();
        let val = |k: FDivKind| fdiv_value_grid(&k, p, &b, &q, 128).unwrap().value;
        let fkl = val(FDivKind::ForwardKl);
        let rkl = val(FDivKind::ReverseKl);
        for (a, want) in [
            (1.0 - 1e-4, fkl),
            (1.0 + 1e-4, fkl),
            (1e-4, rkl),
            (-1e-4, rkl),
        ] {
            let got = val(FDivKind::Alpha { alpha: a });
            assert!((got - want).abs() < 1e-3 * want, "α = {a}: {got} vs {want}");
        }
        // With the outer cell the discretized masses sum to one, so the α = 1 form
        // ∫ p ln(p/q) − p + q equals forward KL exactly.
        assert!((val(FDivKind::Alpha { alpha: 1.0 }) - fkl).abs() < 1e-9);
        assert!((val(FDivKind::Renyi { alpha: 1.0 + 1e-4 }) - fkl).abs() < 1e-3 * fkl);
        let h = val(FDivKind::SquaredHellinger);
        assert!((val(FDivKind::Alpha { alpha: 0.5 }) - 4.0 * h).abs() < 1e-6 * h);
    }

    #[test]
    fn mc_gradient_is_unbiased_and_its_spread_shrinks_like_one_over_root_n() {
        let t = two_modes();
        let p = t.density().unwrap();
        let q = model();
        let kind = FDivKind::ReverseKl;
        let grid = fdiv_value_grad(
            &kind,
            p,
            &t.bbox(),
            &q,
            &Estimator::Grid { resolution: 128 },
            &mut seeded(0),
        )
        .unwrap();
        let mut rng = seeded(8);
        let (m_small, s_small) = mc_gradient_spread(&kind, p, &q, 32, 40, &mut rng).unwrap();
        let (m_big, s_big) = mc_gradient_spread(&kind, p, &q, 512, 40, &mut rng).unwrap();
        let ratio: f64 =
            s_small.iter().zip(&s_big).map(|(a, b)| a / b).sum::<f64>() / s_big.len() as f64;
        // 16× the samples: the spread shrinks ~4× (loose bounds for 40 repeats).
        assert!(ratio > 2.5 && ratio < 6.5, "ratio {ratio}");
        // Both means agree with the grid gradient within 4 standard errors of the mean.
        for (m, s) in [(m_small, s_small), (m_big, s_big)] {
            for i in 0..m.len() {
                let se = s[i] / 40f64.sqrt();
                assert!(
                    (m[i] - grid.grad[i]).abs() < 4.0 * se + 1e-3,
                    "{i}: {} vs {}",
                    m[i],
                    grid.grad[i]
                );
            }
        }
    }

    #[test]
    fn a_new_f_is_a_few_lines() {
        // f(t) = ½ (ln t)² — only f and f' are written; value and gradient come from the trait.
        struct LogSquared;
        impl FDivergence for LogSquared {
            fn f(&self, t: f64) -> f64 {
                0.5 * t.ln().powi(2)
            }
            fn f_prime(&self, t: f64) -> f64 {
                t.ln() / t
            }
        }
        let t = two_modes();
        let p = t.density().unwrap();
        let q = model();
        let grid = Grid::square(t.bbox(), 48).unwrap();
        let v = grid_estimate(&LogSquared, p, &grid, &q, true).unwrap();
        let fd = fd_grad(
            |m| {
                grid_estimate(&LogSquared, p, &grid, m, false)
                    .unwrap()
                    .value
            },
            &q,
        );
        assert!(rel(&v.grad, &fd) < 1e-4);
        assert!(v.value > 0.0);
    }

    #[test]
    fn zero_at_q_equals_p_and_missed_mass_reported() {
        let q = model();
        let t = Target::build(
            &TargetSpec::GaussianMixture(crate::core::target::GaussianMixtureSpec {
                weights: q.weights(),
                means: q.means(),
                covariances: q.covariances(),
            }),
            None,
        )
        .unwrap();
        let p = t.density().unwrap();
        for kind in FDivKind::all() {
            let v = fdiv_value_grid(&kind, p, &t.bbox(), &q, 64).unwrap();
            // Zero up to the quadrature error of the box (Rényi sees ln(1 − missed mass)).
            let tol = 1e-9 + 2.0 * v.missed_mass_p.abs();
            assert!(v.value.abs() < tol, "{}: {}", kind.name(), v.value);
            assert!(
                v.missed_mass_p.abs() < 1e-3 && (v.missed_mass_p - v.missed_mass_q).abs() < 1e-9
            );
        }
        let small = BBox::centered_square(0.5);
        let v = fdiv_value_grid(&FDivKind::ForwardKl, p, &small, &q, 32).unwrap();
        assert!(v.missed_mass_p > 0.5, "{}", v.missed_mass_p);
    }

    #[test]
    fn invalid_parameters_are_named() {
        let e = FDivKind::Renyi { alpha: -1.0 }.validate().unwrap_err();
        assert!(format!("{e}").contains("divergence.alpha"));
        let e = Estimator::Grid { resolution: 2 }.validate().unwrap_err();
        assert!(format!("{e}").contains("estimator.resolution"));
        let k: FDivKind = serde_json::from_str(r#"{"kind":"alpha","alpha":0.3}"#).unwrap();
        assert_eq!(k, FDivKind::Alpha { alpha: 0.3 });
        let e: Estimator = serde_json::from_str(r#"{"kind":"grid"}"#).unwrap();
        assert_eq!(e, Estimator::Grid { resolution: 256 });
    }

    mod props {
        use super::*;
        use crate::core::closed_form::{cauchy_schwarz_mixtures, mmd2_gaussian_mixtures};
        use crate::core::target::GaussianMixtureSpec;
        use proptest::prelude::*;

        /// A random mixture with 1..=3 components, means in [−3, 3]², covariances from a random
        /// Cholesky factor (std 0.3..1.5, correlation through l21).
        fn arb_mixture() -> impl Strategy<Value = Mixture> {
            prop::collection::vec(
                (
                    0.2f64..1.0,
                    -3.0f64..3.0,
                    -3.0f64..3.0,
                    0.3f64..1.5,
                    -0.8f64..0.8,
                    0.3f64..1.5,
                ),
                1..=3,
            )
            .prop_map(|comps| {
                let w: Vec<f64> = comps.iter().map(|c| c.0).collect();
                let m: Vec<Vec2> = comps.iter().map(|c| [c.1, c.2]).collect();
                let cov: Vec<_> = comps
                    .iter()
                    .map(|c| {
                        let (l11, l21, l22) = (c.3, c.4, c.5);
                        [[l11 * l11, l11 * l21], [l11 * l21, l21 * l21 + l22 * l22]]
                    })
                    .collect();
                Mixture::from_components(&w, &m, &cov).unwrap()
            })
        }

        fn as_target(m: &Mixture) -> Target {
            Target::build(
                &TargetSpec::GaussianMixture(GaussianMixtureSpec {
                    weights: m.weights(),
                    means: m.means(),
                    covariances: m.covariances(),
                }),
                None,
            )
            .unwrap()
        }

        const BOX: f64 = 9.0;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(24))]

            #[test]
            fn divergences_are_nonnegative_finite_zero_at_equality_and_symmetric(
                p in arb_mixture(), q in arb_mixture()
            ) {
                let bbox = BBox::centered_square(BOX);
                let tp = as_target(&p);
                let tq = as_target(&q);
                let mut kinds = FDivKind::all();
                kinds.extend([FDivKind::Alpha { alpha: -1.0 }, FDivKind::Alpha { alpha: 2.0 }, FDivKind::Renyi { alpha: 0.5 }]);
                for kind in kinds {
                    match fdiv_value_grid(&kind, tp.density().unwrap(), &bbox, &q, 48) {
                        Ok(v) => {
                            prop_assert!(v.value.is_finite());
                            // ≥ 0 up to the quadrature error of the box.
                            prop_assert!(v.value >= -1e-6, "{}: {}", kind.name(), v.value);
                        }
                        // Only an explicit non-finite error is allowed (e.g. χ² overflow), never NaN.
                        Err(e) => prop_assert!(matches!(e, CoreError::NonFinite { .. }), "{e}"),
                    }
                    let same = fdiv_value_grid(&kind, tq.density().unwrap(), &bbox, &q, 48).unwrap();
                    // Zero up to quadrature error (Rényi sees a negative remainder mass, floored).
                    let tol = 1e-9 + 2.0 * same.missed_mass_p.abs();
                    prop_assert!(same.value.abs() < tol, "{} at q = p: {}", kind.name(), same.value);
                    if kind.is_symmetric() {
                        let a = fdiv_value_grid(&kind, tp.density().unwrap(), &bbox, &q, 48).unwrap().value;
                        let b = fdiv_value_grid(&kind, tq.density().unwrap(), &bbox, &p, 48).unwrap().value;
                        prop_assert!((a - b).abs() < 1e-9 * (1.0 + a.abs()), "{}: {a} vs {b}", kind.name());
                    }
                }
                let (cs, g) = cauchy_schwarz_mixtures(&p, &q).unwrap();
                let (cs2, _) = cauchy_schwarz_mixtures(&q, &p).unwrap();
                prop_assert!(cs >= 0.0 && cs.is_finite() && g.iter().all(|x| x.is_finite()));
                prop_assert!((cs - cs2).abs() < 1e-9 * (1.0 + cs));
                prop_assert!(cauchy_schwarz_mixtures(&q, &q).unwrap().0.abs() < 1e-10);
                let (m, gm) = mmd2_gaussian_mixtures(&p, &q, 0.7).unwrap();
                prop_assert!(m >= 0.0 && m.is_finite() && gm.iter().all(|x| x.is_finite()));
                prop_assert!(mmd2_gaussian_mixtures(&q, &q, 0.7).unwrap().0.abs() < 1e-12);
            }
        }
    }
}
